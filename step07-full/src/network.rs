//! The network namespace: `--net none` and `--net bridge`.
//!
//! A new network namespace (unshare(CLONE_NEWNET), see network_namespaces(7))
//! starts with one link, `lo`, and even that is down. `--net none` brings it
//! up and stops there. `--net bridge` (the default) wires the container to the
//! host the way Docker's default network does:
//!
//! ```text
//!   host netns                                  container netns
//!   cfs0 (bridge, 10.201.0.1/24) ── cfs<pid> ═══ veth pair ═══ eth0 (10.201.0.N/24,
//!                                                               default via 10.201.0.1)
//! ```
//!
//! * `cfs0` is a software switch owned by this project. It is created on first
//!   use and then stays, like `docker0`. To remove it: `sudo ip link del cfs0`
//!   (and `sudo rm -r /run/containers-from-scratch` for the lease files).
//! * Each container gets a veth pair, a virtual cable: the host end is plugged
//!   into the bridge, the other end is made right inside the container's
//!   namespace, as `eth0`. See veth(4).
//! * Addresses come from 10.201.0.0/24 (RFC 1918 private space), handed out
//!   under a lock as lease files, so concurrent containers never share one.
//!
//! Every step is one rtnetlink request (see rtnetlink(7)): the same messages
//! `ip` sends. The comments give the `ip` command for each.
//!
//! No NAT: a container reaches the host and the other containers on `cfs0`,
//! not the internet. Going further needs the host to route for it
//! (`sysctl net.ipv4.ip_forward=1`) and to masquerade its address
//! (`iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o cfs0 -j MASQUERADE`):
//! both change the host's firewall and routing for every program on it, which
//! a teaching runtime should not do behind the learner's back. Docker does.
//!
//! Bridge netfilter: when `br_netfilter` is loaded and
//! `net.bridge.bridge-nf-call-iptables = 1`, frames *between two containers*
//! on `cfs0` also pass the host's iptables FORWARD chain. If that chain's
//! policy is DROP (Docker sets it so), container-to-container traffic is
//! dropped; host-to-container traffic is not affected (it is not forwarded).
//! See https://docs.kernel.org/networking/bridge.html and `iptables -S FORWARD`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK, NLM_F_ACK_TLVS,
    NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sched::{setns, CloneFlags};
use nix::unistd::{close, fork, ForkResult};

/// The host bridge every `--net bridge` container is plugged into.
pub const BRIDGE: &str = "cfs0";
/// The containers' private range: 10.201.0.0/24. The bridge is .1, the
/// containers get .2 to .254 (.0 names the network, .255 is broadcast).
const SUBNET: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 0);
const PREFIX: u8 = 24;
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);
/// A fixed, locally administered MAC address for the bridge. Without one, the
/// kernel gives the bridge the lowest MAC of its ports, so it changes whenever
/// a container comes or goes, and the other containers' ARP entry for their
/// gateway goes stale (Docker sets one for the same reason).
const BRIDGE_MAC: [u8; 6] = [0x02, 0x42, 10, 201, 0, 1];
/// One file per leased address, named after it, holding its owners' pids.
const LEASE_DIR: &str = "/run/containers-from-scratch/leases";
/// flock(2)ed while a runtime picks an address or creates the bridge.
const LOCK_FILE: &str = "/run/containers-from-scratch/network.lock";

/// An allocated address. Dropping it removes the lease file.
pub struct Lease {
    addr: Ipv4Addr,
    path: PathBuf,
    verbose: bool,
}

