#!/usr/bin/env bash
# The cost of --verify (issue 16): a real tree and one large file copied with and without
# --verify into a fresh ext4 image on a RAM-backed loop device, interleaved, RUNS runs each;
# prints medians and the ratio. A RAM-backed device makes fdatasync and the read-back cheap:
# on a disk both cost what the disk costs, so read these ratios as the CPU and system-call
# side of verification only.
#
#     benches/verify.sh [UCP_BINARY]          # /usr/share and a 1 GiB file, 5 runs
#     RUNS=7 TREE=/usr/include benches/verify.sh
set -euo pipefail
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, mounts)" >&2; exit 1; }
cd "$(dirname "$0")/.."
UCP=$(realpath "${1:-target/release/uring-cp}")
[[ -x $UCP ]] || cargo build --release -q
RUNS=${RUNS:-5}
TREE=${TREE:-/usr/share}

work=$(mktemp -d /dev/shm/ucp-verify.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"
truncate -s 8G "$work/img"
mkfs.ext4 -q -F "$work/img"
mount -o loop "$work/img" "$work/mnt"
head -c 1G /dev/urandom > "$work/big"
find "$TREE" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true # warm

secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$@"; }
median() { python3 -c 'import sys, statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }

declare -A t=()
for ((i = 0; i < RUNS; i++)); do
    for what in tree big; do
        for flag in plain verify; do
            src=$TREE
            [[ $what == big ]] && src=$work/big
            extra=()
            [[ $flag == verify ]] && extra=(--verify)
            t0=$(date +%s.%N)
            "$UCP" -r "${extra[@]}" "$src" "$work/mnt/dst" || echo "verify.sh: $what $flag failed" >&2
            t1=$(date +%s.%N)
            t[$what-$flag]+="$(secs "$t0" "$t1") "
            rm -rf "$work/mnt/dst"
            sync
        done
    done
done
printf '%-6s %10s %10s %8s\n' what plain verify ratio
for what in tree big; do
    # shellcheck disable=SC2086
    p=$(median ${t[$what-plain]})
    # shellcheck disable=SC2086
    v=$(median ${t[$what-verify]})
    printf '%-6s %10s %10s %8s\n' "$what" "$p" "$v" "$(python3 -c "print(f'{$v / $p:.2f}')")"
done
