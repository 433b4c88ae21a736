#!/usr/bin/env bash
# valve's benchmark: times valve against git and rg on the same files, in
# one run, and prints ratios (SPEC §10). Not a test: figures, not verdicts.
#
#   bench/run.sh                 # synthetic repo with ~20k files (generated once)
#   bench/run.sh /path/to/repo   # any git repo with a .sage/valve.yml
#
# Uses hyperfine when installed (apt install hyperfine); otherwise takes the
# median of RUNS plain runs. Peak memory via /usr/bin/time when present.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-10}
FILES=${FILES:-20000}
valve=${VALVE:-$here/target/release/valve}

if [ ! -x "$valve" ] || [ -z "${VALVE:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
fi
command -v rg >/dev/null || { echo "rg (ripgrep) is needed: apt install ripgrep" >&2; exit 2; }

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@valve.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@valve.invalid
unset CI

repo=${1:-}
if [ -z "$repo" ]; then
  repo=${BENCH_DIR:-/tmp/valve-bench-$FILES}
  if [ ! -d "$repo/.git" ]; then
    echo "generating a synthetic repo with $FILES files in $repo ..." >&2
    rm -rf "$repo" && mkdir -p "$repo"
    python3 - "$repo" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(7)
words = "let const value return self match error config path index file line fn struct impl pub use mod".split()
exts = [".rs", ".ts", ".py", ".md", ".json", ".go"]
for i in range(n):
    d = os.path.join(root, "src" if i % 3 else "lib", f"m{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    lines = []
    for j in range(random.randint(20, 120)):
        lines.append(" ".join(random.choice(words) for _ in range(random.randint(3, 12))))
    if i % 97 == 0:
        lines.insert(5, "    dbg!(value);")
    if i % 1009 == 0:
        lines.insert(3, 'const KEY = "AKIA' + "ABCDEFGHIJKLMNOP" + '";')
    with open(os.path.join(d, f"f{i:05d}{exts[i % len(exts)]}"), "w") as f:
        f.write("\n".join(lines) + "\n")
os.makedirs(os.path.join(root, ".sage"), exist_ok=True)
with open(os.path.join(root, ".sage", "valve.yml"), "w") as f:
    f.write("""personas:
  Secrets:
    triggers: ['AKIA[0-9A-Z]{16}', '-----BEGIN [A-Z ]*PRIVATE KEY-----']
    severity: critical
    redact: true
  Debris:
    filters: ['*.rs', '*.ts', '*.py', '*.go']
    triggers: ['\\bdbg!\\(', 'console\\.log\\(', '\\bbreakpoint\\(\\)']
    severity: warning
  Docs:
    filters: ['*.md']
    triggers: ['TODO', 'FIXME']
  Config:
    filters: ['*.json', '**/config/**']
""")
PY
    git -C "$repo" init -q -b main
    git -C "$repo" add -A
    git -C "$repo" commit -q -m base
    # A ~400-file range on a branch, for --base.
    git -C "$repo" checkout -q -b feature
    git -C "$repo" ls-files 'src/*' | awk 'NR % 33 == 0' | head -400 | while read -r f; do
      echo "    dbg!(changed);" >> "$repo/$f"
    done
    git -C "$repo" commit -q -am "feature: ~400 files"
    git -C "$repo" checkout -q main
  fi
fi
cd "$repo"
[ -f .sage/valve.yml ] || { echo "$repo has no .sage/valve.yml" >&2; exit 2; }

# The union of every trigger, for one rg run over the same files.
pattern=$("$valve" personas | sed -n 's/^  trigger [0-9]*: *//p' | paste -sd'|')
nfiles=$(git ls-files | wc -l)
base=$(git rev-parse --verify -q main || git rev-parse HEAD~1)
head=$(git rev-parse --verify -q feature || git rev-parse HEAD)

# Time a command: median wall seconds over RUNS runs.
time_it() {
  if command -v hyperfine >/dev/null; then
    hyperfine -N --style none --warmup 2 --runs "$RUNS" -i --export-json /tmp/valve-bench.json "$1" >/dev/null 2>&1
    python3 -c 'import json;print(json.load(open("/tmp/valve-bench.json"))["results"][0]["median"])'
  else
    local t=()
    for _ in $(seq "$RUNS"); do
      local s e
      s=$(date +%s%N); bash -c "$1" >/dev/null 2>&1 || true; e=$(date +%s%N)
      t+=("$(( (e - s) / 1000 ))")
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.6f\n", a[int((NR+1)/2)]/1e6}'
  fi
}

peak_kb() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f %M bash -c "$1" 2>&1 >/dev/null | tail -1
  else
    echo "n/a"
  fi
}

row() { # label, valve cmd, reference label, reference cmd, target
  local v r
  if command -v hyperfine >/dev/null; then
    # Both commands in one invocation, so they see the same machine state.
    hyperfine -N --style none --warmup 3 --runs "$RUNS" -i --export-json /tmp/valve-bench.json "$2" "$4" >/dev/null 2>&1
    v=$(python3 -c 'import json;print(json.load(open("/tmp/valve-bench.json"))["results"][0]["median"])')
    r=$(python3 -c 'import json;print(json.load(open("/tmp/valve-bench.json"))["results"][1]["median"])')
  else
    v=$(time_it "$2"); r=$(time_it "$4")
  fi
  python3 -c "
v, r = $v, $r
print(f'{\"$1\":<34} valve {v*1000:8.1f} ms   {\"$3\":<28} {r*1000:8.1f} ms   ratio {v/r:5.2f}x  (target $5)')"
}

echo "repo: $repo ($nfiles tracked files), runs: $RUNS, valve: $valve"
echo "triggers (union): $pattern"
echo

git reset -q
row "nothing staged" "$valve check --staged -q" "git diff --cached --name-only" "git diff --cached --name-only" "<= 1.0x"

# A typical commit: ~10 modified files staged.
git ls-files | grep -v '^\.sage/' | awk 'NR % 1000 == 1' | head -10 | while read -r f; do
  echo "dbg!(touched);" >> "$f"
done
git add -u
staged=$(git diff --cached --name-only | wc -l)
[ "$staged" -ge 5 ] || { echo "bench: expected ~10 staged files, got $staged" >&2; exit 2; }
row "--staged, $staged-file commit" "$valve check --staged -q --fail-on never" "git diff --cached" "git diff --cached" "<= 1.5x"
git reset -q --hard

git diff --name-only "$base...$head" > /tmp/valve-bench-range.txt
row "--base, $(wc -l < /tmp/valve-bench-range.txt)-file range" "$valve check --base $base --head $head -q --fail-on never" "git diff --name-only A...B" "git diff --name-only $base...$head" "(no target)"

row "--all, whole tree" "$valve check --all -q --fail-on never" "rg (union of triggers)" "rg --hidden -g '!.git' -n -e '$pattern' ." "<= 1.3x"
for t in 1 2; do
  row "--all --threads $t" "$valve check --all -q --fail-on never --threads $t" "rg -j$t (union)" "rg -j$t --hidden -g '!.git' -n -e '$pattern' ." "scales"
done

# pre-commit's own pygrep (one hook with the union of triggers: a lower
# bound for one pygrep hook per persona), when pre-commit is importable.
if python3 -c 'import pre_commit.languages.pygrep' 2>/dev/null; then
  git ls-files -z | grep -zv '^\.sage/' > /tmp/valve-bench-files
  pygrep="xargs -0 -a /tmp/valve-bench-files python3 -c 'import sys; from pre_commit.languages.pygrep import main; sys.exit(main())' '$pattern'"
  RUNS_SAVED=$RUNS; RUNS=3
  row "--all vs pre-commit pygrep" "$valve check --all -q --fail-on never" "pygrep (union, one hook)" "bash -c \"$pygrep\"" ">= 10x faster, ratio <= 0.1x"
  RUNS=$RUNS_SAVED
fi

echo
echo "peak RSS: valve --all $(peak_kb "$valve check --all -q --fail-on never") KiB, rg $(peak_kb "rg --hidden -g '!.git' -n -e '$pattern' .") KiB (target valve <= 2x rg)"

# valve watch: latency from a file write to its finding on stdout (median
# of WATCH_RUNS writes, debounce 50 ms), and CPU used while idle.
python3 - "$valve" "$repo" "${WATCH_RUNS:-20}" "${IDLE_SECONDS:-10}" <<'PY'
import json, os, queue, statistics, subprocess, sys, threading, time
valve, repo, runs, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = subprocess.Popen([valve, "watch", "--format", "ndjson", "--debounce", "50"],
                     cwd=repo, stdout=subprocess.PIPE, text=True, bufsize=1)
events = queue.Queue()
threading.Thread(target=lambda: [events.put(json.loads(l)) for l in p.stdout], daemon=True).start()
def until(pred, timeout=30):
    end = time.monotonic() + timeout
    while True:
        e = events.get(timeout=max(0.01, end - time.monotonic()))
        if pred(e):
            return e
until(lambda e: e["type"] == "summary")
target = os.path.join(repo, "valve-watch-bench.txt")
latencies = []
for i in range(runs):
    start = time.perf_counter()
    with open(target, "w") as f:
        f.write(f"k = AKIA{i:016d}\n")
    until(lambda e: e["type"] == "finding" and e["file"] == "valve-watch-bench.txt")
    latencies.append(time.perf_counter() - start)
    until(lambda e: e["type"] == "summary")
os.remove(target)
until(lambda e: e["type"] == "summary")
def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
before = cpu_seconds(p.pid)
time.sleep(idle)
used = cpu_seconds(p.pid) - before
p.terminate()
p.wait(timeout=5)
ms = sorted(x * 1000 for x in latencies)
print(f"watch: write -> finding median {statistics.median(ms):.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f}, n={runs}; "
      f"debounce 50 ms, target <= debounce + 20 ms = 70 ms)")
print(f"watch: CPU while idle for {idle:.0f} s: {used:.2f} s (target ~0)")
PY
