#!/usr/bin/env bash
# build-rootfs.sh [--reset] [DIR] - build the small root filesystem the container stages run in.
#
# DIR defaults to rootfs/ at the workspace root. The tree is made from the host's own
# binaries: each tool below is copied to the path it has on the host, with every shared
# library `ldd` names for it (the dynamic loader included), so it runs inside unchanged.
# The layout is Debian's merged /usr: real directories usr/bin, usr/sbin, usr/lib,
# usr/lib64, and bin, sbin, lib, lib64 as links into them, so /bin/sh and /usr/bin/sh both
# work. A symlink met on the way (sh -> dash, /usr/sbin/ip -> /bin/ip) is recreated as it
# is on the host and the file it names is copied. Besides glibc, the workspace's own Rust
# binaries (chroot-escape, which the tests copy in) link libgcc_s.so.1, the unwinder, which
# no host tool here needs: it is copied too. busybox is required: it becomes
# /bin/busybox, with a link for each applet no copied host tool already provides (nc,
# ping, seq, tail, cut, readlink, mknod, setpriv, which the book and the tests run inside,
# and wget, vi, top, nslookup, ...). Then the mount points and a minimal /etc. A missing
# tool stops the script before anything is created, with the command that installs it.
#
# Ownership: the rootfs belongs to whoever owns the directory it is built in, so a
# learner's rootfs/ stays the learner's. Run as root (by the runtime on first use, under
# sudo) for a directory of another user's, the script runs itself again as that user.
# Run as a normal user on a rootfs that holds files of root's (what a container wrote, or
# an older version of this script left), it stops with how to take it back.
#
# --reset: remove DIR first and build it again: a clean rootfs of your own. Files in it
# that are not yours are removed in a user namespace with step08's map when they belong
# to your subordinate IDs (what a rootless container gave away), with no sudo; those of
# root's (what containers wrote there as root) with sudo.
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
# Needs: bash, coreutils, ldd (libc-bin), libgcc-s1, busybox (busybox-static) and the
# tools listed in TOOLS. Root is not required to build; chroot into the result is.
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
# busybox applets the book and the tests run inside the container.
APPLETS=(nc ping seq tail cut readlink mknod setpriv)
STAMP=.rootfs-complete

say() { printf 'rootfs: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$1" >&2
    [[ -z ${2:-} ]] || printf 'hint: %s\n' "$2" >&2
    exit 1
}

# The command that installs Debian packages $@ on this host (Fedora names in FEDORA).
declare -A FEDORA=([busybox-static]=busybox [libc-bin]=glibc-common [libgcc-s1]=libgcc
    [dash]=dash [iproute2]=iproute)
install_hint() {
    local p out=()
    if command -v apt-get >/dev/null 2>&1; then
        printf 'sudo apt-get install %s' "$*"
    elif command -v dnf >/dev/null 2>&1; then
        for p in "$@"; do out+=("${FEDORA[$p]:-$p}"); done
        printf 'sudo dnf install %s' "${out[*]}"
    else
        printf 'install with your package manager: %s (Debian names)' "$*"
    fi
}

workspace=$(cd -P -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd)
usage="usage: scripts/build-rootfs.sh [--reset] [DIR]"
reset=
while (($# > 0)); do
    case $1 in
    -h | --help)
        sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
        exit 0
        ;;
    --reset) reset=1 ;;
    --)
        shift
        break
        ;;
    -*) die "unknown option: $1" "$usage" ;;
    *) break ;;
    esac
    shift
