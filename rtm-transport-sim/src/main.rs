//! `rtm-sim`: run the deterministic simulator over one seed or a swarm of seeds.
//!
//! ```text
//! rtm-sim --seed N                       replay one seed (prints its trace hash; the report on failure)
//! rtm-sim --seeds N [--start S]          a swarm of N consecutive seeds
//!         [--time-budget SECS]           stop starting new seeds after SECS of wall time
//!         [--clients N]                  primary clients per run (default 50)
//!         [--threads T]                  worker threads (default: available cores)
//!         [--strict]                     turn every relaxation (known core bug) off
//!         [--relax NAME=on|off]          toggle one relaxation
//!         [--trace-lines N]              trace records kept for a failure report (default 200)
//!         [--check-determinism]          run every seed twice; fail on differing trace hashes
//!         [--summaries]                  print every seed's summary line (counters)
//! ```
//!
//! Exit status 1 if any seed failed, 2 on a usage error.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use rtm_transport_sim::runner::{config_for, swarm, SwarmOptions};
use rtm_transport_sim::{Relaxations, RunResult, Sim};

const USAGE: &str = "usage: rtm-sim (--seed N | --seeds N [--start S]) [--time-budget SECS] \
[--clients N] [--threads T] [--strict] [--relax NAME=on|off] [--trace-lines N] [--check-determinism] \
[--summaries]";

