//! The bodies of the cargo-fuzz targets in `fuzz/`.
//!
//! They live here (not in `fuzz/`) so that a plain `#[test]` on stable can replay every
//! committed corpus file through exactly the same code (`tests/corpus_replay.rs`). Each
//! function panics on a broken invariant; libFuzzer reports the panic as a crash.
//!
//! * [`frame_decode`]: `ClientFrame::decode` / `ServerFrame::decode` never panic, and for
//!   frames that decode, `decode(encode(f)) == f` and encoding is canonical.
//! * [`client_inputs`]: a `Client` fed an arbitrary sequence of transport events, frames
//!   (raw bytes or well-formed server frames with fuzzed fields), ticks and commands.
//!   Besides the §2.3 transitions, request ids and "every request is answered", it checks
//!   the §10 invitation events: only for invitations the client made or received, at most
//!   one end each, nothing after it.
//! * [`server_inputs`]: a `Server` fed arbitrary inputs on a small set of connection ids,
//!   including login frames; bounded sessions, channels and invitation records.
//! * [`sim`]: the whole simulator, with the fuzz bytes as seed and workload/fault source.
//!
//! `client_inputs` and `server_inputs` generate the commands and frames of channels,
//! attributes and invitations only for inputs that start with [`EXTENDED`] (`X2`): every
//! other input is read exactly as before those existed, so the committed corpus files (and
//! the regressions they pin) keep their meaning.

use rtm_proto::{LocalInvitationEvent, RemoteInvitationEvent};
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rtm_proto::client::{
    ClientConfig, ClientInput, ClientOutput, Event, SendMessageOptions, TransportId,
};
use rtm_proto::server::{ConnId, Server, ServerConfig, ServerInput, ServerOutput};
use rtm_proto::wire::Reply;
use rtm_proto::wire::{ClientFrame, InvitationKey, ServerFrame, MAX_FRAME_BYTES};
use rtm_proto::{Client, ConnectionState as State, Message, Timestamp, UserId};
use serde_json::{json, Value};

use crate::config::{Knobs, Relaxations, SimConfig};
use crate::entropy::{derive, Source};
use crate::model::allowed_transition;
use crate::sim::Sim;

/// Set `RTM_FUZZ_DEBUG=1` to print every input and output of `client_inputs` and
/// `server_inputs` (for triaging a crash file).
fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RTM_FUZZ_DEBUG").is_some())
}

/// The relaxations the fuzz targets apply (the same defaults as the swarm).
pub fn relaxations() -> Relaxations {
    Relaxations::default()
}

/// A forgiving reader over fuzz bytes: reads past the end yield zeros.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    /// True once every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// Little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | (u16::from(self.u8()) << 8)
    }

    /// Little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    /// Little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A boolean.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Up to `max` raw bytes (length from the input).
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u16() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }

    /// Consumes `magic` if the input starts with it.
    pub fn prefix(&mut self, magic: &[u8]) -> bool {
        let yes = self.pos == 0 && self.data.starts_with(magic);
        if yes {
            self.pos = magic.len();
        }
        yes
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }
}

// ----- frame_decode -------------------------------------------------------------------------

/// Decoding never panics; decodable frames survive `decode(encode(f))` unchanged, and
/// encoding is canonical.
pub fn frame_decode(data: &[u8]) {
    if let Ok(f) = ClientFrame::decode(data) {
        let enc = f.encode();
        let back = ClientFrame::decode(&enc).unwrap_or_else(|e| {
            panic!(
                "an encoded ClientFrame does not decode ({e}): {}",
                String::from_utf8_lossy(&enc)
            )
        });
        assert_eq!(back, f, "ClientFrame changed in a round trip");
        assert_eq!(back.encode(), enc, "ClientFrame encoding is not canonical");
    }
    if let Ok(f) = ServerFrame::decode(data) {
        let enc = f.encode();
        let back = ServerFrame::decode(&enc).unwrap_or_else(|e| {
            panic!(
                "an encoded ServerFrame does not decode ({e}): {}",
                String::from_utf8_lossy(&enc)
            )
        });
        assert_eq!(back, f, "ServerFrame changed in a round trip");
        assert_eq!(back.encode(), enc, "ServerFrame encoding is not canonical");
    }
}

// ----- shared generators --------------------------------------------------------------------

const NAMES: [&str; 5] = ["alice", "bob", "carol", "<d>|~", "null"];

fn name(inp: &mut Input) -> &'static str {
    NAMES[inp.u8() as usize % NAMES.len()]
}

fn uid(inp: &mut Input) -> UserId {
    UserId::new(NAMES[inp.u8() as usize % 4]).expect("valid")
}

/// A message body: small text, raw bytes, or (rarely) one repeated character up to 32 KB —
/// escape-heavy characters make the JSON frame much larger than the counted length.
fn message(inp: &mut Input) -> Message {
    match inp.u8() % 8 {
        0 => Message::text(""),
        1..=3 => {
            let b = inp.bytes(64);
            Message::text(String::from_utf8_lossy(b).into_owned())
        }
        4..=5 => {
            let b = inp.bytes(64).to_vec();
            Message::raw(b, "d")
        }
        6 => {
            let c = char::from(inp.u8() % 128);
            let n = (inp.u16() as usize).min(rtm_proto::message::MAX_MESSAGE_BYTES + 1);
            Message::text(c.to_string().repeat(n))
        }
        _ => {
            let n = (inp.u16() as usize).min(rtm_proto::message::MAX_MESSAGE_BYTES);
            Message::raw(vec![inp.u8(); n], "")
        }
    }
}

fn uids(inp: &mut Input) -> Vec<UserId> {
    let n = inp.u8() % 4;
    (0..n).map(|_| uid(inp)).collect()
}