/// The host end of a container's veth pair. Once dropped, the link is gone;
/// deleting one end of a veth pair deletes the other end too.
pub struct HostLink {
    index: u32,
    name: String,
    /// The container's first process: while it lives, so does its netns.
    pid: i32,
    verbose: bool,
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

impl HostLink {
    pub fn name(&self) -> &str {
        &self.name
    }
}

// ---------------------------------------------------------------------------
// Host side: runs in the host's network namespace.

/// Host side, before the container runs: make sure the bridge exists (create,
/// address, up), then allocate an address for the container.
pub fn allocate(verbose: bool) -> anyhow::Result<Lease> {
    // One runtime at a time: two could both see "no bridge" or the same free
    // address. The lock is released when `_lock` is dropped.
    let _lock = lock(verbose)?;
    let mut nl = Netlink::open()?;
    ensure_bridge(&mut nl, verbose)?;
    take_free_address(verbose)
}

// ANCHOR: bridge
/// Create the bridge if it is missing, then (re)apply its address and bring it
/// up, so a learner's `ip link set cfs0 down` does not break the next run.
fn ensure_bridge(nl: &mut Netlink, verbose: bool) -> anyhow::Result<u32> {
    let index = match nl.link(BRIDGE)? {
        Some(link) if is_bridge(&link) => {
            narrate(verbose, &format!("bridge {BRIDGE} exists (index {})", link.header.index));
            link.header.index
        }
        Some(_) => {
            return Err(crate::report::hinted(
                anyhow!("{BRIDGE} exists but is not a bridge"),
                format!("it is not ours: remove it (`sudo ip link del {BRIDGE}`) or rename it"),
            ))
        }
        None => {
            narrate(verbose, &format!("no bridge {BRIDGE} yet: creating it"));
            check_range_is_free(nl, verbose)?;
            // ip link add cfs0 address 02:42:0a:c9:00:01 type bridge
            let mut msg = LinkMessage::default();
            msg.attributes = vec![
                LinkAttribute::IfName(BRIDGE.into()),
                LinkAttribute::Address(BRIDGE_MAC.to_vec()),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ];
            let mac = BRIDGE_MAC.map(|b| format!("{b:02x}")).join(":");
            let what = format!("ip link add {BRIDGE} address {mac} type bridge");
            nl.call(
                verbose,
                &what,
                RouteNetlinkMessage::NewLink(msg),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|e| e.explain(&what, "is the bridge driver there? `sudo modprobe bridge`"))?;
            nl.index_of(BRIDGE)?
        }
    };
    // ip addr replace 10.201.0.1/24 dev cfs0
    nl.add_address(verbose, BRIDGE, index, GATEWAY, PREFIX, NLM_F_REPLACE)?;
    // ip link set cfs0 up
    nl.set_up(verbose, BRIDGE, index)?;
    Ok(index)
}
// ANCHOR_END: bridge

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.contains(&LinkInfo::Kind(InfoKind::Bridge)),
        _ => false,
    })
}

/// Refuse to create the bridge when a host route already covers part of our
/// range (a VPN, a LAN, another container tool): the host would no longer know
/// which interface those addresses are on. `ip route show table main`.
fn check_range_is_free(nl: &mut Netlink, verbose: bool) -> anyhow::Result<()> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    let replies = nl
        .call(verbose, "ip -4 route show", RouteNetlinkMessage::GetRoute(msg), NLM_F_DUMP)
        .map_err(|e| e.explain("ip -4 route show", ""))?;
    for reply in replies {
        let RouteNetlinkMessage::NewRoute(route) = reply else {
            continue;
        };
        let (mut dst, mut oif) = (Ipv4Addr::UNSPECIFIED, None);
        let mut table = u32::from(route.header.table);
        for attr in &route.attributes {
            match attr {
                RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = *a,
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::Table(t) => table = *t,
                _ => {}
            }
        }
        let len = route.header.destination_prefix_length;
        // The default route (length 0) covers everything and is no conflict.
        if table != u32::from(RouteHeader::RT_TABLE_MAIN) || len == 0 {
            continue;
        }
        if same_network(dst, SUBNET, len.min(PREFIX)) {
            let dev = match oif {
                Some(i) => format!(" dev {}", nl.name_of(i).unwrap_or(i.to_string())),
                None => String::new(),
            };
            return Err(crate::report::hinted(
                anyhow!(
                    "cannot create bridge {BRIDGE} for {SUBNET}/{PREFIX}: \
                     it overlaps the host route {dst}/{len}{dev}"
                ),
                "this host already uses that range (see `ip route`); pick a free private \
                 range for SUBNET and GATEWAY in step07-full/src/network.rs, or use --net none",
            ));
        }
    }
    Ok(())
}

