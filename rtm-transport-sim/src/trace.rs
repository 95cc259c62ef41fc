//! The run's trace: a running hash over everything that crossed a node boundary (the
//! determinism fingerprint), and the last few hundred records for a failure report.
//!
//! Records are kept structured and only formatted when a report is printed, so tracing costs
//! a clone of a refcounted frame per step, not a `format!`.

use rtm_proto::ChannelEvent;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};

use bytes::Bytes;
use rtm_proto::client::{ClientOutput, Event, Response};
use rtm_proto::server::{ServerOutput, StorageOp};
use rtm_proto::{Message, PeerMessageOutcome};

/// 64-bit FNV-1a-style running hash (word at a time).
#[derive(Debug, Clone, Copy)]
pub struct Hash64(u64);

impl Default for Hash64 {
    fn default() -> Self {
        Hash64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hash64 {
    /// Mixes one word.
    pub fn word(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x0000_0100_0000_01b3);
        self.0 ^= self.0 >> 29;
    }

    /// Mixes a byte string (length first).
    pub fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(last));
    }

    /// The current value.
    pub fn value(&self) -> u64 {
        self.0
    }
}

/// One traced happening.
#[derive(Debug, Clone)]
pub enum Rec {
    /// An input to client `node`.
    ClientIn { node: u32, what: ClientInRec },
    /// A command issued to client `node` and its immediate result.
    ClientCmd { node: u32, text: String },
    /// An output of client `node`.
    ClientOut { node: u32, out: ClientOutput },
    /// An input to the server.
    ServerIn { what: ServerInRec },
    /// An output of the server.
    ServerOut { out: ServerOutput },
    /// An operator command issued to the server.
    ServerCmd { text: String },
    /// Something the network or the fault injector did.
    Net { text: String },
}

/// Client inputs, compactly.
#[derive(Debug, Clone)]
pub enum ClientInRec {
    Opened(u64),
    Frame(u64, Bytes),
    Closed(u64),
    Tick,
}

/// Server inputs, compactly.
#[derive(Debug, Clone)]
pub enum ServerInRec {
    Opened(u64),
    Frame(u64, Bytes),
    Closed(u64),
    Tick,
    Restart,
    /// Record writes committed by the store.
    Committed(Vec<u64>),
    /// Record writes the store reported failed.
    Failed(Vec<u64>),
    /// `Server::restore` of these records (ids, ascending) on a new server.
    Restore(Vec<u64>),
}

/// The trace of one run.
#[derive(Debug)]
pub struct Trace {
    hash: Hash64,
    ring: VecDeque<(u64, Rec)>,
    cap: usize,
    total: u64,
}

impl Trace {
    /// A trace keeping the last `cap` records.
    pub fn new(cap: usize) -> Self {
        Trace {
            hash: Hash64::default(),
            ring: VecDeque::with_capacity(cap.min(4096)),
            cap,
            total: 0,
        }
    }

    /// The determinism fingerprint so far.
    pub fn hash(&self) -> u64 {
        self.hash.value()
    }

    /// Records traced so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Appends a record at simulated time `t` (ms).
    pub fn push(&mut self, t: u64, rec: Rec) {
        self.total += 1;
        self.hash.word(t);
        hash_rec(&mut self.hash, &rec);
        if self.cap == 0 {
            return;
        }
        if self.ring.len() == self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back((t, rec));
    }

    /// Whether records are kept (a report is possible).
    pub fn keeps(&self) -> bool {
        self.cap > 0
    }

    /// The kept records, formatted one per line with simulated timestamps.
    pub fn render(&self, names: &dyn Fn(u32) -> String) -> String {
        let mut s = String::new();
        for (t, rec) in &self.ring {
            let _ = writeln!(
                s,
                "{:>6}.{:03}s  {}",
                t / 1000,
                t % 1000,
                RecDisplay { rec, names }
            );
        }
        s
    }
}

/// Hashes one input of a node: `tag` names its kind, then come its transport or
/// connection and its frame, where it has them.
fn hash_input(h: &mut Hash64, tag: u64, link: Option<u64>, frame: Option<&[u8]>) {
    h.word(tag);
    if let Some(link) = link {
        h.word(link);
    }
    if let Some(frame) = frame {
        h.bytes(frame);
    }
}

