//! Addresses for containers: one lease file per address under
//! /run/containers-from-scratch/leases, taken under a lock, stale ones
//! (all their owners gone) taken over.

use super::*;

/// An allocated address. Dropping it removes the lease file.
pub struct Lease {
    addr: Ipv4Addr,
    path: PathBuf,
}

impl Lease {
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    pub fn prefix(&self) -> u8 {
        PREFIX
    }
    pub fn gateway(&self) -> Ipv4Addr {
        GATEWAY
    }
}

pub(super) fn lock() -> anyhow::Result<Flock<File>> {
    fs::create_dir_all(LEASE_DIR).map_err(|e| io_failed(e, format!("mkdir -p {LEASE_DIR}")))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .map_err(|e| io_failed(e, format!("opening {LOCK_FILE}")))?;
    narrate(&format!("flock({LOCK_FILE}, LOCK_EX)"));
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow!("flock({LOCK_FILE}): {}", errno.desc()))
}

// ANCHOR: lease
/// The first address of the range that has no live lease. O_EXCL makes the
/// creation of a lease file atomic; the lock makes "is it stale? then take it"
/// atomic too.
pub(super) fn take_free_address() -> anyhow::Result<Lease> {
    for host in 2..=254u32 {
        let addr = Ipv4Addr::from(u32::from(SUBNET) | host);
        let path = Path::new(LEASE_DIR).join(addr.to_string());
        if path.exists() && !is_stale(&path) {
            continue;
        }
        // A stale lease (all its owners are dead) is removed and taken over.
        let _ = fs::remove_file(&path);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true) // O_CREAT | O_EXCL
            .open(&path)
            .map_err(|e| io_failed(e, format!("creating lease {}", path.display())))?;
        writeln!(file, "{}", std::process::id())
            .map_err(|e| io_failed(e, format!("writing lease {}", path.display())))?;
        narrate(&format!("lease {addr}: {} <- our pid {}", path.display(), std::process::id()));
        return Ok(Lease { addr, path });
    }
    Err(crate::report::hinted(
        anyhow!("no free address in {SUBNET}/{PREFIX}: all 253 are leased"),
        format!("each file in {LEASE_DIR} holds the pids using that address; stop some containers"),
    ))
}

/// A lease is stale when none of the pids in it is alive: its runtime and its
/// container were killed before they could remove it. An empty file is stale
/// too: its writer died between creating and writing it (both happen under
/// the lock). A pid the kernel has since given to another process keeps the
/// address taken until that one exits too: wasteful, never a duplicate.
pub(super) fn is_stale(path: &Path) -> bool {
    let text = fs::read_to_string(path).unwrap_or_default();
    let pids: Vec<u32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let stale = !pids.iter().any(|&pid| alive(pid));
    if stale && pids.is_empty() {
        narrate(&format!("lease {} is empty (its writer died): reusing it", path.display()));
    } else if stale {
        narrate(&format!("lease {} is stale (pids {pids:?} are gone): reusing it", path.display()));
    }
    stale
}

/// A zombie (state Z in /proc/PID/stat, see proc(5)) is dead for us: its
/// namespaces, and so its veth, went away when it exited; only its exit
/// status waits for its parent. kill(pid, 0) would still call it alive.
pub(super) fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "PID (COMM) STATE ...": COMM may hold spaces and ')', so split at the last ')'.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}
// ANCHOR_END: lease

impl Drop for Lease {
    fn drop(&mut self) {
        narrate(&format!("rm {}", self.path.display()));
        if let Err(err) = fs::remove_file(&self.path) {
            eprintln!("warning: removing lease {}: {}", self.path.display(), io_reason(&err));
        }
    }
}

pub(super) fn record_owner(lease: &Lease, pid: i32) -> anyhow::Result<()> {
    let _lock = lock()?;
    let mut file = OpenOptions::new()
        .append(true)
        .open(&lease.path)
        .map_err(|e| io_failed(e, format!("opening lease {}", lease.path.display())))?;
    narrate(&format!("lease {}: {} <- container pid {pid}", lease.addr, lease.path.display()));
    writeln!(file, "{pid}")
        .map_err(|e| io_failed(e, format!("writing lease {}", lease.path.display())))
}
