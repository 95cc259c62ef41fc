//! An in-memory world: one server, several clients, zero-latency links, virtual time.
//! Behaviour tests read like protocol stories on top of it.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use rtm_proto::client::Response;
use rtm_proto::client::{ClientConfig, ClientInput, ClientOutput, Event, TransportId};
use rtm_proto::server::{
    ConnId, Record, RecordId, RestoreReport, ServerConfig, ServerInput, ServerOutput, StorageEvent,
    StorageOp,
};
use rtm_proto::{ChannelId, Client, Message, Server, Timestamp, UserId};

pub const T0_UNIX_MS: u64 = 1_750_000_000_000;

/// What the network does to one client's link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    Up,
    /// Frames are silently dropped both ways (a dead network); connects hang.
    Blackhole,
    /// Connects are refused at once.
    Refuse,
    /// Server → client frames are dropped (a one-way partition).
    DropToClient,
    /// Client → server frames are dropped (a one-way partition).
    DropToServer,
    /// Server → client frames are held back, and delivered in order when the mode changes
    /// (a slow path: nothing is lost).
    Stalled,
}

pub struct World {
    pub now: Timestamp,
    pub server: Server,
    pub clients: Vec<Client>,
    pub events: Vec<Vec<Event>>,
    modes: Vec<LinkMode>,
    /// (client, transport) ↔ conn
    conn_of: BTreeMap<(usize, TransportId), ConnId>,
    owner: BTreeMap<ConnId, (usize, TransportId)>,
    next_conn: u64,
    queue: VecDeque<Delivery>,
    pub server_closes: Vec<(ConnId, u16)>,
    /// `(c, needle)`: client `c`'s network dies (Blackhole) just before its next frame
    /// containing `needle` leaves, so that frame and everything after it are lost.
    pub die_before: Option<(usize, &'static str)>,
    /// Frames held back from each client by [`LinkMode::Stalled`].
    held: Vec<Vec<Delivery>>,
    /// Frames the server sent, outside [`World::raw_frame`], on connections no client owns
    /// (those of [`World::raw_connect`]).
    pub raw_sent: Vec<(ConnId, Bytes)>,
    /// The server's durable store.
    pub disk: Disk,
    /// The server's answers to REST calls ([`World::admin`]), oldest first.
    pub admin_replies: VecDeque<rtm_proto::server::admin::AdminReply>,
    /// What the server asked of its media endpoints, oldest first (`media.rs` plays the
    /// HTTP driver).
    pub media_ops: VecDeque<rtm_proto::server::media::MediaOp>,
    /// The transfers each client ordered, oldest first.
    pub transfers: Vec<VecDeque<rtm_proto::client::TransferOrder>>,
    next_call: u64,
    server_config: ServerConfig,
}

/// What the store does with the server's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Every op is carried out and every write committed at once.
    Instant,
    /// Ops wait for [`World::commit_writes`] or [`World::fail_writes`].
    Held,
}

/// An in-memory store that keeps the driver's contract: ops in order, deletes never fail.
#[derive(Debug)]
pub struct Disk {
    pub mode: StoreMode,
    /// Committed records.
    pub records: BTreeMap<RecordId, Record>,
    /// Ops emitted and not yet carried out ([`StoreMode::Held`]).
    pub queued: Vec<StorageOp>,
    /// Writes and deletes carried out so far.
    pub writes: usize,
    pub deletes: usize,
}

impl Disk {
    /// Carries out `ops` in order; returns the ids of the writes among them.
    fn apply(&mut self, ops: Vec<StorageOp>) -> Vec<RecordId> {
        let mut written = Vec::new();
        for op in ops {
            match op {
                StorageOp::Write(r) => {
                    self.writes += 1;
                    written.push(r.id);
                    self.records.insert(r.id, r);
                }
                StorageOp::Delete(id) => {
                    self.deletes += 1;
                    self.records.remove(&id);
                }
            }
        }
        written
    }
}

enum Delivery {
    ToServer(ServerInput),
    ToClient(usize, ClientInput),
}

