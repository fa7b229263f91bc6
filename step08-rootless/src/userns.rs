//! The user namespace, made first: the container's root is whoever ran the
//! runtime (user_namespaces(7)).
//!
//! A user namespace has its own user and group IDs, mapped onto the host's by
//! two files of its first process, /proc/PID/uid_map and gid_map, each line
//! `ID-INSIDE ID-OUTSIDE COUNT`. Until they are written, nobody is root in it.
//! Once they are, its process is uid 0 *there*, with every capability *there*:
//! over the namespaces its user namespace owns (the UTS, mount, PID, IPC and
//! network namespaces made with it), never over the host. On the host, the
//! kernel still sees the caller's own uid.
//!
//! So the runtime makes the child with clone(2) and every namespace flag in
//! one call: the kernel creates the user namespace first, and the others owned
//! by it. The child waits, before it execs, until the runtime has written its
//! maps: a process that execs while it has no uid 0 in its namespace loses
//! every capability at that exec (capabilities(7), "Capabilities and execution
//! of programs by root"). This is what Go's os/exec does for
//! `SysProcAttr.UidMappings`, and runc, crun and youki each in their own way.

use std::ffi::{CString, OsString};
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Gid, Pid, Uid, User};

use crate::report::{hinted, narrate};

/// How many IDs a subordinate range must give: 1–65535 inside, the IDs a
/// distribution's files and users use (nobody is 65534).
pub const SUB_IDS: u32 = 65535;

/// Every ID to itself: the map of the host's own user namespace (IDs 0 to
/// 4294967294; 4294967295 is (uid_t)-1, "no ID").
pub const ALL_IDS: &str = "0 0 4294967295";

// ANCHOR: mapping
/// Which IDs of the host the container's IDs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Run as root: every ID inside is the same ID outside, root to root.
    /// The lesson is the same; the container's root is still confined to
    /// its own namespaces. (Root alone, `0 0 1`, would leave root inside
    /// unable to read a rootfs in a 0700 home of a user: its capabilities
    /// override permissions only on files whose owner is mapped.)
    RootToRoot,
    /// A normal user without helpers: 0 inside is the caller, one ID. Files
    /// of other owners show as `nobody`, and `chown` to anyone else fails.
    Caller { uid: u32, gid: u32 },
    /// A normal user with newuidmap/newgidmap (Debian's `uidmap` package)
    /// and ranges in /etc/subuid and /etc/subgid: 0 is the caller, 1–65535
    /// the caller's subordinate IDs, so a rootfs with many owners works.
    Subordinate { uid: u32, gid: u32, subuid: u32, subgid: u32 },
}
// ANCHOR_END: mapping

impl Mapping {
    /// The mapping the caller can make: root to root for root; through the
    /// setuid helpers when they and the caller's ranges exist; else one ID.
    pub fn choose() -> Mapping {
        let (uid, gid) = (Uid::effective(), Gid::effective());
        if uid.is_root() {
            return Mapping::RootToRoot;
        }
        let (uid, gid) = (uid.as_raw(), gid.as_raw());
        let name = User::from_uid(Uid::from_raw(uid)).ok().flatten().map(|u| u.name);
        let range = |file: &str, id: u32| {
            let text = fs::read_to_string(file).ok()?;
            sub_range(&text, name.as_deref(), id)
        };
        let helpers = helper("newuidmap").is_some() && helper("newgidmap").is_some();
        match (helpers, range("/etc/subuid", uid), range("/etc/subgid", gid)) {
            (true, Some(subuid), Some(subgid)) => Mapping::Subordinate { uid, gid, subuid, subgid },
            _ => Mapping::Caller { uid, gid },
        }
    }

    /// The uid_map and gid_map lines, as the kernel will show them.
    pub fn lines(&self) -> (String, String) {
        match *self {
            Mapping::RootToRoot => (ALL_IDS.into(), ALL_IDS.into()),
            Mapping::Caller { uid, gid } => (format!("0 {uid} 1"), format!("0 {gid} 1")),
            Mapping::Subordinate { uid, gid, subuid, subgid } => (
                format!("0 {uid} 1\n1 {subuid} {SUB_IDS}"),
                format!("0 {gid} 1\n1 {subgid} {SUB_IDS}"),
            ),
        }
    }

