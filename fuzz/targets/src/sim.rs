//! `sim`: the whole simulator driven by fuzz bytes.

use rtm_transport_sim::config::{Knobs, SimConfig};
use rtm_transport_sim::entropy::{derive, Source};
use rtm_transport_sim::Sim;

use crate::input::Input;
use crate::relaxations;

/// The whole simulator, with the fuzz bytes choosing the seed, the size and the workload and
/// fault decisions (the seeded generator takes over when the bytes run out).
pub fn sim(data: &[u8]) {
    let mut inp = Input::new(data);
    let seed = inp.u64();
    let clients = 2 + inp.u8() as usize % 7;
    let fault_ms = 5_000 + u64::from(inp.u16() % 20_000);
    let knob_seed = inp.u64();
    let rest = inp.rest();
    let (w, f) = rest.split_at(rest.len() / 2);
    let mut cfg = SimConfig::from_seed(seed, clients);
    cfg.knobs = Knobs::draw(&mut Source::seeded(derive(knob_seed, 7)));
    cfg.fault_ms = fault_ms;
    cfg.relax = relaxations();
    cfg.trace_lines = 200;
    cfg.replay = Some(
        "cargo +nightly fuzz run sim <the crashing input> (fuzz-byte driven: --seed cannot replay it), \
         or put the input in fuzz/corpus/sim/ and run cargo test -p rtm-fuzz-targets --test corpus_replay"
            .into(),
    );
    let work = Source::bytes(w.to_vec(), derive(seed, 2));
    let faults = Source::bytes(f.to_vec(), derive(seed, 3));
    let r = Sim::with_sources(cfg, work, faults).run();
    if let Some(report) = r.report {
        panic!("simulation failed:\n{report}");
    }
}
