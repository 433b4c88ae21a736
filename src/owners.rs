//! CODEOWNERS (SPEC §11 "Owners"): who owns a path, by GitHub's rules.
//!
//! API:
//! - [`Codeowners::parse`]: text in, rules and [`Warning`]s out. A line
//!   valve cannot read is a warning naming its line and is skipped, as
//!   GitHub skips it; parsing never fails.
//! - [`Codeowners::owners`]: the owners of a repository path (`a/b.rs`,
//!   `/`-separated, relative to the root). `None`: no line matches;
//!   `Some(&[])`: the last matching line names no owners ("no owners").
//! - [`locate`]: the first of [`CODEOWNERS_PATHS`] that exists, read
//!   through a caller's function (worktree, index or a commit's tree), and
//!   parsed.
//!
//! The grammar, GitHub's flavour of gitignore:
//! - A line is `pattern owner…`, split on blanks; blank lines and lines
//!   starting with `#` are comments, and an owner field starting with `#`
//!   starts a trailing comment. A `\` in a pattern escapes the next
//!   character (`path\ with\ spaces/`).
//! - Owners are `@user`, `@org/team` or an email address.
//! - A leading `/` anchors a pattern at the root, and so does a `/` inside
//!   it; a pattern with no `/` but a trailing one matches at any depth.
//!   A trailing `/` matches a directory only (and so everything under it).
//! - `*` and `?` do not cross `/`. A `**` segment does: `**/x` (any
//!   depth), `a/**/b` (zero or more directories), `a/**` (all inside `a`);
//!   `**` inside a segment (`a**b`) is a plain `*`, as in gitignore.
//! - A pattern that matches a directory matches every path under it,
//!   except when its last segment is a lone `*`: `docs/*` owns
//!   `docs/a.md` but not `docs/sub/b.md` (GitHub's documented difference).
//! - The last matching line wins. Paths compare case-sensitively.
//! - Not supported by GitHub, hence warnings: `!` negation, `[ ]` ranges,
//!   and escaping a leading `#` (`\#file`, which GitHub documents as not
//!   working). A line with an owner that is none of the three forms is
//!   skipped too.
//!
//! Matching is polynomial whatever the patterns: one table over (pattern
//! segment, path segment) per line, and `*` within a segment by the
//! two-pointer wildcard walk. The module reads no files itself.

use std::fmt;

/// Where GitHub looks, in order; the first that exists is used.
pub const CODEOWNERS_PATHS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// A CODEOWNERS line valve skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The parsed rules of one CODEOWNERS file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codeowners {
    rules: Vec<Rule>,
}

/// One valid line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line number.
    pub line: usize,
    /// The pattern as written.
    pub pattern: String,
    pub owners: Vec<String>,
    compiled: Pattern,
}

/// A found and parsed CODEOWNERS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Which of [`CODEOWNERS_PATHS`] it is.
    pub path: &'static str,
    pub codeowners: Codeowners,
    pub warnings: Vec<Warning>,
}

/// Reads the first of [`CODEOWNERS_PATHS`] that `read` finds
/// (`Ok(None)`: no such file) and parses it; `Ok(None)` when there is none.
/// Bytes that are not UTF-8 are replaced, so such a line matches nothing
/// it was not meant to. A leading byte-order mark is dropped.
pub fn locate<E>(
    mut read: impl FnMut(&str) -> Result<Option<Vec<u8>>, E>,
) -> Result<Option<Located>, E> {
    for path in CODEOWNERS_PATHS {
        if let Some(bytes) = read(path)? {
            let text = String::from_utf8_lossy(&bytes);
            let (codeowners, warnings) = Codeowners::parse(&text);
            return Ok(Some(Located {
                path,
                codeowners,
                warnings,
            }));
        }
    }
    Ok(None)
}

impl Codeowners {
    /// Parses CODEOWNERS text. Every line that is neither a rule nor a
    /// comment is a warning and is skipped.
    pub fn parse(text: &str) -> (Codeowners, Vec<Warning>) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        let mut warnings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some((pattern, compiled, owners))) => rules.push(Rule {
                    line,
                    pattern,
                    owners,
                    compiled,
                }),
                Err(message) => warnings.push(Warning { line, message }),
            }
        }
        (Codeowners { rules }, warnings)
    }

    /// The owners of `path` by the last matching line; see the module doc.
    pub fn owners(&self, path: &str) -> Option<&[String]> {
        self.rule_for(path).map(|r| r.owners.as_slice())
    }

    /// The line that decides `path`'s owners, if any.
    pub fn rule_for(&self, path: &str) -> Option<&Rule> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        if path.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        self.rules
            .iter()
            .rev()
            .find(|r| r.compiled.matches(&segments))
    }

    /// The valid lines, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

