#!/bin/sh
# checks.sh - the checks scripts/vm-test.sh runs inside its VM: busybox sh, as root, on a
# pure cgroup v2 hierarchy (cgroup2 at /sys/fs/cgroup and nothing else).
#
# Each check is a function that prints exactly one line:
#   VMTEST PASS <name>  |  VMTEST FAIL <name>: <detail>  |  VMTEST SKIP <name>: <why>
# Lines starting `vmtest:` are notes for target/vm/console.log (timings, measurements).
# The stages to test are VM_STAGES in /vmtest.conf; stage S is /stages/S, and runs its
# containers in /rootfs (scripts/build-rootfs.sh's tree). A stage without checks here, or
# without a binary, is skipped (a SKIP is not a pass; vm-test.sh fails on a missing binary).
#
# The stage contract checked (DESIGN.md): `S run [--rootfs DIR] [--memory SIZE] [--pids N]
# [--cpus FLOAT] COMMAND...` makes /sys/fs/cgroup/containers-from-scratch/<unique name>
# with pids.max, memory.max, memory.swap.max = 0 and cpu.max, moves the container into it
# before exec and removes it on exit; exit status is the command's, 128+N when killed by
# signal N, 125 when the runtime failed (bad input is refused before anything is made).
# step07-full takes the same flags plus --net none|bridge (default bridge).

# shellcheck source=/dev/null # written by vm-test.sh: VM_STAGES, VM_MODULES
. /vmtest.conf

CG=/sys/fs/cgroup
PARENT=$CG/containers-from-scratch
# PARENT below CG, as /proc/PID/cgroup names it; and what starts a stage (nothing: as
# root; step08-rootless's second round sets AS to a script that drops to a normal user).
REL=/containers-from-scratch
AS=
ROOTFS=/rootfs
T=/tmp/checks
# Debian's busybox-static runs its own applet for a bare `ip` even when /usr/sbin/ip is
# another program (FEATURE_SH_STANDALONE); a path reaches iproute2's when vm-test.sh put
# it there (VM_HOST_TOOLS), which unlike busybox's can name a veth's peer.
IP=/usr/sbin/ip
mkdir -p "$T"

pass() { echo "VMTEST PASS $1"; }
fail() { echo "VMTEST FAIL $1: $2"; }
skip() { echo "VMTEST SKIP $1: $2"; }
note() { echo "vmtest: $*"; }

# The content of file $1 on one line, cut to 200 characters, for a FAIL detail.
squash() { tr '\n' ' ' <"$1" 2>/dev/null | cut -c1-200; }

# Hundredths of a second since boot.
centis() {
    read -r up _ </proc/uptime
    up=${up%.*}${up#*.}
    up=${up#"${up%%[!0]*}"}
    echo "${up:-0}"
}

# True while process $1 exists and is not a zombie.
alive() {
    st=
    read -r st </proc/"$1"/stat 2>/dev/null || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# The per-container cgroups that exist now (directories below $PARENT).
cgroups() { find "$PARENT" -mindepth 1 -type d 2>/dev/null; }

# After run $1: note the cgroups it left behind in $left and in $T/leftovers.$STAGE, then
# remove them (killing what is still inside) so the next check starts clean.
check_leftovers() {
    left=$(cgroups | tr '\n' ' ')
    [ -z "$left" ] && return 0
    echo "after $1: $left" >>"$T/leftovers.$STAGE"
    for d in $(cgroups | sort -r); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            while read -r p; do kill -9 "$p" 2>/dev/null; done 2>/dev/null <"$d/cgroup.procs"
            rmdir "$d" 2>/dev/null && break
            sleep 0.2
        done
    done
}

# run LABEL ARGS...: `$BIN run ARGS...` with output in $T/LABEL.out and $T/LABEL.err, at
# most 30 s (timeout sends SIGTERM: status 143); sets $rc, then checks for leftovers.
run() {
    label=$1
    shift
    timeout 30 $AS "$BIN" run "$@" >"$T/$label.out" 2>"$T/$label.err"
    rc=$?
    check_leftovers "$label"
}

# --- The VM itself ------------------------------------------------------------------------

check_vm_cgroup2() {
    name=vm/cgroup2-only
    v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts | tr '\n' ' ')
    v2=$(awk '$3 == "cgroup2" { print $2 }' /proc/mounts | tr '\n' ' ')
    ctl=$(cat $CG/cgroup.controllers 2>/dev/null)
    missing=
    for c in cpu memory pids; do
        case " $ctl " in *" $c "*) ;; *) missing="$missing $c" ;; esac
    done
    if [ -n "$v1" ] || [ "$v2" != "$CG " ]; then
        fail $name "cgroup v1 mounts: '${v1}', cgroup2 mounts: '${v2}'; want only cgroup2 at $CG"
    elif [ -n "$missing" ]; then
        fail $name "cgroup.controllers is '$ctl'; missing:$missing"
    else
        pass $name
    fi
}

