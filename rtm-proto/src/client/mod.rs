//! The client state machine.
//!
//! # Contract
//!
//! A `Client` is one login session of one user (an Agora `RtmClient`). The driver:
//!
//! * carries out [`ClientOutput::Connect`] by opening a transport (a WebSocket to the server)
//!   and reports [`ClientInput::Opened`] or [`ClientInput::Closed`] with the same
//!   [`TransportId`]; reports every text frame as [`ClientInput::Frame`]; carries out `Send`
//!   and `Close`. Inputs for a transport the core has given up on are ignored, so the driver
//!   never needs to know which transport is current.
//! * calls [`Client::handle_input`] / the command methods, then drains
//!   [`Client::poll_output`] to `None`, then sleeps until [`Client::poll_timeout`] and ticks.
//!
//! Everything protocol lives here: heartbeats, noticing a dead link, reconnecting with
//! jittered backoff forever, resuming the session, resubscribing, resending requests whose
//! answer was lost, deduplicating redelivered messages, rate limits and request timeouts.
//!
//! Commands validate locally and return the §8 error at once without contacting the server
//! (invalid argument, not logged in, too often); otherwise they return a [`RequestId`] and the
//! result arrives as [`Event::Response`] — exactly once per request id.
//!
//! # Where each behaviour lives
//!
//! The `Client` is a router: each part of the protocol is a file named after what it does,
//! with its state in an owned type where it has one, and all of them share one outbox and
//! one timer table keyed by `Timer` (`timer.rs`), so `poll_timeout` is one lookup.
//!
//! * `session` — login, logout, the link's life (§2.3, §2.6), with its states in `link`
//!   (`Phase`, `Link`: each variant holds its own data) and its deadlines in `timer`.
//! * `pending` — what a request waits for (`PendingKind`), the waiting requests with their
//!   ids and deadlines (`Requests`), and how one ends without an answer.
//! * `requests` — one-shot requests: kept encoded until answered, resent verbatim on a new
//!   link (they are idempotent), timed out, answered exactly once.
//! * `replies` — the server's replies, each checked against the request it names, and its
//!   notices (pong, presence, token and kick notices).
//! * `stream` — the delivery stream's end (`Inbox`: positions, acks, dedup of redeliveries)
//!   and the delivery of each push as an event.
//! * `converge` and `resync` — state the server must hold as the record says
//!   (subscriptions, user attributes, channel membership): one `Converge` value each, and
//!   the replace-style corrections built from the record when nothing is in flight.
//! * `peers` (§4.3, §4.4), `channels` (§4.7, §4.8), `attributes` (§4.5, §4.6),
//!   `invitations` (§4.10, §6) and `invitation_sync` — the commands of each part of the API.
//! * `media` (§4.9) — file and image uploads and downloads: tickets, the driver's HTTP
//!   exchanges, progress, timeouts and cancellation.
//! * `events`, `io` — what the application and the driver get; `limiters` — §9.2.

mod attributes;
mod channels;
mod converge;
mod events;
mod invitation_sync;
mod invitations;
mod io;
mod limiters;
mod link;
mod logs;
mod media;
mod peers;
mod pending;
mod replies;
mod requests;
mod resync;
mod session;
mod stream;
mod timer;

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use crate::backoff::Backoff;
use crate::ids::{ChannelId, UserId};
use crate::logs::LogLevel;
use crate::rng::Rng;
use crate::time::{Timestamp, WallClock};
use crate::wire::{ClientFrame, InvitationKey, PeerOnlineState};

pub use attributes::ChannelAttributeOptions;
pub use events::{ChannelEvent, Event, LocalInvitationEvent, RemoteInvitationEvent};
pub use invitations::{InvitationId, LocalInvitation, RemoteInvitation};
pub use io::{ClientConfig, ClientInput, ClientOutput, Response};
pub use link::{ConnectionChangeReason, ConnectionState};
pub use media::{
    MediaDownload, MediaUpload, TransferEnd, TransferOrder, MAX_TRANSFERS, PROGRESS_EVERY,
    TRANSFER_TIMEOUT,
};
pub use peers::SendMessageOptions;
pub use pending::SHORT_TIMEOUT;
pub use session::LOGOUT_DRAIN;