impl World {
    pub fn new(n: usize) -> Self {
        Self::with_config(n, ServerConfig::default(), ClientConfig::default())
    }

    /// A world of one client per name, client `i` logged in as `names[i]`.
    pub fn logged_in(names: &[&str]) -> Self {
        let mut w = World::new(names.len());
        for (c, name) in names.iter().enumerate() {
            w.login(c, name);
        }
        w
    }

    pub fn with_config(n: usize, sc: ServerConfig, cc: ClientConfig) -> Self {
        let now = Timestamp::ZERO;
        World {
            now,
            server: Server::new(sc.clone(), 42, now, T0_UNIX_MS),
            clients: (0..n)
                .map(|i| Client::new(cc.clone(), 1000 + i as u64, now, T0_UNIX_MS))
                .collect(),
            events: vec![Vec::new(); n],
            modes: vec![LinkMode::Up; n],
            conn_of: BTreeMap::new(),
            owner: BTreeMap::new(),
            next_conn: 1,
            queue: VecDeque::new(),
            server_closes: Vec::new(),
            die_before: None,
            held: (0..n).map(|_| Vec::new()).collect(),
            raw_sent: Vec::new(),
            disk: Disk {
                mode: StoreMode::Instant,
                records: BTreeMap::new(),
                queued: Vec::new(),
                writes: 0,
                deletes: 0,
            },
            admin_replies: VecDeque::new(),
            media_ops: VecDeque::new(),
            transfers: vec![VecDeque::new(); n],
            next_call: 1,
            server_config: sc,
        }
    }

    /// The store commits everything queued so far and tells the server.
    pub fn commit_writes(&mut self) {
        let ops = std::mem::take(&mut self.disk.queued);
        let ids = self.disk.apply(ops);
        self.server
            .handle_input(self.now, ServerInput::Storage(StorageEvent::Committed(ids)));
        self.settle();
    }

    /// The store fails every queued write (the disk is full) and tells the server; the
    /// queued deletes are carried out (a driver retries them until they succeed).
    pub fn fail_writes(&mut self) {
        let ops = std::mem::take(&mut self.disk.queued);
        let mut failed = Vec::new();
        let deletes = ops
            .into_iter()
            .filter_map(|op| match op {
                StorageOp::Write(r) => {
                    failed.push(r.id);
                    None
                }
                delete => Some(delete),
            })
            .collect();
        self.disk.apply(deletes);
        self.server
            .handle_input(self.now, ServerInput::Storage(StorageEvent::Failed(failed)));
        self.settle();
    }

    /// The server process dies (`kill -9`: what the store had not committed is lost) and
    /// a new one starts on the same store; every client sees its connection drop.
    pub fn restart_server(&mut self) -> RestoreReport {
        self.disk.queued.clear();
        let unix_ms = T0_UNIX_MS + self.now.as_millis();
        self.server = Server::new(self.server_config.clone(), 43, self.now, unix_ms);
        let report = self.server.restore(self.disk.records.values().cloned());
        let links: Vec<_> = std::mem::take(&mut self.owner).into_iter().collect();
        self.conn_of.clear();
        for (_, (c, t)) in links {
            self.queue
                .push_back(Delivery::ToClient(c, ClientInput::Closed(t)));
        }
        self.settle();
        report
    }

    /// Sets what the network does to client `c`. Leaving a mode that dropped frames resets
    /// the client's links: over TCP, lost frames mean a dead connection, never a gap.
    pub fn set_mode(&mut self, c: usize, mode: LinkMode) {
        let old = std::mem::replace(&mut self.modes[c], mode);
        if old == LinkMode::Stalled && mode != LinkMode::Stalled {
            let held = std::mem::take(&mut self.held[c]);
            self.queue.extend(held);
            self.settle();
        }
        if matches!(
            old,
            LinkMode::Blackhole | LinkMode::DropToClient | LinkMode::DropToServer
        ) && old != mode
        {
            self.reset_link(c);
        }
    }