// ----- client_inputs ------------------------------------------------------------------------

fn statuses(inp: &mut Input) -> Value {
    let peers: Vec<Value> = uids(inp)
        .into_iter()
        .map(|p| {
            let state = ["ONLINE", "UNREACHABLE", "OFFLINE"][inp.u8() as usize % 3];
            json!({"peer": p.as_str(), "state": state})
        })
        .collect();
    Value::Array(peers)
}

/// A server frame, as JSON built from fuzz bytes (kept as text so that the generator keeps
/// compiling while the wire format evolves; `generators_track_the_wire_format` in the
/// corpus-replay test notices when it drifts).
pub fn server_frame(inp: &mut Input, sid: &str) -> Bytes {
    server_frame_sel(inp, sid, None)
}

/// [`server_frame`] including the frames of channels, attributes and invitations; `local`
/// are the numbers of invitations the client made (so that `local_invitation` updates can
/// name them).
pub fn server_frame_ext(inp: &mut Input, sid: &str, local: &[u64]) -> Bytes {
    server_frame_sel(inp, sid, Some(local))
}

fn server_frame_sel(inp: &mut Input, sid: &str, ext: Option<&[u64]>) -> Bytes {
    let id = inp.u8() % 16;
    let sel = inp.u8();
    if let Some(local) = ext {
        if sel % 26 >= 12 {
            let v = channel_or_invitation_frame(inp, id, sel % 26 - 12, local);
            return Bytes::from(serde_json::to_vec(&v).expect("json"));
        }
    }
    let v = match sel % 12 {
        0 => json!({
            "type": "login_ok", "id": id, "version": 1,
            "session": if inp.bool() { sid.to_string() } else { format!("s{}", inp.u8()) },
            "resumed": inp.bool(), "server_ts": inp.u64(), "heartbeat_ms": inp.u16(),
            "resend_from": inp.u8() % 8,
        }),
        1 => json!({"type": "error", "id": id, "code": inp.u8(), "message": "e"}),
        2 => json!({"type": "ok", "id": id}),
        3 => json!({"type": "pong"}),
        4 => {
            let outcome = ["received", "cached", "unreachable"][inp.u8() as usize % 3];
            json!({"type": "peer_message_result", "id": id, "outcome": outcome})
        }
        5 | 6 => {
            // Input consumed in the same order as before `msg_id` existed, so committed
            // corpus files keep their meaning; the id is derived, not drawn.
            let from = uid(inp);
            let message = message_json(inp);
            let server_ts = inp.u64();
            let offline = inp.bool();
            json!({
                "type": "message", "from": from.as_str(), "msg_id": server_ts % 8,
                "message": message, "server_ts": server_ts, "offline": offline,
            })
        }
        7 => {
            let peers: Vec<Value> = uids(inp)
                .into_iter()
                .map(|p| json!({"peer": p.as_str(), "online": inp.bool()}))
                .collect();
            json!({"type": "online_status", "id": id, "peers": peers})
        }
        8 => json!({"type": "subscribed", "id": id, "peers": statuses(inp)}),
        9 => json!({"type": "presence", "peers": statuses(inp)}),
        10 => json!({"type": "token_will_expire"}),
        _ => {
            let reason =
                ["remote_login", "banned_by_server", "token_expired"][inp.u8() as usize % 3];
            json!({"type": "kicked", "reason": reason})
        }
    };
    Bytes::from(serde_json::to_vec(&v).expect("json"))
}

/// Inputs of `client_inputs` and `server_inputs` that start with this also generate the
/// commands and frames of channels, attributes and invitations. Others are read exactly as
/// before those existed, so the committed corpus files still say what they said.
pub const EXTENDED: &[u8] = b"X2";

const CHANNELS: [&str; 4] = ["room", "lobby", "<c>|~", "null"];

fn channel(inp: &mut Input) -> &'static str {
    CHANNELS[inp.u8() as usize % CHANNELS.len()]
}

fn attr_key(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => String::new(),
        1 => "bad key".into(),
        2 => "k".repeat(33),
        n => format!("k{n}"),
    }
}

fn attr_value(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => String::new(),
        1 => "v".repeat(8 * 1024 + 1),
        2 => "w".repeat(usize::from(inp.u16()) % (16 * 1024)),
        _ => String::from_utf8_lossy(inp.bytes(32)).into_owned(),
    }
}

fn attr_map(inp: &mut Input) -> BTreeMap<String, String> {
    (0..inp.u8() % 5)
        .map(|_| (attr_key(inp), attr_value(inp)))
        .collect()
}

fn attr_keys(inp: &mut Input) -> Vec<String> {
    (0..inp.u8() % 4).map(|_| attr_key(inp)).collect()
}

fn attr_op(inp: &mut Input) -> rtm_proto::attributes::AttrOp {
    use rtm_proto::attributes::AttrOp;
    [
        AttrOp::Set,
        AttrOp::AddOrUpdate,
        AttrOp::Delete,
        AttrOp::Clear,
    ][inp.u8() as usize % 4]
}

fn channel_attrs_json(inp: &mut Input) -> Value {
    let mut m = serde_json::Map::new();
    for _ in 0..inp.u8() % 4 {
        m.insert(
            attr_key(inp),
            json!({"value": attr_value(inp), "last_update_user_id": uid(inp).as_str(),
                   "last_update_ts": inp.u64() % 4_000_000_000_000}),
        );
    }
    Value::Object(m)
}

/// An invitation number: one the client made, or a small one (so that the invitations
/// pushed to it collide with later updates).
fn invitation_number(inp: &mut Input, local: &[u64]) -> u64 {
    match inp.u8() % 4 {
        0 | 1 if !local.is_empty() => local[inp.u8() as usize % local.len()],
        _ => u64::from(inp.u8() % 4),
    }
}