/// One transport attempt, named by the core.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportId(pub u64);

/// Names one command's result ([`Event::Response`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

/// The RTM client core. See the module documentation for the driving contract.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    rng: Rng,
    wall: WallClock,
    now: Timestamp,
    phase: link::Phase,
    uid: Option<UserId>,
    token: Option<String>,
    /// The server session to resume on reconnection.
    session: Option<String>,
    link: link::Link,
    timers: timer::TimerTable,
    next_transport: u64,
    backoff: Backoff,
    /// When the current link last delivered a frame.
    last_rx: Timestamp,
    heartbeat: Duration,
    /// Requests waiting for their answers.
    requests: pending::Requests,
    /// Subscribed peers and their last reported state.
    subscriptions: BTreeMap<UserId, Option<PeerOnlineState>>,
    /// Whether the server holds `subscriptions`, `user_attributes` and each channel's
    /// membership as recorded here (`converge.rs`). A channel has an entry only while a
    /// request of it is in flight or in doubt.
    subscription_sync: converge::Converge,
    user_attr_sync: converge::Converge,
    channel_sync: BTreeMap<ChannelId, converge::Converge>,
    /// The client's end of the delivery stream.
    inbox: stream::Inbox,
    /// Joined (or joining) channels.
    channels: BTreeMap<ChannelId, channels::JoinedChannel>,
    /// Channels the server took this session out of (a `removed` push), so that a `leave`
    /// of one fails with KICKED (§8.7) instead of NOT_IN_CHANNEL.
    removed_channels: channels::RemovedChannels,
    recent_joins: channels::RecentJoins,
    /// The local user's attributes as confirmed by the server.
    user_attributes: BTreeMap<String, String>,
    /// Caller-side invitations by number.
    local_invitations: BTreeMap<u64, invitations::LocalInvitation>,
    /// Invitations created so far (their creation order).
    invitations_created: u64,
    /// Callee-side invitations.
    remote_invitations: BTreeMap<InvitationKey, invitations::RemoteInvitation>,
    /// Names this client instance to the server (random, never 0), with a count of its login
    /// frames, so a delayed stale login is not mistaken for another device.
    instance: u64,
    login_attempts: u64,
    limiters: limiters::Limiters,
    /// Log lines waiting for upload (`enableLogUpload`).
    logs: logs::LogUpload,
    /// File and image uploads and downloads under way (`media.rs`).
    transfers: media::Transfers,
    out: VecDeque<ClientOutput>,
}

impl Client {
    /// A client at `now` whose wall clock reads `unix_ms`; `seed` drives its jitter and
    /// message ids.
    pub fn new(config: ClientConfig, seed: u64, now: Timestamp, unix_ms: u64) -> Self {
        let backoff = Backoff::new(config.backoff_initial, config.backoff_max);
        let heartbeat = config.heartbeat;
        let mut rng = Rng::new(seed);
        let instance = (rng.next_u64() >> 11) | 1;
        let logs = logs::LogUpload::new(config.log_upload, config.log_filter);
        Client {
            config,
            rng,
            wall: WallClock::new(now, unix_ms),
            now,
            phase: link::Phase::Disconnected,
            uid: None,
            token: None,
            session: None,
            link: link::Link::Idle,
            timers: timer::TimerTable::default(),
            next_transport: 1,
            backoff,
            last_rx: now,
            heartbeat,
            requests: Default::default(),
            subscriptions: BTreeMap::new(),
            subscription_sync: Default::default(),
            user_attr_sync: Default::default(),
            channel_sync: BTreeMap::new(),
            removed_channels: Default::default(),
            inbox: Default::default(),
            channels: BTreeMap::new(),
            recent_joins: Default::default(),
            user_attributes: BTreeMap::new(),
            local_invitations: BTreeMap::new(),
            invitations_created: 0,
            remote_invitations: BTreeMap::new(),
            instance,
            login_attempts: 0,
            limiters: Default::default(),
            logs,
            transfers: Default::default(),
            out: VecDeque::new(),
        }
    }

