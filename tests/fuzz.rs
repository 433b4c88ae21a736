//! Seeded fuzzing of the real binary: random configs (valid and broken) and
//! random trees (hostile names, contents, symlinks, git states), each run
//! bounded (`support/bounded.rs`). valve must exit 0, 1 or 2, never die of a
//! signal, a timeout or a panic; a json, ndjson or sarif report must parse;
//! no program may run (a filter driver, textconv, fsmonitor or pager
//! configured to leave a mark), and the index is never written.
//!
//! `VALVE_FUZZ_CASES` sets how many cases (default [`DEFAULT_CASES`]);
//! `VALVE_FUZZ_SEED` the first case's seed (case `i` uses seed + i), so one
//! failing case is replayed with `VALVE_FUZZ_SEED=<its seed>
//! VALVE_FUZZ_CASES=1`; `VALVE_FUZZ_KEEP=1` keeps its folder to look at.
//! Cases run on one worker a core (`VALVE_FUZZ_WORKERS` overrides).
//! The generator is a tiny xorshift: the same seed builds the same case on
//! every machine.

#[path = "support/bounded.rs"]
mod bounded;
mod common;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bounded::{Outcome, Run};
use common::hermetic;

const DEFAULT_CASES: usize = 200;
const DEFAULT_SEED: u64 = 0x5EED_0000;
/// A fuzz case is small: a run that takes this long twice is a bug. Once
/// is not: a loaded CI runner has stopped the test for seconds (a run
/// reported as timed out after 13.9 s of a 10 s deadline), so a run that
/// times out is run again, and only a second timeout is a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- the PRNG

/// xorshift64*, seeded through splitmix64 so neighbouring seeds differ.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// lo..=hi.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

// ------------------------------------------------------------ configs