check_vm_chroot() {
    name=vm/chroot-rootfs
    if chroot $ROOTFS /bin/sh -c 'ls / >/dev/null && echo chroot-ok' >"$T/chroot.out" 2>&1 &&
        grep -q '^chroot-ok$' "$T/chroot.out"; then
        pass $name
    else
        fail $name "chroot $ROOTFS /bin/sh: $(squash "$T/chroot.out")"
    fi
}

# step05 onwards pivot_root; that fails on the initramfs itself (init.sh works around it).
check_vm_pivot_root() {
    name=vm/pivot-root
    mkdir -p /tmp/pivot
    if unshare -m sh -c 'mount -t tmpfs pivot /tmp/pivot && cd /tmp/pivot && mkdir old &&
        pivot_root . old && echo pivot-ok' >"$T/pivot.out" 2>&1 && grep -q '^pivot-ok$' "$T/pivot.out"; then
        pass $name
    else
        fail $name "pivot_root in a new mount namespace: $(squash "$T/pivot.out")"
    fi
}

check_vm_modules() {
    name=vm/modules
    [ -n "$VM_MODULES" ] || { skip $name "no modules asked for"; return; }
    for m in $VM_MODULES; do
        [ -d "/sys/module/$m" ] || { fail $name "module $m not loaded: $(squash /tmp/insmod.log)"; return; }
    done
    case " $VM_MODULES " in
    *" veth "*" bridge "* | *" bridge "*" veth "*) ;;
    *) pass $name; return ;;
    esac
    if { $IP link add vmt0 type veth peer name vmt1 && $IP link add vmtbr0 type bridge &&
        $IP link set vmt0 master vmtbr0 && $IP link set vmtbr0 up && [ -e /sys/class/net/vmt1 ] &&
        $IP link del vmt0 && $IP link del vmtbr0; } >"$T/modules.out" 2>&1; then
        pass $name
    else
        fail $name "a veth pair on a bridge: $(squash "$T/modules.out")"
        $IP link del vmt0 2>/dev/null
        $IP link del vmtbr0 2>/dev/null
    fi
}

# --- The cgroup stages: step06-cgroups, and step07-full with --net $NET (none) ----------

# (e) A bad value is refused with status 125 and an `error:` line, before anything is made.
check_bad_value() {
    name=$STAGE/bad-pids-refused
    had_parent=no
    [ -d $PARENT ] && had_parent=yes
    run bad-pids --pids 0 --rootfs $ROOTFS ${NET:+--net "$NET"} /bin/sh -c 'echo SHOULD-NOT-RUN'
    problems=
    [ "$rc" = 125 ] || problems="$problems exit status $rc, want 125;"
    grep -q '^error: ' "$T/bad-pids.err" || problems="$problems no 'error: ' line on stderr;"
    ! grep -q SHOULD-NOT-RUN "$T/bad-pids.out" || problems="$problems the command ran;"
    [ -z "$left" ] || problems="$problems left cgroups: $left;"
    if [ $had_parent = no ] && [ -d $PARENT ]; then
        problems="$problems created $PARENT;"
        rmdir $PARENT 2>/dev/null
    fi
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/bad-pids.err")"
    else
        pass "$name"
    fi
}

