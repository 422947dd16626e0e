#!/usr/bin/env python3
"""End-to-end benchmark driver for uring-cp. Start it through benches/run.sh (which checks for
root, installs the system tools, builds and snapshots the binary, and cleans up on any exit);
see benches/README.md for the method and the knobs.

    bench.py run                  generate/cache corpora, run the matrix, write RESULTS.md
    bench.py report RAW.jsonl     re-write RESULTS.md from a previous run's raw data
"""
import datetime
import glob
import hashlib
import json
import math
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

# ----------------------------------------------------------------------------------------------
# Configuration (environment)
# ----------------------------------------------------------------------------------------------

GEN_VERSION = 1  # bump whenever a generator below changes: cached corpora are then regenerated


def env_int(name, default):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        sys.exit(f"{name} must be an integer, got {v!r}")
    if n < 0:
        sys.exit(f"{name} must be >= 0")
    return n


def env_str(name, default):
    v = os.environ.get(name, "")
    return v if v != "" else default


QUICK = os.environ.get("QUICK", "0") == "1"
D = (dict(SMALL_FILES=3000, FLAT_FILES=2000, LARGE_MB=64, LARGE_COUNT=2, MIXED_FILES=2000,
          MIXED_BIG_MB=16, MIXED_BIG_COUNT=4, RUNS=2, QUIET_WAIT=1, MILLION_FILES=20000)
     if QUICK else
     dict(SMALL_FILES=100000, FLAT_FILES=20000, LARGE_MB=1024, LARGE_COUNT=2, MIXED_FILES=30000,
          MIXED_BIG_MB=256, MIXED_BIG_COUNT=4, RUNS=5, QUIET_WAIT=3, MILLION_FILES=1000000))

CFG = {k: env_int(k, v) for k, v in D.items()}
# The first scenario gets RUNS rounds, the others SECONDARY_RUNS (a scenario written FS:PLACE:CACHE:N
# gets N); QUICK: 1.
CFG["SECONDARY_RUNS"] = env_int("SECONDARY_RUNS", 1 if QUICK else min(3, CFG["RUNS"]))
CFG["QUICK"] = QUICK
# Real trees (see ensure_corpus): three of the machine's own, used in place, and a CPython library
# tree built once. CORPORA=real is shorthand for the four.
REAL_CORPORA = ["usr-share", "python", "usr-include", "toolchain"]
# CORPORA= (set but empty) means none, e.g. MILLION=1 CORPORA= for the peak-RSS check alone.
CFG["CORPORA"] = [c for word in os.environ.get("CORPORA", "small flat large mixed").split()
                  for c in (REAL_CORPORA if word == "real" else [word])]
# Default: ~30 min on the 2-CPU reference machine. FULL=1: the whole FS x PLACEMENT x CACHE matrix.
FULL = os.environ.get("FULL", "0") == "1"
CFG["FULL"] = FULL
CFG["SCENARIOS"] = env_str(
    "SCENARIOS", "ext4:cross:warm ext4:cross:cold xfs:cross:warm xfs:cross:cold "
                 "ext4:same:warm xfs:same:warm ext4:same:cold xfs:same:cold" if FULL else
                 "ext4:cross:warm ext4:cross:cold xfs:cross:warm ext4:same:warm"
                 + (" xfs:same:warm" if QUICK else "")).split()
CFG["TOOLS"] = env_str("TOOLS", "uring portable ring cp rsync cpz xcp fcp").split()
# Syscall census: perf (syscall tracepoint counters: exact total, per-syscall breakdown of the
# usual suspects, ~no slowdown) when it works here, else strace -f -c (slow: minutes per tool on
# 100k files); off to skip. STRACE=0 also means off.
CFG["CENSUS"] = env_str("CENSUS", "auto" if env_str("STRACE", "1") == "1" else "off")
CFG["MILLION"] = env_str("MILLION", "0") == "1"
CFG["RUN_TIMEOUT"] = env_int("RUN_TIMEOUT", 900)
# One untimed copy (first tool) before the timed rounds of each scenario and corpus: the first copy
# after a multi-GB template was built paid several seconds of extra system time (memory reclaim),
# and the first tool in the rotation (uring-cp) took the hit every time.
CFG["WARMUP"] = env_int("WARMUP", 1)
BENCH_ROOT = env_str("BENCH_ROOT", "/var/tmp/uring-cp-bench")
CORPUS_DIR = os.path.join(BENCH_ROOT, "corpora")

# Set by run.sh
WORK = os.environ.get("BENCH_WORK", "")        # scratch dir (root disk): mount points, logs
SHM = os.environ.get("BENCH_SHM", "")          # dir in /dev/shm for the filesystem images
UCP = os.environ.get("UCP_BIN", "")            # snapshot of target/release/uring-cp
OUT = os.environ.get("BENCH_OUT", "")          # RESULTS.md path

TOOL_LABEL = {
    "auto": "uring-cp -r (default: --engine auto)",
    "uring": "uring-cp -r --engine uring",
    "portable": "uring-cp -r --engine portable",
    "ring": "uring-cp -r --engine uring --ring-reads always",
    "chains": "uring-cp -r --engine uring-chains",
    "walkers": "uring-cp -r --engine walkers",
    "bar": "uring-cp -r --progress (in a pseudo-terminal)",
    "cp": "cp -r",
    "rsync": "rsync -a",
    "cpz": "cpz",
    "xcp": "xcp -r",
    "fcp": "fcp",
}
OURS = ("auto", "uring", "portable", "ring", "chains", "walkers", "bar")   # uring-cp itself, in its configurations
FS_UUID = {"ext4": "6f0c5a8e-3b1d-4c2a-9e7f-0a1b2c3d4e5f", "xfs": "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"}
EXT4_HASH_SEED = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*argv, check=True, capture=False, **kw):
    r = subprocess.run(list(argv), check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[:2000]}")
    return r


# ----------------------------------------------------------------------------------------------
# Corpus generation (deterministic: fixed seeds, data from a seeded PRNG pool / AES-CTR stream)
# ----------------------------------------------------------------------------------------------

# File sizes skewed like a source tree: most small, a long tail up to a few MiB.
# (probability, low, high): log-uniform within each band.
SIZE_BANDS = [(0.01, 0, 0), (0.69, 64, 4096), (0.25, 4096, 16384), (0.045, 16384, 131072),
              (0.0045, 131072, 1 << 20), (0.0005, 1 << 20, 4 << 20)]
STEMS = ["main", "util", "core", "config", "test_", "parser", "mod", "index", "types", "io",
         "buffer", "handler", "README", "Makefile", "setup", "lexer", "client", "server", "api", "x"]
EXTS = ["c", "h", "rs", "py", "txt", "md", "json", "js", "go", "toml", "html", "S", "o", "png"]
DIRWORDS = ["src", "lib", "include", "tests", "docs", "tools", "net", "fs", "drivers", "arch",
            "kernel", "util", "core", "scripts", "examples", "vendor", "assets", "internal"]


def draw_size(rng):
    r = rng.random()
    acc = 0.0
    for p, lo, hi in SIZE_BANDS:
        acc += p
        if r < acc:
            break
    if hi == 0:
        return 0
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def data_pool(seed, size=32 << 20):
    return memoryview(random.Random(seed).randbytes(size))


