//! The simulator is deterministic: the same seed gives the same trace hash, event count and
//! counters, run after run (and so on any machine: the PRNG stream is fixed).

use rtm_transport_sim::{run_seed, Sim, SimConfig};

#[test]
fn same_seed_same_trace_hash() {
    for seed in [1u64, 7, 12345] {
        let a = run_seed(seed, 50);
        let b = run_seed(seed, 50);
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "seed {seed}: trace hashes differ"
        );
        assert_eq!(
            a.stats.events, b.stats.events,
            "seed {seed}: event counts differ"
        );
        assert_eq!(
            a.stats.sim_ms, b.stats.sim_ms,
            "seed {seed}: simulated time differs"
        );
        assert_eq!(a.stats.messages, b.stats.messages);
        assert_eq!(a.failure, b.failure);
    }
}

#[test]
fn trace_hash_does_not_depend_on_kept_trace_lines() {
    let mut cfg = SimConfig::from_seed(3, 50);
    cfg.trace_lines = 0;
    let a = Sim::new(cfg.clone()).run();
    cfg.trace_lines = 5_000;
    let b = Sim::new(cfg).run();
    assert_eq!(a.trace_hash, b.trace_hash);
}

#[test]
fn different_seeds_differ() {
    assert_ne!(run_seed(1, 50).trace_hash, run_seed(2, 50).trace_hash);
}
