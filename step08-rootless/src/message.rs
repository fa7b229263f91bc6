//! What the runtime and its child say to each other, typed on both ends:
//! - `ChildArgs`, the child's command line: what it needs to set up the
//!   container (the runtime's own options, the limits and `--net`, stay out);
//! - `Go`, one line over the ready pipe once the child's network is wired. A
//!   line that does not parse is an error in the child, never a silent
//!   fallback to another network.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use anyhow::Context;

use crate::report::narrate;
use crate::security::seccomp::Profile;
use crate::security::Hardening;

/// The hidden `child` command's arguments. `rootfs` and `ready_fd` are
/// optional only so that `child` started by hand is refused with a clear
/// message (`refuse_outside_run`) before anything else is checked.
#[derive(clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    pub hostname: String,
    #[arg(long)]
    pub rootfs: Option<PathBuf>,
    /// The pipe the child waits on until the runtime says go.
    #[arg(long)]
    pub ready_fd: Option<RawFd>,
    /// A cgroup directory the child moves itself into.
    #[arg(long)]
    pub cgroup: Vec<PathBuf>,
    /// KEY=VALUE to set, or KEY to remove.
    #[arg(long)]
    pub env: Vec<String>,
    #[command(flatten)]
    pub hardening: Hardening,
    #[arg(long)]
    pub verbose: bool,
    #[arg(required = true, trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

impl ChildArgs {
    /// The arguments the runtime starts `child` with.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = vec![option("hostname", &self.hostname)];
        out.extend(self.rootfs.iter().map(|dir| option("rootfs", dir)));
        out.extend(self.ready_fd.iter().map(|fd| option("ready-fd", fd.to_string())));
        out.push(option("preserve-fds", self.hardening.preserve_fds.to_string()));
        if self.hardening.seccomp == Profile::Unconfined {
            out.push(option("seccomp", "unconfined"));
        }
        for dir in &self.cgroup {
            out.push(option("cgroup", dir));
        }
        for env in &self.env {
            // `-e KEY` copies our value: resolved here, since the child
            // starts with an empty environment (see `spawn_child`). A KEY we
            // do not have goes on as it is, and the child removes it.
            match std::env::var(env) {
                Ok(value) if !env.contains('=') => {
                    out.push(option("env", format!("{env}={value}")))
                }
                _ => out.push(option("env", env)),
            }
        }
        if self.verbose {
            out.push("--verbose".into());
        }
        out.push("--".into());
        out.extend(self.command.iter().cloned());
        out
    }
}

/// One argument `--NAME=VALUE` for the re-executed `child`. As two arguments,
/// clap would read a value that starts with `-` (`--hostname=-x`, `-e K=--v`)
/// as an option of its own.
fn option(name: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut arg = OsString::from(format!("--{name}="));
    arg.push(value);
    arg
}

/// The runtime's side: write the go line, and close the pipe.
pub fn send_go(pipe: OwnedFd, go: &Go) -> anyhow::Result<()> {
    let line = go.encode();
    narrate(&format!("write(ready pipe, {line:?}): go on"));
    nix::unistd::write(&pipe, line.as_bytes()).context("telling the child to go on")?;
    Ok(())
}

/// The child's side: block until the runtime writes its go line. End of file
/// instead means the runtime failed and already said why: exit quietly.
pub fn wait_for_go(fd: RawFd) -> anyhow::Result<Go> {
    // SAFETY: the runtime passed us this fd, open across exec, for this only.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut line = String::new();
    if !matches!(pipe.read_to_string(&mut line), Ok(n) if n > 0) {
        std::process::exit(125);
    }
    Go::decode(&line).context("the runtime's go line")
}

/// The go line: how the child configures its network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Go {
    /// `--net none`: only the loopback interface. On the wire: `lo`.
    Loopback,
    /// `--net bridge`: the container end of the veth pair is `peer` (eth0),
    /// with this address and a default route through `gateway`. On the wire:
    /// `eth PEER ADDR PREFIX GATEWAY`.
    Eth { peer: String, addr: Ipv4Addr, prefix: u8, gateway: Ipv4Addr },
}

impl Go {
    /// The line the runtime writes, newline included.
    pub fn encode(&self) -> String {
        match self {
            Go::Loopback => "lo\n".to_string(),
            Go::Eth { peer, addr, prefix, gateway } => {
                format!("eth {peer} {addr} {prefix} {gateway}\n")
            }
        }
    }

    /// The line the child read.
    pub fn decode(line: &str) -> anyhow::Result<Go> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let go = match words[..] {
            ["lo"] => Go::Loopback,
            ["eth", peer, addr, prefix, gateway] => Go::Eth {
                peer: peer.to_string(),
                addr: addr.parse().with_context(|| format!("address {addr:?}"))?,
                prefix: prefix
                    .parse()
                    .ok()
                    .filter(|p| *p <= 32)
                    .with_context(|| format!("prefix {prefix:?}"))?,
                gateway: gateway.parse().with_context(|| format!("gateway {gateway:?}"))?,
            },
            _ => anyhow::bail!("expected `lo` or `eth PEER ADDR PREFIX GATEWAY`"),
        };
        Ok(go)
    }
}

#[cfg(test)]
mod tests;