    /// Breaks client `c`'s current link: both sides see it close.
    pub fn reset_link(&mut self, c: usize) {
        let links: Vec<_> = self
            .conn_of
            .iter()
            .filter(|((o, _), _)| *o == c)
            .map(|(k, v)| (*k, *v))
            .collect();
        for ((_, t), conn) in links {
            self.conn_of.remove(&(c, t));
            self.owner.remove(&conn);
            self.queue
                .push_back(Delivery::ToServer(ServerInput::Closed(conn)));
            self.queue
                .push_back(Delivery::ToClient(c, ClientInput::Closed(t)));
        }
        self.settle();
    }

    /// Takes and returns the events client `c` produced so far, without `Response`s
    /// unless `with_responses`.
    pub fn take_events(&mut self, c: usize) -> Vec<Event> {
        std::mem::take(&mut self.events[c])
    }

    /// Runs every queued delivery and output until nothing moves.
    pub fn settle(&mut self) {
        loop {
            self.drain_outputs();
            let Some(d) = self.queue.pop_front() else {
                break;
            };
            match d {
                Delivery::ToServer(input) => self.server.handle_input(self.now, input),
                Delivery::ToClient(c, input) => self.clients[c].handle_input(self.now, input),
            }
        }
    }

    /// Carries one server output to the client that owns the connection, as its link's mode
    /// allows, or keeps it for the raw connection it was sent to.
    fn route(&mut self, o: ServerOutput) {
        match o {
            ServerOutput::Send { conn, frame } => {
                if let Some(&(c, t)) = self.owner.get(&conn) {
                    let d = Delivery::ToClient(c, ClientInput::Frame(t, frame));
                    match self.modes[c] {
                        LinkMode::Up | LinkMode::DropToServer => self.queue.push_back(d),
                        LinkMode::Stalled => self.held[c].push(d),
                        _ => {}
                    }
                } else {
                    self.raw_sent.push((conn, frame));
                }
            }
            ServerOutput::Close { conn, code, .. } => {
                self.server_closes.push((conn, code));
                if let Some((c, t)) = self.owner.remove(&conn) {
                    self.conn_of.remove(&(c, t));
                    self.queue
                        .push_back(Delivery::ToClient(c, ClientInput::Closed(t)));
                }
            }
            ServerOutput::Storage(op) => match self.disk.mode {
                StoreMode::Held => self.disk.queued.push(op),
                StoreMode::Instant => {
                    let ids = self.disk.apply(vec![op]);
                    if !ids.is_empty() {
                        let done = ServerInput::Storage(StorageEvent::Committed(ids));
                        self.queue.push_back(Delivery::ToServer(done));
                    }
                }
            },
            ServerOutput::AdminReply(reply) => self.admin_replies.push_back(reply),
            ServerOutput::Media(op) => self.media_ops.push_back(op),
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(o) = self.server.poll_output() {
            self.route(o);
        }
        for c in 0..self.clients.len() {
            while let Some(o) = self.clients[c].poll_output() {
                match o {
                    ClientOutput::Connect(t) => match self.modes[c] {
                        LinkMode::Up
                        | LinkMode::DropToClient
                        | LinkMode::DropToServer
                        | LinkMode::Stalled => {
                            let conn = ConnId(self.next_conn);
                            self.next_conn += 1;
                            self.conn_of.insert((c, t), conn);
                            self.owner.insert(conn, (c, t));
                            self.queue.push_back(Delivery::ToServer(ServerInput::Opened(
                                conn,
                                Some(client_address(c)),
                            )));
                            self.queue
                                .push_back(Delivery::ToClient(c, ClientInput::Opened(t)));
                        }
                        LinkMode::Refuse => self
                            .queue
                            .push_back(Delivery::ToClient(c, ClientInput::Closed(t))),
                        LinkMode::Blackhole => {}
                    },
                    ClientOutput::Send(t, frame) => {
                        if let Some((dc, needle)) = self.die_before {
                            let hit = frame.windows(needle.len()).any(|w| w == needle.as_bytes());
                            if dc == c && hit {
                                self.die_before = None;
                                self.modes[c] = LinkMode::Blackhole;
                            }
                        }
                        if let Some(&conn) = self.conn_of.get(&(c, t)) {
                            if matches!(
                                self.modes[c],
                                LinkMode::Up | LinkMode::DropToClient | LinkMode::Stalled
                            ) {
                                self.queue
                                    .push_back(Delivery::ToServer(ServerInput::Frame(conn, frame)));
                            }
                        }
                    }
                    ClientOutput::Close(t, _) => {
                        if let Some(conn) = self.conn_of.remove(&(c, t)) {
                            self.owner.remove(&conn);
                            self.queue
                                .push_back(Delivery::ToServer(ServerInput::Closed(conn)));
                        }
                    }
                    ClientOutput::Event(e) => self.events[c].push(e),
                    ClientOutput::Transfer(order) => self.transfers[c].push_back(order),
                }
            }
        }
    }

    /// Sends raw bytes to the server on a fresh connection, returns the conn.
    pub fn raw_connect(&mut self) -> ConnId {
        self.raw_connect_from(RAW_ADDRESS)
    }

    /// [`World::raw_connect`] from the given source address.
    pub fn raw_connect_from(&mut self, source: std::net::IpAddr) -> ConnId {
        let conn = ConnId(1_000_000 + self.next_conn);
        self.next_conn += 1;
        self.server
            .handle_input(self.now, ServerInput::Opened(conn, Some(source)));
        conn
    }

    /// Feeds raw bytes as a frame from `conn`; returns what the server answered on it.
    pub fn raw_frame(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<ServerOutput> {
        self.server.handle_input(
            self.now,
            ServerInput::Frame(conn, Bytes::copy_from_slice(bytes)),
        );
        let mut out = Vec::new();
        let mut others = Vec::new();
        while let Some(o) = self.server.poll_output() {
            let mine = match &o {
                ServerOutput::Send { conn: c, .. } | ServerOutput::Close { conn: c, .. } => {
                    *c == conn
                }
                ServerOutput::Storage(_) | ServerOutput::AdminReply(_) | ServerOutput::Media(_) => {
                    false
                }
            };
            if mine {
                out.push(o)
            } else {
                others.push(o)
            }
        }
        // Outputs for others go the normal way.
        for o in others {
            self.route(o);
        }
        for o in &out {
            if let ServerOutput::Close { conn, code, .. } = o {
                self.server_closes.push((*conn, *code));
            }
        }
        self.settle();
        out
    }

    /// Advances virtual time by `ms`, firing every deadline on the way.
    pub fn advance(&mut self, ms: u64) {
        let end = Timestamp::from_millis(self.now.as_millis() + ms);
        loop {
            self.settle();
            let mut next = self.server.poll_timeout();
            for c in &self.clients {
                if let Some(t) = c.poll_timeout() {
                    next = Some(next.map_or(t, |n: Timestamp| n.min(t)));
                }
            }
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.server.handle_input(self.now, ServerInput::Tick);
                    for c in 0..self.clients.len() {
                        self.clients[c].handle_input(self.now, ClientInput::Tick);
                    }
                }
                _ => break,
            }
        }
        self.now = end;
        self.server.handle_input(self.now, ServerInput::Tick);
        for c in 0..self.clients.len() {
            self.clients[c].handle_input(self.now, ClientInput::Tick);
        }
        self.settle();
    }

