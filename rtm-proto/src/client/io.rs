//! What goes in and out of a [`Client`](super::Client): its settings, its inputs, the
//! outputs its driver carries out, and the result of each command.

use core::time::Duration;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::attributes::ChannelAttribute;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::limits::DEFAULT_APP_ID;
use crate::logs::LogLevel;
use crate::wire::PeerMessageOutcome;

use super::{Event, TransportId};

/// Client settings. `Default` gives the timers of §2.5 and §9.3.
///
/// Not `#[non_exhaustive]`, on purpose: embedders set what they need with struct-update
/// syntax (`{ field, ..Default::default() }`), which a new setting (always added with a
/// default) does not break, whereas `#[non_exhaustive]` would forbid that syntax outside
/// this crate.
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
    /// `enableLogUpload`: send the client's log lines to the server (off by default, as in
    /// Agora's SDK).
    pub log_upload: bool,
    /// `logFilter`: the least important level of line recorded; `None` records none.
    pub log_filter: Option<LogLevel>,
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
            log_upload: false,
            log_filter: Some(LogLevel::Info),
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
    /// Carry out (or abort) an HTTP exchange of a file or image transfer (`media.rs`).
    Transfer(super::TransferOrder),
}

impl Response {
    /// Whether the command failed.
    pub fn is_err(&self) -> bool {
        match self {
            Response::Login(r) => r.is_err(),
            Response::RenewToken(r) => r.is_err(),
            Response::SendMessageToPeer(r) => r.is_err(),
            Response::QueryPeersOnlineStatus(r) => r.is_err(),
            Response::SubscribePeersOnlineStatus(r) => r.is_err(),
            Response::UnsubscribePeersOnlineStatus(r) => r.is_err(),
            Response::Join(r) => r.is_err(),
            Response::Leave(r) => r.is_err(),
            Response::SendChannelMessage(r) => r.is_err(),
            Response::GetMembers(r) => r.is_err(),
            Response::GetChannelMemberCount(r) => r.is_err(),
            Response::AttributeWrite(r) => r.is_err(),
            Response::GetUserAttributes(r) => r.is_err(),
            Response::GetChannelAttributes(r) => r.is_err(),
            Response::UploadMedia(r) => r.is_err(),
            Response::DownloadMedia(r) => r.is_err(),
        }
    }
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
    /// The FILE or IMAGE message made by an upload, ready to send.
    UploadMedia(Result<crate::message::Message, UploadMediaError>),
    DownloadMedia(Result<super::MediaDownload, DownloadMediaError>),
}
