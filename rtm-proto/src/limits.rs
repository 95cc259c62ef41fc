//! The spec's limits (§9) that both sides apply: the client checks them before it sends (and
//! answers with the §8 error at once), the server enforces them on whatever arrives. One
//! module, so the two never disagree and the client needs nothing from the server.
//!
//! Content limits live with their types (`message::MAX_MESSAGE_BYTES`,
//! `attributes::MAX_*`, `invitation::MAX_*`, `wire::MAX_FRAME_BYTES`); the server's own
//! budgets and table bounds are in `ServerConfig` and PROTOCOL.md's Limits table.

use core::time::Duration;

/// The app id a server uses, and a client presents, when none is configured (32 hex
/// characters, §1.2).
pub const DEFAULT_APP_ID: &str = "00000000000000000000000000000000";

/// Most ids in one `query_online` (§4.4).
pub const MAX_QUERY_PEERS: usize = 256;
/// Most subscribed peers per session (§4.4).
pub const MAX_SUBSCRIPTIONS: usize = 512;

/// Most channels one session may have joined (§4.8).
pub const MAX_JOINED: usize = 20;
/// Above this many members there are no join/leave events and counts slow down (§5.2).
pub const MEMBER_EVENT_LIMIT: usize = 512;
/// `getMembers` returns at most this many (a random sample beyond).
pub const MAX_GET_MEMBERS: usize = 512;
/// `getChannelMemberCount` takes at most this many channels.
pub const MAX_COUNT_CHANNELS: usize = 32;
/// Replay after a rejoin: messages of the last 30 s, at most 32 per channel (§2.6).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(30);
/// See [`REPLAY_WINDOW`].
pub const REPLAY_MAX: usize = 32;
