//! RTM in the browser: the [`rtm_proto::Client`] core, compiled to WebAssembly, driven by a
//! browser `WebSocket`.
//!
//! This crate is a driver and nothing else — the state machine that the native SDK and the
//! simulator run is the one the browser runs, so every heartbeat, resume, resend and dedup
//! rule is the simulator-tested one. What the driver does:
//!
//! * `Connect` opens a `WebSocket` to the server URL (`socket.rs`), `Send` sends one text
//!   frame, `Close` closes with the core's code — mapped into the range a script may use
//!   (1000 or 3000–4999; any other code closes with 1000 and names the core's code in the
//!   reason). A socket whose `bufferedAmount` passes [`socket::MAX_BUFFERED`] is a slow link:
//!   the driver drops it and tells the core it closed, as the native driver does when its
//!   write buffer is full, and the core reconnects and resends.
//! * Time comes from `performance.now()` (monotonic) and `Date.now()` (the wall clock, read
//!   once at creation); the seed from `crypto.getRandomValues`.
//! * One timer, armed at [`Client::poll_timeout`] (`timer.rs`). It runs in a tiny dedicated
//!   worker when the page allows one: browsers throttle a background tab's timers to once a
//!   second or once a minute, which would starve the heartbeat and have the server call the
//!   user unreachable; a worker's timers are not throttled that way. Without a worker it falls
//!   back to `setTimeout`.
//! * Events go to one JavaScript callback as JSON text (`events.rs`), outside any borrow of
//!   the driver, so a listener may call back into the client; events that a command produces
//!   are delivered in a microtask after the command returns, so the caller has registered the
//!   request id first.
//!
//! The JavaScript package in `sdk/` wraps [`RtmCore`] in the Agora RTM Web SDK's API
//! (`AgoraRTM.createInstance`, `RtmClient`, `RtmChannel`, invitations, events by name).

mod commands;
mod driver;
mod events;
mod media;
mod socket;
mod timer;

pub use commands::RtmCore;
