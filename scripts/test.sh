#!/usr/bin/env bash
# Run every test, the isolation tests included. Those need root, so as a normal
# user this re-runs itself through sudo, keeping your cargo and rustup, and
# builds into target/root/ so your own target/ stays yours.
# REQUIRE_ROOT_TESTS=1 makes a skipped root test a failure: here, every
# isolation test really runs. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the isolation tests need root: running cargo test with sudo" >&2
    exec sudo --preserve-env=PATH,HOME,CARGO_HOME,RUSTUP_HOME \
        env CARGO_TARGET_DIR="$PWD/target/root" "$0" "$@"
fi
export REQUIRE_ROOT_TESTS=1
exec cargo test --workspace "$@"
