#!/usr/bin/env bash
# The floor of a cold copy of a real tree (issue 15's "within 1.1x of the floor"), measured
# beside uring-cp and xcp in the same run: each copy into a fresh journaled ext4 on a loop
# device over /dev/shm, the page cache dropped before each, the commands interleaved; medians.
#
#     benches/probes/floor/run.sh [UCP_BINARY]        # TREE=/usr/include RUNS=7 THREADS=64
#
# Rows: `floor-copy` (floor.c with the tree's list made beforehand, untimed: THREADS files in
# flight, directories made first), `floor-read` (the same, reading only), `uring-cp -r`,
# `xcp -r` (if installed). Needs root, gcc.
set -euo pipefail
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, drop_caches)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
UCP=$(realpath "${1:-$here/../../../target/release/uring-cp}")
TREE=${TREE:-/usr/include} RUNS=${RUNS:-7} THREADS=${THREADS:-64}
export PATH="$PATH:$HOME/.cargo/bin"
work=$(mktemp -d /dev/shm/ucp-floor.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"
gcc -O2 -pthread -o "$work/floor" "$here/floor.c"
(cd "$TREE" && find . -mindepth 1 -type d -printf 'd %P\n' && find . -type f -printf 'f %P\n') \
    > "$work/list"
cmds=("floor-copy|mkdir DST && $work/floor $work/list $TREE DST $THREADS"
      "floor-read|$work/floor $work/list $TREE - $THREADS"
      "uring-cp|$UCP -r $TREE DST")
command -v xcp >/dev/null && cmds+=("xcp|xcp -r $TREE DST")
declare -A wall
for ((r = 0; r < RUNS; r++)); do
    for spec in "${cmds[@]}"; do
        name=${spec%%|*} cmd=${spec#*|}
        umount "$work/mnt" 2>/dev/null || true
        rm -f "$work/img"; truncate -s 4G "$work/img"
        mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work/img"
        mount -o loop "$work/img" "$work/mnt"
        sync; echo 3 > /proc/sys/vm/drop_caches
        t0=$(date +%s%N)
        bash -c "${cmd//DST/$work/mnt/copy}" >/dev/null || echo "$name failed" >&2
        wall[$name]+="$((($(date +%s%N) - t0) / 1000000)) "
    done
done
echo "tree $TREE, $RUNS runs, $THREADS threads for the floor; wall ms: median (runs)"
for spec in "${cmds[@]}"; do
    name=${spec%%|*}
    med=$(tr ' ' '\n' <<< "${wall[$name]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-11s %6s  (%s)\n' "$name" "$med" "${wall[$name]% }"
done