    /// Whether the host's `uid` is some user inside (else it shows as nobody).
    pub fn maps(&self, host_uid: u32) -> bool {
        match *self {
            Mapping::RootToRoot => true,
            Mapping::Caller { uid, .. } => host_uid == uid,
            Mapping::Subordinate { uid, subuid, .. } => {
                host_uid == uid || (subuid..subuid.saturating_add(SUB_IDS)).contains(&host_uid)
            }
        }
    }

    /// What `--verbose` says about it.
    pub fn describe(&self) -> String {
        let (uids, gids) = self.lines();
        let how = match self {
            Mapping::RootToRoot => "run as root: root inside is root outside, every id to itself",
            Mapping::Caller { .. } => {
                "you alone, as root inside (for ids 1-65535 too: the uidmap package, \
                 and ranges in /etc/subuid and /etc/subgid)"
            }
            Mapping::Subordinate { .. } => "you as root, 1-65535 your subordinate ids",
        };
        format!("user namespace: {how}: uid_map {:?}, gid_map {:?}", uids, gids)
    }

    // ANCHOR: write
    /// Write the maps of the child `pid`, which waits in its new user
    /// namespace. Each file can be written once.
    pub fn write(&self, pid: Pid) -> anyhow::Result<()> {
        narrate(&self.describe());
        match *self {
            Mapping::RootToRoot => {
                // Root has CAP_SETGID over the new namespace's parent (the
                // host's), so the kernel lets it write gid_map and leaves
                // setgroups(2) allowed inside: the container can drop root's
                // supplementary groups (security::clear_supplementary_groups).
                write_proc(pid, "uid_map", ALL_IDS)?;
                write_proc(pid, "gid_map", ALL_IDS)
            }
            Mapping::Caller { uid, gid } => {
                // ANCHOR: your_turn_userns -- step08-rootless.md#the-key-code: write "deny" to /proc/PID/setgroups, then "0 GID 1" to gid_map and "0 UID 1" to uid_map (write_proc)
                // An unprivileged writer must turn setgroups(2) off first
                // (user_namespaces(7), "The /proc/[pid]/setgroups file"): a
                // group can *deny* access ("everyone but group X"), and root
                // inside could otherwise drop X and read what X may not.
                write_proc(pid, "setgroups", "deny")?;
                // Then one line each, our own IDs only: the kernel lets a
                // process without privilege map its own IDs and no others.
                write_proc(pid, "gid_map", &format!("0 {gid} 1"))?;
                write_proc(pid, "uid_map", &format!("0 {uid} 1"))?;
                // ANCHOR_END: your_turn_userns
                Ok(())
            }
            Mapping::Subordinate { uid, gid, subuid, subgid } => {
                // Mapping IDs that are not ours takes privilege: the setuid
                // helpers check /etc/subuid and /etc/subgid and write the
                // maps for us (newuidmap(1)). newgidmap leaves setgroups
                // allowed: every group inside is the caller's own.
                let pid = pid.to_string();
                let (uid, sub) = (uid.to_string(), subuid.to_string());
                helper_run("newuidmap", &[&pid, "0", &uid, "1", "1", &sub, &SUB_IDS.to_string()])?;
                let (gid, sub) = (gid.to_string(), subgid.to_string());
                helper_run("newgidmap", &[&pid, "0", &gid, "1", "1", &sub, &SUB_IDS.to_string()])
            }
        }
    }
    // ANCHOR_END: write
}

/// Write `/proc/PID/<file>` in one write(2), as the kernel wants it.
fn write_proc(pid: Pid, file: &str, line: &str) -> anyhow::Result<()> {
    let path = format!("/proc/{pid}/{file}");
    narrate(&format!("write {path} <- {line:?}"));
    fs::write(&path, line).map_err(|err| {
        hinted(
            anyhow::Error::new(err).context(format!("writing {line:?} to {path}")),
            "is the user namespace made by this runtime (and not by a setuid program)? \
             is /proc/sys/user/max_user_namespaces above 0?",
        )
    })
}