const TOP_KEYS: &[&str] = &[
    "version",
    "ignore",
    "max_file_size",
    "max_findings",
    "fail_on",
    "extends",
    "suppressions",
];
const PERSONA_KEYS: &[&str] = &[
    "description",
    "filters",
    "exclude",
    "triggers",
    "response",
    "severity",
    "message",
    "scope",
    "on",
    "redact",
    "allow_ignore",
    "require_reason",
    "binary",
    "history",
    "enforce_after",
    "owners",
    "tags",
    "security_severity",
    "help_uri",
    "examples",
    "schedule",
    "when_changed",
];
const SEVERITIES: &[&str] = &[
    "info",
    "warning",
    "error",
    "critical",
    "note",
    "warn",
    "HALT_EVERYTHING",
    "halt",
    "Critical",
    "never",
    "fatal",
    "",
    "3",
];
const KINDS: &[&str] = &[
    "added", "modified", "renamed", "deleted", "Added", "moved", "",
];
const SIZES: &[&str] = &[
    "1KiB",
    "10",
    "0",
    "10MiB",
    "1GB",
    "1.5MB",
    "-1",
    "99999999999999999999999",
    "lots",
    "1 KiB",
    "18446744073709551615B",
];
const COUNTS: &[&str] = &[
    "0",
    "1",
    "5",
    "10000",
    "-1",
    "1e9",
    "99999999999999999999",
    "many",
];
const GLOB_PARTS: &[&str] = &[
    "**",
    "*",
    "?",
    "src",
    "a",
    "auth",
    "*.txt",
    "*.rs",
    ".env*",
    "[a-z]",
    "[!x]",
    "{a,b}",
    "[",
    "{",
    "\\",
    "..",
    ".",
    "é",
    "-rf",
    "::x",
    "a b",
    "[[:alpha:]]",
    "***",
    "{a,{b,c}}",
    "**/",
    "\u{202e}",
    "*secret*",
];
const REGEX_ATOMS: &[&str] = &[
    "a",
    "TODO",
    "FIXME",
    "AKIA[0-9A-Z]{16}",
    "\\w+",
    "\\d{3}",
    ".",
    "[a-z]",
    "[^\\n]+",
    "\\bkey\\b",
    "^x",
    "x$",
    "(?m)^TODO$",
    "(?i)secret",
    "\\x00",
    "\\p{Greek}",
    "\\s+",
    "é",
    "🦀",
    "\\r\\n",
    "(?s).+",
    "-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "dbg!\\(",
    "valve:ignore",
];
const REGEX_BROKEN: &[&str] = &[
    "(",
    "[",
    ")",
    "\\",
    "*",
    "+?",
    "a{2,1}",
    "(?P<n>",
    "\\1",
    "(?<=a)b",
    "\\p{Nope}",
    "[z-a]",
    "(?x",
    "a{99999}",
];
const REGEX_HUGE: &[&str] = &[
    "\\w{300}",
    "\\w{1000}",
    "(\\w{50}){50}",
    "[\\p{L}\\p{N}]{500}",
    ".{5000}",
    "(a|b|c|d|e){200}",
    "\\w{100}\\w{100}\\w{100}",
];
const REGEX_EMPTY: &[&str] = &[
    "", "a*", "TODO|", "(x?)", "^", "$", "\\b", "(?:)", "a{0}", "|",
];
const ODD: &[&str] = &[
    "\u{202e}evil",
    "e\u{301}\u{301}\u{301}",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\u{1f980}",
    "\u{fffd}",
    "𝕍𝕒𝕝𝕧𝕖",
    "\u{200b}",
    "::error::forged",
    "%0A%0D",
    "<script>x</script>",
    "@org/team",
    "[link](http://x)",
];

fn word(rng: &mut Rng) -> String {
    rng.pick(&[
        "a", "Guardian", "Docs", "x", "secret", "TODO", "b2", "Ops", "é",
    ])
    .to_string()
}

fn misspell(rng: &mut Rng, key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    if chars.is_empty() {
        return "x".into();
    }
    let i = rng.below(chars.len());
    match rng.below(6) {
        0 => {
            chars.remove(i);
        }
        1 if i + 1 < chars.len() => chars.swap(i, i + 1),
        2 => chars.insert(i, chars[i]),
        3 => return key.to_uppercase(),
        4 => return format!("{key}s"),
        _ => return word(rng),
    }
    chars.into_iter().collect()
}

fn key(rng: &mut Rng, keys: &[&str]) -> String {
    let k = rng.pick(keys);
    if rng.chance(12) {
        misspell(rng, k)
    } else {
        k.to_string()
    }
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string as YAML: mostly quoted safely, sometimes plain (which may break).
fn quote(rng: &mut Rng, s: &str) -> String {
    match rng.below(10) {
        0..=5 => single_quoted(s),
        6 | 7 => double_quoted(s),
        _ => s.to_string(),
    }
}

/// A value for a key that wants text.
fn text(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => "42".into(),
        1 => "true".into(),
        2 => "~".into(),
        3 => "''".into(),
        4 => format!("[{}]", word(rng)),
        5 => format!("{{a: {}}}", word(rng)),
        6 => single_quoted(&"x".repeat(rng.range(300, 80_000))),
        7 => double_quoted(rng.pick(ODD)),
        8 => format!("\"\\x1b[31m{}\\x07\\0\"", word(rng)),
        9 => format!("'{}\t{}'", word(rng), rng.pick(ODD)),
        _ => {
            let s = format!("{} {}", word(rng), word(rng));
            quote(rng, &s)
        }
    }
}

fn glob(rng: &mut Rng) -> String {
    if rng.chance(5) {
        return String::new();
    }
    let parts: Vec<&str> = (0..rng.range(1, 4)).map(|_| rng.pick(GLOB_PARTS)).collect();
    let mut g = parts.join("/");
    if rng.chance(10) {
        g.insert(0, '/');
    }
    if rng.chance(5) {
        g.insert(0, '!');
    }
    g
}

fn regex(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=9 => rng.pick(REGEX_BROKEN).to_string(),
        10..=17 => rng.pick(REGEX_HUGE).to_string(),
        18..=25 => rng.pick(REGEX_EMPTY).to_string(),
        26..=28 => "k".repeat(rng.range(1000, 20_000)),
        _ => {
            let mut r = String::new();
            for i in 0..rng.range(1, 3) {
                if i > 0 && rng.chance(30) {
                    r.push('|');
                }
                r.push_str(rng.pick(REGEX_ATOMS));
                if rng.chance(10) {
                    r.push_str(rng.pick(&["+", "?", "{2}", "{1,3}", "*?"]));
                }
            }
            r
        }
    }
}

/// A list of `n` items, flow or block style, indented for a persona key.
fn list(rng: &mut Rng, indent: &str, items: Vec<String>) -> String {
    if items.len() == 1 && rng.chance(15) {
        return format!(" {}", items[0]);
    }
    if rng.chance(60) {
        format!(" [{}]", items.join(", "))
    } else {
        items.iter().map(|i| format!("\n{indent}  - {i}")).collect()
    }
}

fn strings(rng: &mut Rng, indent: &str, item: fn(&mut Rng) -> String, max: usize) -> String {
    if rng.chance(5) {
        return rng
            .pick(&[" 3", " {a: b}", " true", " []", " ~"])
            .to_string();
    }
    let items = (0..rng.range(1, max))
        .map(|_| item(rng))
        .collect::<Vec<_>>();
    let items = items.iter().map(|s| quote(rng, s)).collect();
    list(rng, indent, items)
}

fn kind(rng: &mut Rng) -> String {
    rng.pick(KINDS).to_string()
}

fn date(rng: &mut Rng) -> String {
    rng.pick(&[
        "2027-01-31",
        "2020-02-30",
        "yesterday",
        "2027-13-01",
        "0000-00-00",
        "1e9",
    ])
    .to_string()
}

