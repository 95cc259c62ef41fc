//! # rtm-fuzz-targets — the bodies of the cargo-fuzz targets in `fuzz/`
//!
//! They live in this stable workspace member (not in the nightly `fuzz/` package) so that a plain `#[test]` on stable can replay every
//! committed corpus file through exactly the same code (`tests/corpus_replay.rs`, part of `cargo test --workspace`). Each
//! function panics on a broken invariant; libFuzzer reports the panic as a crash.
//!
//! * [`frame_decode`]: `ClientFrame::decode` / `ServerFrame::decode` never panic, and for
//!   frames that decode, `decode(encode(f)) == f` and encoding is canonical.
//! * [`client_inputs`]: a `Client` fed an arbitrary sequence of transport events, frames
//!   (raw bytes or well-formed server frames with fuzzed fields), ticks and commands.
//!   Besides the §2.3 transitions, request ids and "every request is answered", it checks
//!   the §10 invitation events: only for invitations the client made or received, at most
//!   one end each, nothing after it.
//! * [`server_inputs`]: a `Server` fed arbitrary inputs on a small set of connection ids,
//!   including login frames; bounded sessions, channels and invitation records.
//! * [`sim`]: the whole simulator, with the fuzz bytes as seed and workload/fault source.
//!
//! `client_inputs` and `server_inputs` generate the commands and frames of channels,
//! attributes and invitations only for inputs that start with [`EXTENDED`] (`X2`): every
//! other input is read exactly as before those existed, so the committed corpus files (and
//! the regressions they pin) keep their meaning. `server_inputs` also makes REST calls
//! (`ServerInput::Admin`) for inputs that start with [`ADMIN`] (`X3`), and checks that
//! every call is answered exactly once with a status in 200..600. Inputs that start with
//! [`MEDIA`] (`X4`) ask for media tickets and report uploads and downloads
//! (`ServerInput::Media`), checking the media driver contract from the core's side.
#![forbid(unsafe_code)]

mod admin_calls;
mod client_check;
mod client_frames;
mod client_inputs;
mod frame_decode;
mod input;
mod media_calls;
mod server_frames;
mod server_inputs;
mod sim;
mod values;

pub use client_frames::{client_frame, client_frame_ext};
pub use client_inputs::client_inputs;
pub use frame_decode::frame_decode;
pub use input::Input;
pub use server_frames::{server_frame, server_frame_ext};
pub use server_inputs::server_inputs;
pub use sim::sim;
pub use values::{ADMIN, EXTENDED, MEDIA};

use rtm_transport_sim::Relaxations;

/// Set `RTM_FUZZ_DEBUG=1` to print every input and output of `client_inputs` and
/// `server_inputs` (for triaging a crash file).
fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RTM_FUZZ_DEBUG").is_some())
}

/// The relaxations the fuzz targets apply (the same defaults as the swarm).
pub fn relaxations() -> Relaxations {
    Relaxations::default()
}
