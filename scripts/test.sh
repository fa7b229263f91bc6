#!/usr/bin/env bash
# Run every test, the isolation tests included. Those need root, so as a normal
# user this re-runs itself through sudo, keeping your cargo and rustup, and
# builds into target/root/ so your own target/ and ~/.cargo stay yours.
# REQUIRE_ROOT_TESTS=1 makes a skipped root test a failure: here, every
# isolation test really runs. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    # sudo resets PATH (secure_path), so name your cargo, and keep HOME so
    # rustup finds your toolchain.
    cargo=$(command -v cargo) || { echo "error: cargo is not on PATH" >&2; exit 1; }
    # cargo runs `rustc` from PATH: with rustup, the proxy beside cargo (rustup
    # only adds $CARGO_HOME/bin, which here is root's, to PATH).
    root_path="${cargo%/*}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "test.sh: the isolation tests need root: running cargo test with sudo" >&2
    # Root's downloads and builds go under target/root/, never into your
    # ~/.cargo or target/, so nothing you own becomes root's.
    exec sudo --preserve-env=HOME,RUSTUP_HOME \
        env CARGO="$cargo" CARGO_HOME="$PWD/target/root/cargo-home" PATH="$root_path" \
        CARGO_TARGET_DIR="$PWD/target/root" "$0" "$@"
fi
export REQUIRE_ROOT_TESTS=1
exec "${CARGO:-cargo}" test --workspace "$@"