struct Args {
    seed: Option<u64>,
    seeds: Option<u64>,
    start: u64,
    budget: Option<Duration>,
    clients: usize,
    threads: usize,
    relax: Relaxations,
    trace_lines: usize,
    check_determinism: bool,
    summaries: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seed: None,
        seeds: None,
        start: 0,
        budget: None,
        clients: 50,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        relax: Relaxations::default(),
        trace_lines: 200,
        check_determinism: false,
        summaries: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        }
        match arg.as_str() {
            "--seed" => a.seed = Some(num("--seed", value("--seed")?)?),
            "--seeds" => a.seeds = Some(num("--seeds", value("--seeds")?)?),
            "--start" => a.start = num("--start", value("--start")?)?,
            "--time-budget" => {
                let s: f64 = num("--time-budget", value("--time-budget")?)?;
                a.budget = Some(Duration::from_secs_f64(s.max(0.0)));
            }
            "--clients" => a.clients = num("--clients", value("--clients")?)?,
            "--threads" => a.threads = num::<usize>("--threads", value("--threads")?)?.max(1),
            "--trace-lines" => a.trace_lines = num("--trace-lines", value("--trace-lines")?)?,
            "--strict" => a.relax = Relaxations::strict(),
            "--check-determinism" => a.check_determinism = true,
            "--summaries" => a.summaries = true,
            "--relax" => {
                let v = value("--relax")?;
                let (name, on) = match v.split_once('=') {
                    Some((n, "on")) => (n.to_string(), true),
                    Some((n, "off")) => (n.to_string(), false),
                    _ => (v.clone(), true),
                };
                if !a.relax.set(&name, on) {
                    return Err(format!(
                        "unknown relaxation {name}; known: {}",
                        Relaxations::NAMES.join(", ")
                    ));
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.seed.is_some() == a.seeds.is_some() {
        return Err("give exactly one of --seed N or --seeds N".into());
    }
    Ok(a)
}

fn summary_line(r: &RunResult) -> String {
    let s = &r.stats;
    format!(
        "seed {}: {}  hash={:016x} events={} sim={:.1}s wall={:.0}ms msgs={} rcvd={} cached={} unreach={} failed={} deliveries={} crashes={} resets={} kicks={} \
         joins={} chan-msgs={}/{} chan-deliveries={} replayed={} catch-ups={} lag-lost={} gc={} attr-writes={} attr-updates={} user-attr-writes={} \
         invitations={} (accepted={} refused={} canceled={} failed={}) \
         store: batches={} failed-writes={} failures={} stalls={} ops-lost={} restored={} crashes-w-cached-undelivered={} ({} msgs) \
         cached-delivered-after-crash={} not-stored={} (seen-before={} seen-late={} seen-across-crash={}) late-commits-restored={} not-stored-delivered-excused={} not-stored-resend-relaxed={} \
         relaxed: dups={} self-kicks={} unpushed={} invitation-local-ends={} acks-lost={} crash-excused={}",
        r.seed,
        if r.ok() { "ok" } else { "FAILED" },
        r.trace_hash,
        s.events,
        s.sim_ms as f64 / 1000.0,
        r.wall.as_secs_f64() * 1000.0,
        s.messages,
        s.received,
        s.cached,
        s.unreachable,
        s.failed,
        s.deliveries,
        s.crashes,
        s.resets,
        s.kicks,
        s.joins,
        s.channel_accepted,
        s.channel_messages,
        s.channel_deliveries,
        s.channel_replayed,
        s.channel_catch_ups,
        s.channel_lag_lost,
        s.channel_gc,
        s.attr_writes,
        s.attr_updates,
        s.user_attr_writes,
        s.invitations,
        s.invitations_accepted,
        s.invitations_refused,
        s.invitations_canceled,
        s.invitations_failed,
        s.store_batches,
        s.store_failed_writes,
        s.store_failures,
        s.store_stalls,
        s.store_ops_lost,
        s.restored_records,
        s.crashes_with_cached_outstanding,
        s.cached_outstanding_at_crash,
        s.cached_delivered_after_crash,
        s.not_stored,
        s.not_stored_seen_before,
        s.not_stored_seen_late,
        s.not_stored_seen_across_crash,
        s.late_commits_restored,
        s.not_stored_delivered_excused,
        s.relaxed_not_stored_resend,
        s.dup_relaxed,
        s.self_kicks_relaxed,
        s.relaxed_unpushed_drops,
        s.relaxed_invitation_local_end,
        s.relaxed_ack_not_resent,
        s.invitation_crash_excused,
    )
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rtm-sim: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let opts = SwarmOptions {
        start: args.start,
        count: args.seeds.unwrap_or(1),
        clients: args.clients,
        threads: args.threads,
        time_budget: args.budget,
        relax: args.relax,
        trace_lines: args.trace_lines,
        check_determinism: args.check_determinism,
    };
    if let Some(seed) = args.seed {
        let r = Sim::new(config_for(&opts, seed)).run();
        println!("{}", summary_line(&r));
        if opts.check_determinism {
            let again = Sim::new(config_for(&opts, seed)).run();
            if again.trace_hash != r.trace_hash {
                println!(
                    "NONDETERMINISM: second run of seed {seed} gave trace hash {:016x}",
                    again.trace_hash
                );
                return ExitCode::FAILURE;
            }
            println!("determinism: second run gave the same trace hash");
        }
        if let Some(report) = &r.report {
            println!("{report}");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    let printed = Mutex::new(());
    let on_result = |r: &RunResult| {
        let _g = printed.lock();
        if args.summaries {
            println!("{}", summary_line(r));
        }
        if let Some(report) = &r.report {
            println!("{report}");
        }
    };
    let sum = swarm(&opts, &on_result);
    println!(
        "rtm-sim: {} seeds from {} ({} clients, {} threads{}): {} failed; wall {:.2}s",
        sum.seeds_run,
        opts.start,
        opts.clients,
        opts.threads,
        if sum.budget_hit {
            ", time budget hit"
        } else {
            ""
        },
        sum.failures.len(),
        sum.wall.as_secs_f64()
    );
    println!(
        "rtm-sim: {:.2} seeds/s, {:.0} simulated s per wall s, {:.0} simulated events/s, {} messages",
        sum.seeds_per_sec(),
        sum.sim_speed(),
        sum.events_per_sec(),
        sum.messages
    );
    if !sum.failures.is_empty() {
        let seeds: Vec<String> = sum.failures.iter().map(|r| r.seed.to_string()).collect();
        println!("rtm-sim: failed seeds: {}", seeds.join(" "));
        println!(
            "rtm-sim: replay one with: cargo run -p rtm-transport-sim --release -- --seed {} --clients {}{}",
            sum.failures[0].seed,
            opts.clients,
            if opts.relax == Relaxations::strict() { " --strict" } else { "" }
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