done
(($# <= 1)) || die "too many arguments: $*" "$usage"
(($# == 0)) || [[ -n $1 ]] || die "DIR is empty" "$usage"
dir=$(realpath -m -- "${1:-$workspace/rootfs}")
[[ $dir != / ]] || die "refusing to build a rootfs into /" "pass a new directory, e.g. scripts/build-rootfs.sh /tmp/rootfs"
[[ ! -e $dir || -d $dir ]] || die "$dir exists and is not a directory"
me=$(id -u)

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
busybox=
if [[ -f /bin/busybox && -x /bin/busybox ]]; then
    busybox=/bin/busybox
elif p=$(find_tool busybox); then
    busybox=$p
else
    missing+=(busybox)
    packages+=(busybox-static)
fi
((${#missing[@]} == 0)) ||
    die "required host tool missing: ${missing[*]} (nothing was built)" "$(install_hint "${packages[@]}")"
# The applets the book and the tests run inside must be in this busybox.
lacking=()
applets=$("$busybox" --list 2>/dev/null) || applets=
for a in "${APPLETS[@]}"; do
    grep -qx -- "$a" <<<"$applets" || lacking+=("$a")
done
((${#lacking[@]} == 0)) ||
    die "$busybox lacks the applets ${lacking[*]} (nothing was built)" \
        "install a full busybox: $(install_hint busybox-static)"
# libgcc_s.so.1 sits beside the libc.so.6 the host's bash loads (/lib/x86_64-linux-gnu).
libc=$(ldd -- "$(readlink -f -- "${host_path[bash]}")" | awk '$1 == "libc.so.6" { print $3 }')
libgcc=${libc%/*}/libgcc_s.so.1
[[ -n $libc && -f $libgcc ]] ||
    die "libgcc_s.so.1 not found beside ${libc:-libc.so.6}" "$(install_hint libgcc-s1)"

# --- 2. Whose rootfs it is --------------------------------------------------------------
# The owner (uid, gid) of the directory the rootfs lives in: DIR, or where it will be made.
owner_of() {
    local d=$1
    while [[ ! -e $d ]]; do d=$(dirname -- "$d"); done
    stat -c '%u %g' -- "$d"
}
read -r owner group < <(owner_of "$dir")
# Files in DIR that are not ours: written there by root (a container, or an older
# version of this script that ran as root). The first one found, or nothing.
foreign_file() {
    find "$1" -xdev ! -user "$me" -print -quit 2>/dev/null
}
# The same for the directories this script writes in (DIR, its top-level directories,
# everything under usr/ and etc/): a file of root's elsewhere, such as one a container
# left in /tmp, does not stop an update, a directory of root's here does.
foreign_dir() {
    local d f=
    for d in "$1" "$1/usr" "$1/etc"; do
        [[ -d $d ]] || continue
        if [[ $d == "$1" ]]; then
            f=$(find "$d" -maxdepth 1 -xdev -type d ! -user "$me" -print -quit 2>/dev/null) || true
        else
            f=$(find "$d" -xdev -type d ! -user "$me" -print -quit 2>/dev/null) || true
        fi
        [[ -z $f ]] || break
    done
    printf '%s' "$f"
}
# Remove $1 in a user namespace that maps you to 0 and your subordinate ranges (in
# /etc/subuid and /etc/subgid) to 1-65535, step08's map: there the files a rootless
# container gave to its users are yours. Fails (1) without newuidmap or a range, or
# when something in $1 is of an ID outside them (root's, say).
rm_as_subordinate_ids() {
    local name sub subg
    name=$(id -un)
    command -v newuidmap >/dev/null 2>&1 || return 1
    sub=$(awk -F: -v n="$name" -v i="$me" '($1 == n || $1 == i) && $3 >= 65535 { print $2; exit }' /etc/subuid 2>/dev/null) || true
    subg=$(awk -F: -v n="$name" -v i="$me" '($1 == n || $1 == i) && $3 >= 65535 { print $2; exit }' /etc/subgid 2>/dev/null) || true
    [[ -n $sub && -n $subg ]] || return 1
    unshare --map-root-user --map-users="$sub,1,65535" --map-groups="$subg,1,65535" \
        rm -rf --one-file-system -- "$1" 2>/dev/null
}
take_back="take it back with: sudo chown -R $(id -un):$(id -gn) $dir, or start clean with: scripts/build-rootfs.sh --reset${1:+ $dir}"

if [[ -n $reset && -e $dir ]]; then
    # Only something that looks like a rootfs of ours is removed.
    if [[ $dir != "$workspace/rootfs" && ! -e $dir/$STAMP && ! -d $dir/usr/bin ]]; then
        die "--reset: $dir does not look like a rootfs built by this script (no $STAMP, no usr/bin): not removing it" \
            "remove it yourself if you mean it, then run scripts/build-rootfs.sh $dir"
    fi
    if ((me != 0)) && [[ -n $(foreign_file "$dir") ]] && rm_as_subordinate_ids "$dir"; then
        say "removed $dir in a user namespace that maps your subordinate IDs: there, what a rootless container gave them is yours"
    elif ((me != 0)) && [[ -n $(foreign_file "$dir") ]]; then
        n=$(find "$dir" -xdev ! -user "$me" 2>/dev/null | wc -l) || true
        say "$n files in $dir belong to root (what containers wrote there): removing them with sudo"
        command -v sudo >/dev/null 2>&1 ||
            die "--reset: sudo is not installed, and root's files in $dir need root to remove" "as root: rm -rf $dir"
        if ! sudo -n true 2>/dev/null && [[ ! -t 0 ]]; then
            die "--reset: sudo asks for a password, and there is no terminal to type it in" \
                "run scripts/build-rootfs.sh --reset from a terminal, or as root: rm -rf $dir"
        fi
        sudo rm -rf --one-file-system -- "$dir" ||
            die "--reset: could not remove $dir" "as root: rm -rf $dir"
    else
        say "removing $dir"
        rm -rf --one-file-system -- "$dir" || die "--reset: could not remove $dir" "as root: rm -rf $dir"
    fi
fi
read -r owner group < <(owner_of "$dir")
if ((me == 0 && owner != 0)); then
    # Root (the runtime on first use, under sudo) building in a user's clone: build as
    # that user, so that the rootfs, like the rest of the clone, is theirs. setpriv sets
    # the uid and gid and drops root's supplementary groups; no capability is kept.
    as_owner=(setpriv --reuid="$owner" --regid="$group" --clear-groups --)
    "${as_owner[@]}" test -r "${BASH_SOURCE[0]}" ||
        die "cannot build $dir as its owner (uid $owner): they cannot read ${BASH_SOURCE[0]}" \
            "build it as that user, or in a directory of root's"
    say "building as uid $owner, the owner of $(dirname -- "$dir"), so that the rootfs is theirs"
    exec "${as_owner[@]}" bash "${BASH_SOURCE[0]}" "$dir"
fi
if ((me != 0)); then
    if [[ -e $dir ]]; then
        f=$(foreign_dir "$dir")
        [[ -z $f ]] || die "$dir is not all yours: $f belongs to $(stat -c %U -- "$f") (an older version, or a container, made it as root)" "$take_back"
    else
        parent=$(dirname -- "$dir")
        [[ ! -e $parent || -w $parent ]] ||
            die "cannot create $dir: $parent is not writable by you" "build it somewhere of yours: scripts/build-rootfs.sh DIR"
    fi
fi

# --- 3. Where to build ----------------------------------------------------------------
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

# --- 4. Merged-/usr layout ------------------------------------------------------------
made[$stage]=1
for d in usr usr/bin usr/sbin usr/lib usr/lib64; do
    [[ ! -L $stage/$d ]] || die "$stage/$d is a link; expected a directory" "remove $dir and run again"
    ensure_dir "$stage/$d"
done
for l in bin sbin lib lib64; do put_link "usr/$l" "/$l"; done
say "layout: usr/{bin,sbin,lib,lib64}, with bin, sbin, lib, lib64 linked into usr"

# --- 5. Host tools and their libraries ------------------------------------------------
for tool in "${TOOLS[@]}"; do add_binary "${host_path[$tool]}" "$tool"; done

changed=0
add_path "$libgcc"
if ((changed > 0)); then
    say "copying libgcc_s.so.1 (the unwinder Rust binaries link, for chroot-escape)"
else
    say "libgcc_s.so.1 is up to date"
fi

# --- 6. busybox and its applets ------------------------------------------------------
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
done <<<"$applets"
say "busybox applets: $linked linked (nc, wget, ping, vi, top, ...), $kept left to host tools"

# --- 7. Mount points and /etc ---------------------------------------------------------
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

# --- 8. Done: stamp last, then the atomic rename of a fresh build ---------------------
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
