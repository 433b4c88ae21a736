//! Fix hints (SPEC §14): the help of one finding and the ways out that the
//! verdict line names. A suggested suppression is written in the file's
//! comment syntax; a format without comments is offered the baseline or
//! an `exclude` instead; a persona that cannot be silenced (`allow_ignore:
//! false`) is never offered `valve:ignore`. Pure text, no I/O; the
//! renderer escapes the data it passes in before calling here.

/// How a file spells a comment, as far as its name tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comment {
    /// A comment to the end of the line: `//`, `#`, `--`, `;`, `%`.
    Line(&'static str),
    /// A comment with an opening and a closing mark: `<!-- -->`, `/* */`.
    Block(&'static str, &'static str),
    /// A format without comments (JSON) or not text (images, archives).
    None,
    /// Nothing known of the format: the marker is suggested bare, since
    /// `valve:ignore` works anywhere on the line.
    Unknown,
}

/// The comment syntax of `path`, by its file name, then its extension.
pub fn comment_for(path: &str) -> Comment {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "dockerfile" | "containerfile" | "makefile" | "gnumakefile" | "gemfile" | "rakefile"
        | "vagrantfile" | "podfile" | "brewfile" | "procfile" | "codeowners" | "build"
        | "workspace" | "buck" | "justfile" | "pipfile" | ".env" | ".gitignore"
        | ".gitattributes" | ".dockerignore" | ".editorconfig" | ".bashrc" | ".zshrc"
        | ".profile" | ".npmrc" | ".gitmodules" => return Comment::Line("#"),
        _ => {}
    }
    if lower.starts_with(".env.") || lower.starts_with("dockerfile.") {
        return Comment::Line("#");
    }
    let Some((_, ext)) = lower.rsplit_once('.').filter(|(stem, _)| !stem.is_empty()) else {
        return Comment::Unknown;
    };
    match ext {
        "rs" | "ts" | "tsx" | "mts" | "cts" | "js" | "jsx" | "mjs" | "cjs" | "go" | "c" | "h"
        | "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" | "m" | "mm" | "java" | "kt" | "kts"
        | "scala" | "sc" | "swift" | "cs" | "fs" | "fsx" | "dart" | "groovy" | "gradle"
        | "proto" | "zig" | "sol" | "php" | "jsonc" | "json5" | "scss" | "less" | "v" | "d"
        | "hx" => Comment::Line("//"),
        "py" | "pyi" | "pyw" | "sh" | "bash" | "zsh" | "fish" | "ksh" | "yml" | "yaml" | "toml"
        | "rb" | "rake" | "gemspec" | "pl" | "pm" | "r" | "conf" | "cfg" | "properties" | "env"
        | "tf" | "tfvars" | "hcl" | "nix" | "ps1" | "psm1" | "cmake" | "mk" | "ex" | "exs"
        | "jl" | "cr" | "tcl" | "awk" | "coffee" | "dockerfile" | "bzl" | "star" | "nim"
        | "graphql" | "gql" | "txt" | "lock" | "cabal" => {
            // `requirements.txt`, `yarn.lock` and `Cargo.lock` take `#`; a
            // plain `.txt` does not mind a marker after one either.
            if ext == "txt" && !lower.starts_with("requirements") {
                Comment::Unknown
            } else if ext == "lock"
                && !matches!(
                    lower.as_str(),
                    "yarn.lock" | "cargo.lock" | "poetry.lock" | "uv.lock" | "pdm.lock"
                )
            {
                Comment::None
            } else {
                Comment::Line("#")
            }
        }
        "sql" | "lua" | "hs" | "elm" | "ada" | "adb" | "ads" | "vhd" | "vhdl" | "purs" => {
            Comment::Line("--")
        }
        "ini" | "lisp" | "lsp" | "el" | "clj" | "cljs" | "cljc" | "edn" | "scm" | "rkt" | "asm"
        | "s" => Comment::Line(";"),
        "tex" | "sty" | "erl" | "hrl" => Comment::Line("%"),
        "html" | "htm" | "xhtml" | "xml" | "svg" | "vue" | "svelte" | "md" | "markdown" | "xsd"
        | "xsl" | "xslt" | "plist" | "csproj" | "fsproj" | "vbproj" | "props" | "targets"
        | "config" | "xaml" | "wsdl" | "rss" | "atom" => Comment::Block("<!--", "-->"),
        "css" => Comment::Block("/*", "*/"),
        "json" | "ipynb" | "geojson" | "csv" | "tsv" | "png" | "jpg" | "jpeg" | "gif" | "bmp"
        | "ico" | "webp" | "tif" | "tiff" | "pdf" | "zip" | "gz" | "tgz" | "bz2" | "xz" | "zst"
        | "7z" | "rar" | "tar" | "jar" | "war" | "class" | "so" | "dll" | "dylib" | "exe"
        | "bin" | "o" | "a" | "wasm" | "woff" | "woff2" | "ttf" | "otf" | "eot" | "mp3" | "mp4"
        | "mov" | "avi" | "wav" | "flac" | "ogg" | "webm" | "psd" | "sqlite" | "db" | "pyc"
        | "dat" | "pem" | "der" | "p12" | "pfx" | "key" | "crt" | "cer" => Comment::None,
        _ => Comment::Unknown,
    }
}

