//! The server state machine.
//!
//! # Contract
//!
//! A `Server` owns every session, subscription and stored message of one app id. It is
//! driven exactly like [`crate::client::Client`]:
//!
//! * [`Server::handle_input`] with each thing that happens: a connection opened, a whole text
//!   frame received, a connection closed, or a timer tick — always with the current
//!   monotonic time, which must never go backwards.
//! * [`Server::poll_output`] until it returns `None`, after **every** `handle_input`. Outputs are
//!   in order: a `Send` followed by a `Close` for the same connection means "flush the frame,
//!   then close". After the core emits `Close` it has forgotten the connection; a later
//!   `Closed` input for it is ignored.
//! * [`Server::poll_timeout`] for the next moment a `Tick` has work. While outputs are still
//!   queued it returns the last `now`.
//!
//! Peer input never panics the server: a malformed, oversized or out-of-sequence frame closes
//! that one connection with a documented code (see [`crate::wire::close`]), and nothing that
//! was already accepted from it is lost — its session stays resumable.
//!
//! # Where each behaviour lives
//!
//! * `sessions`, `liveness`, `tokens`, `logins` — login and resume, presence liveness
//!   (§2.3), token expiry (§3.5), login limits; `limits` — the frame screen and a budget for
//!   every request kind.
//! * `stream` — a session's delivery stream (`Stream`: positions, window, acks), and
//!   `delivery` — pushing to a user by id, the stream's bounds and overflow policy.
//! * `peers`, `resends`, `offline` — peer messages (§4.3), the memory that makes a resend
//!   answer the first outcome, and the offline store (§4.3.4); `storage` (the driver's
//!   contract) and `durable` — the records that keep what was answered `cached`.
//! * `presence` (§4.4), `attributes` (§4.5, §4.6).
//! * `channels` (§4.7), `members` (counts and member lists, §4.8), `history` (the replay
//!   window, §2.6), `fanout` (channel deliveries and the catch-up of lagging members).
//! * `invitation` — one invitation as a `Phase` and a pure `step`; `invitations` — the
//!   records, their deadlines and pushes (§4.10).
//! * `timer` — every timer as one `ServerTimer` and its dispatch; `observe` — a read-only
//!   view for tests and the simulator; `config`.
//! * `admin` — the operator's REST API: `auth`, `routes`, `rates`, `pending` (calls waiting
//!   for an outcome), `send` (sending as a user), `reads`, `events` (the user and channel
//!   event logs), `bans` (ban rules and what they do), `client_logs` (uploaded log lines);
//!   `metrics` — the counters and gauges a driver exports.

pub mod admin;
mod attributes;
pub(crate) mod channels;
mod config;
mod delivery;
mod durable;
mod fanout;
mod history;
mod invitation;
mod invitations;
mod keyed;
mod limits;
mod liveness;
mod logins;
pub mod media;
mod members;
pub mod metrics;
mod observe;
mod offline;
mod peers;
pub(crate) mod presence;
mod resends;
mod sessions;
pub mod storage;
mod stream;
mod timer;
mod tokens;

use core::net::IpAddr;
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::ids::{ChannelId, UserId};
use crate::rng::Rng;
use crate::time::{Timestamp, WallClock};
use crate::timers::TimerQueue;
use crate::wire::{close, ClientFrame, Notice, Reply};

pub use config::{AdminLimits, MediaLimits, ServerConfig, DEFAULT_APP_ID};

use channels::Channel;
use durable::Durable;
use invitations::Invitations;
use logins::LoginSources;
use offline::OfflineStore;
use presence::Presence;
use resends::Resends;
use sessions::Tombstones;

pub use observe::Observer;
pub use storage::{Record, RecordId, RecordKind, RestoreReport, StorageEvent, StorageOp};
use timer::{ServerTimer, OFFLINE_SWEEP_EVERY};

