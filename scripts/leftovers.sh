#!/usr/bin/env bash
# List what the runtimes create on the host and must remove again: container
# cgroups, host ends of veth pairs, address leases, mounts of a rootfs, and
# the unit tests' temporary cgroup trees. One line per thing, sorted; nothing
# printed means nothing is left. The bridge cfs0 is not listed: it is meant to
# stay, like docker0.
#
#   scripts/leftovers.sh                 list
#   scripts/leftovers.sh --since FILE    list only what is not in FILE (an
#                                        earlier listing), and exit 1 if any
set -euo pipefail

die() {
    printf 'error: %s\nhint: usage: %s [--since FILE], FILE being an earlier listing (%s >FILE)\n' \
        "$1" "$0" "$0" >&2
    exit 2
}

list() {
    # The containers' cgroups: /sys/fs/cgroup/containers-from-scratch/c* on
    # pure v2, /sys/fs/cgroup/<hierarchy>/containers-from-scratch/c* on v1.
    find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \
        -path '*/containers-from-scratch/*' -printf 'cgroup %p\n' 2>/dev/null || true
    # Host ends of the containers' veth pairs are named cfs<pid>; cfs0 is the bridge.
    if command -v ip >/dev/null; then
        ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
            grep -E '^cfs[1-9][0-9]*$' | sed 's/^/link /' || true
    fi
    if [ -d /run/containers-from-scratch/leases ]; then
        find /run/containers-from-scratch/leases -mindepth 1 -printf 'lease %p\n'
    fi
    # Mounts a container made and left visible on the host: anything mounted
    # on or under a rootfs.
    awk '$5 ~ /rootfs/ { print "mount " $5 }' /proc/self/mountinfo
    find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'cgroups-test-*' -printf 'tempdir %p\n' 2>/dev/null || true
}

case "${1:-}" in
    "")
        list | sort -u
        ;;
    --since)
        [ -n "${2:-}" ] || die "--since needs a FILE"
        [ -f "$2" ] || die "--since $2: no such file"
        new=$(list | sort -u | comm -13 <(sort -u "$2") -)
        if [ -n "$new" ]; then
            echo "error: left behind on the host (not there before):" >&2
            while IFS= read -r line; do printf '  %s\n' "$line" >&2; done <<<"$new"
            echo "hint: a container's cgroup, link or lease outlived it: see which test made it (cgroups are named c<runtime pid>)" >&2
            exit 1
        fi
        ;;
    *)
        die "unknown argument: $1"
        ;;
esac
