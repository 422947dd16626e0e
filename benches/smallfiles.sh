#!/usr/bin/env bash
# Small-file tree benchmark: `cp -r` vs `uring-cp -r --engine uring` vs `uring-cp -r --engine portable`.
#
# Usage (as root, from anywhere):
#     benches/smallfiles.sh
#     FILES=20000 RUNS=7 benches/smallfiles.sh
#
# Environment knobs:
#     FILES=10000     regular files in the generated source tree (plus dirs and a few symlinks)
#     RUNS=5          timed runs per tool (tools interleaved A B C A B C ...)
#     SRC_ROOT=/var/tmp/uring-cp-bench   where the source tree lives (root disk); it is kept between
#                     invocations and regenerated only when FILES or the generator changes
#     IMG_SIZE=2G     size of the RAM-backed ext4 image used as the destination filesystem
#     CLEAN_SRC=1     also delete the generated source tree on exit
#     QUIET_WAIT=5    before each timed run, wait up to this many seconds for the machine to be idle
#                     (<10% of one CPU busy over 200 ms); 0 disables the wait
#
# Method (see /work/shared/notes/io_uring-facts.md, "Benchmark hygiene on this machine"):
#   * source: a deterministic tree on the root disk, read once beforehand (warm page cache);
#   * destination: a freshly made, journaled ext4 on a loop device backed by /dev/shm. The image is
#     re-made with mkfs before EVERY run (~40 ms), so each copy starts from the same empty filesystem
#     and never pays for ext4's "recently deleted inode" scan after an rm -rf;
#   * tools interleaved, medians reported; wall time and child CPU (user+sys, from wait4 rusage)
#     measured by a tiny python timer around fork/exec/wait (sub-millisecond resolution);
#   * afterwards, untimed: a correctness check (diff -r, and a type/mode/size/link-target listing
#     compared with cp -r's result) and an `strace -f -c` syscall census of one copy per tool.
#
# Output: Markdown on stdout (table + strace summary); progress goes to stderr.
set -euo pipefail

FILES=${FILES:-10000}
RUNS=${RUNS:-5}
SRC_ROOT=${SRC_ROOT:-/var/tmp/uring-cp-bench}
IMG_SIZE=${IMG_SIZE:-2G}
CLEAN_SRC=${CLEAN_SRC:-0}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GEN_VERSION=1                            # bump when the generator below changes
SRC="$SRC_ROOT/tree-$FILES"              # the tree to copy

log() { printf '[smallfiles] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "must run as root (loop devices, mount)"
[[ $FILES =~ ^[0-9]+$ && $FILES -ge 1 ]] || die "FILES must be a positive integer"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] || die "RUNS must be a positive integer"

