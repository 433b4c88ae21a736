//! Text layout for human output, pure: display widths, wrapping valve's
//! own text at word boundaries, and windowing a long source line around a
//! match. Works on text already escaped for the terminal (no control
//! characters but tab), before colour is added.

use unicode_width::UnicodeWidthChar;

/// Columns a tab is counted as in valve's text: the most it can take.
const TAB_WIDTH: usize = 8;
/// Columns a tab takes in an echoed source line, where it is expanded.
pub(super) const SOURCE_TAB: &str = "    ";
/// Marks text cut off by a window or a truncation.
pub(super) const ELLIPSIS: &str = "…";

pub(super) fn char_width(c: char) -> usize {
    if c == '\t' {
        TAB_WIDTH
    } else {
        c.width().unwrap_or(0)
    }
}

/// Columns `s` takes on a terminal.
pub(super) fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// The longest prefix of `s` at most `max` columns wide.
fn head(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += char_width(c);
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// The longest suffix of `s` at most `max` columns wide.
fn tail(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices().rev() {
        used += char_width(c);
        if used > max {
            return &s[i + c.len_utf8()..];
        }
    }
    s
}

/// `s`, or as much of it as fits in `max` columns with `…` after.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    match max {
        0 => String::new(),
        _ => format!("{}{ELLIPSIS}", head(s, max - 1)),
    }
}

/// Lays `atoms` out in lines at most `max` columns wide: the first line
/// starts with `first`, the others with `indent`, atoms are separated by
/// one space. An atom (a phrase valve keeps together) that does not fit on
/// a line of its own is broken at its spaces, and a word that does not fit
/// one line is cut. Every line holds at least one character of text, so
/// when even that does not fit (an indent wider than `max`), the line is
/// as narrow as it can be.
pub(super) fn wrap<'a>(
    atoms: impl IntoIterator<Item = &'a str>,
    max: usize,
    first: &str,
    indent: &str,
) -> Vec<String> {
    let mut w = Wrapper {
        lines: Vec::new(),
        line: first.to_string(),
        used: width(first),
        fresh: true,
        max,
        indent,
    };
    for atom in atoms {
        w.atom(atom);
    }
    w.lines.push(w.line);
    w.lines
}

struct Wrapper<'a> {
    lines: Vec<String>,
    line: String,
    used: usize,
    /// Nothing but the indent on the line yet.
    fresh: bool,
    max: usize,
    indent: &'a str,
}

impl Wrapper<'_> {
    fn fits(&self, w: usize) -> bool {
        self.used + usize::from(!self.fresh) + w <= self.max
    }

    fn push(&mut self, s: &str, w: usize) {
        if !self.fresh {
            self.line.push(' ');
            self.used += 1;
        }
        self.line.push_str(s);
        self.used += w;
        self.fresh = false;
    }

    fn newline(&mut self) {
        let done = std::mem::replace(&mut self.line, self.indent.to_string());
        self.lines.push(done);
        self.used = width(self.indent);
        self.fresh = true;
    }

    fn atom(&mut self, atom: &str) {
        let w = width(atom);
        if self.fits(w) {
            return self.push(atom, w);
        }
        if !self.fresh && width(self.indent) + w <= self.max {
            self.newline();
            return self.push(atom, w);
        }
        if atom.contains(' ') {
            for word in atom.split(' ') {
                self.atom(word);
            }
            return;
        }
        self.cut(atom);
    }

    /// A word longer than a line: as much as fits on each line.
    fn cut(&mut self, mut word: &str) {
        while !word.is_empty() {
            let room = self
                .max
                .saturating_sub(self.used + usize::from(!self.fresh));
            let mut part = head(word, room);
            if part.is_empty() {
                if !self.fresh {
                    self.newline();
                    continue;
                }
                // Not even one character fits: it goes alone.
                let c = word.chars().next().map_or(0, char::len_utf8);
                part = &word[..c];
            }
            self.push(part, width(part));
            word = &word[part.len()..];
            if !word.is_empty() {
                self.newline();
            }
        }
    }
}

/// One source line shown within a width, split around the match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Window {
    pub before: String,
    pub matched: String,
    pub after: String,
}

