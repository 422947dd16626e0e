#!/usr/bin/env bash
# Runs GNU coreutils 9.1's own tests/cp/*.sh against uring-cp.
#
# Fetches the Debian source of coreutils 9.1 (apt-get source), builds it once
# into a cache outside the clone, then runs every tests/cp/*.sh twice: with
# GNU's own cp (the reference; cached per coreutils version) and with
# uring-cp installed as the build tree's src/cp (a wrapper that adds
# `--engine $UCP_ENGINE` and rewrites the "uring-cp:" message prefix to "cp:").
# Tests that skip as root are run again as the `nobody` user.
#
# Exits nonzero when a test GNU cp passes here does not pass with uring-cp,
# unless tests/gnu/expected-failures.txt lists it, and when a listed test
# passes (remove it from the list). Prints `SKIP <reason>` and exits 0 when
# it cannot run (not root; no network and nothing cached; io_uring missing
# for an io_uring-only engine).
#
# UCP_GNU_FS=btrfs|xfs runs the same tests within a fresh filesystem of that
# type: the built tree (the tests make their working directories in it) is
# copied into a loop-mounted image, which is mounted over the cache's path in
# a mount namespace of its own, so every absolute path of the build stays
# true; GNU cp's reference is taken again there, and the image goes at the
# end. There UCP_ENGINE may name several engines ("auto portable"), run one
# after the other on the one image.
#
# Knobs: UCP_ENGINE (auto|uring|uring-chains|portable; default auto),
# UCP_BIN (the uring-cp binary; default: `cargo build --locked` and
# target/debug/uring-cp), UCP_GNU_CACHE (default /var/cache/uring-cp-gnu),
# UCP_GNU_TIMEOUT (seconds per test, default 120), UCP_GNU_JOBS (parallel
# tests, default nproc), UCP_GNU_TESTS (space-separated test names to run
# instead of all, e.g. "cp-i.sh same-file.sh"), UCP_GNU_REFRESH=1 (recompute
# the cached GNU reference).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${UCP_GNU_CACHE:-/var/cache/uring-cp-gnu}
engine=${UCP_ENGINE:-auto}
per_test_timeout=${UCP_GNU_TIMEOUT:-120}
jobs=${UCP_GNU_JOBS:-$(nproc)}
expected_file=$here/expected-failures.txt
cu_version=9.1
tree=$cache/coreutils-$cu_version
t_start=$SECONDS

log() { printf '[gnu-tests %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
skip() { printf 'SKIP %s\n' "$*"; exit 0; }
die() { log "error: $*"; exit 2; }

for e in $engine; do
    case $e in
        auto | uring | uring-chains | portable) ;;
        *) die "UCP_ENGINE=$engine: expected auto, uring, uring-chains or portable" ;;
    esac
done
[ "$(wc -w <<<"$engine")" = 1 ] || [ -n "${UCP_GNU_FS:-}" ] ||
    die "UCP_ENGINE=$engine: one engine (several only with UCP_GNU_FS)"
[ "$(id -u)" = 0 ] || skip "tests/gnu/run.sh needs root (apt-get, the root-only GNU tests, runs as nobody)"

mkdir -p "$cache"
chmod 0755 "$cache"
# One run at a time per cache: the build tree's src/cp is swapped in and out.
exec 9>"$cache/lock"
flock -n 9 || { log "waiting for another run that uses $cache"; flock 9; }

apt_quiet() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o=Dpkg::Use-Pty=0 "$@"; }

# ---------------------------------------------------------------- fetch

