//! The host bridge, cfs0: created on first use, its address checked against
//! the host's own routes.

use super::*;

// ANCHOR: bridge
/// Create the bridge if it is missing, then (re)apply its address and bring it
/// up, so a learner's `ip link set cfs0 down` does not break the next run.
pub(super) fn ensure_bridge(nl: &mut Netlink) -> anyhow::Result<u32> {
    let index = match nl.link(BRIDGE)? {
        Some(link) if is_bridge(&link) => {
            narrate(&format!("bridge {BRIDGE} exists (index {})", link.header.index));
            link.header.index
        }
        Some(_) => {
            return Err(crate::report::hinted(
                anyhow!("{BRIDGE} exists but is not a bridge"),
                format!("it is not ours: remove it (`sudo ip link del {BRIDGE}`) or rename it"),
            ))
        }
        None => {
            narrate(&format!("no bridge {BRIDGE} yet: creating it"));
            check_range_is_free(nl)?;
            // ip link add cfs0 address 02:42:0a:c9:00:01 type bridge
            let mut msg = LinkMessage::default();
            msg.attributes = vec![
                LinkAttribute::IfName(BRIDGE.into()),
                LinkAttribute::Address(BRIDGE_MAC.to_vec()),
                LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
            ];
            let mac = BRIDGE_MAC.map(|b| format!("{b:02x}")).join(":");
            let what = format!("ip link add {BRIDGE} address {mac} type bridge");
            nl.call(&what, RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL).map_err(
                |e| e.explain(&what, "is the bridge driver there? `sudo modprobe bridge`"),
            )?;
            nl.index_of(BRIDGE)?
        }
    };
    // ip addr replace 10.201.0.1/24 dev cfs0
    nl.add_address(BRIDGE, index, GATEWAY, PREFIX, NLM_F_REPLACE)?;
    // ip link set cfs0 up
    nl.set_up(BRIDGE, index)?;
    Ok(index)
}
// ANCHOR_END: bridge

pub(super) fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.contains(&LinkInfo::Kind(InfoKind::Bridge)),
        _ => false,
    })
}

/// Refuse to create the bridge when a host route already covers part of our
/// range (a VPN, a LAN, another container tool): the host would no longer know
/// which interface those addresses are on. `ip route show table main`.
pub(super) fn check_range_is_free(nl: &mut Netlink) -> anyhow::Result<()> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    let replies = nl
        .call("ip -4 route show", RouteNetlinkMessage::GetRoute(msg), NLM_F_DUMP)
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

pub(super) fn same_network(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}
