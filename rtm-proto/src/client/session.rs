//! The session flow: login → up → link lost → resume → resync, and logout (§2.3, §2.6).

use core::time::Duration;

use crate::errors::{LoginError, LogoutError};
use crate::ids::UserId;
use crate::wire::{close, ClientFrame, KickReason, ServerFrame, PROTOCOL_VERSION};

use super::requests::PendingKind;

/// How long a logout waits for the server's answer before closing the transport (what
/// arrives meanwhile is still delivered).
pub const LOGOUT_DRAIN: Duration = Duration::from_secs(2);
use super::{
    Client, ConnectionChangeReason as Reason, ConnectionState as State, Event, Link, RequestId,
    Response, TransportId,
};

impl Client {
    /// `login({uid, token})` (§4.2). The result arrives as `Response::Login`.
    pub fn login(
        &mut self,
        now: crate::time::Timestamp,
        uid: &str,
        token: Option<&str>,
    ) -> Result<RequestId, LoginError> {
        self.advance(now);
        if self.state != State::Disconnected {
            return Err(LoginError::AlreadyLogin);
        }
        let uid = UserId::new(uid).map_err(|_| LoginError::InvalidArgument)?;
        if !self.limiters.login.try_acquire(self.now) {
            return Err(LoginError::TooOften);
        }
        let request = RequestId(self.alloc_request());
        self.finish_drain();
        self.uid = Some(uid);
        self.token = token.map(str::to_string);
        self.session = None;
        self.delivered_pos = 0;
        self.backoff.reset();
        self.waiting_for_token = false;
        self.login = Some((request, self.now.saturating_add(self.config.login_timeout)));
        self.set_state(State::Connecting, Reason::Login);
        self.open_transport();
        Ok(request)
    }

    /// `logout()` (§2.10): ends the session now. Requests still waiting are answered with
    /// their family's NOT_LOGGED_IN; subscriptions are forgotten.
    pub fn logout(&mut self, now: crate::time::Timestamp) -> Result<(), LogoutError> {
        self.advance(now);
        if self.state == State::Disconnected {
            return Err(LogoutError::NotLoggedIn);
        }
        match self.link {
            Link::Up { transport } => {
                // Drain: decisions the server made before the logout still arrive.
                let id = self.alloc_request();
                self.send_frame(transport, &ClientFrame::Logout { id });
                self.link = Link::Draining {
                    transport,
                    request: id,
                    until: self.now.saturating_add(LOGOUT_DRAIN),
                };
            }
            Link::Draining { .. } => {}
            Link::Opening { transport, .. } | Link::LoggingIn { transport, .. } => {
                self.out
                    .push_back(super::ClientOutput::Close(transport, close::NORMAL));
            }
            Link::Idle { .. } => {}
        }
        if !matches!(self.link, Link::Draining { .. }) {
            self.link = Link::Idle { retry_at: None };
            self.end_invitations_with_session();
        }
        if let Some((request, _)) = self.login.take() {
            self.respond(request, Response::Login(Err(LoginError::Rejected)));
        }
        self.fail_all_pending();
        self.forget_session_state();
        self.session = None;
        self.down_since = None;
        self.waiting_for_token = false;
        self.set_state(State::Disconnected, Reason::Logout);
        Ok(())
    }

    fn open_transport(&mut self) {
        let transport = TransportId(self.next_transport);
        self.next_transport += 1;
        self.link = Link::Opening {
            transport,
            since: self.now,
        };
        self.out.push_back(super::ClientOutput::Connect(transport));
    }

    /// Drops the current transport (if any) and schedules the next attempt.
    fn link_lost(&mut self, close_code: Option<u16>) {
        if matches!(self.link, Link::Draining { .. }) {
            // A logout's link failing is just the end of the drain.
            return self.finish_drain_with(close_code.is_some());
        }
        if let (Some(t), Some(code)) = (self.link.transport(), close_code) {
            self.out.push_back(super::ClientOutput::Close(t, code));
        }
        if matches!(self.link, Link::Up { .. } | Link::LoggingIn { .. })
            && self.state == State::Connected
            && self.down_since.is_none()
        {
            // The link has really been gone since we last heard from it.
            self.down_since = Some(self.last_rx.min(self.now));
        }
        let retry_at = self.wants_link().then(|| {
            self.now
                .saturating_add(self.backoff.next_delay(&mut self.rng))
        });
        self.link = Link::Idle { retry_at };
        self.check_interruption();
    }