# A deb-src entry for bookworm main, with the URI and signed-by of the
# existing Debian deb entry, unless some deb-src entry already exists.
ensure_deb_src() {
    local f uri="" signed=""
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && grep -qE '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -qiE '^Types:.*deb-src' "$f" && return 0
    done
    # deb822 (Debian 12's default): the paragraph whose Suites has bookworm.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        read -r uri signed < <(awk '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = suites = uris = signed = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^Types:/) types = $i
                    if ($i ~ /^Suites:/) suites = $i
                    if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris); sub(/[ \t].*/, "", uris) }
                    if ($i ~ /^Signed-By:[ \t]*\//) { signed = $i; sub(/^Signed-By:[ \t]*/, "", signed) }
                }
                if (types ~ /[ \t]deb([ \t]|$)/ && suites ~ /[ \t]bookworm([ \t]|$)/ && uris != "") {
                    print uris, signed; exit
                }
            }' "$f") || true
        [ -n "$uri" ] && break
    done
    # One-line format: deb [signed-by=...] URI bookworm main
    if [ -z "$uri" ]; then
        local line
        line=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            grep -E '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm[[:space:]]' | head -n1) || true
        if [ -n "$line" ]; then
            signed=$(sed -nE 's/.*signed-by=([^] ]+).*/\1/p' <<<"$line")
            uri=$(sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*//' <<<"$line")
        fi
    fi
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    local opt=""
    [ -n "$signed" ] && opt="[signed-by=$signed] "
    log "adding /etc/apt/sources.list.d/uring-cp-gnu-src.list: deb-src ${opt}$uri bookworm main"
    printf 'deb-src %s%s bookworm main\n' "$opt" "$uri" >/etc/apt/sources.list.d/uring-cp-gnu-src.list
}

fetch() {
    [ -x "$tree/configure" ] && [ -f "$cache/debian-version" ] && return 0
    log "fetching the coreutils source (apt-get source) into $cache"
    ensure_deb_src
    apt_quiet update || skip "apt-get update failed (no network?) and $cache holds no coreutils source"
    command -v dpkg-source >/dev/null || apt_quiet install dpkg-dev ||
        skip "cannot install dpkg-dev (no network?)"
    local dl=$cache/download
    rm -rf "$dl" "$tree"
    mkdir -p "$dl"
    (cd "$dl" && apt-get source -qq coreutils) >"$cache/fetch.log" 2>&1 ||
        skip "apt-get source coreutils failed (no network?; see $cache/fetch.log) and $cache holds no coreutils source"
    [ -x "$dl/coreutils-$cu_version/configure" ] ||
        die "apt-get source coreutils did not give coreutils $cu_version: $(cd "$dl" && echo coreutils-*)"
    local v
    v=$(sed -n "s/^PACKAGE_VERSION='\(.*\)'$/\1/p" "$dl/coreutils-$cu_version/configure")
    [ "$v" = "$cu_version" ] || die "the fetched configure says version '$v', not $cu_version"
    dpkg-parsechangelog -l "$dl/coreutils-$cu_version/debian/changelog" -S Version >"$cache/debian-version"
    mv "$dl/coreutils-$cu_version" "$tree"
    rm -rf "$dl"
    log "fetched coreutils $(cat "$cache/debian-version")"
}

# ---------------------------------------------------------------- build

# What configure and the tests need: a C compiler, make, perl (several tests
# are perl), the libraries Debian's /bin/cp links with (ACL, xattr, SELinux,
# so that the reference cp matches Debian's), libcap (capability.sh skips
# without it) and tools the cp tests call (getfacl/setfacl, getfattr/setfattr,
# getcap/setcap). The stamp holds this list: changing it rebuilds.
build_deps=(gcc make perl libacl1-dev libattr1-dev libselinux1-dev libcap-dev acl attr libcap2-bin)

build() {
    local stamp=$tree/.uring-cp-built
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${build_deps[*]}" ]; then
        log "coreutils $cu_version already built in $tree (that build took $(cat "$cache/build-seconds" 2>/dev/null || echo '?') s)"
        return 0
    fi
    local missing=() p
    for p in "${build_deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        { apt_quiet update && apt_quiet install "${missing[@]}"; } >"$cache/deps.log" 2>&1 ||
            die "could not install ${missing[*]} (see $cache/deps.log)"
    fi
    log "configuring and building coreutils $cu_version in $tree (make -j$jobs; logs in $cache/build.log)"
    local t0=$SECONDS
    (cd "$tree" && FORCE_UNSAFE_CONFIGURE=1 ./configure --quiet && make -j"$jobs") >"$cache/build.log" 2>&1 ||
        die "building coreutils failed; see $cache/build.log"
    [ -x "$tree/src/cp" ] || die "the build produced no src/cp"
    cp -p "$tree/src/cp" "$tree/src/cp.gnu"
    echo $((SECONDS - t0)) >"$cache/build-seconds"
    # A new build invalidates GNU cp's cached results.
    rm -rf "$cache"/reference-*
    echo "${build_deps[*]}" >"$stamp"
    log "built coreutils $cu_version in $(cat "$cache/build-seconds") s"
}

