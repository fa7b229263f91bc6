//! Which of the host's IDs the container's IDs are, and how the runtime
//! writes that down: /proc/PID/uid_map and gid_map, by itself for its own
//! IDs, through the setuid helpers newuidmap and newgidmap for more.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

use super::*;

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

/// `--ids`: which mapping to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ids {
    /// The most the caller may map: every ID as root; 0-65535 through the
    /// helpers with a range; else the caller alone.
    Auto,
    /// The caller alone, written by the runtime itself, even with a range:
    /// the single-ID branch of `write` runs on any machine.
    #[value(name = "self")]
    Caller,
}

impl Mapping {
    /// The mapping the caller can make: root to root for root; through the
    /// setuid helpers when they and the caller's ranges exist; else one ID.
    /// With `--ids self`, the caller alone (root too: `0 0 1`).
    pub fn choose(ids: Ids) -> Mapping {
        let (uid, gid) = (Uid::effective(), Gid::effective());
        if ids == Ids::Caller {
            return Mapping::Caller { uid: uid.as_raw(), gid: gid.as_raw() };
        }
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