fn persona_value(rng: &mut Rng, key: &str) -> String {
    let ind = "    ";
    match key {
        "filters" | "exclude" | "when_changed" => strings(rng, ind, glob, 4),
        "triggers" => strings(rng, ind, regex, 4),
        "on" => strings(rng, ind, kind, 3),
        "owners" | "tags" => strings(rng, ind, word, 3),
        "severity" => {
            let s = rng.pick(SEVERITIES);
            format!(" {}", quote(rng, s))
        }
        "scope" => format!(" {}", rng.pick(&["changed", "file", "all", "[file]"])),
        "binary" => format!(" {}", rng.pick(&["skip", "scan", "maybe", "true"])),
        "redact" | "allow_ignore" | "require_reason" | "history" => {
            format!(
                " {}",
                rng.pick(&["true", "false", "yes", "1", "'true'", "no"])
            )
        }
        "enforce_after" => format!(" {}", date(rng)),
        "security_severity" => format!(" {}", rng.pick(&["9.0", "11", "-1", "high", ".nan", "0"])),
        "examples" => {
            let content = rng.pick(&["TODO", "AKIAABCDEFGHIJKLMNOP", "", "é\u{202e}"]);
            let content = quote(rng, content);
            let path = glob(rng);
            let path = quote(rng, &path);
            let set = if rng.chance(80) {
                rng.pick(&["fires", "quiet"]).to_string()
            } else {
                word(rng)
            };
            format!("\n{ind}  {set}: [{{ path: {path}, content: {content} }}]")
        }
        _ => format!(" {}", text(rng)),
    }
}

fn top_value(rng: &mut Rng, key: &str) -> String {
    match key {
        "version" => format!(" {}", rng.pick(&["1", "2", "'1'", "1.0", "[1]"])),
        "ignore" => strings(rng, "", glob, 3),
        "extends" => strings(
            rng,
            "",
            |r| {
                r.pick(&[
                    "policies/base.yml",
                    "../outside.yml",
                    "/dev/null",
                    ".sage/valve.yml",
                    "missing.yml",
                    "/dev/zero",
                ])
                .to_string()
            },
            2,
        ),
        "max_file_size" => format!(" {}", rng.pick(SIZES)),
        "max_findings" => format!(" {}", rng.pick(COUNTS)),
        "fail_on" if rng.chance(50) => format!(
            " {{ {}: {}, {}: {} }}",
            rng.pick(&["hook", "ci", "watch", "default", "pr"]),
            rng.pick(SEVERITIES),
            rng.pick(&["hook", "ci", "watch", "default"]),
            rng.pick(SEVERITIES)
        ),
        "fail_on" => format!(" {}", rng.pick(SEVERITIES)),
        "suppressions" => format!(
            " {{ {}: {} }}",
            rng.pick(&["unused", "expired", "stale"]),
            rng.pick(SEVERITIES)
        ),
        _ => format!(" {}", text(rng)),
    }
}

fn persona_name(rng: &mut Rng, i: usize) -> String {
    match rng.below(12) {
        0 => "''".into(),
        1 => {
            let s = rng.pick(ODD);
            quote(rng, s)
        }
        2 => "Guardian".into(), // a likely duplicate
        3 => "42".into(),
        4 => single_quoted(&"P".repeat(rng.range(200, 5000))),
        5 => "'a b: c'".into(),
        _ => format!("P{i}"),
    }
}

/// One YAML document: top-level keys and a personas mapping, with anchors,
/// aliases and merge keys sometimes.
fn document(rng: &mut Rng) -> String {
    let mut doc = String::new();
    for _ in 0..rng.range(0, 3) {
        let k = key(rng, TOP_KEYS);
        let v = top_value(rng, &k);
        doc.push_str(&format!("{k}:{v}\n"));
    }
    if rng.chance(3) {
        // Nested aliases: width^depth nodes, around the 10,000 limit or far past.
        let (width, depth) = (rng.range(2, 9), rng.range(2, 9));
        doc.push_str(&format!("b0: &b0 [{}]\n", vec!["x"; width].join(",")));
        for d in 1..depth {
            let items = vec![format!("*b{}", d - 1); width].join(",");
            doc.push_str(&format!("b{d}: &b{d} [{items}]\n"));
        }
        doc.push_str(&format!("ignore: *b{}\n", depth - 1));
    }
    if rng.chance(95) {
        doc.push_str("personas:\n");
    }
    let mut anchors: Vec<String> = Vec::new();
    for i in 0..rng.range(0, 5) {
        let name = persona_name(rng, i);
        let anchor = if rng.chance(10) {
            anchors.push(format!("p{i}"));
            format!(" &p{i}")
        } else {
            String::new()
        };
        if rng.chance(5) {
            doc.push_str(&format!("  {name}:{anchor} {{}}\n"));
            continue;
        }
        doc.push_str(&format!("  {name}:{anchor}\n"));
        if !anchors.is_empty() && rng.chance(15) {
            let a = anchors[rng.below(anchors.len())].clone();
            doc.push_str(&format!("    <<: *{a}\n"));
        }
        for _ in 0..rng.range(0, 6) {
            let k = key(rng, PERSONA_KEYS);
            let mut v = persona_value(rng, &k);
            if rng.chance(3) {
                let tag = rng.pick(&[
                    "!!str ",
                    "!custom ",
                    "!!int ",
                    "!<tag:yaml.org,2002:str> ",
                    "!!binary ",
                ]);
                v = format!(" {tag}{}", v.trim_start());
            }
            doc.push_str(&format!("    {k}:{v}\n"));
        }
    }
    doc
}

