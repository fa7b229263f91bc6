//! Limits without root: a cgroup v2 subtree delegated to the caller.
//!
//! A user namespace gives no power over cgroups: /sys/fs/cgroup belongs to
//! the host's root. What a normal user can have is a subtree of the cgroup v2
//! tree that root handed over (chowned to them): systemd does it for each
//! user's `user@UID.service`, and for a unit or scope started with
//! `Delegate=yes` (cgroup-v2.rst, "Delegation"; systemd.resource-control(5)).
//! In it the user may make cgroups, enable the controllers the delegator
//! enabled, and move their own processes. That is where a rootless runtime
//! makes the container's cgroup, as podman and rootless Docker do.

use std::os::unix::fs::MetadataExt;

use nix::unistd::{access, AccessFlags, Uid};

use super::*;

// ANCHOR: delegated
/// The cgroup v2 directory delegated to us, with every controller `limits`
/// need: the highest directory above our own cgroup that is ours (owned by
/// us, and we may write its cgroup.procs). Refused, with what to do, when
/// there is none: checked before anything is created.
pub fn delegated(limits: &Limits) -> anyhow::Result<PathBuf> {
    let mountinfo =
        fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    let own = fs::read_to_string("/proc/self/cgroup").context("reading /proc/self/cgroup")?;
    let Some(mount) = cgroup2_mount(&mountinfo) else {
        return Err(not_delegated("no cgroup v2 is mounted on this host".into()));
    };
    // `0::/user.slice/user-1000.slice/user@1000.service/app.slice/…`: our
    // cgroup in the v2 tree (cgroups(7), "/proc/[pid]/cgroup").
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Err(not_delegated("/proc/self/cgroup has no cgroup v2 line".into()));
    };
    let here = mount.join(path.trim_start_matches('/'));
    let uid = Uid::effective().as_raw();
    let Some(dir) = highest_owned(&mount, &here, uid) else {
        let why = format!("your cgroup {} is not yours to write (owned by root)", here.display());
        return Err(not_delegated(why));
    };
    crate::report::narrate(&format!("delegated cgroup v2 subtree: {}", dir.display()));
    let available = read_file(&dir.join("cgroup.controllers"))?;
    let needed = limits.controllers();
    let missing: Vec<&str> =
        needed.iter().copied().filter(|c| !available.split_whitespace().any(|a| a == *c)).collect();
    if !missing.is_empty() {
        return Err(crate::report::hinted(
            anyhow!(
                "the cgroup delegated to you, {}, has no {} controller (it has {:?})",
                dir.display(),
                missing.join(", no "),
                available.trim()
            ),
            format!(
                "systemd delegates only some controllers to users: as root, add \
                 `Delegate={}` to a drop-in for user@.service (systemctl edit user@.service), \
                 then log in again; a controller bound to cgroup v1 (hybrid hosts) cannot be \
                 delegated at all",
                needed.join(" ")
            ),
        ));
    }
    Ok(dir)
}
// ANCHOR_END: delegated

/// Where the cgroup v2 tree is mounted: /sys/fs/cgroup, or
/// /sys/fs/cgroup/unified on a hybrid host.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split(' ').nth(4)?;
        (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
    })
}

/// Walk up from `here` to `mount` while each directory is `uid`'s: the
/// highest one that is, or None when `here` itself is not.
pub fn highest_owned(mount: &Path, here: &Path, uid: u32) -> Option<PathBuf> {
    let ours = |dir: &Path| {
        dir.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid)
            && access(&dir.join("cgroup.procs"), AccessFlags::W_OK).is_ok()
    };
    let mut found = None;
    let mut dir = here;
    while dir.starts_with(mount) && ours(dir) {
        found = Some(dir.to_path_buf());
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
    found
}

/// No delegated subtree: refused, saying how to check and how to get one.
fn not_delegated(why: String) -> anyhow::Error {
    crate::report::hinted(
        anyhow!("--memory, --pids and --cpus without root need a cgroup v2 subtree delegated to you: {why}"),
        "check: the `0::` line of /proc/self/cgroup names your cgroup, and `ls -ld` of it \
         under the cgroup2 mount must show you as its owner; get one with systemd: \
         `systemd-run --user --scope -p Delegate=yes cargo run -p step08-rootless -- run …`; \
         or run without limits, or as root",
    )
}

impl Cgroup {
    /// The container's cgroup inside the delegated directory `dir`:
    /// `dir/containers-from-scratch/<name>`, made as on a v2 host.
    pub fn create_delegated(dir: &Path, name: &str, limits: &Limits) -> anyhow::Result<Cgroup> {
        check_name(name)?;
        Self::create_v2(dir, name, limits)
    }
}