# (a) The container sees itself in containers-from-scratch/<name>.
check_cgroup_path() {
    name=$STAGE/cgroup-path
    run path --pids 20 --memory 64M --cpus 0.5 --rootfs $ROOTFS ${NET:+--net "$NET"} \
        /bin/sh -c 'cat /proc/self/cgroup; ls -l /proc/self/ns/cgroup'
    line=$(grep '^0::' "$T/path.out")
    inside_ns=$(grep -o 'cgroup:\[[0-9]*\]' "$T/path.out")
    if [ "$rc" != 0 ]; then
        fail "$name" "exit status $rc; stderr: $(squash "$T/path.err")"
    elif [ -n "$inside_ns" ] && [ "$inside_ns" != "$(readlink /proc/self/ns/cgroup)" ]; then
        # A runtime with its own cgroup namespace shows the container its cgroup as /.
        if [ "$line" = "0::/" ]; then pass "$name"; else fail "$name" "own cgroup namespace, yet /proc/self/cgroup is '$line'"; fi
    elif echo "$line" | grep -q "^0::$REL/[^/][^/]*\$"; then
        note "$name: $line"
        pass "$name"
    else
        fail "$name" "/proc/self/cgroup inside is '$(squash "$T/path.out")', want 0::$REL/<name>"
    fi
}