/// A connection, named by the driver. Ids must not be reused while the core knows them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// What happens to the server.
#[derive(Debug, Clone)]
pub enum ServerInput {
    /// A transport connection was accepted, from this source address if the transport has
    /// one (logins are limited per source).
    Opened(ConnId, Option<IpAddr>),
    /// One whole WebSocket text message arrived on `ConnId`.
    Frame(ConnId, Bytes),
    /// The connection closed or failed.
    Closed(ConnId),
    /// Time passed; run due timers.
    Tick,
    /// Storage work finished (see [`storage`]).
    Storage(StorageEvent),
    /// A request of the operator's REST API (see [`admin`]).
    Admin(admin::AdminCall),
    /// A step of an upload or download on the media endpoints (see [`media`]).
    Media(media::MediaCall),
}

/// What the server asks its driver to do. Deliberately exhaustive: a driver must carry out
/// every output, so a new one must not compile until it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send one text frame. Fan-outs share the same `Bytes`.
    Send { conn: ConnId, frame: Bytes },
    /// Flush what was sent before, then close with `code` and `reason`.
    Close {
        conn: ConnId,
        code: u16,
        reason: String,
    },
    /// Storage work, carried out in order (see [`storage`] for the contract).
    Storage(StorageOp),
    /// The answer to an [`admin::AdminCall`].
    AdminReply(admin::AdminReply),
    /// What to do with an upload, a download or a media file (see [`media`]).
    Media(media::MediaOp),
}

#[derive(Debug, Clone)]
enum ConnState {
    AwaitingLogin {
        source: Option<IpAddr>,
    },
    /// Logged in; `source` stays for address bans (`admin/bans.rs`).
    Bound {
        uid: UserId,
        epoch: u64,
        source: Option<IpAddr>,
    },
}

/// Counters for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub connections: usize,
    pub sessions: usize,
    pub offline_messages: usize,
    /// What the offline messages count against `offline_total_bytes`.
    pub offline_bytes: usize,
    pub subscriptions: usize,
    pub channels: usize,
    /// What all channel attributes count against `channel_attributes_total`.
    pub channel_attribute_bytes: usize,
    /// Encoded bytes of every channel's history (against `channel_history_total`).
    pub channel_history_bytes: usize,
    pub invitations: usize,
    /// What the invitation records count against `invitations_total_bytes`.
    pub invitation_bytes: usize,
    /// Source addresses remembered for the login limit.
    pub login_sources: usize,
    /// Sends remembered to recognise resends, and the bytes counted for them.
    pub remembered_sends: usize,
    pub remembered_send_bytes: usize,
    /// Record writes issued and not yet committed.
    pub pending_writes: usize,
    /// Live media, and their bytes with those reserved by uploads under way.
    pub media_files: usize,
    pub media_bytes: u64,
    /// Unused media tickets, and uploads and downloads under way.
    pub media_tickets: usize,
    pub media_transfers: usize,
}

/// The RTM server core. See the module documentation for the driving contract.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    rng: Rng,
    wall: WallClock,
    now: Timestamp,
    conns: BTreeMap<ConnId, ConnState>,
    /// Hashed (`keyed.rs`): looked up about ten times per routed message.
    sessions: sessions::Sessions,
    channels: BTreeMap<ChannelId, Channel>,
    /// What every channel's attributes count together (see `Channel::attribute_bytes`).
    channel_attr_bytes: usize,
    /// Encoded bytes of every channel's history (`history.rs`).
    history_bytes: usize,
    invitations: Invitations,
    login_sources: LoginSources,
    next_epoch: u64,
    offline: OfflineStore,
    durable: Durable,
    resends: Resends,
    presence: Presence,
    tombstones: Tombstones,
    /// Sessions whose stream went past its bound and the reserve for kept pushes during the
    /// current input; ended once it is handled (`Server::end_overflowed`).
    overflowed: std::collections::BTreeSet<UserId>,
    timers: TimerQueue<ServerTimer>,
    out: VecDeque<ServerOutput>,
    /// The REST API's rates and waiting calls (`admin`).
    admin: admin::AdminPlane,
    /// Ban rules (`admin/bans.rs`).
    bans: admin::bans::Bans,
    /// The event logs of the REST API (`admin/events.rs`).
    user_events: admin::events::EventLog<admin::events::UserEvent>,
    channel_events: admin::events::EventLog<admin::events::ChannelEvent>,
    /// Uploaded client log lines (`admin/client_logs.rs`).
    client_logs: admin::client_logs::ClientLogs,
    /// Counters for [`Server::metrics`].
    counters: metrics::Counters,
    /// Media tickets, transfers and the media kept (`media`).
    media: media::MediaPlane,
}

