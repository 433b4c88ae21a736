//! The completion scripts `valve completions SHELL` prints, run in the real
//! shells: completing `valve check --fail-on ` offers the five threshold
//! words and no file names, `--min-severity ` the four severities. Each
//! shell also completes `--output ` to a file name in the same harness, so
//! the "no file names" assertions could fail.
//!
//! bash is on every machine; zsh and fish are installed by .ci/run.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Fixture, hermetic};

const THRESHOLDS: [&str; 5] = ["critical", "error", "info", "never", "warning"];
const SEVERITIES: [&str; 4] = ["critical", "error", "info", "warning"];
/// A file in the folder completion runs in: offered only where files are.
const DECOY: &str = "decoy-file.txt";

/// A folder holding the script for `shell` and a decoy file.
fn setup(shell: &str, script_name: &str) -> Fixture {
    let f = Fixture::bare_dir();
    let out = f
        .valve(&["completions", shell])
        .output()
        .expect("valve runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.write_bytes(script_name, &out.stdout);
    f.write(DECOY, "not a severity\n");
    f
}

fn run(cmd: &mut Command) -> String {
    hermetic(cmd);
    let out = cmd.output().expect("the shell runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sorted(words: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = words.into_iter().filter(|w| !w.is_empty()).collect();
    v.sort();
    v.dedup();
    v
}

/// bash: source the script and call its function as `complete -F` would,
/// with COMP_WORDS and COMP_CWORD set for the line `words` (the last word
/// is the one being completed).
fn bash_complete(dir: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let script = format!(
        r#"source ./valve.bash
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
_valve valve "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" ")
    );
    let out = run(Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .current_dir(dir));
    sorted(out.lines().map(str::to_string))
}

#[test]
fn bash_completes_the_severity_words_and_no_files() {
    let f = setup("bash", "valve.bash");
    for sub in ["check", "watch"] {
        assert_eq!(
            bash_complete(f.path(), &["valve", sub, "--fail-on", ""]),
            THRESHOLDS,
            "{sub} --fail-on"
        );
        assert_eq!(
            bash_complete(f.path(), &["valve", sub, "--min-severity", ""]),
            SEVERITIES,
            "{sub} --min-severity"
        );
    }
    assert_eq!(
        bash_complete(f.path(), &["valve", "check", "--fail-on", "cr"]),
        ["critical"]
    );
    // The control: where a file is expected, the harness offers it.
    assert!(
        bash_complete(f.path(), &["valve", "check", "--output", ""]).contains(&DECOY.to_string())
    );
}

/// zsh: an interactive zsh in a pseudo-terminal (zpty) with compinit and
/// the script on fpath; `compadd` is wrapped to print every candidate it
/// is given, then the line is typed and TAB pressed. Bounded by a deadline
/// inside the script.
fn zsh_complete(dir: &Path, line: &str) -> Vec<String> {
    let harness = r#"zmodload zsh/zpty || exit 3
zmodload zsh/zselect || exit 3
dir=$1 line=$2 out='' deadline=$(( SECONDS + 60 ))
# Reads the shell's output until it matches the pattern $1.
await() {
  local chunk
  while (( SECONDS < deadline )); do
    if zpty -r -t z chunk 2>/dev/null; then out+=$chunk; else zselect -t 5; fi
    [[ $out == $~1 ]] && return 0
  done
  print -r -- "timed out waiting for $1 in: $out"
  exit 4
}
# Runs one command line and waits until it has run (zsh may drop what is
# typed ahead): the echo of the line shows R$((n + 1000)), its output
# shows the number.
integer n=0
step() {
  (( n++ ))
  out=''
  zpty -w z "$1; print R\$(( $n + 1000 ))"
  await "*R$(( n + 1000 ))*"
}
zpty z zsh -f -i
step "PS1='' PROMPT='' RPROMPT=''"
step "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
step 'compadd() { local -a __m; builtin compadd -O __m "$@"; local m; for m in $__m; do print -r -- "CAND<$m>"; done; builtin compadd "$@"; }'
step "cd ${(q)dir}"
out=''
zpty -n -w z "$line"$'\t'
await '*CAND<[^$]*'
# The rest of what the completion printed.
zselect -t 20
chunk=''
while zpty -r -t z chunk 2>/dev/null; do out+=$chunk; done
zpty -d z
print -r -- "$out"
"#;
    std::fs::write(dir.join("harness.zsh"), harness).expect("write the harness");
    let out = run(Command::new("zsh")
        .args(["-f", "harness.zsh"])
        .arg(dir)
        .arg(line)
        .current_dir(dir));
    let mut words = Vec::new();
    for piece in out.split("CAND<").skip(1) {
        if let Some((word, _)) = piece.split_once('>') {
            // The typed definition echoes as `CAND<$m>`.
            if word != "$m" {
                words.push(word.to_string());
            }
        }
    }
    sorted(words)
}

#[test]
#[ignore = "needs zsh (.ci/run installs it)"]
fn zsh_completes_the_severity_words_and_no_files() {
    let f = setup("zsh", "_valve");
    assert_eq!(zsh_complete(f.path(), "valve check --fail-on "), THRESHOLDS);
    assert_eq!(
        zsh_complete(f.path(), "valve watch --min-severity "),
        SEVERITIES
    );
    assert!(zsh_complete(f.path(), "valve check --output ").contains(&DECOY.to_string()));
}

/// fish: `complete -C` prints what fish would offer for a command line.
fn fish_complete(dir: &Path, line: &str) -> Vec<String> {
    let script = format!("source ./valve.fish; complete -C '{line}'");
    let out = run(Command::new("fish")
        .args(["--no-config", "-c", &script])
        .env("HOME", dir)
        .current_dir(dir));
    sorted(
        out.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string()),
    )
}

#[test]
#[ignore = "needs fish (.ci/run installs it)"]
fn fish_completes_the_severity_words_and_no_files() {
    let f = setup("fish", "valve.fish");
    assert_eq!(
        fish_complete(f.path(), "valve check --fail-on "),
        THRESHOLDS
    );
    assert_eq!(
        fish_complete(f.path(), "valve check --min-severity "),
        SEVERITIES
    );
    assert!(fish_complete(f.path(), "valve check --output ").contains(&DECOY.to_string()));
}