# --------------------------------------------------------------------------------------------
# 0. Tools. strace and mkfs.ext4 (e2fsprogs) are installed when missing; python3 is required.
# --------------------------------------------------------------------------------------------
need_pkgs=()
command -v strace    >/dev/null || need_pkgs+=(strace)
command -v mkfs.ext4 >/dev/null || need_pkgs+=(e2fsprogs)
command -v losetup   >/dev/null || need_pkgs+=(mount)
if ((${#need_pkgs[@]})); then
    log "installing: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need_pkgs[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${need_pkgs[@]}" >&2; }
fi
command -v python3 >/dev/null || die "python3 is required"
command -v cargo   >/dev/null || die "cargo is required"

# --------------------------------------------------------------------------------------------
# Scratch space and cleanup (runs on success, failure and Ctrl-C).
# --------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/uring-cp-bench.XXXXXX)
IMG=$(mktemp /dev/shm/uring-cp-bench.XXXXXX.img)
MNT="$WORK/mnt"
mkdir -p "$MNT"
LOOP=""

cleanup() {
    local rc=$?
    set +e
    if mountpoint -q "$MNT"; then umount "$MNT" || umount -l "$MNT"; fi
    [[ -n $LOOP ]] && losetup -d "$LOOP"
    rm -f "$IMG"
    rm -rf "$WORK"
    [[ $CLEAN_SRC == 1 ]] && rm -rf "$SRC" "$SRC.stamp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------------------------
# 1. Build, then snapshot the binary: src/ is edited concurrently, so a rebuild by someone else
#    must not swap the binary in the middle of the measurements.
# --------------------------------------------------------------------------------------------
log "cargo build --release"
(cd "$REPO" && cargo build --release --quiet) >&2
cp "$REPO/target/release/uring-cp" "$WORK/uring-cp"
UCP="$WORK/uring-cp"
REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null | wc -l)

# --------------------------------------------------------------------------------------------
# 2. Deterministic source tree (seeded python generator).
#    ~20 files per directory; directories nested up to 3 levels (files live at depth 1-3);
#    sizes: 90% log-uniform 100 B..16 KiB, 8% 16..64 KiB, 2% 64..256 KiB; random (incompressible)
#    content; plus a few symlinks (relative to a sibling file, to a directory, and one dangling).
# --------------------------------------------------------------------------------------------
STAMP="$SRC.stamp"                       # outside the tree, so it is not copied
if [[ ! -f $STAMP || $(cat "$STAMP") != "gen=$GEN_VERSION files=$FILES" ]]; then
    log "generating $FILES files under $SRC"
    rm -rf "$SRC" "$STAMP"
    mkdir -p "$SRC"
    python3 - "$SRC" "$FILES" <<'PY'
import math, os, random, sys
root, nfiles = sys.argv[1], int(sys.argv[2])
rng = random.Random(20240601)               # fixed seed: same tree every time
ndirs = max(1, round(nfiles / 20))          # ~20 files per directory
fan = max(1, math.ceil(ndirs ** (1 / 3)))   # level-1 and level-2 fan-out
dirs = []                                   # relative paths, created in order
l1 = [f"d{i:02d}" for i in range(fan)]
dirs += l1[:ndirs]
l2 = [f"{a}/s{j:02d}" for a in l1 for j in range(fan)]
dirs += l2[: max(0, ndirs - len(dirs))]
k = 0
while len(dirs) < ndirs:                    # the rest go one level deeper, round-robin over level 2
    parent = l2[k % len(l2)]
    dirs.append(f"{parent}/t{k // len(l2):02d}")
    k += 1
for d in dirs:
    os.makedirs(os.path.join(root, d), exist_ok=True)

def size():
    r = rng.random()
    if r < 0.90: lo, hi = 100, 16 * 1024
    elif r < 0.98: lo, hi = 16 * 1024, 64 * 1024
    else: lo, hi = 64 * 1024, 256 * 1024
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

total = 0
for i in range(nfiles):
    d = dirs[i % len(dirs)]
    n = size()
    total += n
    with open(os.path.join(root, d, f"f{i:06d}.dat"), "wb") as f:
        f.write(rng.randbytes(n))

# a few symlinks: ~1 per 1000 files, at least 4
nlinks = max(4, nfiles // 1000)
for j in range(nlinks):
    d = dirs[(j * 7) % len(dirs)]
    kind = j % 4
    target = {0: f"f{(j * 7) % len(dirs):06d}.dat",   # sibling file (exists: first file of dir)
              1: "..",                                  # a directory
              2: "does-not-exist",                      # dangling
              3: f"../{os.path.basename(d)}"}[kind]     # relative path through the parent
    os.symlink(target, os.path.join(root, d, f"link{j:03d}"))
print(f"generated {nfiles} files ({total / 1e6:.1f} MB) in {len(dirs)} dirs, {nlinks} symlinks",
      file=sys.stderr)
PY
    echo "gen=$GEN_VERSION files=$FILES" >"$STAMP"
fi
N_REG=$(find "$SRC" -type f | wc -l)
N_LNK=$(find "$SRC" -type l | wc -l)
N_DIR=$(find "$SRC" -type d | wc -l)          # includes the top directory itself
N_ALL=$((N_REG + N_LNK + N_DIR))
BYTES=$(find "$SRC" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')

# Warm the page cache (data + inodes/dentries) once.
log "warming the page cache"
find "$SRC" -type f -print0 | xargs -0 cat >/dev/null
find "$SRC" -printf '%y %m %s %P\n' >/dev/null

# --------------------------------------------------------------------------------------------
# 3. Destination filesystem: journaled ext4 on a loop device over a /dev/shm image.
#    lazy_itable_init=0 / lazy_journal_init=0: no ext4lazyinit thread zeroing inode tables in the
#    background during a timed run. mkfs discards the whole device first (punches holes in the
#    image), so every run also starts with the same sparse backing file.
# --------------------------------------------------------------------------------------------
truncate -s "$IMG_SIZE" "$IMG"
LOOP=$(losetup --find --show "$IMG")
fresh_fs() {
    if mountpoint -q "$MNT"; then umount "$MNT"; fi
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
    mount "$LOOP" "$MNT"
    sync
}

# Timer: waits (up to QUIET_WAIT s) until the machine is quiet, runs argv, and prints
# "<wall_ms> <cpu_ms> <exit_status> <other_ms> <waited_ms>":
#   cpu   = child user+sys from wait4 rusage (includes io_uring's io-wq worker threads, which
#           belong to the process);
#   other = CPU busy time of the whole machine during the run (from /proc/stat, 10 ms ticks)
#           minus cpu: loop-device/writeback kworkers working for the copy PLUS anybody else's
#           load. The machine is shared (another engineer builds and tests on it); a large value
#           flags a contaminated run.
cat >"$WORK/timeit.py" <<'PY'
import os, sys, time
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
def busy_ms():
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6]) * TICK_MS
quiet_wait = float(os.environ.get("QUIET_WAIT", "5"))
t_start = time.perf_counter()
while time.perf_counter() - t_start < quiet_wait:
    b0 = busy_ms(); time.sleep(0.2); b1 = busy_ms()
    if b1 - b0 <= 0.1 * 200:          # at most 10% of one CPU busy over 200 ms
        break
waited = (time.perf_counter() - t_start) * 1e3
argv = sys.argv[1:]
b0 = busy_ms()
t0 = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter()
b1 = busy_ms()
cpu = (ru.ru_utime + ru.ru_stime) * 1e3
print(f"{(t1 - t0) * 1e3:.3f} {cpu:.3f} {os.waitstatus_to_exitcode(status)} {max(0.0, b1 - b0 - cpu):.0f} {waited:.0f}")
PY

TOOLS=(cp uring portable)
cmd_for() {  # tool dest -> sets the array CMD
    case $1 in
        cp)       CMD=(cp -r "$SRC" "$2") ;;
        uring)    CMD=("$UCP" -r --engine uring "$SRC" "$2") ;;
        portable) CMD=("$UCP" -r --engine portable "$SRC" "$2") ;;
    esac
}
label_for() {
    case $1 in
        cp)       echo 'cp -r' ;;
        uring)    echo 'uring-cp -r --engine uring' ;;
        portable) echo 'uring-cp -r --engine portable' ;;
    esac
}

