//! The session flow: login → up → link lost → resume → resync, and logout (§2.3, §2.6).
//! The states are [`Phase`] and [`Link`] (`link.rs`); this file holds their transitions and
//! what each [`Timer`] does when it fires.

use core::time::Duration;

use crate::errors::{LoginError, LogoutError};
use crate::ids::UserId;
use crate::time::Timestamp;
use crate::wire::{
    close, ClientFrame, KickReason, LoginFrame, Notice, Push, Reply, ServerFrame, PROTOCOL_VERSION,
};

use super::link::{Link, Phase};
use super::timer::Timer;
use super::{
    Client, ClientOutput, ConnectionChangeReason as Reason, Event, RequestId, Response, TransportId,
};

/// How long a logout waits for the server's answer before closing the transport (what
/// arrives meanwhile is still delivered).
pub const LOGOUT_DRAIN: Duration = Duration::from_secs(2);

impl Client {
    /// `login({uid, token})` (§4.2). The result arrives as `Response::Login`.
    pub fn login(
        &mut self,
        now: Timestamp,
        uid: &str,
        token: Option<&str>,
    ) -> Result<RequestId, LoginError> {
        self.advance(now);
        if self.phase != Phase::Disconnected {
            return Err(LoginError::AlreadyLogin);
        }
        let uid = UserId::new(uid).map_err(|_| LoginError::InvalidArgument)?;
        if !self.limiters.login.try_acquire(self.now) {
            return Err(LoginError::TooOften);
        }
        let request = RequestId(self.requests.alloc());
        self.finish_drain();
        self.uid = Some(uid);
        self.token = token.map(str::to_string);
        self.session = None;
        self.inbox.forget_session();
        self.backoff.reset();
        self.set_phase(Phase::Connecting { request }, Reason::Login);
        let deadline = self.now.saturating_add(self.config.login_timeout);
        self.timers.set(Timer::Login, deadline);
        self.open_transport();
        Ok(request)
    }

    /// `logout()` (§2.10): ends the session now. Requests still waiting are answered with
    /// their family's NOT_LOGGED_IN; subscriptions are forgotten.
    pub fn logout(&mut self, now: Timestamp) -> Result<(), LogoutError> {
        self.advance(now);
        if self.phase == Phase::Disconnected {
            return Err(LogoutError::NotLoggedIn);
        }
        match self.link {
            Link::Up { transport } => {
                // Drain: decisions the server made before the logout still arrive.
                let request = self.requests.alloc();
                self.send_logs(transport);
                self.send_frame(transport, &ClientFrame::Logout { id: request });
                self.set_link(Link::Draining { transport, request });
                let until = self.now.saturating_add(LOGOUT_DRAIN);
                self.timers.set(Timer::Drain, until);
            }
            Link::Draining { .. } => {}
            Link::Opening { transport } | Link::LoggingIn { transport, .. } => {
                self.out
                    .push_back(ClientOutput::Close(transport, close::NORMAL));
            }
            Link::Idle | Link::AwaitingToken { .. } => {}
        }
        if !matches!(self.link, Link::Draining { .. }) {
            self.set_link(Link::Idle);
            self.end_invitations_with_session();
        }
        if let Phase::Connecting { request } = self.phase {
            self.respond(request, Response::Login(Err(LoginError::Rejected)));
        }
        self.interrupt_transfers();
        self.fail_all_pending();
        self.forget_session_state();
        self.session = None;
        self.set_phase(Phase::Disconnected, Reason::Logout);
        Ok(())
    }

    /// Moves to `phase`, telling the application when its state changes. The timers of a
    /// phase stop when it is left.
    pub(super) fn set_phase(&mut self, phase: Phase, reason: Reason) {
        let before = self.phase.state();
        self.phase = phase;
        if !matches!(phase, Phase::Connecting { .. }) {
            self.timers.stop(Timer::Login);
        }
        if phase != Phase::Connected {
            self.timers.stop(Timer::Interruption);
        }
        let state = phase.state();
        if state != before {
            self.emit(Event::ConnectionStateChanged { state, reason });
        }
    }