const TAME_GLOBS: &[&str] = &[
    "**",
    "*",
    "*.txt",
    "*.rs",
    "src/**",
    "**/auth/**",
    ".env*",
    "**/*secret*",
    "deep/**",
    "a",
    "*.md",
    "[a-z]*",
    "{a,b}*",
    "**/n*",
    "*\u{202e}*",
];
const TAME_SEVERITIES: &[&str] = &[
    "info",
    "warning",
    "error",
    "critical",
    "warn",
    "HALT_EVERYTHING",
];

fn tame_list(rng: &mut Rng, items: &[&str], max: usize) -> String {
    let picked: Vec<String> = (0..rng.range(1, max))
        .map(|_| single_quoted(rng.pick(items)))
        .collect();
    format!("[{}]", picked.join(", "))
}

/// A config valve accepts today (the keys it knows, values it takes), so
/// that the run gets past the config and judges the hostile tree.
fn tame_document(rng: &mut Rng) -> String {
    let mut doc = String::new();
    if rng.chance(20) {
        doc.push_str("version: 1\n");
    }
    if rng.chance(20) {
        doc.push_str(&format!("ignore: {}\n", tame_list(rng, TAME_GLOBS, 2)));
    }
    if rng.chance(25) {
        let size = rng.pick(&["1KiB", "100", "10MiB", "1MB", "64KiB"]);
        doc.push_str(&format!("max_file_size: {size}\n"));
    }
    if rng.chance(25) {
        let level = rng.pick(&["info", "warning", "error", "critical", "never"]);
        doc.push_str(&format!("fail_on: {level}\n"));
    }
    doc.push_str("personas:\n");
    for i in 0..rng.range(1, 4) {
        doc.push_str(&format!("  P{i}:\n"));
        if rng.chance(50) {
            doc.push_str(&format!("    filters: {}\n", tame_list(rng, TAME_GLOBS, 3)));
        }
        if rng.chance(15) {
            doc.push_str(&format!("    exclude: {}\n", tame_list(rng, TAME_GLOBS, 2)));
        }
        if rng.chance(75) {
            doc.push_str(&format!(
                "    triggers: {}\n",
                tame_list(rng, REGEX_ATOMS, 3)
            ));
        }
        if rng.chance(70) {
            let s = rng.pick(TAME_SEVERITIES);
            doc.push_str(&format!("    severity: {s}\n"));
        }
        for k in ["response", "message", "description"] {
            if rng.chance(25) {
                let t = double_quoted(rng.pick(ODD));
                doc.push_str(&format!("    {k}: {t}\n"));
            }
        }
        if rng.chance(20) {
            let s = rng.pick(&["changed", "file"]);
            doc.push_str(&format!("    scope: {s}\n"));
        }
        if rng.chance(20) {
            let on = tame_list(rng, &["added", "modified", "renamed", "deleted"], 3);
            doc.push_str(&format!("    on: {on}\n"));
        }
        for k in ["redact", "allow_ignore"] {
            if rng.chance(15) {
                let b = rng.pick(&["true", "false"]);
                doc.push_str(&format!("    {k}: {b}\n"));
            }
        }
    }
    doc
}

fn config(rng: &mut Rng) -> Vec<u8> {
    if rng.chance(45) {
        return tame_document(rng).into_bytes();
    }
    let mut text = document(rng);
    if rng.chance(5) {
        let sep = rng.pick(&["---\n", "...\n---\n", "--- \n"]);
        text = format!("{sep}{text}{sep}{}", document(rng));
    } else if rng.chance(5) {
        text = format!("---\n{text}");
    }
    if rng.chance(3) {
        text.insert(0, '\u{feff}');
    }
    if rng.chance(5) {
        text = text.replace('\n', "\r\n");
    }
    let mut bytes = text.into_bytes();
    if rng.chance(15) {
        mutate(rng, &mut bytes);
    }
    bytes
}

/// Byte-level damage: stray bytes (non-UTF-8, control, tab), lost spans,
/// repeated or cut lines.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => {
                let b: &[u8] = rng.pick(&[
                    &b"\xff"[..],
                    b"\xc3",
                    b"\xed\xa0\x80",
                    b"\x00",
                    b"\x1b",
                    b"\t",
                    b"\r",
                    b"\x7f",
                    b":",
                    b"&",
                    b"*",
                    b"!",
                    b"{",
                    b"'",
                ]);
                bytes.splice(at..at, b.iter().copied());
            }
            1 => {
                let end = (at + rng.range(1, 40)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let line: Vec<u8> = bytes[at..]
                    .split(|&b| b == b'\n')
                    .next()
                    .unwrap_or(&[])
                    .to_vec();
                bytes.splice(at..at, line.into_iter().chain([b'\n']));
            }
            3 => bytes.truncate(at),
            4 => {
                let long = "x".repeat(rng.range(1000, 70_000)).into_bytes();
                bytes.splice(at..at, long);
            }
            _ => {
                bytes.splice(at..at, b"\n\t  ".iter().copied());
            }
        }
    }
}