fn same_network(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

fn lock(verbose: bool) -> anyhow::Result<Flock<File>> {
    fs::create_dir_all(LEASE_DIR).map_err(|e| io_failed(e, format!("mkdir -p {LEASE_DIR}")))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .map_err(|e| io_failed(e, format!("opening {LOCK_FILE}")))?;
    narrate(verbose, &format!("flock({LOCK_FILE}, LOCK_EX)"));
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow!("flock({LOCK_FILE}): {}", errno.desc()))
}

// ANCHOR: lease
/// The first address of the range that has no live lease. O_EXCL makes the
/// creation of a lease file atomic; the lock makes "is it stale? then take it"
/// atomic too.
fn take_free_address(verbose: bool) -> anyhow::Result<Lease> {
    for host in 2..=254u32 {
        let addr = Ipv4Addr::from(u32::from(SUBNET) | host);
        let path = Path::new(LEASE_DIR).join(addr.to_string());
        if path.exists() && !is_stale(&path, verbose) {
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
        narrate(
            verbose,
            &format!("lease {addr}: {} <- our pid {}", path.display(), std::process::id()),
        );
        return Ok(Lease { addr, path, verbose });
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
fn is_stale(path: &Path, verbose: bool) -> bool {
    let text = fs::read_to_string(path).unwrap_or_default();
    let pids: Vec<u32> = text.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    let stale = !pids.iter().any(|&pid| alive(pid));
    if stale && pids.is_empty() {
        narrate(
            verbose,
            &format!("lease {} is empty (its writer died): reusing it", path.display()),
        );
    } else if stale {
        narrate(
            verbose,
            &format!("lease {} is stale (pids {pids:?} are gone): reusing it", path.display()),
        );
    }
    stale
}

/// A zombie (state Z in /proc/PID/stat, see proc(5)) is dead for us: its
/// namespaces, and so its veth, went away when it exited; only its exit
/// status waits for its parent. kill(pid, 0) would still call it alive.
fn alive(pid: u32) -> bool {
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
        narrate(self.verbose, &format!("rm {}", self.path.display()));
        if let Err(err) = fs::remove_file(&self.path) {
            eprintln!("warning: removing lease {}: {}", self.path.display(), io_reason(&err));
        }
    }
}

/// Host side, once the container's process `pid` exists in its new network
/// namespace: create a veth pair, its host end plugged into the bridge and up,
/// its other end inside the namespace of `pid`. Returns the host end (gone
/// once dropped) and the name of the other end as seen inside.
pub fn connect(lease: &Lease, pid: i32, verbose: bool) -> anyhow::Result<(HostLink, String)> {
    check_own_netns(pid)?;
    // The address is in use for as long as the container lives, even if the
    // runtime is killed first: record the container as an owner of the lease.
    record_owner(lease, pid, verbose)?;
    let mut nl = Netlink::open()?;
    // Host names are unique because pids are, and short: at most
    // "cfs4194304", under the kernel's 15-byte limit (IFNAMSIZ). The other
    // end is alone in its namespace: it can be eth0 from the start.
    let (host, peer) = (format!("cfs{pid}"), "eth0".to_string());
    let bridge = nl.index_of(BRIDGE)?;
    let link = create_veth(&mut nl, &host, bridge, &peer, pid, verbose)?;
    Ok((link, peer))
}

/// Moving the veth into our own namespace would leave it on the host, and the
/// container would then configure the host's links: refuse. Two processes
/// are in the same network namespace when /proc/PID/ns/net is the same inode.
fn check_own_netns(pid: i32) -> anyhow::Result<()> {
    let inode =
        |p: &str| fs::metadata(p).map(|m| m.ino()).map_err(|e| io_failed(e, format!("stat {p}")));
    if inode(&format!("/proc/{pid}/ns/net"))? == inode("/proc/self/ns/net")? {
        return Err(anyhow!(
            "process {pid} is still in the host's network namespace: unshare(CLONE_NEWNET) first"
        ));
    }
    Ok(())
}

fn record_owner(lease: &Lease, pid: i32, verbose: bool) -> anyhow::Result<()> {
    let _lock = lock(verbose)?;
    let mut file = OpenOptions::new()
        .append(true)
        .open(&lease.path)
        .map_err(|e| io_failed(e, format!("opening lease {}", lease.path.display())))?;
    narrate(
        verbose,
        &format!("lease {}: {} <- container pid {pid}", lease.addr, lease.path.display()),
    );
    writeln!(file, "{pid}")
        .map_err(|e| io_failed(e, format!("writing lease {}", lease.path.display())))
}

// ANCHOR: veth
/// ip link add cfs<pid> master cfs0 up type veth peer name eth0 netns <pid>
///
/// One request makes the pair, plugs the host end into the bridge
/// (IFLA_MASTER), brings it up, and makes the other end in the container's
/// namespace.
fn create_veth(
    nl: &mut Netlink,
    host: &str,
    bridge: u32,
    peer: &str,
    pid: i32,
    verbose: bool,
) -> anyhow::Result<HostLink> {
    // ANCHOR: move
    // IFLA_NET_NS_PID names the peer's namespace by a process inside it, and
    // the kernel makes the peer right there. Making it on the host and moving
    // it afterwards (`ip link set cfs<pid>c netns <pid>`) costs 20 ms more:
    // before a link leaves a namespace, the kernel waits until every pending
    // RCU callback has run (rcu_barrier() in __dev_change_net_namespace).
    let mut peer_msg = LinkMessage::default();
    peer_msg.attributes =
        vec![LinkAttribute::IfName(peer.into()), LinkAttribute::NetNsPid(pid.unsigned_abs())];
    // ANCHOR_END: move
    let mut msg = LinkMessage::default();
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg.attributes = vec![
        LinkAttribute::IfName(host.into()),
        LinkAttribute::Controller(bridge),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]),
    ];
    let what =
        format!("ip link add {host} master {BRIDGE} up type veth peer name {peer} netns {pid}");
    nl.call(verbose, &what, RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
        .map_err(|e| e.explain(&what, "is the veth driver there? `sudo modprobe veth`"))?;
    // From here on the pair exists: whatever fails next, dropping `HostLink`
    // removes it.
    let index = nl.index_of(host)?;
    Ok(HostLink { index, name: host.into(), pid, verbose })
}
// ANCHOR_END: veth

// ANCHOR: teardown
impl Drop for HostLink {
    /// ip link del cfs<pid>
    ///
    /// That request takes long: 15 to 40 ms, more than all the rest of a
    /// container's life. The kernel makes sure no CPU still uses the link
    /// (synchronize_net(), quick), removes it (from here on, `ip link` and
    /// /sys/class/net no longer show it), then waits until every pending RCU
    /// callback has run (rcu_barrier() in netdev_run_todo) before it frees the
    /// link's memory, and only then answers. Nothing of ours needs that wait. So once the container has
    /// exited, a forked helper process sends the request and does the waiting,
    /// and the runtime waits only until the link is gone. While the container
    /// still lives (its setup failed), the runtime deletes the link itself.
    fn drop(&mut self) {
        if !alive(self.pid.unsigned_abs()) && own_pid_namespace_for_children() {
            // SAFETY: the runtime is single-threaded, so the copy fork(2)
            // makes of it is sound; the helper only sends one request, then
            // _exit(2)s without running the runtime's destructors.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    // Whoever reads our output until it ends (a pipe,
                    // `$(…)`, a test) must not wait for the helper too.
                    for fd in 0..=2 {
                        let _ = close(fd);
                    }
                    let _ = self.delete();
                    // SAFETY: ends this process, and only this one.
                    unsafe { libc::_exit(0) }
                }
                Ok(ForkResult::Parent { child }) => {
                    narrate(
                        self.verbose,
                        &format!("ip link del {}  [in helper {child}]", self.name),
                    );
                    if self.vanishes_within(Duration::from_secs(2)) {
                        return narrate(self.verbose, &format!("{}: gone", self.name));
                    }
                    // The helper failed: try ourselves, and say why.
                }
                Err(_) => {} // no helper: delete it ourselves
            }
        }
        let what = format!("ip link del {}", self.name);
        match self.delete() {
            Ok(()) => narrate(self.verbose, &format!("{what}  [netlink RTM_DELLINK: ok]")),
            // When the container's namespace is destroyed, the kernel deletes
            // the veth end inside it, and with it this end: nothing left to do.
            Err(err) if err.downcast_ref::<NlError>().is_some_and(|e| e.errno == libc::ENODEV) => {
                narrate(
                    self.verbose,
                    &format!("{}: already gone with the container's netns", self.name),
                )
            }
            Err(err) => eprintln!("warning: {what}: {err:#}"),
        }
    }
}

