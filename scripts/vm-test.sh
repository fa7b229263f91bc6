#!/usr/bin/env bash
# vm-test.sh - run the cgroup checks of step06-cgroups, step07-full and step08-rootless
# (as root, then as a normal user in a cgroup subtree delegated to them) inside a real
# Debian kernel booted under qemu, on a pure cgroup v2 hierarchy.
#
# Why: the stages must work on cgroup v1, v2 and hybrid hosts, and a developer's host is only
# one of those (this project's dev VM is hybrid), while most learners run pure cgroup v2.
# A throwaway VM whose only cgroup mount is cgroup2 at /sys/fs/cgroup shows what they see.
#
# What it does, as root (it is meant for CI=true, no stdin):
#   1. apt-get installs what it lacks (qemu-system-x86, cpio, gzip; apt-get update only when
#      something is to be installed, or when apt knows no kernel package yet).
#   2. Downloads, without installing, the kernel package linux-image-amd64 depends on
#      (linux-image-6.1.0-N-amd64 on Debian 12) and busybox-static, and unpacks both with
#      dpkg -x into target/vm/ (cached: later runs reuse them). busybox-static is not
#      installed because it Conflicts with the `busybox` package other tools here use.
#   3. cargo build --release -p <stage> for each stage in VM_STAGES, then builds the
#      container rootfs with scripts/build-rootfs.sh into target/vm/rootfs.
#   4. Packs an initramfs (newc cpio, gzip): static busybox and its applets, the stage
#      binaries (as /stages/<stage>) with the libraries ldd names, the host's iproute2 `ip`,
#      the kernel modules step07's bridge network needs (veth, bridge and their
#      dependencies stp, llc), the rootfs as /rootfs, scripts/vm/init.sh as /init and
#      scripts/vm/checks.sh as /checks.sh.
#   5. Boots it: qemu-system-x86_64 -accel tcg (no KVM needed) under `timeout`. /init mounts
#      proc, sysfs, devtmpfs, /tmp and cgroup2 at /sys/fs/cgroup (nothing else there), loads
#      the modules, runs the checks and powers off. Every result is one serial line:
#      `VMTEST PASS <name>`, `VMTEST FAIL <name>: <detail>`, `VMTEST SKIP <name>: <why>`,
#      then `VMTEST DONE`. The whole console goes to target/vm/console.log; the VMTEST lines
#      are echoed as they come, then a summary `vm-test: N passed, N failed, N skipped`.
#
# Exit status: 0 when every check passed. 1 when a check failed, VMTEST DONE never came
# (crash, timeout), no check passed, a stage named in VM_STAGES has no binary, or no cgroup
# stage exists in the workspace yet. 2 on bad usage or when a setup step failed (apt,
# cargo, rootfs).
#
# Time (2 cores, no KVM): the VM boots in ~6 s and runs the checks in ~8 s per stage, so a
# run after the first takes ~15 s for step06 alone and ~25 s for both stages. The first run
# also installs qemu when missing (~20 s), downloads ~72 MB (kernel, busybox-static) and
# builds the stages in release mode.
#
# Knobs (environment):
#   VM_STAGES      stages to test, separated by spaces or commas. Default: those of
#                  step06-cgroups, step07-full and step08-rootless whose crate exists and
#                  is a workspace member. `none`: only the VM's own checks (cgroup2 mount, chroot,
#                  pivot_root, modules), e.g. to try the VM before any stage exists.
#   VM_TIMEOUT     seconds before qemu is killed (default 150).
#   VM_KEEP=1      keep the initramfs tree and image in target/vm/work after the run.
#   VM_MEMORY      guest memory (default 512M).
#   VM_ROOTFS      use this directory as the container rootfs instead of building one.
#   VM_NO_BUILD=1  do not run cargo; use the binaries already in target/release.
#   VM_MODULES     kernel modules to load in the guest (default "veth bridge"; the
#                  modules they depend on are added and loaded first).
#   VM_HOST_TOOLS  host programs copied into the guest's /usr/sbin with their libraries,
#                  replacing the busybox applet link there, for the stages that exec them
#                  by PATH (default "ip setpriv": iproute2's ip, which can name a veth's
#                  peer, busybox's cannot, and util-linux's setpriv, which step08's checks
#                  run the stage as a normal user with). busybox sh itself still runs its
#                  applet for a bare `ip`.
#   VM_APPEND      extra kernel command-line arguments.
#   VM_KERNEL_PKG  kernel package to boot (default: what linux-image-amd64 depends on).
#   CARGO_TARGET_DIR  honoured when looking for the stage binaries.
set -euo pipefail

