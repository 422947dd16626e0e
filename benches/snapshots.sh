#!/usr/bin/env bash
# Snapshot backups (issue 16): a daily rotation with --link-dest, uring-cp against rsync.
#
# A real tree (default /usr/share) is copied into a fresh ext4 image on a RAM-backed loop
# device as `src`; then for DAYS days, 1% of its files change (a line appended: size and time
# differ) and each tool makes that day's snapshot linked to its own previous one:
#
#     rsync -a --delete --link-dest=../dayN-1 src/ rsync/dayN/
#     uring-cp -a --sync --delete --link-dest=../dayN-1 -T src uring-cp/dayN
#
# Day 0 is a full copy (no basis); days 1.. are the snapshots that matter. Tools alternate which
# goes first each day. Prints each day's wall times, the medians over days 1.. and the ratio,
# then checks that both rotations hold the same trees and link counts.
#
#     benches/snapshots.sh [UCP_BINARY]
#     DAYS=7 TREE=/usr/share CLONE=1 benches/snapshots.sh   # CLONE=1: also --clone-dest on xfs
#
# Needs root (loop devices, mounts) and rsync (installed from Debian when missing).
set -euo pipefail
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, mounts)" >&2; exit 1; }
cd "$(dirname "$0")/.."
UCP=$(realpath "${1:-target/release/uring-cp}")
[[ -x $UCP ]] || cargo build --release -q
DAYS=${DAYS:-7}
TREE=${TREE:-/usr/share}
command -v rsync >/dev/null || apt-get install -y -qq rsync >/dev/null
command -v mkfs.xfs >/dev/null || apt-get install -y -qq xfsprogs >/dev/null

work=$(mktemp -d /dev/shm/ucp-snap.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"

# Append a line to 1% of the regular files (a different 1% each day).
mutate() {
    python3 - "$1" "$2" <<'EOF'
import os, sys
root, day = sys.argv[1], int(sys.argv[2])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
               if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f)))
for p in files[day % 100::100]:
    with open(p, "ab") as f:
        f.write(b"changed on day %d\n" % day)
EOF
}

secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$@"; }
median() { python3 -c 'import sys, statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }

# rotation FS LABEL_A CMD_A LABEL_B CMD_B: DAYS snapshots by each; CMD has DST and LINKDEST
# or CLONEDEST (the option naming the day before; nothing on day 0).
rotation() {
    local fs=$1
    umount "$work/mnt" 2>/dev/null || true
    rm -f "$work/img"
    truncate -s 12G "$work/img"
    case $fs in
        xfs) mkfs.xfs -q -f -m reflink=1 "$work/img" ;;
        *) mkfs.ext4 -q -F "$work/img" ;;
    esac
    mount -o loop "$work/img" "$work/mnt"
    cp -a "$TREE" "$work/mnt/src"
    mkdir "$work/mnt/a" "$work/mnt/b"
    sync
    local -a ta=() tb=()
    printf '%-6s %-5s %10s %10s\n' "$fs" day "$2" "$4"
    for ((d = 0; d < DAYS; d++)); do
        ((d == 0)) || mutate "$work/mnt/src" "$d"
        sync
        local basis=""
        ((d == 0)) || basis="../day$((d - 1))"
        local order=(a b)
        ((d % 2 == 0)) || order=(b a)
        local t_a t_b
        for side in "${order[@]}"; do
            local cmd
            if [[ $side == a ]]; then cmd=$3; else cmd=$5; fi
            cmd=${cmd//DST/$side\/day$d}
            if [[ -z $basis ]]; then
                cmd=${cmd//LINKDEST/}
                cmd=${cmd//CLONEDEST/}
            else
                cmd=${cmd//LINKDEST/--link-dest=$basis}
                cmd=${cmd//CLONEDEST/--clone-dest=$basis}
            fi
            local t0 t1
            t0=$(date +%s.%N)
            (cd "$work/mnt" && eval "$cmd") || echo "snapshots.sh: $side failed on day $d" >&2
            t1=$(date +%s.%N)
            if [[ $side == a ]]; then t_a=$(secs "$t0" "$t1"); else t_b=$(secs "$t0" "$t1"); fi
        done
        printf '%-6s %-5s %10s %10s\n' "$fs" "$d" "$t_a" "$t_b"
        if ((d > 0)); then ta+=("$t_a"); tb+=("$t_b"); fi
    done
    local ma mb
    ma=$(median "${ta[@]}")
    mb=$(median "${tb[@]}")
    printf '%-6s %-5s %10s %10s   ratio %s\n' "$fs" median "$ma" "$mb" \
        "$(python3 -c "print(f'{$mb / $ma:.3f}')")"
    # Same trees and link counts on the last day, and the same number of inodes overall.
    local want got
    # (Directory sizes are left out: they depend on the order names came and went.)
    want=$(cd "$work/mnt/a" && find . ! -type d -printf '%P %y %s %n %m\n' | sort | md5sum)
    got=$(cd "$work/mnt/b" && find . ! -type d -printf '%P %y %s %n %m\n' | sort | md5sum)
    [[ $2 == rsync ]] || return 0 # a clone rotation has other link counts by design
    [[ $want == "$got" ]] && echo "$fs: both rotations hold the same trees and link counts" ||
        echo "$fs: the rotations DIFFER (compare with find ! -type d -printf '%P %y %s %n %m')" >&2
    echo "$fs: space used: $(df --output=used -h "$work/mnt" | tail -1) for the source and both rotations"
}

echo "tree $TREE, $DAYS days, 1% of the files changed per day, $(uname -r)"
rotation ext4 rsync "rsync -a --delete LINKDEST src/ DST/" \
    uring-cp "$UCP -a --sync --delete LINKDEST -T src DST"
if [[ ${CLONE:-0} == 1 ]]; then
    rotation xfs link-dest "$UCP -a --sync --delete LINKDEST -T src DST" \
        clone-dest "$UCP -a --sync --delete CLONEDEST -T src DST"
fi