/// run() made the runtime's next children members of the container's PID
/// namespace (unshare(CLONE_NEWPID)), which died with the container: a
/// fork(2) there fails with ENOMEM. Make them members of ours again.
fn own_pid_namespace_for_children() -> bool {
    File::open("/proc/self/ns/pid").is_ok_and(|ns| setns(ns, CloneFlags::CLONE_NEWPID).is_ok())
}

impl HostLink {
    /// ip link del cfs<pid>, by index: the name may belong to another link
    /// by now.
    fn delete(&self) -> anyhow::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = self.index;
        Netlink::open()?.exchange(RouteNetlinkMessage::DelLink(msg), 0)?;
        Ok(())
    }

    /// Wait until /sys/class/net/cfs<pid> is gone, or is another link
    /// (another ifindex) already: true, or still ours at `timeout`: false.
    fn vanishes_within(&self, timeout: Duration) -> bool {
        let dir = Path::new("/sys/class/net").join(&self.name);
        let deadline = Instant::now() + timeout;
        loop {
            // While the kernel removes the link, reading its attributes fails
            // (EINVAL) before its directory goes: that is still ours.
            let ours = dir.symlink_metadata().is_ok()
                && fs::read_to_string(dir.join("ifindex"))
                    .map_or(true, |text| text.trim().parse() == Ok(self.index));
            if !ours {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }
}
// ANCHOR_END: teardown

// ---------------------------------------------------------------------------
// Container side: runs inside the new network namespace.

/// Container side for `--net none`: only `lo`, up.
pub fn loopback_up(verbose: bool) -> anyhow::Result<()> {
    let mut nl = Netlink::open()?;
    // ip link set lo up
    let index = nl.index_of("lo")?;
    nl.set_up(verbose, "lo", index)
}

// ANCHOR: configure
/// Container side, inside the new namespace: `lo` up; give the veth end
/// (eth0) its address, bring it up, route everything via the bridge.
pub fn configure_container(
    peer: &str,
    addr: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
    verbose: bool,
) -> anyhow::Result<()> {
    loopback_up(verbose)?;
    let mut nl = Netlink::open()?;
    let index = nl.index_of(peer)?;
    // ip addr add 10.201.0.N/24 dev eth0
    nl.add_address(verbose, peer, index, addr, prefix, NLM_F_EXCL)?;
    // ip link set eth0 up (before the route: a gateway must be reachable)
    nl.set_up(verbose, peer, index)?;
    // ip route add default via 10.201.0.1 dev eth0
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.scope = RouteScope::Universe;
    msg.header.kind = RouteType::Unicast;
    msg.attributes =
        vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway)), RouteAttribute::Oif(index)];
    let what = format!("ip route add default via {gateway} dev eth0");
    nl.call(verbose, &what, RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_EXCL)
        .map_err(|e| e.explain(&what, ""))?;
    Ok(())
}
// ANCHOR_END: configure

