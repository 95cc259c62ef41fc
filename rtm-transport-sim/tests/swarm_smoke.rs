//! The CI swarm, on every `cargo test`: 300 seeds by default (a few seconds in release),
//! `RTM_SIM_SEEDS=N` for more or fewer. The long soak runs from the CLI:
//! `cargo run -p rtm-transport-sim --release -- --seeds 100000 --start 1000000`.

use rtm_transport_sim::runner::{swarm, SwarmOptions};
use rtm_transport_sim::{Relaxations, Sim, SimConfig};

#[test]
fn ci_swarm_passes() {
    let count = std::env::var("RTM_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let opts = SwarmOptions {
        start: 1_000,
        count,
        clients: 50,
        threads: 2,
        time_budget: None,
        relax: Relaxations::default(),
        trace_lines: 200,
        check_determinism: true,
    };
    let sum = swarm(&opts, &|_| {});
    for f in &sum.failures {
        eprintln!("{}", f.report.as_deref().unwrap_or(""));
    }
    assert!(
        sum.failures.is_empty(),
        "{} seeds failed",
        sum.failures.len()
    );
    assert_eq!(sum.seeds_run, count);
}

/// Without faults the channel, attribute and invitation workloads run clean: members get
/// every message (none dropped), notifications flow, invitations end.
#[test]
fn calm_network_channels_attributes_invitations() {
    let r = calm_run(9, 30, 30_000);
    let s = &r.stats;
    assert!(s.joins > 20 && s.channel_accepted > 50, "{s:?}");
    assert!(s.channel_deliveries > s.channel_accepted, "{s:?}");
    assert!(s.attr_writes > 10 && s.attr_updates > 10, "{s:?}");
    assert!(s.user_attr_writes > 10, "{s:?}");
    assert!(s.invitations > 20 && s.invitations_accepted > 5, "{s:?}");
    assert_eq!(s.relaxed_unpushed_drops, 0, "{s:?}");
    assert_eq!(s.relaxed_invitation_local_end, 0, "{s:?}");
}

/// Without faults everything converges and every message is received.
#[test]
fn calm_network_everything_received() {
    let r = calm_run(5, 50, 20_000);
    assert!(r.stats.messages > 100, "workload too small: {:?}", r.stats);
    assert_eq!(r.stats.failed, 0, "{:?}", r.stats);
    assert_eq!(r.stats.crashes, 0);
}

/// Seeds that found members silently missing channel messages and counts behind a full
/// stream (relaxation `channel_push_dropped_when_stream_full`, now off by default), and a
/// resent join answered past a lagging member's catch-up (364): they pass, and members do
/// catch up.
#[test]
fn full_streams_catch_up() {
    for seed in [100_003, 100_137, 139, 364] {
        let r = Sim::new(SimConfig::from_seed(seed, 50)).run();
        assert!(r.ok(), "{}", r.report.unwrap_or_default());
        assert!(r.stats.channel_catch_ups > 0, "seed {seed}: {:?}", r.stats);
    }
}

/// Runs `seed` with `clients` on a network without faults for `fault_ms`, which must pass.
fn calm_run(seed: u64, clients: usize, fault_ms: u64) -> rtm_transport_sim::RunResult {
    let mut cfg = SimConfig::from_seed(seed, clients);
    cfg.knobs = rtm_transport_sim::Knobs::calm();
    cfg.fault_ms = fault_ms;
    let r = Sim::new(cfg).run();
    assert!(r.ok(), "{}", r.report.clone().unwrap_or_default());
    r
}

/// Durable state under crashes and store faults only: messages answered `cached` survive
/// crashes (they are delivered by a later incarnation), failed writes are answered not
/// stored, and the seeds that showed the late-commit excuse and the two core issues since
/// fixed (relaxations `not_stored_after_push`, `not_stored_resend_crosses_answer`, now off)
/// pass.
#[test]
fn cached_messages_survive_crashes_and_store_faults() {
    use rtm_transport_sim::config::FaultKind;
    let mut after_crash = 0;
    let mut not_stored = 0;
    let mut restored = 0;
    for seed in 0..12 {
        let mut cfg = SimConfig::from_seed(seed, 20);
        let mut k = rtm_transport_sim::Knobs::calm();
        k.fault_mean_ms = 4_000;
        k.fault_weights[FaultKind::Crash as usize] = 1;
        k.fault_weights[FaultKind::StoreFailure as usize] = 2;
        k.offline_p = 1.0;
        k.action_weights[rtm_transport_sim::config::Action::Logout as usize] = 3;
        cfg.knobs = k;
        cfg.fault_ms = 60_000;
        let r = Sim::new(cfg).run();
        assert!(r.ok(), "{}", r.report.clone().unwrap_or_default());
        after_crash += r.stats.cached_delivered_after_crash;
        not_stored += r.stats.not_stored;
        restored += r.stats.restored_records;
    }
    assert!(after_crash > 0 && not_stored > 0 && restored > 0);
    for seed in [203_763, 300_412, 303_725, 405_210, 414_985, 415_008] {
        let r = Sim::new(SimConfig::from_seed(seed, 50)).run();
        assert!(r.ok(), "{}", r.report.unwrap_or_default());
    }
}
