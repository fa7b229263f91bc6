//! The last layer: a seccomp filter (seccomp(2)) with the semantics of
//! Docker's default profile. Capabilities already stop most of what it
//! names; the filter closes what capabilities do not cover (a new user
//! namespace needs none, and inside it the container would be "root" again),
//! answers EPERM, and is inherited by every process of the container.
//!
//! Built with `seccompiler` (Firecracker's), not hand-packed BPF: it checks
//! the architecture first (a syscall of another ABI kills the process, so
//! nobody gets around the numbers below with 32-bit calls), and compiles
//! argument checks that are easy to get wrong by hand.

use std::collections::BTreeMap;

use anyhow::Context;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::report::narrate;

/// Denied whatever the arguments, as Docker denies them to a container
/// without the matching capability: the namespace calls (`unshare`, `setns`:
/// a new user namespace needs no capability, and inside it the container
/// would have them all again), keyrings (not namespaced: the host's keys),
/// mounts (old API and new), swap, reboot, kernel modules and kexec, BPF,
/// perf events, userfaultfd and io_uring (tools, and a target, of kernel
/// exploits; Docker denies io_uring since 25.0) and handles to any file of
/// the filesystem. Docker's list is longer (the clock, the kernel
/// log, I/O ports, quotas, ...): those need a capability the container does
/// not have, and with no user namespace to be had, that is enough. Every
/// entry costs: the kernel runs the filter for each system call number when
/// it installs it, so the list stays short (see the cost chapter).
const DENIED: &[(&str, libc::c_long)] = &[
    ("add_key", libc::SYS_add_key),
    ("bpf", libc::SYS_bpf),
    ("delete_module", libc::SYS_delete_module),
    ("finit_module", libc::SYS_finit_module),
    ("fsmount", libc::SYS_fsmount),
    ("fsopen", libc::SYS_fsopen),
    ("init_module", libc::SYS_init_module),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("kexec_load", libc::SYS_kexec_load),
    ("keyctl", libc::SYS_keyctl),
    ("mount", libc::SYS_mount),
    ("move_mount", libc::SYS_move_mount),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("open_tree", libc::SYS_open_tree),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("pivot_root", libc::SYS_pivot_root),
    ("reboot", libc::SYS_reboot),
    ("request_key", libc::SYS_request_key),
    ("setns", libc::SYS_setns),
    ("swapoff", libc::SYS_swapoff),
    ("swapon", libc::SYS_swapon),
    ("umount2", libc::SYS_umount2),
    ("unshare", libc::SYS_unshare),
    ("userfaultfd", libc::SYS_userfaultfd),
];

/// Every namespace flag of clone(2): a new namespace of any kind is what
/// `unshare` would give, so `clone` with one is denied too.
const NAMESPACE_FLAGS: [libc::c_int; 8] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME, which libc does not name
];

/// personality(2) values Docker allows: the default (PER_LINUX), PER_LINUX32,
/// UNAME26, both, and 0xffffffff, which only asks. Others (ADDR_NO_RANDOMIZE,
/// READ_IMPLIES_EXEC, ...) switch off protections.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The terminal ioctls that push input into a terminal (TIOCSTI) or drive
/// the console (TIOCLINUX): with them a container that shares the caller's
/// terminal types commands into the caller's shell, which runs them when the
/// container has ended.
const TERMINAL_IOCTLS: [u64; 2] = [0x5412, 0x541C];

/// x32, a second ABI on x86_64 kernels built with it: the same architecture
/// to seccomp, syscall numbers with this bit set. Where the kernel takes
/// them, the filter denies those numbers too, so that the x32 door is shut.
const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
/// The x32 numbers of ioctl and kexec_load, which differ from x86_64's.
const X32_IOCTL: libc::c_long = 514;
const X32_KEXEC_LOAD: libc::c_long = 528;

/// `--seccomp`: Docker's semantics, or none at all (Docker's
/// `--security-opt seccomp=unconfined`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Profile {
    /// Deny what Docker's default profile denies, with EPERM.
    Default,
    /// No filter: for comparing, as the hardening chapter does.
    Unconfined,
}

