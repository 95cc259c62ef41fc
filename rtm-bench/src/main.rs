//! `rtm-bench`: RTM's server beside the stacks users would pick instead, ratios taken in one
//! run. See the README's "Benchmarks" section and BENCHMARKS.md.

mod baseline_client;
mod baselines;
mod conn;
mod core_scenario;
mod fanout;
mod idle_storm;
mod jobs;
mod load;
mod login;
mod opts;
mod peer;
// `ServerProc::{name, port}` and `Figure::better` are read by nothing yet.
#[allow(dead_code)]
mod process;
#[allow(dead_code)]
mod report;
mod rtm_frames;
mod servers;
mod worker;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::baselines::Baseline;
use crate::opts::Opts;
use crate::process::Pinning;
use crate::report::Report;

/// RTM's benchmark: our server and the baselines (a bare async-tungstenite relay, Node `ws`,
/// Socket.IO) under the same load, every figure printed with its ratio.
#[derive(Parser, Debug)]
#[command(name = "rtm-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Tiny sizes: every scenario in a few seconds (CI's smoke run).
    #[arg(long, global = true)]
    smoke: bool,
    /// Clients of `idle` and `storm`.
    #[arg(long, global = true, default_value_t = 19_000)]
    connections: usize,
    /// Sender/receiver pairs of `peer`.
    #[arg(long, global = true, default_value_t = 2_000)]
    pairs: usize,
    /// Channel sizes of `fanout` (comma-separated).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "1000,10000"
    )]
    fanout_members: Vec<usize>,
    /// Deliveries per second `fanout` offers (publishes/s = this ÷ members).
    #[arg(long, global = true, default_value_t = 300_000)]
    fanout_deliveries: u64,
    /// Logins of `login`, per mode.
    #[arg(long, global = true, default_value_t = 5_000)]
    logins: usize,
    /// Seconds each measuring phase of `peer` and `fanout` lasts.
    #[arg(long, global = true, default_value_t = 10)]
    seconds: u64,
    /// Seconds of idleness `idle` measures the server's CPU over.
    #[arg(long, global = true, default_value_t = 10)]
    idle_seconds: u64,
    /// The baselines to run beside ours (comma-separated; `none` for ours alone).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "bare,node-ws,socket.io"
    )]
    baselines: Vec<String>,
    /// The core the server is pinned to.
    #[arg(long, global = true, default_value_t = 0)]
    server_cpu: usize,
    /// The core the load processes are pinned to.
    #[arg(long, global = true, default_value_t = 1)]
    load_cpu: usize,
    /// Also write the final table to this file (Markdown).
    #[arg(long, global = true, value_name = "PATH")]
    markdown: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Every scenario, then the table.
    All,
    /// Peer messages with the received result: throughput, then latency at half of it.
    Peer,
    /// Channel fan-out to 1 000 and 10 000 members.
    Fanout,
    /// Server memory and CPU per idle logged-in connection.
    Idle,
    /// Logins per second, app-id-only and certificate mode.
    Login,
    /// Every connection dropped at once and back.
    Storm,
    /// The server core alone, in process.
    Core,
    /// A load process (started by the others).
    #[command(hide = true)]
    Worker,
    /// The core scenario's probe, run under callgrind by `core`.
    #[command(hide = true)]
    CoreProbe { rounds: u64 },
}

fn main() {
    let cli = Cli::parse();
    match cli.scenario {
        Scenario::Worker => return worker::main(),
        Scenario::CoreProbe { rounds } => return core_scenario::probe(rounds),
        _ => {}
    }
    let mut baselines = Vec::new();
    for name in &cli.baselines {
        match Baseline::ALL.iter().find(|b| b.name() == name) {
            Some(&b) => baselines.push(b),
            None if name == "none" => {}
            None => {
                eprintln!("rtm-bench: unknown baseline {name:?} (bare, node-ws, socket.io, none)");
                std::process::exit(2);
            }
        }
    }
    let one_core = std::thread::available_parallelism().map_or(true, |n| n.get() < 2);
    let o = Opts {
        smoke: cli.smoke,
        baselines,
        pin: Pinning {
            server_cpu: (!one_core).then_some(cli.server_cpu),
            load_cpu: (!one_core).then_some(cli.load_cpu),
        },
        // Floors that keep every scenario meaningful (a channel needs two members, a
        // client five other peers).
        connections: if cli.smoke {
            200
        } else {
            cli.connections.max(6)
        },
        pairs: if cli.smoke { 20 } else { cli.pairs.max(1) },
        fanout_sizes: if cli.smoke {
            vec![20, 100]
        } else {
            cli.fanout_members.iter().map(|&m| m.max(2)).collect()
        },
        fanout_deliveries: if cli.smoke {
            2_000
        } else {
            cli.fanout_deliveries
        },
        logins: if cli.smoke { 100 } else { cli.logins.max(1) },
        measure: Duration::from_secs(if cli.smoke { 1 } else { cli.seconds.max(1) }),
        idle: Duration::from_secs(if cli.smoke {
            1
        } else {
            cli.idle_seconds.max(1)
        }),
    };
    let started = Instant::now();
    let mut report = Report::default();
    match cli.scenario {
        Scenario::All => {
            peer::run(&o, &mut report);
            fanout::run(&o, &mut report);
            idle_storm::run(&o, &mut report, true, true);
            login::run(&o, &mut report);
            core_scenario::run(&mut report, o.smoke);
        }
        Scenario::Peer => peer::run(&o, &mut report),
        Scenario::Fanout => fanout::run(&o, &mut report),
        Scenario::Idle => idle_storm::run(&o, &mut report, true, false),
        Scenario::Storm => idle_storm::run(&o, &mut report, false, true),
        Scenario::Login => login::run(&o, &mut report),
        Scenario::Core => core_scenario::run(&mut report, o.smoke),
        Scenario::Worker | Scenario::CoreProbe { .. } => {}
    }
    let table = report.markdown();
    println!(
        "\nrtm-bench {:?}{} in {:.0} s (server on cpu {:?}, load on cpu {:?}):\n\n{table}",
        cli.scenario,
        if o.smoke { " --smoke" } else { "" },
        started.elapsed().as_secs_f64(),
        o.pin.server_cpu,
        o.pin.load_cpu,
    );
    if let Some(path) = &cli.markdown {
        if let Err(e) = std::fs::write(path, &table) {
            eprintln!("rtm-bench: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