fn local_update(inp: &mut Input, local: &[u64]) -> Value {
    const STATES: [&str; 7] = [
        "IDLE",
        "SENT_TO_REMOTE",
        "RECEIVED_BY_REMOTE",
        "ACCEPTED_BY_REMOTE",
        "REFUSED_BY_REMOTE",
        "CANCELED",
        "FAILURE",
    ];
    const WHY: [&str; 4] = [
        "PEER_OFFLINE",
        "PEER_NO_RESPONSE",
        "INVITATION_EXPIRE",
        "NOT_LOGGEDIN",
    ];
    let mut v = json!({
        "invitation": invitation_number(inp, local),
        "state": STATES[inp.u8() as usize % STATES.len()],
        "response": String::from_utf8_lossy(inp.bytes(16)).into_owned(),
    });
    if inp.bool() {
        v["reason"] = json!(WHY[inp.u8() as usize % WHY.len()]);
    }
    v
}

fn remote_update(inp: &mut Input) -> Value {
    const STATES: [&str; 7] = [
        "IDLE",
        "INVITATION_RECEIVED",
        "ACCEPT_SENT_TO_LOCAL",
        "REFUSED",
        "ACCEPTED",
        "CANCELED",
        "FAILURE",
    ];
    const WHY: [&str; 3] = ["PEER_OFFLINE", "ACCEPT_FAILURE", "INVITATION_EXPIRE"];
    let mut v = json!({
        "caller": uid(inp).as_str(),
        "invitation": u64::from(inp.u8() % 4),
        "state": STATES[inp.u8() as usize % STATES.len()],
        "content": "c",
    });
    if inp.bool() {
        v["reason"] = json!(WHY[inp.u8() as usize % WHY.len()]);
    }
    v
}

/// The server frames of channels, attributes and invitations.
fn channel_or_invitation_frame(inp: &mut Input, id: u8, sel: u8, local: &[u64]) -> Value {
    match sel % 14 {
        0 => json!({"type": "joined", "id": id, "channel": channel(inp),
                    "epoch": u64::from(inp.u8() % 3), "cseq": u64::from(inp.u8() % 8)}),
        1 => {
            let channel = channel(inp);
            let (epoch, cseq) = (u64::from(inp.u8() % 3), u64::from(inp.u8() % 8));
            let from = uid(inp);
            json!({"type": "channel_message", "channel": channel, "epoch": epoch, "cseq": cseq,
                   "from": from.as_str(), "message": message_json(inp), "server_ts": inp.u64()})
        }
        2 => json!({"type": "member_joined", "channel": channel(inp), "member": uid(inp).as_str()}),
        3 => json!({"type": "member_left", "channel": channel(inp), "member": uid(inp).as_str()}),
        4 => json!({"type": "member_count", "channel": channel(inp), "count": inp.u16()}),
        5 => {
            let members: Vec<String> = uids(inp).iter().map(|u| u.as_str().to_string()).collect();
            json!({"type": "members", "id": id, "members": members})
        }
        6 => {
            let counts: Vec<Value> = (0..inp.u8() % 4)
                .map(|_| json!({"channel": channel(inp), "count": inp.u8()}))
                .collect();
            json!({"type": "member_counts", "id": id, "counts": counts})
        }
        7 => json!({"type": "user_attributes", "id": id, "user": uid(inp).as_str(),
                    "attributes": attr_map(inp)}),
        8 => json!({"type": "channel_attributes", "id": id, "channel": channel(inp),
                    "attributes": channel_attrs_json(inp)}),
        9 => json!({"type": "attributes_updated", "channel": channel(inp),
                    "attributes": channel_attrs_json(inp)}),
        10 => json!({"type": "invitation", "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 4), "content": "c",
                     "channel_id": String::from_utf8_lossy(inp.bytes(8)).into_owned()}),
        11 => {
            let mut v = local_update(inp, local);
            v["type"] = json!("local_invitation");
            v
        }
        12 => {
            let mut v = remote_update(inp);
            v["type"] = json!("remote_invitation");
            v
        }
        _ => {
            let local: Vec<Value> = (0..inp.u8() % 3)
                .map(|_| local_update(inp, local))
                .collect();
            let remote: Vec<Value> = (0..inp.u8() % 3).map(|_| remote_update(inp)).collect();
            json!({"type": "invitation_states", "id": id, "local": local, "remote": remote})
        }
    }
}

fn message_json(inp: &mut Input) -> Value {
    serde_json::to_value(message(inp)).expect("messages serialise")
}

/// What a client request waits for (to recognise answers of the wrong kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Send,
    Query,
    Subscribe,
    Unsubscribe,
    Renew,
    Join,
    Leave,
    ChannelMessage,
    GetMembers,
    MemberCount,
    AttrWrite,
    GetUserAttrs,
    GetChannelAttrs,
}

impl Kind {
    /// Whether a frame of type `ty` answers a request of this kind.
    fn answered_by(self, ty: &str) -> bool {
        match self {
            Kind::Login => true,
            Kind::Send => matches!(ty, "peer_message_result" | "error"),
            Kind::Query => matches!(ty, "online_status" | "error"),
            Kind::Subscribe => matches!(ty, "subscribed" | "error"),
            Kind::Unsubscribe
            | Kind::Renew
            | Kind::Leave
            | Kind::ChannelMessage
            | Kind::AttrWrite => matches!(ty, "ok" | "error"),
            Kind::Join => matches!(ty, "joined" | "error"),
            Kind::GetMembers => matches!(ty, "members" | "error"),
            Kind::MemberCount => matches!(ty, "member_counts" | "error"),
            Kind::GetUserAttrs => matches!(ty, "user_attributes" | "error"),
            Kind::GetChannelAttrs => matches!(ty, "channel_attributes" | "error"),
        }
    }
}