/// A channel event: its tag, the channel, the member it is about (if any), then its data.
fn hash_channel_event(h: &mut Hash64, channel: &rtm_proto::ChannelId, event: &ChannelEvent) {
    let (tag, member) = match event {
        ChannelEvent::Message { member_id, .. } => (57, Some(member_id)),
        ChannelEvent::MemberJoined { member_id } => (58, Some(member_id)),
        ChannelEvent::MemberLeft { member_id } => (59, Some(member_id)),
        ChannelEvent::MemberCountUpdated { .. } => (70, None),
        ChannelEvent::AttributesUpdated { .. } => (71, None),
        // Non-exhaustive: a newer event is fingerprinted by its Debug text.
        other => {
            h.word(56);
            h.bytes(format!("{other:?}").as_bytes());
            return;
        }
    };
    h.word(tag);
    h.bytes(channel.as_str().as_bytes());
    if let Some(member) = member {
        h.bytes(member.as_str().as_bytes());
    }
    match event {
        ChannelEvent::Message {
            message,
            server_received_ts,
            ..
        } => {
            hash_message(h, message);
            h.word(*server_received_ts);
        }
        ChannelEvent::MemberCountUpdated { count } => h.word(u64::from(*count)),
        ChannelEvent::AttributesUpdated { attributes } => {
            h.word(crate::model::attrs_hash(attributes))
        }
        _ => {}
    }
}

fn hash_rec(h: &mut Hash64, rec: &Rec) {
    match rec {
        Rec::ClientIn { node, what } => {
            h.word(1);
            h.word(u64::from(*node));
            match what {
                ClientInRec::Opened(t) => hash_input(h, 10, Some(*t), None),
                ClientInRec::Frame(t, b) => hash_input(h, 11, Some(*t), Some(b)),
                ClientInRec::Closed(t) => hash_input(h, 12, Some(*t), None),
                ClientInRec::Tick => hash_input(h, 13, None, None),
            }
        }
        Rec::ClientCmd { node, text } => {
            h.word(2);
            h.word(u64::from(*node));
            h.bytes(text.as_bytes());
        }
        Rec::ClientOut { node, out } => {
            h.word(3);
            h.word(u64::from(*node));
            hash_client_out(h, out);
        }
        Rec::ServerIn { what } => {
            h.word(4);
            match what {
                ServerInRec::Opened(c) => hash_input(h, 20, Some(*c), None),
                ServerInRec::Frame(c, b) => hash_input(h, 21, Some(*c), Some(b)),
                ServerInRec::Closed(c) => hash_input(h, 22, Some(*c), None),
                ServerInRec::Tick => hash_input(h, 23, None, None),
                ServerInRec::Restart => hash_input(h, 24, None, None),
                ServerInRec::Committed(ids)
                | ServerInRec::Failed(ids)
                | ServerInRec::Restore(ids) => {
                    let tag = match what {
                        ServerInRec::Committed(_) => 25,
                        ServerInRec::Failed(_) => 26,
                        _ => 27,
                    };
                    hash_input(h, tag, None, None);
                    for id in ids {
                        h.word(*id);
                    }
                }
            }
        }
        Rec::ServerOut { out } => {
            h.word(5);
            match out {
                ServerOutput::Send { conn, frame } => {
                    h.word(30);
                    h.word(conn.0);
                    h.bytes(frame)
                }
                ServerOutput::Close { conn, code, reason } => {
                    h.word(31);
                    h.word(conn.0);
                    h.word(u64::from(*code));
                    h.bytes(reason.as_bytes())
                }
                ServerOutput::Storage(StorageOp::Write(r)) => {
                    h.word(32);
                    h.word(r.id.0);
                    h.bytes(&r.body)
                }
                ServerOutput::Storage(StorageOp::Delete(id)) => {
                    h.word(33);
                    h.word(id.0)
                }
                ServerOutput::AdminReply(r) => {
                    h.word(34);
                    h.word(r.id.0);
                    h.word(u64::from(r.status));
                    h.bytes(&r.body)
                }
                ServerOutput::Media(op) => {
                    h.word(35);
                    h.bytes(format!("{op:?}").as_bytes())
                }
            }
        }
        Rec::Net { text } => {
            h.word(6);
            h.bytes(text.as_bytes());
        }
        Rec::ServerCmd { text } => {
            h.word(7);
            h.bytes(text.as_bytes());
        }
    }
}