type ParsedLine = (String, Pattern, Vec<String>);

/// One line: `Ok(None)` for a blank or comment line.
fn parse_line(raw: &str) -> Result<Option<ParsedLine>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (pattern, rest) = split_pattern(line);
    if pattern.starts_with("\\#") {
        return Err(format!(
            "`{}`: GitHub does not support escaping a leading `#`; this line is skipped",
            shown(pattern)
        ));
    }
    let compiled = Pattern::compile(pattern)
        .map_err(|why| format!("`{}`: {why}; this line is skipped", shown(pattern)))?;
    let mut owners = Vec::new();
    for owner in rest.split_whitespace() {
        if owner.starts_with('#') {
            break;
        }
        if !is_owner(owner) {
            return Err(format!(
                "`{}` is not an owner (write @user, @org/team or an email address); this line is skipped",
                shown(owner)
            ));
        }
        owners.push(owner.to_string());
    }
    Ok(Some((pattern.to_string(), compiled, owners)))
}

/// The pattern field (up to the first blank not escaped by `\`) and the rest.
fn split_pattern(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b.is_ascii_whitespace() => return (&line[..i], &line[i..]),
            _ => i += 1,
        }
    }
    (line, "")
}

/// A field cut for a message.
fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// `@user`, `@org/team`, or an email address.
fn is_owner(owner: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if let Some(handle) = owner.strip_prefix('@') {
        return match handle.split_once('/') {
            None => name(handle),
            Some((org, team)) => {
                name(org)
                    && !team.is_empty()
                    && team
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            }
        };
    }
    match owner.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        }
        None => false,
    }
}

/// A compiled pattern: segments to match against a path's segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    /// Trailing `/`: matches what is under a directory, not a file itself.
    dir_only: bool,
    /// A matched directory passes its match to what is under it.
    covers_below: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of whole segments.
    Any,
    Glob(Vec<Piece>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Char(char),
    /// `?`
    One,
    /// `*`
    Star,
}

impl Pattern {
    fn compile(text: &str) -> Result<Pattern, &'static str> {
        if text.starts_with('!') {
            return Err("GitHub does not support `!` negation");
        }
        let mut pieces_of_text = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => pieces_of_text.push(Token::Lit(escaped)),
                    None => return Err("a pattern cannot end in `\\`"),
                },
                '[' | ']' => return Err("GitHub does not support `[ ]` character ranges"),
                '/' => pieces_of_text.push(Token::Slash),
                '*' => pieces_of_text.push(Token::Piece(Piece::Star)),
                '?' => pieces_of_text.push(Token::Piece(Piece::One)),
                c => pieces_of_text.push(Token::Lit(c)),
            }
        }
        let mut tokens = pieces_of_text.as_slice();
        let mut anchored = false;
        if let [Token::Slash, rest @ ..] = tokens {
            anchored = true;
            tokens = rest;
        }
        let mut dir_only = false;
        if let [rest @ .., Token::Slash] = tokens {
            dir_only = true;
            tokens = rest;
        }
        if tokens.is_empty() {
            return Err("the pattern names no path");
        }
        let raw: Vec<&[Token]> = tokens.split(|t| *t == Token::Slash).collect();
        if raw.iter().any(|s| s.is_empty()) {
            return Err("the pattern has an empty segment (`//`)");
        }
        anchored |= raw.len() > 1;
        let mut segments: Vec<Segment> = raw.into_iter().map(Segment::from_tokens).collect();
        if !anchored && segments.first() != Some(&Segment::Any) {
            segments.insert(0, Segment::Any);
        }
        segments.dedup_by(|a, b| *a == Segment::Any && *b == Segment::Any);
        let lone_star = matches!(segments.last(), Some(Segment::Glob(p)) if p == &[Piece::Star]);
        Ok(Pattern {
            segments,
            dir_only,
            covers_below: dir_only || !lone_star,
        })
    }

    /// Whether the pattern matches the path, or a directory above it.
    fn matches(&self, path: &[&str]) -> bool {
        let width = path.len() + 1;
        // memo[i * width + j]: pattern segments from i match path from j.
        let mut memo = vec![None; (self.segments.len() + 1) * width];
        self.match_from(0, 0, path, &mut memo)
    }

    fn match_from(&self, i: usize, j: usize, path: &[&str], memo: &mut [Option<bool>]) -> bool {
        let width = path.len() + 1;
        if let Some(known) = memo[i * width + j] {
            return known;
        }
        let result = match self.segments.get(i) {
            // The pattern is used up: it matched the whole path (a file),
            // or the directory `path[..j]` above it.
            None if j == path.len() => !self.dir_only,
            None => self.covers_below,
            Some(Segment::Glob(pieces)) => {
                j < path.len() && glob(pieces, path[j]) && self.match_from(i + 1, j + 1, path, memo)
            }
            // A trailing `**` needs at least one segment: `a/**` is what is
            // inside `a`, not `a`.
            Some(Segment::Any) if i + 1 == self.segments.len() => {
                j < path.len()
                    && (self.match_from(i + 1, j + 1, path, memo)
                        || self.match_from(i, j + 1, path, memo))
            }
            Some(Segment::Any) => {
                self.match_from(i + 1, j, path, memo)
                    || (j < path.len() && self.match_from(i, j + 1, path, memo))
            }
        };
        memo[i * width + j] = Some(result);
        result
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Slash,
    Lit(char),
    Piece(Piece),
}

