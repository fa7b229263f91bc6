#!/usr/bin/env bash
# Run every test, the isolation tests included.
#
# First scripts/install-deps.sh installs what the tests and the book's commands need
# from the host, when it is missing, and says what and why. The isolation tests need
# root, so as a normal user this re-runs itself through sudo, keeping your cargo and
# rustup, and builds into target/root/ so your own target/ and ~/.cargo stay yours.
# When the tests are done, however they end, what they made in your clone (target/root/,
# the rootfs fixtures, files containers wrote in rootfs/) is handed back to you.
# REQUIRE_ROOT_TESTS=1 makes a skipped root test a failure: here, every isolation test
# really runs. --no-fail-fast: every failure is shown, not only the first test binary's,
# and the last line counts the tests that passed, failed and were skipped.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/elevate.sh
. scripts/lib/elevate.sh
deps_once
elevate test.sh "the isolation tests" -- "$@"

log=$(mktemp)
# shellcheck disable=SC2317 # run by the EXIT trap
finish() {
    rm -f "$log"
    hand_back test.sh target rootfs
    # The count comes last, whatever else was said.
    [ -z "${summary:-}" ] || echo "$summary"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export REQUIRE_ROOT_TESTS=1
status=0
"${CARGO:-cargo}" test --workspace --no-fail-fast "$@" | tee "$log" || status=$?

# One line, printed last (by the EXIT trap): the sum of every test binary's
# "test result:" line.
summary=$(awk -v status="$status" '
    /^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i - 1)
            if ($(i) ~ /^failed;?$/) f += $(i - 1)
            if ($(i) ~ /^ignored;?$/) s += $(i - 1)
        }
    }
    END {
        line = sprintf("test.sh: %d passed, %d failed, %d skipped", p, f, s)
        if (s > 0) line = line " (the tests marked ignored above; the learner run of the book is one: .ci/learner runs it as a normal user)"
        if (status != 0 && f == 0) line = line "; cargo test failed before every test ran: see its errors above"
        print line
    }' "$log")
exit "$status"
