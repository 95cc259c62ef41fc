//! Replays one fuzz input given in `RTM_FUZZ_INPUT` through the target named in
//! `RTM_FUZZ_TARGET` (default `client_inputs`), for triaging a crash file on stable:
//!
//! ```text
//! RTM_FUZZ_DEBUG=1 RTM_FUZZ_TARGET=client_inputs RTM_FUZZ_INPUT=fuzz/artifacts/client_inputs/crash-… \
//!     cargo test -p rtm-transport-sim --test fuzz_debug -- --nocapture
//! ```
//!
//! Without `RTM_FUZZ_INPUT` it does nothing.

#[test]
fn replay_one_input() {
    let Some(path) = std::env::var_os("RTM_FUZZ_INPUT") else {
        return;
    };
    let data = std::fs::read(&path).expect("readable input");
    let target = std::env::var("RTM_FUZZ_TARGET").unwrap_or_else(|_| "client_inputs".into());
    use rtm_transport_sim::fuzz_targets as t;
    match target.as_str() {
        "frame_decode" => t::frame_decode(&data),
        "client_inputs" => t::client_inputs(&data),
        "server_inputs" => t::server_inputs(&data),
        "sim" => t::sim(&data),
        other => panic!("unknown target {other}"),
    }
}