def write_file(path, pool, rng, n, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        if n:
            off = rng.randrange(0, len(pool) - n)
            mv = pool[off:off + n]
            while mv:
                k = os.write(fd, mv)
                mv = mv[k:]
    finally:
        os.close(fd)


def aes_file(path, nbytes, key_index):
    """nbytes of an AES-128-CTR keystream (fast, incompressible, deterministic)."""
    if shutil.which("openssl") is None:
        sh("sh", "-c", f"head -c {nbytes} /dev/urandom > '{path}'")   # not reproducible, but works
        return
    key = hashlib.sha256(f"uring-cp-bench-{key_index}".encode()).hexdigest()[:32]
    sh("sh", "-c", f"openssl enc -aes-128-ctr -nosalt -K {key} -iv 00000000000000000000000000000001 "
                   f"</dev/zero 2>/dev/null | head -c {nbytes} > '{path}'")
    if os.path.getsize(path) != nbytes:
        raise RuntimeError(f"short large file {path}")


def gen_tree(root, nfiles, seed, files_per_dir=20, symlinks=True, sizes=None):
    """A random recursive directory tree (each new directory under a random earlier one, so depth
    grows like a real source tree), files spread over directories with exponential weights
    (mean ~files_per_dir, some directories much bigger), a few symlinks. Returns the dir list."""
    rng = random.Random(seed)
    pool = data_pool(seed + 1)
    ndirs = max(1, round(nfiles / files_per_dir))
    dirs = [""]
    for k in range(1, ndirs):
        parent = dirs[rng.randrange(len(dirs))]
        name = f"{DIRWORDS[rng.randrange(len(DIRWORDS))]}{k:05d}"
        dirs.append(f"{parent}/{name}" if parent else name)
    for d in dirs[1:]:
        os.mkdir(os.path.join(root, d))
    weights = [rng.expovariate(1.0) for _ in dirs]
    owner = rng.choices(range(len(dirs)), weights=weights, k=nfiles)
    per_dir = [[] for _ in dirs]
    for i, d in enumerate(owner):
        per_dir[d].append(i)
    first_file = {}
    for d, files in enumerate(per_dir):           # written directory by directory, like an unpack
        for i in files:
            name = f"{STEMS[rng.randrange(len(STEMS))]}{i:06d}.{EXTS[rng.randrange(len(EXTS))]}"
            n = sizes(rng) if sizes else draw_size(rng)
            mode = 0o755 if rng.random() < 0.03 else 0o644
            write_file(os.path.join(root, dirs[d], name), pool, rng, n, mode)
            first_file.setdefault(d, name)
    nlinks = 0
    if symlinks:
        nlinks = max(4, nfiles // 200)
        for j in range(nlinks):
            d = rng.randrange(len(dirs))
            kind = j % 4
            if kind == 0 and d in first_file:
                target = first_file[d]                          # sibling file
            elif kind == 1 or (kind == 0):
                target = ".."                                   # a directory
            elif kind == 2:
                target = "does-not-exist"                       # dangling
            else:
                target = f"../{os.path.basename(dirs[d])}" if dirs[d] else "."  # through the parent
            os.symlink(target, os.path.join(root, dirs[d], f"link{j:05d}"))
    return dirs


def corpus_params(name):
    c = CFG
    if name == "small":
        return {"files": c["SMALL_FILES"]}
    if name == "flat":
        return {"files": c["FLAT_FILES"]}
    if name == "large":
        return {"count": c["LARGE_COUNT"], "mb": c["LARGE_MB"]}
    if name == "mixed":
        return {"files": c["MIXED_FILES"], "big": c["MIXED_BIG_COUNT"], "big_mb": c["MIXED_BIG_MB"]}
    if name == "million":
        return {"files": c["MILLION_FILES"]}
    if name == "python":
        return {"py": PY_VERSION, "v": PY_CORPUS_VERSION}
    raise SystemExit(f"unknown corpus {name!r} (small flat large mixed million; real trees: "
                     f"{' '.join(REAL_CORPORA)}, or real for those four; python-lib)")


def generate(name, root, p):
    os.umask(0o022)
    if name == "small":
        gen_tree(root, p["files"], seed=1001)
    elif name == "flat":
        rng = random.Random(2002)
        pool = data_pool(2003)
        for i in range(p["files"]):
            fname = f"{STEMS[rng.randrange(len(STEMS))]}{i:06d}.{EXTS[rng.randrange(len(EXTS))]}"
            write_file(os.path.join(root, fname), pool, rng, draw_size(rng))
    elif name == "large":
        for k in range(p["count"]):
            aes_file(os.path.join(root, f"big{k}.bin"), p["mb"] << 20, key_index=k)
    elif name == "mixed":
        dirs = gen_tree(root, p["files"], seed=4004)
        rng = random.Random(4005)
        for k in range(p["big"]):
            d = dirs[rng.randrange(len(dirs))]
            aes_file(os.path.join(root, d, f"blob{k}.bin"), p["big_mb"] << 20, key_index=100 + k)
    elif name == "million":
        # Mostly empty files (1 in 20 holds 1-100 bytes): metadata-bound, keeps the images small.
        gen_tree(root, p["files"], seed=5005, symlinks=False,
                 sizes=lambda rng: rng.randint(1, 100) if rng.random() < 0.05 else 0)
    elif name == "python":
        return build_python(root, p)


# ----------------------------------------------------------------------------------------------
# Real trees. usr-share, usr-include, toolchain: the machine's own, used in place as the source
# (nothing copied, nothing cached: listed and counted at the start of each run). python: a CPython
# library tree as a used install has it, built once from Debian's packages and cached like the
# generated corpora.
# ----------------------------------------------------------------------------------------------

IN_PLACE = ("usr-share", "usr-include", "toolchain", "python-lib")
PY_VERSION = "3.11"
PY_CORPUS_VERSION = 1      # bump when build_python changes
PY_TESTSUITE = f"libpython{PY_VERSION}-testsuite"
PY_MIN_ENTRIES = 20000     # below this, /usr/lib/python3/dist-packages is added beside the stdlib


def toolchain_root():
    """The Rust toolchain's sysroot (`rustc --print sysroot`), else the first rustup stable one."""
    try:
        r = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, timeout=60)
        if r.returncode == 0 and os.path.isdir(r.stdout.strip()):
            return r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    base = os.path.join(os.environ.get("RUSTUP_HOME", os.path.expanduser("~/.rustup")), "toolchains")
    cands = sorted(d for d in (os.listdir(base) if os.path.isdir(base) else []) if d.startswith("stable-"))
    return os.path.join(base, cands[0]) if cands else None


def in_place_root(name):
    """-> (path or None, why not)."""
    if name == "usr-share":
        p = "/usr/share"
    elif name == "usr-include":
        p = "/usr/include"
    elif name == "toolchain":
        p = toolchain_root()
        if not p:
            return None, "no Rust toolchain found (`rustc --print sysroot` failed, no ~/.rustup/toolchains/stable-*)"
    elif name == "python-lib":
        # PYLIB, else the standard library directory of PATH's python3 (here pyenv's 3.11.7 with
        # its site-packages: the 54.5k-entry tree of /work/shared/notes/io_uring-facts.md).
        p = os.environ.get("PYLIB", "")
        if not p:
            r = subprocess.run(["python3", "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                               capture_output=True, text=True)
            p = r.stdout.strip()
            if r.returncode != 0 or not p:
                return None, "python3 on PATH did not name its standard library directory"
    else:
        return None, ""
    p = os.path.realpath(p)
    if not os.path.isdir(p):
        return None, f"{p} does not exist here"
    return p, ""


def dpkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def compile_tree(py, tree):
    """Byte-compile like a used install: __pycache__/*.pyc at optimization levels 0, 1 and 2.
    Errors (test files with deliberate syntax errors, Python 2 leftovers) are ignored. A fixed hash
    seed keeps the .pyc bytes reproducible (frozenset constants are marshalled in hash order);
    niced: the machine may be shared."""
    subprocess.run(["nice", "-n", "19", py, "-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2", tree],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONHASHSEED="0"))


def build_python(root, p):
    """A CPython library tree with thousands of directories: Debian's /usr/lib/python3.X with its
    test suite (package libpython3.X-testsuite, installed if missing), copied with cp -a and
    byte-compiled in place (3 optimization levels); if that is under PY_MIN_ENTRIES entries,
    /usr/lib/python3/dist-packages copied beside it and compiled the same way. Returns a text for
    the report saying what went in."""
    py = f"/usr/bin/python{p['py']}"          # not PATH's python3.X: pyenv shims may come first
    lib = f"/usr/lib/python{p['py']}"
    if not os.access(py, os.X_OK) or not os.path.isdir(lib):
        raise SystemExit(f"corpus python needs {py} and {lib} (apt-get install python{p['py']})")
    if dpkg_version(PY_TESTSUITE) is None:
        log(f"installing {PY_TESTSUITE} (the CPython test suite, for the python corpus)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if subprocess.run(["apt-get", "install", "-y", "-q", PY_TESTSUITE], env=env,
                          stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", PY_TESTSUITE], env=env, stdout=subprocess.DEVNULL)
    parts = []
    sh("cp", "-a", lib, os.path.join(root, f"python{p['py']}"))
    compile_tree(py, os.path.join(root, f"python{p['py']}"))
    ts = dpkg_version(PY_TESTSUITE)
    minimal = dpkg_version(f"python{p['py']}-minimal") or "?"
    parts.append(f"`{lib}` (python{p['py']} {minimal}, "
                 + (f"with {PY_TESTSUITE} {ts}" if ts else f"WITHOUT {PY_TESTSUITE}: it could not be installed")
                 + ")")
    n = len(listing(root))
    dist = "/usr/lib/python3/dist-packages"
    if n < PY_MIN_ENTRIES and os.path.isdir(dist):
        sh("cp", "-a", dist, os.path.join(root, "dist-packages"))
        compile_tree(py, os.path.join(root, "dist-packages"))
        parts.append(f"`{dist}` beside it ({n:,} entries without it)")
    return ("copied with `cp -a` and byte-compiled (`compileall -o 0 -o 1 -o 2`): " + " + ".join(parts))


# Per corpus path: the source listing with what cannot be compared left out, and what was left out
# (relative paths of unreadable or special entries; directories stand for their whole subtree).
SRC_LISTS = {}
EXCLUDED = {}


def ensure_corpus(name):
    """-> (root, info); root None (info = {"reason": ...}) for a real tree that is missing here."""
    if name in IN_PLACE:
        return in_place_corpus(name)
    p = corpus_params(name)
    sig = "-".join(f"{k}{v}" for k, v in p.items())
    root = os.path.join(CORPUS_DIR, f"{name}-{sig}-g{GEN_VERSION}")
    stamp = root + ".stamp"                     # outside the tree, so it is not copied
    if os.path.exists(stamp):
        return root, json.load(open(stamp))
    log(f"generating corpus {name} ({p}) under {root}")
    t0 = time.time()
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    origin = generate(name, root, p)
    sh("sync")
    lst = listing(root)
    info = summarize(lst)
    info.update(name=name, params=p, path=root, gen_seconds=round(time.time() - t0, 1),
                generated=time.strftime("%Y-%m-%d %H:%M:%S"))
    if origin:
        info["origin"] = origin
    json.dump(info, open(stamp, "w"))
    log(f"corpus {name}: {info['files']} files, {info['dirs']} dirs, {info['symlinks']} symlinks, "
        f"{info['bytes'] / 1e6:.1f} MB in {info['gen_seconds']} s")
    return root, info


def in_place_corpus(name):
    """One of the machine's own trees as the source, in place. Counted now (not cached: the tree may
    change between runs). Entries the tools could not read (unreadable files, directories that
    cannot be listed or searched) and special files (devices, FIFOs, sockets: tools disagree on
    them) are not compared after a copy: see exclusions()."""
    root, why = in_place_root(name)
    if root is None:
        log(f"corpus {name}: skipped: {why}")
        return None, {"reason": why}
    t0 = time.time()
    lst = listing(root, strict=False)
    bad = unreadable(root, lst)
    info = summarize(lst)
    info.update(name=name, params={"in place": root}, path=root, in_place=True,
                listed=time.strftime("%Y-%m-%d %H:%M:%S"), gen_seconds=round(time.time() - t0, 1),
                excluded=len(bad), excluded_examples=[f"{r.decode(errors='replace')} ({why})" for r, why in bad[:5]])
    EXCLUDED[root] = {r for r, _ in bad}
    SRC_LISTS[root] = prune(lst, root)
    log(f"corpus {name}: the machine's own {root}, in place: {info['files']} files, {info['dirs']} dirs, "
        f"{info['symlinks']} symlinks, {info['bytes'] / 1e6:.1f} MB, largest file {info['max_file']:,} B"
        + (f"; {len(bad)} unreadable/special entries not compared, e.g. {info['excluded_examples'][:2]}"
           if bad else ""))
    return root, info


def unreadable(root, lst):
    """[(relpath, why)] of the entries a copying tool could not read: files that cannot be opened,
    directories that cannot be opened or searched, special files. Symlinks only need readlink,
    which find already did."""
    bad = []
    broot = os.fsencode(root)
    for rel, v in lst.items():
        t = v[0]
        if t == "l":
            continue
        if t not in ("f", "d"):
            bad.append((rel, f"special file, type {t}"))
            continue
        path = os.path.join(broot, rel) if rel else broot
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
                         | (os.O_DIRECTORY if t == "d" else 0))
            os.close(fd)
            if t == "d" and not os.access(path, os.X_OK):
                bad.append((rel, "directory not searchable"))
        except OSError as e:
            bad.append((rel, e.strerror))
    return bad


def prune(lst, root):
    """lst without the entries excluded for the corpus at root (and what lies under them)."""
    ex = EXCLUDED.get(root)
    if not ex:
        return lst
    dirs = tuple(r + b"/" for r in ex)
    return {k: v for k, v in lst.items() if k not in ex and not k.startswith(dirs)}


def src_listing(root):
    return SRC_LISTS.get(root) or listing(root)


def check_copy(src_root, src_list, dst):
    """Compare dst with the source listing -> (status, detail). In-place corpora: excluded entries
    are left out on both sides; if the copy differs, the source is listed again (a real tree can
    change under the benchmark: a package install), and if it did change, src_list is updated in
    place for the later runs and the detail says so."""
    if not os.path.lexists(dst):
        return "FAIL", "no destination created"
    dl = prune(listing(dst, strict=False), src_root)
    check, detail = compare(src_list, dl)
    if check != "ok" and src_root in SRC_LISTS:
        fresh = prune(listing(src_root, strict=False), src_root)
        if fresh != src_list:
            n_old = len(src_list)
            src_list.clear()
            src_list.update(fresh)
            check, detail = compare(src_list, dl)
            detail = (f"the source tree changed during the benchmark ({n_old:,} -> {len(fresh):,} entries; "
                      "compared with a fresh listing)" + (f"; {detail}" if detail else ""))
    return check, detail


def diff_excludes(src_root):
    """diff -r options leaving out the excluded entries (by name: diff -x matches base names)."""
    ex = EXCLUDED.get(src_root) or ()
    esc = lambda n: "".join(f"[{c}]" if c in "*?[]\\" else c for c in n)
    return [f"--exclude={esc(os.path.basename(r.decode(errors='surrogateescape')))}" for r in sorted(ex) if r]


# ----------------------------------------------------------------------------------------------
# Listings: what a correct copy must reproduce (type, size, link target per path; modes apart)
# ----------------------------------------------------------------------------------------------

def listing(root, strict=True):
    """{relpath: (type, mode, size, linktarget)} via find (fast); dir sizes are fs-specific: '-'.
    strict=False: what find could list even if it met unreadable directories (exit status 1)."""
    out = subprocess.run(["find", root, "-printf", r"%y %m %s %P\0%l\0"], check=strict,
                         stdout=subprocess.PIPE, stderr=None if strict else subprocess.DEVNULL).stdout
    parts = out.split(b"\0")
    res = {}
    for i in range(0, len(parts) - 1, 2):
        head, _, path = parts[i].partition(b" ")
        mode, _, rest = path.partition(b" ")
        size, _, rel = rest.partition(b" ")
        t = head.decode()
        res[rel] = (t, mode.decode(), "-" if t == "d" else size.decode(), parts[i + 1])
    return res


def summarize(lst):
    files = [v for v in lst.values() if v[0] == "f"]
    sizes = [int(v[2]) for v in files]
    return dict(files=len(files), dirs=sum(1 for v in lst.values() if v[0] == "d"),
                symlinks=sum(1 for v in lst.values() if v[0] == "l"),
                entries=len(lst), bytes=sum(sizes), max_file=max(sizes, default=0),
                alloc=sum((s + 4095) // 4096 * 4096 for s in sizes))


def compare(src, dst):
    """-> (status, detail). status: ok | modes | FAIL."""
    if src == dst:
        return "ok", ""
    missing = [k for k in src if k not in dst]
    extra = [k for k in dst if k not in src]
    diff = [k for k in src if k in dst and src[k] != dst[k]]
    struct = [k for k in diff if src[k][0] != dst[k][0] or src[k][2:] != dst[k][2:]]
    nf_src = sum(1 for v in src.values() if v[0] == "f")
    nf_dst = sum(1 for v in dst.values() if v[0] == "f")
    b_src = sum(int(v[2]) for v in src.values() if v[0] == "f")
    b_dst = sum(int(v[2]) for v in dst.values() if v[0] == "f")
    if not missing and not extra and not struct:
        ex = diff[0]
        return "modes", (f"{len(diff)} entries with other permission bits, e.g. "
                         f"{ex.decode(errors='replace') or '.'}: {src[ex][1]} -> {dst[ex][1]} "
                         f"(type {src[ex][0]})")
    bits = [f"files {nf_dst}/{nf_src}, bytes {b_dst}/{b_src}"]
    for label, ks in (("missing", missing), ("extra", extra), ("differing", struct)):
        if ks:
            ex = ks[0]
            what = f"{label} {len(ks)}, e.g. {ex.decode(errors='replace') or '.'}"
            if label == "differing":
                what += f" {src[ex][0]}/{src[ex][2]}/{src[ex][3].decode(errors='replace')} -> " \
                        f"{dst[ex][0]}/{dst[ex][2]}/{dst[ex][3].decode(errors='replace')}"
            elif label == "missing":
                what += f" ({src[ex][0]})"
            bits.append(what)
    return "FAIL", "; ".join(bits)


# ----------------------------------------------------------------------------------------------
# Filesystem images: a template per (fs, corpus, placement), restored before every timed run
# ----------------------------------------------------------------------------------------------

class State:
    child = None          # pid of a running tool
    mounts = []           # mount points we mounted
    loops = []            # loop devices we attached
    files = []            # image files we created


def round_up(n, unit):
    return (n + unit - 1) // unit * unit


class Image:
    def __init__(self, fs, info, same, tag):
        self.fs, self.same = fs, same
        mult = 2 if same else 1
        data = info["alloc"] + info["dirs"] * 4096 + info["symlinks"] * 4096
        # Generous: the image is sparse (only written blocks take RAM), and a tight one fails for
        # reasons of its own: xfs reserves space for delayed allocation and speculative
        # preallocation of many files written in parallel, and answered ENOSPC (fcp, creating a
        # symlink) with 1.07 GB of data in a 1.7 GiB image.
        self.size = round_up(data * mult * 2 + info["entries"] * mult * 2048 + (1 << 30), 256 << 20)
        self.inodes = int(info["entries"] * mult * 1.2) + 8192
        self.template = os.path.join(SHM, f"{tag}.template.img")
        self.img = os.path.join(SHM, f"{tag}.img")
        self.mnt = os.path.join(WORK, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        self.loop = None

    def mkfs(self, path):
        if self.fs == "ext4":
            # lazy init off: no ext4lazyinit thread zeroing inode tables during a timed run.
            # Fixed UUID + hash seed: the same directory-hash and Orlov placement every time.
            sh("mkfs.ext4", "-q", "-F", "-U", FS_UUID["ext4"], "-N", str(self.inodes),
               "-E", f"lazy_itable_init=0,lazy_journal_init=0,hash_seed={EXT4_HASH_SEED}", path)
        elif self.fs == "xfs":
            sh("mkfs.xfs", "-q", "-f", "-m", f"uuid={FS_UUID['xfs']}", path)
        else:
            raise SystemExit(f"unknown filesystem {self.fs!r} (ext4 xfs)")

    def build(self, src=None):
        with open(self.template, "wb") as f:
            f.truncate(self.size)
        State.files.append(self.template)
        self.mkfs(self.template)
        if src is not None:
            # Same-filesystem placement: the corpus is copied into the image once (untimed) and the
            # image with the source in it becomes the template.
            self._attach(self.template)
            sh("cp", "-a", src, os.path.join(self.mnt, "src"))
            self.detach(remove=False)

    def _attach(self, path):
        self.loop = sh("losetup", "--find", "--show", path, capture=True).stdout.strip()
        State.loops.append(self.loop)
        sh("mount", self.loop, self.mnt)
        State.mounts.append(self.mnt)

    def fresh(self):
        """A bit-identical copy of the template, attached and mounted."""
        sh("cp", "--sparse=always", self.template, self.img)
        State.files.append(self.img)
        self._attach(self.img)

    def detach(self, remove=True):
        """Unmount (writes everything back), detach, delete the image. Returns how long the mount
        stayed busy (ms): a process's io_uring is torn down asynchronously after it exits, and its
        files can keep the filesystem busy for a moment."""
        busy_ms = 0
        if self.mnt in State.mounts:
            t0 = time.perf_counter()
            while True:
                t_try = time.perf_counter()
                r = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
                if r.returncode == 0:
                    if busy_ms:                      # busy until this (successful) attempt began
                        busy_ms = max(1.0, (t_try - t0) * 1e3)
                    break
                busy_ms = (time.perf_counter() - t0) * 1e3
                if "busy" not in r.stderr or busy_ms > 30000:
                    if "busy" in r.stderr:          # give up waiting: lazy unmount, and say so
                        log(f"{self.mnt} still busy after {busy_ms:.0f} ms; lazy unmount")
                        sh("umount", "-l", self.mnt)
                        busy_ms = -busy_ms
                        break
                    raise RuntimeError(f"umount {self.mnt}: {r.stderr.strip()}")
                time.sleep(0.02)
            State.mounts.remove(self.mnt)
        if self.loop:
            sh("losetup", "-d", self.loop)
            State.loops.remove(self.loop)
            self.loop = None
        if remove and self.img in State.files:
            os.unlink(self.img)
            State.files.remove(self.img)
        return round(busy_ms)

    def drop(self):
        """Tear down; while an exception is propagating, leave it to cleanup() (never raise)."""
        if sys.exc_info()[0] is not None:
            return
        self.detach()
        if self.template in State.files:
            os.unlink(self.template)
            State.files.remove(self.template)


def cleanup():
    if State.child:
        try:
            os.kill(State.child, signal.SIGTERM)      # the timeit helper SIGKILLs the tool
            os.waitpid(State.child, 0)
        except OSError:
            pass
        State.child = None
    for m in list(State.mounts):
        if subprocess.run(["umount", m], stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        State.mounts.remove(m)
    for lo in list(State.loops):
        subprocess.run(["losetup", "-d", lo], stderr=subprocess.DEVNULL)
        State.loops.remove(lo)
    for f in list(State.files):
        try:
            os.unlink(f)
        except OSError:
            pass
        State.files.remove(f)


# ----------------------------------------------------------------------------------------------
# Timing: quiet gate, posix_spawn + wait4 (wall, user+sys, max RSS), machine-wide CPU cross-check
# ----------------------------------------------------------------------------------------------

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def busy_ms():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) * TICK_MS


def quiet_gate():
    """Wait (up to QUIET_WAIT s) until the machine is idle: <=10% of one CPU busy over 100 ms
    (/proc/stat counts in 10 ms ticks, so: at most one tick)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < CFG["QUIET_WAIT"]:
        b0 = busy_ms()
        time.sleep(0.1)
        if busy_ms() - b0 <= 10:
            break
    return (time.perf_counter() - t0) * 1e3


TIMEIT = os.environ.get("TIMEIT_BIN", "")      # benches/timeit.c, compiled by run.sh


def spawn_wait(argv, stderr_path, timeout=0):
    """Run argv under the timeit helper (stdin/stdout /dev/null, stderr to a file).
    -> dict(wall_ms, user_ms, sys_ms, cpu_ms, maxrss_kib, rc)."""
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0])
    if not exe:
        raise RuntimeError(f"{argv[0]}: not found on PATH")
    resf = os.path.join(WORK, "timeit.out")
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    helper = [TIMEIT, resf, str(int(timeout or 0)), exe] + list(argv[1:])
    pid = os.posix_spawn(TIMEIT, helper, os.environ, file_actions=actions)
    State.child = pid
    _, status = os.waitpid(pid, 0)
    State.child = None
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"timeit helper failed ({status}): {stderr_excerpt(stderr_path)}")
    wall, user, sys_, rss, rc = open(resf).read().split()
    return dict(wall_ms=float(wall), user_ms=float(user), sys_ms=float(sys_),
                cpu_ms=round(float(user) + float(sys_), 3), maxrss_kib=int(rss), rc=int(rc))


def timed(argv, stderr_path):
    waited = quiet_gate()
    b0 = busy_ms()
    res = spawn_wait(argv, stderr_path, timeout=CFG["RUN_TIMEOUT"])
    b1 = busy_ms()
    res.update(other_ms=round(max(0.0, b1 - b0 - res["cpu_ms"])), waited_ms=round(waited))
    return res


def drop_caches():
    sh("sync")
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def page_out_idle():
    """What pages out idle page cache on this machine, if anything: a DAMON scheme (this host's
    kernel runs one that pages out unmapped file pages not seen accessed for 60 s, at up to 128
    MiB/s). A source read once per round of tools looks idle to its sampling, so a warm `cross`
    source read only at the start of a scenario was partly paged out after a minute: runs of any
    tool then went bimodal (CPython into ext4, 11 runs: ours 432-472 ms or 524-592 with less CPU,
    cpz 466-477 or 505-513). Every warm run therefore re-reads its source first."""
    base = "/sys/kernel/mm/damon/admin/kdamonds"
    found = []
    try:
        for k in sorted(os.listdir(base)):
            if not k.isdigit():
                continue
            with open(f"{base}/{k}/state") as f:
                state = f.read().strip()
            schemes = glob.glob(f"{base}/{k}/contexts/*/schemes/*/action")
            actions = sorted({open(a).read().strip() for a in schemes})
            found.append(f"kdamond {k} {state} ({', '.join(actions) or 'no scheme'})")
    except OSError:
        pass
    return "; ".join(found) or "none found"


def warm(root):
    """Read every file's data and every inode once (page cache, dentries, inodes). Parallel: a
    freshly mounted loop device answers one synchronous read at a time per reader (100k files:
    9.5 s with one reader, 3.5 s with several)."""
    sh("sh", "-c", f"find '{root}' -type f -print0 | xargs -0 -r -P 4 -n 500 cat > /dev/null")


# ----------------------------------------------------------------------------------------------
# Tools
# ----------------------------------------------------------------------------------------------

def tool_cmd(tool, src, dst):
    return {
        "auto": [UCP, "-r", src, dst],
        "uring": [UCP, "-r", "--engine", "uring", src, dst],
        "portable": [UCP, "-r", "--engine", "portable", src, dst],
        "ring": [UCP, "-r", "--engine", "uring", "--ring-reads", "always", src, dst],
        "chains": [UCP, "-r", "--engine", "uring-chains", src, dst],
        "walkers": [UCP, "-r", "--engine", "walkers", src, dst],
        # The progress bar drawn into a pseudo-terminal (util-linux script): its cost.
        "bar": [shutil.which("script") or "script", "-qec",
                " ".join(shlex.quote(a) for a in [UCP, "-r", "--progress", src, dst]), "/dev/null"],
        "cp": [shutil.which("cp") or "cp", "-r", src, dst],
        "rsync": [shutil.which("rsync") or "rsync", "-a", src + "/", dst],
        "cpz": [shutil.which("cpz") or "cpz", src, dst],
        "xcp": [shutil.which("xcp") or "xcp", "-r", "--no-progress", src, dst],
        "fcp": [shutil.which("fcp") or "fcp", src, dst],
    }[tool]


def available_tools():
    have, missing = [], []
    for t in CFG["TOOLS"]:
        if t not in TOOL_LABEL:
            sys.exit(f"unknown tool {t!r}: {' '.join(TOOL_LABEL)}")
        exe = UCP if t in OURS else shutil.which(t)
        (have if exe and os.access(exe, os.X_OK) else missing).append(t)
    return have, missing


def tool_version(tool):
    try:
        if tool in OURS:
            r = subprocess.run([UCP, "-V"], capture_output=True, text=True)
            return " ".join((r.stdout + r.stderr).split())[:200]
        exe = shutil.which(tool)
        if not exe:
            return "not installed"
        r = subprocess.run([exe, "--version"], capture_output=True, text=True)
        lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        v = lines[0] if lines else "?"
        if tool == "fcp" and not v.startswith("fcp"):
            v = f"fcp {v}"
        return f"{v} ({exe})"
    except OSError as e:
        return f"? ({e})"


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------

class Recorder:
    def __init__(self, path):
        self.path = path
        self.f = open(path, "a")

    def put(self, kind, **kw):
        kw["kind"] = kind
        self.f.write(json.dumps(kw) + "\n")
        self.f.flush()


def parse_scenario(s):
    """'ext4:cross:warm' or 'ext4:cross:warm:5' -> (fs, placement, cache)."""
    f = s.split(":")
    if len(f) not in (3, 4) or (len(f) == 4 and not f[3].isdigit()):
        sys.exit(f"bad scenario {s!r}: want FS:PLACEMENT:CACHE[:RUNS], e.g. ext4:cross:warm or xfs:same:cold:3")
    fs, place, cache = f[:3]
    if fs not in ("ext4", "xfs") or place not in ("cross", "same") or cache not in ("warm", "cold"):
        sys.exit(f"bad scenario {s!r}: FS ext4|xfs, PLACEMENT cross|same, CACHE warm|cold")
    return fs, place, cache


def scenario_plan(specs):
    """-> [(name 'fs:place:cache', runs)]"""
    plan = []
    for i, s in enumerate(specs):
        parse_scenario(s)
        f = s.split(":")
        runs = int(f[3]) if len(f) == 4 else (CFG["RUNS"] if i == 0 else CFG["SECONDARY_RUNS"])
        plan.append((":".join(f[:3]), runs))
    return plan


def stderr_excerpt(path, limit=600):
    try:
        s = open(path, errors="replace").read()
    except OSError:
        return ""
    s = s.strip()
    return s[:limit] + (f" ... [{len(s)} chars]" if len(s) > limit else "")


def mem_available():
    for ln in open("/proc/meminfo"):
        if ln.startswith("MemAvailable:"):
            return int(ln.split()[1]) * 1024
    return 0


def run_scenario(rec, scen, runs, corpus, src, info, src_list, tools):
    fs, place, cache = parse_scenario(scen)
    same = place == "same"
    if runs == 0:
        return
    tag = f"{corpus}-{fs}-{place}"
    img = Image(fs, info, same, tag)
    # RAM: image data in /dev/shm (template + working copy) + page cache of source and destination
    need = info["alloc"] * (5 if same else 3) + (256 << 20)
    if need + (2 << 30) > mem_available():
        msg = f"skipped: needs ~{need >> 20} MiB of RAM (images + page cache), {mem_available() >> 20} available"
        log(f"{scen} {corpus}: {msg}")
        rec.put("skip", scenario=scen, corpus=corpus, reason=msg)
        return
    log(f"== {scen} / {corpus}: image {img.size >> 20} MiB {fs}, {runs} round(s) x {len(tools)} tools")
    img.build(src if same else None)
    try:
        if cache == "warm" and not same:
            warm(src)
        the_src = os.path.join(img.mnt, "src") if same else src
        dst = os.path.join(img.mnt, "dst")
        diffed = set()
        for _ in range(CFG["WARMUP"]):
            img.fresh()
            if same and cache == "warm":
                warm(the_src)
            if cache == "cold":
                drop_caches()
            res = spawn_wait(tool_cmd(tools[0], the_src, dst), os.path.join(WORK, "err.warmup"),
                             timeout=CFG["RUN_TIMEOUT"])
            img.detach()
            rec.put("warmup", scenario=scen, corpus=corpus, tool=tools[0], **res)
            log(f"{scen} {corpus} untimed warm-up copy ({TOOL_LABEL[tools[0]]}): {res['wall_ms']:.0f} ms, "
                f"sys {res['sys_ms']:.0f} ms, rc {res['rc']}")
        for r in range(1, runs + 1):
            for t in tools:
                img.fresh()
                if cache == "warm":
                    # Before every run, also for `cross`: see page_out_idle().
                    warm(the_src)
                if cache == "cold":
                    drop_caches()
                errp = os.path.join(WORK, f"err.{t}")
                res = timed(tool_cmd(t, the_src, dst), errp)
                check, detail = check_copy(src, src_list, dst)
                deep = None
                if t in OURS and t not in diffed and check != "FAIL":
                    # diff -r once per engine per scenario and corpus: contents and link targets
                    diffed.add(t)
                    d = subprocess.run(["diff", "-r", "--no-dereference", "-q"] + diff_excludes(src)
                                       + [the_src, dst], capture_output=True, text=True)
                    deep = "ok" if d.returncode == 0 else "FAIL: " + (d.stdout + d.stderr)[:400]
                    if d.returncode != 0:
                        check = "FAIL"
                        detail = (detail + "; " if detail else "") + "diff -r: " + (d.stdout + d.stderr)[:300]
                busy = img.detach()
                res.update(scenario=scen, corpus=corpus, tool=t, run=r, check=check, detail=detail,
                           diff=deep, stderr=stderr_excerpt(errp), umount_busy_ms=busy, busy_v=2)
                excuse_rc(res, info)
                rec.put("run", **res)
                log(f"{scen} {corpus} run {r}/{runs} {TOOL_LABEL[t]}: {res['wall_ms']:.0f} ms, cpu "
                    f"{res['cpu_ms']:.0f} ms, rss {res['maxrss_kib'] >> 10} MiB, rc {res['rc']}, "
                    f"{check}; other {res['other_ms']} ms, waited {res['waited_ms']} ms"
                    + (f" -- {detail[:200]}" if detail else "")
                    + (f" -- stderr: {res['stderr'][:200]}" if res["stderr"] else "")
                    + (f" -- mount busy {busy} ms after exit" if busy else ""))
    finally:
        img.drop()


# Syscalls broken down in a perf census (each tracepoint counter costs ~40 ms to set up, so not all
# ~700); the exact total comes from raw_syscalls:sys_enter, the rest is reported as "other".
PERF_SYSCALLS = ["openat", "openat2", "close", "read", "write", "pread64", "pwrite64", "readv", "writev",
                 "copy_file_range", "sendfile64", "newfstatat", "statx", "newlstat", "getdents64",
                 "mkdir", "mkdirat", "symlinkat", "readlinkat", "readlink", "ioctl", "fadvise64",
                 "io_uring_enter", "futex", "mmap", "munmap", "lseek", "fchmod", "fchmodat",
                 "utimensat", "fchownat", "lgetxattr", "llistxattr", "clone3", "fcntl", "pselect6",
                 "unlinkat", "renameat", "renameat2", "newfstat", "ftruncate", "fallocate", "flistxattr",
                 "sched_yield", "mprotect", "madvise", "brk", "poll", "ppoll", "rt_sigprocmask", "fsync"]
TRACEFS = "/sys/kernel/tracing"


def census_method():
    want = CFG["CENSUS"]
    if want == "off":
        return None
    if want in ("auto", "perf") and shutil.which("perf"):
        if not os.path.isdir(os.path.join(TRACEFS, "events")):
            subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], stderr=subprocess.DEVNULL)
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True)
        if r.returncode == 0 and "raw_syscalls:sys_enter" in r.stderr and "<not" not in r.stderr:
            return "perf"
        log(f"perf cannot count syscall tracepoints here ({r.stderr.strip()[:200]}); using strace")
    if want == "perf":
        log("CENSUS=perf but perf is unusable; falling back to strace")
    return "strace" if shutil.which("strace") else None


def census_argv(method, out, argv):
    if method == "perf":
        ev = ["-e", "raw_syscalls:sys_enter"]
        for name in PERF_SYSCALLS:
            if os.path.isdir(os.path.join(TRACEFS, "events", "syscalls", f"sys_enter_{name}")):
                ev += ["-e", f"syscalls:sys_enter_{name}"]
        return ["perf", "stat", "-x,", "-o", out] + ev + ["--"] + argv
    return ["strace", "-f", "-c", "-o", out, "--"] + argv


def parse_perf(path):
    calls, total = {}, None
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return {}
    for line in lines:
        f = line.split(",")
        if len(f) < 3 or not f[0].strip().isdigit():
            continue
        n, ev = int(f[0]), f[2]
        if ev == "raw_syscalls:sys_enter":
            total = n
        elif ev.startswith("syscalls:sys_enter_") and n:
            calls[ev[len("syscalls:sys_enter_"):]] = n
    if total is None:
        return {}
    other = total - sum(calls.values())
    if other > 0:
        calls["(other)"] = other
    calls["total"] = total
    return calls


def excuse_rc(res, info):
    """A tool that copied everything comparable of a corpus with unreadable entries, and exited
    non-zero (as cp does when it could not read something), did what it could: the run counts as
    good (marked rc_excused; its messages are still quoted in the report)."""
    if res["rc"] != 0 and info.get("excluded") and res["check"] in ("ok", "modes"):
        res["rc_excused"] = True
        res["detail"] = (res.get("detail") or "") + \
            f"{'; ' if res.get('detail') else ''}exit {res['rc']} accepted: {info['excluded']} unreadable/special source entries"


def run_ok(r):
    return (r["rc"] == 0 or r.get("rc_excused")) and r["check"] != "FAIL"


def run_census(rec, method, scen, corpus, src, info, src_list, tools):
    """Syscall census of one untimed copy per tool (doubles as a correctness check)."""
    fs, place, _ = parse_scenario(scen)
    img = Image(fs, info, False, f"{corpus}-{fs}-census")
    img.build(None)
    log(f"== syscall census ({method}) / {corpus} on {fs} (source on the root disk)")
    try:
        for t in tools:
            img.fresh()
            dst = os.path.join(img.mnt, "dst")
            out = os.path.join(WORK, f"census.{corpus}.{t}")
            errp = os.path.join(WORK, f"err.census.{t}")
            t0 = time.perf_counter()
            res = spawn_wait(census_argv(method, out, tool_cmd(t, src, dst)), errp,
                             timeout=CFG["RUN_TIMEOUT"] * 3)
            rc, wall = res["rc"], res["wall_ms"]
            check, detail = check_copy(src, src_list, dst)
            busy = img.detach()
            calls = parse_perf(out) if method == "perf" else parse_strace(out)
            cres = dict(rc=rc, check=check, detail=detail)
            excuse_rc(cres, info)
            rec.put("census", corpus=corpus, fs=fs, tool=t, calls=calls, method=method,
                    umount_busy_ms=busy, busy_v=2, stderr=stderr_excerpt(errp), census_wall_ms=round(wall),
                    **cres)
            log(f"census {corpus} {TOOL_LABEL[t]}: {calls.get('total', 0)} syscalls, rc {rc}, {check} "
                f"({(time.perf_counter() - t0):.1f} s)" + (f" -- {detail[:200]}" if detail else ""))
    finally:
        img.drop()


def run_million(rec):
    src, info = ensure_corpus("million")
    log("== million-file tree: peak RSS of uring-cp (ext4, source on root disk, warm)")
    src_list = listing(src)
    warm(src)
    img = Image("ext4", info, False, "million-ext4")
    img.build(None)
    try:
        # uring-cp's configurations among TOOLS (the bar draws into a terminal: not here).
        for t in [t for t in CFG["TOOLS"] if t in OURS and t != "bar"] or ["uring", "portable"]:
            img.fresh()
            dst = os.path.join(img.mnt, "dst")
            errp = os.path.join(WORK, f"err.million.{t}")
            res = timed(tool_cmd(t, src, dst), errp)
            check, detail = check_copy(src, src_list, dst)
            busy = img.detach()
            res.update(tool=t, check=check, detail=detail, stderr=stderr_excerpt(errp), umount_busy_ms=busy, busy_v=2)
            rec.put("million", **res)
            log(f"million {TOOL_LABEL[t]}: {res['wall_ms']:.0f} ms, rss {res['maxrss_kib'] >> 10} MiB, "
                f"rc {res['rc']}, {check}")
    finally:
        img.drop()
    rec.put("corpus", **info)


def machine_info():
    cpu = "?"
    for ln in open("/proc/cpuinfo"):
        if ln.startswith("model name"):
            cpu = ln.split(":", 1)[1].strip()
            break
    mem = 0
    for ln in open("/proc/meminfo"):
        if ln.startswith("MemTotal:"):
            mem = int(ln.split()[1]) * 1024
    src_fs = " ".join(subprocess.run(["findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", BENCH_ROOT],
                                     capture_output=True, text=True).stdout.split())
    journal = "?"
    dev = src_fs.split()[0] if src_fs else ""
    jt = f"/sys/fs/ext4/{os.path.basename(dev)}/journal_task"
    if dev.startswith("/dev/") and "ext4" in src_fs and os.path.exists(jt):
        journal = "ext4 without a journal" if open(jt).read().strip() == "<none>" else "journaled"
    return dict(cpu=cpu, cores=os.cpu_count(), mem=mem, kernel=os.uname().release,
                src_fs=src_fs, src_journal=journal,
                mkfs_ext4=(subprocess.run(["mkfs.ext4", "-V"], capture_output=True, text=True).stderr
                           .splitlines() or ["?"])[0].strip(),
                mkfs_xfs=subprocess.run(["mkfs.xfs", "-V"], capture_output=True, text=True).stdout.strip(),
                io_uring_disabled=open("/proc/sys/kernel/io_uring_disabled").read().strip()
                if os.path.exists("/proc/sys/kernel/io_uring_disabled") else "n/a",
                page_out=page_out_idle())


def main_run():
    for v, n in ((WORK, "BENCH_WORK"), (SHM, "BENCH_SHM"), (UCP, "UCP_BIN"), (OUT, "BENCH_OUT"),
                 (TIMEIT, "TIMEIT_BIN")):
        if not v:
            sys.exit(f"{n} is not set: start this through benches/run.sh")
    os.makedirs(CORPUS_DIR, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = os.path.join(BENCH_ROOT, f"results-{stamp}{'-quick' if QUICK else ''}.jsonl")
    rec = Recorder(raw)
    log(f"raw results: {raw}")
    t_start = time.time()
    tools, missing = available_tools()
    cfg = {k: v for k, v in CFG.items()}
    rec.put("plan", scenarios=scenario_plan(CFG["SCENARIOS"]))
    rec.put("meta", started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            cfg=cfg, machine=machine_info(), tools=tools, missing=missing,
            versions={t: tool_version(t) for t in tools}, rev=os.environ.get("UCP_REV", "?"),
            ucp_sha=os.environ.get("UCP_SHA", "?"), census=census_method(),
            strace=(subprocess.run(["strace", "-V"], capture_output=True, text=True).stdout.splitlines() or ["?"])[0]
            if shutil.which("strace") else "strace: not installed",
            perf=subprocess.run(["perf", "--version"], capture_output=True, text=True).stdout.strip()
            if shutil.which("perf") else "perf: not installed",
            diff=subprocess.run(["diff", "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    if missing:
        log(f"not on PATH, skipped: {' '.join(missing)}")
    plan = scenario_plan(CFG["SCENARIOS"])
    census_scen = next((s for s, _ in plan if ":cross:" in s), "ext4:cross:warm")
    method = census_method()
    for corpus in CFG["CORPORA"]:
        src, info = ensure_corpus(corpus)
        if src is None:
            rec.put("skip", scenario="every scenario", corpus=corpus, reason=info["reason"])
            continue
        rec.put("corpus", **info)
        src_list = src_listing(src)
        for scen, runs in plan:
            run_scenario(rec, scen, runs, corpus, src, info, src_list, tools)
        if method:
            warm(src)
            run_census(rec, method, census_scen, corpus, src, info, src_list, tools)
    if CFG["MILLION"]:
        run_million(rec)
    rec.put("end", seconds=round(time.time() - t_start))
    rec.f.close()
    write_report(raw, OUT)
    log(f"done in {(time.time() - t_start) / 60:.1f} min; wrote {OUT} (raw data: {raw})")


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def fmt_ms(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fmt_bytes(n):
    for unit, k in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


SCEN_TEXT = {"cross": "source on the root disk (another filesystem)",
             "same": "source on the destination filesystem"}


def scen_title(s):
    fs, place, cache = parse_scenario(s)
    return f"{fs}, {SCEN_TEXT[place]}, {cache} cache"


def write_report(raw, out):
    recs = [json.loads(ln) for ln in open(raw) if ln.strip()]
    meta = next(r for r in recs if r["kind"] == "meta")
    end = next((r for r in recs if r["kind"] == "end"), None)
    corpora = {}
    for r in recs:
        if r["kind"] == "corpus":
            corpora[r["name"]] = r
    runs = [r for r in recs if r["kind"] == "run"]
    census = [r for r in recs if r["kind"] == "census"]
    million = [r for r in recs if r["kind"] == "million"]
    skips = [r for r in recs if r["kind"] == "skip"]
    tools = meta["tools"]
    cfg = meta["cfg"]
    m = meta["machine"]
    L = []
    w = L.append

    w("# uring-cp benchmark results")
    w("")
    w(f"Generated by `benches/run.sh`{' with QUICK=1 (smoke run: small corpora, few runs; not for conclusions)' if cfg['QUICK'] else ''}"
      f" on {meta['started']}" + (f"; total run time {end['seconds'] / 60:.1f} min." if end else
                                   " (INCOMPLETE: the run did not finish)."))
    w("Method, knobs and caveats: `benches/README.md`. Raw per-run data: "
      f"`{raw}` (re-render with `python3 benches/bench.py report FILE`).")
    w("")
    w("## Machine and software")
    w("")
    w(f"- CPU: {m['cpu']}, {m['cores']} logical CPUs; RAM {fmt_bytes(m['mem'])}; kernel {m['kernel']}; "
      f"kernel.io_uring_disabled={m['io_uring_disabled']}")
    w(f"- proactive page-out of idle page cache (DAMON): {m.get('page_out', 'not recorded')}; warm runs "
      "re-read their source right before each run")
    w(f"- source filesystem (root disk, `{BENCH_ROOT}`): {m['src_fs']} ({m['src_journal']})")
    w(f"- destination filesystems: journaled ext4 ({m['mkfs_ext4']}; `-E lazy_itable_init=0,lazy_journal_init=0`, "
      f"fixed UUID and hash seed) and xfs ({m['mkfs_xfs']}; defaults, so reflink=1), each on a loop device over an "
      "image in /dev/shm (RAM), restored from a per-corpus template before every timed run")
    dirty = ""
    w(f"- uring-cp: git `{meta['rev']}`{dirty}, binary sha256 `{meta['ucp_sha'][:16]}`")
    for t in tools:
        if t in OURS and t != "uring":
            continue
        w(f"- `{TOOL_LABEL[t] if t != 'uring' else 'uring-cp'}`: {meta['versions'].get(t, '?')}")
    if meta["missing"]:
        w(f"- not installed, skipped: {', '.join(meta['missing'])}")
    w(f"- {meta.get('perf', '')}; {meta['strace']}; {meta['diff']}")
    plan = next((r["scenarios"] for r in recs if r["kind"] == "plan"), [])
    w("- scenarios (FS:source placement:cache) and timed runs per tool: "
      + ", ".join(f"{s} x{n}" for s, n in plan)
      + f"; tools interleaved ({' '.join(tools)}, repeated); quiet gate up to {cfg['QUIET_WAIT']} s before each run")
    w("")
    w("## Corpora")
    w("")
    w(f"Generated ones: deterministic, cached under `{CORPUS_DIR}`. Real trees (if any): the machine's "
      "own trees are the source *in place* (listed and counted at the start of the run, as shown); "
      "`python` is a CPython library tree built once by `bench.py` and cached like the generated ones "
      "(see `benches/README.md`). Entries = files + dirs + symlinks (+ the top directory).")
    w("")
    w("| corpus | regular files | dirs | symlinks | entries | data | largest file | origin |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, c in corpora.items():
        if c.get("in_place"):
            origin = (f"the machine's own `{c['path']}`, used in place (listed {c.get('listed', '?')})"
                      + (f"; {c['excluded']:,} unreadable or special entries not compared, e.g. "
                         f"{', '.join(c['excluded_examples'][:3])}" if c.get("excluded") else ""))
        elif c.get("origin"):
            origin = f"`{c['path']}`: {c['origin']}"
        else:
            origin = f"generated: {c['params']}"
        w(f"| {name} | {c['files']:,} | {c['dirs']:,} | {c['symlinks']:,} | {c['entries']:,} | "
          f"{fmt_bytes(c['bytes'])} | {fmt_bytes(c['max_file'])} | {origin} |")
    w("")

    # aggregate
    def agg(rows):
        ok = [r for r in rows if run_ok(r)]
        use = ok if ok else rows
        walls = [r["wall_ms"] for r in use]
        return dict(n=len(rows), bad=len(rows) - len(ok), wall=statistics.median(walls) if walls else None,
                    wmin=min(walls) if walls else None, wmax=max(walls) if walls else None,
                    cpu=statistics.median([r["cpu_ms"] for r in use]) if use else None,
                    rss=max(r["maxrss_kib"] for r in rows) if rows else None,
                    other=statistics.median([r["other_ms"] for r in rows]) if rows else None,
                    checks=sorted({r["check"] for r in rows}), all_failed=not ok)

    keys = []
    for r in runs:
        k = (r["scenario"], r["corpus"])
        if k not in keys:
            keys.append(k)
    A = {}
    for (s, c) in keys:
        for t in tools:
            rows = [r for r in runs if r["scenario"] == s and r["corpus"] == c and r["tool"] == t]
            if rows:
                A[(s, c, t)] = agg(rows)
    cen = {(r["corpus"], r["tool"]): r for r in census}

    w("## Summary: median wall time, and ratio to `uring-cp --engine uring`")
    w("")
    w("Each cell: median wall ms (ratio = tool / uring-cp uring; > 1.00 means slower than uring-cp). "
      "`FAIL` = every run failed or produced a wrong copy; `*` = some runs did.")
    w("")
    w("| scenario | corpus | " + " | ".join(f"`{TOOL_LABEL[t]}`" for t in tools) + " |")
    w("|---|---|" + "---:|" * len(tools))
    def ref_of(s, c):
        a = A.get((s, c, "uring"))
        return a["wall"] if a and not a["all_failed"] else None

    for (s, c) in keys:
        ref = ref_of(s, c)
        cells = []
        for t in tools:
            a = A.get((s, c, t))
            if not a:
                cells.append("-")
                continue
            if a["all_failed"]:
                cells.append("FAIL")
                continue
            star = "*" if a["bad"] else ""
            ratio = f" ({a['wall'] / ref:.2f})" if ref else ""
            cells.append(f"{fmt_ms(a['wall'])}{ratio}{star}")
        w(f"| {s} | {c} | " + " | ".join(cells) + " |")
    w("")
    w("### Summary: median CPU ms (avg cores busy)")
    w("")
    w("Each cell: median user+sys CPU ms of the tool's process tree (avg cores busy = median CPU / median "
      "wall: 1.00 = one core busy for the whole copy; the machine has "
      f"{m['cores']}). Work done for the copy by kernel threads (writeback, loop, journal) is not in it: "
      "see `other` in the details.")
    w("")
    w("| scenario | corpus | " + " | ".join(f"`{TOOL_LABEL[t]}`" for t in tools) + " |")
    w("|---|---|" + "---:|" * len(tools))
    for (s, c) in keys:
        cells = []
        for t in tools:
            a = A.get((s, c, t))
            if not a or a["all_failed"] or a["cpu"] is None:
                cells.append("FAIL" if a else "-")
                continue
            cells.append(f"{fmt_ms(a['cpu'])} ({cores(a)})" + ("*" if a["bad"] else ""))
        w(f"| {s} | {c} | " + " | ".join(cells) + " |")
    w("")

    w("## Details per scenario and corpus")
    w("")
    w("wall = median wall-clock ms of the copy (fork to exit; the destination is unmounted, i.e. "
      "written back, outside the timing); CPU = median user+sys ms of the tool's process tree (wait4 "
      "rusage; includes io_uring io-wq workers); peak RSS = largest ru_maxrss over the runs; "
      "avg cores = median CPU / median wall (how many cores the tool kept busy on average); "
      "other = median machine CPU outside the tool during the run (loop/writeback/journal kworkers "
      "plus anyone else's load: large values flag a noisy run); syscalls = census of one "
      "untimed copy (see below; the same for every scenario of a corpus; io_uring requests are not "
      "syscalls), then in parentheses per regular file / per entry (files + dirs + symlinks: real "
      "trees have many directories).")
    for s in CFG_SCEN_ORDER(keys):
        w("")
        w(f"### {s}: {scen_title(s)}")
        for (s2, c) in keys:
            if s2 != s:
                continue
            ci = corpora.get(c, {})
            w("")
            w(f"#### {c} ({ci.get('files', 0):,} files, {ci.get('dirs', 0):,} dirs, {ci.get('symlinks', 0):,} "
              f"symlinks, {fmt_bytes(ci.get('bytes', 0))}"
              + (f"; the machine's own `{ci['path']}`, in place" if ci.get("in_place") else "") + ")")
            w("")
            w("| tool | median wall ms | ratio to uring-cp | min-max ms | median CPU ms | avg cores | "
              "peak RSS MiB | syscalls (per file / per entry) | runs ok | check | median other ms |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
            ref = ref_of(s, c)
            for t in tools:
                a = A.get((s, c, t))
                if not a:
                    continue
                ce = cen.get((c, t))
                sc = "-"
                if ce and ce["calls"].get("total"):
                    tot = ce["calls"]["total"]
                    sc = (f"{tot:,} ({tot / max(1, ci.get('files', 1)):.1f} / "
                          f"{tot / max(1, ci.get('entries', 1)):.1f})")
                ratio = f"{a['wall'] / ref:.2f}" if ref and a["wall"] else "-"
                w(f"| `{TOOL_LABEL[t]}` | {fmt_ms(a['wall'])} | {ratio} | {fmt_ms(a['wmin'])}-{fmt_ms(a['wmax'])} | "
                  f"{fmt_ms(a['cpu'])} | {cores(a)} | {a['rss'] / 1024:.1f} | {sc} | {a['n'] - a['bad']}/{a['n']} | "
                  f"{'/'.join(a['checks'])} | {a['other']:.0f} |")
    w("")

    if census:
        meth = census[0].get("method", "strace")
        how = ("`perf stat` of the `raw_syscalls:sys_enter` tracepoint (exact total, child processes and "
               "threads included) plus `syscalls:sys_enter_*` counters for a list of common syscalls; the "
               "remainder is shown as `(other)`" if meth == "perf" else "`strace -f -c`")
        w("## Syscall census (one untimed copy per tool and corpus)")
        w("")
        cs_fs = census[0]["fs"]
        w(f"Counted with {how}. Destination: fresh {cs_fs}, source on the root disk, warm cache. Cell: "
          "total syscalls (per regular file / per entry: files + dirs + symlinks). The large corpus is "
          "included (2 files: per-file counts are read/write loop counts). io_uring requests executed "
          "by the kernel are not syscalls: only `io_uring_enter` counts.")
        w("")
        cor = [c for c in corpora if any(r["corpus"] == c for r in census)]
        w("| tool | " + " | ".join(cor) + " |")
        w("|---|" + "---:|" * len(cor))
        for t in tools:
            cells = []
            for c in cor:
                ce = cen.get((c, t))
                if not ce:
                    cells.append("-")
                    continue
                tot = ce["calls"].get("total", 0)
                ci = corpora[c]
                bad = "" if run_ok(ce) else f" (rc {ce['rc']}, {ce['check']})"
                cells.append(f"{tot:,} ({tot / max(1, ci['files']):.1f} / {tot / max(1, ci['entries']):.1f}){bad}")
            w(f"| `{TOOL_LABEL[t]}` | " + " | ".join(cells) + " |")
        w("")
        w("Most frequent syscalls per tool (first corpus with a census: "
          f"{cor[0] if cor else '-'}):")
        w("")
        for t in tools:
            ce = cen.get((cor[0], t)) if cor else None
            if not ce:
                continue
            calls = {k: v for k, v in ce["calls"].items() if not k.startswith("_") and k != "total"}
            errs = ce["calls"].get("_errors", {})
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
            w(f"- `{TOOL_LABEL[t]}`: " + ", ".join(
                f"{n} {c:,}" + (f" ({errs[n]:,} err)" if errs.get(n) else "") for n, c in top))
        w("")

    # correctness
    w("## Correctness")
    w("")
    w("After every timed run and every census run, the destination's listing (type, permission bits, "
      "size of files and symlinks, symlink target, for every path) is compared with the source's; "
      "`diff -r --no-dereference` (contents) is run on the first copy of each uring-cp engine in every "
      "scenario. `ok` = identical; `modes` = same tree and contents but some permission bits differ; "
      "`FAIL` = missing/extra/different entries, a non-zero exit, or diff -r differences.")
    w("")
    w("| tool | runs checked | ok | modes only | FAIL | non-zero exit | diff -r (uring-cp) |")
    w("|---|---:|---:|---:|---:|---:|---|")
    for t in tools:
        rs = [r for r in runs if r["tool"] == t] + [dict(r, diff=None) for r in census if r["tool"] == t]
        diffs = [r.get("diff") for r in runs if r["tool"] == t and r.get("diff")]
        dtxt = "-" if not diffs else (f"{sum(1 for d in diffs if d == 'ok')}/{len(diffs)} ok")
        w(f"| `{TOOL_LABEL[t]}` | {len(rs)} | {sum(1 for r in rs if r['check'] == 'ok')} | "
          f"{sum(1 for r in rs if r['check'] == 'modes')} | {sum(1 for r in rs if r['check'] == 'FAIL')} | "
          f"{sum(1 for r in rs if r['rc'] != 0)} | {dtxt} |")
    w("")
    issues = {}
    for r in runs + census:
        if r["rc"] != 0 or r["check"] != "ok" or r.get("stderr"):
            where = r.get("scenario") or f"census {r.get('fs')}"
            key = (r["tool"], r["corpus"], r["check"], r["rc"], (r.get("detail") or "")[:120],
                   (r.get("stderr") or "")[:120])
            issues.setdefault(key, []).append(where)
    if issues:
        w("### Failures, warnings and tool messages (deduplicated)")
        w("")
        for (t, c, chk, rc, det, _), wheres in issues.items():
            sample = next(r for r in runs + census if r["tool"] == t and r["corpus"] == c and r["check"] == chk
                          and r["rc"] == rc and (r.get("detail") or "")[:120] == det)
            ws = sorted(set(wheres))
            w(f"- `{TOOL_LABEL[t]}` on {c}: check {chk}, exit {rc}, in {len(wheres)} run(s) "
              f"({', '.join(ws[:4])}{', ...' if len(ws) > 4 else ''})"
              + (f"; {sample.get('detail')}" if sample.get("detail") else "")
              + (f"; stderr: `{sample.get('stderr')[:300].replace(chr(10), ' | ').replace('`', chr(39))}`"
                 if sample.get("stderr") else ""))
        w("")
    busy = [r for r in runs + census + million if r.get("umount_busy_ms")]
    w("### Destination still busy after the tool exited")
    w("")
    if busy:
        w("`umount` right after the tool's exit answered EBUSY; the harness retried every 20 ms (lazy "
          "unmount after 30 s, shown negative). A process's io_uring instance is torn down "
          "asynchronously after exit, and files it still holds keep the filesystem busy meanwhile: a "
          "script doing `uring-cp ... && umount` would fail the same way. Busy ms = from the first "
          "attempt to the start of the successful one"
          + ("." if all(r.get("busy_v") == 2 for r in busy) else
             "; for runs recorded by an earlier version of the harness (marked ≤) it is measured to the "
             "END of the successful umount, so it includes that umount's writeback (~1 s per GB): an "
             "upper bound."))
        w("")
        w("| tool | runs affected / runs | median busy ms | max busy ms | where |")
        w("|---|---:|---:|---:|---|")
        for t in tools:
            allr = [r for r in runs + census + million if r["tool"] == t]
            b = [abs(r["umount_busy_ms"]) for r in allr if r.get("umount_busy_ms")]
            ub = "" if all(r.get("busy_v") == 2 for r in allr if r.get("umount_busy_ms")) else "≤ "
            if b:
                where = sorted({f"{r.get('scenario') or 'census/million'} {r.get('corpus', 'million')}"
                                for r in allr if r.get("umount_busy_ms")})
                w(f"| `{TOOL_LABEL[t]}` | {len(b)} / {len(allr)} | {ub}{statistics.median(b):.0f} | {ub}{max(b)} | "
                  f"{', '.join(where[:6])}{', ...' if len(where) > 6 else ''} |")
    else:
        w("None: every destination could be unmounted at once after every tool's exit.")
    w("")
    if skips:
        w("### Skipped")
        w("")
        for s in skips:
            w(f"- {s['scenario']} / {s['corpus']}: {s['reason']}")
        w("")

    if million:
        c = corpora.get("million", {})
        w("## Peak RSS on a million-entry tree (MILLION=1)")
        w("")
        w(f"Corpus: {c.get('files', 0):,} files (mostly empty, 1 in 20 holds 1-100 bytes), "
          f"{c.get('dirs', 0):,} dirs; destination fresh ext4, source on the root disk, warm cache; one run each.")
        w("")
        w("| tool | wall ms | CPU ms | avg cores | peak RSS MiB | exit | check |")
        w("|---|---:|---:|---:|---:|---:|---|")
        for r in million:
            w(f"| `{TOOL_LABEL[r['tool']]}` | {fmt_ms(r['wall_ms'])} | {fmt_ms(r['cpu_ms'])} | "
              f"{r['cpu_ms'] / max(r['wall_ms'], 1e-9):.2f} | "
              f"{r['maxrss_kib'] / 1024:.1f} | {r['rc']} | {r['check']} |")
        w("")

    w("## Per-run wall times")
    w("")
    w("<details><summary>wall ms [other CPU ms] in run order, per scenario, corpus and tool</summary>")
    w("")
    for (s, c) in keys:
        w(f"- {s} / {c}:")
        for t in tools:
            rows = [r for r in runs if r["scenario"] == s and r["corpus"] == c and r["tool"] == t]
            if rows:
                w(f"  - `{TOOL_LABEL[t]}`: " + ", ".join(
                    f"{r['wall_ms']:.0f} [{r['other_ms']}]" + ("" if run_ok(r) else " FAIL")
                    for r in rows))
    w("")
    w("</details>")
    w("")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(L))
    os.replace(tmp, out)


def cores(a):
    """Average cores busy: median CPU / median wall."""
    return f"{a['cpu'] / a['wall']:.2f}" if a.get("cpu") is not None and a.get("wall") else "-"


def CFG_SCEN_ORDER(keys):
    seen = []
    for s, _ in keys:
        if s not in seen:
            seen.append(s)
    return seen


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "report":
        if len(sys.argv) != 3:
            sys.exit("usage: bench.py report RAW.jsonl  (writes BENCH_OUT or benches/RESULTS.md)")
        write_report(sys.argv[2], OUT or os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"))
        return
    if len(sys.argv) != 2 or sys.argv[1] != "run":
        sys.exit(__doc__)

    def on_term(signum, frame):
        if State.child:                  # stop the tool first: its open files keep the mount busy
            try:
                os.kill(State.child, signal.SIGTERM)
                os.waitpid(State.child, 0)
            except OSError:
                pass
            State.child = None
        log(f"signal {signum}: cleaning up")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        main_run()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
