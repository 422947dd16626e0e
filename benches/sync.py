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

With TREE=/some/real/tree (e.g. /usr/share) it measures that tree instead, writes the report to OUT
(default benches/RESULTS-sync-real.md) and echoes it; see real_main() below and benches/README.md:

    TREE=/usr/share benches/sync.py                 # RUNS=5; ~2-3 min for /usr/share
    RUNS=1 TREE=/usr/include OUT=/tmp/sync-smoke.md benches/sync.py
"""
import os, random, resource, shutil, signal, statistics, subprocess, sys, tempfile, time

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


# ----------------------------------------------------------------------------------------------
# TREE=...: a real tree. The destinations are fresh journaled ext4 filesystems on loop devices over
# images in /dev/shm (one per tool and scenario), like bench.py's; the tools' process-tree CPU is
# measured (RUSAGE_CHILDREN of this process around each run: threads, io-wq workers and rsync's
# child processes, which rsync waits for).
# ----------------------------------------------------------------------------------------------

class Real:
    mounts, loops, files, dirs = [], [], [], []


def real_cleanup():
    for m in reversed(Real.mounts):
        if subprocess.run(["umount", m], stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    Real.mounts.clear()
    for lo in Real.loops:
        subprocess.run(["losetup", "-d", lo], stderr=subprocess.DEVNULL)
    Real.loops.clear()
    for f in Real.files:
        try:
            os.unlink(f)
        except OSError:
            pass
    Real.files.clear()
    for d in Real.dirs:
        shutil.rmtree(d, ignore_errors=True)
    Real.dirs.clear()


class Dest:
    """A fresh journaled ext4 on a loop device over a sparse image in /dev/shm, mounted; dst inside."""

    def __init__(self, shm, tmp, tag, info):
        data = info["alloc"] + (info["dirs"] + info["symlinks"]) * 4096
        size = (data * 2 + info["entries"] * 2048 + (1 << 30) + (256 << 20) - 1) // (256 << 20) * (256 << 20)
        self.img = os.path.join(shm, f"{tag}.img")
        with open(self.img, "wb") as f:
            f.truncate(size)
        Real.files.append(self.img)
        sh("mkfs.ext4", "-q", "-F", "-N", str(int(info["entries"] * 1.2) + 8192),
           "-E", "lazy_itable_init=0,lazy_journal_init=0", self.img)
        self.loop = subprocess.run(["losetup", "--find", "--show", self.img], check=True,
                                   capture_output=True, text=True).stdout.strip()
        Real.loops.append(self.loop)
        self.mnt = os.path.join(tmp, f"mnt-{tag}")
        os.makedirs(self.mnt)
        sh("mount", self.loop, self.mnt)
        Real.mounts.append(self.mnt)
        self.dst = os.path.join(self.mnt, "dst")

    def drop(self):
        sh("umount", self.mnt)
        Real.mounts.remove(self.mnt)
        sh("losetup", "-d", self.loop)
        Real.loops.remove(self.loop)
        os.unlink(self.img)
        Real.files.remove(self.img)


def real_timed(argv):
    """-> dict(wall, cpu, other) in ms; exits on failure."""
    import bench
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0 = bench.busy_ms()
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = (time.perf_counter() - t) * 1000
    b1 = bench.busy_ms()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr[:500]!r}")
    cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
    return dict(wall=wall, cpu=cpu, other=max(0.0, b1 - b0 - cpu))


def ctimes(root):
    """{relpath: ctime} of every entry under root (find: fast, and it does not change a ctime)."""
    out = subprocess.run(["find", root, "-printf", r"%P\0%C@\0"], check=True, stdout=subprocess.PIPE).stdout
    parts = out.split(b"\0")
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def real_tools(ucp, src):
    # uring-cp follows cp's rules for DEST: without -T a second run would copy into DST/NAME. With -T,
    # `SRC/ DST/` means what it means to rsync: make DST a mirror of SRC.
    return {
        "uring-cp": lambda d: [ucp, "--sync", "-a", "--delete", "-T", src + "/", d + "/"],
        "rsync": lambda d: ["rsync", "-a", "--delete", src + "/", d + "/"],
    }


def mirror_check(src, dst, deep):
    """The mirror must equal the source: listing (type, mode, size, link target) and, if deep,
    contents (diff -r). -> '' or what differs."""
    import bench
    check, detail = bench.compare(bench.listing(src), bench.listing(dst))
    if check != "ok":
        return f"{check}: {detail}"
    if deep:
        d = subprocess.run(["diff", "-r", "--no-dereference", "-q", src, dst], capture_output=True, text=True)
        if d.returncode != 0:
            return "diff -r: " + (d.stdout + d.stderr)[:400]
    return ""


def real_table(w, title, res, note=""):
    base = statistics.median(r["wall"] for r in res["uring-cp"])
    w(f"\n### {title}\n")
    if note:
        w(note + "\n")
    w("| tool | median wall ms | ratio to uring-cp | min-max ms | median CPU ms | avg cores busy | "
      "median other CPU ms | runs (wall ms) |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, rs in res.items():
        walls = [r["wall"] for r in rs]
        mw, mc = statistics.median(walls), statistics.median(r["cpu"] for r in rs)
        w(f"| {name} | {mw:,.0f} | {mw / base:.2f} | {min(walls):,.0f}-{max(walls):,.0f} | {mc:,.0f} | "
          f"{mc / mw:.2f} | {statistics.median(r['other'] for r in rs):,.0f} | "
          + " ".join(f"{x:.0f}" for x in walls) + " |")


def real_round(tools, dests, r, label, res, ctime_counts=None):
    for n in interleaved(tools, r):
        before = ctimes(dests[n].dst) if ctime_counts is not None else None
        x = real_timed(tools[n](dests[n].dst))
        res[n].append(x)
        if before is not None:
            after = ctimes(dests[n].dst)
            changed = sum(1 for k, v in after.items() if before.get(k) != v) + sum(1 for k in before if k not in after)
            ctime_counts[n].append(changed)
        print(f"{label} run {r} {n}: {x['wall']:.0f} ms, cpu {x['cpu']:.0f} ms"
              + (f", {ctime_counts[n][-1]} ctimes changed" if before is not None else ""), file=sys.stderr)


def real_setup(tools, src, info, shm, tmp, tag):
    """Per tool: a fresh destination filesystem, the first (full) sync into it, written back, then
    one no-op re-sync: untimed. -> {tool: Dest}, {tool: first sync ms}."""
    dests, first = {}, {}
    for n, argv in tools.items():
        d = Dest(shm, tmp, f"{tag}-{n}", info)
        dests[n] = d
        first[n] = real_timed(argv(d.dst))["wall"]
        sh("sync", "-f", d.mnt)
        real_timed(argv(d.dst))
        why = mirror_check(src, d.dst, deep=False)
        if why:
            sys.exit(f"{n}'s first sync of {src} is not a mirror: {why}")
    return dests, first


def real_main():
    import bench
    tree = os.path.realpath(os.environ["TREE"].rstrip("/") or "/")
    if os.geteuid() != 0:
        sys.exit("TREE mode must run as root: it makes filesystems on loop devices and mounts them")
    if not os.path.isdir(tree):
        sys.exit(f"TREE={tree} is not a directory")
    ucp_src = os.environ.get("UCP", "/work/main/target/release/uring-cp")
    out = os.environ.get("OUT", os.path.join(REPO, "benches", "RESULTS-sync-real.md"))
    scenarios = os.environ.get("SCENARIOS", "resync changed1").split()
    scratch = os.environ.get("SCRATCH", "/var/tmp/uring-cp-bench/sync-real")
    seed = int(os.environ.get("SEED", "1"))
    tmp = tempfile.mkdtemp(prefix="uring-cp-sync-real.", dir="/tmp")
    shm = tempfile.mkdtemp(prefix="uring-cp-sync-real.", dir="/dev/shm")
    Real.dirs += [shm, tmp]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # The binary is copied first: a rebuild of target/ during the run changes nothing.
        ucp = os.path.join(tmp, "uring-cp")
        shutil.copy2(ucp_src, ucp)
        sha = subprocess.run(["sha256sum", ucp], capture_output=True, text=True).stdout[:16]
        ucp_repo = subprocess.run(["git", "-C", os.path.dirname(os.path.realpath(ucp_src)), "rev-parse",
                                   "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
        version = " ".join(subprocess.run([ucp, "-V"], capture_output=True, text=True).stdout.split())
        rsync_v = (subprocess.run(["rsync", "--version"], capture_output=True, text=True).stdout.splitlines() or ["?"])[0]
        t_start = time.time()
        lst = bench.listing(tree, strict=False)
        info = bench.summarize(lst)
        print(f"{tree}: {info['files']} files, {info['dirs']} dirs, {info['symlinks']} symlinks, "
              f"{info['bytes'] / 1e6:.1f} MB", file=sys.stderr)
        bench.warm(tree)
        L = []
        w = L.append
        w(f"# Sync on a real tree: {tree}")
        w("")
        w(f"Generated by `TREE={tree} benches/sync.py` on {time.strftime('%Y-%m-%d %H:%M %Z')}; "
          f"medians of {RUNS} runs, the tools interleaved (the order alternates per run).")
        w("")
        w(f"- machine: {os.cpu_count()} CPUs, kernel {os.uname().release}")
        w(f"- uring-cp: `{ucp_src}` ({version}; its checkout at {ucp_repo}), copied to a scratch place "
          f"before the run, sha256 `{sha}`; {rsync_v}")
        w(f"- tree: the machine's own `{tree}`: {info['files']:,} regular files, {info['dirs']:,} dirs, "
          f"{info['symlinks']:,} symlinks ({info['entries']:,} entries), "
          f"{bench.fmt_bytes(info['bytes'])} of data")
        w("- commands: `uring-cp --sync -a --delete -T SRC/ DST/` (uring-cp follows cp's rules for DST: "
          "-T makes a second run update DST instead of copying into DST/SRC) and "
          "`rsync -a --delete SRC/ DST/`")
        w("- each tool syncs its own destination: a fresh journaled ext4 (`mkfs.ext4 -E "
          "lazy_itable_init=0,lazy_journal_init=0`) on a loop device over an image in /dev/shm (RAM), per "
          "tool and scenario. Untimed before the timed runs: the first, full sync, `sync -f` of the "
          "destination, one no-op re-sync. Source and destination warm.")
        w("- wall = fork to exit; CPU = user+sys of the tool's process tree (RUSAGE_CHILDREN around the "
          "run: threads, io-wq workers, rsync's children); avg cores busy = median CPU / median wall; "
          "other = machine CPU outside the tool during the run (kernel threads, anyone else's load)")
        for scen in scenarios:
            if scen == "resync":
                tools = real_tools(ucp, tree)
                dests, first = real_setup(tools, tree, info, shm, tmp, "resync")
                res = {n: [] for n in tools}
                cts = {n: [] for n in tools}
                for r in range(RUNS):
                    real_round(tools, dests, r, "resync", res, cts)
                for n, d in dests.items():
                    why = mirror_check(tree, d.dst, deep=True)
                    if why:
                        sys.exit(f"{n}'s mirror differs from {tree} after the re-syncs: {why}")
                    d.drop()
                real_table(w, f"(a) No-op re-sync of `{tree}` ({info['entries']:,} entries), warm", res,
                           "First, full sync (untimed, for scale): " +
                           ", ".join(f"{n} {ms:,.0f} ms" for n, ms in first.items()) + ".")
                w("")
                w("ctime check: every entry of the destination was stat'ed (`find -printf %C@`) before and "
                  "after each timed no-op re-sync; entries whose ctime changed (or that appeared or "
                  "vanished), per run: " + "; ".join(
                      f"{n}: {' '.join(str(c) for c in cts[n])} (total {sum(cts[n])})" for n in cts)
                  + ". A no-op sync should leave every inode alone: 0 expected.")
                w("")
                w("Both mirrors equal the tree after the runs (listing and `diff -r --no-dereference`).")
            elif scen == "changed1":
                src = os.path.join(scratch, "src-" + (tree.strip("/").replace("/", "-") or "root"))
                print(f"copying {tree} to {src} (cp -a, untimed)", file=sys.stderr)
                os.makedirs(scratch, exist_ok=True)
                shutil.rmtree(src, ignore_errors=True)
                sh("cp", "-a", tree, src)
                sh("sync", "-f", src)
                slst = bench.listing(src)
                files = sorted(k for k, v in slst.items() if v[0] == "f")
                n_changed = max(1, len(files) // 100)
                tools = real_tools(ucp, src)
                bench.warm(src)
                dests, first = real_setup(tools, src, bench.summarize(slst), shm, tmp, "changed")
                res = {n: [] for n in tools}
                rng = random.Random(seed)
                bsrc = os.fsencode(src)
                for r in range(RUNS):
                    # In a second of its own: a file changed again in the second of its last change
                    # keeps its size and whole-second mtime, which rsync's quick check does not see
                    # (on a fast host rounds came less than a second apart and rsync's mirror
                    # differed from the source after the runs).
                    time.sleep(1.0 - time.time() % 1.0 + 0.01)
                    # 1% of the regular files: one byte flipped in place (same size) and a new mtime;
                    # empty files get only the new mtime. Written back before timing.
                    for rel in rng.sample(files, n_changed):
                        path = os.path.join(bsrc, rel)
                        size = int(slst[rel][2])
                        if size:
                            pos = rng.randrange(size)
                            with open(path, "r+b") as f:
                                f.seek(pos)
                                b = f.read(1)
                                f.seek(pos)
                                f.write(bytes([b[0] ^ 0xFF]))
                        st = os.lstat(path)
                        os.utime(path, ns=(st.st_atime_ns, time.time_ns()), follow_symlinks=False)
                    sh("sync", "-f", src)
                    real_round(tools, dests, r, "changed1", res)
                for n, d in dests.items():
                    why = mirror_check(src, d.dst, deep=True)
                    if why:
                        sys.exit(f"{n}'s mirror differs from {src} after the syncs: {why}")
                    d.drop()
                real_table(w, f"(b) Sync after 1% of the files changed: {n_changed:,} of {len(files):,} "
                              f"regular files per run, warm", res,
                           f"Source: `{src}`, a `cp -a` of `{tree}` on the root disk (untimed). Before each "
                           f"run, {n_changed:,} files (a seeded choice, seed {seed}, a new sample per run, "
                           "the same for both tools) get one byte flipped in place and a new mtime; "
                           "both mirrors are then up to date with the same previous state.")
                w("")
                w("Both mirrors equal the source after the runs (listing and `diff -r --no-dereference`).")
                shutil.rmtree(src, ignore_errors=True)
            else:
                sys.exit(f"unknown scenario {scen!r} with TREE (resync changed1)")
        w("")
        w(f"Total run time {(time.time() - t_start) / 60:.1f} min.")
        text = "\n".join(L) + "\n"
        with open(out + ".tmp", "w") as f:
            f.write(text)
        os.replace(out + ".tmp", out)
        print(text)
        print(f"wrote {out}", file=sys.stderr)
    finally:
        real_cleanup()


def main():
    if os.environ.get("TREE"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        return real_main()
    os.makedirs(WORK, exist_ok=True)
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print(f"## Sync benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, rev {rev}, "
          f"{os.cpu_count()} CPUs, medians of {RUNS} interleaved runs)")
    for s in SCENARIOS:
        {"resync": resync, "changed1": changed1, "fsync": fsync}[s]()


if __name__ == "__main__":
    main()
