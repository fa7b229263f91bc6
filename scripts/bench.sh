#!/usr/bin/env bash
# bench.sh - what does isolation cost? Start-up latency of every stage against the
# util-linux `unshare` one-liner with the same namespaces, and the numbers around it.
# Writes the table and the plot of the book chapter "What does isolation cost?"
# (book/src/cost.md): book/src/bench/results.md and book/src/bench/startup.svg.
#
# Usage: sudo scripts/bench.sh [--quick] [--runs N] [--idle-runs N] [--bin-dir DIR]
#                              [--out DIR] [--no-build-time] [--no-test-time] [--compare DIR]
#
# What it measures, with public tools only (hyperfine and GNU time, from Debian):
# 1. The start-to-exit latency of `<stage> run /bin/true` for every stage, in one rootfs
#    (step01-03 have no --rootfs: they run the host's /bin/true), beside the `unshare`
#    one-liner with the same namespaces (plus --mount-proc and chroot where the stage has
#    a rootfs), in the same hyperfine run: median and min-max, and the ratio of the
#    medians. Twice: back to back (--runs, default 200), and with 100 ms of idle before
#    each run (--idle-runs, default 60; hyperfine --prepare 'sleep 0.1'), because after a
#    quiet moment the kernel waits for an RCU grace period in places it otherwise skips.
# 2. step07-full as a learner runs it: --net none, the default bridge, and
#    --net none --pids 64 --memory 64M; and step08-rootless as a normal user (the one who
#    ran sudo, else uid 4242 through setpriv), beside `unshare --user --map-root-user`
#    with the same namespaces, run by that user too. The row is left out, with a warning,
#    when that user cannot reach the release build or the rootfs.
# 3. The peak RSS of step07's runtime process (VmHWM, read while the container runs) and
#    GNU time's %M (the largest of the runtime and every process it waited for); the time
#    of a cold `cargo build --workspace` (debug, an empty temporary target directory,
#    dependencies fetched beforehand, so no download is timed); the wall time of the test
#    suite (REQUIRE_ROOT_TESTS=1 cargo test --workspace, built beforehand).
# It is a benchmark, never a test: it prints numbers and does not judge them. Other work
# on the machine skews them: it warns when the load average says the machine is busy.
#
# --quick: 30 and 15 runs, no build or test-suite timing: a rough pass in about a minute.
# --bin-dir DIR: benchmark the stage binaries in DIR instead of building them (e.g. a
#   build of an older commit, for a before/after comparison).
# --out DIR: write results.md and startup.svg there instead of book/src/bench.
# --compare DIR: only this: what this build's step07 adds to start-up over DIR/step07-full
#   (an older build): `run --rootfs R --net none /bin/true` of both, and of this build with
#   --seccomp unconfined (what the filter alone costs), back to back, --runs in all, in ten
#   rounds of rotating order; prints the medians and their differences and writes
#   them to compare.txt beside the raw data. Nothing in the book is written.
#
# Host state: nothing beyond what the runtimes create and remove themselves (step07's
# bridge cfs0 stays, as after any `run`), the packages it installs when they are missing
# (apt-get install hyperfine time python3), and, under the target directory, the release
# build, the rootfs (bench-rootfs/) and the raw hyperfine data (bench/). As with
# scripts/test.sh, a normal user's run re-runs itself with sudo and root builds into
# target/root/, so nothing in your own target/ or ~/.cargo becomes root's; the files it
# writes into the book are given back to you.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
workspace=$PWD

die() {
    printf 'error: %s\n' "$1" >&2
    [[ -z ${2:-} ]] || printf 'hint: %s\n' "$2" >&2
    exit 1
}
usage() { sed -n '7,8p' "$0" | sed 's/^# //'; }

