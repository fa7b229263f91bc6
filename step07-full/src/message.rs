//! What the runtime tells its child over the ready pipe once the child's
//! network is wired: one line, typed on both ends. A line that does not parse
//! is an error in the child, never a silent fallback to another network.

use std::net::Ipv4Addr;

use anyhow::Context;

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