// ---------------------------------------------------------------------------
// rtnetlink plumbing: one request, its answers, the kernel's ack or error.

struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// A NETLINK_ROUTE socket in the caller's network namespace.
    fn open() -> anyhow::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)
            .map_err(|e| io_failed(e, "socket(AF_NETLINK, NETLINK_ROUTE)".into()))?;
        socket.bind_auto().map_err(|e| io_failed(e, "bind(netlink socket)".into()))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| io_failed(e, "connect(netlink socket)".into()))?;
        // Ask the kernel for a text reason with each error ("extended ack"),
        // and not to echo our whole request back with it.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        // Room for the kernel's answers, not zeroed: recv writes into the
        // spare capacity, and zeroing 64 KiB first would touch 16 pages for
        // nothing (a page fault each; they add up, see `What does isolation cost?`).
        Ok(Self { socket, seq: 0, buf: Vec::with_capacity(64 * 1024) })
    }

    /// Send `message`, narrate it as `what` (the `ip` command that does the
    /// same), and collect the answers until the kernel's ack, DONE or error.
    fn call(
        &mut self,
        verbose: bool,
        what: &str,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let kind = rtm_name(&message);
        let result = self.exchange(message, flags);
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        narrate(verbose, &format!("{what}  [netlink {kind}: {outcome}]"));
        result
    }

    fn exchange(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.seq += 1;
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(message));
        packet.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        packet.header.sequence_number = self.seq;
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0).map_err(NlError::io)?;
        let mut answers = Vec::new();
        loop {
            self.buf.clear();
            let len = loop {
                match self.socket.recv(&mut self.buf, 0) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other.map_err(NlError::io)?.min(self.buf.len()),
                }
            };
            let mut offset = 0;
            while offset < len {
                let reply =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[offset..len])
                        .map_err(|e| NlError {
                            errno: libc::EBADMSG,
                            kernel_says: Some(e.to_string()),
                        })?;
                let size = reply.header.length as usize;
                offset += size.max(16).next_multiple_of(4);
                if reply.header.sequence_number != self.seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(answers), // the ack
                        Some(code) => {
                            return Err(NlError {
                                errno: code.get().abs(),
                                kernel_says: extended_ack(reply.header.flags, &e.header),
                            })
                        }
                    },
                    _ => {}
                }
            }
        }
    }

    /// ip link show NAME: the link, or None when there is no such link.
    /// Lookups only read, so they are not narrated.
    fn link(&mut self, name: &str) -> anyhow::Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes = vec![LinkAttribute::IfName(name.into())];
        let what = format!("ip link show {name}");
        match self.call(false, &what, RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(answers) => Ok(answers.into_iter().find_map(|a| match a {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })),
            Err(e) if e.errno == libc::ENODEV => Ok(None),
            Err(e) => Err(e.explain(&what, "")),
        }
    }

    fn index_of(&mut self, name: &str) -> anyhow::Result<u32> {
        match self.link(name)? {
            Some(link) => Ok(link.header.index),
            None => Err(anyhow!("ip link show {name}: no such link in this network namespace")),
        }
    }

    fn name_of(&mut self, index: u32) -> Option<String> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let what = format!("ip link show index {index}");
        let answers = self.call(false, &what, RouteNetlinkMessage::GetLink(msg), 0).ok()?;
        answers.into_iter().find_map(|a| match a {
            RouteNetlinkMessage::NewLink(link) => {
                link.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                })
            }
            _ => None,
        })
    }

    /// ip link set NAME up
    fn set_up(&mut self, verbose: bool, name: &str, index: u32) -> anyhow::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        let what = format!("ip link set {name} up");
        self.call(verbose, &what, RouteNetlinkMessage::NewLink(msg), 0)
            .map_err(|e| e.explain(&what, ""))?;
        Ok(())
    }

    /// ip addr add|replace ADDR/PREFIX dev NAME
    fn add_address(
        &mut self,
        verbose: bool,
        name: &str,
        index: u32,
        addr: Ipv4Addr,
        prefix: u8,
        flags: u16,
    ) -> anyhow::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        // IFA_LOCAL is the interface's address; IFA_ADDRESS the other end's
        // on point-to-point links, the same on broadcast ones (rtnetlink(7)).
        msg.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(addr)),
            AddressAttribute::Address(IpAddr::V4(addr)),
        ];
        let verb = if flags & NLM_F_REPLACE != 0 { "replace" } else { "add" };
        let what = format!("ip addr {verb} {addr}/{prefix} dev {name}");
        self.call(verbose, &what, RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | flags)
            .map_err(|e| e.explain(&what, ""))?;
        Ok(())
    }
}

