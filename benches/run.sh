#!/usr/bin/env bash
# End-to-end benchmark: uring-cp (both engines) against cp -r, rsync -a, and cpz / xcp / fcp when
# installed, on generated corpora (and real trees: CORPORA=real), into fresh journaled ext4 and xfs
# filesystems, warm and cold.
# Writes benches/RESULTS.md. See benches/README.md for the method and every knob.
#
#     benches/run.sh                          # full default run (~30 min; corpora generated once)
#     QUICK=1 benches/run.sh                  # smoke run (~3 min)
#     SMALL_FILES=20000 LARGE_MB=256 CORPORA="small large" SCENARIOS=ext4:cross:warm benches/run.sh
#     MILLION=1 CORPORA= SCENARIOS= STRACE=0 benches/run.sh   # only the 1M-file peak-RSS check
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCHES="$REPO/benches"
log() { printf '[run.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $EUID -ne 0 ]]; then
    die "must run as root: it makes filesystems on loop devices, mounts them, and drops the page cache" \
        "(echo 3 > /proc/sys/vm/drop_caches) for the cold-cache runs"
fi

# ------------------------------------------------------------------------------------------------
# System tools (Debian package names). Rival copiers come from cargo (see README); absent ones are
# skipped and listed as such in RESULTS.md.
# ------------------------------------------------------------------------------------------------
need=()
command -v strace    >/dev/null || need+=(strace)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v mkfs.xfs  >/dev/null || need+=(xfsprogs)
command -v rsync     >/dev/null || need+=(rsync)
command -v losetup   >/dev/null || need+=(mount)
command -v openssl   >/dev/null || need+=(openssl)
command -v diff      >/dev/null || need+=(diffutils)
if ((${#need[@]})); then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; }
fi
command -v python3 >/dev/null || die "python3 (3.9+) is required"
command -v cargo   >/dev/null || die "cargo is required"
command -v cc      >/dev/null || die "a C compiler (cc) is required for benches/timeit.c (apt-get install gcc)"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"      # cpz, xcp, fcp from `cargo install`

# ------------------------------------------------------------------------------------------------
# Scratch space; cleanup on every exit (success, failure, Ctrl-C, TERM). bench.py cleans up after
# itself too; this is the safety net: it touches only mounts under $WORK and loop devices backed by
# images under $SHM, i.e. only what this invocation created.
# ------------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/uring-cp-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/uring-cp-bench.XXXXXX)
PY_PID=""
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $PY_PID ]] && kill -0 "$PY_PID" 2>/dev/null; then
        kill -TERM "$PY_PID" 2>/dev/null
        wait "$PY_PID" 2>/dev/null
    fi
    local m f lo
    for m in $(findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    for f in "$SHM"/*; do
        [[ -e $f ]] || continue
        for lo in $(losetup -j "$f" -O NAME -n 2>/dev/null); do losetup -d "$lo"; done
    done
    rm -rf "$SHM" "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------------
# Build, then snapshot the binary: src/ is edited concurrently, and a rebuild by someone else must
# not swap the binary in the middle of the measurements.
# ------------------------------------------------------------------------------------------------
# UCP=/path/to/uring-cp measures that binary instead (no build; e.g. another checkout's release
# build, so a second worktree need not compile everything again on a busy machine).
mkdir -p "$WORK/bin"
if [[ -n ${UCP:-} ]]; then
    [[ -x $UCP ]] || die "UCP=$UCP is not an executable"
    cp "$UCP" "$WORK/bin/uring-cp"
    UREPO=$(cd "$(dirname "$UCP")" && git rev-parse --show-toplevel 2>/dev/null || true)
    REV="prebuilt $UCP ($(date -r "$UCP" '+%Y-%m-%d %H:%M'))"
    [[ -n $UREPO ]] && REV="$REV; its checkout is at $(git -C "$UREPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
else
    log "cargo build --release"
    (cd "$REPO" && cargo build --release --quiet) >&2
    cp "$REPO/target/release/uring-cp" "$WORK/bin/uring-cp"
    REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    DIRTY=$(git -C "$REPO" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l)
    [[ $DIRTY -gt 0 ]] && REV="$REV + $DIRTY uncommitted change(s) in src/Cargo"
fi
export UCP_BIN="$WORK/bin/uring-cp" UCP_REV="$REV"
export UCP_SHA=$(sha256sum "$UCP_BIN" | cut -c1-64)
export BENCH_WORK="$WORK" BENCH_SHM="$SHM" BENCH_OUT="${BENCH_OUT:-$BENCHES/RESULTS.md}"
log "uring-cp $REV snapshot at $UCP_BIN"
cc -O2 -o "$WORK/bin/timeit" "$BENCHES/timeit.c"
export TIMEIT_BIN="$WORK/bin/timeit"

python3 "$BENCHES/bench.py" run &
PY_PID=$!
wait "$PY_PID"