/// The marker that silences `persona` on a line of a file with `comment`,
/// when there is one to suggest.
pub fn marker(comment: Comment, persona: &str) -> Option<String> {
    let mark = format!("valve:ignore[{persona}]");
    match comment {
        Comment::Line(open) => Some(format!("{open} {mark}")),
        Comment::Block(open, close) => Some(format!("{open} {mark} {close}")),
        Comment::Unknown => Some(mark),
        Comment::None => None,
    }
}

/// What one finding can do about it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The file, as shown.
    pub path: &'a str,
    /// The persona's name, as shown.
    pub persona: &'a str,
    /// The persona's `allow_ignore`.
    pub can_ignore: bool,
    /// A trigger match (a line), not a path-only finding.
    pub on_line: bool,
    /// `--all`/`PATH` mode: the baseline also takes path-only findings.
    pub whole_files: bool,
}

/// The `= help:` text of one finding.
pub fn help(s: Subject<'_>) -> String {
    if !s.on_line {
        return if s.whole_files {
            format!(
                "accept what exists with `valve baseline`, or add the path to {}'s `exclude`",
                s.persona
            )
        } else {
            format!(
                "it fires whenever this path changes; if it should not, add the path to {}'s `exclude`",
                s.persona
            )
        };
    }
    if !s.can_ignore {
        return format!(
            "fix it; {} cannot be silenced inline (allow_ignore: false): only `valve baseline` accepts it",
            s.persona
        );
    }
    match marker(comment_for(s.path), s.persona) {
        Some(mark) => format!("fix it, or add `{mark}` to the line"),
        None => format!(
            "fix it, accept it with `valve baseline`, or add the path to {}'s `exclude` (this format has no comments)",
            s.persona
        ),
    }
}

/// One blocking persona, as the verdict line weighs it.
#[derive(Debug, Clone)]
pub struct Blocker {
    /// The persona's name, as shown.
    pub persona: String,
    /// Whether any of its blocking findings could be silenced inline.
    pub ignorable: bool,
    /// Whether any of its blocking findings is one the baseline accepts.
    pub baselinable: bool,
}