# (a) While the container sleeps, its cgroup's files hold the limits asked for.
check_limit_files() {
    name=$STAGE/limit-files
    timeout 30 $AS "$BIN" run --pids 20 --memory 64M --cpus 0.5 --rootfs $ROOTFS ${NET:+--net "$NET"} \
        /bin/sh -c 'exec sleep 3' >"$T/limits.out" 2>"$T/limits.err" &
    bg=$!
    t0=$(centis)
    cgpath=
    # The container's process, found from outside: a `sleep` whose /proc/PID/cgroup is
    # below $REL/.
    while [ -z "$cgpath" ] && [ $(($(centis) - t0)) -lt 1000 ] && alive $bg; do
        for p in $(pidof sleep); do
            cgpath=$(sed -n "s|^0::\\($REL/[^/]*\\).*|\\1|p" /proc/"$p"/cgroup 2>/dev/null)
            [ -n "$cgpath" ] && break
        done
        [ -n "$cgpath" ] || sleep 0.1
    done
    problems=
    if [ -z "$cgpath" ]; then
        problems="no process of the container found in a cgroup below $REL/;"
    else
        d=$CG$cgpath
        for kv in pids.max=20 memory.max=67108864 memory.swap.max=0 "cpu.max=50000 100000"; do
            f=${kv%%=*} want=${kv#*=}
            got=$(cat "$d/$f" 2>&1)
            [ "$got" = "$want" ] || problems="$problems $f is '$got', want '$want';"
        done
        note "$name: $cgpath: pids.max=$(cat "$d/pids.max") memory.max=$(cat "$d/memory.max") memory.swap.max=$(cat "$d/memory.swap.max") cpu.max=$(cat "$d/cpu.max")"
    fi
    wait $bg
    rc=$?
    check_leftovers limits
    [ "$rc" = 0 ] || problems="$problems exit status $rc, want 0;"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/limits.err")"
    else
        pass "$name"
    fi
}

# (b) A fork storm stays within --pids 20; the runtime returns and the VM stays usable.
# The loop counts in shell arithmetic rather than $(seq 1 100): seq is not in every rootfs.
check_fork_storm() {
    name=$STAGE/fork-storm
    # shellcheck disable=SC2016 # $i is the container shell's
    timeout 30 $AS "$BIN" run --pids 20 --rootfs $ROOTFS ${NET:+--net "$NET"} /bin/sh -c \
        'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i + 1)); done; wait' \
        >"$T/storm.out" 2>"$T/storm.err" &
    bg=$!
    t0=$(centis)
    max=0 samples=0
    while alive $bg; do
        for f in "$PARENT"/*/pids.current; do
            v=
            read -r v <"$f" 2>/dev/null || continue
            samples=$((samples + 1))
            [ "$v" -gt "$max" ] && max=$v
        done
        sleep 0.05
    done
    wait $bg
    rc=$?
    took=$(($(centis) - t0))
    check_leftovers storm
    note "$name: returned after $((took / 100)).$((took % 100 / 10))s with status $rc; pids.current peaked at $max over $samples samples; stderr: $(squash "$T/storm.err")"
    problems=
    [ "$rc" != 125 ] && [ "$rc" != 143 ] || problems="$problems exit status $rc;"
    [ $took -le 1500 ] || problems="$problems took $((took / 100))s, want at most 15s;"
    [ "$max" -le 20 ] || problems="$problems pids.current reached $max, over pids.max 20;"
    # A check that cannot fail is no check: the storm must have been seen hitting the limit,
    # by the shell's failed forks ("can't fork", "Cannot fork", "fork: retry") or the count.
    if [ $samples = 0 ]; then
        problems="$problems never saw a pids.current below $PARENT;"
    elif [ "$max" -lt 15 ] && ! grep -qi fork "$T/storm.err"; then
        problems="$problems no sign of the limit: peak $max, no failed fork on stderr;"
    fi
    survivors=$(pidof sleep)
    if [ -n "$survivors" ]; then
        problems="$problems sleep processes outlived the container: $survivors;"
        for p in $survivors; do kill -9 "$p"; done
    fi
    [ "$(timeout 5 sh -c 'echo alive' 2>&1)" = alive ] || problems="$problems the VM no longer forks;"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/storm.err")"
    else
        pass "$name"
    fi
}

# (c) Going over --memory 32M gets the command OOM-killed: status 137 (128 + SIGKILL) and a
# message on stderr that says so. The shell itself grows a string (no tail or head needed
# in the rootfs), so the container's own process is the one killed.
check_oom() {
    name=$STAGE/oom-kill
    # shellcheck disable=SC2016 # $a is the container shell's
    run oom --memory 32M --rootfs $ROOTFS ${NET:+--net "$NET"} /bin/sh -c 'a=0123456789abcdef; while :; do a=$a$a; done'
    problems=
    [ "$rc" = 137 ] || problems="$problems exit status $rc, want 137;"
    { grep -qi killed "$T/oom.err" && grep -qi memory "$T/oom.err"; } ||
        problems="$problems stderr does not say it was killed for memory;"
    note "$name: status $rc; stderr: $(squash "$T/oom.err")"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/oom.err")"
    else
        pass "$name"
    fi
}

# (d) No run of this stage left a cgroup behind (the parent itself may stay).
check_cleanup() {
    name=$STAGE/cgroups-removed
    if [ -s "$T/leftovers.$STAGE" ]; then
        fail "$name" "$(squash "$T/leftovers.$STAGE")"
    else
        pass "$name"
    fi
}

# The network links that exist now, one a line.
links() { for l in /sys/class/net/*; do echo "${l##*/}"; done; }

# (f) step07-full's default network: the container has an address on eth0, and no link of
# it is left on the host afterwards (a bridge may stay, as docker0 does, but no port on it).
check_bridge_net() {
    name=$STAGE/bridge-network
    links >"$T/links.before"
    run bridge --rootfs $ROOTFS /bin/sh -c 'ip addr show eth0'
    links >"$T/links.after"
    addr=$(grep -o 'inet [0-9.]*/[0-9]*' "$T/bridge.out" | head -n 1)
    if [ "$rc" = 0 ] && [ -n "$addr" ] && [ "${addr#inet 127.}" = "$addr" ]; then
        note "$name: eth0 $addr"
        pass "$name"
    else
        fail "$name" "exit status $rc, output: $(squash "$T/bridge.out") stderr: $(squash "$T/bridge.err")"
    fi

    name=$STAGE/network-cleanup
    problems=
    grep -vxF -f "$T/links.before" "$T/links.after" >"$T/links.new"
    while read -r l; do
        if [ -d "/sys/class/net/$l/bridge" ]; then
            ports=$(find "/sys/class/net/$l/brif" -mindepth 1 -maxdepth 1 -exec basename {} \; | tr '\n' ' ')
            [ -z "$ports" ] || problems="$problems bridge $l keeps ports: $ports;"
        else
            problems="$problems link $l left on the host;"
        fi
    done <"$T/links.new"
    veths=$(links | grep '^veth' | tr '\n' ' ')
    [ -z "$veths" ] || problems="$problems veth links on the host: $veths;"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# }"
    else
        pass "$name"
    fi
}

# step07's hardening where the kernel has /proc/sysrq-trigger (the test host's kernel
# has none): writing it must fail inside, read-only. ('h' would only print help.)
check_sysrq_read_only() {
    name=$STAGE/sysrq-trigger-read-only
    if [ ! -e /proc/sysrq-trigger ]; then
        fail "$name" "this kernel has no /proc/sysrq-trigger to check"
        return
    fi
    run sysrq --rootfs $ROOTFS --net none /bin/sh -c 'echo h > /proc/sysrq-trigger'
    if [ "$rc" != 0 ] && grep -qi "read-only" "$T/sysrq.err"; then
        pass "$name"
    else
        fail "$name" "exit status $rc, stderr: $(squash "$T/sysrq.err")"
    fi
}

# A process in the parent group itself (the no-internal-process rule): --pids alone (a
# threaded controller, which the kernel enables anyway) is refused when the container
# joins its cgroup, with status 125, an error and a hint that names the rule; nothing left.
check_internal_process() {
    name=$STAGE/internal-process-refused
    # A fresh parent: one with memory enabled below it would refuse the process itself.
    if ! { rmdir $PARENT 2>/dev/null || [ ! -d $PARENT ]; } || ! mkdir $PARENT; then
        fail "$name" "could not make a fresh $PARENT: $(ls $PARENT)"
        return
    fi
    sleep 30 &
    squatter=$!
    if ! echo $squatter >$PARENT/cgroup.procs; then
        kill $squatter
        fail "$name" "could not move a process into $PARENT"
        return
    fi
    run internal --pids 20 --rootfs $ROOTFS ${NET:+--net "$NET"} /bin/sh -c 'echo SHOULD-NOT-RUN'
    echo $squatter >$CG/cgroup.procs
    kill $squatter
    rmdir $PARENT 2>/dev/null
    problems=
    [ "$rc" = 125 ] || problems="$problems exit status $rc, want 125;"
    grep -q '^error: .*EOPNOTSUPP' "$T/internal.err" || problems="$problems no 'error: ... EOPNOTSUPP' line;"
    grep -q '^hint: .*no-internal-process rule' "$T/internal.err" || problems="$problems no hint naming the rule;"
    ! grep -q SHOULD-NOT-RUN "$T/internal.out" || problems="$problems the command ran;"
    [ -z "$left" ] || problems="$problems left cgroups: $left;"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/internal.err")"
    else
        note "$name: $(squash "$T/internal.err")"
        pass "$name"
    fi
}

# --- step08-rootless as a normal user, in a cgroup v2 subtree delegated to them ----------
#
# What systemd does for user@UID.service (and a unit with Delegate=yes): root makes a cgroup,
# enables controllers in it, and chowns the directory and its cgroup.procs,
# cgroup.threads and cgroup.subtree_control to the user (cgroup-v2.rst, "Delegation").
# The user's processes live in a leaf below it (session/, as systemd's init.scope): the
# delegated cgroup itself holds none, so controllers can be handed further down.
RUSER=4242
DELEGATED=$CG/user-$RUSER
delegate() {
    mkdir -p "$DELEGATED/session" &&
        echo "+cpu +memory +pids" >"$CG/cgroup.subtree_control" &&
        echo "+cpu +memory +pids" >"$DELEGATED/cgroup.subtree_control" || return 1
    for d in "$DELEGATED" "$DELEGATED/session"; do
        chown "$RUSER:$RUSER" "$d" "$d/cgroup.procs" "$d/cgroup.threads" "$d/cgroup.subtree_control" || return 1
    done
    # The launcher: into the user's session cgroup (as root may), then the user's ids
    # (by its path: busybox sh would run its own setpriv applet, which lacks --reuid).
    printf '#!/bin/sh\necho $$ >"%s/session/cgroup.procs" || exit 98\nexec /usr/sbin/setpriv --reuid=%s --regid=%s --clear-groups "$@"\n' \
        "$DELEGATED" "$RUSER" "$RUSER" >"$T/as-user"
    chmod 755 "$T/as-user"
}

# The same user outside a delegated subtree (the VM's root cgroup is root's) is refused
# limits, with status 125, an error and a hint, and the command does not run.
check_rootless_refused() {
    name=$STAGE/limits-refused-without-delegation
    timeout 30 /usr/sbin/setpriv --reuid=$RUSER --regid=$RUSER --clear-groups "$BIN" run --pids 20 \
        --rootfs $ROOTFS /bin/sh -c 'echo SHOULD-NOT-RUN' >"$T/refused.out" 2>"$T/refused.err"
    rc=$?
    problems=
    [ "$rc" = 125 ] || problems="$problems exit status $rc, want 125;"
    grep -q '^error: .*delegated' "$T/refused.err" || problems="$problems no 'error: ... delegated' line;"
    grep -q '^hint: ' "$T/refused.err" || problems="$problems no hint;"
    ! grep -q SHOULD-NOT-RUN "$T/refused.out" || problems="$problems the command ran;"
    if [ -n "$problems" ]; then
        fail "$name" "${problems# } stderr: $(squash "$T/refused.err")"
    else
        note "$name: $(squash "$T/refused.err")"
        pass "$name"
    fi
}

# The container's root is the user on the host: uid_map 0 RUSER 1.
check_rootless_ids() {
    name=$STAGE/runs-as-the-user
    run ids --pids 20 --rootfs $ROOTFS /bin/sh -c 'id -u; cat /proc/self/uid_map'
    inside=$(tr -s ' \n' ' ' <"$T/ids.out")
    if [ "$rc" = 0 ] && [ "$inside" = "0 0 $RUSER 1 " ]; then
        pass "$name"
    else
        fail "$name" "exit status $rc; inside: '$inside', want '0 0 $RUSER 1'; stderr: $(squash "$T/ids.err")"
    fi
}

# step08's limits, rootless: the checks the stages run as root, run again as uid RUSER
# with the container's cgroups below the delegated subtree.
check_rootless() {
    STAGE=step08-rootless-as-uid-$RUSER
    if ! delegate; then
        fail "$STAGE/delegation" "could not delegate $DELEGATED to uid $RUSER"
        return
    fi
    check_rootless_refused
    PARENT=$DELEGATED/containers-from-scratch REL=/user-$RUSER/containers-from-scratch
    AS=$T/as-user
    : >"$T/leftovers.$STAGE"
    check_rootless_ids
    check_bad_value
    check_cgroup_path
    check_limit_files
    check_fork_storm
    check_oom
    check_cleanup
    PARENT=$CG/containers-from-scratch REL=/containers-from-scratch AS=
}

check_stage() {
    STAGE=$1 BIN=/stages/$1 NET=
    if [ ! -x "$BIN" ]; then
        skip "$STAGE" "$BIN missing: the stage was not built"
        return
    fi
    case $STAGE in
    step06-cgroups) ;;
    step07-full) NET=none ;;
    step08-rootless) NET=none ;;
    *)
        skip "$STAGE" "no checks for this stage here (only step06-cgroups, step07-full and step08-rootless)"
        return
        ;;
    esac
    : >"$T/leftovers.$STAGE"
    check_bad_value
    check_cgroup_path
    check_limit_files
    check_fork_storm
    check_oom
    [ "$STAGE" != step07-full ] || check_bridge_net
    [ "$STAGE" != step07-full ] || check_sysrq_read_only
    check_internal_process
    check_cleanup
    [ "$STAGE" != step08-rootless ] || check_rootless
}

check_vm_cgroup2
check_vm_chroot
check_vm_pivot_root
check_vm_modules
for s in $VM_STAGES; do
    check_stage "$s"
done
exit 0 # init.sh reports any other status: the script died half-way
