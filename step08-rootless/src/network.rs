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
//! With `br_netfilter` loaded, frames between two containers also pass the
//! host's iptables FORWARD chain, which may drop them: the network chapter's
//! "What can go wrong" says how to tell (`iptables -S FORWARD`).
//!
//! By concern: `bridge.rs` makes the host bridge, `lease.rs` hands out the
//! addresses, `netlink.rs` sends the rtnetlink requests and explains their
//! errors; this file wires one container's veth pair and removes its link.

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
use nix::unistd::{close, fork, ForkResult};

mod bridge;
mod lease;
mod netlink;

use bridge::ensure_bridge;
pub use lease::Lease;
use lease::{alive, lock, record_owner, take_free_address};
use netlink::{io_failed, io_reason, narrate, Netlink, NlError};

/// `--net`: the container's network.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Net {
    /// Only a loopback interface.
    None,
    /// A veth pair to the project's bridge, with an address and a default route.
    Bridge,
}

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

/// The host end of a container's veth pair. Once dropped, the link is gone;
/// deleting one end of a veth pair deletes the other end too.
pub struct HostLink {
    index: u32,
    name: String,
    /// The container's first process: while it lives, so does its netns.
    pid: i32,
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
pub fn allocate() -> anyhow::Result<Lease> {
    // One runtime at a time: two could both see "no bridge" or the same free
    // address. The lock is released when `_lock` is dropped.
    let _lock = lock()?;
    let mut nl = Netlink::open()?;
    ensure_bridge(&mut nl)?;
    take_free_address()
}

/// Host side, once the container's process `pid` exists in its new network
/// namespace: create a veth pair, its host end plugged into the bridge and up,
/// its other end inside the namespace of `pid`. Returns the host end (gone
/// once dropped) and the name of the other end as seen inside.
pub fn connect(lease: &Lease, pid: i32) -> anyhow::Result<(HostLink, String)> {
    check_own_netns(pid)?;
    // The address is in use for as long as the container lives, even if the
    // runtime is killed first: record the container as an owner of the lease.
    record_owner(lease, pid)?;
    let mut nl = Netlink::open()?;
    // Host names are unique because pids are, and short: at most
    // "cfs4194304", under the kernel's 15-byte limit (IFNAMSIZ). The other
    // end is alone in its namespace: it can be eth0 from the start.
    let (host, peer) = (format!("cfs{pid}"), "eth0".to_string());
    let bridge = nl.index_of(BRIDGE)?;
    let link = create_veth(&mut nl, &host, bridge, &peer, pid)?;
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
) -> anyhow::Result<HostLink> {
    // ANCHOR: move
    // IFLA_NET_NS_PID names the peer's namespace by a process inside it, and
    // the kernel makes the peer right there. Making it on the host and moving
    // it afterwards (`ip link set cfs<pid>c netns <pid>`) costs 20 ms more:
    // before a link leaves a namespace, the kernel waits until every pending
    // RCU callback has run (rcu_barrier() in __dev_change_net_namespace).
    // Measured: 80 ms became 36 ms back to back (the cost chapter, fix 2).
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
    nl.call(&what, RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
        .map_err(|e| e.explain(&what, "is the veth driver there? `sudo modprobe veth`"))?;
    // From here on the pair exists: whatever fails next, dropping `HostLink`
    // removes it.
    let index = nl.index_of(host)?;
    Ok(HostLink { index, name: host.into(), pid })
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
    /// link's memory, and only then answers. Nothing of ours needs that wait.
    /// So once the container has exited, a forked helper process sends the
    /// request and does the waiting, and the runtime waits only until the link
    /// is gone: 36 ms became 6 ms back to back (the cost chapter, fix 3). While
    /// the container still lives (its setup failed), the runtime deletes the
    /// link itself.
    fn drop(&mut self) {
        if !alive(self.pid.unsigned_abs()) {
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
                    narrate(&format!("ip link del {}  [in helper {child}]", self.name));
                    if self.vanishes_within(Duration::from_secs(2)) {
                        return narrate(&format!("{}: gone", self.name));
                    }
                    // The helper failed: try ourselves, and say why.
                }
                Err(_) => {} // no helper: delete it ourselves
            }
        }
        let what = format!("ip link del {}", self.name);
        match self.delete() {
            Ok(()) => narrate(&format!("{what}  [netlink RTM_DELLINK: ok]")),
            // When the container's namespace is destroyed, the kernel deletes
            // the veth end inside it, and with it this end: nothing left to do.
            Err(err) if err.downcast_ref::<NlError>().is_some_and(|e| e.errno == libc::ENODEV) => {
                narrate(&format!("{}: already gone with the container's netns", self.name))
            }
            Err(err) => eprintln!("warning: {what}: {err:#}"),
        }
    }
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
pub fn loopback_up() -> anyhow::Result<()> {
    let mut nl = Netlink::open()?;
    // ip link set lo up
    let index = nl.index_of("lo")?;
    nl.set_up("lo", index)
}

// ANCHOR: configure
/// Container side, inside the new namespace: `lo` up; give the veth end
/// (eth0) its address, bring it up, route everything via the bridge.
pub fn configure_container(
    peer: &str,
    addr: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> anyhow::Result<()> {
    loopback_up()?;
    let mut nl = Netlink::open()?;
    let index = nl.index_of(peer)?;
    // ip addr add 10.201.0.N/24 dev eth0
    nl.add_address(peer, index, addr, prefix, NLM_F_EXCL)?;
    // ip link set eth0 up (before the route: a gateway must be reachable)
    nl.set_up(peer, index)?;
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
    nl.call(&what, RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_EXCL)
        .map_err(|e| e.explain(&what, ""))?;
    Ok(())
}
// ANCHOR_END: configure

#[cfg(test)]
mod tests;
