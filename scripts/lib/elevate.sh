# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/workshop.sh: run the rest of the calling
# script as root through sudo, the same way for both, and afterwards give what root
# made in the clone back to the clone's owner.
#
#   elevate NAME WHAT [VAR...] -- ARGS...
#       As root: returns. As a normal user: re-runs "$0" ARGS through sudo (NAME says
#       so on stderr: "NAME: WHAT need root: running them with sudo"), passing on
#       those of the variables VAR... that are set, and HOME and RUSTUP_HOME. Without
#       a terminal for sudo's password: one error: line and a hint:, exit 1.
#   deps_once
#       scripts/install-deps.sh, once per run (not again after sudo).
#   hand_back NAME DIR...
#       As root in a clone of a normal user's: every file in DIR... that the run made
#       or changed is the owner's again. For the calling script's EXIT trap.

# sudo resets PATH (secure_path), so name your cargo, and keep HOME so rustup finds
# your toolchain. Root's downloads and builds go under target/root/, never into your
# ~/.cargo or target/; what they leave is handed back to you at the end.
elevate() {
    local name=$1 what=$2 cargo root_path
    local -a pass=()
    shift 2
    while [ "$1" != -- ]; do
        [ -z "${!1+set}" ] || pass+=("$1=${!1}")
        shift
    done
    shift
    [ "$(id -u)" -ne 0 ] || return 0
    cargo=$(command -v cargo) || {
        echo "error: cargo is not on PATH" >&2
        echo "hint: install Rust with rustup (https://rustup.rs), then open a new shell" >&2
        exit 1
    }
    # cargo runs `rustc` from PATH: with rustup, the proxy beside cargo (rustup
    # only adds $CARGO_HOME/bin, which here is root's, to PATH).
    root_path="${cargo%/*}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "$name: $what need root: running them with sudo" >&2
    if ! sudo -n true 2>/dev/null && [ ! -t 0 ]; then
        echo "error: $what need root, and sudo wants a password with no terminal to type it in" >&2
        echo "hint: run scripts/$name from a terminal, or as root" >&2
        exit 1
    fi
    exec sudo --preserve-env=HOME,RUSTUP_HOME \
        env CARGO="$cargo" CARGO_HOME="$PWD/target/root/cargo-home" PATH="$root_path" \
        CARGO_TARGET_DIR="$PWD/target/root" CFS_DEPS_CHECKED="${CFS_DEPS_CHECKED-}" \
        "${pass[@]}" "$0" "$@"
}

deps_once() {
    [ -n "${CFS_DEPS_CHECKED:-}" ] || scripts/install-deps.sh
    export CFS_DEPS_CHECKED=1
}

# The clone's owner: when that is not root (a learner, through sudo), every file the
# run made or changed in DIR... is given back to them.
hand_back() {
    local name=$1 owner d list
    shift
    owner=$(stat -c %u:%g .)
    [ "$owner" != 0:0 ] || return 0
    for d in "$@"; do
        [ -e "$d" ] || continue
        find "$d" -xdev ! -user "${owner%:*}" -exec chown -h "$owner" {} + 2>/dev/null || true
    done
    # "target/ and rootfs/", "target/, rootfs/ and mine/"
    list=$(printf '%s/, ' "$@")
    list=${list%, }
    [ $# -lt 2 ] || list="${list%, *} and ${list##*, }"
    echo "$name: what the run made in $list is yours again (uid:gid $owner)" >&2
}