# --------------------------------------------------------------------------------------------
# 4. Correctness, once (untimed; doubles as a warm-up of binaries and source metadata).
#    diff -r --no-dereference compares contents and symlink targets; the listing compares
#    type, permission bits, size and link target of every entry against cp -r's copy.
# --------------------------------------------------------------------------------------------
log "correctness check"
CHECK="ok"
fresh_fs
cp -r "$SRC" "$MNT/cp"
listing() { (cd "$1" && find . -printf '%y %m %s %p -> %l\n' | LC_ALL=C sort); }
listing "$MNT/cp" >"$WORK/list.cp"
for t in uring portable; do
    set +e
    cmd_for $t "$MNT/$t"
    "${CMD[@]}" 2>"$WORK/err.$t"
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        CHECK="FAIL"
        log "$(label_for $t) exited with status $rc: $(head -c 2000 "$WORK/err.$t")"
    fi
    if ! diff -r --no-dereference "$SRC" "$MNT/$t" >"$WORK/diff.$t" 2>&1; then
        CHECK="FAIL"
        log "$(label_for $t): diff -r reports differences (first lines):"
        head -20 "$WORK/diff.$t" >&2
    fi
    listing "$MNT/$t" >"$WORK/list.$t"
    if ! diff "$WORK/list.cp" "$WORK/list.$t" >"$WORK/ldiff.$t"; then
        CHECK="FAIL"
        log "$(label_for $t): type/mode/size/link listing differs from cp -r (first lines):"
        head -20 "$WORK/ldiff.$t" >&2
    fi
done
log "correctness: $CHECK"

# --------------------------------------------------------------------------------------------
# 5. Timed runs, interleaved, each on a fresh filesystem after sync.
# --------------------------------------------------------------------------------------------
RESULTS="$WORK/results"
: >"$RESULTS"
for ((r = 1; r <= RUNS; r++)); do
    for t in "${TOOLS[@]}"; do
        fresh_fs
        cmd_for $t "$MNT/dst"
        read -r wall cpu rc other waited < <(python3 "$WORK/timeit.py" "${CMD[@]}" 2>>"$WORK/err.timed")
        echo "$t $r $wall $cpu $rc $other" >>"$RESULTS"
        log "run $r/$RUNS $(label_for $t): ${wall} ms wall, ${cpu} ms cpu, exit $rc;" \
            "other CPU ${other} ms; waited ${waited} ms for quiet"
    done
