//! rtnetlink plumbing: one request, its answers, the kernel's ack or error
//! (see rtnetlink(7)); and the errors and hints the network setup reports.

use super::*;

pub(super) struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// A NETLINK_ROUTE socket in the caller's network namespace.
    pub(super) fn open() -> anyhow::Result<Self> {
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
    pub(super) fn call(
        &mut self,
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
        narrate(&format!("{what}  [netlink {kind}: {outcome}]"));
        result
    }

    pub(super) fn exchange(
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
    pub(super) fn link(&mut self, name: &str) -> anyhow::Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes = vec![LinkAttribute::IfName(name.into())];
        let what = format!("ip link show {name}");
        match self.exchange(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(answers) => Ok(answers.into_iter().find_map(|a| match a {
                RouteNetlinkMessage::NewLink(link) => Some(link),
                _ => None,
            })),
            Err(e) if e.errno == libc::ENODEV => Ok(None),
            Err(e) => Err(e.explain(&what, "")),
        }
    }

    pub(super) fn index_of(&mut self, name: &str) -> anyhow::Result<u32> {
        match self.link(name)? {
            Some(link) => Ok(link.header.index),
            None => Err(anyhow!("ip link show {name}: no such link in this network namespace")),
        }
    }

    pub(super) fn name_of(&mut self, index: u32) -> Option<String> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        let answers = self.exchange(RouteNetlinkMessage::GetLink(msg), 0).ok()?;
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
    pub(super) fn set_up(&mut self, name: &str, index: u32) -> anyhow::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        let what = format!("ip link set {name} up");
        self.call(&what, RouteNetlinkMessage::NewLink(msg), 0).map_err(|e| e.explain(&what, ""))?;
        Ok(())
    }

    /// ip addr add|replace ADDR/PREFIX dev NAME
    pub(super) fn add_address(
        &mut self,
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
        self.call(&what, RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | flags)
            .map_err(|e| e.explain(&what, ""))?;
        Ok(())
    }
}

pub(super) fn rtm_name(message: &RouteNetlinkMessage) -> &'static str {
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
pub(super) fn extended_ack(flags: u16, payload: &[u8]) -> Option<String> {
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
pub(super) struct NlError {
    pub(super) errno: i32,
    kernel_says: Option<String>,
}

impl NlError {
    pub(super) fn io(err: io::Error) -> Self {
        Self { errno: err.raw_os_error().unwrap_or(libc::EIO), kernel_says: None }
    }

    /// One line "ip …: why", with a hint where the learner can fix it.
    pub(super) fn explain(self, what: &str, unsupported_hint: &str) -> anyhow::Error {
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
pub(super) fn io_failed(err: io::Error, what: String) -> anyhow::Error {
    let denied = err.kind() == io::ErrorKind::PermissionDenied;
    let err = anyhow!("{what}: {}", io_reason(&err));
    if denied {
        root_hint(err)
    } else {
        err
    }
}

pub(super) fn root_hint(err: anyhow::Error) -> anyhow::Error {
    crate::report::hinted(err, "networking needs root (CAP_NET_ADMIN): run the runtime with sudo")
}

pub(super) fn narrate(what: &str) {
    crate::report::narrate(what);
}

pub(super) fn io_reason(err: &io::Error) -> String {
    err.raw_os_error().map_or_else(|| err.to_string(), |e| Errno::from_raw(e).desc().to_string())
}
