#!/usr/bin/env bash
# build-rootfs.sh [DIR] - build the small root filesystem the container stages run in.
#
# DIR defaults to rootfs/ at the workspace root. The tree is made from the host's own
# binaries: each tool below is copied to the path it has on the host, with every shared
# library `ldd` names for it (the dynamic loader included), so it runs inside unchanged.
# The layout is Debian's merged /usr: real directories usr/bin, usr/sbin, usr/lib,
# usr/lib64, and bin, sbin, lib, lib64 as links into them, so /bin/sh and /usr/bin/sh both
# work. A symlink met on the way (sh -> dash, /usr/sbin/ip -> /bin/ip) is recreated as it
# is on the host and the file it names is copied. Besides glibc, the workspace's own Rust
# binaries (chroot-escape, which the tests copy in) link libgcc_s.so.1, the unwinder, which
# no host tool here needs: it is copied too. When the host has busybox it becomes
# /bin/busybox, with a link for each applet no copied host tool already provides (nc,
# wget, ping, vi, top, nslookup, ...). Then the mount points and a minimal /etc.
#
# Completion: when DIR does not exist the tree is built in DIR.tmp.<pid> beside it and
# renamed to DIR as the very last step (rename(2) is atomic), so DIR either does not
# exist or is complete; an interrupted run removes its DIR.tmp.<pid>. When DIR exists it
# is updated in place: unchanged files (same size and mtime) are skipped, changed ones are
# written under a temporary name and renamed over the old one (never rewritten in place,
# so a running container is not disturbed), files the script does not make are kept. In
# both cases DIR/.rootfs-complete is removed first and written last; check for it when
# "DIR exists" is not enough. Running it twice gives the same tree; the second run copies
# nothing. The script never deletes anything outside DIR (except its own DIR.tmp.<pid>)
# and refuses to write through a link that leads out of DIR.
#
# Needs: bash, coreutils, ldd (libc-bin), libgcc-s1 and the tools listed in TOOLS.
# Root is not required to build; chroot into the result is.
set -euo pipefail

# Look tools up in the distribution's directories only, whatever the caller's PATH is
# (a user's PATH on Debian lacks /usr/sbin, where `ip` is found).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

TOOLS=(bash sh ls ps mount umount hostname cat echo sleep touch rm mkdir id env ip ipcs ipcmk
    true false grep head wc)
# Debian package of each tool; a tool not named here is in coreutils.
declare -A PACKAGE=([bash]=bash [sh]=dash [ps]=procps [ip]=iproute2 [ipcs]=util-linux
    [ipcmk]=util-linux [mount]=mount [umount]=mount [hostname]=hostname [grep]=grep
    [ldd]=libc-bin)
STAMP=.rootfs-complete

say() { printf 'rootfs: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$1" >&2
    [[ -z ${2:-} ]] || printf 'hint: %s\n' "$2" >&2
    exit 1
}

