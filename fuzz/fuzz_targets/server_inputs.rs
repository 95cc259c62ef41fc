#![no_main]
//! `server_inputs`: see `rtm_fuzz_targets::server_inputs` for what it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rtm_fuzz_targets::server_inputs(data);
});