# ---------------------------------------------------------------- cp swap

gnu_cp=$tree/src/cp.gnu

restore_gnu_cp() {
    [ -f "$gnu_cp" ] && cp -p "$gnu_cp" "$tree/src/cp"
    return 0
}

install_uring_cp() {
    # The wrapper gets GNU cp's mtime: otherwise make would regenerate
    # man/cp.1 (help2man on the wrapper) or relink src/cp.
    sed -e "s|@UCP_BIN@|$cache/bin/uring-cp|" -e "s|@UCP_ENGINE@|$engine|" \
        "$here/cp-wrapper.sh" >"$tree/src/cp.tmp"
    chmod 0755 "$tree/src/cp.tmp"
    touch -r "$gnu_cp" "$tree/src/cp.tmp"
    mv -f "$tree/src/cp.tmp" "$tree/src/cp"
}

# ---------------------------------------------------------------- running

all_tests() { (cd "$tree/tests/cp" && printf '%s\n' *.sh); }

# run_tests USER DIR TEST...: runs the tests with make check as USER and
# copies their .log/.trs into DIR.
run_tests() {
    local user=$1 out=$2 t
    shift 2
    local paths=()
    for t in "$@"; do
        paths+=("tests/cp/$t")
        rm -f "$tree/tests/cp/${t%.sh}.log" "$tree/tests/cp/${t%.sh}.trs"
    done
    rm -f "$tree/tests/test-suite.log"
    mkdir -p "$out"
    local cmd=(make -j"$jobs" check SUBDIRS=. VERBOSE=yes
        "TESTS=${paths[*]}"
        # Two tests block forever on a FIFO when cp exits early: a time
        # limit per test (timeout kills the test's whole process group).
        "SH_LOG_COMPILER=timeout -k 10 $per_test_timeout \$(SHELL)"
        RUN_EXPENSIVE_TESTS=yes RUN_VERY_EXPENSIVE_TESTS=yes
        NON_ROOT_USERNAME=nobody NON_ROOT_GROUP=nogroup "COREUTILS_GROUPS=0 100")
    if [ "$user" = root ]; then
        (cd "$tree" && "${cmd[@]}") </dev/null >>"$out/make.log" 2>&1 || true
    else
        (cd "$tree" && runuser -u "$user" -- "${cmd[@]}") </dev/null >>"$out/make.log" 2>&1 || true
    fi
    for t in "$@"; do
        cp "$tree/tests/cp/${t%.sh}.log" "$tree/tests/cp/${t%.sh}.trs" "$out/" 2>/dev/null || true
    done
}

# result DIR TEST: PASS, FAIL, SKIP, XFAIL, XPASS, ERROR, TIMEOUT or NOTRUN.
result() {
    local trs=$1/${2%.sh}.trs logf=$1/${2%.sh}.log r
    [ -f "$trs" ] || { echo NOTRUN; return; }
    r=$(sed -n 's/^:test-result: //p' "$trs" | head -n1)
    if [ "$r" = FAIL ] && grep -qE '^FAIL:? .*\(exit status: 124\)$' "$logf" 2>/dev/null; then
        r=TIMEOUT
    fi
    echo "${r:-NOTRUN}"
}

# Skipped because we are root: rerun as nobody.
skipped_as_root() {
    grep -q 'must be run as non-root' "$1/${2%.sh}.log" 2>/dev/null
}