/// The ways out the verdict line names, each a phrase: only those that
/// apply to the blocking personas. Fixing and `--fail-on` always do.
pub fn waivers(blockers: &[Blocker]) -> Vec<String> {
    let mut out = vec!["Fix it".to_string()];
    let ignorable: Vec<&str> = blockers
        .iter()
        .filter(|b| b.ignorable)
        .map(|b| b.persona.as_str())
        .collect();
    if !ignorable.is_empty() {
        out.push(format!(
            "silence a line with `valve:ignore[{}]`",
            ignorable.join(",")
        ));
    }
    if blockers.iter().any(|b| b.baselinable) {
        out.push("accept what exists with `valve baseline`".to_string());
    }
    out.push("raise the bar with --fail-on".to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str) -> String {
        help(Subject {
            path,
            persona: "Guardian",
            can_ignore: true,
            on_line: true,
            whole_files: false,
        })
    }

    #[test]
    fn slash_comments_for_c_like_languages() {
        for p in [
            "src/a.rs",
            "web/x.ts",
            "a.JS",
            "cmd/main.go",
            "x.c",
            "A.java",
        ] {
            assert_eq!(
                line(p),
                "fix it, or add `// valve:ignore[Guardian]` to the line",
                "{p}"
            );
        }
    }

    #[test]
    fn hash_comments_for_scripts_configs_and_known_names() {
        for p in [
            "a.py",
            "run.sh",
            "ci.yml",
            "Cargo.toml",
            "x.rb",
            "Dockerfile",
            "deploy/Makefile",
            ".env",
            ".env.local",
            "requirements.txt",
        ] {
            assert_eq!(
                line(p),
                "fix it, or add `# valve:ignore[Guardian]` to the line",
                "{p}"
            );
        }
    }

    #[test]
    fn dash_comments_for_sql_lua_haskell() {
        for p in ["db/q.sql", "init.lua", "Main.hs"] {
            assert_eq!(comment_for(p), Comment::Line("--"), "{p}");
        }
        assert!(line("q.sql").contains("`-- valve:ignore[Guardian]`"));
    }

    #[test]
    fn block_comments_for_markup_and_css() {
        for p in ["index.html", "pom.xml", "README.md", "App.vue"] {
            assert_eq!(
                line(p),
                "fix it, or add `<!-- valve:ignore[Guardian] -->` to the line",
                "{p}"
            );
        }
        assert_eq!(
            line("site.css"),
            "fix it, or add `/* valve:ignore[Guardian] */` to the line"
        );
    }

    #[test]
    fn a_format_without_comments_is_offered_the_baseline_or_an_exclude() {
        for p in ["package.json", "x.png", "data.csv", "package-lock.json"] {
            let h = line(p);
            assert!(!h.contains("valve:ignore["), "{p}: {h}");
            assert!(
                h.contains("`valve baseline`") && h.contains("`exclude`"),
                "{p}: {h}"
            );
        }
    }

    #[test]
    fn an_unknown_format_gets_the_bare_marker() {
        for p in ["notes.txt", "LICENSE", "a.weird", ".hidden"] {
            assert_eq!(
                line(p),
                "fix it, or add `valve:ignore[Guardian]` to the line",
                "{p}"
            );
        }
    }

    #[test]
    fn a_persona_that_cannot_be_silenced_is_never_offered_valve_ignore() {
        for p in ["a.rs", "a.py", "a.json", "a.txt"] {
            let h = help(Subject {
                path: p,
                persona: "Vault",
                can_ignore: false,
                on_line: true,
                whole_files: false,
            });
            assert!(!h.contains("valve:ignore["), "{p}: {h}");
            assert!(h.contains("allow_ignore: false"), "{p}: {h}");
        }
    }

    #[test]
    fn a_path_rule_is_never_offered_valve_ignore_and_the_baseline_only_for_whole_files() {
        let path = |whole_files| {
            help(Subject {
                path: "src/auth/x.ts",
                persona: "Auth",
                can_ignore: true,
                on_line: false,
                whole_files,
            })
        };
        assert!(!path(false).contains("valve:ignore") && !path(false).contains("baseline"));
        assert!(!path(true).contains("valve:ignore") && path(true).contains("`valve baseline`"));
    }

    #[test]
    fn the_verdict_names_only_waivers_that_apply() {
        let b = |persona: &str, ignorable, baselinable| Blocker {
            persona: persona.to_string(),
            ignorable,
            baselinable,
        };
        assert_eq!(
            waivers(&[b("Vault", false, true)]),
            [
                "Fix it",
                "accept what exists with `valve baseline`",
                "raise the bar with --fail-on"
            ]
        );
        assert_eq!(
            waivers(&[b("Auth", false, false)]),
            ["Fix it", "raise the bar with --fail-on"]
        );
        let both = waivers(&[b("Vault", false, true), b("Guardian", true, true)]);
        assert_eq!(both[1], "silence a line with `valve:ignore[Guardian]`");
        assert!(!both.iter().any(|w| w.contains("Vault")));
    }
}