/// The first range of `name` (or of `id`, as a number) in an /etc/subuid or
/// /etc/subgid text, `NAME:START:COUNT` per line, with at least SUB_IDS IDs:
/// its start.
pub fn sub_range(text: &str, name: Option<&str>, id: u32) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (who, start, count) = (fields.next()?, fields.next()?, fields.next()?);
        let ours = Some(who) == name || who.parse() == Ok(id);
        let (start, count): (u32, u32) = (start.parse().ok()?, count.parse().ok()?);
        (ours && count >= SUB_IDS).then_some(start)
    })
}

/// Where the setuid helper `name` is, if installed.
fn helper(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

fn helper_run(name: &str, args: &[&str]) -> anyhow::Result<()> {
    let path = helper(name).with_context(|| format!("{name} is gone"))?;
    narrate(&format!("{} {}", path.display(), args.join(" ")));
    let out = Command::new(&path).args(args).output().with_context(|| format!("running {name}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(hinted(
            anyhow!("{name} {} failed ({}): {}", args.join(" "), out.status, said.trim()),
            "check your ranges in /etc/subuid and /etc/subgid (`grep $(id -un) /etc/subuid \
             /etc/subgid`), and that the helpers are setuid root (`ls -l /usr/bin/newuidmap`)",
        ));
    }
    Ok(())
}

/// What the child execs, made before clone(2): the child may not allocate.
pub struct Exec {
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Exec {
    /// `/proc/self/exe ARGS…` with the environment `env` (KEY=VALUE).
    pub fn new(args: &[OsString], env: &[OsString]) -> anyhow::Result<Exec> {
        let c = |s: &OsString| {
            CString::new(s.as_bytes()).map_err(|_| anyhow!("{s:?} holds a NUL byte"))
        };
        let mut argv = vec![CString::from(c"/proc/self/exe")];
        argv.extend(args.iter().map(c).collect::<anyhow::Result<Vec<_>>>()?);
        let envp = env.iter().map(c).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Exec { argv, envp })
    }
}

// ANCHOR: clone
/// clone(2) a child into new namespaces (`flags`, CLONE_NEWUSER among them),
/// have `mapping` write its maps while it waits, then let it exec
/// `/proc/self/exe …`, keeping `keep_fd` open across the exec. Its PID (as
/// the host sees it) once the exec has succeeded. On any failure the child
/// is killed and reaped.
pub fn spawn(
    flags: CloneFlags,
    exec: &Exec,
    keep_fd: RawFd,
    mapping: &Mapping,
) -> anyhow::Result<Pid> {
    // Everything the child touches before exec, made now: after clone(2) the
    // child is a copy of this process that may only make async-signal-safe
    // calls, as after fork(2).
    let mut argv: Vec<*const libc::c_char> = exec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = exec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // `go_on`: the child blocks reading it until the maps are written.
    // `exec_err`: the child writes its errno there if exec fails; on success
    // exec closes it (O_CLOEXEC), and the runtime reads end of file.
    let (go_on_r, go_on_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let (exec_err_r, exec_err_w) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let fds = ChildFds {
        go_on_r: go_on_r.as_raw_fd(),
        go_on_w: go_on_w.as_raw_fd(),
        exec_err_r: exec_err_r.as_raw_fd(),
        exec_err_w: exec_err_w.as_raw_fd(),
        keep_fd,
    };
    narrate(&format!("clone({}) : the child waits for its maps", flag_names(flags)));
    // SIGCHLD: the exit signal, so that waitpid(2) sees the child as it
    // sees a fork(2)ed one. No new stack: like fork, the child goes on on a
    // copy of ours.
    let clone_flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // The other arguments: stack, parent_tid, child_tid, tls; none used.
    let none = 0usize;
    // SAFETY: clone(2) without CLONE_VM or CLONE_THREAD copies this
    // (single-threaded) process, as fork(2) does; in the child, `child_side`
    // makes only async-signal-safe calls and never returns.
    let ret = unsafe { libc::syscall(libc::SYS_clone, clone_flags, none, none, none, none) };
    match ret {
        -1 => return Err(clone_failed(std::io::Error::last_os_error(), flags)),
        // SAFETY: in the child, see above.
        0 => unsafe { child_side(&fds, &argv, &envp) },
        _ => {}
    }
    let pid = Pid::from_raw(ret as libc::pid_t);
    drop((go_on_r, exec_err_w));
    let killed = |err: anyhow::Error| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        err
    };
    mapping.write(pid).map_err(killed)?;
    narrate("write(go-on pipe): the maps are written, exec");
    nix::unistd::write(&go_on_w, b"1").context("telling the child to go on").map_err(killed)?;
    drop(go_on_w);
    // End of file: the exec succeeded. Four bytes: its errno.
    let mut errno = [0u8; 4];
    let mut pipe = fs::File::from(exec_err_r);
    if pipe.read_exact(&mut errno).is_ok() {
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno));
        return Err(killed(anyhow::Error::new(err).context("execve /proc/self/exe in the child")));
    }
    Ok(pid)
}
// ANCHOR_END: clone