# run_suite LABEL OUTDIR: all tests as root, then the ones that skip as root
# as nobody; writes OUTDIR/results ("test result" lines).
run_suite() {
    local label=$1 out=$2 t
    rm -rf "$out"
    mkdir -p "$out/root" "$out/nobody"
    local tests
    read -r -a tests <<<"${UCP_GNU_TESTS:-$(all_tests | tr '\n' ' ')}"
    log "$label: running ${#tests[@]} tests as root (make -j$jobs check, ${per_test_timeout}s per test)"
    local t0=$SECONDS
    run_tests root "$out/root" "${tests[@]}"
    local again=()
    for t in "${tests[@]}"; do
        skipped_as_root "$out/root" "$t" && again+=("$t")
    done
    if [ ${#again[@]} -gt 0 ]; then
        log "$label: running ${again[*]} again as nobody"
        # nobody writes the test directories, logs and test-suite.log.
        chown -R nobody:nogroup "$tree"
        run_tests nobody "$out/nobody" "${again[@]}"
    fi
    local -A as_nobody=()
    for t in "${again[@]}"; do as_nobody[$t]=1; done
    for t in "${tests[@]}"; do
        if [ -n "${as_nobody[$t]-}" ]; then
            echo "$t $(result "$out/nobody" "$t")(nobody)"
        else
            echo "$t $(result "$out/root" "$t")"
        fi
    done >"$out/results.tmp"
    mv "$out/results.tmp" "$out/results"
    log "$label: done in $((SECONDS - t0)) s: $(awk '{sub(/\(.*/, "", $2); n[$2]++} END {for (r in n) printf "%s %d  ", r, n[r]}' "$out/results")"
}

# ---------------------------------------------------------------- within

# run_within FS: the tests within a fresh FS (see UCP_GNU_FS above), once per
# engine of UCP_ENGINE; exits with the first failure's status.
run_within() {
    local fs=$1 work status=0 e
    local -a mkfs
    case $fs in
        btrfs) mkfs=(mkfs.btrfs -q -f) ;;
        xfs) mkfs=(mkfs.xfs -q -f -m reflink=1) ;;
        *) die "UCP_GNU_FS=$fs: expected btrfs or xfs" ;;
    esac
    command -v "${mkfs[0]}" >/dev/null || skip "UCP_GNU_FS=$fs: ${mkfs[0]} is not installed"
    command -v unshare >/dev/null || skip "UCP_GNU_FS=$fs: unshare (util-linux) is not installed"
    work=$(mktemp -d "/tmp/uring-cp-gnu-$fs.XXXXXX")
    truncate -s 2G "$work/img"
    "${mkfs[@]}" "$work/img" >/dev/null 2>&1 || { rm -rf "$work"; die "${mkfs[0]} failed"; }
    mkdir "$work/mnt"
    if ! mount -o loop "$work/img" "$work/mnt"; then
        rm -rf "$work"
        skip "UCP_GNU_FS=$fs: cannot loop-mount an image here"
    fi
    # Gone however the run ends (an interrupted run too).
    within_work=$work
    trap 'umount "$within_work/mnt" 2>/dev/null; rm -rf "$within_work"; restore_gnu_cp' EXIT
    # The built tree without earlier runs' results (GNU cp's are taken again there).
    tar -C "$cache" --exclude='./run-*' --exclude='./reference-*' -cf - . | tar -C "$work/mnt" -xf -
    log "within $fs: the built tree copied into a fresh $fs image ($work), mounted over $cache"
    for e in $engine; do
        UCP_GNU_WITHIN=$fs UCP_ENGINE=$e unshare --mount --propagation private \
            sh -c 'mount --bind "$1" "$2" && exec "$3"' sh "$work/mnt" "$cache" "$here/run.sh" ||
            status=$?
        if [ "$status" != 0 ]; then
            # The logs the report names would go with the image: keep them.
            rm -rf "$cache/within-$fs"
            mkdir -p "$cache/within-$fs"
            cp -a "$work/mnt/run-$e" "$work/mnt/reference-"* "$cache/within-$fs/" 2>/dev/null || true
            log "within $fs: the logs of this run are kept in $cache/within-$fs"
            break
        fi
    done
    exit "$status"
}

# ---------------------------------------------------------------- main

fetch
# GNU's cp back in place if an earlier run was killed (and for the build).
trap restore_gnu_cp EXIT
trap 'exit 130' INT TERM
restore_gnu_cp
build
[ -n "${UCP_GNU_FS:-}" ] && [ -z "${UCP_GNU_WITHIN:-}" ] && run_within "$UCP_GNU_FS"

# The uring-cp binary, copied into the cache: the clone may sit under a
# directory that nobody cannot enter.
if [ -n "${UCP_BIN:-}" ]; then
    bin=$UCP_BIN
