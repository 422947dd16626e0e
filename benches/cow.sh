#!/usr/bin/env bash
# Same-filesystem copies on copy-on-write filesystems (issue 17): a real tree is put into a
# fresh btrfs, xfs (reflink=1) and ext4 image on a RAM-backed loop device, then copied within
# that filesystem by each tool, warm (the source re-read before every run), interleaved, RUNS
# runs each. Prints the median wall time, its ratio to `cp -r`, the median CPU time (user +
# system), the space each copy does not share with its source (btrfs: `btrfs filesystem du`
# exclusive bytes; xfs, ext4: growth of the used space, so a clone shows ~0), and the median of
# the per-round ratios to `cp -r` and to cpz (`paired_cp`, `paired_cpz`: steadier than a ratio
# of two medians on a host whose speed drifts during the run).
#
#     benches/cow.sh [UCP_BINARY]                       # /usr/share, btrfs xfs ext4, 5 runs
#     RUNS=7 TREE=/usr/include FILESYSTEMS="btrfs" benches/cow.sh target/release/uring-cp
#     UCP_JOBS="1 2 8" benches/cow.sh                   # also uring-cp -j 1, -j 2, -j 8
#     EXTRA=$'portable-j1|UCP --engine portable -j 1 -r SRC DST' benches/cow.sh
#     ONLY="cp uring-cp uring-cp-j1 cpz" UCP_JOBS=1 benches/cow.sh   # only these tools
#     CPZ_SHARED=1 benches/cow.sh                       # also cpz with its threads sharing one
#                                                       # descriptor table, as uring-cp's do,
#                                                       # and cpz under the same seccomp filter
#                                                       # with its tables private (the control)
#
# Rivals (cpz, xcp, fcp) are used when on PATH or in ~/.cargo/bin; INSTALL=1 installs the
# missing ones with `cargo install --locked` first. Needs root (loop devices, mounts) and
# mkfs.btrfs / mkfs.xfs (installed from Debian when missing).
set -euo pipefail
[[ $EUID -eq 0 ]] || { echo "$0: must run as root (loop devices, mounts)" >&2; exit 1; }
cd "$(dirname "$0")/.."
UCP=$(realpath "${1:-target/release/uring-cp}")
[[ -x $UCP ]] || cargo build --release -q
RUNS=${RUNS:-5}
TREE=${TREE:-/usr/share}
FILESYSTEMS=${FILESYSTEMS:-btrfs xfs ext4}
export PATH="$PATH:$HOME/.cargo/bin"
command -v mkfs.btrfs >/dev/null || apt-get install -y -qq btrfs-progs >/dev/null
command -v mkfs.xfs >/dev/null || apt-get install -y -qq xfsprogs >/dev/null
[[ -x /usr/bin/time ]] || apt-get install -y -qq time >/dev/null
for t in cpz xcp fcp; do
    if ! command -v "$t" >/dev/null && [[ ${INSTALL:-0} == 1 ]]; then
        cargo install --locked -q "$t" || echo "cow.sh: could not install $t" >&2
    fi
done

work=$(mktemp -d /dev/shm/ucp-cow.XXXXXX)
trap 'umount "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/mnt"

# The tools: a label, then the command with SRC and DST placeholders.
tools=("cp|cp -r SRC DST" "uring-cp|$UCP -r SRC DST" "uring-cp-portable|$UCP --engine portable -r SRC DST"
       "uring-cp-chains|$UCP --engine uring-chains -r SRC DST")