fn hash_message(h: &mut Hash64, m: &Message) {
    match m {
        Message::Text { text } => {
            h.word(1);
            h.bytes(text.as_bytes())
        }
        Message::Raw { data, description } => {
            h.word(2);
            h.bytes(data);
            h.bytes(description.as_bytes())
        }
        Message::File(media) | Message::Image(media) => {
            h.word(if matches!(m, Message::File(_)) { 3 } else { 4 });
            h.bytes(format!("{media:?}").as_bytes())
        }
    }
}

fn hash_client_out(h: &mut Hash64, out: &ClientOutput) {
    match out {
        ClientOutput::Connect(t) => {
            h.word(40);
            h.word(t.0)
        }
        ClientOutput::Send(t, b) => {
            h.word(41);
            h.word(t.0);
            h.bytes(b)
        }
        ClientOutput::Close(t, code) => {
            h.word(42);
            h.word(t.0);
            h.word(u64::from(*code))
        }
        ClientOutput::Transfer(order) => {
            h.word(44);
            h.bytes(format!("{order:?}").as_bytes())
        }
        ClientOutput::Event(e) => {
            h.word(43);
            match e {
                Event::ConnectionStateChanged { state, reason } => {
                    h.word(50);
                    h.word(*state as u64);
                    h.word(*reason as u64);
                }
                Event::MessageFromPeer {
                    peer_id,
                    message,
                    server_received_ts,
                    is_offline_message,
                } => {
                    h.word(51);
                    h.bytes(peer_id.as_str().as_bytes());
                    hash_message(h, message);
                    h.word(*server_received_ts);
                    h.word(u64::from(*is_offline_message));
                }
                Event::PeersOnlineStatusChanged(map) => {
                    h.word(52);
                    for (p, s) in map {
                        h.bytes(p.as_str().as_bytes());
                        h.word(*s as u64);
                    }
                }
                Event::TokenExpired => h.word(53),
                Event::TokenPrivilegeWillExpire => h.word(54),
                Event::Response { request, response } => {
                    h.word(55);
                    h.word(u64::from(request.0));
                    hash_response(h, response);
                }
                Event::Channel { channel, event } => hash_channel_event(h, channel, event),
                // The invitation events are rare: their Debug text is deterministic, which
                // is all the fingerprint needs.
                other => {
                    h.word(56);
                    h.bytes(format!("{other:?}").as_bytes());
                }
            }
        }
    }
}

fn outcome_word(o: PeerMessageOutcome) -> u64 {
    u64::from(o.code())
}

fn hash_response(h: &mut Hash64, r: &Response) {
    fn res<T, E: Copy>(
        h: &mut Hash64,
        tag: u64,
        r: &Result<T, E>,
        ok: impl Fn(&mut Hash64, &T),
        code: impl Fn(E) -> u32,
    ) {
        h.word(tag);
        match r {
            Ok(v) => {
                h.word(0);
                ok(h, v)
            }
            Err(e) => {
                h.word(1);
                h.word(u64::from(code(*e)))
            }
        }
    }
    match r {
        Response::Login(r) => res(h, 60, r, |_, _| {}, |e| e.code()),
        Response::RenewToken(r) => res(h, 61, r, |_, _| {}, |e| e.code()),
        Response::SendMessageToPeer(r) => {
            res(h, 62, r, |h, o| h.word(outcome_word(*o)), |e| e.code())
        }
        Response::QueryPeersOnlineStatus(r) => res(
            h,
            63,
            r,
            |h, v| {
                for (p, on) in v {
                    h.bytes(p.as_str().as_bytes());
                    h.word(u64::from(*on));
                }
            },
            |e| e.code(),
        ),
        Response::SubscribePeersOnlineStatus(r) => res(h, 64, r, |_, _| {}, |e| e.code()),
        Response::UnsubscribePeersOnlineStatus(r) => res(h, 65, r, |_, _| {}, |e| e.code()),
        other => {
            h.word(66);
            h.bytes(format!("{other:?}").as_bytes());
        }
    }
}

struct RecDisplay<'a> {
    rec: &'a Rec,
    names: &'a dyn Fn(u32) -> String,
}

