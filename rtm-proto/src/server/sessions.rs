//! Sessions: login, resume, logout, duplicate login (§2.7). Liveness (§2.4) is in
//! `liveness.rs`, tokens (§3) in `tokens.rs`, the login limits in `logins.rs`.
//!
//! A session outlives its connection. When the connection drops the session is *detached*:
//! the user stays online (UNREACHABLE once 6 s of silence have passed) and messages for it are
//! buffered, until it resumes on a new connection or 30 s of silence end it. Ending a session
//! moves every message it had not acknowledged to the offline store: nothing a sender was told
//! is "received" or "cached" is dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::errors::LoginError;
use crate::ids::{ChannelId, UserId};
use crate::ratelimit::{Rate, RateLimiter};
use crate::wire::{
    close, KickReason, LoginFrame, Notice, PeerOnlineState, Reply, MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
};

use super::admin::events::UserEventKind;
use super::stream::Stream;
use super::{ConnId, ConnState, Server};

/// Every session by its user id (hashed: see `keyed.rs`).
///
/// Boxed: a hash table keeps up to half its slots empty, each the size of its value, and
/// moves every value when it grows. A session is about a kilobyte; a slot of a box is 8
/// bytes (`rtm-bench idle`: 14.7 -> 13.9 KiB of RSS per logged-in connection at 19 000).
pub(super) type Sessions = super::keyed::KeyedMap<UserId, Box<Session>>;

#[derive(Debug)]
pub(super) struct Session {
    /// Distinguishes this session from earlier and later ones of the same user.
    pub epoch: u64,
    /// The protocol version its client speaks (what it can decode).
    pub version: u16,
    /// The secret a client presents to resume.
    pub sid: String,
    /// The client instance that owns the session (0: not given) and its latest login attempt.
    pub instance: u64,
    pub attempt: u64,
    pub conn: Option<ConnId>,
    pub last_rx: crate::time::Timestamp,
    /// ONLINE or UNREACHABLE to subscribers, and the liveness check that counts.
    pub liveness: super::liveness::Liveness,
    /// AccessToken2 expiry (Unix s); `None` in app-id mode and for 006 tokens (§3.5).
    pub token_expires_at: Option<u64>,
    pub token_gen: u64,
    /// The delivery stream: every push in order, kept until acknowledged.
    pub stream: Stream,
    /// Joined channels (≤ 20), each with the `cseq` of its last message before the
    /// membership began (what a resent `join` is answered).
    pub channels: BTreeMap<ChannelId, u64>,
    /// Joined channels whose messages this session is behind on: `(channel epoch, cseq of
    /// the first message not pushed)`. A channel message that finds the stream full is not
    /// dropped silently: the channel is marked here, its later messages are held back too
    /// (so order is kept), and once acknowledgements make room the recent history from that
    /// cseq is pushed as a catch-up (`Server::catch_up`, `peers.rs`). At most one entry
    /// per joined channel (≤ 20); cleared by the catch-up, a leave, a rejoin with a cursor,
    /// or the end of the session.
    pub lagging: BTreeMap<ChannelId, (u64, u64)>,
    /// Joined channels whose latest `member_count` push found the stream full: the count
    /// would stay wrong until the next change, so the catch-up pushes the current one.
    /// At most one per joined channel (≤ 20).
    pub stale_counts: BTreeSet<ChannelId>,
    /// The user's attributes (§4.5), dropped with the session.
    pub attributes: BTreeMap<String, String>,
    pub subscriptions: BTreeSet<UserId>,
    pub limits: SessionLimits,
}

/// What a session counts against its limits. A new session of the same user takes these
/// over from the one it replaces, so that logging in again refills nothing.
#[derive(Debug, Clone)]
pub(super) struct SessionLimits {
    /// Peer and channel messages, shared (§9.2).
    pub messages: RateLimiter,
    /// Budgets of every other request kind, and the refusal count.
    pub budgets: super::limits::RequestBudgets,
    /// Logins of this user (`logins.rs`).
    pub logins: RateLimiter,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            messages: RateLimiter::new(Rate::MESSAGES),
            budgets: Default::default(),
            logins: RateLimiter::new(super::logins::USER_LOGINS),
        }
    }
}

/// What a `login_ok` tells the client of the session it logged in to.
struct Welcome {
    /// The login request's id.
    id: u32,
    session: String,
    /// A session resumed rather than begun.
    resumed: bool,
    /// The first stream position the client must (re)receive.
    resend_from: u64,
}

