#![no_main]
//! `sim`: see `rtm_fuzz_targets::sim` for what it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rtm_fuzz_targets::sim(data);
});
