#!/bin/sh
# /init of the initramfs scripts/vm-test.sh builds: PID 1 of the test VM (busybox sh).
#
# It mounts proc, sysfs, devtmpfs, a tmpfs on /tmp and cgroup2 at /sys/fs/cgroup - only
# cgroup2, no v1 hierarchy anywhere, as on a pure cgroup v2 distribution - loads the kernel
# modules listed in /modules/order, brings up loopback, runs /checks.sh and powers off.
# Each result is a `VMTEST ...` line on the serial console; `VMTEST DONE` comes last.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb

if [ "${1:-}" != stage2 ]; then
    # The initramfs is the kernel's "rootfs" mount, which has no parent mount, and
    # pivot_root(2) refuses to move such a root away (EINVAL; see pivot_root(2) and
    # Documentation/filesystems/ramfs-rootfs-initramfs.rst). step05 onwards pivot_root, so
    # make / an ordinary mount first: bind the initramfs onto /newroot, move that mount
    # over /, and chroot into it. Nothing is copied, unlike switch_root onto a tmpfs.
    mount --bind / /newroot
    cd /newroot || exit 1
    mount --move . /
    exec chroot . /init stage2
fi

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
# Kernel messages (an OOM kill is logged at KERN_ERR) must not split our lines on the
# shared console; they are printed, prefixed, at the end instead.
dmesg -n 1
boot_lines=$(dmesg | wc -l)
hostname vmtest
ip link set lo up

: >/tmp/insmod.log
while read -r m; do
    insmod "/modules/$m.ko" >>/tmp/insmod.log 2>&1 || echo "insmod $m failed" >>/tmp/insmod.log
done </modules/order

echo # SeaBIOS leaves the cursor mid-line: start our output on a fresh line
echo "vmtest: kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime)s, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
# No terminal for the runtimes (as in CI): stdin is /dev/null.
sh /checks.sh </dev/null || echo "VMTEST FAIL vm/checks.sh: exited with status $? before the end"
echo "vmtest: checks done after $(cut -d' ' -f1 /proc/uptime)s"
dmesg | tail -n +$((boot_lines + 1)) | sed 's/^/kmsg: /'
echo "VMTEST DONE"
sync
poweroff -f