struct ClientCheck {
    relax: Relaxations,
    now: u64,
    state: State,
    outstanding: BTreeMap<u32, Kind>,
    /// Requests that were sent an answer of the wrong kind.
    mismatched: BTreeSet<u32>,
    connected: BTreeSet<u64>,
    opened: BTreeSet<u64>,
    last_transport: u64,
    sid: String,
    /// Caller-side invitations made, and whether they ended.
    local: BTreeMap<u64, bool>,
    /// Callee-side invitations received, and whether they ended.
    remote: BTreeMap<InvitationKey, bool>,
}

impl ClientCheck {
    /// §10: events only for invitations the client knows, at most one end each, nothing
    /// after it; ReceivedByPeer only while open.
    fn invitation_event(&mut self, e: &Event) {
        let (local, id, terminal) = match e {
            Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::ReceivedByPeer,
            } => (true, invitation.0, false),
            Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Accepted { .. },
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Refused { .. },
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Canceled,
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Failure { .. },
            } => (true, invitation.0, true),
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Received { .. },
            } => {
                let fresh = self.remote.insert(invitation.clone(), false).is_none();
                assert!(fresh, "RemoteInvitationReceived twice for {invitation:?}");
                return;
            }
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Accepted,
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Refused,
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Canceled { .. },
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Failure { .. },
            } => {
                let ended = self.remote.get_mut(invitation);
                assert!(
                    ended.as_deref() == Some(&false),
                    "{e:?} for an invitation not received or already over"
                );
                *ended.expect("checked") = true;
                return;
            }
            _ => return,
        };
        debug_assert!(local);
        let ended = self.local.get_mut(&id);
        assert!(
            ended.as_deref() == Some(&false),
            "{e:?} for an invitation not made or already over"
        );
        *ended.expect("checked") = terminal;
    }

    fn drain(&mut self, c: &mut Client, ticked: bool) {
        let mut outputs = 0usize;
        while let Some(out) = c.poll_output() {
            outputs += 1;
            assert!(outputs < 100_000, "client output runaway");
            if debug() {
                eprintln!("{:>8} client -> {out:?}", self.now);
            }
            match out {
                ClientOutput::Connect(t) => {
                    assert!(t.0 > self.last_transport, "transport id reused: {t:?}");
                    self.last_transport = t.0;
                    self.connected.insert(t.0);
                }
                ClientOutput::Send(t, frame) => {
                    assert!(
                        self.opened.contains(&t.0),
                        "client sent on transport {t:?} that was never opened"
                    );
                    // Known bug (relaxation `no_escape_heavy_messages`): valid text messages
                    // can encode over the limit.
                    assert!(
                        frame.len() <= MAX_FRAME_BYTES || self.relax.no_escape_heavy_messages,
                        "client sent a {}-byte frame, over the {MAX_FRAME_BYTES}-byte limit the server enforces",
                        frame.len()
                    );
                    if frame.len() <= MAX_FRAME_BYTES {
                        if let Err(e) = ClientFrame::decode(&frame) {
                            panic!("client sent a frame that does not decode: {e}");
                        }
                    }
                }
                ClientOutput::Close(t, _) => {
                    assert!(self.connected.contains(&t.0), "client closed unknown {t:?}");
                }
                ClientOutput::Event(e) => self.event(e),
            }
        }
        assert_eq!(
            c.connection_state(),
            self.state,
            "connection_state() disagrees with events"
        );
        if let Some(t) = c.poll_timeout() {
            let t = t.as_millis();
            let known_bug =
                self.relax.link_lost_while_draining && self.state == State::Disconnected;
            assert!(
                known_bug || t >= self.now,
                "poll_timeout {t} is before now {}",
                self.now
            );
            assert!(
                known_bug || !(ticked && outputs == 0 && t == self.now),
                "a tick at the deadline {t} made no progress"
            );
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::ConnectionStateChanged { state, reason } => {
                let known_bug = self.relax.kicked_before_login_ok
                    && state == State::Aborted
                    && (self.state == State::Connecting
                        || (self.state == State::Reconnecting
                            && reason == rtm_proto::ConnectionChangeReason::TokenExpired));
                assert!(
                    known_bug || allowed_transition(self.state, state, reason),
                    "transition {:?} -> {state:?} ({reason:?}) not allowed by §2.3",
                    self.state
                );
                self.state = state;
            }
            Event::Response { request, .. } => {
                assert!(
                    self.outstanding.remove(&request.0).is_some(),
                    "response for request {} which is not outstanding",
                    request.0
                );
            }
            e => self.invitation_event(&e),
        }
    }

    fn track<E>(&mut self, kind: Kind, r: Result<rtm_proto::RequestId, E>) {
        if let Ok(id) = r {
            assert!(
                self.outstanding.insert(id.0, kind).is_none(),
                "request id {} reused",
                id.0
            );
        }
    }

    /// Notes answers of the wrong kind for pending requests.
    fn saw_answer(&mut self, frame: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(frame) else {
            return;
        };
        let (Some(ty), Some(id)) = (v["type"].as_str(), v["id"].as_u64()) else {
            return;
        };
        if let Some(kind) = self.outstanding.get(&(id as u32)) {
            if !kind.answered_by(ty) {
                self.mismatched.insert(id as u32);
            }
        }
    }
}