impl Segment {
    fn from_tokens(tokens: &[Token]) -> Segment {
        let star = Token::Piece(Piece::Star);
        if tokens == [star, star] {
            return Segment::Any;
        }
        let mut pieces: Vec<Piece> = Vec::with_capacity(tokens.len());
        for t in tokens {
            let piece = match *t {
                Token::Lit(c) => Piece::Char(c),
                Token::Piece(p) => p,
                // Segments are split on slashes; none is left inside.
                Token::Slash => continue,
            };
            // `**` inside a segment is one `*`.
            if !(piece == Piece::Star && pieces.last() == Some(&Piece::Star)) {
                pieces.push(piece);
            }
        }
        Segment::Glob(pieces)
    }
}

/// Wildcard match of one path segment: `*` any run, `?` one character.
/// Two pointers with one remembered star: O(len × pieces) at worst.
fn glob(pieces: &[Piece], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pieces.get(p) {
            Some(Piece::Star) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star take one more character and retry.
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                None => return false,
            },
        }
    }
    pieces[p..].iter().all(|x| *x == Piece::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Codeowners {
        let (c, warnings) = Codeowners::parse(text);
        assert!(warnings.is_empty(), "{warnings:?}");
        c
    }

    fn owners_of<'c>(c: &'c Codeowners, path: &str) -> Option<Vec<&'c str>> {
        c.owners(path)
            .map(|o| o.iter().map(String::as_str).collect())
    }

    /// Whether a single pattern matches a path.
    fn hits(pattern: &str, path: &str) -> bool {
        let c = parsed(&format!("{pattern} @o"));
        assert_eq!(c.rules().len(), 1, "{pattern}");
        c.owners(path).is_some()
    }

    fn warnings(text: &str) -> Vec<Warning> {
        Codeowners::parse(text).1
    }

    /// The example file of GitHub's documentation, in our own words.
    const EXAMPLE: &str = "\
# Default owners for everything.
*       @global-owner1 @global-owner2

# The last match wins: JS files go to the JS owner only.
*.js    @js-owner #This is an inline comment.

*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat

