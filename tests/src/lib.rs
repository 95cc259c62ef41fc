//! Shared helpers for the integration tests in `tests/`.
//!
//! End-to-end tests (`e2e_*.rs`) are stories ([`story`]): each starts its own server on a
//! free loopback port ([`TestServer::start`]), names its cast of logged-in users
//! ([`TestServer::users`]), talks to it with [`RtmClient`](rtm_transport_smol::RtmClient)s
//! ([`TestClient`]) or with a raw WebSocket ([`RawWs`]) when it needs to misbehave, and stops
//! it at the end. The port's HTTP side is tested with hyper's client ([`HttpClient`]) and
//! hand-written requests ([`raw_exchange`]). Every wait is bounded ([`WAIT`]); nothing
//! asserts timing with a sleep.
//!
//! Channel stories compare exact sequences of [`ChannelEvent`]s with
//! [`TestClient::expect_channel_events`], which lets `MemberCountUpdated` come anywhere (the
//! server coalesces counts by time) but requires the latest count to reach the truth.

mod client;
mod http;
mod proxy;
mod raw;
mod server;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_lite::future;
pub use rtm_proto::ChannelEvent;
use rtm_proto::{ChannelId, ClientConfig, ServerConfig, UserId};

pub use client::{each_hears, log_out, Received, Say, TestClient};
pub use http::{raw_exchange, HttpClient, Reply};
pub use proxy::Proxy;
pub use raw::{Closed, RawWs};
pub use server::{story, TestServer};

/// The longest any test waits for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs an async test body.
pub fn run<T>(f: impl Future<Output = T>) -> T {
    smol::block_on(f)
}

/// `f`'s result, or a panic naming `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    future::or(async { Some(f.await) }, async {
        smol::Timer::after(limit).await;
        None
    })
    .await
    .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// The wall clock, Unix ms.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A user id (panics on an invalid one: test data).
pub fn uid(s: &str) -> UserId {
    UserId::new(s).expect("valid test user id")
}

/// A channel id (panics on an invalid one: test data).
pub fn cid(s: &str) -> ChannelId {
    ChannelId::new(s).expect("valid test channel id")
}

/// An attribute map from `(key, value)` pairs.
pub fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Expected channel events for [`TestClient::expect_channel_events`], built from plain
/// strings.
pub mod chan {
    use rtm_proto::{ChannelEvent, Message};

    /// A text `ChannelMessage` from `from`, whatever its timestamp.
    pub fn text(from: &str, text: &str) -> ChannelEvent {
        ChannelEvent::Message {
            member_id: super::uid(from),
            message: Message::text(text),
            server_received_ts: 0,
        }
    }

    /// `MemberJoined(who)`.
    pub fn joined(who: &str) -> ChannelEvent {
        ChannelEvent::MemberJoined {
            member_id: super::uid(who),
        }
    }

    /// `MemberLeft(who)`.
    pub fn left(who: &str) -> ChannelEvent {
        ChannelEvent::MemberLeft {
            member_id: super::uid(who),
        }
    }

    /// The same event with a zero timestamp, to compare messages by sender and body.
    pub fn untimed(event: &ChannelEvent) -> ChannelEvent {
        match event {
            ChannelEvent::Message {
                member_id, message, ..
            } => ChannelEvent::Message {
                member_id: member_id.clone(),
                message: message.clone(),
                server_received_ts: 0,
            },
            other => other.clone(),
        }
    }
}

/// Server settings with liveness timers shrunk for tests: UNREACHABLE after 800 ms of
/// silence, OFFLINE after 2 s, heartbeats every 200 ms.
pub fn fast_liveness(config: ServerConfig) -> ServerConfig {
    ServerConfig {
        heartbeat: Duration::from_millis(200),
        unreachable_after: Duration::from_millis(800),
        offline_after: Duration::from_secs(2),
        ..config
    }
}

/// Client settings for tests: quick reconnection.
pub fn test_client_config() -> ClientConfig {
    ClientConfig {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..ClientConfig::default()
    }
}
