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

mod attributes;
mod channels;
mod converge;
mod events;
mod invitations;
mod link;
mod peers;
mod requests;
mod resync;
mod session;
mod stream;
mod timer;

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::attributes::ChannelAttribute;
use crate::backoff::Backoff;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::limits::DEFAULT_APP_ID;
use crate::ratelimit::{Rate, RateLimiter};
use crate::rng::Rng;
use crate::time::{Timestamp, WallClock};
use crate::timers::TimerQueue;
use crate::wire::{ClientFrame, InvitationKey, PeerMessageOutcome, PeerOnlineState};

pub use attributes::ChannelAttributeOptions;
pub use events::Event;
pub use invitations::{InvitationId, LocalInvitation, RemoteInvitation};
pub use link::{ConnectionChangeReason, ConnectionState};
pub use peers::SendMessageOptions;
pub use session::LOGOUT_DRAIN;

/// One transport attempt, named by the core.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransportId(pub u64);

/// Names one command's result ([`Event::Response`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u32);

/// Client settings. `Default` gives the timers of §2.5 and §9.3.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The app id to log in with (§1.2).
    pub app_id: String,
    /// `login` gives up after this (§2.5: 12 s) with LOGIN_TIMEOUT.
    pub login_timeout: Duration,
    /// Peer message, query and subscription requests time out after this (§9.3: 10 s).
    pub request_timeout: Duration,
    /// CONNECTED becomes RECONNECTING once the link has been down this long (§2.5: 4 s).
    pub interruption_threshold: Duration,
    /// Heartbeat interval until the server advertises its own.
    pub heartbeat: Duration,
    /// A link on which nothing arrived for this long is declared dead and replaced.
    pub link_timeout: Duration,
    /// First reconnection delay (jittered, doubling).
    pub backoff_initial: Duration,
    /// Longest reconnection delay.
    pub backoff_max: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            app_id: DEFAULT_APP_ID.to_string(),
            login_timeout: Duration::from_secs(12),
            request_timeout: Duration::from_secs(10),
            interruption_threshold: Duration::from_secs(4),
            heartbeat: Duration::from_secs(2),
            link_timeout: Duration::from_secs(6),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// What happens to the client (besides commands).
#[derive(Debug, Clone)]
pub enum ClientInput {
    /// The transport asked for by `Connect` is open.
    Opened(TransportId),
    /// One whole text frame arrived.
    Frame(TransportId, Bytes),
    /// The transport failed to open, closed or broke.
    Closed(TransportId),
    /// Time passed.
    Tick,
}

/// What the client asks of its driver and its application. Deliberately exhaustive, unlike
/// [`Event`]: a driver must carry out every output, so a new one must not compile until it
/// does.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientOutput {
    /// Open a transport to the server.
    Connect(TransportId),
    /// Send one text frame.
    Send(TransportId, Bytes),
    /// Flush, then close the transport with this code.
    Close(TransportId, u16),
    /// Tell the application.
    Event(Event),
}

/// Results of commands, one variant per method.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Login(Result<(), LoginError>),
    RenewToken(Result<(), RenewTokenError>),
    SendMessageToPeer(Result<PeerMessageOutcome, PeerMessageError>),
    /// `(peer, online)` in the order asked.
    QueryPeersOnlineStatus(Result<Vec<(UserId, bool)>, QueryPeersOnlineStatusError>),
    SubscribePeersOnlineStatus(Result<(), PeerSubscriptionStatusError>),
    UnsubscribePeersOnlineStatus(Result<(), PeerSubscriptionStatusError>),
    Join(Result<(), JoinChannelError>),
    Leave(Result<(), LeaveChannelError>),
    SendChannelMessage(Result<(), ChannelMessageError>),
    GetMembers(Result<Vec<UserId>, GetMembersError>),
    /// `(channel, count)` in the order asked.
    GetChannelMemberCount(Result<Vec<(ChannelId, u32)>, GetChannelMemberCountError>),
    /// Any of the four user- or channel-attribute writes.
    AttributeWrite(Result<(), AttributeOperationError>),
    GetUserAttributes(Result<BTreeMap<String, String>, AttributeOperationError>),
    GetChannelAttributes(Result<BTreeMap<String, ChannelAttribute>, AttributeOperationError>),
}

#[derive(Debug, Clone)]
struct Limiters {
    login: RateLimiter,
    renew: RateLimiter,
    messages: RateLimiter,
    query_online: RateLimiter,
    subscribe: RateLimiter,
    unsubscribe: RateLimiter,
    query_subscribed: RateLimiter,
    join: RateLimiter,
    get_members: RateLimiter,
    member_count: RateLimiter,
    user_attr_write: RateLimiter,
    user_attr_read: RateLimiter,
    channel_attr_write: RateLimiter,
    channel_attr_read: RateLimiter,
}