/// A `Client` fed an arbitrary sequence of transport events, frames, ticks and commands.
pub fn client_inputs(data: &[u8]) {
    let mut inp = Input::new(data);
    let extended = inp.prefix(EXTENDED);
    let seed = inp.u64();
    let mut now = u64::from(inp.u16());
    let mut c = Client::new(
        ClientConfig::default(),
        seed,
        Timestamp::from_millis(now),
        1_700_000_000_000,
    );
    let mut chk = ClientCheck {
        relax: relaxations(),
        now,
        state: State::Disconnected,
        outstanding: BTreeMap::new(),
        mismatched: BTreeSet::new(),
        connected: BTreeSet::new(),
        opened: BTreeSet::new(),
        last_transport: 0,
        sid: "s0".into(),
        local: BTreeMap::new(),
        remote: BTreeMap::new(),
    };
    let mut steps = 0;
    while !inp.is_empty() && steps < 4096 {
        steps += 1;
        let ts = Timestamp::from_millis(now);
        // Transports: usually the newest one, sometimes an old or unknown one.
        let t = match inp.u8() % 4 {
            0 => u64::from(inp.u8() % 8),
            _ => chk.last_transport,
        };
        let mut ticked = false;
        let op = if extended {
            inp.u8() % 32
        } else {
            inp.u8() % 16
        };
        if debug() {
            eprintln!("{now:>8} op {op} transport {t}");
        }
        match op {
            0 => {
                // Time passes; like any driver, tick at every deadline on the way.
                let target = now + u64::from(inp.u16());
                let mut guard = 0;
                while let Some(d) = c.poll_timeout() {
                    let d = d.as_millis();
                    if d > target || guard > 10_000 {
                        break;
                    }
                    guard += 1;
                    now = now.max(d);
                    chk.now = now;
                    c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                    chk.drain(&mut c, true);
                }
                now = target;
                c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                ticked = true;
            }
            1 => {
                if let Some(d) = c.poll_timeout() {
                    now = now.max(d.as_millis());
                }
                c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                ticked = true;
            }
            2 => {
                if chk.connected.contains(&t) {
                    chk.opened.insert(t);
                }
                c.handle_input(ts, ClientInput::Opened(TransportId(t)));
            }
            3 => {
                chk.opened.remove(&t);
                c.handle_input(ts, ClientInput::Closed(TransportId(t)));
            }
            4 => {
                let b = Bytes::copy_from_slice(inp.bytes(256));
                c.handle_input(ts, ClientInput::Frame(TransportId(t), b));
            }
            5..=7 => {
                let f = if extended {
                    let local: Vec<u64> = chk.local.keys().copied().collect();
                    server_frame_ext(&mut inp, &chk.sid, &local)
                } else {
                    server_frame(&mut inp, &chk.sid)
                };
                if debug() {
                    eprintln!("{now:>8} client <- {}", String::from_utf8_lossy(&f));
                }
                if let Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) =
                    ServerFrame::decode(&f)
                {
                    chk.sid = session;
                }
                chk.saw_answer(&f);
                c.handle_input(ts, ClientInput::Frame(TransportId(t), f));
            }
            8 => {
                let token = if inp.bool() { Some("tok") } else { None };
                let n = name(&mut inp);
                let r = c.login(ts, n, token);
                chk.track(Kind::Login, r);
            }
            9 => {
                let _ = c.logout(ts);
            }
            10 => {
                let n = name(&mut inp);
                let m = message(&mut inp);
                let o = SendMessageOptions {
                    enable_offline_messaging: inp.bool(),
                };
                let r = c.send_message_to_peer(ts, n, m, o);
                chk.track(Kind::Send, r);
            }
            11 => {
                let peers: Vec<&str> = (0..inp.u8() % 4).map(|_| name(&mut inp)).collect();
                let r = c.query_peers_online_status(ts, &peers);
                chk.track(Kind::Query, r);
            }
            12 => {
                let peers: Vec<&str> = (0..inp.u8() % 4).map(|_| name(&mut inp)).collect();
                let r = c.subscribe_peers_online_status(ts, &peers);
                chk.track(Kind::Subscribe, r);
            }
            13 => {
                let peers: Vec<&str> = (0..inp.u8() % 4).map(|_| name(&mut inp)).collect();
                let r = c.unsubscribe_peers_online_status(ts, &peers);
                chk.track(Kind::Unsubscribe, r);
            }
            14 => {
                let token = if inp.bool() { "" } else { "tok2" };
                let r = c.renew_token(ts, token);
                chk.track(Kind::Renew, r);
            }
            15 => {
                let _ = c.query_peers_by_subscription_option(ts);
            }
            op => channel_command(&mut c, &mut chk, &mut inp, ts, op - 16),
        }
        chk.now = now;
        chk.drain(&mut c, ticked);
    }
    // Every request carries a deadline: after enough time, every one has been answered.
    let end = now + 120_000;
    let mut guard = 0;
    while let Some(d) = c.poll_timeout() {
        guard += 1;
        assert!(guard < 200_000, "client never settles (tick loop)");
        let d = d.as_millis().max(now + 1);
        if d > end {
            break;
        }
        now = d;
        chk.now = now;
        c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
        chk.drain(&mut c, true);
    }
    if chk.relax.mismatched_answer_drops_request {
        for id in &chk.mismatched {
            chk.outstanding.remove(id);
        }
    }
    assert!(
        chk.outstanding.is_empty(),
        "requests never answered after 120 s: {:?}",
        chk.outstanding
    );
}