    /// The current connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.phase.state()
    }

    /// The logged-in (or logging-in) user.
    pub fn user_id(&self) -> Option<&UserId> {
        self.uid.as_ref()
    }

    /// Unix ms by this client's wall clock at its latest `now`.
    pub fn unix_ms(&self) -> u64 {
        self.wall.unix_ms(self.now)
    }

    /// Feeds one input at `now`. Then drain [`Client::poll_output`].
    pub fn handle_input(&mut self, now: Timestamp, input: ClientInput) {
        self.advance(now);
        match input {
            ClientInput::Opened(t) => self.on_opened(t),
            ClientInput::Frame(t, bytes) => self.on_frame(t, &bytes),
            ClientInput::Closed(t) => self.on_closed(t),
            ClientInput::Tick => self.on_tick(),
        }
    }

    /// The next output, if any. Drain to `None` after every input and command.
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.out.pop_front()
    }

    /// When the next `Tick` has work (the earliest armed timer); the last `now`
    /// while outputs are queued.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if !self.out.is_empty() {
            return Some(self.now);
        }
        self.timers.next_timeout()
    }

    fn advance(&mut self, now: Timestamp) {
        debug_assert!(now >= self.now, "time went backwards");
        self.now = self.now.max(now);
    }

    /// Turns log upload on or off (`enableLogUpload`); off forgets the lines waiting.
    pub fn set_log_upload(&mut self, enabled: bool) {
        self.logs.set_enabled(enabled);
    }

    /// Which lines are recorded for upload (`logFilter`): those at or above `filter`'s
    /// level; `None` records none.
    pub fn set_log_filter(&mut self, filter: Option<LogLevel>) {
        self.logs.set_filter(filter);
    }

    /// Records a line of the driver's or the application's for upload (kept only while
    /// uploading is on and `level` passes the filter).
    pub fn log(&mut self, now: Timestamp, level: LogLevel, text: &str) {
        self.advance(now);
        let ts = self.unix_ms();
        self.logs.record(ts, level, text);
    }

    fn emit(&mut self, event: Event) {
        self.log_event(&event);
        self.out.push_back(ClientOutput::Event(event));
    }

    /// What the application is told is what the log says: state changes at `info`, failed
    /// commands at `warn`, every other event at `debug`.
    fn log_event(&mut self, event: &Event) {
        let level = match event {
            Event::ConnectionStateChanged { .. } => LogLevel::Info,
            Event::Response { response, .. } if response.is_err() => LogLevel::Warn,
            _ => LogLevel::Debug,
        };
        if !self.logs.wants(level) {
            return;
        }
        let text = match event {
            Event::ConnectionStateChanged { state, reason } => format!(
                "connection state {} ({})",
                state.sdk_name(),
                reason.sdk_name()
            ),
            Event::Response { request, response } => {
                format!("request {} answered: {response:?}", request.0)
            }
            other => format!("event {}", other.sdk_name()),
        };
        let ts = self.unix_ms();
        self.logs.record(ts, level, &text);
    }

    /// Sends the next batch of log lines on `transport`, if any wait.
    fn send_logs(&mut self, transport: TransportId) {
        if let Some(lines) = self.logs.take_batch(self.unix_ms()) {
            self.send_frame(transport, &ClientFrame::Logs { lines });
        }
    }

    fn respond(&mut self, request: RequestId, response: Response) {
        self.emit(Event::Response { request, response });
    }

    fn send_frame(&mut self, transport: TransportId, frame: &ClientFrame) {
        self.out
            .push_back(ClientOutput::Send(transport, frame.encode()));
    }

    fn is_logged_in(&self) -> bool {
        self.phase.is_logged_in()
    }

    /// The first step of every call that needs a session: brings the client to `now`, then
    /// refuses with the call's own `not_logged_in` error unless it is logged in.
    fn enter<E>(&mut self, now: Timestamp, not_logged_in: E) -> Result<(), E> {
        self.advance(now);
        if self.is_logged_in() {
            Ok(())
        } else {
            Err(not_logged_in)
        }
    }
}