runs=200 idle_runs=60 warmup=10 bin_dir='' out=book/src/bench build_time=1 test_time=1 compare=''
while (($#)); do
    case $1 in
    --quick) runs=30 idle_runs=15 warmup=3 build_time=0 test_time=0 ;;
    --runs | --idle-runs | --bin-dir | --out | --compare)
        (($# >= 2)) || die "$1 needs a value" "$(usage)"
        case $1 in
        --compare)
            compare=$(cd "$2" 2>/dev/null && pwd) || die "--compare $2: no such directory" \
                "pass the directory of an older build's step07-full, e.g. /tmp/before/target/release"
            [[ -x $compare/step07-full ]] || die "--compare $2: no step07-full in it" \
                "build the older commit there: git worktree add /tmp/old REV && cargo build --release -p step07-full --manifest-path /tmp/old/Cargo.toml"
            ;;
        --runs) runs=$2 ;;
        --idle-runs) idle_runs=$2 ;;
        --bin-dir) bin_dir=$(cd "$2" && pwd) || die "--bin-dir $2: no such directory" ;;
        --out) out=$2 ;;
        esac
        shift
        ;;
    --no-build-time) build_time=0 ;;
    --no-test-time) test_time=0 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument: $1" "$(usage)" ;;
    esac
    shift
done
[[ $runs =~ ^[1-9][0-9]*$ && $idle_runs =~ ^[1-9][0-9]*$ ]] ||
    die "--runs and --idle-runs take a whole number of runs" "$(usage)"

# --- root, and a cargo that works as root ----------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    cargo=$(command -v cargo) || die "cargo is not on PATH"
    # cargo runs `rustc` from PATH: with rustup, the proxy beside cargo (rustup
    # only adds $CARGO_HOME/bin, which here is root's, to PATH).
    root_path="${cargo%/*}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "bench.sh: containers need root: running with sudo" >&2
    exec sudo --preserve-env=HOME,RUSTUP_HOME \
        env CARGO="$cargo" CARGO_HOME="$PWD/target/root/cargo-home" PATH="$root_path" \
        CARGO_TARGET_DIR="$PWD/target/root" "$0" "$@"
fi
cargo=${CARGO:-$(command -v cargo || true)}
if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
    # `sudo scripts/bench.sh` from a user: sudo's PATH (secure_path) may lack
    # the user's cargo, and root's builds and downloads go under target/root/.
    user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if [[ -z $cargo && -x $user_home/.cargo/bin/cargo ]]; then
        cargo=$user_home/.cargo/bin/cargo
        if [[ -d $user_home/.rustup ]]; then export RUSTUP_HOME=${RUSTUP_HOME:-$user_home/.rustup}; fi
    fi
    export CARGO_HOME=${CARGO_HOME:-$workspace/target/root/cargo-home}
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$workspace/target/root}
fi
[[ -n $bin_dir || -n $cargo ]] || die "cargo not found" "run it as yourself: scripts/bench.sh (it asks sudo for root)"
# cargo runs `rustc` from PATH: the one beside it (rustup's proxy) first.
[[ -z $cargo ]] || export PATH="${cargo%/*}:$PATH"
target_dir=${CARGO_TARGET_DIR:-$workspace/target}

# --- tools -------------------------------------------------------------------------------
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    command -v apt-get >/dev/null ||
        die "missing: ${missing[*]}" "install them with your package manager (hyperfine 1.13 or later)"
    echo "bench.sh: installing ${missing[*]} (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
        die "apt-get install ${missing[*]} failed"
fi
for tool in unshare chroot; do
    command -v "$tool" >/dev/null || die "$tool is not installed" "apt-get install util-linux coreutils"
done

# --- what to run -------------------------------------------------------------------------
stages=(step01-uts step02-self-exec step03-pid step04-chroot step05-pivot-root step06-cgroups step07-full step08-rootless)
if [[ -z $bin_dir ]]; then
    echo "bench.sh: cargo build --release (the stages)" >&2
    packages=()
    for s in "${stages[@]}"; do packages+=(-p "$s"); done
    "$cargo" build --release --quiet "${packages[@]}"
    bin_dir=$target_dir/release
fi
for s in "${stages[@]}"; do
    [[ -x $bin_dir/$s ]] || die "no $s in $bin_dir" "build it: cargo build --release -p $s"
done
rootfs=$target_dir/bench-rootfs
echo "bench.sh: rootfs in $rootfs" >&2
scripts/build-rootfs.sh "$rootfs" 2>"$target_dir/bench-rootfs.log" ||
    die "scripts/build-rootfs.sh $rootfs failed" "see $target_dir/bench-rootfs.log"