/// `reason` cut at a character boundary to at most [`close::MAX_REASON_BYTES`].
pub(crate) fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(close::MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

impl Server {
    /// A server at monotonic time `now`, when the wall clock reads `unix_ms`.
    pub fn new(config: ServerConfig, seed: u64, now: Timestamp, unix_ms: u64) -> Self {
        let mut timers = TimerQueue::default();
        timers.schedule(
            now.saturating_add(OFFLINE_SWEEP_EVERY),
            ServerTimer::OfflineSweep,
        );
        timers.schedule(
            now.saturating_add(history::SWEEP_EVERY),
            ServerTimer::HistorySweep,
        );
        // Event cursors continue across restarts (see `admin/events.rs`); a clock past the
        // year 2109 is taken as then, so cursors stay below 2^53 (exact in JSON numbers).
        let first_cursor = (unix_ms.min(1 << 42) * 1024).max(1);
        let limits = &config.admin;
        let user_events = admin::events::EventLog::new(
            first_cursor,
            limits.event_log_events,
            limits.event_log_bytes,
        );
        let channel_events = admin::events::EventLog::new(
            first_cursor,
            limits.event_log_events,
            limits.event_log_bytes,
        );
        Server {
            admin: Default::default(),
            bans: Default::default(),
            user_events,
            channel_events,
            client_logs: Default::default(),
            counters: Default::default(),
            media: media::MediaPlane::new(seed),
            offline: OfflineStore::new(
                offline::OfflineLimits {
                    per_user: config.offline_per_user,
                    user_bytes: config.offline_user_bytes,
                    total: config.offline_total,
                    total_bytes: config.offline_total_bytes,
                },
                config.offline_retention,
            ),
            durable: Durable::default(),
            resends: Resends::new(
                config.dedup_window,
                config.dedup_bytes,
                keyed::KeyedState::new(seed, "resends"),
            ),
            login_sources: LoginSources::new(config.logins_per_source, config.login_sources),
            config,
            rng: Rng::new(seed),
            wall: WallClock::new(now, unix_ms),
            now,
            conns: BTreeMap::new(),
            sessions: keyed::KeyedState::new(seed, "sessions").map(),
            channels: BTreeMap::new(),
            channel_attr_bytes: 0,
            history_bytes: 0,
            invitations: Invitations::default(),
            next_epoch: 1,
            presence: Presence::default(),
            tombstones: Tombstones::default(),
            overflowed: Default::default(),
            timers,
            out: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Feeds one input at `now`. Then drain [`Server::poll_output`].
    pub fn handle_input(&mut self, now: Timestamp, input: ServerInput) {
        debug_assert!(now >= self.now, "time went backwards");
        self.now = self.now.max(now);
        self.resends.expire(self.now);
        match input {
            ServerInput::Opened(conn, source) => {
                self.conns.insert(conn, ConnState::AwaitingLogin { source });
                self.timers.schedule(
                    self.now.saturating_add(self.config.login_timeout),
                    ServerTimer::LoginDeadline(conn),
                );
            }
            ServerInput::Frame(conn, bytes) => self.on_frame(conn, &bytes),
            ServerInput::Closed(conn) => self.forget_conn(conn),
            ServerInput::Tick => self.run_timers(),
            ServerInput::Storage(event) => self.on_storage(event),
            ServerInput::Admin(call) => self.on_admin(call),
            ServerInput::Media(call) => self.on_media(call),
        }
        self.end_overflowed();
    }

    /// The next output, if any. Drain to `None` after every input.
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.out.pop_front()
    }

    /// When the next `Tick` has work; the last `now` while outputs are queued.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if !self.out.is_empty() {
            return Some(self.now);
        }
        self.timers.next_deadline()
    }

    /// Current counters.
    pub fn stats(&self) -> ServerStats {
        let (media_files, media_bytes, media_tickets, media_transfers) = self.media.counts();
        ServerStats {
            media_files,
            media_bytes,
            media_tickets,
            media_transfers,
            connections: self.conns.len(),
            sessions: self.sessions.len(),
            offline_messages: self.offline.len(),
            offline_bytes: self.offline.bytes(),
            subscriptions: self.presence.len(),
            channels: self.channels.len(),
            channel_attribute_bytes: self.channel_attr_bytes,
            channel_history_bytes: self.history_bytes,
            invitations: self.invitations.len(),
            invitation_bytes: self.invitations.bytes(),
            login_sources: self.login_sources.len(),
            remembered_sends: self.resends.len(),
            remembered_send_bytes: self.resends.bytes(),
            pending_writes: self.durable.pending(),
        }
    }

    /// Closes every connection with `GOING_AWAY` (graceful shutdown). Sessions stay, so
    /// clients resume against the next server if it keeps state, or log in afresh.
    pub fn shutdown(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(conn, close::GOING_AWAY, "server shutting down");
        }
    }

    /// A read-only view of what the server holds, for observers (tests, the simulator's
    /// model, an operator's tools): nothing in it changes the server.
    pub fn observe(&self) -> Observer<'_> {
        Observer { server: self }
    }

    /// Unix milliseconds at `now`.
    fn unix_ms(&self) -> u64 {
        self.wall.unix_ms(self.now)
    }

    /// Answers a request on `conn`.
    fn reply(&mut self, conn: ConnId, reply: Reply) {
        self.send_bytes(conn, reply.encode());
    }

    /// Sends a frame outside the delivery stream; pushes go through `stream.rs`.
    fn notice(&mut self, conn: ConnId, notice: Notice) {
        self.send_bytes(conn, notice.encode());
    }

    fn send_bytes(&mut self, conn: ConnId, frame: Bytes) {
        self.out.push_back(ServerOutput::Send { conn, frame });
    }

    /// Emits a close and forgets the connection (detaching its session). The reason is cut
    /// to the 123 bytes a WebSocket close frame can carry.
    fn close(&mut self, conn: ConnId, code: u16, reason: &str) {
        if self.conns.contains_key(&conn) {
            self.out.push_back(ServerOutput::Close {
                conn,
                code,
                reason: close_reason(reason),
            });
            self.forget_conn(conn);
        }
    }

    fn forget_conn(&mut self, conn: ConnId) {
        if let Some(ConnState::Bound { uid, epoch, .. }) = self.conns.remove(&conn) {
            self.detach(&uid, epoch, conn);
        }
    }

    fn on_frame(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some(state) = self.conns.get(&conn).cloned() else {
            return; // closed by us already; late frames are dropped
        };
        let frame = match ClientFrame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                self.close(conn, e.close_code(), &e.to_string());
                return;
            }
        };
        match (state, frame) {
            (ConnState::AwaitingLogin { source }, ClientFrame::Login(login)) => {
                self.on_login(conn, source, login)
            }
            (ConnState::AwaitingLogin { .. }, _) => {
                self.close(conn, close::OUT_OF_SEQUENCE, "log in first")
            }
            (ConnState::Bound { .. }, ClientFrame::Login(_)) => self.close(
                conn,
                close::OUT_OF_SEQUENCE,
                "already logged in on this connection",
            ),
            (ConnState::Bound { uid, epoch, .. }, frame) => {
                // A logout ends the session: no ONLINE flash for an UNREACHABLE user first.
                if !matches!(frame, ClientFrame::Logout { .. }) {
                    self.touch(&uid, epoch);
                }
                if !self.screen(conn, &uid, epoch, &frame) {
                    return;
                }
                self.on_session_frame(conn, uid, epoch, frame);
            }
        }
    }

    fn on_session_frame(&mut self, conn: ConnId, uid: UserId, epoch: u64, frame: ClientFrame) {
        match frame {
            ClientFrame::Login(_) => unreachable!("handled by on_frame"),
            ClientFrame::Ping {} => self.notice(conn, Notice::Pong {}),
            ClientFrame::Logout { id } => self.on_logout(conn, &uid, epoch, id),
            ClientFrame::RenewToken { id, token } => self.on_renew(conn, &uid, epoch, id, &token),
            ClientFrame::PeerMessage {
                id,
                to,
                msg_id,
                message,
                offline,
            } => self.on_peer_message(conn, &uid, epoch, id, to, msg_id, message, offline),
            ClientFrame::Ack { seq } => self.on_ack(&uid, epoch, seq),
            ClientFrame::QueryOnline { id, peers } => self.on_query_online(conn, id, peers),
            ClientFrame::Subscribe { id, peers, replace } => {
                self.on_subscribe(conn, &uid, id, peers, replace)
            }
            ClientFrame::Unsubscribe { id, peers } => self.on_unsubscribe(conn, &uid, id, peers),
            ClientFrame::Join {
                id,
                channel,
                resume,
            } => self.on_join(conn, &uid, id, channel, resume),
            ClientFrame::Leave { id, channel } => self.on_leave(conn, &uid, id, channel),
            ClientFrame::ChannelMessage {
                id,
                channel,
                msg_id,
                message,
            } => self.on_channel_message(conn, &uid, id, channel, msg_id, message),
            ClientFrame::GetMembers { id, channel } => self.on_get_members(conn, &uid, id, channel),
            ClientFrame::GetMemberCount { id, channels } => {
                self.on_get_member_count(conn, id, channels)
            }
            ClientFrame::UserAttrs {
                id,
                op,
                attributes,
                keys,
            } => self.on_user_attrs(conn, &uid, id, op, attributes, keys),
            ClientFrame::GetUserAttrs { id, user, keys } => {
                self.on_get_user_attrs(conn, id, user, keys)
            }
            ClientFrame::ChannelAttrs {
                id,
                channel,
                op,
                attributes,
                keys,
                notify,
            } => self.on_channel_attrs(conn, &uid, id, channel, op, attributes, keys, notify),
            ClientFrame::GetChannelAttrs { id, channel, keys } => {
                self.on_get_channel_attrs(conn, id, channel, keys)
            }
            ClientFrame::Invite {
                id,
                invitation,
                callee,
                content,
                channel_id,
            } => self.on_invite(conn, &uid, id, invitation, callee, content, channel_id),
            ClientFrame::InvitationAck { caller, invitation } => {
                self.on_invitation_ack(&uid, caller, invitation)
            }
            ClientFrame::InvitationAnswer {
                id,
                caller,
                invitation,
                accept,
                response,
            } => self.on_invitation_answer(conn, &uid, id, caller, invitation, accept, response),
            ClientFrame::InvitationCancel { id, invitation } => {
                self.on_invitation_cancel(conn, &uid, id, invitation)
            }
            ClientFrame::InvitationSync { id, local, remote } => {
                self.on_invitation_sync(conn, &uid, id, local, remote)
            }
            ClientFrame::Logs { lines } => self.on_client_logs(conn, &uid, lines),
            ClientFrame::MediaGrant { id } => self.on_media_grant(conn, &uid, epoch, id),
        }
    }

    fn reply_error(&mut self, conn: ConnId, id: u32, code: u32, message: impl Into<String>) {
        self.reply(
            conn,
            Reply::Error {
                id,
                code,
                message: message.into(),
            },
        );
    }
}
