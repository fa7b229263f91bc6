#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn every_message_survives_the_pipe() {
    let eth = Go::Eth {
        peer: "eth0".into(),
        addr: Ipv4Addr::new(10, 201, 0, 7),
        prefix: 24,
        gateway: Ipv4Addr::new(10, 201, 0, 1),
    };
    assert_eq!(eth.encode(), "eth eth0 10.201.0.7 24 10.201.0.1\n");
    for go in [Go::Loopback, eth] {
        assert_eq!(Go::decode(&go.encode()).unwrap(), go);
    }
}

#[test]
fn a_malformed_line_is_an_error_not_loopback() {
    for line in [
        "",
        "\n",
        "eth eth0",
        "eth eth0 10.201.0.300 24 10.201.0.1",
        "eth eth0 10.0.0.2 33 10.0.0.1",
        "lo lo",
        "up",
    ] {
        assert!(Go::decode(line).is_err(), "{line:?} was accepted");
    }
}