impl Server {
    /// A `login` frame on a connection from `source` (if the driver knows the address).
    pub(super) fn on_login(
        &mut self,
        conn: ConnId,
        source: Option<core::net::IpAddr>,
        frame: LoginFrame,
    ) {
        let LoginFrame {
            id,
            version,
            app_id,
            uid,
            token,
            resume,
            instance,
            attempt,
        } = frame;
        if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
            let text = format!(
                "unsupported protocol version {version}; this server speaks \
                 {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
            );
            self.close(conn, close::UNSUPPORTED_VERSION, &text);
            return;
        }
        // Before the token is checked: a flood of logins costs no signature checks.
        if source.is_some_and(|ip| !self.login_sources.admit(ip, self.now)) {
            return self.refuse_login(conn, id, LoginError::TooOften);
        }
        if app_id != self.config.app_id {
            return self.refuse_login(conn, id, LoginError::InvalidAppId);
        }
        // A ban refuses new sessions and resumes alike (`admin/bans.rs`).
        if let Some(until) = self.bans.login_refused(&uid, source, self.unix_ms()) {
            let text = format!("banned by the server until {until} (unix ms)");
            return self.refuse_login_with(conn, id, LoginError::Rejected, &text);
        }
        let token_expires_at = match self.check_token(token.as_deref(), &uid) {
            Ok(expiry) => expiry,
            Err(e) => return self.refuse_login(conn, id, e),
        };
        // After it: logins without the user's token cannot use up the user's own limit.
        let now = self.now;
        if let Some(s) = self.sessions.get_mut(&uid) {
            if !s.limits.logins.try_acquire(now) {
                return self.refuse_login(conn, id, LoginError::TooOften);
            }
        }

        let same_client = self
            .sessions
            .get(&uid)
            .is_some_and(|s| instance != 0 && s.instance == instance);
        if let Some(s) = self.sessions.get_mut(&uid) {
            // A login the session's own client has since overtaken with a newer attempt (it
            // was delayed on a connection the client gave up on): drop it, touch nothing.
            if same_client && attempt <= s.attempt {
                self.close(
                    conn,
                    close::SUPERSEDED,
                    "a newer login attempt of this client won",
                );
                return;
            }
            // A resume of a live session of this user: reattach, keep everything. Not by a
            // client of another protocol version (an older one could not decode what the
            // stream holds): that one starts a new session, which takes the messages over
            // as this version can have them.
            if resume.as_deref() == Some(s.sid.as_str()) && s.version == version {
                s.attempt = attempt;
                let epoch = s.epoch;
                return self.resume(conn, source, id, uid, epoch, token_expires_at);
            }
        }
        // A resume of a session the server ended on its own: the client missed its `kicked`
        // (the link died first). Tell it again instead of letting it kick its successor.
        if let Some(reason) = resume.as_deref().and_then(|sid| self.tombstones.get(sid)) {
            self.notice(conn, Notice::Kicked { reason });
            self.close(
                conn,
                kick_close_code(reason),
                "this session was ended by the server",
            );
            return;
        }

        // Otherwise a new session. An existing one of the same user is replaced and its
        // undelivered messages move over to the new one: quietly if it belongs to the same
        // client (which starts afresh, e.g. after its logout was lost), else it is kicked
        // with REMOTE_LOGIN (§2.7).
        let mut carried = None;
        let mut limits = SessionLimits::default();
        if let Some(old) = self.sessions.remove(&uid) {
            limits = old.limits;
            if !same_client {
                self.tombstones
                    .insert(old.sid.clone(), KickReason::RemoteLogin);
                self.counters.kick(KickReason::RemoteLogin.as_str());
            }
            if let Some(old_conn) = old.conn {
                if !same_client {
                    self.notice(
                        old_conn,
                        Notice::Kicked {
                            reason: KickReason::RemoteLogin,
                        },
                    );
                }
                self.conns.remove(&old_conn);
                let (code, reason) = if same_client {
                    (close::SUPERSEDED, "this client started a new session")
                } else {
                    (close::REMOTE_LOGIN, "the same user id logged in elsewhere")
                };
                self.out.push_back(super::ServerOutput::Close {
                    conn: old_conn,
                    code,
                    reason: reason.into(),
                });
            }
            self.presence.drop_subscriptions(&uid, &old.subscriptions);
            self.leave_all_channels(&uid, &old.channels);
            self.invitations_session_ended(&uid);
            self.log_user_event(&uid, UserEventKind::Logout);
            carried = Some(old.stream);
        }