fn rtm_name(message: &RouteNetlinkMessage) -> &'static str {
    match message {
        RouteNetlinkMessage::NewLink(_) => "RTM_NEWLINK",
        RouteNetlinkMessage::DelLink(_) => "RTM_DELLINK",
        RouteNetlinkMessage::GetLink(_) => "RTM_GETLINK",
        RouteNetlinkMessage::NewAddress(_) => "RTM_NEWADDR",
        RouteNetlinkMessage::NewRoute(_) => "RTM_NEWROUTE",
        RouteNetlinkMessage::GetRoute(_) => "RTM_GETROUTE",
        _ => "request",
    }
}

/// The kernel's text reason, when it sent one (NLMSGERR_ATTR_MSG, see
/// https://docs.kernel.org/userspace-api/netlink/intro.html#ext-ack): after
/// the error code come our request's header (or whole request, when not
/// NLM_F_CAPPED), then attributes.
fn extended_ack(flags: u16, payload: &[u8]) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize
    };
    NlasIterator::new(payload.get(request_len.next_multiple_of(4)..)?)
        .filter_map(Result::ok)
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| String::from_utf8_lossy(nla.value()).trim_end_matches('\0').to_string())
}

/// A failed netlink request: the errno, and the kernel's reason when it gave one.
#[derive(Debug)]
struct NlError {
    errno: i32,
    kernel_says: Option<String>,
}

