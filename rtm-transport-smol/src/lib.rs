//! # rtm-transport-smol — RTM over real sockets
//!
//! Thin drivers that carry out what the sans-IO core ([`rtm_proto`]) asks for, over
//! WebSockets on [smol](https://docs.rs/smol) and
//! [async-tungstenite](https://docs.rs/async-tungstenite):
//!
//! * [`server`]: one task owns a [`rtm_proto::Server`]; an accept loop hands every connection
//!   to a reader and a writer that move whole frames through channels to and from that task.
//!   Embed it with [`spawn_server`] (own thread) or [`serve`] (any executor).
//! * [`http`]: the port is an HTTP/1.1 server ([hyper](https://docs.rs/hyper) on smol): a
//!   request with `Upgrade: websocket`, at any path, becomes a WebSocket (if its `Origin`
//!   is allowed, [`AllowedOrigins`]); `/healthz` and `/readyz` are health probes; any other
//!   GET gets a static file embedded at compile time
//!   ([include_dir](https://docs.rs/include_dir)): the demo page at `/`, the Web SDK under
//!   `/sdk/`. Why those two crates: [`http`]. The operator's plane is there too: the REST
//!   API under `/v1/` (`openapi.yaml`), answered by the core, and Prometheus metrics at
//!   `/metrics` ([prometheus-client](https://docs.rs/prometheus-client)). Files and images
//!   of FILE/IMAGE messages go up and down `/v1/media` ([`http::media`]), streamed to and
//!   from files in the data directory.
//! * [`tls`]: `https://` and `wss://` on the same port ([`TlsConfig`]), and `wss://` for the
//!   client, with rustls.
//! * [`client`]: [`RtmClient`], async methods mirroring the Agora SDK in snake_case and a stream
//!   of events. The core runs on its own thread; the futures are plain channel receives, so
//!   they work on any executor. Channels ([`RtmChannel`], [`channel`]), user and channel
//!   attributes ([`attributes`]) and call invitations ([`LocalInvitation`],
//!   [`RemoteInvitation`], [`invitation`]) are thin handles and methods over the same client;
//!   media uploads and downloads ([`media`]) are HTTP exchanges the core orders.
//! * [`storage`]: where the server keeps the offline messages it answered `cached`: SQLite
//!   in a data directory, written by a thread of its own with group commit, or memory only
//!   ([`Storage`], in [`ServeOptions::storage`]).
//!
//! The drivers hold no protocol logic: heartbeats, liveness, reconnection, request ids and
//! timeouts, rate and size limits all live in the core. What is decided here is only about
//! sockets and WebSockets: buffer sizes, per-connection queue bounds (a peer that does not
//! keep up is closed with [`rtm_proto::wire::close::SLOW_CONSUMER`]), binary frames (closed
//! with 1003), frames over [`rtm_proto::wire::MAX_FRAME_BYTES`] (closed with 1009 before
//! their payload is read).
//!
//! ## Memory per connection
//!
//! tungstenite's defaults allocate a 128 KiB read buffer per connection and let the write
//! buffer grow to 128 KiB before writing. Here both are 4 KiB ([`websocket_config`]); the
//! outbound queue is allocated lazily and bounded by [`QueueLimits`].
//!
//! Measured with `cargo run --release -p rtm-transport-smol --example idle_memory` (2000
//! idle connections, live heap of the server process per connection): about 7.5 KB for an
//! open WebSocket that has not logged in (4 KiB of it the read buffer, ~2 KB the connection's
//! task) and about 10 KB for a logged-in one (the core's session included), against about
//! 135 KB with tungstenite's default settings. Kernel socket buffers come on top.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod admin;
mod answers;
pub mod attributes;
pub mod channel;
pub mod client;
pub mod events;
mod file_chunks;
pub mod http;
pub mod invitation;
mod link;
pub mod media;
mod media_files;
mod metrics;
pub mod server;
pub mod storage;
pub mod tls;
mod transfers;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtm_proto::Timestamp;

pub use answers::Answer;
pub use channel::RtmChannel;
pub use client::{ClientError, ConnectOptions, RtmClient};
pub use events::{Events, RecvError, EVENT_QUEUE};
pub use http::origin::{AllowedOrigins, OriginError};
pub use http::{MAX_REQUEST_HEAD_BYTES, RESPONSE_GRACE};
pub use invitation::{LocalInvitation, RemoteInvitation};
pub use link::{
    websocket_config, QueueLimits, CLOSE_GRACE, CLOSE_INVALID_PAYLOAD, CLOSE_UNSUPPORTED_DATA,
    CLOSE_WS_PROTOCOL_ERROR, MAX_WRITE_BUFFER_BYTES, READ_BUFFER_BYTES, WRITE_BUFFER_BYTES,
};
pub use rtm_proto::client::{ChannelAttributeOptions, InvitationId};
pub use rtm_proto::wire::InvitationKey;
pub use server::{serve, serve_opened, spawn_server, ServeOptions, ServerHandle};
pub use storage::{GroupCommit, Storage};
pub use tls::{TlsConfig, TlsError};

/// The driver's clocks: monotonic time from the driver's start, and the wall clock then.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    unix_ms: u64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            unix_ms,
        }
    }

    /// The monotonic time now, as the core counts it.
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// The origin of [`Clock::now`] on the wall clock (Unix ms).
    pub(crate) fn unix_ms_at_start(&self) -> u64 {
        self.unix_ms
    }

    /// The instant at which the core's clock reads `t`; `None` if too far away to matter.
    pub(crate) fn instant(&self, t: Timestamp) -> Option<Instant> {
        self.start.checked_add(Duration::from_millis(t.as_millis()))
    }

    /// A timer that fires when the core's clock reads `t` (never for `None`).
    pub(crate) fn timer(&self, t: Option<Timestamp>) -> smol::Timer {
        match t.and_then(|t| self.instant(t)) {
            Some(at) => smol::Timer::at(at),
            None => smol::Timer::never(),
        }
    }
}

/// A seed for the core's PRNG from the operating system (the time and the process id if the
/// OS has no randomness to give).
pub(crate) fn random_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ (u64::from(std::process::id()) << 32)
    })
}
