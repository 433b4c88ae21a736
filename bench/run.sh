#!/usr/bin/env bash
# valve's benchmark (SPEC §10): every workload of §10 in one run, each timed
# in the same hyperfine invocation as the tool §10 names as its anchor, and
# a final markdown table (workload | valve | reference | ratio | target |
# met?) to paste into README. Not a test: figures, not verdicts.
#
#   bench/run.sh                   # SIZES="27000 100000 400000"
#   SIZES=27000 bench/run.sh       # the small tree only (~2 minutes)
#   bench/run.sh /path/to/repo     # any git repo with a .sage/valve.yml
#
# Synthetic trees are generated once per size in /tmp/valve-bench-N (python
# writes the files, then one `git add -A && git commit`; 400,000 files take
# about 1.5 minutes the first time, 3.5 GB of disk) and reused by later runs.
# The first size gets every row; the others get nothing staged, the typical
# commit, the pull-request range, `--all` and peak RSS.
#
# hyperfine when installed (apt install hyperfine): medians; without it, the
# median of RUNS plain runs through bash. Peak RSS via GNU time (-f %M).
# Env: RUNS (10), SIZES, VALVE (a built binary: skips the build), NO_HYPERFINE=1,
# WATCH_RUNS (20), IDLE_SECONDS (10).
set -Eeuo pipefail
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-10}
SIZES=${SIZES:-27000 100000 400000}
if [ -n "${VALVE:-}" ]; then
  valve=$VALVE
else
  valve=$here/target/release/valve
  (cd "$here" && cargo build --release --quiet)
