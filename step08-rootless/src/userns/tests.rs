#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::mapping::sub_range;
use super::*;

const SUBUID: &str = "alice:100000:65536\n1001:200000:65536\nbob:300000:1000\n";

#[test]
fn sub_range_by_name_or_number() {
    assert_eq!(sub_range(SUBUID, Some("alice"), 1000), Some(100000));
    // A line may name the user by number.
    assert_eq!(sub_range(SUBUID, Some("carol"), 1001), Some(200000));
    assert_eq!(sub_range(SUBUID, None, 1001), Some(200000));
}

#[test]
fn sub_range_refuses_short_or_missing_ranges() {
    // bob has fewer than 65535 ids.
    assert_eq!(sub_range(SUBUID, Some("bob"), 1002), None);
    assert_eq!(sub_range(SUBUID, Some("dave"), 1003), None);
    assert_eq!(sub_range("garbage\nalice:x:65536\n", Some("alice"), 1000), None);
    assert_eq!(sub_range("", Some("alice"), 1000), None);
}

#[test]
fn map_lines() {
    assert_eq!(Mapping::RootToRoot.lines(), ("0 0 4294967295".into(), "0 0 4294967295".into()));
    let caller = Mapping::Caller { uid: 1000, gid: 100 };
    assert_eq!(caller.lines(), ("0 1000 1".into(), "0 100 1".into()));
    let sub = Mapping::Subordinate { uid: 1000, gid: 100, subuid: 100000, subgid: 200000 };
    assert_eq!(sub.lines(), ("0 1000 1\n1 100000 65535".into(), "0 100 1\n1 200000 65535".into()));
}

#[test]
fn which_host_ids_are_someone_inside() {
    let caller = Mapping::Caller { uid: 1000, gid: 100 };
    assert!(caller.maps(1000) && !caller.maps(0) && !caller.maps(1001));
    let sub = Mapping::Subordinate { uid: 1000, gid: 100, subuid: 100000, subgid: 200000 };
    assert!(sub.maps(1000) && sub.maps(100000) && sub.maps(165534));
    assert!(!sub.maps(165535) && !sub.maps(0));
    assert!(Mapping::RootToRoot.maps(0) && Mapping::RootToRoot.maps(1000));
}

#[test]
fn exec_refuses_a_nul_byte() {
    assert!(Exec::new(&["child".into()], &["TERM=x".into()]).is_ok());
    assert!(Exec::new(&["a\0b".into()], &[]).is_err());
}
