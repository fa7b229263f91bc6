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
if [ "$(id -u)" -ne 0 ]; then
    scripts/install-deps.sh
    export TEST_SH_DEPS_CHECKED=1
    # sudo resets PATH (secure_path), so name your cargo, and keep HOME so
    # rustup finds your toolchain.
    cargo=$(command -v cargo) || {
        echo "error: cargo is not on PATH" >&2
        echo "hint: install Rust with rustup (https://rustup.rs), then open a new shell" >&2
        exit 1
    }
    # cargo runs `rustc` from PATH: with rustup, the proxy beside cargo (rustup
    # only adds $CARGO_HOME/bin, which here is root's, to PATH).
    root_path="${cargo%/*}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "test.sh: the isolation tests need root: running cargo test with sudo" >&2
    if ! sudo -n true 2>/dev/null && [ ! -t 0 ]; then
        echo "error: the isolation tests need root, and sudo wants a password with no terminal to type it in" >&2
        echo "hint: run scripts/test.sh from a terminal, or as root" >&2
        exit 1
    fi
    # Root's downloads and builds go under target/root/, never into your
    # ~/.cargo or target/; what they leave is handed back to you at the end.
    exec sudo --preserve-env=HOME,RUSTUP_HOME,TEST_SH_DEPS_CHECKED \
        env CARGO="$cargo" CARGO_HOME="$PWD/target/root/cargo-home" PATH="$root_path" \
        CARGO_TARGET_DIR="$PWD/target/root" "$0" "$@"
fi
[ -n "${TEST_SH_DEPS_CHECKED:-}" ] || scripts/install-deps.sh

# The clone's owner: when that is not root (a learner, through sudo), every file
# the run made or changed in target/ and rootfs/ is given back to them.
owner=$(stat -c %u:%g .)
log=$(mktemp)
# shellcheck disable=SC2317 # run by the EXIT trap
hand_back() {
    rm -f "$log"
    if [ "$owner" != 0:0 ]; then
        local d
        for d in target rootfs; do
            [ -e "$d" ] || continue
            find "$d" -xdev ! -user "${owner%:*}" -exec chown -h "$owner" {} + 2>/dev/null || true
        done
        echo "test.sh: what the tests made in target/ and rootfs/ is yours again (uid:gid $owner)" >&2
    fi
    # The count comes last, whatever else was said.
    [ -z "${summary:-}" ] || echo "$summary"
}
trap hand_back EXIT
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