        let was = self.presence_of(&uid);
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        let sid = format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        self.sessions.insert(
            uid.clone(),
            Box::new(Session {
                epoch,
                version,
                sid: sid.clone(),
                instance,
                attempt,
                conn: Some(conn),
                last_rx: self.now,
                liveness: super::liveness::Liveness::NEW,
                token_expires_at: None,
                token_gen: 0,
                stream: Stream::new(self.initial_window(), self.now),
                channels: BTreeMap::new(),
                lagging: BTreeMap::new(),
                stale_counts: BTreeSet::new(),
                attributes: BTreeMap::new(),
                subscriptions: BTreeSet::new(),
                limits,
            }),
        );
        let welcome = Welcome {
            id,
            session: sid,
            resumed: false,
            resend_from: 1,
        };
        self.bind(conn, source, &uid, epoch, token_expires_at, welcome);
        self.counters.login(Ok(false));
        self.log_user_event(&uid, UserEventKind::Login);
        let server_ts = self.unix_ms();
        // Messages of the kicked session first (they are older), then the offline store.
        for stored in carried.into_iter().flat_map(Stream::into_peer_messages) {
            self.push_stored(&uid, stored);
        }
        let (stored, expired) = self.offline.take(&uid, server_ts);
        for m in &expired {
            self.delete_record(m.record);
        }
        for m in stored {
            self.push_stored(&uid, m);
        }
        if was != PeerOnlineState::Online {
            self.notify_presence(&uid, PeerOnlineState::Online);
        }
        self.deliver_pending_invitations(&uid);
    }

    fn resume(
        &mut self,
        conn: ConnId,
        source: Option<core::net::IpAddr>,
        id: u32,
        uid: UserId,
        epoch: u64,
        token_expires_at: Option<u64>,
    ) {
        let now = self.now;
        let initial_window = self.initial_window();
        let s = self.sessions.get_mut(&uid).expect("checked by caller");
        let old_conn = s.conn.replace(conn);
        s.last_rx = now;
        let was_reachable = s.liveness.is_reachable();
        s.liveness = s.liveness.reachable();
        let sid = s.sid.clone();
        // Nothing is in flight on the new connection: the window starts over from the first
        // unacknowledged push.
        let resend_from = s.stream.restart(initial_window, now);
        if let Some(old) = old_conn {
            self.conns.remove(&old);
            self.out.push_back(super::ServerOutput::Close {
                conn: old,
                code: close::SUPERSEDED,
                reason: "session resumed on a newer connection".into(),
            });
        }
        let welcome = Welcome {
            id,
            session: sid,
            resumed: true,
            resend_from,
        };
        self.bind(conn, source, &uid, epoch, token_expires_at, welcome);
        self.counters.login(Ok(true));
        self.pump_stream(&uid);
        if !was_reachable {
            self.notify_presence(&uid, PeerOnlineState::Online);
        }
        self.caller_back(&uid);
    }

    /// The send window of a new connection (see `Stream::window_bytes`).
    fn initial_window(&self) -> usize {
        self.config
            .initial_window_bytes
            .min(self.config.send_window_bytes)
    }

    /// Binds `conn` to `uid`'s session of `epoch`, schedules a fresh liveness check (the
    /// pending one may be the 30 s check of an unreachable session) and the token's expiry,
    /// and answers the login with `login_ok`.
    #[allow(clippy::too_many_arguments)]
    fn bind(
        &mut self,
        conn: ConnId,
        source: Option<core::net::IpAddr>,
        uid: &UserId,
        epoch: u64,
        token_expires_at: Option<u64>,
        welcome: Welcome,
    ) {
        let bound = ConnState::Bound {
            uid: uid.clone(),
            epoch,
            source,
        };
        self.conns.insert(conn, bound);
        self.schedule_liveness_check(uid);
        self.set_token_expiry(uid, token_expires_at);
        let Welcome {
            id,
            session,
            resumed,
            resend_from,
        } = welcome;
        let version = self
            .sessions
            .get(uid)
            .map_or(PROTOCOL_VERSION, |s| s.version);
        let frame = Reply::LoginOk {
            id,
            version,
            session,
            resumed,
            server_ts: self.unix_ms(),
            heartbeat_ms: self.config.heartbeat.as_millis() as u32,
            resend_from,
        };
        self.reply(conn, frame);
    }

    fn refuse_login(&mut self, conn: ConnId, id: u32, e: LoginError) {
        self.refuse_login_with(conn, id, e, &e.to_string());
    }

    /// Refuses a login with `e` and its own message.
    fn refuse_login_with(&mut self, conn: ConnId, id: u32, e: LoginError, message: &str) {
        self.counters.login(Err(e));
        self.reply_error(conn, id, e.code(), message);
        self.close(conn, close::LOGIN_FAILED, message);
    }

    /// Ends `uid`'s session on the server's initiative (token expiry, ban).
    pub(super) fn kick(&mut self, uid: &UserId, reason: KickReason, code: u16, text: &str) {
        if let Some(s) = self.sessions.get(uid) {
            self.tombstones.insert(s.sid.clone(), reason);
            self.counters.kick(reason.as_str());
        }
        if let Some(conn) = self.sessions.get(uid).and_then(|s| s.conn) {
            self.notice(conn, Notice::Kicked { reason });
            self.close(conn, code, text);
        }
        self.end_session(uid);
    }

    /// Bans `uid`: its session ends with BANNED_BY_SERVER (§2.8).
    pub fn ban(&mut self, now: crate::time::Timestamp, uid: &UserId) {
        self.now = self.now.max(now);
        self.kick(
            uid,
            KickReason::BannedByServer,
            kick_close_code(KickReason::BannedByServer),
            "banned by the server",
        );
    }

    pub(super) fn on_logout(&mut self, conn: ConnId, uid: &UserId, epoch: u64, id: u32) {
        self.reply(conn, Reply::Ok { id });
        self.close(conn, close::NORMAL, "logged out");
        if self.sessions.get(uid).is_some_and(|s| s.epoch == epoch) {
            self.end_session(uid);
        }
    }

    /// Removes a session now: OFFLINE for subscribers, unacknowledged messages to the
    /// offline store, subscriptions dropped.
    pub(super) fn end_session(&mut self, uid: &UserId) {
        let Some(s) = self.sessions.remove(uid) else {
            return;
        };
        if let Some(conn) = s.conn {
            self.close(conn, close::NORMAL, "session ended");
        }
        self.presence.drop_subscriptions(uid, &s.subscriptions);
        self.leave_all_channels(uid, &s.channels);
        self.invitations_session_ended(uid);
        for stored in s.stream.into_peer_messages() {
            self.keep_offline(uid, stored);
        }
        self.log_user_event(uid, UserEventKind::Logout);
        self.notify_presence(uid, PeerOnlineState::Offline);
    }

    /// A connection of `uid` went away: the session stays, detached.
    pub(super) fn detach(&mut self, uid: &UserId, epoch: u64, conn: ConnId) {
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        if s.epoch != epoch || s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        // Only the server holds its unacknowledged messages now: senders still waiting for
        // a receipt hear `cached` once they are durable.
        self.hold_stream_durably(uid);
    }
}