    /// Logs client `c` in as `uid` and settles; panics unless it succeeded.
    pub fn login(&mut self, c: usize, uid: &str) {
        let now = self.now;
        self.clients[c]
            .login(now, uid, None)
            .expect("login accepted locally");
        self.settle();
        assert_eq!(
            self.clients[c].connection_state(),
            rtm_proto::ConnectionState::Connected,
            "client {c} failed to log in: {:?}",
            self.events[c]
        );
        self.events[c].clear();
    }

    /// The response to `request` among client `c`'s events (removing it).
    pub fn response(
        &mut self,
        c: usize,
        request: rtm_proto::RequestId,
    ) -> Option<rtm_proto::Response> {
        let pos = self.events[c]
            .iter()
            .position(|e| matches!(e, Event::Response { request: r, .. } if *r == request))?;
        match self.events[c].remove(pos) {
            Event::Response { response, .. } => Some(response),
            _ => unreachable!(),
        }
    }
}

impl World {
    /// Hands the server a REST call (`method` on `path`, with `query`, an `Authorization`
    /// header, a body) and settles; its id, to find the answer with [`World::admin_reply`].
    pub fn admin_call(
        &mut self,
        method: rtm_proto::server::admin::Method,
        path: &str,
        query: &str,
        auth: Option<&str>,
        body: &str,
    ) -> rtm_proto::server::admin::AdminCallId {
        let id = rtm_proto::server::admin::AdminCallId(self.next_call);
        self.next_call += 1;
        let call = rtm_proto::server::admin::AdminCall {
            id,
            method,
            path: path.to_string(),
            query: query.to_string(),
            authorization: auth.map(str::to_string),
            body: Bytes::copy_from_slice(body.as_bytes()),
        };
        self.server.handle_input(self.now, ServerInput::Admin(call));
        self.settle();
        id
    }

