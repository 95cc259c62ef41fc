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
pub mod backoff;
pub mod client;
pub mod errors;
pub mod ids;
pub mod invitation;
pub mod message;
pub mod ratelimit;
pub mod rng;
pub mod server;
pub mod time;
pub mod timers;
pub mod token;
pub mod wire;

pub use client::{
    Client, ClientConfig, ClientInput, ClientOutput, ConnectionChangeReason, ConnectionState,
    Event, RequestId, Response, TransportId,
};
pub use errors::*;
pub use ids::{ChannelId, IdError, UserId};
pub use invitation::{
    LocalInvitationFailureReason, LocalInvitationState, RemoteInvitationFailureReason,
    RemoteInvitationState,
};
pub use message::Message;
pub use server::{ConnId, Server, ServerConfig, ServerInput, ServerOutput};
pub use time::Timestamp;
pub use wire::{InvitationKey, PeerMessageOutcome, PeerOnlineState};
