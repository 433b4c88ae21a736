#!/usr/bin/env bash
# History judging (SPEC §2.2): a persona with `history: true` judges each
# of COMMITS commits (1 to 8 files changed each, 2,000 files of 40 lines,
# a key in about 1% of the edits) against `git log -p` over the same range,
# which reads the same trees and blobs, and against the net change alone.
#
#   bench/history.sh              # COMMITS=2000, hyperfine when installed
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-15}
COMMITS=${COMMITS:-2000}
valve=${VALVE:-$here/target/release/valve}
[ -x "$valve" ] && [ -n "${VALVE:-}" ] || (cd "$here" && cargo build --release --quiet)

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
unset CI
repo=${BENCH_DIR:-/tmp/valve-history-$COMMITS}
if [ ! -d "$repo/.git" ]; then
  rm -rf "$repo" && git init -q -b main "$repo"
  COMMITS=$COMMITS python3 - <<'PY' | git -C "$repo" fast-import --quiet
import os, random
random.seed(1)
mark, when, prev = 0, 1700000000, None
def blob(text):
    global mark
    mark += 1
    data = text.encode()
    print(f"blob\nmark :{mark}\ndata {len(data)}")
    print(text)
    return mark
def commit(changes, message, n):
    global when, prev
    marks = [(p, blob(c)) for p, c in changes]
    when += 60
    me = 100000000 + n
    print(f"commit refs/heads/main\nmark :{me}\ncommitter B <b@valve.invalid> {when} +0000\ndata {len(message)}\n{message}")
    if prev:
        print(f"from :{prev}")
    for p, m in marks:
        print(f"M 100644 :{m} {p}")
    print()
    prev = me
config = "personas:\n  Secrets:\n    triggers: ['AKIA[0-9A-Z]{16}']\n    severity: critical\n    history: true\n  Todo:\n    triggers: ['TODO']\n    severity: warning\n"
files = [(f"src/d{i % 50}/f{i}.txt", "".join(f"line {j} of file {i}\n" for j in range(40))) for i in range(2000)]
commit([(".sage/valve.yml", config)] + files, "init", 0)
for c in range(int(os.environ["COMMITS"])):
    changes = []
    for _ in range(random.randint(1, 8)):
        i = random.randrange(2000)
        body = "".join(f"line {j} of file {i} v{c}\n" for j in range(40))
        if random.random() < 0.01:
            body += "key " + "AKIA" + "ABCDEFGHIJKLMNOP\n"  # split: valve judges this file
        changes.append((f"src/d{i % 50}/f{i}.txt", body))
    commit(changes, f"c{c}", c + 1)
PY
  git -C "$repo" checkout -q main
fi
sed 's/history: true/history: false/' "$repo/.sage/valve.yml" > "$repo/../valve-history-net.yml"
cd "$repo"
range="HEAD~$COMMITS"
if command -v hyperfine >/dev/null; then
  hyperfine -N -i -w 3 -r "$RUNS" \
    "$valve check --base $range -q" \
    "git log -p --format=%H $range..HEAD" \
    "$valve check --base $range -q --config ../valve-history-net.yml" \
    "$valve check --root -q"
else
  for cmd in "$valve check --base $range -q" "git log -p --format=%H $range..HEAD"; do
    /usr/bin/env time -f "%e s  $cmd" sh -c "$cmd >/dev/null" || true
  done
fi
command -v /usr/bin/time >/dev/null && /usr/bin/time -f "peak RSS %M KB (history judging)" "$valve" check --base "$range" -q >/dev/null || true