/// The close code that goes with a `kicked` reason.
pub(super) fn kick_close_code(reason: KickReason) -> u16 {
    match reason {
        KickReason::RemoteLogin => close::REMOTE_LOGIN,
        KickReason::BannedByServer => close::BANNED,
        KickReason::TokenExpired => close::TOKEN_EXPIRED,
    }
}

/// Session ids the server ended on its own, remembered (bounded, oldest forgotten first) so
/// a client that missed its `kicked` hears it again when it tries to resume.
#[derive(Debug, Default)]
pub(super) struct Tombstones {
    reasons: std::collections::BTreeMap<String, KickReason>,
    order: VecDeque<String>,
}

/// Tombstones kept at most.
const MAX_TOMBSTONES: usize = 65_536;

impl Tombstones {
    pub fn insert(&mut self, sid: String, reason: KickReason) {
        if self.order.len() >= MAX_TOMBSTONES {
            if let Some(old) = self.order.pop_front() {
                self.reasons.remove(&old);
            }
        }
        if self.reasons.insert(sid.clone(), reason).is_none() {
            self.order.push_back(sid);
        }
        debug_assert!(self.reasons.len() <= MAX_TOMBSTONES);
    }

    pub fn get(&self, sid: &str) -> Option<KickReason> {
        self.reasons.get(sid).copied()
    }
}