fn frame_text(b: &Bytes) -> String {
    const MAX: usize = 160;
    let s = String::from_utf8_lossy(b);
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}… ({} bytes)", &s[..cut], b.len())
    } else {
        s.into_owned()
    }
}

impl fmt::Display for RecDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rec {
            Rec::ClientIn { node, what } => {
                let n = (self.names)(*node);
                match what {
                    ClientInRec::Opened(t) => write!(f, "{n} <- Opened(t{t})"),
                    ClientInRec::Frame(t, b) => write!(f, "{n} <- t{t} {}", frame_text(b)),
                    ClientInRec::Closed(t) => write!(f, "{n} <- Closed(t{t})"),
                    ClientInRec::Tick => write!(f, "{n} <- Tick"),
                }
            }
            Rec::ClientCmd { node, text } => write!(f, "{} cmd {text}", (self.names)(*node)),
            Rec::ClientOut { node, out } => {
                let n = (self.names)(*node);
                match out {
                    ClientOutput::Connect(t) => write!(f, "{n} -> Connect(t{})", t.0),
                    ClientOutput::Send(t, b) => write!(f, "{n} -> t{} {}", t.0, frame_text(b)),
                    ClientOutput::Close(t, c) => write!(f, "{n} -> Close(t{}, {c})", t.0),
                    ClientOutput::Transfer(order) => write!(f, "{n} -> {order:?}"),
                    ClientOutput::Event(Event::MessageFromPeer {
                        peer_id,
                        message,
                        server_received_ts,
                        is_offline_message,
                    }) => {
                        let body = match message {
                            Message::Text { text } => {
                                let cut =
                                    text.char_indices().nth(24).map_or(text.len(), |(i, _)| i);
                                format!("text {:?} ({} bytes)", &text[..cut], text.len())
                            }
                            Message::Raw { data, description } => format!(
                                "raw {:02x?}.. ({} bytes, description {description:?})",
                                &data[..data.len().min(8)],
                                data.len()
                            ),
                            Message::File(media) | Message::Image(media) => {
                                format!("media {} ({} bytes)", media.media_id, media.size)
                            }
                        };
                        write!(
                            f,
                            "{n} => MessageFromPeer from {peer_id} {body} ts={server_received_ts} offline={is_offline_message}"
                        )
                    }
                    ClientOutput::Event(e) => write!(f, "{n} => {e:?}"),
                }
            }
            Rec::ServerIn { what } => match what {
                ServerInRec::Opened(c) => write!(f, "server <- Opened(c{c})"),
                ServerInRec::Frame(c, b) => write!(f, "server <- c{c} {}", frame_text(b)),
                ServerInRec::Closed(c) => write!(f, "server <- Closed(c{c})"),
                ServerInRec::Tick => write!(f, "server <- Tick"),
                ServerInRec::Restart => write!(f, "server == RESTART (new Server::new)"),
                ServerInRec::Committed(ids) => write!(f, "server <- Committed({ids:?})"),
                ServerInRec::Failed(ids) => write!(f, "server <- Failed({ids:?})"),
                ServerInRec::Restore(ids) => write!(f, "server == restore(records {ids:?})"),
            },
            Rec::ServerOut { out } => match out {
                ServerOutput::Send { conn, frame } => {
                    write!(f, "server -> c{} {}", conn.0, frame_text(frame))
                }
                ServerOutput::Close { conn, code, reason } => {
                    write!(f, "server -> Close(c{}, {code}, {reason:?})", conn.0)
                }
                ServerOutput::Storage(StorageOp::Write(r)) => write!(
                    f,
                    "server -> Write(#{} {} {})",
                    r.id.0,
                    r.owner,
                    String::from_utf8_lossy(&r.body)
                ),
                ServerOutput::Storage(StorageOp::Delete(id)) => {
                    write!(f, "server -> Delete(#{})", id.0)
                }
                ServerOutput::AdminReply(r) => write!(
                    f,
                    "server -> AdminReply(#{} {} {})",
                    r.id.0,
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ),
                ServerOutput::Media(op) => write!(f, "server -> {op:?}"),
            },
            Rec::Net { text } => write!(f, "net {text}"),
            Rec::ServerCmd { text } => write!(f, "server cmd {text}"),
        }
    }
}
