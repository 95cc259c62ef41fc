#![no_main]
//! `frame_decode`: see `rtm_fuzz_targets::frame_decode` for what it checks.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rtm_fuzz_targets::frame_decode(data);
});