impl NlError {
    fn io(err: io::Error) -> Self {
        Self { errno: err.raw_os_error().unwrap_or(libc::EIO), kernel_says: None }
    }

    /// One line "ip …: why", with a hint where the learner can fix it.
    fn explain(self, what: &str, unsupported_hint: &str) -> anyhow::Error {
        let errno = self.errno;
        let err = anyhow::Error::new(self).context(what.to_string());
        match errno {
            libc::EPERM | libc::EACCES => root_hint(err),
            libc::EOPNOTSUPP if !unsupported_hint.is_empty() => {
                crate::report::hinted(err, unsupported_hint)
            }
            _ => err,
        }
    }
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Errno::from_raw(self.errno).desc())?;
        match &self.kernel_says {
            Some(text) if !text.is_empty() => write!(f, " (kernel: {text})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for NlError {}

/// A failed file operation; "permission denied" gets the root hint.
fn io_failed(err: io::Error, what: String) -> anyhow::Error {
    let denied = err.kind() == io::ErrorKind::PermissionDenied;
    let err = anyhow!("{what}: {}", io_reason(&err));
    if denied {
        root_hint(err)
    } else {
        err
    }
}

fn root_hint(err: anyhow::Error) -> anyhow::Error {
    crate::report::hinted(err, "networking needs root (CAP_NET_ADMIN): run the runtime with sudo")
}

fn narrate(verbose: bool, what: &str) {
    crate::report::narrate(verbose, what);
}

fn io_reason(err: &io::Error) -> String {
    err.raw_os_error().map_or_else(|| err.to_string(), |e| Errno::from_raw(e).desc().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_by_the_shorter_prefix() {
        let net = |s: &str| s.parse::<Ipv4Addr>().unwrap_or(Ipv4Addr::UNSPECIFIED);
        assert!(same_network(net("10.0.0.0"), SUBNET, 8)); // 10.0.0.0/8 covers us
        assert!(same_network(net("10.201.0.128"), SUBNET, 24)); // a /25 inside us
        assert!(!same_network(net("10.202.0.0"), SUBNET, 16));
        assert!(!same_network(net("192.168.1.0"), SUBNET, 24));
        assert!(same_network(net("1.2.3.4"), SUBNET, 0));
    }

    #[test]
    fn link_names_fit_ifnamsiz() {
        let max_pid = 4_194_304; // PID_MAX_LIMIT on 64-bit
        assert!(format!("cfs{max_pid}").len() <= 15);
    }

    #[test]
    fn extended_ack_reads_the_kernel_message() {
        // A capped error payload: the request's 16-byte header, then one
        // NLMSGERR_ATTR_MSG attribute "Unknown device type\0" (padded).
        let mut payload = vec![0u8; 16];
        let text = b"Unknown device type\0";
        let len = (4 + text.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(text);
        payload.resize(payload.len().next_multiple_of(4), 0);
        let flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
        assert_eq!(extended_ack(flags, &payload).as_deref(), Some("Unknown device type"));
        assert_eq!(extended_ack(0, &payload), None);
    }
}
