#!/usr/bin/env bash
# The floor of a same-filesystem copy within btrfs (issue 17's "<= 0.8x cp -r"), measured beside
# cp, uring-cp and cpz in the same run: a tree is put into a fresh btrfs (or FS=xfs) image on a
# RAM-backed loop device and copied within it, warm (the source re-read before every run),
# interleaved, RUNS rounds. `floor-jN` is clonefloor.c given the tree's list made beforehand
# (untimed) with N threads taking 64 entries at a time, `floor-jN:0` taking one directory's
# entries at a time (JOBS="2:0"); `-private`: the same with a descriptor table per thread.
# ORDERS="grouped hash name": also `floor-j1-ORDER`, one thread given the list reordered by
# order.py (one directory's entries together: in readdir order, by btrfs's name hash, by name).
# LAGS="64 2000": also `floor-lagL`, the creator one thread, the cloner another, L files behind
# (clonefloor's `lag:L`). SMALLS="2048": also `floor-j1-smallN`, one thread writing files of at
# most N bytes (pread + pwrite) instead of cloning them.
# Prints each command's median wall time and the median of its per-round ratios to `cp -r`.
#
#     benches/probes/clonefloor/run.sh [UCP_BINARY]     # TREE=/usr/share RUNS=7 JOBS="1 2 3"
#     JOBS=1 ORDERS="grouped hash name" benches/probes/clonefloor/run.sh
#     JOBS=1 LAGS="64 2000" SMALLS=2048 benches/probes/clonefloor/run.sh
#
# Needs root (loop devices, mounts), gcc, mkfs.btrfs.
set -euo pipefail
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, mounts)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
UCP=$(realpath "${1:-$here/../../../target/release/uring-cp}")
TREE=${TREE:-/usr/share} RUNS=${RUNS:-7} JOBS=${JOBS:-1 2 3} FS=${FS:-btrfs} ORDERS=${ORDERS:-}
LAGS=${LAGS:-} SMALLS=${SMALLS:-}
export PATH="$PATH:$HOME/.cargo/bin"
command -v mkfs.btrfs >/dev/null || apt-get install -y -qq btrfs-progs >/dev/null
command -v mkfs.xfs >/dev/null || apt-get install -y -qq xfsprogs >/dev/null
work=$(mktemp -d /dev/shm/ucp-clonefloor.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"
gcc -O2 -pthread -o "$work/clonefloor" "$here/clonefloor.c"
truncate -s 8G "$work/img"
case $FS in
    btrfs) mkfs.btrfs -q -f "$work/img" >/dev/null ;;
    xfs) mkfs.xfs -q -f -m reflink=1 "$work/img" ;;
esac
mount -o loop "$work/img" "$work/mnt"
cp -a "$TREE" "$work/mnt/src"
sync
(cd "$work/mnt/src" && find . -mindepth 1 -printf '%y %P\n') > "$work/list"
cmds=("cp|cp -r SRC DST" "uring-cp|$UCP -r SRC DST")
command -v cpz >/dev/null && cmds+=("cpz|cpz SRC DST")
for j in $JOBS; do
    threads=${j%%:*} chunk=64
    [[ $j == *:* ]] && chunk=${j#*:}
    cmds+=("floor-j$j|$work/clonefloor $work/list SRC DST $threads $chunk"
           "floor-j$j-private|env PRIVATE=1 $work/clonefloor $work/list SRC DST $threads $chunk")
done
for l in $LAGS; do cmds+=("floor-lag$l|$work/clonefloor $work/list SRC DST lag:$l"); done
for b in $SMALLS; do cmds+=("floor-j1-small$b|env SMALL=$b $work/clonefloor $work/list SRC DST 1"); done
for order in $ORDERS; do
    python3 "$here/order.py" "$order" "$work/list" > "$work/list-$order"
    cmds+=("floor-j1-$order|$work/clonefloor $work/list-$order SRC DST 1")
done
declare -A wall
for ((r = 0; r < RUNS; r++)); do
    # Each round starts one command further on (no command always follows the same one).
    for ((k = 0; k < ${#cmds[@]}; k++)); do
        spec=${cmds[(r + k) % ${#cmds[@]}]}
        name=${spec%%|*} cmd=${spec#*|}
        cmd=${cmd//SRC/$work/mnt/src}
        cmd=${cmd//DST/$work/mnt/dst}
        find "$work/mnt/src" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
        sync
        t0=$(date +%s%N)
        $cmd >/dev/null || echo "$name failed" >&2
        wall[$name]+="$((($(date +%s%N) - t0) / 1000000)) "
        rm -rf "$work/mnt/dst"
        sync
    done
done
printf 'tree %s within %s, %s rounds, %s\n%-18s %10s %10s\n' "$TREE" "$FS" "$RUNS" "$(uname -r)" \
    command median_ms paired_cp
for spec in "${cmds[@]}"; do
    name=${spec%%|*}
    python3 -c 'import sys, statistics as s
a, b = ([int(x) for x in v.split()] for v in sys.argv[2:4])
print(f"{sys.argv[1]:<18} {s.median(a):>10.0f} {s.median(x / y for x, y in zip(a, b)):>10.3f}")' \
        "$name" "${wall[$name]}" "${wall[cp]}"
done
