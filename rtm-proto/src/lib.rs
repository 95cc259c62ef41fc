//! # rtm-proto — the sans-IO core of RTM
//!
//! RTM is a self-hosted real-time messaging system with the feature set of the Agora RTM 1.x
//! SDK. This crate holds everything protocol: the wire format ([`wire`]), the client state
//! machine ([`client::Client`]) and the server state machine ([`server::Server`]). It does no
//! IO, reads no clock, draws no ambient randomness, spawns no threads and has no async code:
//! drivers (`rtm-transport-smol` for real sockets, `rtm-transport-sim` for the deterministic
//! simulator) feed it inputs and carry out its outputs.
//!
//! ## The driving contract (both `Client` and `Server`)
//!
//! * `new(config, seed, now, unix_ms)` — `now` is a monotonic [`Timestamp`] from an origin the
//!   driver picks; `unix_ms` is the wall clock at that moment (used for what users see:
//!   `serverReceivedTs`, token expiry). `seed` drives the crate's only randomness ([`rng::Rng`]).
//! * `handle_input(now, input)` for everything that happens: a transport opened or closed, a
//!   whole frame received, a timer tick. `now` never goes backwards.
//! * `poll_output()` until `None` after **every** input, carrying out outputs in order.
//! * `poll_timeout()` — the earliest moment a `Tick` would do something; while outputs are
//!   queued it returns the last `now`. A driver sleeps until then (or until other input).
//!
//! Application commands on the client are methods (`client.login(..)`,
//! `client.send_message_to_peer(..)`) that validate locally and return the §8 error at once
//! or a [`client::RequestId`] whose result arrives later as an event.
//!
//! ## A driving loop, in memory
//!
//! A client logged into a server with nothing between them but this loop: each side's
//! outputs become the other side's inputs, and time moves to the earlier of the two
//! `poll_timeout`s. A real driver does the same with sockets and a clock.
//!
//! ```
//! use rtm_proto::{
//!     Client, ClientConfig, ClientInput, ClientOutput, ConnId, ConnectionState, Event, Server,
//!     ServerConfig, ServerInput, ServerOutput, Timestamp,
//! };
//! use rtm_proto::server::{StorageEvent, StorageOp};
//!
//! let unix_ms = 1_700_000_000_000;
//! let mut now = Timestamp::ZERO;
//! let mut server = Server::new(ServerConfig::default(), 1, now, unix_ms);
//! let mut client = Client::new(ClientConfig::default(), 2, now, unix_ms);
//! client.login(now, "alice", None).expect("a valid user id");
//!
//! // One transport at a time here: the client's transport id and the server's conn id.
//! let mut link = None;
//! let mut connected = false;
//! for _ in 0..100 {
//!     while let Some(out) = client.poll_output() {
//!         match out {
//!             ClientOutput::Connect(t) => {
//!                 let conn = ConnId(t.0);
//!                 link = Some((t, conn));
//!                 server.handle_input(now, ServerInput::Opened(conn, None));
//!                 client.handle_input(now, ClientInput::Opened(t));
//!             }
//!             ClientOutput::Send(_, frame) => {
//!                 let (_, conn) = link.expect("sent on an open transport");
//!                 server.handle_input(now, ServerInput::Frame(conn, frame));
//!             }
//!             ClientOutput::Close(_, _) => {
//!                 let (t, conn) = link.take().expect("closed an open transport");
//!                 server.handle_input(now, ServerInput::Closed(conn));
//!                 client.handle_input(now, ClientInput::Closed(t));
//!             }
//!             ClientOutput::Event(Event::ConnectionStateChanged { state, .. }) => {
//!                 connected = state == ConnectionState::Connected;
//!             }
//!             ClientOutput::Event(_) => {}
//!             // This client uploads and downloads no files (`rtm_proto::client` media).
//!             ClientOutput::Transfer(_) => {}
//!         }
//!     }
//!     while let Some(out) = server.poll_output() {
//!         let Some((t, _)) = link else { continue };
//!         match out {
//!             ServerOutput::Send { frame, .. } => {
//!                 client.handle_input(now, ClientInput::Frame(t, frame))
//!             }
//!             ServerOutput::Close { .. } => {
//!                 link = None;
//!                 client.handle_input(now, ClientInput::Closed(t));
//!             }
//!             // Keeping peer messages for absent receivers (`rtm_proto::server::storage`):
//!             // nothing is stored here, so a record is as durable as this loop.
//!             ServerOutput::Storage(StorageOp::Write(record)) => {
//!                 let done = StorageEvent::Committed(vec![record.id]);
//!                 server.handle_input(now, ServerInput::Storage(done));
//!             }
//!             ServerOutput::Storage(StorageOp::Delete(_)) => {}
//!             // This loop makes no REST calls (`rtm_proto::server::admin`) and moves no
//!             // media files (`rtm_proto::server::media`).
//!             ServerOutput::AdminReply(_) | ServerOutput::Media(_) => {}
//!         }
//!     }
//!     if connected {
//!         break;
//!     }
//!     // Nothing left to carry: sleep until the next timer of either side.
//!     let next = [client.poll_timeout(), server.poll_timeout()]
//!         .into_iter()
//!         .flatten()
//!         .min();
//!     if let Some(t) = next {
//!         now = now.max(t);
//!         client.handle_input(now, ClientInput::Tick);
//!         server.handle_input(now, ServerInput::Tick);
//!     }
//! }
//! assert!(connected, "alice is logged in");
//! assert_eq!(server.stats().sessions, 1);
//! ```
//!
//! Same inputs, same outputs, byte for byte: no `HashMap` iteration reaches an output, and
//! the PRNG stream is fixed (SplitMix64).
//!
//! ## Panics
//!
//! Peer input never panics: malformed or hostile frames become an error reply or a close with
//! a documented code. A broken internal invariant is a bug and is checked with
//! `debug_assert!`.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod attributes;
pub(crate) mod backoff;
pub mod client;
pub mod errors;
pub mod ids;
pub mod invitation;
pub mod limits;
pub mod logs;
pub mod media;
pub mod message;
pub mod ratelimit;
pub mod rng;
pub mod server;
pub mod time;
pub(crate) mod timers;
pub mod token;
pub mod wire;

pub use client::{
    ChannelEvent, Client, ClientConfig, ClientInput, ClientOutput, ConnectionChangeReason,
    ConnectionState, Event, LocalInvitationEvent, RemoteInvitationEvent, RequestId, Response,
    TransportId,
};
pub use errors::*;
pub use ids::{ChannelId, IdError, UserId};
pub use invitation::{
    LocalInvitationFailureReason, LocalInvitationState, RemoteInvitationFailureReason,
    RemoteInvitationState,
};
pub use message::Message;
pub use server::{ConnId, Observer, Server, ServerConfig, ServerInput, ServerOutput};
pub use time::Timestamp;
pub use wire::{InvitationKey, PeerMessageOutcome, PeerOnlineState};