    /// Moves the link to `link`; the timers of the link it leaves stop, the caller arms
    /// those of the new one.
    fn set_link(&mut self, link: Link) {
        for timer in [Timer::Reconnect, Timer::LinkDead, Timer::Ping, Timer::Drain] {
            self.timers.stop(timer);
        }
        self.link = link;
    }

    fn open_transport(&mut self) {
        let transport = TransportId(self.next_transport);
        self.next_transport += 1;
        self.set_link(Link::Opening { transport });
        let dead = self.now.saturating_add(self.config.link_timeout);
        self.timers.set(Timer::LinkDead, dead);
        self.out.push_back(ClientOutput::Connect(transport));
    }

    /// Drops the current transport (if any) and schedules the next attempt.
    fn link_lost(&mut self, close_code: Option<u16>) {
        if matches!(self.link, Link::Draining { .. }) {
            // A logout's link failing is just the end of the drain.
            return self.finish_drain_with(close_code.is_some());
        }
        if let (Some(t), Some(code)) = (self.link.transport(), close_code) {
            self.out.push_back(ClientOutput::Close(t, code));
        }
        if matches!(self.link, Link::Up { .. } | Link::LoggingIn { .. })
            && self.phase == Phase::Connected
            && !self.timers.is_set(Timer::Interruption)
        {
            // The link has really been gone since we last heard from it; CONNECTED turns
            // RECONNECTING once it has been down *more than* the threshold.
            let down_since = self.last_rx.min(self.now);
            let at = down_since
                .saturating_add(self.config.interruption_threshold)
                .saturating_add(Duration::from_millis(1));
            self.timers.set(Timer::Interruption, at);
        }
        let retry_at = self.wants_link().then(|| {
            self.now
                .saturating_add(self.backoff.next_delay(&mut self.rng))
        });
        self.set_link(Link::Idle);
        self.timers.set_or_stop(Timer::Reconnect, retry_at);
        if self.timers.take_expired(Timer::Interruption, self.now) {
            self.on_timeout(Timer::Interruption);
        }
    }

    pub(super) fn on_opened(&mut self, t: TransportId) {
        let Link::Opening { transport } = self.link else {
            return;
        };
        if transport != t {
            return;
        }
        let Some(uid) = self.uid.clone() else { return };
        let request = self.requests.alloc();
        self.last_rx = self.now;
        self.login_attempts += 1;
        self.set_link(Link::LoggingIn { transport, request });
        let dead = self.now.saturating_add(self.config.link_timeout);
        self.timers.set(Timer::LinkDead, dead);
        let frame = ClientFrame::Login(LoginFrame {
            id: request,
            version: PROTOCOL_VERSION,
            app_id: self.config.app_id.clone(),
            uid,
            token: self.token.clone(),
            resume: self.session.clone(),
            instance: self.instance,
            attempt: self.login_attempts,
        });
        self.send_frame(transport, &frame);
    }

    pub(super) fn on_closed(&mut self, t: TransportId) {
        if self.link.transport() != Some(t) {
            return;
        }
        if matches!(self.link, Link::Draining { .. }) {
            return self.finish_drain_with(false);
        }
        self.link_lost(None);
    }

    /// Ends a logout's drain: close the transport, end what is still open.
    fn finish_drain(&mut self) {
        self.finish_drain_with(true);
    }

    /// Ends a logout's drain; `close` is false when the transport is already closed.
    fn finish_drain_with(&mut self, close: bool) {
        if let Link::Draining { transport, .. } = self.link {
            if close {
                self.out
                    .push_back(ClientOutput::Close(transport, close::NORMAL));
            }
            self.set_link(Link::Idle);
            self.end_invitations_with_session();
        }
    }

