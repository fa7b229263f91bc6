#!/usr/bin/env bash
# install-deps.sh - install what the workshop needs from the host, when it is missing.
#
# scripts/test.sh runs this first. It looks for each command the stages, the tests and
# the book's commands use, and installs the packages that provide the missing ones: with
# apt-get on Debian and Ubuntu, with dnf on Fedora, through sudo when you are not root.
# It says what it installs and why before it does. Anywhere else, or when it cannot
# (no sudo, sudo wants a password and there is no terminal, no network), it stops with
# an error: line and a hint: line naming the packages, before anything is installed.
# Nothing missing: it says so and does nothing.
#
# --check: only list what is missing (exit 1 if anything is), install nothing.
set -euo pipefail

# The distribution's directories as well as the caller's PATH (a user's PATH on Debian
# lacks /usr/sbin, where ip, nft and iptables are).
export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LC_ALL=C

# command | Debian package | Fedora package | why the workshop needs it
NEEDS='cc|build-essential|gcc|the linker every Rust build calls
busybox|busybox-static|busybox|nc, ping, seq, tail, ... inside the rootfs (scripts/build-rootfs.sh)
ps|procps|procps-ng|ps and pkill, in the rootfs and in the book
ip|iproute2|iproute|the network chapters and the rootfs
unshare|util-linux|util-linux|unshare, nsenter, setpriv, findmnt, ipcs: the tests and the book
mount|mount|util-linux|the rootfs and the book
hostname|hostname|hostname|the rootfs and the book
ldd|libc-bin|glibc-common|scripts/build-rootfs.sh copies each tool with its libraries
tmux|tmux|tmux|the job-control test types into a real terminal
capsh|libcap2-bin|libcap|the hardening chapter decodes capability sets
newuidmap|uidmap|shadow-utils|step08 maps ids 1-65535 to your range in /etc/subuid, for files of many owners
iptables|iptables|iptables-nft|the network chapter (NAT with iptables)
nft|nftables|nftables|the network chapter (NAT with nft)
sudo|sudo|sudo|the book shows sudo for the commands that need root'

say() { printf 'install-deps: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$1" >&2
    [[ -z ${2:-} ]] || printf 'hint: %s\n' "$2" >&2
    exit 1
}

check_only=
(($# <= 1)) || die "too many arguments: $*" "usage: scripts/install-deps.sh [--check]"
case ${1:-} in
--check) check_only=1 ;;
-h | --help)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
    exit 0
    ;;
"") ;;
*) die "unknown argument: $1" "usage: scripts/install-deps.sh [--check]" ;;
esac

# An executable file named $1 on PATH.
have() {
    local p
    p=$(type -P "$1") && [[ -f $p && -x $p ]]
}

missing=() debian=() fedora=() why=()
while IFS='|' read -r cmd deb fed reason; do
    have "$cmd" && continue
    missing+=("$cmd")
    [[ " ${debian[*]} " == *" $deb "* ]] || {
        debian+=("$deb")
        why+=("$deb ($cmd: $reason)")
    }
    [[ " ${fedora[*]} " == *" $fed "* ]] || fedora+=("$fed")
done <<<"$NEEDS"

if ((${#missing[@]} == 0)); then
    say "every tool the workshop needs is installed"
    exit 0
fi
if [[ -n $check_only ]]; then
    say "missing: ${missing[*]} (Debian packages: ${debian[*]})"
    exit 1
fi

# Which package manager: from /etc/os-release (ID, and ID_LIKE for Debian's
# derivatives such as Ubuntu and Mint).
os_field() {
    sed -n "s/^$1=[\"']\\{0,1\\}\\([^\"']*\\).*/\\1/p" /etc/os-release 2>/dev/null | head -n 1
}
id=$(os_field ID)
id_like=$(os_field ID_LIKE)
case " $id $id_like " in
*" debian "* | *" ubuntu "*)
    manager=apt-get packages=("${debian[@]}")
    ;;
*" fedora "*)
    manager=dnf packages=("${fedora[@]}")
    ;;
*)
    die "missing ${missing[*]}, and scripts/test.sh installs packages only on Debian, Ubuntu and Fedora (this is ${id:-an unknown distribution})" \
        "install the packages that provide them (Debian names: ${debian[*]}), then run scripts/test.sh again"
    ;;
esac
by_hand="sudo $manager install ${packages[*]}"

say "missing: ${missing[*]}; installing with $manager:"
for w in "${why[@]}"; do say "  $w"; done
[[ $manager == apt-get ]] || say "  (Fedora names: ${packages[*]})"

# Root to install: ourselves, or sudo. sudo -n tells whether it needs a password;
# without a terminal there is nowhere to type one.
run=()
if (($(id -u) != 0)); then
    have sudo || die "missing ${missing[*]}, and installing them needs root, but sudo is not installed" \
        "as root, run: $manager install ${packages[*]}"
    if ! out=$(sudo -n true 2>&1); then
        [[ -t 0 ]] || die "installing needs sudo, which cannot go on without a password (${out:-sudo -n true failed}), and there is no terminal to type one" \
            "run scripts/test.sh from a terminal, or first: $by_hand"
        say "sudo asks for your password, to install them"
    fi
    run=(sudo)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [[ $manager == apt-get ]]; then
    # apt-get update exits 0 when it could not fetch the lists (only a warning, "W:
    # Failed to fetch"): look for that, since without them the install cannot work.
    say "apt-get update"
    status=0
    "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 || status=$?
    if grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$log"; then
        sed 's/^/  /' "$log" >&2
        die "apt-get update could not reach the package archive, so nothing was installed" \
            "check the network (and any proxy), then run scripts/test.sh again; or install them yourself: $by_hand"
    elif ((status != 0)); then
        sed 's/^/  /' "$log" >&2
        die "apt-get update failed (exit status $status, its output is above), so nothing was installed" \
            "if it names a lock, another package manager is running: wait for it; then run scripts/test.sh again, or install them yourself: $by_hand"
    fi
    # apt-get downloads every package before it unpacks any, so a failed download
    # leaves nothing half-installed.
    say "apt-get install ${packages[*]}"
    if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${packages[@]}" >"$log" 2>&1; then
        sed 's/^/  /' "$log" >&2
        die "apt-get install ${packages[*]} failed (its output is above)" "fix what it says, or install them yourself: $by_hand"
    fi
else
    say "dnf install ${packages[*]}"
    if ! "${run[@]}" dnf install -y -q "${packages[@]}" >"$log" 2>&1; then
        sed 's/^/  /' "$log" >&2
        die "dnf install ${packages[*]} failed (its output is above)" "check the network, or install them yourself: $by_hand"
    fi
fi

still=()
for cmd in "${missing[@]}"; do have "$cmd" || still+=("$cmd"); done
((${#still[@]} == 0)) ||
    die "installed ${packages[*]}, but ${still[*]} still cannot be found on PATH" "look for them with: type -a ${still[*]}"
say "installed: ${packages[*]}"
