#!/usr/bin/env python3
"""Sync mode against rsync, and --fsync against rsync --fsync and `cp -a; sync`.

Usage (as root, after `cargo build --release`; the corpora are bench.py's, made once and cached):

    (cd benches && python3 -c "import bench; bench.ensure_corpus('small')")   # 100,000 files
    (cd benches && SMALL_FILES=10000 python3 -c "import bench; bench.ensure_corpus('small')")
    RUNS=5 benches/sync.py

Scenarios, each with the tools interleaved (the order alternates per run) and medians reported
with the ratio rival / uring-cp:

- resync: an unchanged 100,000-file tree synced again: `uring-cp -a --sync --delete -T` against
  `rsync -a --delete`. Pure metadata, warm cache.
- changed1: before each run 1% of the files (a fresh random sample, the same for both tools)
  are rewritten with new content; each tool brings its own up-to-date mirror up to date again.
- fsync: the 10,000-file tree copied onto the real disk (WORK, default /var/tmp, which is on
  the machine's disk, not a RAM-backed loop) and made durable: `uring-cp -a --fsync` against
  `rsync -a --fsync`, `cp -a` followed by `sync`, and uring-cp followed by an fsync of every
  file with 64 in flight (benches/pfsync.py: what batched FSYNC requests through the ring
  amount to). Before each run the previous copy is removed and `sync` run, untimed.
"""
import os, random, shutil, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UCP = os.environ.get("UCP", os.path.join(REPO, "target/release/uring-cp"))
CORPORA = os.environ.get("CORPORA_DIR", "/var/tmp/uring-cp-bench/corpora")
BIG = os.environ.get("SRC", os.path.join(CORPORA, "small-files100000-g1"))
SMALL = os.environ.get("SMALL_SRC", os.path.join(CORPORA, "small-files10000-g1"))
WORK = os.environ.get("WORK", "/var/tmp/uring-cp-sync-bench")
RUNS = int(os.environ.get("RUNS", "5"))
SCENARIOS = os.environ.get("SCENARIOS", "resync changed1 fsync").split()


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, **kw)


def timed(argv, shell=False):
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, shell=shell)
    ms = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        sys.exit(f"{argv} failed ({p.returncode}): {p.stderr[:500]!r}")
    return ms


def mirror_tools(src):
    return {
        "uring-cp": lambda d: [UCP, "-a", "--sync", "--delete", "-T", src, d],
        "rsync": lambda d: ["rsync", "-a", "--delete", src + "/", d + "/"],
    }


def table(title, times, base="uring-cp"):
    b = statistics.median(times[base])
    print(f"\n### {title}\n\n| tool | median | rival / uring-cp | runs (ms) |\n|---|---:|---:|---|")
    for name, v in times.items():
        m = statistics.median(v)
        runs = " ".join(f"{x:.0f}" for x in v)
        print(f"| {name} | {m:,.0f} ms | {m / b:.2f} | {runs} |")
    sys.stdout.flush()


def interleaved(tools, r):
    names = list(tools)
    return names if r % 2 == 0 else names[::-1]


def resync():
    tools = mirror_tools(BIG)
    dsts = {n: os.path.join(WORK, f"resync-{n}") for n in tools}
    for n, argv in tools.items():  # the first, full sync: untimed
        shutil.rmtree(dsts[n], ignore_errors=True)
        timed(argv(dsts[n]))
    times = {n: [] for n in tools}
    for r in range(RUNS):
        for n in interleaved(tools, r):
            times[n].append(timed(tools[n](dsts[n])))
            print(f"resync run {r} {n}: {times[n][-1]:.0f} ms", file=sys.stderr)
    table(f"Re-sync of an unchanged tree ({count(BIG):,} entries), warm", times)


def changed1():
    src = os.path.join(WORK, "changed-src")
    shutil.rmtree(src, ignore_errors=True)
    sh("cp", "-a", BIG, src)
    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs
        if not os.path.islink(os.path.join(d, f)))
    tools = mirror_tools(src)
    dsts = {n: os.path.join(WORK, f"changed-{n}") for n in tools}
    for n, argv in tools.items():
        shutil.rmtree(dsts[n], ignore_errors=True)
        timed(argv(dsts[n]))
    times = {n: [] for n in tools}
    rng = random.Random(1)
    n_changed = max(1, len(files) // 100)
    for r in range(RUNS):
        for path in rng.sample(files, n_changed):
            with open(path, "ab") as f:
                f.write(f"changed in round {r}\n".encode())
        for n in interleaved(tools, r):
            times[n].append(timed(tools[n](dsts[n])))
            print(f"changed1 run {r} {n}: {times[n][-1]:.0f} ms", file=sys.stderr)
    for n in tools:  # both mirrors must equal the source
        d = subprocess.run(["diff", "-r", "--no-dereference", src, dsts[n]], capture_output=True)
        if d.returncode != 0:
            sys.exit(f"{n}'s mirror differs: {d.stdout[:500]!r}")
    table(f"Sync after 1% of {len(files):,} files changed ({n_changed:,} per run), warm", times)


def fsync():
    dst = os.path.join(WORK, "fsync-dst")
    tools = {
        "uring-cp": [UCP, "-a", "--fsync", SMALL, dst],
        "rsync --fsync": ["rsync", "-a", "--fsync", SMALL + "/", dst + "/"],
        "cp -a; sync": f"cp -a {SMALL} {dst} && sync",
        # The alternative to one syncfs: a file-by-file fsync, 64 in flight.
        "uring-cp; 64 fsyncs in flight":
            f"{UCP} -a {SMALL} {dst} && {os.path.join(REPO, 'benches/pfsync.py')} {dst} 64",
    }
    times = {n: [] for n in tools}
    subprocess.run(f"find {SMALL} -type f -print0 | xargs -0 cat >/dev/null", shell=True)
    for r in range(RUNS):
        for n in interleaved(tools, r):
            shutil.rmtree(dst, ignore_errors=True)
            sh("sync")
            argv = tools[n]
            times[n].append(timed(argv, shell=isinstance(argv, str)))
            print(f"fsync run {r} {n}: {times[n][-1]:.0f} ms", file=sys.stderr)
    shutil.rmtree(dst, ignore_errors=True)
    table(f"Durable copy of {count(SMALL):,} entries onto the disk (ext4 on virtio)", times)


def count(root):
    return 1 + sum(len(d) + len(f) for _, d, f in os.walk(root))


def main():
    os.makedirs(WORK, exist_ok=True)
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print(f"## Sync benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, rev {rev}, "
          f"{os.cpu_count()} CPUs, medians of {RUNS} interleaved runs)")
    for s in SCENARIOS:
        {"resync": resync, "changed1": changed1, "fsync": fsync}[s]()


if __name__ == "__main__":
    main()