work=$target_dir/bench
rm -rf -- "$work"
mkdir -p -- "$work"

# --- the machine ---------------------------------------------------------------------------
kconfig() { # the value of a kernel config option, when the config can be found
    { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } |
        sed -n "s/^$1=//p" | head -n1
}
cgroup_layout() {
    case $(stat -fc %T /sys/fs/cgroup 2>/dev/null) in
    cgroup2fs) echo "cgroup v2 (unified) at /sys/fs/cgroup" ;;
    tmpfs)
        if [[ $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
            echo "hybrid: the controllers on cgroup v1, a cgroup2 at /sys/fs/cgroup/unified (with: $(cat /sys/fs/cgroup/unified/cgroup.controllers))"
        else
            echo "cgroup v1 (legacy)"
        fi
        ;;
    *) echo "unknown" ;;
    esac
}
git_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git status --porcelain -- 'step*' 2>/dev/null) ]] || git_rev="$git_rev with local changes to the stages"
[[ -z ${bin_dir#"$target_dir/release"} ]] || git_rev="binaries from $bin_dir"
read -r load1 _ </proc/loadavg
{
    printf 'cpus=%s\n' "$(nproc)"
    printf 'cpu=%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
    printf 'memory=%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    printf 'kernel=%s\n' "$(uname -r)"
    printf 'hz=%s\n' "$(kconfig CONFIG_HZ)"
    printf 'os=%s\n' "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
    printf 'cgroups=%s\n' "$(cgroup_layout)"
    printf 'hyperfine=%s\n' "$(hyperfine --version | cut -d' ' -f2)"
    printf 'util_linux=%s\n' "$(unshare --version | grep -o '[0-9][0-9.]*' | head -n1)"
    # The rustc beside the cargo that built the stages: under sudo, PATH may have none.
    rustc=rustc
    [[ -z $cargo || ! -x $(dirname "$cargo")/rustc ]] || rustc=$(dirname "$cargo")/rustc
    printf 'rustc=%s\n' "$("$rustc" --version 2>/dev/null | cut -d' ' -f2 || true)"
    printf 'commit=%s\n' "$git_rev"
    printf 'date=%s\n' "$(date -u +%Y-%m-%d)"
    printf 'load=%s\n' "$load1"
    printf 'runs=%s\nidle_runs=%s\n' "$runs" "$idle_runs"
} >"$work/machine.txt"
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    echo "bench.sh: warning: load average $load1: other work on this machine will skew the numbers" >&2
fi

# --- --compare: step07 against an older build of it ------------------------------------
q() { printf "'%s'" "$1"; } # quoting for hyperfine's own word splitting (-N)
if [[ -n $compare ]]; then
    echo "bench.sh: step07-full --net none: this build, this build --seccomp unconfined, $compare" >&2
    # Rounds in rotating order: the machine drifts over a minute (caches, RCU,
    # other work), and hyperfine runs one command's runs all together, so each
    # command gets its share of every stretch of time.
    names=("this build" "this build, --seccomp unconfined" "older build")
    cmds=("$(q "$bin_dir/step07-full") run --rootfs $(q "$rootfs") --net none /bin/true"
        "$(q "$bin_dir/step07-full") run --rootfs $(q "$rootfs") --net none --seccomp unconfined /bin/true"
        "$(q "$compare/step07-full") run --rootfs $(q "$rootfs") --net none /bin/true")
    rounds=10
    for ((round = 0; round < rounds; round++)); do
        args=()
        for ((k = 0; k < 3; k++)); do
            i=$(((round + k) % 3))
            args+=(-n "${names[i]}" "${cmds[i]}")
        done
        hyperfine -N --style basic --time-unit millisecond --warmup 3 --runs $(((runs + rounds - 1) / rounds)) \
            --export-json "$work/compare-$round.json" "${args[@]}" >>"$work/compare.log" ||
            die "hyperfine failed" "see $work/compare.log"
    done
    python3 - "$work"/compare-*.json <<'PY' | tee "$work/compare.txt"
import json, statistics, sys
times = {}
for path in sys.argv[1:]:
    for x in json.load(open(path))["results"]:
        times.setdefault(x["command"], []).extend(x["times"])
med = {k: statistics.median(v) * 1000 for k, v in times.items()}
for k, v in med.items():
    print(f"{k}: median {v:.2f} ms ({len(times[k])} runs)")
new, free, old = med["this build"], med["this build, --seccomp unconfined"], med["older build"]
print(f"this build over the older one: {new - old:+.2f} ms at the median")
print(f"the seccomp filter alone: {new - free:+.2f} ms at the median")
PY
    cat "$work/machine.txt" >>"$work/compare.txt"
    echo "bench.sh: wrote $work/compare.txt" >&2
    exit 0
fi

# --- 1. start-up latency ---------------------------------------------------------------------
# One row: a stage configuration and its baseline, measured in the same hyperfine run.
R=$(q "$rootfs")
uts='unshare --uts'
pid='unshare --uts --pid --fork'
mnt="unshare --uts --pid --fork --mount --mount-proc=$R/proc chroot $R"
all="unshare --uts --pid --fork --mount --ipc --net --mount-proc=$R/proc chroot $R"
rows=(
    # id|stage|configuration shown|stage arguments|baseline command|baseline shown
    "s1|step01-uts|run|run|$uts|unshare -u"
    "s2|step02-self-exec|run|run|$uts|unshare -u"
    "s3|step03-pid|run|run|$pid|unshare -fpu"
    "s4|step04-chroot|run --rootfs R|run --rootfs $R|$mnt|unshare -fpmu --mount-proc chroot"
    "s5|step05-pivot-root|run --rootfs R|run --rootfs $R|$mnt|unshare -fpmu --mount-proc chroot"
    "s6|step06-cgroups|run --rootfs R (no limit)|run --rootfs $R|$mnt|unshare -fpmu --mount-proc chroot"
    "s6c|step06-cgroups|run --rootfs R --pids 64 --memory 64M|run --rootfs $R --pids 64 --memory 64M|$mnt|unshare -fpmu --mount-proc chroot"
    "s7n|step07-full|run --rootfs R --net none|run --rootfs $R --net none|$all|unshare -fpmiun --mount-proc chroot"
    "s7c|step07-full|run --rootfs R --net none --pids 64 --memory 64M|run --rootfs $R --net none --pids 64 --memory 64M|$all|unshare -fpmiun --mount-proc chroot"
    "s7b|step07-full|run --rootfs R (default bridge)|run --rootfs $R|$all|unshare -fpmiun --mount-proc chroot"
)
# step08 as a normal user: the learner who ran sudo, else a uid of no account. Both the
# stage and its baseline run as that user (setpriv drops to it first).
declare -A as_user=()
if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
    user_ids="--reuid=$(id -u "$SUDO_USER") --regid=$(id -g "$SUDO_USER") --init-groups"
else
    user_ids="--reuid=4242 --regid=4242 --clear-groups"
fi
# shellcheck disable=SC2086 # the ids are separate words
if setpriv $user_ids -- test -x "$bin_dir/step08-rootless" -a -r "$rootfs/.rootfs-complete"; then
    as_user[s8n]="setpriv $user_ids --"
    rows+=("s8n|step08-rootless|run --rootfs R, as a normal user|run --rootfs $R|setpriv $user_ids -- unshare --user --map-root-user ${all#unshare }|unshare -Urfpmiun --mount-proc chroot (as that user)")
else
    echo "bench.sh: warning: no step08 row: setpriv $user_ids cannot reach $bin_dir/step08-rootless and $rootfs" >&2
fi
printf '%s\n' "${rows[@]}" >"$work/rows.txt"
printf 'baseline commands, with R the rootfs:\n%s\n%s\n%s\n%s\n' "$uts /bin/true" "$pid /bin/true" \
    "$mnt /bin/true" "$all /bin/true" | sed "s|$R|R|g" >"$work/baselines.txt"
if [[ -n ${as_user[s8n]:-} ]]; then
    printf '%s\n' "${as_user[s8n]} unshare --user --map-root-user ${all#unshare } /bin/true" |
        sed "s|$R|R|g" >>"$work/baselines.txt"
fi
for regime in b2b idle; do
    for row in "${rows[@]}"; do
        IFS='|' read -r id stage shown stage_args baseline _ <<<"$row"
        options=(-N --style basic --time-unit millisecond --export-json "$work/$regime-$id.json")
        if [[ $regime == b2b ]]; then
            options+=(--warmup "$warmup" --runs "$runs")
            echo "bench.sh: $stage $shown, back to back" >&2
        else
            options+=(--warmup 3 --runs "$idle_runs" --prepare 'sleep 0.1')
            echo "bench.sh: $stage $shown, after 100 ms idle" >&2
        fi
        hyperfine "${options[@]}" \
            -n "$stage $shown" "${as_user[$id]:+${as_user[$id]} }$(q "$bin_dir/$stage") $stage_args /bin/true" \
            -n baseline "$baseline /bin/true" >"$work/$regime-$id.log" ||
            die "hyperfine failed on $stage $shown" "see $work/$regime-$id.log"
    done
done

# --- 2. peak RSS ---------------------------------------------------------------------------
echo "bench.sh: peak RSS" >&2
step07=$bin_dir/step07-full
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rss_row() { # label, then the command without its /bin/true
    local label=$1 tree hwm pid
    shift
    tree=$(for _ in 1 2 3 4 5 6 7 8 9; do
        /usr/bin/time -f %M -o "$work/time.out" "$@" /bin/true && cat "$work/time.out"
    done | median)
    # The runtime alone: its VmHWM (peak RSS so far), read while the container sleeps.
    hwm=-
    if [[ $1 == "$step07" ]]; then
        hwm=$(for _ in 1 2 3 4 5; do
            "$@" /bin/sleep 0.4 &
            pid=$!
            sleep 0.25
            awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"
            wait "$pid"
        done | median)
    fi
    printf '%s|%s|%s\n' "$label" "$hwm" "$tree"
}
{
    rss_row "step07-full --net none" "$step07" run --rootfs "$rootfs" --net none
    rss_row "step07-full --net none --pids 64 --memory 64M" "$step07" run --rootfs "$rootfs" --net none --pids 64 --memory 64M
    rss_row "step07-full (default bridge)" "$step07" run --rootfs "$rootfs"
    rss_row "unshare -fpmiun --mount-proc chroot (baseline)" unshare --uts --pid --fork --mount --ipc --net \
        --mount-proc="$rootfs/proc" chroot "$rootfs"
} >"$work/rss.txt"

# --- 3. cold build, test suite -----------------------------------------------------------
if ((build_time)) && [[ -n $cargo ]]; then
    echo "bench.sh: cold cargo build --workspace (debug, empty target directory)" >&2
    "$cargo" fetch --quiet || true
    cold=$(mktemp -d "$target_dir/cold-build.XXXXXX")
    if CARGO_TARGET_DIR=$cold /usr/bin/time -f %e -o "$work/build.time" \
        "$cargo" build --workspace --offline --quiet >"$work/build.log" 2>&1; then
        echo "ok|$(cat "$work/build.time")" >"$work/build.txt"
    else
        echo "failed|$(tail -n1 "$work/build.time")" >"$work/build.txt"
    fi
    rm -rf -- "$cold"
fi
if ((test_time)) && [[ -n $cargo ]]; then
    echo "bench.sh: test suite (REQUIRE_ROOT_TESTS=1 cargo test --workspace)" >&2
    "$cargo" test --workspace --no-run --quiet >"$work/tests-build.log" 2>&1 || true
    status=ok
    REQUIRE_ROOT_TESTS=1 /usr/bin/time -f %e -o "$work/tests.time" \
        "$cargo" test --workspace >"$work/tests.log" 2>&1 || status=failed
    passed=$(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$work/tests.log")
    failed=$(awk '/^test result:/ { n += $6 } END { print n + 0 }' "$work/tests.log")
    echo "$status|$(tail -n1 "$work/tests.time")|$passed|$failed" >"$work/tests.txt"
fi

# --- report --------------------------------------------------------------------------------
mkdir -p -- "$out"
python3 scripts/bench-report.py "$work" "$out"
if [[ -n ${SUDO_UID:-} ]]; then
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$out" "$out/results.md" "$out/startup.svg"
fi
echo "bench.sh: wrote $out/results.md and $out/startup.svg (raw data in $work)" >&2
