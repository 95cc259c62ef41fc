//! # rtm-transport-sim — deterministic simulation of RTM
//!
//! A pure event loop over the real [`rtm_proto::Server`] and [`rtm_proto::Client`]s, driven
//! through exactly their public `handle_input` / `poll_output` / `poll_timeout` surface and
//! the client's command methods, in virtual time, over a simulated network with faults. One
//! master seed derives every random choice, so a failing run replays from one number:
//!
//! ```text
//! cargo run -p rtm-transport-sim --release -- --seed 42
//! ```
//!
//! * [`sim`]: the event heap (time, sequence number), node draining in node order, the
//!   network delivery, and the invariants checked after every step.
//! * [`net`]: ordered per-connection links with latency, jitter, stalls, half-open
//!   directions, throttling (slow consumers) and resets.
//! * [`model`]: the reference model (sessions and liveness, presence history, messages and
//!   their outcomes) and the pure rules (§2.3 transitions).
//! * `workload`: the applications (login/logout, peer messages with and without offline
//!   storage, subscriptions, queries, token renewal, misuse), the fault injector (resets,
//!   half-open links, stalls, partitions, slow consumers, refused connects, server crash and
//!   restart), healing and the post-heal probes.
//! * [`runner`]: many seeds on several threads with a time budget (swarm testing: the fault
//!   and workload rates themselves are drawn from each seed).
//! * [`fuzz_targets`]: the bodies of the cargo-fuzz targets in `fuzz/`, shared with the
//!   stable corpus-replay test.
//!
//! ## Model rules worth knowing
//!
//! * **A server crash loses the offline store.** Offline messages are in memory in the core
//!   for now, so a message the sender was told `Cached` is only required to arrive if no crash
//!   happened after it was cached. When the core persists the store, drop that excuse.
//! * **Redelivery after a crash is allowed.** The server's dedup memory (`msg_id`s) is soft
//!   state: a sender that resends an unanswered message to the restarted server has it
//!   delivered again. Without a crash between, a message must never reach the same user twice.
//! * Known core bugs are tolerated only behind named [`config::Relaxations`] (all on by
//!   default, all off with `--strict`).

#![forbid(unsafe_code)]

pub mod config;
pub mod entropy;
pub mod fuzz_targets;
pub mod model;
pub mod net;
pub mod runner;
pub mod sim;
pub mod trace;
mod workload;

pub use config::{Knobs, Relaxations, SimConfig};
pub use sim::{Phase, RunResult, RunStats, Sim};

/// Runs seed `seed` with `clients` primary clients and the default relaxations.
pub fn run_seed(seed: u64, clients: usize) -> RunResult {
    Sim::new(SimConfig::from_seed(seed, clients)).run()
}

/// Runs one configuration.
pub fn run_config(cfg: SimConfig) -> RunResult {
    Sim::new(cfg).run()
}
