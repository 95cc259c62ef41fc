#![no_main]
//! `sim`: see `rtm_transport_sim::fuzz_targets::sim` for what it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rtm_transport_sim::fuzz_targets::sim(data);
});