impl Default for Limiters {
    fn default() -> Self {
        Limiters {
            login: RateLimiter::new(Rate::LOGIN),
            renew: RateLimiter::new(Rate::RENEW_TOKEN),
            messages: RateLimiter::new(Rate::MESSAGES),
            query_online: RateLimiter::new(Rate::QUERY_ONLINE),
            subscribe: RateLimiter::new(Rate::SUBSCRIBE),
            unsubscribe: RateLimiter::new(Rate::SUBSCRIBE),
            query_subscribed: RateLimiter::new(Rate::QUERY_SUBSCRIBED),
            join: RateLimiter::new(Rate::JOIN),
            get_members: RateLimiter::new(Rate::GET_MEMBERS),
            member_count: RateLimiter::new(Rate::MEMBER_COUNT),
            user_attr_write: RateLimiter::new(Rate::USER_ATTR_WRITE),
            user_attr_read: RateLimiter::new(Rate::USER_ATTR_READ),
            channel_attr_write: RateLimiter::new(Rate::CHANNEL_ATTR_WRITE),
            channel_attr_read: RateLimiter::new(Rate::CHANNEL_ATTR_READ),
        }
    }
}

/// A request waiting for its answer.
#[derive(Debug, Clone)]
struct Pending {
    kind: requests::PendingKind,
    /// The encoded request, (re)sent whenever a link comes up.
    frame: Bytes,
    /// The transport it was last sent on.
    sent_on: Option<TransportId>,
    deadline: Timestamp,
}

/// Peer messages remembered as delivered (by sender and `msg_id`), to drop a redelivery.
const DELIVERED_MEMORY: usize = 4096;

/// A set that remembers its last `cap` insertions.
#[derive(Debug, Clone)]
struct RecentSet<T: Ord + Clone> {
    cap: usize,
    set: std::collections::BTreeSet<T>,
    order: VecDeque<T>,
}

impl<T: Ord + Clone> RecentSet<T> {
    fn new(cap: usize) -> Self {
        RecentSet {
            cap,
            set: Default::default(),
            order: VecDeque::new(),
        }
    }

    /// Inserts `t`; false if it was already there.
    fn insert(&mut self, t: T) -> bool {
        if !self.set.insert(t.clone()) {
            return false;
        }
        self.order.push_back(t);
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        debug_assert!(self.set.len() <= self.cap);
        true
    }
}

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
    next_request: u32,
    pending: BTreeMap<u32, Pending>,
    /// The deadlines of `pending`; its earliest is `Timer::Request`.
    deadlines: TimerQueue<u32>,
    /// Subscribed peers and their last reported state.
    subscriptions: BTreeMap<UserId, Option<PeerOnlineState>>,
    /// Whether the server holds `subscriptions`, `user_attributes` and each channel's
    /// membership as recorded here (`converge.rs`). A channel has an entry only while a
    /// request of it is in flight or in doubt.
    subscription_sync: converge::Converge,
    user_attr_sync: converge::Converge,
    channel_sync: BTreeMap<ChannelId, converge::Converge>,
    /// Position of the last stream push received on the current link.
    stream_pos: u64,
    /// Highest stream position delivered to the application in this server session.
    delivered_pos: u64,
    /// Highest stream position acknowledged on the current link.
    acked_pos: u64,
    /// Bytes of the pushes read since the last ack.
    unacked_bytes: usize,
    /// Joined (or joining) channels.
    channels: BTreeMap<ChannelId, channels::JoinedChannel>,
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
    /// Peer messages delivered lately, across sessions and logins of this client.
    delivered_messages: RecentSet<(UserId, u64)>,
    limiters: Limiters,
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
            next_request: 1,
            pending: BTreeMap::new(),
            deadlines: TimerQueue::default(),
            subscriptions: BTreeMap::new(),
            subscription_sync: Default::default(),
            user_attr_sync: Default::default(),
            channel_sync: BTreeMap::new(),
            stream_pos: 0,
            delivered_pos: 0,
            acked_pos: 0,
            unacked_bytes: 0,
            channels: BTreeMap::new(),
            recent_joins: Default::default(),
            user_attributes: BTreeMap::new(),
            local_invitations: BTreeMap::new(),
            invitations_created: 0,
            remote_invitations: BTreeMap::new(),
            instance,
            login_attempts: 0,
            delivered_messages: RecentSet::new(DELIVERED_MEMORY),
            limiters: Limiters::default(),
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

    /// When the next `Tick` has work (the earliest armed [`timer::Timer`]); the last `now`
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

    fn emit(&mut self, event: Event) {
        self.out.push_back(ClientOutput::Event(event));
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

    fn alloc_request(&mut self) -> u32 {
        let id = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        id
    }
}
