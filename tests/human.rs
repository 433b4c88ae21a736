//! Human output (SPEC §5, §14): compiler-like findings, the width of a
//! terminal (`COLUMNS`, else the terminal's size) or 100 elsewhere, colour
//! (`--color`, `NO_COLOR`, `TERM=dumb`), many findings held back behind a
//! table, fix hints in the file's comment syntax. Terminals are real ptys.

mod common;

use common::{Fixture, normalize};
use regex::Regex;

const KEY: &str = "AKIAABCDEFGHIJKLMNOP";

const CONFIG: &str = r#"personas:
  Guardian:
    triggers: ['AKIA[0-9A-Z]{16}']
    severity: critical
    message: Possible AWS key
    response: security-paranoid
  Vault:
    filters: ['secrets/**']
    triggers: ['password\s*=\s*\S+']
    severity: error
    allow_ignore: false
  Auth:
    filters: ['src/auth/**']
    severity: warning
  Debris:
    filters: ['*.rs']
    triggers: ['dbg!\(']
    severity: info
  Fence:
    filters: ['*.md']
    triggers: ['BEGIN KEY\n[^\n]*\nEND']
    severity: warning
"#;

/// A repository whose staged change makes every kind of finding: a key in
/// TypeScript, JSON and a long Python line, a persona that cannot be
/// silenced, a path rule, a tab before a match, a multi-line match.
fn repo() -> Fixture {
    let f = Fixture::new();
    f.config(CONFIG).write("README", "x\n").commit("init");
    f.write("src/a.ts", &format!("clean\nconst k = \"{KEY}\";\n"))
        .write("config/app.json", &format!("{{\"key\": \"{KEY}\"}}\n"))
        .write("secrets/db.yml", "user: me\npassword = hunter2\n")
        .write("src/auth/login.ts", "export {};\n")
        .write("src/lib.rs", "fn main() {\n\tdbg!(1);\n}\n")
        .write(
            "src/long.py",
            &format!("x = '{}{KEY}{}'\n", "a".repeat(150), "b".repeat(150)),
        )
        .write("docs/key.md", "text\nBEGIN KEY\nabc\nEND\n");
    f.git(&["add", "-A"]);
    f
}

/// valve's colour codes, taken out.
fn plain(text: &str) -> String {
    Regex::new("\x1b\\[[0-9;]*m")
        .expect("regex")
        .replace_all(text, "")
        .into_owned()
}