/// Shows `before`, `matched`, `after` (one line, tabs expanded) in at most
/// `max` columns when they do not fit: the match kept, with a third of the
/// room left for text before it and the rest after; cut ends marked `…`.
/// `cut_left` says the line already starts past its beginning (the
/// engine windowed it), which is marked too. A match wider than the room
/// is shown from its start.
pub(super) fn window(
    before: &str,
    matched: &str,
    after: &str,
    max: usize,
    cut_left: bool,
) -> Window {
    let before = if cut_left {
        format!("{ELLIPSIS}{before}")
    } else {
        before.to_string()
    };
    let (wb, wm, wa) = (width(&before), width(matched), width(after));
    if wb + wm + wa <= max {
        return Window {
            before,
            matched: matched.to_string(),
            after: after.to_string(),
        };
    }
    // Room for the match once one column is kept for each `…` it needs.
    let lead = usize::from(wb > 0);
    if wm + lead + usize::from(wa > 0) > max {
        let shown = head(matched, max.saturating_sub(lead + 1));
        return Window {
            before: if lead == 1 {
                ELLIPSIS.to_string()
            } else {
                String::new()
            },
            matched: shown.to_string(),
            after: ELLIPSIS.to_string(),
        };
    }
    let room = max - wm;
    let budget_before = wb.min((room / 3).max(room.saturating_sub(wa)));
    let budget_after = room - budget_before;
    let before = if wb <= budget_before {
        before
    } else {
        format!(
            "{ELLIPSIS}{}",
            tail(&before, budget_before.saturating_sub(1))
        )
    };
    let after = if wa <= budget_after {
        after.to_string()
    } else {
        format!("{}{ELLIPSIS}", head(after, budget_after.saturating_sub(1)))
    };
    Window {
        before,
        matched: matched.to_string(),
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn wraps_at_word_boundaries_with_the_indent() {
        let lines = wrap(words("one two three four five"), 12, "= ", "  ");
        assert_eq!(lines, ["= one two", "  three four", "  five"]);
    }

    #[test]
    fn keeps_a_phrase_together_when_it_fits_a_line() {
        let lines = wrap(["blocked:", "threshold info from --fail-on"], 32, "", "  ");
        assert_eq!(lines, ["blocked:", "  threshold info from --fail-on"]);
    }

    #[test]
    fn breaks_a_phrase_longer_than_a_line_at_its_spaces() {
        let lines = wrap(["aaa bbb ccc ddd"], 8, "", "");
        assert_eq!(lines, ["aaa bbb", "ccc ddd"]);
    }

    #[test]
    fn never_leaves_the_first_line_empty() {
        let lines = wrap(["a long phrase"], 10, "--> ", "    ");
        assert_eq!(lines, ["--> a long", "    phrase"]);
    }

    #[test]
    fn cuts_a_word_longer_than_a_line() {
        let lines = wrap(["x", "abcdefghij"], 5, "", " ");
        assert_eq!(lines, ["x abc", " defg", " hij"]);
        for l in &lines {
            assert!(width(l) <= 5, "{l:?}");
        }
    }

    #[test]
    fn counts_wide_characters_as_two_columns() {
        assert_eq!(width("日本"), 4);
        let lines = wrap(["日本語の", "文"], 8, "", "");
        assert_eq!(lines, ["日本語の", "文"]);
    }

    #[test]
    fn a_line_fits_whole_when_it_can() {
        let w = window("const k = \"", "AKIA", "\";", 40, false);
        assert_eq!(
            (w.before.as_str(), w.matched.as_str(), w.after.as_str()),
            ("const k = \"", "AKIA", "\";")
        );
    }

    #[test]
    fn a_long_line_is_windowed_around_the_match() {
        let before = "b".repeat(100);
        let after = "a".repeat(100);
        let w = window(&before, "MATCH", &after, 35, false);
        assert_eq!(w.matched, "MATCH");
        assert_eq!(width(&w.before) + 5 + width(&w.after), 35);
        assert!(w.before.starts_with(ELLIPSIS) && w.after.ends_with(ELLIPSIS));
        assert_eq!(width(&w.before), 10);
    }

    #[test]
    fn short_text_after_the_match_gives_its_room_to_the_text_before() {
        let before = "b".repeat(100);
        let w = window(&before, "MATCH", ";", 30, false);
        assert_eq!(w.after, ";");
        assert_eq!(width(&w.before), 24);
    }

    #[test]
    fn a_match_wider_than_the_room_is_shown_from_its_start() {
        let w = window("x = ", &"M".repeat(50), "", 20, false);
        assert_eq!(w.before, ELLIPSIS);
        assert_eq!(w.matched, "M".repeat(18));
        assert_eq!(w.after, ELLIPSIS);
    }

    #[test]
    fn a_line_the_engine_cut_is_marked() {
        let w = window("abc ", "M", "", 40, true);
        assert_eq!(w.before, "…abc ");
    }

    #[test]
    fn truncates_with_an_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("abc", 0), "");
    }
}