else
    bin=${CARGO_TARGET_DIR:-$repo/target}/debug/uring-cp
    if command -v cargo >/dev/null; then
        log "cargo build --locked"
        (cd "$repo" && cargo build --locked --quiet) || die "cargo build --locked failed"
    fi
fi
[ -x "$bin" ] || die "no uring-cp binary at $bin (set UCP_BIN)"
mkdir -p "$cache/bin"
install -m 0755 "$bin" "$cache/bin/uring-cp"
case $engine in
    uring | uring-chains)
        "$cache/bin/uring-cp" --version | grep -q 'io_uring: available' ||
            skip "UCP_ENGINE=$engine needs io_uring, which is unavailable here"
        ;;
esac

# The reference: GNU cp's own results on this machine, cached per version.
ref_dir=$cache/reference-$(cat "$cache/debian-version")
if [ -n "${UCP_GNU_TESTS:-}" ] || [ "${UCP_GNU_REFRESH:-0}" = 1 ] || [ ! -f "$ref_dir/results" ]; then
    [ -n "${UCP_GNU_TESTS:-}" ] && ref_dir=$cache/reference-subset
    run_suite "GNU cp" "$ref_dir"
else
    log "GNU cp: cached results in $ref_dir"
fi

run_dir=$cache/run-$engine
install_uring_cp
run_suite "uring-cp --engine $engine" "$run_dir"
restore_gnu_cp

# ---------------------------------------------------------------- report

declare -A expected=()
if [ -f "$expected_file" ]; then
    while read -r name reason; do
        case $name in '' | '#'*) continue ;; esac
        expected[$name]=$reason
    done <"$expected_file"
fi

bad=0
n_same=0 n_known=0 n_fixed=0 n_regress=0 n_na=0 n_better=0
printf '\n%-28s %-16s %-16s %s\n' TEST "GNU cp" "uring-cp ($engine)" VERDICT
while read -r t ucp; do
    gnu=$(awk -v t="$t" '$1 == t {print $2}' "$ref_dir/results")
    gnu=${gnu:-NOTRUN}
    reason=${expected[$t]-}
    listed=${expected[$t]+yes}
    if [[ $ucp == PASS* ]]; then
        if [ -n "$listed" ]; then
            verdict="fixed: remove it from expected-failures.txt"
            bad=1 n_fixed=$((n_fixed + 1))
        elif [[ $gnu == PASS* ]]; then
            verdict=ok n_same=$((n_same + 1))
        else
            verdict="ok (GNU cp does not pass here)" n_better=$((n_better + 1))
        fi
    elif [[ $gnu == PASS* ]]; then
        if [ -n "$listed" ]; then
            verdict="known ($reason)" n_known=$((n_known + 1))
        else
            who=root
            [[ $ucp == *'(nobody)' ]] && who=nobody
            verdict="REGRESSION: see $run_dir/$who/${t%.sh}.log"
            bad=1 n_regress=$((n_regress + 1))
        fi
    else
        verdict="n/a (GNU cp does not pass here either)"
        [ -n "$listed" ] && verdict="known ($reason); not comparable here"
        n_na=$((n_na + 1))
    fi
    printf '%-28s %-16s %-16s %s\n' "$t" "$gnu" "$ucp" "$verdict"
done <"$run_dir/results"
for name in "${!expected[@]}"; do
    if [ ! -f "$tree/tests/cp/$name" ]; then
        echo "expected-failures.txt lists $name, which is no test in tests/cp"
        bad=1
    fi
done
echo
echo "engine $engine${UCP_GNU_WITHIN:+ within $UCP_GNU_WITHIN}: $n_same pass like GNU cp, $n_known known differences, $n_regress regressions," \
    "$n_fixed fixed (listed but passing), $n_better pass where GNU cp does not, $n_na not comparable;" \
    "this run $((SECONDS - t_start)) s (the coreutils build, once: $(cat "$cache/build-seconds") s)"
echo "logs: $run_dir (uring-cp), $ref_dir (GNU cp)"
if [ "$bad" != 0 ]; then
    echo "FAIL: GNU coreutils $cu_version tests/cp differ from expected-failures.txt"
    exit 1
fi
echo "OK: GNU coreutils $cu_version tests/cp match expected-failures.txt"
