//! Replays one fuzz input through a fuzz target, for triaging a crash file on stable Rust:
//!
//! ```text
//! cargo run -p rtm-fuzz-targets --example fuzz_replay -- fuzz/artifacts/client_inputs/crash-… client_inputs
//! RTM_FUZZ_DEBUG=1 cargo run -p rtm-fuzz-targets --example fuzz_replay -- INPUT sim
//! ```
//!
//! Targets: `frame_decode`, `client_inputs` (the default), `server_inputs`, `sim`. A panic
//! of the target is the crash being reproduced. (This was a test that passed whenever its
//! input variable was unset, which in CI is always; the corpus itself is replayed by
//! `tests/corpus_replay.rs`.)

use std::process::ExitCode;

use rtm_fuzz_targets as t;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: fuzz_replay INPUT [frame_decode|client_inputs|server_inputs|sim]");
        return ExitCode::from(2);
    };
    let target = args.next().unwrap_or_else(|| "client_inputs".into());
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fuzz_replay: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match target.as_str() {
        "frame_decode" => t::frame_decode(&data),
        "client_inputs" => t::client_inputs(&data),
        "server_inputs" => t::server_inputs(&data),
        "sim" => t::sim(&data),
        other => {
            eprintln!("fuzz_replay: unknown target {other}");
            return ExitCode::from(2);
        }
    }
    println!("{target}: {path} ran without a panic");
    ExitCode::SUCCESS
}
