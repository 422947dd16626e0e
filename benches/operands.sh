#!/usr/bin/env bash
# Many operands: `TOOL DIR/* DEST/`, the shell-glob form of a copy (`cp -r man1/* dest/` names
# 17.9k files). Measures planning thousands of operands and sharing them out among workers,
# which a tree copy does not. Warm, into a fresh directory on tmpfs each run, tools
# interleaved, RUNS runs each; prints the median wall and CPU time and the ratio to cp.
#
#     benches/operands.sh [UCP_BINARY]                 # /usr/share/man/man1, 5 runs
#     RUNS=7 DIR=/usr/include/linux benches/operands.sh target/release/uring-cp
#
# Rivals (cpz, xcp, fcp) are used when on PATH or in ~/.cargo/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
UCP=$(realpath "${1:-target/release/uring-cp}")
[[ -x $UCP ]] || cargo build --release -q
RUNS=${RUNS:-5}
DIR=${DIR:-/usr/share/man/man1}
export PATH="$PATH:$HOME/.cargo/bin"
# More descriptors than operands for every tool (GNU cp needs none of them).
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /dev/shm/ucp-operands.XXXXXX)
trap 'rm -rf "$work"' EXIT

tools=("cp|cp -r" "uring-cp|$UCP -r" "rsync|rsync -r")
command -v cpz >/dev/null && tools+=("cpz|cpz")
command -v xcp >/dev/null && tools+=("xcp|xcp -r")
command -v fcp >/dev/null && tools+=("fcp|fcp")

cd "$DIR"
count=$(find . -mindepth 1 -maxdepth 1 | wc -l)
cat -- * >/dev/null 2>&1 || true # warm
printf '%s/* (%s operands), %s runs, %s\n' "$DIR" "$count" "$RUNS" "$(uname -r)"
declare -A wall cpu
for ((run = 0; run < RUNS; run++)); do
    for t in "${tools[@]}"; do
        name=${t%%|*} cmd=${t#*|}
        rm -rf "$work/dst"
        mkdir "$work/dst"
        # shellcheck disable=SC2086 # the command is words
        /usr/bin/time -o "$work/time" -f '%e %U %S' $cmd * "$work/dst/" >/dev/null 2>"$work/err" ||
            { echo "$name failed: $(head -3 "$work/err")" >&2; continue; }
        read -r e u s <"$work/time"
        wall[$name]+="$e "
        cpu[$name]+="$(python3 -c "print($u + $s)") "
    done
done
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
base=$(median ${wall[cp]})
printf '%-10s %9s %9s %7s\n' tool wall_s cpu_s vs_cp
for t in "${tools[@]}"; do
    name=${t%%|*}
    [[ -n ${wall[$name]:-} ]] || continue
    w=$(median ${wall[$name]})
    printf '%-10s %9.3f %9.3f %7.2f\n' "$name" "$w" "$(median ${cpu[$name]})" "$(python3 -c "print($w / $base)")"
done