/// The commands of channels, attributes and invitations (`op` 0..16).
fn channel_command(c: &mut Client, chk: &mut ClientCheck, inp: &mut Input, ts: Timestamp, op: u8) {
    use rtm_proto::client::ChannelAttributeOptions;
    let chan = |inp: &mut Input| {
        rtm_proto::ChannelId::new(["room", "lobby", "<c>|~"][inp.u8() as usize % 3]).expect("valid")
    };
    match op {
        0 => {
            let ch = chan(inp);
            let r = c.join(ts, &ch);
            chk.track(Kind::Join, r);
        }
        1 => {
            let ch = chan(inp);
            let r = c.leave(ts, &ch);
            chk.track(Kind::Leave, r);
        }
        2 => {
            let ch = chan(inp);
            let m = message(inp);
            let r = c.send_channel_message(ts, &ch, m);
            chk.track(Kind::ChannelMessage, r);
        }
        3 => {
            let ch = chan(inp);
            let r = c.get_members(ts, &ch);
            chk.track(Kind::GetMembers, r);
        }
        4 => {
            let n = match inp.u8() % 8 {
                0 => 33,
                n => usize::from(n % 4),
            };
            let ids: Vec<&str> = (0..n).map(|_| channel(inp)).collect();
            let r = c.get_channel_member_count(ts, &ids);
            chk.track(Kind::MemberCount, r);
        }
        5 => {
            use rtm_proto::attributes::AttrOp;
            let ch = chan(inp);
            let (op, attrs, keys) = (attr_op(inp), attr_map(inp), attr_keys(inp));
            let o = ChannelAttributeOptions {
                enable_notification_to_channel_members: inp.bool(),
            };
            let r = match op {
                AttrOp::Set => c.set_channel_attributes(ts, &ch, attrs, o),
                AttrOp::AddOrUpdate => c.add_or_update_channel_attributes(ts, &ch, attrs, o),
                AttrOp::Delete => c.delete_channel_attributes_by_keys(ts, &ch, keys, o),
                AttrOp::Clear => c.clear_channel_attributes(ts, &ch, o),
            };
            chk.track(Kind::AttrWrite, r);
        }
        6 => {
            let ch = chan(inp);
            let r = if inp.bool() {
                c.get_channel_attributes(ts, &ch)
            } else {
                let keys = attr_keys(inp);
                c.get_channel_attributes_by_keys(ts, &ch, keys)
            };
            chk.track(Kind::GetChannelAttrs, r);
        }
        7 => {
            use rtm_proto::attributes::AttrOp;
            let (op, attrs, keys) = (attr_op(inp), attr_map(inp), attr_keys(inp));
            let r = match op {
                AttrOp::Set => c.set_local_user_attributes(ts, attrs),
                AttrOp::AddOrUpdate => c.add_or_update_local_user_attributes(ts, attrs),
                AttrOp::Delete => c.delete_local_user_attributes_by_keys(ts, keys),
                AttrOp::Clear => c.clear_local_user_attributes(ts),
            };
            chk.track(Kind::AttrWrite, r);
        }
        8 => {
            let n = name(inp);
            let r = if inp.bool() {
                c.get_user_attributes(ts, n)
            } else {
                let keys = attr_keys(inp);
                c.get_user_attributes_by_keys(ts, n, keys)
            };
            chk.track(Kind::GetUserAttrs, r);
        }
        9 | 10 => {
            // Create (and usually send) a call invitation.
            let n = name(inp);
            let Ok(id) = c.create_local_invitation(n) else {
                return;
            };
            let content = match inp.u8() % 4 {
                0 => "x".repeat(rtm_proto::invitation::MAX_CONTENT_BYTES + 1),
                _ => String::from_utf8_lossy(inp.bytes(32)).into_owned(),
            };
            let _ = c.set_local_invitation_content(id, &content);
            let _ = c.set_local_invitation_channel_id(id, channel(inp));
            if (op == 9 || inp.bool()) && c.send_local_invitation(ts, id).is_ok() {
                chk.local.insert(id.0, false);
            }
        }
        11 => {
            let known: Vec<u64> = chk.local.keys().copied().collect();
            let n = match known.len() {
                0 => u64::from(inp.u8()),
                k => known[inp.u8() as usize % k],
            };
            let _ = c.cancel_local_invitation(ts, rtm_proto::client::InvitationId(n));
        }
        12..=14 => {
            let known: Vec<InvitationKey> = chk.remote.keys().cloned().collect();
            let key = match known.len() {
                0 => InvitationKey {
                    caller: uid(inp),
                    invitation: u64::from(inp.u8() % 4),
                },
                k => known[inp.u8() as usize % k].clone(),
            };
            let response = String::from_utf8_lossy(inp.bytes(16)).into_owned();
            let _ = c.set_remote_invitation_response(&key, &response);
            let _ = match op {
                12 => c.accept_remote_invitation(ts, &key),
                13 => c.refuse_remote_invitation(ts, &key),
                _ => c.set_remote_invitation_response(&key, &"r".repeat(8 * 1024 + 1)),
            };
        }
        _ => {
            let _ = c.create_channel(channel(inp));
            let _ = c.joined_channels();
            let _ = c.local_user_attributes();
        }
    }
}

// ----- server_inputs ------------------------------------------------------------------------

/// A client frame, as JSON built from fuzz bytes (see [`server_frame`]).
pub fn client_frame(inp: &mut Input, sids: &[String]) -> Bytes {
    client_frame_sel(inp, sids, false)
}

/// [`client_frame`] including the frames of channels, attributes and invitations.
pub fn client_frame_ext(inp: &mut Input, sids: &[String]) -> Bytes {
    client_frame_sel(inp, sids, true)
}

