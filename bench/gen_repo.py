#!/usr/bin/env python3
"""Writes the synthetic work tree for bench/run.sh (no git here: run.sh
commits what this writes).

    gen_repo.py base ROOT N      # N files, ~2 KB each, and .sage/valve.yml
    gen_repo.py feature ROOT N   # a pull request on top: ~400 files

The content comes from a fixed pool of lines (seeded), so a file costs one
write and 400,000 files take seconds, not minutes. About 1 file in 97 holds
a `dbg!(` and 1 in 1009 an AWS-style key, so `--all` has findings to report.
"""
import os
import random
import sys

WORDS = (
    "let const value return self match error config path index file line fn "
    "struct impl pub use mod async await trait where type enum loop"
).split()
EXTS = [".rs", ".ts", ".py", ".md", ".json", ".go"]
CONFIG = r"""personas:
  Secrets:
    triggers: ['AKIA[0-9A-Z]{16}', '-----BEGIN [A-Z ]*PRIVATE KEY-----']
    severity: critical
    redact: true
  Debris:
    filters: ['*.rs', '*.ts', '*.py', '*.go']
    triggers: ['\bdbg!\(', 'console\.log\(', '\bbreakpoint\(\)']
    severity: warning
  Docs:
    filters: ['*.md']
    triggers: ['TODO', 'FIXME']
  Config:
    filters: ['*.json', '**/config/**']
"""


def path_of(i):
    top = "lib" if i % 3 == 0 else "src"
    return f"{top}/p{i // 10000:02d}/m{(i // 100) % 100:02d}/f{i:06d}{EXTS[i % len(EXTS)]}"


def pool(rng):
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        for _ in range(4096)
    ]


def write(root, rel, text):
    full = os.path.join(root, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def base(root, n):
    rng = random.Random(7)
    lines = pool(rng)
    made = set()
    for i in range(n):
        rel = path_of(i)
        d = os.path.dirname(rel)
        if d not in made:
            os.makedirs(os.path.join(root, d), exist_ok=True)
            made.add(d)
        body = rng.choices(lines, k=rng.randint(10, 80))
        if i % 97 == 0:
            body.insert(5, "    dbg!(value);")
        if i % 1009 == 0:
            body.insert(3, 'const KEY = "AKIA' + "ABCDEFGHIJKLMNOP" + '";')
        with open(os.path.join(root, rel), "w") as f:
            f.write("\n".join(body) + "\n")
    write(root, ".sage/valve.yml", CONFIG)


def feature(root, n):
    """360 modified files (a line appended), 30 added, 10 renamed with an
    edit: about 400 paths, the size of a large pull request."""
    rng = random.Random(11)
    src = [i for i in range(n) if i % 3 != 0]
    picked = rng.sample(src, min(len(src), 370))
    for i in picked[:360]:
        with open(os.path.join(root, path_of(i)), "a") as f:
            f.write("    dbg!(changed);\n")
    for i in picked[360:]:
        old = os.path.join(root, path_of(i))
        new = old.replace("/f", "/renamed_f", 1)
        os.rename(old, new)
        with open(new, "a") as f:
            f.write("let moved = true;\n")
    lines = pool(rng)
    for k in range(30):
        body = rng.choices(lines, k=40) + ["    console.log(added);"]
        write(root, f"src/new/n{k:02d}.ts", "\n".join(body) + "\n")


if __name__ == "__main__":
    what, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"base": base, "feature": feature}[what](root, n)