// ------------------------------------------------------------ trees

const NAME_PARTS: &[&[u8]] = &[
    b"a",
    b"src",
    b"auth",
    b"secret.txt",
    b".env",
    b"x.rs",
    b"README.md",
    b"-rf",
    b"--all",
    b"::error file=x::pwned",
    b"%0A",
    b"a b",
    b"line\nbreak",
    b"cr\rname",
    b"tab\there",
    b"\x1b[31mred",
    "é".as_bytes(),
    b"caf\xe8.txt",
    b"\xff\xfe",
    b"..x",
    b".gitignore",
    b".ignore",
    b".gitattributes",
    b"deep",
    b"valve:ignore",
    b"*",
    b"?",
    b"[x]",
    b"\\",
    b"$(touch pwned)",
    "\u{202e}txt.exe".as_bytes(),
    b"<b>bold</b>",
    b"@here",
    b"x,y:z=w",
];
const LINES: &[&str] = &[
    "TODO fix this",
    "key = AKIAABCDEFGHIJKLMNOP",
    "a",
    "nothing here",
    "x = 1 // valve:ignore",
    "TODO valve:ignore[P0,Guardian] reason=\"test\"",
    "TODO valve:ignore[",
    "",
    "\t",
    "é ü 🦀 \u{202e}evil",
    "\u{1b}]0;title\u{7}\u{1b}[2J",
    "::error::forged",
    "::add-mask::x",
    "dbg!(x)",
    "-----BEGIN RSA PRIVATE KEY-----",
    "secret = \"hunter2\"",
    "<img src=x onerror=alert(1)>",
    "| a | b |",
    "</details>",
];

fn name(rng: &mut Rng) -> Vec<u8> {
    let mut path = Vec::new();
    for i in 0..rng.range(1, 3) {
        if i > 0 {
            path.push(b'/');
        }
        if rng.chance(3) {
            path.extend(std::iter::repeat_n(b'n', 255));
        } else {
            path.extend_from_slice(rng.pick(NAME_PARTS));
        }
    }
    path
}

fn content(rng: &mut Rng) -> Vec<u8> {
    match rng.below(100) {
        0..=54 => {
            let eol = rng.pick(&["\n", "\n", "\r\n", "\r"]);
            let mut t: Vec<u8> = Vec::new();
            for _ in 0..rng.range(0, 40) {
                t.extend_from_slice(rng.pick(LINES).as_bytes());
                t.extend_from_slice(if rng.chance(5) {
                    b"\r\n"
                } else {
                    eol.as_bytes()
                });
            }
            if rng.chance(10) {
                let at = rng.below(t.len() + 1);
                t.splice(
                    at..at,
                    rng.pick(&[&b"\xff"[..], b"\xc3", b"\x80\x80"])
                        .iter()
                        .copied(),
                );
            }
            t
        }
        55..=64 => {
            // Binary: NULs, sometimes only just past the 8000-byte sniff.
            let len = rng.range(1, 9000);
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.chance(50) {
                for x in b.iter_mut().filter(|x| **x == 0) {
                    *x = 1;
                }
                let at = (*rng.pick(&[&0usize, &7999, &8000, &8001])).min(len - 1);
                b[at] = 0;
            }
            b
        }
        65..=69 => Vec::new(),
        70..=74 => b"TODO a\n".repeat(rng.range(1000, 20_000)),
        75..=79 => {
            // One long line; sometimes every byte of it a match of `a`.
            let unit = rng.pick(&["a", "TODO ", "x", "é"]);
            let mut l = unit.repeat(rng.range(1000, 100_000) / unit.len());
            if rng.chance(50) {
                l.push('\n');
            }
            l.into_bytes()
        }
        80..=84 => {
            let pats = [
                "*", "!*.txt", "/src", "**/deep", "\\#x", "[", "a\\", "!", "#", " ",
            ];
            let mut t = String::new();
            for _ in 0..rng.range(1, 5) {
                t.push_str(pats[rng.below(pats.len())]);
                t.push('\n');
            }
            t.into_bytes()
        }
        _ => (0..rng.range(1, 2000)).map(|_| rng.next() as u8).collect(),
    }
}

fn symlink_target(rng: &mut Rng, existing: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(9) {
        0 if !existing.is_empty() => existing[rng.below(existing.len())].clone(),
        1 => b"../../../../etc/passwd".to_vec(),
        2 => b"/dev/zero".to_vec(),
        3 => b"/etc/shadow".to_vec(),
        4 => b".".to_vec(),
        5 => b"..".to_vec(),
        6 => "t".repeat(3000).into_bytes(),
        7 => b"::error::link\nTODO".to_vec(),
        _ => b"dangling".to_vec(),
    }
}