# UCP_JOBS="1 2 8": also uring-cp with those worker counts (-j), to measure the best default.
for j in ${UCP_JOBS:-}; do tools+=("uring-cp-j$j|$UCP -j $j -r SRC DST"); done
# EXTRA=$'label|UCP --engine portable -j 1 -r SRC DST\n...': more commands, a line each
# (UCP stands for uring-cp's path).
while IFS= read -r line; do
    [[ -n $line ]] && tools+=("${line%%|*}|$(sed "s|UCP|$UCP|g" <<< "${line#*|}")")
done <<< "${EXTRA:-}"
command -v cpz >/dev/null && tools+=("cpz|cpz SRC DST")
if [[ ${CPZ_SHARED:-0} == 1 ]] && command -v cpz >/dev/null; then
    probe=$work/nounshare
    cc -O2 -o "$probe" "$(dirname "$0")/probes/shared-fd-table/nounshare.c"
    tools+=("cpz-shared-fds|$probe $(command -v cpz) SRC DST")
    # The same seccomp filter, unshare let through: what the filter alone costs.
    tools+=("cpz-filter-only|env NOUNSHARE_CONTROL=1 $probe $(command -v cpz) SRC DST")
fi
command -v xcp >/dev/null && tools+=("xcp|xcp -r SRC DST")
command -v fcp >/dev/null && tools+=("fcp|fcp SRC DST")
# ONLY="cp uring-cp cpz": just those labels (cp and cpz are the ratios' bases).
if [[ -n ${ONLY:-} ]]; then
    kept=()
    for entry in "${tools[@]}"; do [[ " $ONLY " == *" ${entry%%|*} "* ]] && kept+=("$entry"); done
    tools=("${kept[@]}")
fi

median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.stdin))'; }
# The median over rounds of one tool's time over another's in the same round: this host's
# speed drifts by tens of percent within minutes, and a round's tools run within seconds of
# each other, so this ratio moves less than one of two medians taken minutes apart.
paired() {
    python3 -c 'import sys, statistics
a, b = ([float(x) for x in v.split()] for v in sys.argv[1:3])
print(f"{statistics.median(x / y for x, y in zip(a, b)):.3f}" if a and len(a) == len(b) else "-")' "$1" "$2"
}
used() { sync; df --output=used -B1 "$work/mnt" | tail -1; }

printf 'tree %s, %s runs, %s\n' "$TREE" "$RUNS" "$(uname -r)"
printf '%-7s %-18s %9s %8s %9s %14s %10s %11s\n' fs tool median_s vs_cp cpu_s unshared_MiB \
    paired_cp paired_cpz
for fs in $FILESYSTEMS; do
    umount "$work/mnt" 2>/dev/null || true
    rm -f "$work/img"
    truncate -s 8G "$work/img"
    case $fs in
        btrfs) mkfs.btrfs -q -f "$work/img" ;;
        xfs) mkfs.xfs -q -f -m reflink=1 "$work/img" ;;
        *) mkfs.ext4 -q -F "$work/img" ;;
    esac
    mount -o loop "$work/img" "$work/mnt"
    cp -a "$TREE" "$work/mnt/src"
    sync
    warm() { find "$work/mnt/src" -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true; }
    declare -A times=() cpu=() space=()
    for ((i = 0; i < RUNS; i++)); do
        # Each round starts one tool further on: a tool that always ran right after
        # another's copy was removed (btrfs cleans up after `rm -rf` in the background)
        # would be slowed every round.
        for ((k = 0; k < ${#tools[@]}; k++)); do
            entry=${tools[(i + k) % ${#tools[@]}]}
            label=${entry%%|*}
            cmd=${entry#*|}
            dst="$work/mnt/dst-$label"
            cmd=${cmd//SRC/$work/mnt/src}
            cmd=${cmd//DST/$dst}
            # Re-read the source first: this host pages out file pages (and btrfs's
            # metadata pages) it sees idle for 60 s (DAMON), so a tree warmed once was
            # partly read from the image again a few runs later (`read_extent_buffer_pages`
            # in the off-CPU stacks).
            warm
            before=$(used)
            t0=$(date +%s.%N)
            /usr/bin/time -f '%U %S' -o "$work/cpu" $cmd || echo "cow.sh: $label failed" >&2
            t1=$(date +%s.%N)
            times[$label]+="$(python3 -c "print($t1 - $t0)") "
            cpu[$label]+="$(awk 'END {print $1 + $2}' "$work/cpu") "
            if [[ $i == 0 ]]; then
                if [[ $fs == btrfs ]]; then
                    sync
                    space[$label]=$(btrfs filesystem du -s --raw "$dst" | awk 'NR == 2 {print $2}')
                else
                    space[$label]=$(( $(used) - before ))
                fi
            fi
            rm -rf "$dst"
            sync
        done
    done
    cp_med=$(tr ' ' '\n' <<< "${times[cp]}" | grep . | median)
    for entry in "${tools[@]}"; do
        label=${entry%%|*}
        med=$(tr ' ' '\n' <<< "${times[$label]}" | grep . | median)
        cpu_med=$(tr ' ' '\n' <<< "${cpu[$label]}" | grep . | median)
        printf '%-7s %-18s %9.3f %8.3f %9.2f %14.1f %10s %11s\n' "$fs" "$label" "$med" \
            "$(python3 -c "print($med / $cp_med)")" "$cpu_med" \
            "$(python3 -c "print(max(0, ${space[$label]}) / 1048576)")" \
            "$(paired "${times[$label]}" "${times[cp]}")" "$(paired "${times[$label]}" "${times[cpz]:-}")"
    done
    unset times cpu space
done