// ANCHOR: install
/// Install the filters in this process (init), whose children inherit them.
/// Must come after the last privileged step: the filter also stops us.
/// Needs no_new_privs (set with the capabilities) or CAP_SYS_ADMIN.
pub fn install(profile: Profile) -> anyhow::Result<()> {
    if profile == Profile::Unconfined {
        narrate("seccomp: none (--seccomp unconfined)");
        return Ok(());
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| anyhow::anyhow!("seccomp: {e:?}"))?;
    // Two filters, since one filter has one answer: EPERM for what is
    // denied, and ENOSYS for clone3(2). clone3 takes its flags in a struct
    // in memory, where a filter cannot look; ENOSYS makes glibc fall back to
    // clone(2), whose flags it can check. Docker does the same.
    let deny = filter(deny_rules()?, libc::EPERM, arch)?;
    let clone3 = [(libc::SYS_clone3, vec![]), (libc::SYS_clone3 | X32_SYSCALL_BIT, vec![])];
    let no_clone3 = filter(clone3.into_iter().collect(), libc::ENOSYS, arch)?;
    // The rules: every syscall of DENIED, and clone, personality and ioctl
    // with the arguments below.
    let rules = DENIED.len() + 3;
    narrate(&format!(
        "seccomp(SECCOMP_SET_MODE_FILTER): EPERM for {rules} rules, ENOSYS for clone3"
    ));
    // The long one first: the kernel then runs the short one only for the
    // system calls the first allows (its cache of always-allowed calls).
    seccompiler::apply_filter(&deny).context("installing the seccomp filter")?;
    seccompiler::apply_filter(&no_clone3).context("installing the seccomp filter (clone3)")?;
    Ok(())
}
// ANCHOR_END: install

/// A filter that allows everything but what `rules` match, which gets `errno`.
fn filter(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: libc::c_int,
    arch: TargetArch,
) -> anyhow::Result<BpfProgram> {
    let answer = SeccompAction::Errno(errno as u32);
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, answer, arch)
        .map_err(|e| anyhow::anyhow!("seccomp filter: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| anyhow::anyhow!("compiling the seccomp filter: {e}"))
}

/// Each denied syscall with the conditions under which it is denied (none:
/// always), under its x86_64 number and, on x86_64, its x32 number.
fn deny_rules() -> anyhow::Result<BTreeMap<i64, Vec<SeccompRule>>> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &(_, nr) in DENIED {
        rules.insert(nr, vec![]);
    }
    // clone(flags, ...): denied when any namespace flag is set. One rule per
    // flag, and a syscall matches when any of its rules does.
    let clone = NAMESPACE_FLAGS
        .iter()
        .map(|&flag| rule(vec![arg(0, SeccompCmpOp::MaskedEq(flag as u64), flag as u64)?]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    rules.insert(libc::SYS_clone, clone);
    // personality(persona): denied unless it is one of the safe values.
    let not_safe = PERSONALITIES
        .iter()
        .map(|&p| arg(0, SeccompCmpOp::Ne, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    rules.insert(libc::SYS_personality, vec![rule(not_safe)?]);
    // ioctl(fd, request, ...): the kernel reads `request` as 32 bits
    // (unsigned int cmd), so compare 32 bits: a value with high bits set
    // could not slip past as another number.
    let terminal = TERMINAL_IOCTLS
        .iter()
        .map(|&request| rule(vec![arg(1, SeccompCmpOp::Eq, request)?]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    rules.insert(libc::SYS_ioctl, terminal.clone());
    if cfg!(target_arch = "x86_64") && x32_enabled() {
        let x32: Vec<(i64, Vec<SeccompRule>)> =
            rules.iter().map(|(nr, r)| (nr | X32_SYSCALL_BIT, r.clone())).collect();
        rules.extend(x32);
        rules.insert(X32_IOCTL | X32_SYSCALL_BIT, terminal);
        rules.insert(X32_KEXEC_LOAD | X32_SYSCALL_BIT, vec![]);
    }
    Ok(rules)
}

/// Whether this kernel takes x32 system calls at all (CONFIG_X86_X32_ABI,
/// and not switched off with syscall.x32=n): getpid under its x32 number
/// answers ENOSYS where it does not. Only then do the x32 numbers need rules;
/// without them the filter is half as long, and quicker to load.
fn x32_enabled() -> bool {
    // SAFETY: getpid takes no arguments and cannot fail but with ENOSYS.
    unsafe { libc::syscall(libc::SYS_getpid | X32_SYSCALL_BIT) >= 0 }
}

fn arg(index: u8, op: SeccompCmpOp, value: u64) -> anyhow::Result<SeccompCondition> {
    SeccompCondition::new(index, SeccompCmpArgLen::Dword, op, value)
        .map_err(|e| anyhow::anyhow!("seccomp condition: {e}"))
}

fn rule(conditions: Vec<SeccompCondition>) -> anyhow::Result<SeccompRule> {
    SeccompRule::new(conditions).map_err(|e| anyhow::anyhow!("seccomp rule: {e}"))
}