    /// The answer to call `id`, if it has come (taken from [`World::admin_replies`]);
    /// panics if it came twice.
    pub fn admin_reply(
        &mut self,
        id: rtm_proto::server::admin::AdminCallId,
    ) -> Option<rtm_proto::server::admin::AdminReply> {
        let pos = self.admin_replies.iter().position(|r| r.id == id)?;
        let reply = self.admin_replies.remove(pos);
        assert!(
            self.admin_replies.iter().all(|r| r.id != id),
            "call {id:?} answered twice"
        );
        reply
    }

    /// A REST call answered at once: its answer.
    pub fn admin(
        &mut self,
        method: rtm_proto::server::admin::Method,
        path: &str,
        query: &str,
        auth: Option<&str>,
        body: &str,
    ) -> rtm_proto::server::admin::AdminReply {
        let id = self.admin_call(method, path, query, auth, body);
        self.admin_reply(id)
            .unwrap_or_else(|| panic!("{method:?} {path} not answered at once"))
    }
}

/// A channel id of the stories (valid by construction).
/// The source address of client `c`'s connections: one address per client.
pub fn client_address(c: usize) -> std::net::IpAddr {
    std::net::IpAddr::from([10, 0, (c >> 8) as u8, c as u8])
}

/// The source address of raw connections ([`World::raw_connect`]).
pub const RAW_ADDRESS: std::net::IpAddr =
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, 1));

pub fn ch(s: &str) -> ChannelId {
    ChannelId::new(s).unwrap()
}

/// A user id of the stories (valid by construction).
pub fn uid(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

/// Client `c` joins `channel`; panics unless the server confirmed it.
pub fn join(w: &mut World, c: usize, channel: &str) {
    let req = w.clients[c].join(w.now, &ch(channel)).unwrap();
    w.settle();
    assert_eq!(w.response(c, req), Some(Response::Join(Ok(()))));
}

/// Client `c` says `text` in `channel`; panics unless the server accepted it.
pub fn say(w: &mut World, c: usize, channel: &str, text: &str) {
    let req = w.clients[c]
        .send_channel_message(w.now, &ch(channel), Message::text(text))
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(c, req),
        Some(Response::SendChannelMessage(Ok(())))
    );
}

// ----- hand-written clients on raw connections -----

/// The close code among `out`, if the server closed.
pub fn close_code(out: &[ServerOutput]) -> Option<u16> {
    out.iter().find_map(|o| match o {
        ServerOutput::Close { code, .. } => Some(*code),
        _ => None,
    })
}

pub const APP: &str = "00000000000000000000000000000000";