fn client_frame_sel(inp: &mut Input, sids: &[String], extended: bool) -> Bytes {
    let id = inp.u8() % 16;
    let peers = |inp: &mut Input| -> Vec<String> {
        uids(inp)
            .into_iter()
            .map(|u| u.as_str().to_string())
            .collect()
    };
    let sel = inp.u8();
    if extended && sel % 26 >= 12 {
        let v = channel_or_invitation_request(inp, id, sel % 26 - 12);
        return Bytes::from(serde_json::to_vec(&v).expect("json"));
    }
    let v = match sel % 12 {
        0..=2 => {
            let mut v = json!({
                "type": "login", "id": id,
                "version": if inp.u8() % 16 == 0 { 2 } else { 1 },
                "app_id": if inp.u8() % 16 == 0 { "other" } else { rtm_proto::server::DEFAULT_APP_ID },
                "uid": uid(inp).as_str(),
            });
            if inp.bool() {
                v["token"] = json!("t");
            }
            match inp.u8() % 3 {
                0 => {}
                1 => {
                    if let Some(s) = sids.get(inp.u8() as usize % sids.len().max(1)) {
                        v["resume"] = json!(s);
                    }
                }
                _ => v["resume"] = json!(format!("{:032x}", inp.u8())),
            }
            v
        }
        3 => json!({"type": "logout", "id": id}),
        4 => json!({"type": "ping"}),
        5 => json!({"type": "renew_token", "id": id, "token": "t"}),
        6 | 7 => json!({
            "type": "peer_message", "id": id, "to": uid(inp).as_str(),
            "msg_id": inp.u8() % 8, "message": message_json(inp), "offline": inp.bool(),
        }),
        8 => json!({"type": "ack", "seq": inp.u8() % 16}),
        9 => json!({"type": "query_online", "id": id, "peers": peers(inp)}),
        10 => json!({"type": "subscribe", "id": id, "peers": peers(inp)}),
        _ => json!({"type": "unsubscribe", "id": id, "peers": peers(inp)}),
    };
    Bytes::from(serde_json::to_vec(&v).expect("json"))
}

