//! The states of the session flow, each holding only its own data: [`Phase`] is where the
//! login session stands (the §2.1 state the application sees), [`Link`] what the transport
//! under it is doing. Their deadlines are [`Timer`](super::timer::Timer) slots; the
//! transitions are in `session.rs`.

use crate::time::Timestamp;

use super::{RequestId, TransportId};

/// Connection states (§2.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    Disconnected = 1,
    Connecting = 2,
    Connected = 3,
    Reconnecting = 4,
    Aborted = 5,
}

/// Connection change reasons (§2.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionChangeReason {
    Login = 1,
    LoginSuccess = 2,
    LoginFailure = 3,
    LoginTimeout = 4,
    Interrupted = 5,
    Logout = 6,
    BannedByServer = 7,
    RemoteLogin = 8,
    TokenExpired = 9,
}

impl ConnectionState {
    /// The Web SDK's string for this state (`AgoraRTM.ConnectionState`).
    pub const fn sdk_name(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "DISCONNECTED",
            ConnectionState::Connecting => "CONNECTING",
            ConnectionState::Connected => "CONNECTED",
            ConnectionState::Reconnecting => "RECONNECTING",
            ConnectionState::Aborted => "ABORTED",
        }
    }
}

impl ConnectionChangeReason {
    /// The Web SDK's string for this reason (`AgoraRTM.ConnectionChangeReason`).
    pub const fn sdk_name(self) -> &'static str {
        match self {
            ConnectionChangeReason::Login => "LOGIN",
            ConnectionChangeReason::LoginSuccess => "LOGIN_SUCCESS",
            ConnectionChangeReason::LoginFailure => "LOGIN_FAILURE",
            ConnectionChangeReason::LoginTimeout => "LOGIN_TIMEOUT",
            ConnectionChangeReason::Interrupted => "INTERRUPTED",
            ConnectionChangeReason::Logout => "LOGOUT",
            ConnectionChangeReason::BannedByServer => "BANNED_BY_SERVER",
            ConnectionChangeReason::RemoteLogin => "REMOTE_LOGIN",
            ConnectionChangeReason::TokenExpired => "TOKEN_EXPIRED",
        }
    }
}

/// The login session: a [`ConnectionState`] with the data of its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Disconnected,
    /// An explicit `login` waits for its first `login_ok`; `Timer::Login` is its deadline.
    Connecting {
        request: RequestId,
    },
    /// Logged in. While the link is down `Timer::Interruption` is armed.
    Connected,
    /// Logged in, the link down for longer than the interruption threshold.
    Reconnecting,
    /// Ended by the server (kicked); a new `login` starts over.
    Aborted,
}

impl Phase {
    pub(super) fn state(self) -> ConnectionState {
        match self {
            Phase::Disconnected => ConnectionState::Disconnected,
            Phase::Connecting { .. } => ConnectionState::Connecting,
            Phase::Connected => ConnectionState::Connected,
            Phase::Reconnecting => ConnectionState::Reconnecting,
            Phase::Aborted => ConnectionState::Aborted,
        }
    }

    pub(super) fn is_logged_in(self) -> bool {
        matches!(self, Phase::Connected | Phase::Reconnecting)
    }
}

/// The state of the link to the server, below the [`Phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// No transport. `Timer::Reconnect`, when armed, opens the next.
    Idle,
    /// No transport, and none until the application renews the token the server refused as
    /// expired during a re-login; then the next opens at `retry_at`.
    AwaitingToken { retry_at: Option<Timestamp> },
    /// Waiting for the transport to open (`Timer::LinkDead` gives up).
    Opening { transport: TransportId },
    /// `login` sent, waiting for `login_ok` (`Timer::LinkDead` runs from the last frame).
    LoggingIn {
        transport: TransportId,
        request: u32,
    },
    /// Logged in on this transport (`Timer::LinkDead` runs from the last `pong`; a link is
    /// alive while the server answers our pings, not merely while it sends).
    Up { transport: TransportId },
    /// Logged out: waiting (briefly, `Timer::Drain`) for the server's `ok` to the logout, so
    /// that decisions it made before the logout still arrive; then the transport is closed.
    Draining {
        transport: TransportId,
        request: u32,
    },
}

impl Link {
    pub(super) fn transport(&self) -> Option<TransportId> {
        match *self {
            Link::Idle | Link::AwaitingToken { .. } => None,
            Link::Opening { transport }
            | Link::LoggingIn { transport, .. }
            | Link::Up { transport }
            | Link::Draining { transport, .. } => Some(transport),
        }
    }
}