/// Logs `name` in on a raw connection.
pub fn raw_login(w: &mut World, name: &str) -> ConnId {
    let conn = w.raw_connect();
    let login = format!(r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"{name}"}}"#);
    let out = w.raw_frame(conn, login.as_bytes());
    assert!(
        out.iter()
            .any(|o| matches!(o, ServerOutput::Send { frame, .. } if frame.starts_with(br#"{"type":"login_ok""#))),
        "{out:?}"
    );
    conn
}

/// Sends `frame` on `conn`, settles, and returns every frame the server sent on `conn`
/// since the last call, as text.
pub fn say_raw(w: &mut World, conn: ConnId, frame: &str) -> Vec<String> {
    let mut got: Vec<String> = w
        .raw_frame(conn, frame.as_bytes())
        .into_iter()
        .filter_map(|o| match o {
            ServerOutput::Send { frame, .. } => Some(String::from_utf8(frame.to_vec()).unwrap()),
            _ => None,
        })
        .collect();
    got.extend(drain_raw(w, conn));
    got
}

/// Frames the server sent on `conn` outside a `raw_frame` call (receipts that came later).
pub fn drain_raw(w: &mut World, conn: ConnId) -> Vec<String> {
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut w.raw_sent)
        .into_iter()
        .partition(|(c, _)| *c == conn);
    w.raw_sent = rest;
    mine.into_iter()
        .map(|(_, f)| String::from_utf8(f.to_vec()).unwrap())
        .collect()
}

/// Events rendered as short strings, so a test states the story it expects in one line.
pub mod story {
    use rtm_proto::client::Event;
    use rtm_proto::{ChannelEvent, LocalInvitationEvent, Message, RemoteInvitationEvent};

    /// A channel event: `+bob` joined, `-bob` left, `bob: hi` said, `count 3`; `None` for
    /// anything else.
    pub fn channel(e: &Event) -> Option<String> {
        let Event::Channel { event, .. } = e else {
            return None;
        };
        match event {
            ChannelEvent::MemberJoined { member_id, .. } => Some(format!("+{member_id}")),
            ChannelEvent::MemberLeft { member_id, .. } => Some(format!("-{member_id}")),
            ChannelEvent::Message {
                member_id,
                message: Message::Text { text },
                ..
            } => Some(format!("{member_id}: {text}")),
            ChannelEvent::MemberCountUpdated { count, .. } => Some(format!("count {count}")),
            _ => None,
        }
    }

    /// An invitation event, from either side: `received by peer`, `accepted: <response>`,
    /// `invited by alice: <content>`, `failure PeerOffline`...; `None` for anything else.
    pub fn invitation(e: &Event) -> Option<String> {
        match e {
            Event::LocalInvitation { event, .. } => Some(match event {
                LocalInvitationEvent::ReceivedByPeer => "received by peer".to_string(),
                LocalInvitationEvent::Accepted { response, .. } => format!("accepted: {response}"),
                LocalInvitationEvent::Refused { response, .. } => format!("refused: {response}"),
                LocalInvitationEvent::Canceled => "canceled".to_string(),
                LocalInvitationEvent::Failure { reason, .. } => format!("failure {reason:?}"),
                _ => return None,
            }),
            Event::RemoteInvitation { event, .. } => Some(match event {
                RemoteInvitationEvent::Received {
                    caller_id, content, ..
                } => format!("invited by {caller_id}: {content}"),
                RemoteInvitationEvent::Accepted => "accepted".to_string(),
                RemoteInvitationEvent::Refused => "refused".to_string(),
                RemoteInvitationEvent::Canceled { content, .. } => format!("canceled: {content}"),
                RemoteInvitationEvent::Failure { reason, .. } => format!("failure {reason:?}"),
                _ => return None,
            }),
            _ => None,
        }
    }
}

impl World {
    /// Client `c`'s events since the last take, rendered by `render` (see [`story`]), the
    /// others dropped.
    pub fn story(&mut self, c: usize, render: fn(&Event) -> Option<String>) -> Vec<String> {
        self.take_events(c).iter().filter_map(render).collect()
    }
}

/// The connection state changes client `c` was told of since its events were last taken.
pub fn states(
    w: &mut World,
    c: usize,
) -> Vec<(
    rtm_proto::client::ConnectionState,
    rtm_proto::client::ConnectionChangeReason,
)> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::ConnectionStateChanged { state, reason } => Some((state, reason)),
            _ => None,
        })
        .collect()
}