done
if mountpoint -q "$MNT"; then umount "$MNT"; fi

# --------------------------------------------------------------------------------------------
# 6. Report.
# --------------------------------------------------------------------------------------------
echo "## uring-cp small-file benchmark"
echo
echo "- tree: $SRC — $N_REG files, $N_DIR dirs, $N_LNK symlinks ($N_ALL entries), $((BYTES / 1000)) kB of data"
echo "- destination: fresh journaled ext4 ($IMG_SIZE image in /dev/shm on $LOOP), re-made before every run; warm source cache"
echo "- uring-cp: $REV$([[ $DIRTY -gt 0 ]] && echo " + $DIRTY modified tracked file(s)"); $(uname -r), $(nproc) CPUs; runs per tool: $RUNS, interleaved"
echo "- correctness (diff -r + type/mode/size/link listing vs cp -r): $CHECK"
echo
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
tools = [("cp", "cp -r"), ("uring", "uring-cp -r --engine uring"), ("portable", "uring-cp -r --engine portable")]
data = {t: [(float(w), float(c), int(rc), float(o)) for (tt, _, w, c, rc, o) in rows if tt == t]
        for t, _ in tools}
ref = statistics.median(r[0] for r in data["uring"])
print("| tool | median wall ms | min ms | max ms | median CPU (user+sys) ms | wall ratio to uring-cp (uring) | median other CPU ms | failed runs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for t, label in tools:
    ws = [r[0] for r in data[t]]; cs = [r[1] for r in data[t]]; os_ = [r[3] for r in data[t]]
    bad = sum(1 for r in data[t] if r[2] != 0)
    med = statistics.median(ws)
    print(f"| `{label}` | {med:.1f} | {min(ws):.1f} | {max(ws):.1f} | {statistics.median(cs):.1f} | {med / ref:.2f} | {statistics.median(os_):.0f} | {bad} |")
print()
print("Per-run wall ms [other CPU ms], run order (other = machine CPU busy outside the copy process:")
print("loop/writeback kworkers plus any foreign load; 10 ms ticks):")
for t, label in tools:
    print(f"- `{label}`: " + ", ".join(f"{r[0]:.1f} [{r[3]:.0f}]" for r in data[t]))
PY

# --------------------------------------------------------------------------------------------
# 7. Syscall census (untimed): strace -f -c of one copy per tool into a fresh filesystem.
#    io_uring requests executed by the kernel (inline or in io-wq workers) are not syscalls and do
#    not appear here; only io_uring_enter does.
# --------------------------------------------------------------------------------------------
echo
echo "## strace -f -c (one copy each, fresh filesystem; per-file = per entry of the tree: $N_ALL)"
for t in uring cp; do
    fresh_fs
    set +e
    cmd_for $t "$MNT/dst"
    strace -f -c -o "$WORK/strace.$t" "${CMD[@]}" 2>"$WORK/err.strace.$t"
    rc=$?
    set -e
    [[ $rc -eq 0 ]] || log "$(label_for $t) under strace exited with status $rc: $(head -c 2000 "$WORK/err.strace.$t")"
    echo
    echo "### \`$(label_for $t)\`$([[ $rc -ne 0 ]] && echo " (exit status $rc)")"
    python3 - "$WORK/strace.$t" "$N_ALL" <<'PY'
import sys
path, entries = sys.argv[1], int(sys.argv[2])
calls, errors, total = {}, {}, None
for line in open(path):
    f = line.split()
    if not f or f[0].startswith(("%", "-")):
        continue
    # columns: % time, seconds, usecs/call, calls, [errors], syscall (name last)
    name = f[-1]
    nums = f[:-1]
    if name == "total":
        total = int(nums[3])
        continue
    try:
        calls[name] = int(nums[3])
        errors[name] = int(nums[4]) if len(nums) > 4 else 0
    except (IndexError, ValueError):
        continue
if total is None:
    total = sum(calls.values())
print(f"- total syscalls: {total}  ({total / entries:.2f} per entry)")
print("- top 8 by count: " + ", ".join(
    f"{n} {c}" + (f" ({errors[n]} err)" if errors[n] else "")
    for n, c in sorted(calls.items(), key=lambda kv: -kv[1])[:8]))
PY
done
if mountpoint -q "$MNT"; then umount "$MNT"; fi
log "done"
