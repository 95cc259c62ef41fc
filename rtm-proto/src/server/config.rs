//! The server's settings, with the defaults of the spec and of PROTOCOL.md's Limits table.

use core::time::Duration;

use crate::ratelimit::Rate;

/// Server settings. `Default` gives app-id-only mode with the timers of §2.4 and §9.4.
///
/// Not `#[non_exhaustive]`, on purpose: embedders set what they need with struct-update
/// syntax (`{ field, ..Default::default() }`), which a new setting (always added with a
/// default) does not break, whereas `#[non_exhaustive]` would forbid that syntax outside
/// this crate.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The app id clients must present (§1.2).
    pub app_id: String,
    /// Certificate mode when set: logins need a valid 006/007 token (§3).
    pub app_certificate: Option<String>,
    /// Heartbeat interval advertised to clients (must be well under `unreachable_after`).
    pub heartbeat: Duration,
    /// Silence after which subscribers see UNREACHABLE (§2.4: 6 s).
    pub unreachable_after: Duration,
    /// Silence after which the session ends and the user is OFFLINE (§2.4: 30 s).
    pub offline_after: Duration,
    /// A connection that has not logged in by then is closed.
    pub login_timeout: Duration,
    /// Logins from one source address (an IPv6 /64), as a token bucket: `max` at once,
    /// refilled at `max` per `window`. Over it: LoginError TOO_OFTEN (see `logins.rs`).
    pub logins_per_source: Rate,
    /// Source addresses remembered for `logins_per_source` (about 64 bytes each). When all
    /// are busy, logins from new sources go untracked (the table fails open).
    pub login_sources: usize,
    /// Offline messages kept per receiver (§4.3.4: 200, oldest evicted).
    pub offline_per_user: usize,
    /// How long offline messages are kept (§4.3.4: 7 days).
    pub offline_retention: Duration,
    /// Bytes of offline messages kept per receiver (bodies, ids, ~128 bytes each), the
    /// newest evicting the oldest. With 200 messages of at most 32 KB the count binds
    /// first by default; this bounds a store whose count an operator raised.
    pub offline_user_bytes: usize,
    /// Offline messages kept in all; beyond it new offline messages are refused
    /// (`PEER_UNREACHABLE`) rather than growing memory without limit.
    pub offline_total: usize,
    /// The same bound in bytes (counted as for `offline_user_bytes`).
    pub offline_total_bytes: usize,
    /// Unacknowledged pushes a session's delivery stream holds. A receiver this far behind
    /// (away, or acknowledging slowly) is refused new peer messages (`unreachable`) and
    /// loses member events and attribute notifications; its channel messages wait and are
    /// caught up from the channel's recent history (last 30 s, at most 32), and a missed
    /// member count by the current one, once it has acknowledged half of the stream.
    pub max_unacked: usize,
    /// The same bound in bytes of encoded frames, so that what a resume resends at once stays
    /// within what a driver's connection queue holds.
    pub max_unacked_bytes: usize,
    /// Pushes sent and not yet acknowledged at once on a connection (the send window); the
    /// rest wait for acks. Keeps a login's backlog or a resume from flooding a connection.
    pub send_window: usize,
    /// The send window in bytes (one push always goes, however large): what it grows to.
    pub send_window_bytes: usize,
    /// The send window in bytes at the start of every connection; each acknowledgement
    /// opens it by the bytes it acknowledged, up to `send_window_bytes`. A client must
    /// acknowledge before this much is unacknowledged or wait for its next heartbeat.
    pub initial_window_bytes: usize,
    /// How long a sender's `msg_id` is remembered to make resends idempotent.
    pub dedup_window: Duration,
    /// Bytes the remembered sends may take in all (about 200 bytes plus twice the ids each);
    /// beyond it the oldest settled sends are forgotten early (see `resends.rs`).
    pub dedup_bytes: usize,
    /// Channels the server holds at once (joined, or kept for their attributes). A join or
    /// attribute write that needs one more is refused (FAILURE) until some are forgotten.
    pub max_channels: usize,
    /// Bytes all channels' attributes may take together (keys, values, writer ids, ~96
    /// bytes per key). A write that would pass it is refused with SIZE_OVERFLOW.
    pub channel_attributes_total: usize,
    /// Bytes every invitation record may take together (contents, response, ids, ~384 bytes
    /// each; kept 5 minutes). An `invite` past it gets InvitationApiCallError 6.
    pub invitations_total_bytes: usize,
    /// Bytes of channel messages kept for replays and catch-ups, over all channels (each
    /// keeps its last 30 s, at most 32). Past it new messages are delivered but not kept.
    pub channel_history_total: usize,
    /// How long the attributes of a channel nobody is in are kept (§4.6 "a couple of
    /// minutes", §14.7).
    pub channel_attributes_grace: Duration,
    /// A record write not committed by then counts as failed (see `storage.rs`): its
    /// sender is not left waiting on a disk that hangs.
    pub storage_write_timeout: Duration,
    /// Keys of the REST API (`admin`); none (the default) turns the API off.
    pub admin_keys: Vec<super::admin::AdminKey>,
    /// The REST API's rates per key and the bounds of what it keeps (pending calls, the
    /// event logs, ban rules, the client log window).
    pub admin: AdminLimits,
    /// File and image media (§4.9): retention, quotas and the bounds of the transfer tables.
    pub media: MediaLimits,
}