/apps/ @octocat
/apps/github
";

    #[test]
    fn github_example_file_parses_without_warnings() {
        let c = parsed(EXAMPLE);
        assert_eq!(c.rules().len(), 12);
        assert_eq!(c.rules()[1].pattern, "*.js");
        assert_eq!(c.rules()[1].line, 5);
    }

    #[test]
    fn github_example_default_owners() {
        let c = parsed(EXAMPLE);
        assert_eq!(
            owners_of(&c, "README.md"),
            Some(vec!["@global-owner1", "@global-owner2"])
        );
        assert_eq!(
            owners_of(&c, "src/deep/main.rs"),
            Some(vec!["@global-owner1", "@global-owner2"])
        );
    }

    #[test]
    fn github_example_last_match_wins() {
        let c = parsed(EXAMPLE);
        assert_eq!(owners_of(&c, "src/app.js"), Some(vec!["@js-owner"]));
        assert_eq!(owners_of(&c, "main.go"), Some(vec!["docs@example.com"]));
        assert_eq!(
            owners_of(&c, "a/b/notes.txt"),
            Some(vec!["@octo-org/octocats"])
        );
        // `/docs/` comes after `docs/*` and `*.js`: it wins for all of docs.
        assert_eq!(
            owners_of(&c, "docs/getting-started.md"),
            Some(vec!["@doctocat"])
        );
        assert_eq!(owners_of(&c, "docs/a/b.js"), Some(vec!["@doctocat"]));
        assert_eq!(
            owners_of(&c, "scripts/deploy.sh"),
            Some(vec!["@doctocat", "@octocat"])
        );
    }

    #[test]
    fn github_example_logs_and_apps() {
        let c = parsed(EXAMPLE);
        // `**/logs` is the last match for every logs directory.
        for path in [
            "build/logs/x.log",
            "scripts/logs/y",
            "deeply/nested/logs/z",
            "logs/a",
        ] {
            assert_eq!(owners_of(&c, path), Some(vec!["@octocat"]), "{path}");
        }
        assert_eq!(owners_of(&c, "apps/web/index.ts"), Some(vec!["@octocat"]));
        assert_eq!(owners_of(&c, "lib/apps/x.rs"), Some(vec!["@octocat"]));
    }

    #[test]
    fn a_matching_line_without_owners_means_no_owners() {
        let c = parsed(EXAMPLE);
        assert_eq!(owners_of(&c, "apps/github/main.rb"), Some(vec![]));
        assert_eq!(owners_of(&c, "apps/github"), Some(vec![]));
        assert_eq!(owners_of(&c, "apps/githubber/x"), Some(vec!["@octocat"]));
        let more = parsed(&format!("{EXAMPLE}/apps/github @doctocat\n"));
        assert_eq!(
            owners_of(&more, "apps/github/main.rb"),
            Some(vec!["@doctocat"])
        );
    }

    #[test]
    fn no_matching_line_means_none() {
        let c = parsed("*.rs @rust\n/docs/ @docs\n");
        assert_eq!(c.owners("README.md"), None);
        assert_eq!(c.owners("docs"), None, "a file named docs is no directory");
        assert_eq!(parsed("").owners("a"), None);
        assert_eq!(c.owners(""), None);
        assert_eq!(c.owners("a//b.rs"), None);
    }

    #[test]
    fn a_pattern_without_a_slash_matches_at_any_depth() {
        assert!(hits("Makefile", "Makefile"));
        assert!(hits("Makefile", "a/b/Makefile"));
        assert!(hits("*.md", "deep/x/README.md"));
        assert!(hits("build", "src/build/out.o"), "as a directory, too");
        assert!(!hits("Makefile", "Makefile.am"));
        assert!(!hits("*.md", "README.mdx"));
    }

    #[test]
    fn a_leading_or_inner_slash_anchors_at_the_root() {
        assert!(hits("/Makefile", "Makefile"));
        assert!(!hits("/Makefile", "sub/Makefile"));
        assert!(hits("src/main.rs", "src/main.rs"));
        assert!(!hits("src/main.rs", "lib/src/main.rs"));
        assert!(hits("/src/lib", "src/lib/a.rs"));
        assert!(!hits("/src/lib", "x/src/lib/a.rs"));
    }

    #[test]
    fn a_trailing_slash_matches_a_directory_and_all_below() {
        assert!(hits("apps/", "apps/a"));
        assert!(hits("apps/", "apps/a/b/c"));
        assert!(hits("apps/", "x/apps/a"));
        assert!(!hits("apps/", "apps"), "a file named apps");
        assert!(!hits("apps/", "myapps/a"));
        assert!(hits("/build/logs/", "build/logs/a/b"));
        assert!(!hits("/build/logs/", "x/build/logs/a"));
    }

    #[test]
    fn star_does_not_cross_a_slash() {
        assert!(hits("docs/*", "docs/getting-started.md"));
        assert!(!hits("docs/*", "docs/build-app/troubleshooting.md"));
        assert!(!hits("docs/*", "docs"));
        assert!(!hits("docs/*", "x/docs/a.md"), "docs/* is anchored");
        assert!(hits("src/*.rs", "src/a.rs"));
        assert!(!hits("src/*.rs", "src/a/b.rs"));
        assert!(hits("a/*/c", "a/b/c"));
        assert!(!hits("a/*/c", "a/b/x/c"));
        assert!(hits("te?t", "dir/test"));
        assert!(!hits("te?t", "te/t"));
        assert!(!hits("te?t", "tet"));
    }

    #[test]
    fn double_star_crosses_slashes() {
        assert!(hits("**/logs", "logs"));
        assert!(hits("**/logs", "a/b/logs"));
        assert!(hits("**/logs", "a/logs/x.txt"));
        assert!(hits("a/**/b", "a/b"));
        assert!(hits("a/**/b", "a/x/y/b"));
        assert!(!hits("a/**/b", "x/a/b"));
        assert!(hits("a/**", "a/x"));
        assert!(hits("a/**", "a/x/y/z"));
        assert!(!hits("a/**", "a"));
        assert!(hits("**", "anything/at/all"));
        assert!(hits("/**/*.rs", "x/y.rs"));
        assert!(hits("src/**/*.rs", "src/main.rs"));
        assert!(!hits("src/**/*.rs", "lib/main.rs"));
    }

    #[test]
    fn double_star_inside_a_segment_is_a_plain_star() {
        assert!(hits("/a**b", "axyb"));
        assert!(!hits("/a**b", "ax/yb"));
    }

    #[test]
    fn a_directory_match_covers_everything_below() {
        assert!(hits("/src", "src/a/b.rs"));
        assert!(hits("*.d", "x/conf.d/a.conf"), "a directory named conf.d");
        assert!(
            hits("docs/*/", "docs/sub/a.md"),
            "docs/*/ means docs' subdirectories"
        );
        assert!(!hits("docs/*/", "docs/a.md"));
    }

    #[test]
    fn paths_compare_case_sensitively() {
        assert!(!hits("/Docs/", "docs/a.md"));
        assert!(!hits("*.MD", "a.md"));
    }

    #[test]
    fn comments_blank_lines_and_inline_comments() {
        let c = parsed(
            "# a comment\n\n   \n  # indented comment\n*.rs @a # trailing @b\n*.md\t@x\t@y\n",
        );
        assert_eq!(owners_of(&c, "m.rs"), Some(vec!["@a"]));
        assert_eq!(owners_of(&c, "m.md"), Some(vec!["@x", "@y"]));
        assert_eq!(c.rules().len(), 2);
        assert_eq!(c.rules()[0].line, 5);
    }

    #[test]
    fn windows_line_ends_and_a_bom_are_accepted() {
        let c = parsed("\u{feff}*.rs @a\r\n/docs/ @b\r\n");
        assert_eq!(owners_of(&c, "x.rs"), Some(vec!["@a"]));
        assert_eq!(owners_of(&c, "docs/x"), Some(vec!["@b"]));
    }

    #[test]
    fn escaped_spaces_and_characters_in_patterns() {
        let c = parsed("path\\ with\\ spaces/ @space\n/lit\\*eral @lit\n");
        assert_eq!(owners_of(&c, "path with spaces/a"), Some(vec!["@space"]));
        assert_eq!(c.rules()[0].pattern, "path\\ with\\ spaces/");
        assert_eq!(owners_of(&c, "lit*eral"), Some(vec!["@lit"]));
        assert_eq!(c.owners("litXeral"), None);
    }

    #[test]
    fn owner_forms() {
        let c = parsed("* @user @org/team-name @org/a.b_c me@example.com @with_underscore\n");
        assert_eq!(c.owners("x").map(<[String]>::len), Some(5));
        for bad in [
            "user",
            "@",
            "@org/",
            "@/team",
            "@a/b/c",
            "me@",
            "@me@x.com",
            "x@nodot",
            "@us!er",
        ] {
            let w = warnings(&format!("* {bad}"));
            assert_eq!(w.len(), 1, "{bad}");
            assert!(
                w[0].message.contains("is not an owner"),
                "{bad}: {}",
                w[0].message
            );
        }
    }

    #[test]
    fn negation_is_a_warning_and_the_line_is_skipped() {
        let (c, w) = Codeowners::parse("* @all\n!*.md @docs\n");
        assert_eq!(
            c.owners("a.md").map(<[String]>::to_vec),
            Some(vec!["@all".to_string()])
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 2);
        assert_eq!(
            w[0].to_string(),
            "line 2: `!*.md`: GitHub does not support `!` negation; this line is skipped"
        );
    }

    #[test]
    fn character_ranges_are_a_warning() {
        let (c, w) = Codeowners::parse("Python/ceval*.[ch] @x\n[Section] @y\n*.c @z\n");
        assert_eq!(w.iter().map(|w| w.line).collect::<Vec<_>>(), [1, 2]);
        assert!(w[0].message.contains("`[ ]` character ranges"));
        assert_eq!(owners_of(&c, "Python/ceval.c"), Some(vec!["@z"]));
        // An escaped bracket is a literal one.
        assert!(hits("/a\\[1\\]", "a[1]"));
    }

    #[test]
    fn an_escaped_leading_hash_is_a_warning() {
        let w = warnings("\\#file_with_pound.rb @owner\n");
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("leading `#`"));
        assert!(hits("/a#b", "a#b"), "a `#` inside a pattern is literal");
    }

    #[test]
    fn malformed_patterns_are_warnings() {
        for (line, why) in [
            ("/ @x", "names no path"),
            ("a//b @x", "empty segment"),
            ("a\\", "end in"),
        ] {
            let w = warnings(line);
            assert_eq!(w.len(), 1, "{line}");
            assert!(w[0].message.contains(why), "{line}: {}", w[0].message);
        }
        // `\ ` escapes the blank: the owner becomes part of the pattern.
        assert_eq!(parsed("a\\ @x").rules()[0].pattern, "a\\ @x");
    }

    #[test]
    fn warnings_never_stop_the_parse() {
        let (c, w) = Codeowners::parse("!a @x\n*.rs @ok\nb[ @y\n* bad\n/c/ @z\n");
        assert_eq!(w.iter().map(|w| w.line).collect::<Vec<_>>(), [1, 3, 4]);
        assert_eq!(c.rules().iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5]);
        let long = format!("{} @x", "!".repeat(10_000));
        assert!(warnings(&long)[0].message.len() < 200);
    }

    #[test]
    fn rule_for_names_the_deciding_line() {
        let c = parsed(EXAMPLE);
        let rule = c.rule_for("apps/github/x");
        assert_eq!(
            rule.map(|r| (r.line, r.pattern.as_str())),
            Some((17, "/apps/github"))
        );
        assert_eq!(
            c.rule_for("/src/a.js").map(|r| r.line),
            Some(5),
            "a leading / is allowed"
        );
    }

    #[test]
    fn many_double_stars_match_in_polynomial_time() {
        let pattern = format!("{}x", "**/a*a*a*a*/".repeat(30));
        let path = vec!["aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"; 60].join("/");
        assert!(!hits(&pattern, &path));
    }

    #[test]
    fn locate_takes_the_first_file_github_would() {
        let files = |present: &'static [&'static str]| {
            move |path: &str| -> Result<Option<Vec<u8>>, ()> {
                Ok(present.contains(&path).then(|| b"* @a".to_vec()))
            }
        };
        let found = |present| locate(files(present)).ok().flatten().map(|l| l.path);
        assert_eq!(
            found(&[".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]),
            Some(".github/CODEOWNERS")
        );
        assert_eq!(
            found(&["CODEOWNERS", "docs/CODEOWNERS"]),
            Some("CODEOWNERS")
        );
        assert_eq!(found(&["docs/CODEOWNERS"]), Some("docs/CODEOWNERS"));
        assert_eq!(found(&[]), None);
        let located = locate(files(&["docs/CODEOWNERS"])).ok().flatten();
        assert!(
            located.is_some_and(|l| l.warnings.is_empty() && l.codeowners.owners("x").is_some())
        );
    }

    #[test]
    fn locate_passes_read_errors_through_and_stops() {
        let mut asked = Vec::new();
        let result = locate(|path: &str| {
            asked.push(path.to_string());
            if path == "CODEOWNERS" {
                Err("unreadable")
            } else {
                Ok(None)
            }
        });
        assert_eq!(result, Err("unreadable"));
        assert_eq!(asked, [".github/CODEOWNERS", "CODEOWNERS"]);
    }

    #[test]
    fn locate_reports_warnings_and_reads_lossily() {
        let located = locate(|path: &str| -> Result<_, ()> {
            Ok((path == "CODEOWNERS").then(|| b"* @a\n\xff.rs @b\n!x @c\n".to_vec()))
        });
        let Ok(Some(l)) = located else {
            panic!("CODEOWNERS is there");
        };
        assert_eq!(l.warnings.iter().map(|w| w.line).collect::<Vec<_>>(), [3]);
        assert_eq!(l.codeowners.rules().len(), 2);
        assert_eq!(owners_of(&l.codeowners, "x.rs"), Some(vec!["@a"]));
    }
}