/// The client frames of channels, attributes and invitations.
fn channel_or_invitation_request(inp: &mut Input, id: u8, sel: u8) -> Value {
    let channel_field = |inp: &mut Input| json!(channel(inp));
    match sel % 14 {
        0 => {
            let mut v = json!({"type": "join", "id": id, "channel": channel_field(inp)});
            if inp.bool() {
                v["resume"] =
                    json!({"epoch": u64::from(inp.u8() % 3), "cseq": u64::from(inp.u8() % 8)});
            }
            v
        }
        1 => json!({"type": "leave", "id": id, "channel": channel_field(inp)}),
        2 => json!({"type": "channel_message", "id": id, "channel": channel_field(inp),
                    "msg_id": inp.u8() % 8, "message": message_json(inp)}),
        3 => json!({"type": "get_members", "id": id, "channel": channel_field(inp)}),
        4 => {
            let n = match inp.u8() % 8 {
                0 => 33,
                n => usize::from(n % 4),
            };
            let channels: Vec<Value> = (0..n).map(|_| channel_field(inp)).collect();
            json!({"type": "get_member_count", "id": id, "channels": channels})
        }
        5 => json!({"type": "user_attrs", "id": id, "op": attr_op(inp),
                    "attributes": attr_map(inp), "keys": attr_keys(inp)}),
        6 => {
            let mut v = json!({"type": "get_user_attrs", "id": id, "user": uid(inp).as_str()});
            if inp.bool() {
                v["keys"] = json!(attr_keys(inp));
            }
            v
        }
        7 => json!({"type": "channel_attrs", "id": id, "channel": channel_field(inp),
                    "op": attr_op(inp), "attributes": attr_map(inp), "keys": attr_keys(inp),
                    "notify": inp.bool()}),
        8 => {
            let mut v =
                json!({"type": "get_channel_attrs", "id": id, "channel": channel_field(inp)});
            if inp.bool() {
                v["keys"] = json!(attr_keys(inp));
            }
            v
        }
        9 => {
            let content = match inp.u8() % 4 {
                0 => "x".repeat(rtm_proto::invitation::MAX_CONTENT_BYTES + 1),
                _ => String::from_utf8_lossy(inp.bytes(16)).into_owned(),
            };
            json!({"type": "invite", "id": id, "invitation": u64::from(inp.u8() % 8),
                   "callee": uid(inp).as_str(), "content": content,
                   "channel_id": String::from_utf8_lossy(inp.bytes(8)).into_owned()})
        }
        10 => json!({"type": "invitation_ack", "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 8)}),
        11 => json!({"type": "invitation_answer", "id": id, "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 8), "accept": inp.bool(),
                     "response": String::from_utf8_lossy(inp.bytes(16)).into_owned()}),
        12 => json!({"type": "invitation_cancel", "id": id, "invitation": u64::from(inp.u8() % 8)}),
        _ => {
            let local: Vec<u64> = (0..inp.u8() % 3).map(|_| u64::from(inp.u8() % 8)).collect();
            let remote: Vec<Value> = (0..inp.u8() % 3)
                .map(
                    |_| json!({"caller": uid(inp).as_str(), "invitation": u64::from(inp.u8() % 8)}),
                )
                .collect();
            json!({"type": "invitation_sync", "id": id, "local": local, "remote": remote})
        }
    }
}

/// A `Server` fed arbitrary inputs from a small set of connection ids.
pub fn server_inputs(data: &[u8]) {
    let mut inp = Input::new(data);
    let extended = inp.prefix(EXTENDED);
    let seed = inp.u64();
    let cfg = ServerConfig {
        max_unacked: 1 + inp.u8() as usize % 8,
        offline_per_user: 1 + inp.u8() as usize % 8,
        offline_total: 1 + inp.u8() as usize % 32,
        dedup_bytes: 256 + inp.u8() as usize * 64,
        ..ServerConfig::default()
    };
    let (per_user, total) = (cfg.offline_per_user, cfg.offline_total);
    let mut now = 0u64;
    let mut s = Server::new(cfg, seed, Timestamp::from_millis(now), 1_700_000_000_000);
    // Connection id -> open (the server knows it). Ids are reused only once forgotten.
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    let mut sids: Vec<String> = Vec::new();
    let mut steps = 0;
    while !inp.is_empty() && steps < 4096 {
        steps += 1;
        let conn = u64::from(inp.u8() % 4);
        let is_open = open.get(&conn).copied().unwrap_or(false);
        let ts = Timestamp::from_millis(now);
        let mut ticked = false;
        let op = inp.u8() % 8;
        if debug() {
            eprintln!("{now:>8} op {op} conn {conn}");
        }
        match op {
            0 => {
                if !is_open {
                    open.insert(conn, true);
                    // One source for all: the per-source login limit is on the path.
                    let source = core::net::IpAddr::from([10, 0, 0, 1]);
                    s.handle_input(ts, ServerInput::Opened(ConnId(conn), Some(source)));
                }
            }
            1 => {
                if is_open {
                    open.insert(conn, false);
                    s.handle_input(ts, ServerInput::Closed(ConnId(conn)));
                }
            }
            2 => {
                if is_open {
                    let b = Bytes::copy_from_slice(inp.bytes(256));
                    s.handle_input(ts, ServerInput::Frame(ConnId(conn), b));
                }
            }
            3..=5 => {
                if is_open {
                    let f = if extended {
                        client_frame_ext(&mut inp, &sids)
                    } else {
                        client_frame(&mut inp, &sids)
                    };
                    if debug() {
                        eprintln!("{now:>8} server <- c{conn} {}", String::from_utf8_lossy(&f));
                    }
                    s.handle_input(ts, ServerInput::Frame(ConnId(conn), f));
                }
            }
            6 => {
                now += match inp.u8() % 4 {
                    0 => u64::from(inp.u8()),
                    1 => u64::from(inp.u16()),
                    2 => 6_001,
                    _ => 30_001,
                };
                s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
                ticked = true;
            }
            _ => {
                if let Some(d) = s.poll_timeout() {
                    now = now.max(d.as_millis());
                }
                s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
                ticked = true;
            }
        }
        let mut outputs = 0usize;
        while let Some(out) = s.poll_output() {
            outputs += 1;
            assert!(outputs < 100_000, "server output runaway");
            if debug() {
                eprintln!("{now:>8} server -> {out:?}");
            }
            match out {
                ServerOutput::Send { conn, frame } => {
                    assert!(
                        open.get(&conn.0).copied().unwrap_or(false),
                        "server sent on c{} which it does not hold",
                        conn.0
                    );
                    assert!(
                        frame.len() <= MAX_FRAME_BYTES,
                        "server sent a {}-byte frame, over the {MAX_FRAME_BYTES}-byte limit clients enforce",
                        frame.len()
                    );
                    match ServerFrame::decode(&frame) {
                        Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) => {
                            if sids.len() < 16 {
                                sids.push(session);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => panic!("server sent a frame that does not decode: {e}"),
                    }
                }
                ServerOutput::Close { conn, .. } => {
                    assert!(
                        open.get(&conn.0).copied().unwrap_or(false),
                        "server closed c{} which it does not hold",
                        conn.0
                    );
                    open.insert(conn.0, false);
                }
            }
        }
        let st = s.stats();
        let held = open.values().filter(|&&o| o).count();
        assert_eq!(
            st.connections, held,
            "server connection count disagrees with the driver"
        );
        assert!(st.sessions <= 4, "more sessions than user ids");
        assert!(st.channels <= 3, "more channels than channel ids");
        // 4 callers × 8 numbers: a record per (caller, number), however often resent.
        assert!(
            st.invitations <= 32,
            "invitation records beyond one per invitation"
        );
        assert!(
            st.offline_messages <= per_user * 4,
            "offline store over its per-user bound"
        );
        let _ = total;
        if let Some(d) = s.poll_timeout() {
            let d = d.as_millis();
            assert!(d >= now, "server poll_timeout {d} before now {now}");
            assert!(
                !(ticked && outputs == 0 && d == now),
                "server tick at the deadline made no progress"
            );
        }
    }
}

// ----- sim ----------------------------------------------------------------------------------

/// The whole simulator, with the fuzz bytes choosing the seed, the size and the workload and
/// fault decisions (the seeded generator takes over when the bytes run out).
pub fn sim(data: &[u8]) {
    let mut inp = Input::new(data);
    let seed = inp.u64();
    let clients = 2 + inp.u8() as usize % 7;
    let fault_ms = 5_000 + u64::from(inp.u16() % 20_000);
    let knob_seed = inp.u64();
    let rest = inp.rest();
    let (w, f) = rest.split_at(rest.len() / 2);
    let mut cfg = SimConfig::from_seed(seed, clients);
    cfg.knobs = Knobs::draw(&mut Source::seeded(derive(knob_seed, 7)));
    cfg.fault_ms = fault_ms;
    cfg.relax = relaxations();
    cfg.trace_lines = 200;
    cfg.replay = Some(
        "cargo +nightly fuzz run sim <the crashing input> (fuzz-byte driven: --seed cannot replay it), \
         or put the input in fuzz/corpus/sim/ and run cargo test -p rtm-transport-sim --test corpus_replay"
            .into(),
    );
    let work = Source::bytes(w.to_vec(), derive(seed, 2));
    let faults = Source::bytes(f.to_vec(), derive(seed, 3));
    let r = Sim::with_sources(cfg, work, faults).run();
    if let Some(report) = r.report {
        panic!("simulation failed:\n{report}");
    }
}
