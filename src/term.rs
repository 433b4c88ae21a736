//! The terminal valve writes to: whether to colour (SPEC §5) and how wide
//! human output may be (SPEC §14). The decisions are pure functions of
//! their inputs; the thin wrappers read the environment and ask the
//! terminal (`TIOCGWINSZ`), nothing else.

use std::io::IsTerminal;

use crate::cli::ColorChoice;

/// Width of human output that does not go to a terminal (a pipe, a file,
/// `--output`, `--report human=…`), whatever `COLUMNS` says: snapshots and
/// logs are the same everywhere.
pub const FILE_WIDTH: usize = 100;

/// The narrowest output valve lays out; a narrower terminal gets this
/// width (and wraps the lines itself) rather than a layout of one word a
/// line.
pub const MIN_WIDTH: usize = 40;

/// SPEC §5: `--color always` beats `NO_COLOR`, which beats `auto`; under
/// `auto`, `TERM=dumb` means no colour. Reads the environment.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    color(
        choice,
        is_terminal,
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
    )
}

/// The colour decision, from its inputs.
pub fn color(choice: ColorChoice, is_terminal: bool, no_color: bool, dumb: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && !no_color && !dumb,
    }
}

/// The width of human output on stdout: on a terminal `COLUMNS` when it is
/// a valid number, else the terminal's size; [`FILE_WIDTH`] otherwise.
pub fn stdout_width() -> usize {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let columns = std::env::var("COLUMNS").ok();
    width(
        terminal,
        columns.as_deref(),
        if terminal { columns_of(&stdout) } else { None },
    )
}

/// The width decision, from its inputs: whether stdout is a terminal, the
/// `COLUMNS` variable, the size the terminal reports.
pub fn width(is_terminal: bool, columns: Option<&str>, reported: Option<usize>) -> usize {
    if !is_terminal {
        return FILE_WIDTH;
    }
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or(reported.filter(|&c| c > 0))
        .unwrap_or(FILE_WIDTH)
        .max(MIN_WIDTH)
}

/// The number of columns the terminal on `fd` reports, if it does.
#[cfg(unix)]
fn columns_of(fd: &impl std::os::fd::AsRawFd) -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points to a live, writable `winsize`; the descriptor is borrowed.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &raw mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(not(unix))]
fn columns_of<T>(_fd: &T) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_beats_no_color_and_dumb() {
        assert!(color(ColorChoice::Always, false, true, true));
    }

    #[test]
    fn never_is_never() {
        assert!(!color(ColorChoice::Never, true, false, false));
    }

    #[test]
    fn auto_colours_a_terminal_unless_no_color_or_dumb() {
        assert!(color(ColorChoice::Auto, true, false, false));
        assert!(!color(ColorChoice::Auto, true, true, false));
        assert!(!color(ColorChoice::Auto, true, false, true));
        assert!(!color(ColorChoice::Auto, false, false, false));
    }

    #[test]
    fn not_a_terminal_is_always_the_file_width() {
        assert_eq!(width(false, Some("60"), Some(72)), FILE_WIDTH);
        assert_eq!(width(false, None, None), FILE_WIDTH);
    }

    #[test]
    fn columns_beats_the_reported_size() {
        assert_eq!(width(true, Some("60"), Some(72)), 60);
        assert_eq!(width(true, Some(" 61 "), None), 61);
    }

    #[test]
    fn an_invalid_columns_falls_back_to_the_terminal() {
        for bad in ["", "wide", "-3", "0", "1e3"] {
            assert_eq!(width(true, Some(bad), Some(72)), 72, "{bad:?}");
        }
        assert_eq!(width(true, Some("x"), None), FILE_WIDTH);
        assert_eq!(width(true, None, Some(0)), FILE_WIDTH);
    }

    #[test]
    fn a_tiny_terminal_gets_the_minimum_width() {
        assert_eq!(width(true, Some("12"), None), MIN_WIDTH);
        assert_eq!(width(true, None, Some(20)), MIN_WIDTH);
    }
}
