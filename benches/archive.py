#!/usr/bin/env python3
"""Archive mode, warm cache: `uring-cp -a` against `cp -a` and `rsync -aHAX`.

Usage (as root, after `cargo build --release`); the tree is bench.py's `small` corpus at
10,000 files, made (once, cached) by:

    (cd benches && SMALL_FILES=10000 python3 -c "import bench; bench.ensure_corpus('small')")
    SRC=/var/tmp/uring-cp-bench/corpora/small-files10000-g1 RUNS=5 benches/archive.py

Each run copies into a freshly made, journaled ext4 on a loop device over /dev/shm (see
/work/shared/notes/io_uring-facts.md, "Benchmark hygiene"); tools interleaved, medians reported
with the ratio to cp -a; then one untimed `strace -f -c` per tool, whose totals divided by the
number of entries give system calls per entry.
"""
import os, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UCP = os.environ.get("UCP", os.path.join(REPO, "target/release/uring-cp"))
SRC = os.environ.get("SRC", "/var/tmp/archbench-src")
IMG = "/dev/shm/uring-cp-archive-bench.img"
MNT = "/tmp/uring-cp-archive-bench"
RUNS = int(os.environ.get("RUNS", "5"))
DST = MNT + "/dst"
tools = {
    "uring-cp -a": [UCP, "-a", SRC, DST],
    "uring-cp -a --engine portable": [UCP, "--engine", "portable", "-a", SRC, DST],
    "uring-cp -a --ring-reads always": [UCP, "--ring-reads", "always", "-a", SRC, DST],
    "uring-cp -r": [UCP, "-r", SRC, DST],
    "cp -a": ["/bin/cp", "-a", SRC, DST],
    "rsync -aHAX": ["rsync", "-aHAX", SRC + "/", DST + "/"],
}


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def fresh(loop):
    if os.path.ismount(MNT):
        sh("umount", MNT)
    sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", loop)
    sh("mount", loop, MNT)
    sh("sync")


def main():
    entries = 1 + sum(len(d) + len(f) for _, d, f in os.walk(SRC))
    os.makedirs(MNT, exist_ok=True)
    sh("truncate", "-s", "2G", IMG)
    loop = sh("losetup", "--find", "--show", IMG, capture_output=True, text=True).stdout.strip()
    times = {k: [] for k in tools}
    try:
        subprocess.run(f"find {SRC} -type f -print0 | xargs -0 cat >/dev/null", shell=True)
        for r in range(RUNS):
            for name, argv in tools.items():
                fresh(loop)
                t = time.perf_counter()
                p = subprocess.run(argv, capture_output=True)
                ms = (time.perf_counter() - t) * 1000
                if p.returncode != 0:
                    print(f"{name} failed: {p.stderr[:300]!r}", file=sys.stderr)
                times[name].append(ms)
                print(f"run {r} {name}: {ms:.0f} ms", file=sys.stderr)
        base = statistics.median(times["cp -a"])
        print(f"{entries} entries; medians of {RUNS} interleaved runs, warm cache\n")
        print("| tool | median | cp -a / tool | runs (ms) |\n|---|---|---|---|")
        for name, v in times.items():
            m = statistics.median(v)
            print(f"| {name} | {m:.0f} ms | {base / m:.2f}x | {' '.join(f'{x:.0f}' for x in v)} |")
        print("\n| tool | system calls | per entry |\n|---|---|---|")
        for name in ["uring-cp -a", "cp -a", "rsync -aHAX"]:
            fresh(loop)
            out = "/tmp/uring-cp-archive-bench.strace"
            subprocess.run(["strace", "-f", "-c", "-o", out] + tools[name], capture_output=True)
            total = [l for l in open(out) if l.strip().endswith("total")][0].split()
            calls = int(total[3]) if len(total) > 4 else int(total[2])
            print(f"| {name} | {calls} | {calls / entries:.1f} |")
    finally:
        if os.path.ismount(MNT):
            subprocess.run(["umount", MNT])
        subprocess.run(["losetup", "-d", loop])
        os.remove(IMG)


main()
