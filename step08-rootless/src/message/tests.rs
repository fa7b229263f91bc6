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

/// The child's command line parses back into the arguments the runtime
/// meant, values that look like options included.
#[test]
fn child_args_survive_the_command_line() {
    use clap::Parser;
    #[derive(Parser)]
    struct Child {
        #[command(flatten)]
        args: ChildArgs,
    }
    let sent = ChildArgs {
        hostname: "-x".into(),
        rootfs: Some("/tmp/root fs".into()),
        ready_fd: Some(5),
        cgroup: vec!["/sys/fs/cgroup/a".into(), "/sys/fs/cgroup/b".into()],
        env: vec!["A=--b".into(), "CFS_SURELY_NOT_SET_42".into()],
        hardening: Hardening { preserve_fds: 2, seccomp: Profile::Unconfined },
        verbose: true,
        command: vec!["sh".into(), "-c".into(), "echo --verbose".into()],
    };
    let mut argv: Vec<OsString> = vec!["child".into()];
    argv.extend(sent.to_args());
    let got = Child::try_parse_from(argv).unwrap().args;
    assert_eq!(got.hostname, sent.hostname);
    assert_eq!(got.rootfs, sent.rootfs);
    assert_eq!(got.ready_fd, sent.ready_fd);
    assert_eq!(got.cgroup, sent.cgroup);
    assert_eq!(got.env, sent.env);
    assert_eq!(got.hardening.preserve_fds, 2);
    assert!(got.hardening.seccomp == Profile::Unconfined);
    assert!(got.verbose);
    assert_eq!(got.command, sent.command);
}
