//! Call-invitation vocabulary shared by client and server (§4.10, §7.6–§7.9, §10).
//!
//! The server is the arbiter of every invitation: caller and callee send their actions to
//! it, it decides the one outcome (whichever action reaches it first wins a race) and tells
//! both sides. So the two views can never disagree; see PROTOCOL.md "Invitations" for the
//! matching failure reasons.

use core::time::Duration;

use serde::{Deserialize, Serialize};

/// Largest invitation content or response, bytes (§9.1).
pub const MAX_CONTENT_BYTES: usize = 8 * 1024;
/// Largest invitation channel id, bytes (§1.4).
pub const MAX_CHANNEL_ID_BYTES: usize = 64;
/// The callee must acknowledge within this of sending (§10.1).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Undecided invitations expire this long after sending (§10.1).
pub const EXPIRY: Duration = Duration::from_secs(60);
/// An accept made while the caller is away fails if it is not back within this (§9.3).
pub const ACCEPT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// `LocalInvitationState` (§7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LocalInvitationState {
    Idle = 0,
    SentToRemote = 1,
    ReceivedByRemote = 2,
    AcceptedByRemote = 3,
    RefusedByRemote = 4,
    Canceled = 5,
    Failure = 6,
}

impl LocalInvitationState {
    /// Accepted, refused, canceled or failed.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::AcceptedByRemote | Self::RefusedByRemote | Self::Canceled | Self::Failure
        )
    }
}

/// `RemoteInvitationState` (§7.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RemoteInvitationState {
    Idle = 0,
    InvitationReceived = 1,
    AcceptSentToLocal = 2,
    Refused = 3,
    Accepted = 4,
    Canceled = 5,
    Failure = 6,
}

impl RemoteInvitationState {
    /// Accepted, refused, canceled or failed.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Refused | Self::Accepted | Self::Canceled | Self::Failure
        )
    }
}

/// `LocalInvitationFailureReason` (§7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LocalInvitationFailureReason {
    /// The callee was offline for the 30 s after sending, or went offline while ringing.
    PeerOffline = 1,
    /// The callee was online but its client did not acknowledge within 30 s.
    PeerNoResponse = 2,
    /// Nobody decided within 60 s of sending.
    InvitationExpire = 3,
    /// The caller was not logged in, or its session ended while the invitation was open.
    NotLoggedin = 4,
}

/// `RemoteInvitationFailureReason` (§7.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RemoteInvitationFailureReason {
    /// The other party is offline (the caller's session ended), or the callee's own session
    /// ended while the invitation was open.
    PeerOffline = 1,
    /// Accepted while the caller was away, and the caller did not come back within 5 s.
    AcceptFailure = 2,
    /// Nobody decided within 60 s of sending (or the callee acknowledged too late).
    InvitationExpire = 3,
}
