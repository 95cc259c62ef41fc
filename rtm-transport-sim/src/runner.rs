//! Many seeds: a swarm over threads with a wall-clock budget.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Relaxations, SimConfig};
use crate::sim::{RunResult, Sim};

/// What to run.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    /// First seed.
    pub start: u64,
    /// Number of seeds (consecutive from `start`).
    pub count: u64,
    /// Primary clients per run.
    pub clients: usize,
    /// Worker threads.
    pub threads: usize,
    /// Stop starting new seeds after this much wall time.
    pub time_budget: Option<Duration>,
    /// Relaxed invariants.
    pub relax: Relaxations,
    /// Trace records kept per run (for failure reports).
    pub trace_lines: usize,
    /// Run every seed twice and fail it if the two trace hashes differ.
    pub check_determinism: bool,
}

/// What happened.
#[derive(Debug, Default)]
pub struct SwarmSummary {
    pub seeds_run: u64,
    pub failures: Vec<RunResult>,
    pub wall: Duration,
    pub sim_ms: u64,
    pub events: u64,
    pub messages: u64,
    pub budget_hit: bool,
}

impl SwarmSummary {
    /// Seeds per wall second.
    pub fn seeds_per_sec(&self) -> f64 {
        self.seeds_run as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Simulated seconds per wall second.
    pub fn sim_speed(&self) -> f64 {
        (self.sim_ms as f64 / 1000.0) / self.wall.as_secs_f64().max(1e-9)
    }

    /// Simulated events per wall second.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// The configuration the swarm uses for `seed`.
pub fn config_for(opts: &SwarmOptions, seed: u64) -> SimConfig {
    let mut cfg = SimConfig::from_seed(seed, opts.clients);
    cfg.relax = opts.relax;
    cfg.trace_lines = opts.trace_lines;
    cfg
}

/// Runs the swarm; `on_result` sees every result as it completes (from worker threads).
pub fn swarm(opts: &SwarmOptions, on_result: &(dyn Fn(&RunResult) + Sync)) -> SwarmSummary {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let budget_hit = AtomicBool::new(false);
    let results: Mutex<SwarmSummary> = Mutex::new(SwarmSummary::default());
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1) {
            s.spawn(|| loop {
                if let Some(b) = opts.time_budget {
                    if started.elapsed() >= b {
                        budget_hit.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= opts.count {
                    return;
                }
                let seed = opts.start.wrapping_add(i);
                let mut r = Sim::new(config_for(opts, seed)).run();
                if opts.check_determinism {
                    let again = Sim::new(config_for(opts, seed)).run();
                    if again.trace_hash != r.trace_hash || again.stats.events != r.stats.events {
                        let msg = format!(
                            "nondeterminism: seed {seed} gave trace hash {:016x} ({} events), then {:016x} ({} events)",
                            r.trace_hash, r.stats.events, again.trace_hash, again.stats.events
                        );
                        r.report = Some(format!("=== rtm-sim FAILURE  seed={seed} ===\n{msg}"));
                        r.failure = Some(msg);
                    }
                }
                on_result(&r);
                let mut sum = results.lock().expect("no poisoning");
                sum.seeds_run += 1;
                sum.sim_ms += r.stats.sim_ms;
                sum.events += r.stats.events;
                sum.messages += r.stats.messages;
                if !r.ok() {
                    sum.failures.push(r);
                }
            });
        }
    });
    let mut sum = results.into_inner().expect("no poisoning");
    sum.failures.sort_by_key(|r| r.seed);
    sum.wall = started.elapsed();
    sum.budget_hit = budget_hit.load(Ordering::Relaxed);
    sum
}
