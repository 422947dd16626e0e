#!/usr/bin/env bash
# A/B check of two uring-cp binaries (e.g. before and after a change) on real trees: each copy
# goes into a fresh journaled ext4 on a RAM-backed loop device, warm cache (the source re-read
# before every run), the two binaries interleaved (which goes first alternates), RUNS runs
# each; prints the median wall time of each, their ratio, and the median of the rounds' ratios.
#
#     benches/ab.sh OLD_BINARY NEW_BINARY                    # /usr/share and a 1 GiB file
#     RUNS=7 TREES="/usr/include" ENGINES="uring portable" benches/ab.sh old new
#     FLAGS=-a benches/ab.sh old new                         # archive mode (default: -r)
#
# The 1 GiB file is made in /dev/shm (tmpfs), so its copy crosses filesystems (copy_file_range
# is refused: the splice or sendfile path). Needs root (loop devices, mounts).
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, mounts)" >&2; exit 1; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
RUNS=${RUNS:-5}
TREES=${TREES:-/usr/share}
ENGINES=${ENGINES:-uring portable uring-chains}
BIG=${BIG:-1}
read -r -a FLAGS <<< "${FLAGS:--r}"
work=$(mktemp -d /dev/shm/ucp-ab.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"
if [[ $BIG == 1 ]]; then
    head -c 1G /dev/urandom > "$work/big.bin"
    TREES="$TREES $work/big.bin"
fi

fresh_fs() {
    umount "$work/mnt" 2>/dev/null || true
    rm -f "$work/img"
    truncate -s 6G "$work/img"
    # Inode tables and journal zeroed now: lazily, the kernel's ext4lazyinit thread would write
    # them during the timed copy (tens of ms of noise on a warm copy).
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work/img"
    mount -o loop "$work/img" "$work/mnt"
    sync
}

# run BINARY ENGINE SRC: one copy into a fresh filesystem (a tree), or into the same one with
# the last copy removed (a single file: making a fresh 6 GiB image per run made the timing of
# a 1 GiB copy bimodal, 0.45 or 1.5 s, whichever binary ran); prints seconds.
run() {
    if [[ -d $3 ]] || ! mountpoint -q "$work/mnt"; then
        fresh_fs
    else
        rm -rf "$work/mnt/copy"
        sync
    fi
    # Re-read the source before every run: this host pages out file pages it sees idle for
    # 60 s (DAMON), so a source warmed once per tree was partly read from disk again a few
    # runs later (one binary's median of 11 read 1.19x the other's where a re-warmed check
    # was level).
    warm "$3"
    local t0 t1
    t0=$(date +%s.%N)
    "$1" --engine "$2" "${FLAGS[@]}" "$3" "$work/mnt/copy" || echo "ab.sh: $1 failed on $3" >&2
    t1=$(date +%s.%N)
    python3 -c "print($t1 - $t0)"
}

warm() { find "$1" -type f -print0 2>/dev/null | xargs -0 cat >/dev/null 2>&1 || true; }

median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.stdin))'; }

echo "flags: ${FLAGS[*]}"
printf '%-28s %-13s %10s %10s %8s %8s\n' tree engine old_s new_s new/old paired
for tree in $TREES; do
    for engine in $ENGINES; do
        o=() n=()
        for ((i = 0; i < RUNS; i++)); do
            # Every other round the new binary goes first: on this host the first or the
            # second run of a round can be the slow one for minutes (the same binary against
            # itself once read 0.805 with a fixed order, 11 runs).
            if ((i % 2 == 0)); then
                o+=("$(run "$OLD" "$engine" "$tree")")
                n+=("$(run "$NEW" "$engine" "$tree")")
            else
                n+=("$(run "$NEW" "$engine" "$tree")")
                o+=("$(run "$OLD" "$engine" "$tree")")
            fi
        done
        mo=$(printf '%s\n' "${o[@]}" | median)
        mn=$(printf '%s\n' "${n[@]}" | median)
        # The median of the rounds' own ratios moves less than a ratio of two medians.
        paired=$(python3 -c 'import sys, statistics
o, n = ([float(x) for x in v.split()] for v in sys.argv[1:3])
print(f"{statistics.median(b / a for a, b in zip(o, n)):.3f}")' "${o[*]}" "${n[*]}")
        printf '%-28s %-13s %10.3f %10.3f %8.3f %8s\n' "$(basename "$tree")" "$engine" "$mo" "$mn" \
            "$(python3 -c "print($mn / $mo)")" "$paired"
    done
done