/// The pipe ends the child uses, as raw numbers (it may not drop an OwnedFd).
struct ChildFds {
    go_on_r: RawFd,
    go_on_w: RawFd,
    exec_err_r: RawFd,
    exec_err_w: RawFd,
    keep_fd: RawFd,
}

// ANCHOR: child_side
/// The child, between clone and exec: wait for the maps, then exec.
///
/// # Safety
///
/// Only in the child of clone(2); `argv` and `envp` NULL-terminated arrays
/// of valid C strings.
unsafe fn child_side(
    fds: &ChildFds,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    // SAFETY: raw system calls on numbers and on memory made before the
    // clone; no allocation, no lock (signal-safety(7)).
    unsafe {
        // Our copies of the runtime's ends: with them closed, a runtime that
        // dies makes read() below return 0 instead of blocking for ever.
        libc::close(fds.go_on_w);
        libc::close(fds.exec_err_r);
        // If the runtime dies, even by SIGKILL, the kernel kills the
        // container's init, and with it the whole PID namespace.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut byte = 0u8;
        loop {
            match libc::read(fds.go_on_r, (&raw mut byte).cast(), 1) {
                1 => break,
                -1 if *libc::__errno_location() == libc::EINTR => continue,
                // The runtime failed (and said why) or died: go quietly.
                _ => libc::_exit(125),
            }
        }
        // Keep the ready pipe open across exec (clear FD_CLOEXEC).
        libc::fcntl(fds.keep_fd, libc::F_SETFD, 0);
        // A blocked signal stays blocked across exec: unblock the ones the
        // runtime blocked for itself (signals::hold).
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
        let errno = (*libc::__errno_location()).to_ne_bytes();
        libc::write(fds.exec_err_w, errno.as_ptr().cast(), errno.len());
        libc::_exit(125)
    }
}
// ANCHOR_END: child_side

/// `CLONE_NEWUSER|CLONE_NEWPID|…`, for narration and errors.
fn flag_names(flags: CloneFlags) -> String {
    flags.iter_names().map(|(name, _)| name).collect::<Vec<_>>().join("|")
}

/// Why clone(2) failed, and what to do about it.
fn clone_failed(err: std::io::Error, flags: CloneFlags) -> anyhow::Error {
    let hint = match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::ENOSPC) | Some(libc::EUSERS) => {
            "unprivileged user namespaces may be off: check `sysctl \
             kernel.unprivileged_userns_clone user.max_user_namespaces` (Debian, Ubuntu: \
             also kernel.apparmor_restrict_unprivileged_userns), or run it as root"
        }
        _ => "see clone(2), ERRORS",
    };
    hinted(anyhow::Error::new(err).context(format!("clone({})", flag_names(flags))), hint)
}

/// Whether the caller is root on the host: only root may wire a host bridge
/// or make cgroups outside a delegated subtree.
pub fn host_root() -> bool {
    Uid::effective().is_root()
}

#[cfg(test)]
mod tests;