export LC_ALL=C DEBIAN_FRONTEND=noninteractive
# Distribution directories first: on Debian a user's PATH lacks /usr/sbin (ip), but keep
# the caller's PATH after them for cargo.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

root=$(cd -P -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd)
here=$root/scripts
vmdir=$root/target/vm
target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$PWD/$target

CGROUP_STAGES=(step06-cgroups step07-full step08-rootless)
timeout_s=${VM_TIMEOUT:-150}
memory=${VM_MEMORY:-512M}
read -r -a modules <<<"${VM_MODULES:-veth bridge}"
read -r -a host_tools <<<"${VM_HOST_TOOLS:-ip setpriv}"

say() { printf 'vm-test: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$1" >&2
    [[ -z ${2:-} ]] || printf 'hint: %s\n' "$2" >&2
    exit "${3:-2}"
}

case ${1:-} in
-h | --help)
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' -- "${BASH_SOURCE[0]}"
    exit 0
    ;;
?*) die "vm-test.sh takes no arguments (knobs are environment variables)" "scripts/vm-test.sh --help" ;;
esac
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "VM_TIMEOUT must be a number of seconds, not '$timeout_s'"
[[ $(id -u) == 0 ]] || die "vm-test.sh installs packages with apt-get: it needs root" "sudo $0"

# --- 0. Which stages ------------------------------------------------------------------
stages=()
if [[ -n ${VM_STAGES:-} ]]; then
    read -r -a stages <<<"${VM_STAGES//,/ }"
    [[ ${stages[*]} != none ]] || stages=()