/// The widest line, in characters, colour taken out.
fn widest(text: &str) -> usize {
    plain(text)
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn wide_output_snapshot_is_100_columns_whatever_columns_says() {
    let f = repo();
    let out = f
        .valve(&["check", "--color", "never"])
        .env("COLUMNS", "60")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(widest(&text) <= 100, "{text}");
    assert!(
        widest(&text) > 60,
        "COLUMNS must not apply off a terminal:\n{text}"
    );
    insta::assert_snapshot!(normalize(&text, f.path()));
}

#[test]
fn colour_snapshot_shows_the_escape_codes() {
    let f = repo();
    let out = f
        .valve(&["check", "--color", "always", "src/a.ts", "secrets/db.yml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    // Critical and error differ; the match is highlighted in the line.
    assert!(text.contains("\x1b[1;35mcritical[Guardian]:"), "{text}");
    assert!(text.contains("\x1b[1;31merror[Vault]:"), "{text}");
    assert!(text.contains(&format!("\x1b[1;35m{KEY}\x1b[0m")), "{text}");
    insta::assert_snapshot!(normalize(&text, f.path()).replace('\x1b', "␛"));
}

#[test]
fn no_colour_unless_asked_off_a_terminal() {
    let f = repo();
    let out = f.valve(&["check"]).output().expect("runs");
    assert!(!stdout(&out).contains('\x1b'), "{}", stdout(&out));
}

#[test]
fn color_always_beats_no_color() {
    let f = repo();
    let out = f
        .valve(&["check", "--color", "always"])
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(stdout(&out).contains("\x1b[1;35m"), "{}", stdout(&out));
}

#[test]
fn hints_follow_the_file_and_the_persona() {
    let f = repo();
    let out = f
        .valve(&["check", "--color", "never"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(
        text.contains("= help: fix it, or add `// valve:ignore[Guardian]` to the line"),
        "{text}"
    );
    assert!(
        text.contains("= help: fix it, or add `# valve:ignore[Guardian]` to the line"),
        "{text}"
    );
    assert!(
        text.contains("= help: fix it, or add `<!-- valve:ignore[Fence] -->` to the line"),
        "{text}"
    );
    // JSON has no comments: the baseline or an exclude.
    let json = text
        .split("\n\n")
        .find(|b| b.contains("--> config/app.json"))
        .expect("the json finding");
    assert!(
        !json.contains("valve:ignore[") && json.contains("`valve baseline`"),
        "{json}"
    );
    // Vault cannot be silenced: neither its help nor the verdict offers it.
    let vault = text
        .split("\n\n")
        .find(|b| b.contains("error[Vault]"))
        .expect("the vault finding");
    assert!(!vault.contains("valve:ignore"), "{vault}");
    let verdict = text.rsplit("\n\n").next().expect("verdict");
    assert!(!verdict.contains("valve:ignore[Vault"), "{verdict}");
    assert!(!verdict.contains(",Vault"), "{verdict}");
}

#[test]
fn the_verdict_offers_no_valve_ignore_when_no_blocker_can_be_silenced() {
    let f = repo();
    let out = f
        .valve(&["check", "--color", "never", "secrets/db.yml", "src/auth"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(!text.contains("valve:ignore"), "{text}");
    let last = plain(&text);
    assert!(
        last.contains("Fix it,") && last.contains("--fail-on."),
        "{last}"
    );
}

/// 200 info, 97 warning, 3 critical (blocking) findings in three files.
fn noisy() -> Fixture {
    let f = Fixture::new();
    f.config(
        "personas:\n  Lint:\n    triggers: ['TODO']\n    severity: info\n  Style:\n    triggers: ['FIXME']\n    severity: warning\n  Guard:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n",
    )
    .commit("init");
    f.write("a.txt", &"TODO\n".repeat(200))
        .write("b.txt", &"FIXME\n".repeat(97))
        .write("c.txt", &format!("{KEY}\n").repeat(3));
    f.git(&["add", "-A"]);
    f
}

fn headlines(text: &str) -> Vec<String> {
    let head = Regex::new(r"^(info|warning|error|critical)\[").expect("regex");
    text.lines()
        .filter(|l| head.is_match(l))
        .map(str::to_string)
        .collect()
}

#[test]
fn many_findings_show_the_blocking_then_twenty_then_a_table() {
    let f = noisy();
    let out = f
        .valve(&["check", "--color", "never"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let heads = headlines(&text);
    let critical = heads.iter().filter(|h| h.starts_with("critical[")).count();
    assert_eq!(critical, 3, "every blocking finding is shown:\n{text}");
    assert!(
        heads[..3].iter().all(|h| h.starts_with("critical[")),
        "the blocking findings come first:\n{text}"
    );
    assert_eq!(heads.len() - critical, 20, "20 others:\n{text}");
    // The most severe of the others: warnings before any info.
    assert!(heads.iter().all(|h| !h.starts_with("info[")), "{text}");
    let table = "\
persona  info  warning  error  critical  total
Lint      200        0      0         0    200
Style       0       97      0         0     97
Guard       0        0      0         3      3
total     200       97      0         3    300
277 more not shown: -v shows all, --format json has them
";
    assert!(text.contains(table), "{text}");
    insta::assert_snapshot!(normalize(&text, f.path()));
}

#[test]
fn verbose_shows_every_finding_and_no_table() {
    let f = noisy();
    let out = f
        .valve(&["check", "--color", "never", "-v"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(headlines(&text).len(), 300);
    assert!(!text.contains("more not shown"), "{text}");
}

#[test]
fn quiet_keeps_the_summary_and_the_verdict() {
    let f = noisy();
    let out = f
        .valve(&["check", "--color", "never", "-q"])
        .output()
        .expect("runs");
    let text = normalize(&stdout(&out), f.path());
    assert_eq!(
        text,
        "valve: 300 findings (3 critical, 97 warning, 200 info) in 3 of 3 changed files [N ms]
blocked: 3 blocking findings by Guard (critical), first at c.txt:1
  (threshold error from the default). Fix it, silence a line with `valve:ignore[Guard]`,
  accept what exists with `valve baseline`, or raise the bar with --fail-on.
"
    );
}

#[test]
fn the_summary_and_verdict_wrap_without_losing_what_they_say() {
    let f = noisy();
    let out = f
        .valve(&["check", "--color", "never", "-q", "--fail-on", "info"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(widest(&text) <= 100, "{text}");
    // Unwrapped, it names the threshold and its source, what blocked and where.
    let flat = text.replace("\n  ", " ");
    for said in [
        "300 blocking findings by Lint (info), Style (warning), Guard (critical), first at a.txt:1",
        "(threshold info from --fail-on)",
    ] {
        assert!(flat.contains(said), "{said:?} in\n{text}");
    }
}

#[cfg(unix)]
mod pty {
    //! valve with its stdout on a real pseudo-terminal.

    use std::fs::File;
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::process::{Command as Std, Stdio};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    use super::common::{Fixture, hermetic, valve_bin};

    pub(super) struct Run {
        pub(super) code: Option<i32>,
        /// What valve wrote to the terminal, the pty's CR of each line end taken out.
        pub(super) text: String,
    }

    fn cloexec(fd: &OwnedFd) {
        // SAFETY: plain fcntl calls on a descriptor this test owns.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFD);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }

    /// Runs valve in `f` with stdout on a pty `cols` columns wide; `env`
    /// added to the hermetic environment (`TERM=xterm`, no `COLUMNS`).
    pub(super) fn run(f: &Fixture, args: &[&str], cols: u16, env: &[(&str, &str)]) -> Run {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors into the two ints; the
        // name, termios and size pointers may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty succeeded; each descriptor is owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cloexec(&master);
        cloexec(&slave);
        let size = libc::winsize {
            ws_row: 40,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one `winsize` through the pointer.
        let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &raw const size) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
        let mut cmd = Std::new(valve_bin());
        hermetic(&mut cmd);
        cmd.args(args)
            .current_dir(f.path())
            .env_remove("COLUMNS")
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .stdout(Stdio::from(slave))
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("valve starts");
        // The parent's copy of the slave goes with the command, so the
        // master reads end of file (EIO) once valve exits.
        drop(cmd);
        let (tx, rx) = channel();
        let mut reader = File::from(master);
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => all.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = tx.send(all);
        });
        let pid = child.id();
        let Ok(bytes) = rx.recv_timeout(Duration::from_secs(120)) else {
            // SAFETY: kill on the child this test started, by its id.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("valve did not finish writing to the pty in time");
        };
        let out = child.wait_with_output().expect("valve ends");
        Run {
            code: out.status.code(),
            text: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
        }
    }
}

#[cfg(unix)]
#[test]
fn on_a_terminal_the_width_is_the_terminals_and_colour_is_on() {
    let f = repo();
    let run = pty::run(&f, &["check"], 72, &[]);
    assert_eq!(run.code, Some(1), "{}", run.text);
    assert!(
        run.text.contains("\x1b[1;35mcritical[Guardian]:"),
        "{}",
        run.text
    );
    assert!(widest(&run.text) <= 72, "{}", plain(&run.text));
    assert!(widest(&run.text) > 60, "{}", plain(&run.text));
}

#[cfg(unix)]
#[test]
fn on_a_terminal_columns_beats_its_size() {
    let f = repo();
    let run = pty::run(&f, &["check"], 72, &[("COLUMNS", "50")]);
    assert_eq!(run.code, Some(1), "{}", run.text);
    assert!(widest(&run.text) <= 50, "{}", plain(&run.text));
    assert!(widest(&run.text) > 40, "{}", plain(&run.text));
}

#[cfg(unix)]
#[test]
fn on_a_terminal_no_color_and_term_dumb_turn_colour_off() {
    let f = repo();
    for env in [("NO_COLOR", "1"), ("TERM", "dumb")] {
        let run = pty::run(&f, &["check", "src/a.ts"], 80, &[env]);
        assert_eq!(run.code, Some(1), "{}", run.text);
        assert!(
            run.text.contains("critical[Guardian]"),
            "{env:?}: {}",
            run.text
        );
        assert!(!run.text.contains('\x1b'), "{env:?}: {:?}", run.text);
    }
    // …and `--color always` still colours.
    let run = pty::run(
        &f,
        &["check", "src/a.ts", "--color", "always"],
        80,
        &[("TERM", "dumb")],
    );
    assert!(run.text.contains("\x1b[1;35m"), "{:?}", run.text);
}

#[cfg(unix)]
#[test]
fn narrow_output_snapshot_on_a_60_column_terminal() {
    let f = repo();
    let run = pty::run(
        &f,
        &["check", "--color", "never"],
        100,
        &[("COLUMNS", "60")],
    );
    assert_eq!(run.code, Some(1), "{}", run.text);
    assert!(widest(&run.text) <= 60, "{}", run.text);
    insta::assert_snapshot!(normalize(&run.text, f.path()));
}