    pub(super) fn on_frame(&mut self, t: TransportId, bytes: &[u8]) {
        if self.link.transport() != Some(t) {
            return;
        }
        self.last_rx = self.now;
        let frame = match ServerFrame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                // A server we cannot understand: drop the link and try again.
                self.link_lost(Some(e.close_code()));
                return;
            }
        };
        match (self.link, frame) {
            (
                Link::LoggingIn { transport, request },
                ServerFrame::Reply(Reply::LoginOk {
                    id,
                    session,
                    resumed,
                    heartbeat_ms,
                    resend_from,
                    ..
                }),
            ) if id == request => {
                self.on_login_ok(transport, session, resumed, heartbeat_ms, resend_from)
            }
            (
                Link::LoggingIn { request, .. },
                ServerFrame::Reply(Reply::Error { id, code, .. }),
            ) if id == request => {
                self.on_login_refused(LoginError::from_code(code).unwrap_or(LoginError::Unknown))
            }
            (Link::Draining { request, .. }, frame) => match frame {
                ServerFrame::Reply(Reply::Ok { id }) if id == request => self.finish_drain(),
                ServerFrame::Push(Push::LocalInvitation(u)) => self.on_local_update(u),
                ServerFrame::Push(Push::RemoteInvitation(u)) => self.on_remote_update(u),
                _ => {}
            },
            // A `kicked` before the first `login_ok` of an explicit login is a refusal
            // (§2.3 has no CONNECTING → ABORTED); after that it aborts the session.
            (_, ServerFrame::Notice(Notice::Kicked { .. }))
                if matches!(self.phase, Phase::Connecting { .. }) =>
            {
                self.on_login_refused(LoginError::Rejected)
            }
            (_, ServerFrame::Notice(Notice::Kicked { reason })) => self.on_kicked(reason),
            (Link::Up { transport }, frame) => {
                self.on_session_frame(transport, frame, bytes.len());
                self.reconcile();
            }
            (Link::LoggingIn { .. }, _) => {
                // Not meaningful before `login_ok`, but the server is alive.
                let dead = self.now.saturating_add(self.config.link_timeout);
                self.timers.set(Timer::LinkDead, dead);
            }
            (_, _) => {}
        }
    }

    /// The server answered a ping: the link is alive.
    pub(super) fn on_pong(&mut self) {
        let dead = self.now.saturating_add(self.config.link_timeout);
        self.timers.set(Timer::LinkDead, dead);
    }

    fn on_login_ok(
        &mut self,
        transport: TransportId,
        session: String,
        resumed: bool,
        heartbeat_ms: u32,
        resend_from: u64,
    ) {
        self.set_link(Link::Up { transport });
        self.on_pong();
        self.inbox.on_login(resend_from, resumed);
        let fresh_session = !resumed && self.session.is_some();
        self.session = Some(session);
        self.backoff.reset();
        self.timers.stop(Timer::Interruption);
        self.heartbeat = Duration::from_millis(u64::from(heartbeat_ms).clamp(200, 5_000));
        self.timers
            .set(Timer::Ping, self.now.saturating_add(self.heartbeat));
        if let Phase::Connecting { request } = self.phase {
            self.respond(request, Response::Login(Ok(())));
        }
        self.set_phase(Phase::Connected, Reason::LoginSuccess);
        // §2.6: resubscribe (the answer is diffed against what was reported); after losing
        // the server session also restate user attributes, rejoin channels and sync
        // invitations; then resend whatever was not answered on the old link.
        self.resync_on_login(fresh_session);
        if fresh_session {
            self.sync_invitations();
        }
        self.flush_pending();
    }

    fn on_login_refused(&mut self, e: LoginError) {
        if let Phase::Connecting { request } = self.phase {
            // An explicit login: it fails (§2.3 CONNECTING → DISCONNECTED).
            if let Some(t) = self.link.transport() {
                self.out.push_back(ClientOutput::Close(t, close::NORMAL));
            }
            self.set_link(Link::Idle);
            self.respond(request, Response::Login(Err(e)));
            self.uid = None;
            self.set_phase(Phase::Disconnected, Reason::LoginFailure);
            return;
        }
        // An automatic re-login: keep trying (§2.3 RECONNECTING stays RECONNECTING), but
        // after an expired token only once the application has renewed it.
        if e == LoginError::TokenExpired {
            self.emit(Event::TokenExpired);
        }
        self.link_lost(Some(close::NORMAL));
        if e == LoginError::TokenExpired {
            let retry_at = self.timers.get(Timer::Reconnect);
            self.set_link(Link::AwaitingToken { retry_at });
        }
    }

    fn on_kicked(&mut self, reason: KickReason) {
        let reason = match reason {
            KickReason::RemoteLogin => Reason::RemoteLogin,
            KickReason::BannedByServer => Reason::BannedByServer,
            KickReason::TokenExpired => {
                self.emit(Event::TokenExpired);
                Reason::TokenExpired
            }
        };
        if let Some(t) = self.link.transport() {
            self.out.push_back(ClientOutput::Close(t, close::NORMAL));
        }
        self.set_link(Link::Idle);
        self.session = None;
        if let Phase::Connecting { request } = self.phase {
            self.respond(request, Response::Login(Err(LoginError::Rejected)));
        }
        // The server removed the session from its channels, dropped its attributes and ended
        // its open invitations.
        self.channels.clear();
        self.removed_channels.clear();
        self.user_attributes.clear();
        self.end_invitations_with_session();
        self.interrupt_transfers();
        self.set_phase(Phase::Aborted, reason);
    }

    /// Fires every timer that expired, in [`Timer::ALL`]'s order.
    pub(super) fn on_tick(&mut self) {
        for timer in Timer::ALL {
            if self.timers.take_expired(timer, self.now) {
                self.on_timeout(timer);
            }
        }
        self.reconcile();
    }

    fn on_timeout(&mut self, timer: Timer) {
        match timer {
            Timer::Login => {
                if let Phase::Connecting { request } = self.phase {
                    if let Some(t) = self.link.transport() {
                        self.out.push_back(ClientOutput::Close(t, close::NORMAL));
                    }
                    self.set_link(Link::Idle);
                    self.uid = None;
                    self.respond(request, Response::Login(Err(LoginError::Timeout)));
                    self.set_phase(Phase::Disconnected, Reason::LoginTimeout);
                }
            }
            Timer::Interruption => {
                if self.phase == Phase::Connected {
                    self.set_phase(Phase::Reconnecting, Reason::Interrupted);
                }
            }
            Timer::Drain => self.finish_drain(),
            Timer::Reconnect => {
                if self.link == Link::Idle && self.wants_link() {
                    self.open_transport();
                }
            }
            Timer::LinkDead => match self.link {
                Link::Opening { .. } => self.link_lost(Some(close::NORMAL)),
                Link::LoggingIn { .. } | Link::Up { .. } => {
                    self.link_lost(Some(close::HEARTBEAT_TIMEOUT))
                }
                _ => {}
            },
            Timer::Media => self.on_transfer_timeout(),
            Timer::Ping => {
                if let Link::Up { transport } = self.link {
                    self.send_ack(transport);
                    self.send_logs(transport);
                    self.send_frame(transport, &ClientFrame::Ping {});
                    let next = self.now.saturating_add(self.heartbeat);
                    self.timers.set(Timer::Ping, next);
                }
            }
            Timer::Request => self.expire_requests(),
        }
    }

    fn wants_link(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting { .. } | Phase::Connected | Phase::Reconnecting
        )
    }

    /// What a logout forgets: subscriptions, channels, user attributes, the session.
    fn forget_session_state(&mut self) {
        self.subscriptions.clear();
        self.forget_sync();
        self.channels.clear();
        self.removed_channels.clear();
        self.user_attributes.clear();
        self.inbox.forget_session();
    }

    /// `renewToken` while no link is up: the token is kept for the next re-login, which
    /// resumes if it was held back for want of one.
    pub(super) fn token_renewed_offline(&mut self, token: String) {
        self.token = Some(token);
        if let Link::AwaitingToken { retry_at } = self.link {
            self.set_link(Link::Idle);
            self.timers.set_or_stop(Timer::Reconnect, retry_at);
        }
    }
}