else
    # A crate directory that is not (yet) a workspace member is no stage yet.
    members=$(cd "$root" && cargo metadata --no-deps --format-version 1 --offline 2>/dev/null) || members=
    for s in "${CGROUP_STAGES[@]}"; do
        [[ -d $root/$s ]] || continue
        if [[ -n $members && $members != *"\"name\":\"$s\""* ]]; then
            say "note: $s/ exists but is not a workspace member yet: not tested"
            continue
        fi
        stages+=("$s")
    done
    ((${#stages[@]} > 0)) ||
        die "no cgroup stage (${CGROUP_STAGES[*]}) exists in $root yet: nothing to test" \
            "VM_STAGES=none $0 boots the VM and runs only its own checks" 1
fi

mkdir -p -- "$vmdir/cache"
# One run at a time per workspace: runs share the cache, the work tree and console.log.
exec 9>"$vmdir/.lock"
flock -w 600 9 || die "another vm-test.sh holds $vmdir/.lock"

work=$vmdir/work
: >"$vmdir/apt.log"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [[ ${VM_KEEP:-0} == 1 ]] || rm -rf --one-file-system -- "$work"
}
trap cleanup EXIT

# --- 1. Host packages -----------------------------------------------------------------
apt_updated=0
apt_update() {
    ((apt_updated == 0)) || return 0
    say "apt-get update"
    apt-get update -qq -o DPkg::Lock::Timeout=300 >>"$vmdir/apt.log" 2>&1 </dev/null ||
        die "apt-get update failed: $(tail -n 3 "$vmdir/apt.log" | tr '\n' ' ')"
    apt_updated=1
}
apt_install() {
    apt_update
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >>"$vmdir/apt.log" 2>&1 </dev/null ||
        die "apt-get install $* failed: $(tail -n 3 "$vmdir/apt.log" | tr '\n' ' ')"
}
declare -A need=([qemu-system-x86_64]=qemu-system-x86 [cpio]=cpio [gzip]=gzip
    [dpkg-deb]=dpkg [ldd]=libc-bin [flock]=util-linux [timeout]=coreutils)
missing=()
for tool in "${!need[@]}"; do
    command -v "$tool" >/dev/null || missing+=("${need[$tool]}")
done
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

# --- 2. Kernel and busybox, downloaded, never installed --------------------------------
# Unpack package $1 into $2 unless that was done before: apt-get download, dpkg-deb -x.
# Returns 1 when the download fails (an outdated package list names a file the mirror no
# longer has: the caller updates the lists and asks again).
fetch_pkg() {
    local pkg=$1 dest=$2 deb
    [[ ! -f $dest/.unpacked ]] || return 0
    say "downloading $pkg"
    (cd "$vmdir/cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" \
        >>"$vmdir/apt.log" 2>&1 </dev/null) || return 1
    deb=$(find "$vmdir/cache" -maxdepth 1 -name "${pkg}_*.deb" -printf '%T@ %p\n' | sort -rn | head -n 1)
    deb=${deb#* }
    rm -rf -- "$dest" "$dest.tmp"
    mkdir -p -- "${dest%/*}"
    dpkg-deb -x "$deb" "$dest.tmp" || die "dpkg-deb -x $deb failed"
    rm -f -- "$deb" # the unpacked tree is the cache
    : >"$dest.tmp/.unpacked"
    mv -T -- "$dest.tmp" "$dest"
}

# The kernel package the metapackage linux-image-amd64 depends on, as apt knows it now.
kernel_pkg() {
    [[ -z ${VM_KERNEL_PKG:-} ]] || { printf '%s\n' "$VM_KERNEL_PKG"; return; }
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(kernel_pkg)
if [[ -z $kpkg ]]; then
    # No package lists (a fresh machine): reuse the kernel fetched last, else update.
    kpkg=$(find "$vmdir/kernel" -mindepth 2 -maxdepth 2 -name .unpacked -printf '%T@ %h\n' \
        2>/dev/null | sort -rn | head -n 1)
    kpkg=${kpkg##*/}
fi
if [[ -z $kpkg ]] || ! fetch_pkg "$kpkg" "$vmdir/kernel/$kpkg"; then
    apt_update
    kpkg=$(kernel_pkg)
    [[ -n $kpkg ]] || die "apt-cache cannot resolve linux-image-amd64 to a kernel package" \
        "check the apt sources, or set VM_KERNEL_PKG=linux-image-6.1.0-N-amd64"
    fetch_pkg "$kpkg" "$vmdir/kernel/$kpkg" ||
        die "apt-get download $kpkg failed: $(tail -n 3 "$vmdir/apt.log" | tr '\n' ' ')"
fi
kdir=$vmdir/kernel/$kpkg
# A kernel superseded by a newer ABI is ~400 MB of dead cache.
find "$vmdir/kernel" -mindepth 1 -maxdepth 1 ! -name "$kpkg" -exec rm -rf -- {} +
vmlinuz=$(find "$kdir/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
[[ -n $vmlinuz ]] || die "$kpkg has no boot/vmlinuz-*" "rm -rf $kdir and run again"
kver=${vmlinuz##*/vmlinuz-}
say "kernel: $kpkg ($kver)"

bbdir=$vmdir/busybox-static
fetch_pkg busybox-static "$bbdir" || { apt_update && fetch_pkg busybox-static "$bbdir"; } ||
    die "apt-get download busybox-static failed: $(tail -n 3 "$vmdir/apt.log" | tr '\n' ' ')"
busybox=$bbdir/bin/busybox
[[ -x $busybox ]] || die "busybox-static has no bin/busybox" "rm -rf $bbdir and run again"

# --- 3. Stage binaries and the rootfs ---------------------------------------------------
build=()
for s in "${stages[@]}"; do [[ ! -f $root/$s/Cargo.toml ]] || build+=(-p "$s"); done
if ((${#build[@]} > 0)) && [[ ${VM_NO_BUILD:-0} != 1 ]]; then
    command -v cargo >/dev/null || die "cargo not found" "install Rust with rustup"
    say "cargo build --release ${build[*]}"
    (cd "$root" && cargo build --release --quiet "${build[@]}") ||
        die "cargo build --release ${build[*]} failed"
fi
absent=()
for s in "${stages[@]}"; do [[ -x $target/release/$s ]] || absent+=("$s"); done

if [[ -n ${VM_ROOTFS:-} ]]; then
    rootfs=$(readlink -f -- "$VM_ROOTFS")
    [[ -d $rootfs ]] || die "VM_ROOTFS=$VM_ROOTFS is not a directory"
else
    rootfs=$vmdir/rootfs
    [[ -f $here/build-rootfs.sh ]] ||
        die "$here/build-rootfs.sh not found" "set VM_ROOTFS to a rootfs directory"
    # The builder is idempotent: a second run copies nothing. When it names packages to
    # install (its `hint: sudo apt-get install ...` line), install them and try once more.
    if ! bash "$here/build-rootfs.sh" "$rootfs" >"$vmdir/rootfs.log" 2>&1 </dev/null; then
        pkgs=$(sed -n 's/^hint: .*apt-get install \(.*\)$/\1/p' "$vmdir/rootfs.log")
        [[ -n $pkgs ]] || die "scripts/build-rootfs.sh failed: $(tail -n 5 "$vmdir/rootfs.log")"
        read -r -a pkgs <<<"$pkgs"
        apt_install "${pkgs[@]}"
        bash "$here/build-rootfs.sh" "$rootfs" >"$vmdir/rootfs.log" 2>&1 </dev/null ||
            die "scripts/build-rootfs.sh failed: $(tail -n 5 "$vmdir/rootfs.log")"
    fi
fi

# --- 4. The initramfs -------------------------------------------------------------------
rm -rf --one-file-system -- "$work"
tree=$work/tree
mkdir -p -- "$tree"/usr/{bin,sbin,lib,lib64} "$tree"/{dev,proc,sys,tmp,etc,newroot,stages,modules}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$tree/$d"; done

cp -- "$busybox" "$tree/usr/bin/busybox"
while read -r applet; do
    case $applet in
    bin/* | sbin/*) applet=usr/$applet ;;
    usr/*) ;;
    *) continue ;; # linuxrc
    esac
    [[ -e $tree/$applet ]] || ln -s /usr/bin/busybox "$tree/$applet"
done < <("$busybox" --list-full)

# Copy host program $1 to $2 in the tree with every library ldd names, at the same paths.
copy_with_libs() {
    local src=$1 dest=$2 out lib
    cp -L -- "$src" "$tree/$dest"
    if ! out=$(ldd -- "$src" 2>&1); then
        [[ $out == *"not a dynamic executable"* ]] && return 0
        die "ldd $src failed: $out"
    fi
    [[ $out != *"not found"* ]] || die "$src needs a library this host lacks: $out"
    while read -r lib; do
        [[ -e $tree/$lib ]] && continue
        mkdir -p -- "$tree/${lib%/*}"
        cp -L -- "$lib" "$tree/$lib"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out")
}

for s in "${stages[@]}"; do
    [[ ! -x $target/release/$s ]] || copy_with_libs "$target/release/$s" "/stages/$s"
done
for t in "${host_tools[@]}"; do
    p=$(command -v "$t") || { say "note: host tool $t not found; the guest uses busybox's"; continue; }
    rm -f -- "$tree/usr/bin/$t" "$tree/usr/sbin/$t"
    copy_with_libs "$p" "/usr/sbin/$t"
done

# Kernel modules, dependencies first. Debian 12 ships them uncompressed; a .ko.xz/.ko.zst
# is decompressed here because busybox insmod may not read it. A module's dependencies are
# its `depends=` field in the .modinfo section (what `modinfo -F depends` prints).
declare -A mod_done=()
add_module() {
    local name=$1 f dep deps
    [[ -z ${mod_done[$name]:-} ]] || return 0
    mod_done[$name]=1
    f=$(find "$kdir/lib/modules/$kver/kernel" \( -name "$name.ko" -o -name "$name.ko.*" \) \
        -print -quit 2>/dev/null)
    if [[ -z $f ]]; then # modinfo's names use _ where file names may use -
        f=$(find "$kdir/lib/modules/$kver/kernel" \( -name "${name//_/-}.ko" -o -name "${name//_/-}.ko.*" \) \
            -print -quit 2>/dev/null)
    fi
    if [[ -z $f ]]; then
        grep -q "/${name//_/[-_]}\.ko$" "$kdir/lib/modules/$kver/modules.builtin" 2>/dev/null && return 0
        die "kernel module $name not found in $kpkg"
    fi
    case $f in
    *.ko) cp -- "$f" "$tree/modules/$name.ko" ;;
    *.ko.xz) command -v xz >/dev/null || apt_install xz-utils
        xz -dc -- "$f" >"$tree/modules/$name.ko" ;;
    *.ko.zst) command -v zstd >/dev/null || apt_install zstd
        zstd -qdc -- "$f" >"$tree/modules/$name.ko" ;;
    *.ko.gz) gzip -dc -- "$f" >"$tree/modules/$name.ko" ;;
    *) die "unknown module format: $f" ;;
    esac
    deps=$(tr '\0' '\n' <"$tree/modules/$name.ko" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${deps//,/ }; do add_module "$dep"; done
    printf '%s\n' "$name" >>"$tree/modules/order"
}
: >"$tree/modules/order"
for m in "${modules[@]}"; do add_module "$m"; done

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tree/etc/passwd"
printf 'root:x:0:\n' >"$tree/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$tree/etc/hosts"
printf '# vm-test: the VM has no network\n' >"$tree/etc/resolv.conf"
install -m 0755 -- "$here/vm/init.sh" "$tree/init"
install -m 0755 -- "$here/vm/checks.sh" "$tree/checks.sh"
{
    printf 'VM_STAGES="%s"\n' "${stages[*]}"
    printf 'VM_MODULES="%s"\n' "$(tr '\n' ' ' <"$tree/modules/order")"
} >"$tree/vmtest.conf"
mkdir -p -- "$tree/rootfs"
cp -a -- "$rootfs/." "$tree/rootfs/"

initrd=$work/initramfs.cpio.gz
(cd "$tree" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet | gzip -1) >"$initrd"
say "initramfs: $(du -h -- "$initrd" | cut -f1) (rootfs $(du -sh -- "$rootfs" | cut -f1)), stages: ${stages[*]:-none}"

# --- 5. Boot ----------------------------------------------------------------------------
# console=ttyS0: the 8250 UART is built into Debian's kernel, and qemu -nographic wires it
# to stdout. panic=-1 + -no-reboot: a crash ends qemu at once instead of waiting for the
# timeout. quiet: only our lines. -nic none: no NIC, so no option ROM to load. Nothing
# else measurably shortens the boot (~2.5 s in BIOS and decompression, ~2.5 s to /init);
# -M microvm would skip the BIOS but Debian's kernel does not come up on it.
log=$vmdir/console.log
append="console=ttyS0 panic=-1 quiet ${VM_APPEND:-}"
say "booting $kver under qemu (TCG, $memory, timeout ${timeout_s}s); console: $log"
start=$SECONDS
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 -nographic -no-reboot -accel tcg -m "$memory" -smp 2 \
    -nic none -kernel "$vmlinuz" -initrd "$initrd" -append "$append" </dev/null 2>&1 |
    sed -u 's/\r$//' | tee -- "$log" |
    sed -un 's/^.*\(VMTEST \(PASS\|FAIL\|SKIP\|DONE\)\)/\1/p'
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - start))

# --- 6. Verdict -------------------------------------------------------------------------
results=$(sed -n 's/^.*\(VMTEST \(PASS\|FAIL\|SKIP\|DONE\)\)/\1/p' "$log")
count() { grep -c "^VMTEST $1" <<<"$results" || true; }
passed=$(count PASS) failed=$(count 'FAIL') skipped=$(count SKIP)
stage_passed=$(grep -c '^VMTEST PASS step' <<<"$results" || true)
bad=0
if ((qemu_rc == 124)); then
    say "qemu did not finish within ${timeout_s}s (VM_TIMEOUT); see $log"
    bad=1
elif ((qemu_rc != 0)); then
    say "qemu exited with status $qemu_rc; see $log"
    bad=1
fi
if ! grep -q '^VMTEST DONE' <<<"$results"; then
    say "the checks never finished (no VMTEST DONE); the end of $log:"
    tail -n 15 -- "$log" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b.//g; s/^/    /' >&2
    bad=1
fi
for s in "${absent[@]}"; do
    say "stage $s was asked for, but $target/release/$s does not exist (not built)"
    bad=1
done
((failed == 0)) || bad=1
if ((passed == 0)); then
    say "no check passed"
    bad=1
elif ((${#stages[@]} > 0 && stage_passed == 0)); then
    say "no check of the stages (${stages[*]}) passed"
    bad=1
fi
say "VM ran for ${elapsed}s"
printf 'vm-test: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
exit "$bad"
