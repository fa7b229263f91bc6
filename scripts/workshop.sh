#!/usr/bin/env bash
# Code along: write each stage's idea yourself, and let that stage's own tests grade it.
#
#   scripts/workshop.sh start N    your own copy of stage N in mine/, its idea left as todo!()s
#   scripts/workshop.sh check N    stage N's tests against your copy, as a checklist
#   scripts/workshop.sh diff N     your copy against the reference stage
#   scripts/workshop.sh status     the stages you have started and passed
#   scripts/workshop.sh solve N    restart from stage N: your copy with the reference filled in
#   scripts/workshop.sh --help     all of it
#
# The tool is a small Rust program (workshop/), which this builds and runs. Your crates
# in mine/ build in the workspace's target/, so they reuse its compiled dependencies.
# check runs the tests as root: as a normal user it builds your crate as you, then runs
# the tests through sudo the way scripts/test.sh does (into target/root/), and when they
# are done, however they end, what they made in target/ and mine/ is handed back to you.
# Stage 8, rootless, is the exception: as you, its tests run as you, without sudo.
# Needs only bash and cargo. WORKSHOP_TIMEOUT=SECONDS: check's deadline (180), after
# which the tests still running are stopped and count as failed. WORKSHOP_MINE=DIR:
# your crates there instead of in mine/ (CI's proof uses one of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/elevate.sh
. scripts/lib/elevate.sh

export WORKSHOP_ROOT=$PWD
target=${WORKSHOP_TARGET_DIR:-${CARGO_TARGET_DIR:-target}}
[[ $target == /* ]] || target=$PWD/$target
export WORKSHOP_TARGET_DIR=$target

# Built by you, once per call (a no-op when nothing changed); after sudo, the same binary.
if [ -z "${WORKSHOP_BIN:-}" ]; then
    if ! CARGO_TARGET_DIR=$target cargo build --quiet -p workshop; then
        echo "error: the workshop tool (workshop/) does not build (cargo's message is above)" >&2
        echo "hint: is this a clean clone? git status shows what changed in workshop/" >&2
        exit 1
    fi
    export WORKSHOP_BIN=$target/debug/workshop
fi

if [ "${1:-}" != check ] || [[ " $* " == *" -h "* || " $* " == *" --help "* ]]; then
    exec "$WORKSHOP_BIN" "$@"
fi

# check: bad input is refused, and your crate built, as you (its compile errors come
# first), before anything is installed or sudo asks; then the tests run as root.
if [ -z "${WORKSHOP_BUILT:-}" ]; then
    "$WORKSHOP_BIN" build "${@:2}"
    export WORKSHOP_BUILT=1
fi
deps_once
# A rootless stage (step08) is checked as you, without sudo: the tests that need root
# are left out, and the checklist says so.
if [ "$(id -u)" -ne 0 ] && "$WORKSHOP_BIN" rootless "${2:-}" 2>/dev/null; then
    exec "$WORKSHOP_BIN" "$@"
fi
elevate workshop.sh "the tests" WORKSHOP_ROOT WORKSHOP_TARGET_DIR WORKSHOP_BIN WORKSHOP_BUILT \
    WORKSHOP_MINE WORKSHOP_TIMEOUT -- "$@"
# shellcheck disable=SC2317 # run by the EXIT trap
finish() { hand_back workshop.sh target "${WORKSHOP_MINE:-mine}"; }
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$WORKSHOP_BIN" "$@"
