#!/bin/sh
# Cargo runner (see .cargo/config.toml): `cargo run -p step03-pid -- run /bin/bash`
# as a normal user becomes `sudo --preserve-env target/debug/step03-pid run /bin/bash`.
# Only the stage binaries (a workshop learner's own, mine-stepNN-…, too) are
# elevated, and only when we are not root already; test binaries
# (target/*/deps/…) and anything else run unchanged.
# --preserve-env: your variables reach the stage as they would if you were root
# (step06 shows one leaking into the container, step07's -e KEY copies one).
# The line saying so goes to a terminal only: in a pipe or a file (`… 2>&1 |
# head`), the output is the stage's own, as the book shows it.
set -eu
bin=$1
case $bin in
*/deps/*) exec "$@" ;;
esac
case ${bin##*/} in
step0[1-7]-* | mine-step0[1-7]-*)
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            if [ ! -t 0 ] && ! sudo -n true 2>/dev/null; then
                echo "error: ${bin##*/} needs root, and sudo wants a password with no terminal to type it in" >&2
                echo "hint: run it from a terminal (sudo asks once), or as root: $*" >&2
                exit 125
            fi
            if [ -t 2 ]; then
                echo "cargo-runner: ${bin##*/} creates namespaces, which needs root: running it with sudo" >&2
            fi
            exec sudo --preserve-env -- "$@"
        fi
        echo "error: ${bin##*/} needs root, and sudo is not installed" >&2
        echo "hint: as root, run: $*" >&2
        exit 125
    fi
    ;;
esac
exec "$@"