/// Media's retention, quotas and table bounds (PROTOCOL.md, Limits). Bytes are reserved
/// when an upload starts (by its declared length) and released if it does not complete.
#[derive(Debug, Clone)]
pub struct MediaLimits {
    /// How long an uploaded file and its media id live (§4.9: 7 days).
    pub retention: Duration,
    /// Bytes of live media one user may have uploaded; past it: 507 `quota_exceeded`.
    pub user_bytes: u64,
    /// Bytes of live media on the server in all (the data directory's budget); the same.
    pub total_bytes: u64,
    /// Media records kept at once (about 200 bytes of memory each); the same.
    pub records: usize,
    /// Uploads and downloads running at once per user (§4.9: 9); past it: 429.
    pub transfers_per_user: usize,
    /// Uploads and downloads running at once in all; past it: 503 `busy`.
    pub transfers: usize,
    /// How long a transfer ticket may wait for its HTTP request.
    pub ticket_ttl: Duration,
    /// Unused tickets one session may hold; past it a `media_grant` fails.
    pub tickets_per_session: usize,
    /// Unused tickets in all (about 150 bytes each); the same.
    pub tickets: usize,
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            retention: Duration::from_secs(7 * 24 * 3600),
            user_bytes: 1024 * 1024 * 1024,
            total_bytes: 10 * 1024 * 1024 * 1024,
            records: 262_144,
            transfers_per_user: 9,
            transfers: 1024,
            ticket_ttl: Duration::from_secs(60),
            tickets_per_session: 32,
            tickets: 16_384,
        }
    }
}

/// The operator's plane's rates and bounds (PROTOCOL.md, Limits). Each rate is a token
/// bucket per admin key whose burst is one second's worth.
#[derive(Debug, Clone)]
pub struct AdminLimits {
    /// Peer messages sent as a user, per second (§13: 500).
    pub peer_messages_per_sec: u32,
    /// Channel messages sent as a user, per second (§13: 1 000).
    pub channel_messages_per_sec: u32,
    /// Pulls of the user or channel event log, per second (§13: 10).
    pub event_pulls_per_sec: u32,
    /// Other reads (online status, members, attributes, logs, bans), per second.
    pub reads_per_sec: u32,
    /// Writes (channel attributes, ban rules), per second.
    pub writes_per_sec: u32,
    /// Calls waiting for an outcome at once (a `wait_for_ack` send, a ban's write); beyond
    /// it a call that would wait is answered 503 `busy`.
    pub pending_calls: usize,
    /// How long a call waits for its outcome before it is answered 408 `timeout`.
    pub wait_timeout: Duration,
    /// Events kept per event log (user events, channel events); the oldest are dropped.
    pub event_log_events: usize,
    /// Bytes each event log may take (ids plus ~64 bytes per event); the oldest dropped.
    pub event_log_bytes: usize,
    /// Ban rules at once; a new rule beyond it is refused 503 `full`.
    pub ban_rules: usize,
    /// Bytes the ban rules may take (ids, address, reason, ~160 bytes each); the same.
    pub ban_bytes: usize,
    /// Bytes of uploaded client log lines kept per user (text plus ~48 bytes per line);
    /// the user's oldest lines are dropped.
    pub client_log_user_bytes: usize,
    /// Age past which an uploaded log line is no longer kept or shown.
    pub client_log_age: Duration,
    /// Bytes of uploaded log lines kept in all; past it the oldest lines of the user who
    /// has the most are dropped.
    pub client_log_total_bytes: usize,
}

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits {
            peer_messages_per_sec: 500,
            channel_messages_per_sec: 1000,
            event_pulls_per_sec: 10,
            reads_per_sec: 100,
            writes_per_sec: 100,
            pending_calls: 4096,
            wait_timeout: Duration::from_secs(10),
            event_log_events: 10_000,
            event_log_bytes: 4 * 1024 * 1024,
            ban_rules: 10_000,
            ban_bytes: 4 * 1024 * 1024,
            client_log_user_bytes: 64 * 1024,
            client_log_age: Duration::from_secs(24 * 3600),
            client_log_total_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            app_id: DEFAULT_APP_ID.to_string(),
            app_certificate: None,
            heartbeat: Duration::from_secs(2),
            unreachable_after: Duration::from_secs(6),
            offline_after: Duration::from_secs(30),
            login_timeout: Duration::from_secs(10),
            logins_per_source: Rate::new(1000, Duration::from_secs(10)),
            login_sources: 65_536,
            offline_per_user: 200,
            offline_retention: Duration::from_secs(7 * 24 * 3600),
            offline_user_bytes: 8 * 1024 * 1024,
            offline_total: 1_000_000,
            offline_total_bytes: 1024 * 1024 * 1024,
            max_unacked: 1024,
            max_unacked_bytes: 8 * 1024 * 1024,
            send_window: 256,
            send_window_bytes: 1024 * 1024,
            initial_window_bytes: 64 * 1024,
            dedup_window: Duration::from_secs(120),
            dedup_bytes: 128 * 1024 * 1024,
            max_channels: 100_000,
            channel_attributes_total: 256 * 1024 * 1024,
            invitations_total_bytes: 256 * 1024 * 1024,
            channel_history_total: 256 * 1024 * 1024,
            channel_attributes_grace: Duration::from_secs(180),
            storage_write_timeout: Duration::from_secs(5),
            admin_keys: Vec::new(),
            admin: AdminLimits::default(),
            media: MediaLimits::default(),
        }
    }
}

pub use crate::limits::DEFAULT_APP_ID;