    fn check_interruption(&mut self) {
        if let Some(deadline) = self.interruption_deadline() {
            if self.state == State::Connected && self.now >= deadline {
                self.set_state(State::Reconnecting, Reason::Interrupted);
            }
        }
    }

    pub(super) fn on_opened(&mut self, t: TransportId) {
        let Link::Opening { transport, .. } = self.link else {
            return;
        };
        if transport != t {
            return;
        }
        let Some(uid) = self.uid.clone() else { return };
        let request = self.alloc_request();
        self.last_rx = self.now;
        self.login_attempts += 1;
        self.link = Link::LoggingIn { transport, request };
        let frame = ClientFrame::Login {
            id: request,
            version: PROTOCOL_VERSION,
            app_id: self.config.app_id.clone(),
            uid,
            token: self.token.clone(),
            resume: self.session.clone(),
            instance: self.instance,
            attempt: self.login_attempts,
        };
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
                    .push_back(super::ClientOutput::Close(transport, close::NORMAL));
            }
            self.link = Link::Idle { retry_at: None };
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
                ServerFrame::LoginOk {
                    id,
                    session,
                    resumed,
                    heartbeat_ms,
                    resend_from,
                    ..
                },
            ) if id == request => {
                self.on_login_ok(transport, session, resumed, heartbeat_ms, resend_from)
            }
            (Link::LoggingIn { request, .. }, ServerFrame::Error { id, code, .. })
                if id == request =>
            {
                self.on_login_refused(LoginError::from_code(code).unwrap_or(LoginError::Unknown))
            }
            (Link::Draining { request, .. }, frame) => match frame {
                ServerFrame::Ok { id } if id == request => self.finish_drain(),
                ServerFrame::LocalInvitation(u) => self.on_local_update(u),
                ServerFrame::RemoteInvitation(u) => self.on_remote_update(u),
                _ => {}
            },
            // A `kicked` before the first `login_ok` of an explicit login is a refusal
            // (§2.3 has no CONNECTING → ABORTED); after that it aborts the session.
            (_, ServerFrame::Kicked { .. }) if self.state == State::Connecting => {
                self.on_login_refused(LoginError::Rejected)
            }
            (_, ServerFrame::Kicked { reason }) => self.on_kicked(reason),
            (Link::Up { transport }, frame) => {
                if frame.is_stream_push() {
                    self.unacked_bytes += bytes.len();
                }
                self.on_session_frame(transport, frame);
                self.reconcile();
            }
            (_, _) => {} // nothing else is meaningful before login_ok
        }
    }

    fn on_login_ok(
        &mut self,
        transport: TransportId,
        session: String,
        resumed: bool,
        heartbeat_ms: u32,
        resend_from: u64,
    ) {
        self.link = Link::Up { transport };
        self.last_pong = self.now;
        // Positions before `resend_from` were acknowledged; what follows is resent or new.
        self.stream_pos = resend_from.saturating_sub(1);
        self.acked_pos = self.stream_pos;
        self.unacked_bytes = 0;
        if !resumed {
            self.delivered_pos = self.stream_pos;
        }
        let fresh_session = !resumed && self.session.is_some();
        self.session = Some(session);
        self.backoff.reset();
        self.down_since = None;
        self.heartbeat = Duration::from_millis(u64::from(heartbeat_ms).clamp(200, 5_000));
        self.next_ping = self.now.saturating_add(self.heartbeat);
        if let Some((request, _)) = self.login.take() {
            self.respond(request, Response::Login(Ok(())));
        }
        self.set_state(State::Connected, Reason::LoginSuccess);
        // §2.6: resubscribe (the answer is diffed against what was reported); after losing
        // the server session also re-push user attributes and rejoin channels; then resend
        // whatever was not answered on the old link.
        // Internal corrections still waiting from an earlier link are superseded by the
        // ones made now, and must not be resent after them (an old `replace` would undo a
        // subscription confirmed since).
        self.drop_stale_corrections();
        if !self.subscriptions.is_empty() || self.subscriptions_dirty {
            // `replace`: also drops what a resumed session holds beyond the client's record.
            self.subscriptions_dirty = false;
            let peers = self.subscriptions.keys().cloned().collect();
            let timeout = self.config.request_timeout;
            self.start_request(PendingKind::Reconcile, timeout, |id| {
                ClientFrame::Subscribe {
                    id,
                    peers,
                    replace: true,
                }
            });
        }
        if fresh_session {
            self.repush_user_attributes();
            // The new server session holds no membership: the rejoins below are the whole
            // correction.
            self.channels_dirty.clear();
            self.rejoin_channels();
            self.sync_invitations();
        }
        self.flush_pending();
    }

    fn on_login_refused(&mut self, e: LoginError) {
        if self.state == State::Connecting {
            // An explicit login: it fails (§2.3 CONNECTING → DISCONNECTED).
            if let Some(t) = self.link.transport() {
                self.out
                    .push_back(super::ClientOutput::Close(t, close::NORMAL));
            }
            self.link = Link::Idle { retry_at: None };
            if let Some((request, _)) = self.login.take() {
                self.respond(request, Response::Login(Err(e)));
            }
            self.uid = None;
            self.set_state(State::Disconnected, Reason::LoginFailure);
            return;
        }
        // An automatic re-login: keep trying (§2.3 RECONNECTING stays RECONNECTING), but
        // after an expired token only once the application has renewed it.
        if e == LoginError::TokenExpired {
            self.emit(Event::TokenExpired);
            self.waiting_for_token = true;
        }
        self.link_lost(Some(close::NORMAL));
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
            self.out
                .push_back(super::ClientOutput::Close(t, close::NORMAL));
        }
        self.link = Link::Idle { retry_at: None };
        self.session = None;
        self.down_since = None;
        if let Some((request, _)) = self.login.take() {
            self.respond(request, Response::Login(Err(LoginError::Rejected)));
        }
        // The server removed the session from its channels, dropped its attributes and ended
        // its open invitations.
        self.channels.clear();
        self.user_attributes.clear();
        self.end_invitations_with_session();
        self.set_state(State::Aborted, reason);
    }

    pub(super) fn on_tick(&mut self) {
        let now = self.now;
        if let Some((request, deadline)) = self.login {
            if now >= deadline && self.state == State::Connecting {
                self.login = None;
                if let Some(t) = self.link.transport() {
                    self.out
                        .push_back(super::ClientOutput::Close(t, close::NORMAL));
                }
                self.link = Link::Idle { retry_at: None };
                self.uid = None;
                self.respond(request, Response::Login(Err(LoginError::Timeout)));
                self.set_state(State::Disconnected, Reason::LoginTimeout);
            }
        }
        self.check_interruption();
        match self.link {
            Link::Idle { retry_at: Some(at) }
                if now >= at && !self.waiting_for_token && self.wants_link() =>
            {
                self.open_transport()
            }
            Link::Draining { until, .. } if now >= until => self.finish_drain(),
            Link::Opening { since, .. } if now.since(since) >= self.config.link_timeout => {
                self.link_lost(Some(close::NORMAL))
            }
            Link::LoggingIn { .. } if now.since(self.last_rx) >= self.config.link_timeout => {
                self.link_lost(Some(close::HEARTBEAT_TIMEOUT))
            }
            Link::Up { transport } => {
                if now.since(self.last_pong) >= self.config.link_timeout {
                    self.link_lost(Some(close::HEARTBEAT_TIMEOUT));
                } else if now >= self.next_ping {
                    self.send_ack(transport);
                    self.send_frame(transport, &ClientFrame::Ping {});
                    self.next_ping = now.saturating_add(self.heartbeat);
                }
            }
            _ => {}
        }
        self.expire_requests();
        self.reconcile();
    }

    fn wants_link(&self) -> bool {
        matches!(
            self.state,
            State::Connecting | State::Connected | State::Reconnecting
        )
    }

    /// What a logout forgets: subscriptions, channels, user attributes, the session.
    fn forget_session_state(&mut self) {
        self.subscriptions.clear();
        self.subscriptions_dirty = false;
        self.user_attrs_dirty = false;
        self.channels_dirty.clear();
        self.channels.clear();
        self.user_attributes.clear();
        self.delivered_pos = 0;
    }

    /// `renewToken` while no link is up: the token is kept for the next re-login.
    pub(super) fn token_renewed_offline(&mut self, token: String) {
        self.token = Some(token);
        self.waiting_for_token = false;
    }
}