/// Whether git (and valve's fixture) can hold this path at all.
fn usable(path: &[u8]) -> bool {
    !path.is_empty()
        && path
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".." && !c.eq_ignore_ascii_case(b".git"))
}

/// Writes `entries`; a path that collides with an earlier one is dropped.
fn write_tree(root: &Path, rng: &mut Rng, count: usize, written: &mut Vec<Vec<u8>>) {
    for _ in 0..count {
        let rel = name(rng);
        if !usable(&rel) {
            continue;
        }
        let path = root.join(Path::new(std::ffi::OsStr::from_bytes(&rel)));
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_err()
        {
            continue;
        }
        let _ = std::fs::remove_file(&path);
        let ok = if rng.chance(10) {
            let target = symlink_target(rng, written);
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &path).is_ok()
        } else {
            std::fs::write(&path, content(rng)).is_ok()
        };
        if ok {
            written.push(rel);
        }
    }
}

/// Sometimes nested configs (SPEC §12) in folders above the written files:
/// random configs (root-only keys, bad globs and all), or a link.
fn nested_configs(root: &Path, rng: &mut Rng, files: &[Vec<u8>]) {
    if !rng.chance(25) || files.is_empty() {
        return;
    }
    for _ in 0..rng.range(1, 3) {
        let file = &files[rng.below(files.len())];
        let Some(slash) = file.iter().rposition(|&b| b == b'/') else {
            continue;
        };
        let dir = root.join(Path::new(std::ffi::OsStr::from_bytes(&file[..slash])));
        let sage = dir.join(".sage");
        if std::fs::create_dir_all(&sage).is_err() {
            continue;
        }
        let path = sage.join(if rng.chance(80) {
            "valve.yml"
        } else {
            "valve.yaml"
        });
        if rng.chance(5) {
            let _ = std::os::unix::fs::symlink("/dev/zero", &path);
        } else {
            let _ = std::fs::write(&path, config(rng));
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> bool {
    let mut cmd = std::process::Command::new("git");
    hermetic(&mut cmd);
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ------------------------------------------------------------ a case

struct Case {
    dir: tempfile::TempDir,
    root: PathBuf,
    marker: PathBuf,
    is_git: bool,
    commits: usize,
    config_arg: Option<PathBuf>,
    files: Vec<Vec<u8>>,
    config: Vec<u8>,
}

fn build(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let dir = tempfile::Builder::new()
        .prefix("valve-fuzz")
        .tempdir()
        .expect("temp dir");
    let root = dir.path().join("repo");
    std::fs::create_dir(&root).expect("mkdir repo");
    let marker = dir.path().join("a-program-ran");
    let is_git = rng.chance(85);
    let mut files = Vec::new();
    let mut commits = 0;

    let config = config(&mut rng);
    let mut config_arg = None;
    let sage = root.join(".sage");
    std::fs::create_dir_all(&sage).expect("mkdir .sage");
    match rng.below(100) {
        0..=2 => {
            let target = rng.pick(&["/dev/zero", "/etc/passwd", "../elsewhere.yml"]);
            let _ = std::os::unix::fs::symlink(target, sage.join("valve.yml"));
            let _ = std::fs::write(dir.path().join("elsewhere.yml"), &config);
        }
        3..=6 => {
            let p = dir.path().join("other.yml");
            std::fs::write(&p, &config).expect("write config");
            config_arg = Some(p);
        }
        7..=9 => std::fs::write(sage.join("valve.yaml"), &config).expect("write config"),
        _ => std::fs::write(sage.join("valve.yml"), &config).expect("write config"),
    }
    if rng.chance(5) {
        let junk = rng.pick(&[
            &b"{\"version\":1,\"fingerprints\":[\"x\"]}"[..],
            b"[",
            b"\xff\xfe",
            b"{\"version\":99}",
            b"",
        ]);
        let _ = std::fs::write(sage.join("valve-baseline.json"), junk);
    }

    if is_git {
        git(&root, &["init", "-q", "-b", "main"]);
        if rng.chance(30) {
            let (k, v) = *rng.pick(&[
                &("core.autocrlf", "true"),
                &("core.autocrlf", "input"),
                &("core.quotepath", "false"),
                &("core.ignorecase", "true"),
                &("core.excludesFile", "/dev/zero"),
                &("core.precomposeunicode", "true"),
            ]);
            git(&root, &["config", k, v]);
        }
        let n = rng.range(0, 10);
        write_tree(&root, &mut rng, n, &mut files);
        nested_configs(&root, &mut rng, &files);
        if rng.chance(80)
            && git(&root, &["add", "-A"])
            && git(&root, &["commit", "-q", "--no-verify", "-m", "one"])
        {
            commits += 1;
        }
        if rng.chance(60) {
            let n = rng.range(1, 5);
            write_tree(&root, &mut rng, n, &mut files);
            if rng.chance(40) && !files.is_empty() {
                let gone = files.swap_remove(rng.below(files.len()));
                let _ = std::fs::remove_file(root.join(std::ffi::OsStr::from_bytes(&gone)));
            }
            if rng.chance(50) && git(&root, &["add", "-A"]) && rng.chance(50) {
                if git(&root, &["commit", "-q", "--no-verify", "-m", "two"]) {
                    commits += 1;
                }
                let n = rng.range(0, 3);
                write_tree(&root, &mut rng, n, &mut files);
            }
        }
        if rng.chance(30) {
            // Programs git would run; valve must run none (SPEC §9). Written
            // straight into .git/config: one write instead of ten `git config`.
            let touch = format!("touch '{}'", marker.display());
            let evil = format!(
                "[filter \"evil\"]\n\tclean = {touch}\n\tsmudge = {touch}\n\tprocess = {touch}\n\
                 \trequired = true\n[diff \"evil\"]\n\ttextconv = {touch}\n[diff]\n\texternal = {touch}\n\
                 [core]\n\tfsmonitor = {touch}\n\tpager = {touch}\n\teditor = {touch}\n\
                 \tsshCommand = {touch}\n\thooksPath = /nonexistent\n"
            );
            let config = root.join(".git/config");
            let mut text = std::fs::read(&config).unwrap_or_default();
            text.extend_from_slice(evil.as_bytes());
            let _ = std::fs::write(&config, text);
            let _ = std::fs::write(
                root.join(".gitattributes"),
                "* filter=evil diff=evil merge=evil\n",
            );
        }
    } else {
        let n = rng.range(0, 10);
        write_tree(&root, &mut rng, n, &mut files);
        nested_configs(&root, &mut rng, &files);
    }
    Case {
        dir,
        root,
        marker,
        is_git,
        commits,
        config_arg,
        files,
        config,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Parse {
    Json,
    Ndjson,
    Nothing,
}

/// The runs of a case: `check --all --format json`, then one other mode.
fn plans(case: &Case, rng: &mut Rng) -> Vec<(Vec<OsString>, Parse)> {
    let mut all: Vec<OsString> = ["check", "--all", "--format", "json"]
        .map(Into::into)
        .to_vec();
    let some_file = |rng: &mut Rng| -> OsString {
        if case.files.is_empty() {
            "missing".into()
        } else {
            OsString::from_vec(case.files[rng.below(case.files.len())].clone())
        }
    };
    let mut other: (Vec<OsString>, Parse) = match rng.below(10) {
        0 => (
            vec![
                "check".into(),
                "--worktree".into(),
                "--format".into(),
                "ndjson".into(),
            ],
            Parse::Ndjson,
        ),
        1 => (
            vec![
                "check".into(),
                "--staged".into(),
                "--format".into(),
                "sarif".into(),
            ],
            Parse::Json,
        ),
        2 if case.commits >= 2 => (
            [
                "check", "--base", "HEAD~1", "--head", "HEAD", "--format", "github",
            ]
            .map(Into::into)
            .to_vec(),
            Parse::Nothing,
        ),
        3 => (
            vec![
                "check".into(),
                "--format".into(),
                "markdown".into(),
                "--".into(),
                some_file(rng),
                ".".into(),
            ],
            Parse::Nothing,
        ),
        4 => (
            ["check", "--all", "--color", "always", "-v"]
                .map(Into::into)
                .to_vec(),
            Parse::Nothing,
        ),
        5 => (vec!["personas".into()], Parse::Nothing),
        6 => (
            vec!["explain".into(), "--".into(), some_file(rng)],
            Parse::Nothing,
        ),
        7 => (vec!["test".into()], Parse::Nothing),
        8 => (
            vec![
                "check".into(),
                "--format".into(),
                "json".into(),
                "--".into(),
                some_file(rng),
            ],
            Parse::Json,
        ),
        _ => (
            [
                "check",
                "--worktree",
                "--format",
                "human",
                "--color",
                "never",
            ]
            .map(Into::into)
            .to_vec(),
            Parse::Nothing,
        ),
    };
    for args in [&mut all, &mut other.0] {
        if rng.chance(20) {
            args.push("--threads".into());
            args.push(rng.range(1, 4).to_string().into());
        }
        if rng.chance(10) {
            args.push("--redact".into());
        }
        if rng.chance(10) && args[0] == "check" {
            args.push("--fail-on".into());
            args.push(rng.pick(&["info", "never", "critical"]).into());
        }
        if let Some(c) = &case.config_arg {
            args.insert(0, c.into());
            args.insert(0, "--config".into());
        }
    }
    vec![(all, Parse::Json), other]
}

fn check_output(out: &Outcome, parse: Parse) -> Option<String> {
    if let Some(why) = out.broken() {
        return Some(why);
    }
    if !matches!(out.code, Some(0 | 1)) || parse == Parse::Nothing {
        return None;
    }
    if out.stdout_len > out.stdout.len() as u64 {
        return Some(format!("{} bytes of output", out.stdout_len));
    }
    let bad = match parse {
        Parse::Json => serde_json::from_slice::<serde_json::Value>(&out.stdout).err(),
        _ => out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .find_map(|l| serde_json::from_slice::<serde_json::Value>(l).err()),
    };
    bad.map(|e| format!("valve {:?}: output does not parse: {e}", out.args))
}

fn index_bytes(case: &Case) -> Option<Vec<u8>> {
    std::fs::read(case.root.join(".git/index")).ok()
}

/// How the runs ended (exit 0, 1, 2, and anything else), milliseconds
/// inside valve, and runs that timed out once and were run again.
#[derive(Default)]
struct Tally([AtomicUsize; 4], AtomicUsize, AtomicUsize);

impl Tally {
    fn count(&self, out: &Outcome) {
        let slot = match (out.code, out.broken()) {
            (Some(c @ 0..=2), None) => c as usize,
            _ => 3,
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
        self.1
            .fetch_add((out.secs * 1000.0) as usize, Ordering::Relaxed);
    }

    fn get(&self, slot: usize) -> usize {
        self.0[slot].load(Ordering::Relaxed)
    }
}

/// Runs one case; the reasons it failed.
fn run_case(seed: u64, tally: &Tally) -> Vec<String> {
    let case = build(seed);
    let mut rng = Rng::new(seed ^ 0xA11CE);
    let before = index_bytes(&case);
    let mut faults = Vec::new();
    for (args, parse) in plans(&case, &mut rng) {
        let ci = rng.chance(20);
        let go = || {
            let run = Run::new(&case.root, &args).timeout(CASE_TIMEOUT);
            if ci { run.env("CI", "true") } else { run }.go()
        };
        let mut out = go();
        if out.timed_out {
            tally.2.fetch_add(1, Ordering::Relaxed);
            out = go();
        }
        tally.count(&out);
        faults.extend(check_output(&out, parse));
    }
    if case.marker.exists() {
        faults.push("valve ran a program that git config or .gitattributes named".into());
    }
    if case.is_git && index_bytes(&case) != before {
        faults.push("valve changed .git/index".into());
    }
    if !faults.is_empty() && std::env::var_os("VALVE_FUZZ_KEEP").is_some() {
        let kept = case.dir.keep();
        faults.push(format!("case kept in {}", kept.display()));
        return faults;
    }
    if !faults.is_empty() {
        let shown: String = String::from_utf8_lossy(&case.config[..case.config.len().min(600)])
            .escape_debug()
            .collect();
        faults.push(format!("config (first 600 bytes): {shown}"));
    }
    faults
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[test]
#[allow(clippy::print_stderr)] // the seed and the rate are the report of the test
fn random_configs_and_trees_never_crash_hang_or_panic() {
    let cases = env_number("VALVE_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let base = env_number("VALVE_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let workers = env_number("VALVE_FUZZ_WORKERS").map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n.max(1) as usize,
    );
    let next = AtomicUsize::new(0);
    let failed: Mutex<Vec<(u64, Vec<String>)>> = Mutex::new(Vec::new());
    let tally = Tally::default();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cases {
                        break;
                    }
                    let seed = base.wrapping_add(i as u64);
                    let faults = run_case(seed, &tally);
                    if !faults.is_empty() {
                        failed.lock().expect("lock").push((seed, faults));
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz: {cases} cases from seed {base:#x} in {secs:.1} s ({:.1} cases/s, {workers} workers); \
         runs: {} exit 0, {} exit 1, {} exit 2, {} broken ({} timed out once and ran again); \
         {:.1} s inside valve",
        cases as f64 / secs,
        tally.get(0),
        tally.get(1),
        tally.get(2),
        tally.get(3),
        tally.2.load(Ordering::Relaxed),
        tally.1.load(Ordering::Relaxed) as f64 / 1000.0,
    );
    let mut failed = failed.into_inner().expect("lock");
    failed.sort_by_key(|(seed, _)| *seed);
    if failed.is_empty() {
        return;
    }
    let mut report = format!("{} of {cases} fuzz cases failed:\n", failed.len());
    for (seed, faults) in failed.iter().take(15) {
        let first: String = faults.join("\n  ").chars().take(3000).collect();
        report.push_str(&format!(
            "\n== seed {seed:#x}; replay: VALVE_FUZZ_SEED={seed:#x} VALVE_FUZZ_CASES=1 \
             cargo test --test fuzz -- --nocapture\n  {first}\n"
        ));
    }
    if failed.len() > 15 {
        report.push_str(&format!(
            "\n… and {} more failing seeds\n",
            failed.len() - 15
        ));
    }
    panic!("{report}");
}

#[test]
fn the_generator_is_deterministic() {
    let a: Vec<u64> = {
        let mut r = Rng::new(7);
        (0..4).map(|_| r.next()).collect()
    };
    let b: Vec<u64> = {
        let mut r = Rng::new(7);
        (0..4).map(|_| r.next()).collect()
    };
    assert_eq!(a, b);
    let (mut x, mut y) = (Rng::new(1), Rng::new(1));
    assert_eq!(config(&mut x), config(&mut y));
}
