#![allow(clippy::unwrap_used)]

use super::bridge::same_network;
use super::netlink::extended_ack;
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