workspace=$(cd -P -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd)
case ${1:-} in
-h | --help)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac
(($# <= 1)) || die "too many arguments: $*" "usage: scripts/build-rootfs.sh [DIR]"
(($# == 0)) || [[ -n $1 ]] || die "DIR is empty" "usage: scripts/build-rootfs.sh [DIR]"
dir=$(realpath -m -- "${1:-$workspace/rootfs}")
[[ $dir != / ]] || die "refusing to build a rootfs into /" "pass a new directory, e.g. scripts/build-rootfs.sh /tmp/rootfs"
[[ ! -e $dir || -d $dir ]] || die "$dir exists and is not a directory"

# --- 1. Every required host tool, before anything is created ---------------------------
# The path of executable $1 in PATH (type -P alone also returns a non-executable file).
find_tool() {
    local p
    p=$(type -P "$1") && [[ -f $p && -x $p ]] && printf '%s\n' "$p"
}
declare -A host_path=()
missing=() packages=()
for tool in "${TOOLS[@]}" ldd; do
    if p=$(find_tool "$tool"); then
        host_path[$tool]=$p
    else
        missing+=("$tool")
        pkg=${PACKAGE[$tool]:-coreutils}
        [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
    fi
done
((${#missing[@]} == 0)) ||
    die "required host tool missing: ${missing[*]}" "sudo apt-get install ${packages[*]}"
# libgcc_s.so.1 sits beside the libc.so.6 the host's bash loads (/lib/x86_64-linux-gnu).
libc=$(ldd -- "$(readlink -f -- "${host_path[bash]}")" | awk '$1 == "libc.so.6" { print $3 }')
libgcc=${libc%/*}/libgcc_s.so.1
[[ -n $libc && -f $libgcc ]] ||
    die "libgcc_s.so.1 not found beside ${libc:-libc.so.6}" "sudo apt-get install libgcc-s1"
busybox=
if [[ -f /bin/busybox && -x /bin/busybox ]]; then
    busybox=/bin/busybox
elif p=$(find_tool busybox); then
    busybox=$p
fi

# --- 2. Where to build ----------------------------------------------------------------
tmp=
cleanup() { [[ -z $tmp ]] || rm -rf --one-file-system -- "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
if [[ -d $dir ]]; then
    stage=$dir
    say "updating $dir"
    rm -f -- "$dir/$STAMP"
else
    mkdir -p -- "$(dirname -- "$dir")"
    tmp=$dir.tmp.$$
    mkdir -m 755 -- "$tmp"
    stage=$tmp
    say "building $dir (in $(basename -- "$tmp") until complete)"
fi

declare -A made=() seen=() canon_dir=()
changed=0

# mkdir -p inside the stage, refusing a directory that a link leads out of it.
ensure_dir() {
    local d=$1 real
    [[ -z ${made[$d]:-} ]] || return 0
    mkdir -p -- "$d"
    real=$(realpath -e -- "$d")
    [[ $real == "$stage" || $real == "$stage"/* ]] ||
        die "$d leads to $real, outside $dir: refusing to write there" "remove $dir and run again"
    made[$d]=1
}

# Copy host file $1 to $2 (default: the same path) in the stage, unless an identical copy
# (same size and mtime; cp -p keeps the mtime) is there already.
put_file() {
    local src=$1 dest=$stage${2:-$1} stats
    if [[ -f $dest && ! -L $dest ]]; then
        stats=$(stat -c '%s %Y' -- "$src" "$dest")
        [[ ${stats%%$'\n'*} != "${stats#*$'\n'}" ]] || return 0
    fi
    ensure_dir "${dest%/*}"
    rm -f -- "$dest.rootfs-new"
    cp -p -- "$src" "$dest.rootfs-new"
    mv -fT -- "$dest.rootfs-new" "$dest"
    changed=$((changed + 1))
}

# Make $2 (a path inside the rootfs) a symlink to $1, unless it is one already.
put_link() {
    local target=$1 dest=$stage$2
    [[ ! -L $dest || $(readlink -- "$dest") != "$target" ]] || return 0
    [[ ! -d $dest || -L $dest ]] || die "$dest is a directory, expected a link to $target" "remove $dir and run again"
    ensure_dir "${dest%/*}"
    ln -sfnT -- "$target" "$dest"
    changed=$((changed + 1))
}

# Copy host path $1 to the same path in the stage: each symlink met is recreated as it is,
# then the file it finally names is copied. Directories are taken canonically (/bin/x is
# /usr/bin/x), which is where the rootfs's own bin -> usr/bin link leads too.
add_path() {
    local path=$1 parent target hops=0
    while :; do
        parent=${path%/*}
        parent=${parent:-/}
        [[ -n ${canon_dir[$parent]:-} ]] || canon_dir[$parent]=$(readlink -f -- "$parent")
        path=${canon_dir[$parent]%/}/${path##*/}
        [[ -z ${seen[$path]:-} ]] || return 0
        seen[$path]=1
        if [[ ! -L $path ]]; then
            put_file "$path"
            return 0
        fi
        target=$(readlink -- "$path")
        put_link "$target" "$path"
        [[ $target == /* ]] || target=${canon_dir[$parent]%/}/$target
        path=$target
        hops=$((hops + 1))
        ((hops < 40)) || die "too many levels of symlinks at $1"
    done
}

# The absolute paths of the shared libraries ldd names for $1 (none for a static binary).
libs_of() {
    local out
    if ! out=$(ldd -- "$1" 2>&1); then
        [[ $out == *"not a dynamic executable"* ]] && return 0
        die "ldd $1 failed: $out"
    fi
    [[ $out != *"not found"* ]] || die "$1 needs a library the host lacks: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
    awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}

# Copy binary $1 (installed as $3 when given) with its libraries; report as $2.
add_binary() {
    local src=$1 name=$2 libs_txt lib libs=()
    libs_txt=$(libs_of "$(readlink -f -- "$src")")
    [[ -z $libs_txt ]] || mapfile -t libs <<<"$libs_txt"
    changed=0
    if [[ -n ${3:-} ]]; then put_file "$(readlink -f -- "$src")" "$3"; else add_path "$src"; fi
    for lib in "${libs[@]}"; do add_path "$lib"; done
    if ((changed > 0)); then
        say "copying $name (+${#libs[@]} libraries)"
    else
        say "$name is up to date (${#libs[@]} libraries)"
    fi
}

# Write $3 to file $1 in the stage with mode $2, unless it holds exactly that already.
put_text() {
    local dest=$stage$1
    if [[ -f $dest && ! -L $dest ]] && cmp -s -- "$dest" <(printf '%s' "$3") &&
        [[ $(stat -c %a -- "$dest") == "${2#0}" ]]; then
        return 0
    fi
    ensure_dir "${dest%/*}"
    rm -f -- "$dest.rootfs-new"
    printf '%s' "$3" >"$dest.rootfs-new"
    chmod "$2" -- "$dest.rootfs-new"
    mv -fT -- "$dest.rootfs-new" "$dest"
}

# --- 3. Merged-/usr layout ------------------------------------------------------------
made[$stage]=1
for d in usr usr/bin usr/sbin usr/lib usr/lib64; do
    [[ ! -L $stage/$d ]] || die "$stage/$d is a link; expected a directory" "remove $dir and run again"
    ensure_dir "$stage/$d"
done
for l in bin sbin lib lib64; do put_link "usr/$l" "/$l"; done
say "layout: usr/{bin,sbin,lib,lib64}, with bin, sbin, lib, lib64 linked into usr"

# --- 4. Host tools and their libraries ------------------------------------------------
for tool in "${TOOLS[@]}"; do add_binary "${host_path[$tool]}" "$tool"; done

changed=0
add_path "$libgcc"
if ((changed > 0)); then
    say "copying libgcc_s.so.1 (the unwinder Rust binaries link, for chroot-escape)"
else
    say "libgcc_s.so.1 is up to date"
fi

# --- 5. busybox (optional) and its applets --------------------------------------------
if [[ -n $busybox ]]; then
    add_binary "$busybox" busybox /usr/bin/busybox
    linked=0 kept=0
    while read -r applet; do
        [[ -n $applet && $applet != */* && $applet != busybox ]] || continue
        if [[ -L $stage/usr/bin/$applet && $stage/usr/bin/$applet -ef $stage/usr/bin/busybox ]]; then
            linked=$((linked + 1))
        elif [[ -e $stage/usr/bin/$applet || -L $stage/usr/bin/$applet ||
            -e $stage/usr/sbin/$applet || -L $stage/usr/sbin/$applet ]]; then
            kept=$((kept + 1)) # a host tool (or a file of the user's) already has the name
        else
            ln -s busybox "$stage/usr/bin/$applet"
            linked=$((linked + 1))
        fi
    done < <("$busybox" --list)
    say "busybox applets: $linked linked (nc, wget, ping, vi, top, ...), $kept left to host tools"
else
    say "note: the host has no busybox; nc, wget, ping, vi, top, nslookup will be missing inside"
    say "note: to have them: sudo apt-get install busybox-static (or busybox), then run this again"
fi

# --- 6. Mount points and /etc ---------------------------------------------------------
for d in proc sys dev etc tmp root; do ensure_dir "$stage/$d"; done
chmod 1777 -- "$stage/tmp"
chmod 700 -- "$stage/root"
put_text /etc/passwd 0644 'root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
'
put_text /etc/group 0644 'root:x:0:
nogroup:x:65534:
'
put_text /etc/hosts 0644 '127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
'
# glibc resolves users and groups from these files (the "files" backend is built in).
put_text /etc/nsswitch.conf 0644 'passwd: files
group: files
shadow: files
hosts: files dns
'
say "etc: passwd (root, nobody), group (root, nogroup), hosts, nsswitch.conf"

# --- 7. Done: stamp last, then the atomic rename of a fresh build ---------------------
put_text "/$STAMP" 0644 'built by scripts/build-rootfs.sh
'
if [[ -n $tmp ]]; then
    if mv -T -- "$tmp" "$dir" 2>/dev/null; then
        tmp=
    elif [[ -f $dir/$STAMP ]]; then
        say "another run completed $dir first; keeping it"
    else
        die "cannot rename $tmp to $dir" "remove $dir and run again"
    fi
fi
say "ready: $dir (${SECONDS}s)"