fi
[ -x "$valve" ] || { echo "bench: no valve binary at $valve" >&2; exit 2; }
command -v rg >/dev/null || { echo "bench: rg (ripgrep) is needed: apt install ripgrep" >&2; exit 2; }
have_hf=$( [ -z "${NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null && echo 1 || echo 0)
gnu_time=$( { [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; } && echo 1 || echo 0)

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@valve.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@valve.invalid
unset CI GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE

tmp=$(mktemp -d "${TMPDIR:-/tmp}/valve-bench-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
table=$tmp/table.md
: >"$table"

# Quote for a command line that both sh and hyperfine -N parse.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Seconds -> "12.3 ms" / "1.23 s".
human() { awk -v s="$1" 'BEGIN { if (s >= 1) printf "%.2f s", s; else printf "%.1f ms", s * 1000 }'; }

# measure SHELL RUNS WARMUP CMD... : the median wall seconds of each CMD,
# one a line. SHELL=0: hyperfine -N (no shell, for plain commands); SHELL=1:
# every command through bash, with hyperfine's shell start-up correction
# (for pipelines).
measure() {
  local shell=$1 runs=$2 warmup=$3
  shift 3
  if [ "$have_hf" = 1 ]; then
    local mode=(-N)
    [ "$shell" = 1 ] && mode=(--shell=bash)
    hyperfine "${mode[@]}" --style none -i --warmup "$warmup" --runs "$runs" \
      --export-json "$tmp/hf.json" "$@" >/dev/null 2>&1
    python3 -c 'import json,sys; [print(r["median"]) for r in json.load(open(sys.argv[1]))["results"]]' "$tmp/hf.json"
  else
    local cmd s e
    for cmd in "$@"; do
      for _ in $(seq "$warmup"); do bash -c "$cmd" >/dev/null 2>&1 || true; done
      for _ in $(seq "$runs"); do
        s=$(date +%s%N); bash -c "$cmd" >/dev/null 2>&1 || true; e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
      done | sort -n | awk '{ a[NR] = $1 } END { printf "%.6f\n", a[int((NR + 1) / 2)] / 1e6 }'
    done
  fi
}

# Peak RSS in KiB of CMD (the median of 3 runs), or "n/a".
peak_kb() {
  [ "$gnu_time" = 1 ] || { echo n/a; return; }
  for _ in 1 2 3; do
    /usr/bin/time -f %M bash -c "exec $1" 2>&1 >/dev/null | tail -1
  done | sort -n | sed -n 2p
}

# add_row WORKLOAD VALVE REFERENCE RATIO TARGET MET: one table row, also
# printed as it is measured.
add_row() {
  printf '| %s | %s | %s | %s | %s | %s |\n' "$@" | tee -a "$table"
}

# timed_row SHELL RUNS WARMUP WORKLOAD VALVE_CMD REF_LABEL REF_CMD MAX_RATIO
timed_row() {
  local shell=$1 runs=$2 warmup=$3 label=$4 vcmd=$5 rlabel=$6 rcmd=$7 max=$8 v r
  { read -r v; read -r r; } < <(measure "$shell" "$runs" "$warmup" "$vcmd" "$rcmd")
  add_row "$label" "$(human "$v")" "$rlabel $(human "$r")" \
    "$(awk -v v="$v" -v r="$r" 'BEGIN { printf "%.2f×", v / r }')" "≤ ${max}×" \
    "$(awk -v v="$v" -v r="$r" -v m="$max" 'BEGIN { print (v / r <= m ? "yes" : "**no**") }')"
}

# make_repo N DIR: the synthetic tree of N files on `main`, and branch
# `feature` (checked out) holding a ~400-file pull request.
make_repo() {
  local n=$1 dir=$2 s
  s=$(date +%s)
  echo "bench: generating $n files in $dir ..." >&2
  rm -rf "$dir" && mkdir -p "$dir"
  python3 "$here/bench/gen_repo.py" base "$dir" "$n"
  git -C "$dir" init -q -b main
  git -C "$dir" config gc.auto 0 # no gc in the background while timing
  git -C "$dir" add -A
  git -C "$dir" commit -q -m base
  git -C "$dir" checkout -q -b feature
  python3 "$here/bench/gen_repo.py" feature "$dir" "$n"
  git -C "$dir" add -A
  git -C "$dir" commit -q -m "feature: a ~400-file pull request"
  # Packed, as a clone is: blobs are read from a pack with deltas.
  git -C "$dir" repack -adq
  git -C "$dir" update-index -q --refresh || true
  touch "$dir/.git/valve-bench-v2" # complete: later runs reuse it
  echo "bench: generated in $(( $(date +%s) - s )) s" >&2
}

# pre-commit config with one pygrep hook per content persona (its triggers'
# union as `entry`, its filters as `files`), from `valve personas`.
pygrep_config() {
  "$valve" personas | python3 -c '
import json, re, sys
def glob_re(g):
    out, i = "", 0
    while i < len(g):
        if g.startswith("**/", i): out += "(?:.*/)?"; i += 3
        elif g.startswith("/**", i) and i + 3 == len(g): out += "(?:/.*)?"; i += 3
        elif g[i] == "*": out += "[^/]*"; i += 1
        elif g[i] == "?": out += "[^/]"; i += 1
        else: out += re.escape(g[i]); i += 1
    return ("(?:^|/)" if "/" not in g else "^") + out + "$"
hooks, cur = [], None
for line in sys.stdin:
    line = line.rstrip("\n")
    if line and not line.startswith(" "):
        cur = {"name": line.split("  [")[0], "filters": None, "triggers": []}
        hooks.append(cur)
    elif cur and line.startswith("  filters:") and "(every path)" not in line:
        cur["filters"] = [f.strip() for f in line.split(":", 1)[1].split(",")]
    elif cur and re.match(r"  trigger \d+:", line):
        cur["triggers"].append(line.split(":", 1)[1].strip())
out = []
for k, h in enumerate(hooks):
    if not h["triggers"]:
        continue
    hook = {"id": f"p{k}", "name": h["name"], "language": "pygrep",
            "entry": "|".join(f"(?:{t})" for t in h["triggers"])}
    if h["filters"]:
        hook["files"] = "|".join(glob_re(f) for f in h["filters"])
    out.append(hook)
print(json.dumps({"repos": [{"repo": "local", "hooks": out}]}, indent=1))
'
}

watch_rows() {
  python3 - "$valve" "$(pwd)" "${WATCH_RUNS:-20}" "${IDLE_SECONDS:-10}" >"$tmp/watch" <<'PY'
import json, os, queue, statistics, subprocess, sys, threading, time
valve, repo, runs, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
p = subprocess.Popen([valve, "watch", "--format", "ndjson", "--debounce", "50"],
                     cwd=repo, stdout=subprocess.PIPE, text=True, bufsize=1)
events = queue.Queue()
threading.Thread(target=lambda: [events.put(json.loads(l)) for l in p.stdout], daemon=True).start()
def until(pred, timeout=60):
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
print(statistics.median(ms), ms[0], ms[-1], runs, used, idle)
PY
  local med lo hi n cpu idle
  read -r med lo hi n cpu idle <"$tmp/watch"
  add_row "\`valve watch\`: write → finding on stdout" \
    "$(printf 'median %.1f ms (min %.1f, max %.1f, n=%s)' "$med" "$lo" "$hi" "$n")" "debounce 50 ms" "" \
    "≤ debounce + 20 ms" "$(awk -v m="$med" 'BEGIN { print (m <= 70 ? "yes" : "**no**") }')"
  add_row "\`valve watch\`: CPU while idle for ${idle%.*} s" "$(printf '%.2f s' "$cpu")" "" "" "no CPU" \
    "$(awk -v c="$cpu" 'BEGIN { print (c <= 0.01 ? "yes" : "**no**") }')"
}

# Every row for one tree; FULL=1 adds pygrep, threads, the cache and watch.
bench_repo() {
  local repo=$1 full=$2 nfiles pattern runs=$RUNS warmup=3 all_runs=$RUNS all_warmup=2 base head
  cd "$repo"
  [ -f .sage/valve.yml ] || { echo "bench: $repo has no .sage/valve.yml" >&2; exit 2; }
  # The commit row edits tracked files and resets them: a synthetic tree is
  # reset first; any other must have no uncommitted change to lose.
  if [ "$synthetic" = 1 ]; then
    git reset -q --hard
  elif [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "bench: $repo has uncommitted changes; commit or stash them first" >&2
    exit 2
  fi
  nfiles=$(git ls-files | wc -l)
  [ "$nfiles" -ge 200000 ] && { all_runs=5; all_warmup=1; }
  # The union of every trigger, each in a group so flags stay scoped.
  pattern=$("$valve" personas | sed -n 's/^  trigger [0-9]*: *//p' | sed 's/.*/(?:&)/' | paste -sd'|')
  local rg_all
  rg_all="rg --hidden -g '!.git' -n -e $(sq "$pattern") ."
  local k
  k=$(awk -v n="$nfiles" 'BEGIN { printf (n >= 1000 ? "%.0fk" : "%d"), (n >= 1000 ? n / 1000 : n) }')
  echo "bench: $repo: $nfiles tracked files" >&2

  git reset -q
  timed_row 0 "$runs" "$warmup" "nothing staged, $k files" "$valve check --staged -q" \
    "\`git diff --cached --name-only\`" "git diff --cached --name-only" 1.0

  # A typical commit: 10 modified files staged.
  git ls-files | grep -v '^\.sage/' | awk 'NR % 1000 == 1 && n < 10 { print; n++ }' | while read -r f; do
    echo "dbg!(touched);" >>"$f"
  done
  git add -u
  local staged
  staged=$(git diff --cached --name-only | wc -l)
  timed_row 0 "$runs" "$warmup" "\`--staged\`, $staged-file commit, $k files" \
    "$valve check --staged -q --fail-on never" "\`git diff --cached\`" "git diff --cached" 1.0
  git reset -q --hard

  # The pull request: main..feature when the tree is ours, else HEAD~1..HEAD.
  if git rev-parse -q --verify feature >/dev/null && git rev-parse -q --verify main >/dev/null; then
    base=$(git rev-parse main) head=$(git rev-parse feature)
  else
    base=$(git rev-parse HEAD~1) head=$(git rev-parse HEAD)
  fi
  # rg reads the work tree, so the head must be checked out (it is: HEAD).
  local nrange
  nrange=$(git diff --name-only "$base" "$head" | wc -l)
  timed_row 1 "$runs" "$warmup" "\`--base\`, $nrange-file range, \`scope: changed\`, $k files" \
    "$valve check --base $base --head $head -q --fail-on never" \
    "\`git diff --name-only A B \\| xargs rg\`" \
    "git diff --name-only $base $head | xargs rg -n -e $(sq "$pattern")" 1.0

  timed_row 0 "$all_runs" "$all_warmup" "\`--all\`, $k files" "$valve check --all -q --fail-on never" \
    "\`rg --hidden -g '!.git'\`" "$rg_all" 1.0

  local pv pr
  pv=$(peak_kb "$valve check --all -q --fail-on never")
  pr=$(peak_kb "$rg_all")
  if [ "$pv" != n/a ]; then
    add_row "peak RSS, \`--all\`, $k files" "$(awk -v k="$pv" 'BEGIN { printf "%.1f MB", k / 1024 }')" \
      "\`rg\` $(awk -v k="$pr" 'BEGIN { printf "%.1f MB", k / 1024 }')" \
      "$(awk -v v="$pv" -v r="$pr" 'BEGIN { printf "%.2f×", v / r }')" "≤ 1.5×" \
      "$(awk -v v="$pv" -v r="$pr" 'BEGIN { print (v / r <= 1.5 ? "yes" : "**no**") }')"
  else
    add_row "peak RSS, \`--all\`, $k files" "n/a (no GNU time)" "" "" "≤ 1.5×" ""
  fi

  [ "$full" = 1 ] || return 0

  # pre-commit: the same rules as pygrep hooks (one per content persona).
  if command -v pre-commit >/dev/null; then
    pygrep_config >"$tmp/pre-commit.yaml"
    local v r
    { read -r v; read -r r; } < <(PRE_COMMIT_HOME=$tmp/pre-commit-home \
      measure 0 3 1 "$valve check --all -q --fail-on never" "pre-commit run --all-files -c $tmp/pre-commit.yaml")
    add_row "\`--all\` vs pre-commit pygrep, $k files" "$(human "$v")" \
      "\`pre-commit run --all-files\` ($(grep -c '"language"' "$tmp/pre-commit.yaml") pygrep hooks) $(human "$r")" \
      "$(awk -v v="$v" -v r="$r" 'BEGIN { printf "%.3f× (%.0f× faster)", v / r, r / v }')" "≥ 25× faster" \
      "$(awk -v v="$v" -v r="$r" 'BEGIN { print (r / v >= 25 ? "yes" : "**no**") }')"
  else
    add_row "\`--all\` vs pre-commit pygrep" "not run (pre-commit not installed)" "" "" "≥ 25× faster" ""
  fi

  # --threads: valve's speed-up from 1 to 2 threads against rg's.
  local v1 v2 r1 r2
  { read -r v1; read -r v2; read -r r1; read -r r2; } < <(measure 0 "$all_runs" "$all_warmup" \
    "$valve check --all -q --fail-on never --threads 1" "$valve check --all -q --fail-on never --threads 2" \
    "${rg_all/rg /rg -j1 }" "${rg_all/rg /rg -j2 }")
  add_row "\`--all --threads 1\` → \`2\`, $k files" \
    "$(human "$v1") → $(human "$v2") ($(awk -v a="$v1" -v b="$v2" 'BEGIN { printf "%.2f", a / b }')× faster)" \
    "\`rg -j1\` → \`-j2\` $(human "$r1") → $(human "$r2") ($(awk -v a="$r1" -v b="$r2" 'BEGIN { printf "%.2f", a / b }')× faster)" \
    "$(awk -v a="$v1" -v b="$v2" -v c="$r1" -v d="$r2" 'BEGIN { printf "%.2f× of rg'"'"'s speed-up", (a / b) / (c / d) }')" \
    "scales (≥ 0.9× rg's speed-up)" \
    "$(awk -v a="$v1" -v b="$v2" -v c="$r1" -v d="$r2" 'BEGIN {
      if (c / d < 1.3) print "undecided: rg does not scale either (no free core)"
      else print ((a / b) >= 0.9 * (c / d) ? "yes" : "**no**") }')"

  # The warm result cache (SPEC §12), only when this valve has --cache.
  if "$valve" check --help | grep -q -- '--cache'; then
    timed_row 0 "$all_runs" 3 "\`--all --cache\` warm, unchanged tree, $k files" \
      "$valve check --all -q --fail-on never --cache $tmp/cache" "\`rg --hidden -g '!.git'\`" "$rg_all" 0.5
  else
    add_row "\`--all --cache\` warm, unchanged tree" "not built (no \`--cache\` in \`valve check --help\`)" \
      "\`rg --hidden -g '!.git'\`" "" "≤ 0.5×" "not built"
  fi

  watch_rows
}

load_before=$(uptime | sed 's/.*load average: //')
{
  echo "valve: $valve ($("$valve" --version 2>/dev/null || echo '?'), $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "machine: $(nproc) cores, load average $load_before (1, 5, 15 min) at start; runs: $RUNS; hyperfine: $([ "$have_hf" = 1 ] && hyperfine --version | cut -d' ' -f2 || echo 'no (plain runs)')"
  echo "$(rg --version | head -1), $(git --version)$(command -v pre-commit >/dev/null && echo ", pre-commit $(pre-commit --version | cut -d' ' -f2)")"
} | tee "$tmp/header" >&2

echo "| workload | valve | reference | ratio | SPEC §10 target | met? |" | tee -a "$table"
echo "|---|---|---|---|---|---|" | tee -a "$table"
if [ -n "${1:-}" ]; then
  synthetic=0
  bench_repo "$(cd "$1" && pwd)" 1
else
  full=1 synthetic=1
  for n in $SIZES; do
    dir=/tmp/valve-bench-$n
    [ -f "$dir/.git/valve-bench-v2" ] || make_repo "$n" "$dir"
    (bench_repo "$dir" "$full")
    full=0
  done
fi

echo
cat "$tmp/header"
echo "load average at the end: $(uptime | sed 's/.*load average: //')"
echo
cat "$table"
