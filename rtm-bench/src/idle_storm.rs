//! The `idle` and `storm` scenarios, which share their population: N logged-in clients,
//! each in a 100-member channel and subscribed to 5 peers. `idle`: the server's RSS per
//! connection and its CPU while nobody talks (pings only). `storm`: every socket dropped at
//! once (RST), every client reconnecting at once; the time until all are back with their
//! channels and subscriptions (RTM: a `resume` that says `resumed: true` restores both;
//! otherwise join and subscribe again).

use std::time::{Duration, Instant};

use crate::jobs::{ClientSpec, Cmd, SetupDone};
use crate::load::Load;
use crate::opts::{cpu_pct, Opts, Row};
use crate::report::{Better, Report, Target};
use crate::servers::{self, Subject};

/// What one server's run measured.
#[derive(Default)]
struct Measured {
    rss_per_conn: Option<Result<f64, String>>,
    idle_cpu: Option<Result<f64, String>>,
    storm: Option<Result<f64, String>>,
    storm_note: String,
}

pub fn run(o: &Opts, report: &mut Report, idle: bool, storm: bool) {
    let n = o.connections;
    let mut rss = Row::new(
        format!("idle RSS per logged-in connection, {n} connections"),
        "KiB",
        Better::Lower,
    )
    .target(Target::RatioAtMost(1.0));
    let mut cpu = Row::new(
        format!(
            "idle server CPU, {n} connections, over {} s",
            o.idle.as_secs()
        ),
        "% of a core",
        Better::Lower,
    );
    let mut time = Row::new(
        format!("storm: {n} dropped at once, all back with channels and subscriptions"),
        "s",
        Better::Lower,
    )
    .target(Target::RatioAtMost(1.2));
    for s in servers::with(&o.baselines) {
        let m = measure(o, s, idle, storm).unwrap_or_else(|e| Measured {
            rss_per_conn: Some(Err(e.clone())),
            idle_cpu: Some(Err(e.clone())),
            storm: Some(Err(e)),
            storm_note: String::new(),
        });
        if let Some(v) = m.rss_per_conn {
            rss.values.push((s, v));
        }
        if let Some(v) = m.idle_cpu {
            cpu.values.push((s, v));
        }
        if let Some(v) = m.storm {
            time.values.push((s, v));
        }
        if !m.storm_note.is_empty() {
            time.notes.push(m.storm_note);
        }
    }
    if idle {
        report.add(rss.figure("idle"));
        report.add(cpu.figure("idle"));
    }
    if storm {
        report.add(time.figure("storm"));
    }
}

fn population(n: usize) -> Vec<ClientSpec> {
    (0..n)
        .map(|i| ClientSpec {
            rooms: vec![format!("c{}", i / 100)],
            peers: (1..=5).map(|k| format!("u{}", (i + k) % n)).collect(),
            ..ClientSpec::new(format!("u{i}"), i)
        })
        .collect()
}

fn measure(o: &Opts, subject: Subject, idle: bool, storm: bool) -> Result<Measured, String> {
    let n = o.connections;
    let server = servers::start(subject, o.pin.server_cpu)?;
    std::thread::sleep(Duration::from_millis(500));
    let rss0 = server.proc.rss_bytes().ok_or("no RSS")?;
    let mut load = Load::spawn(n, o.pin.load_cpu)?;
    let clients = population(n);
    let setup_deadline = Duration::from_secs(60 + n as u64 / 100);
    let shares = load.shares(&clients).into_iter().map(|(c, _)| c).collect();
    let setup = load.setup(&server.target, shares, 300, setup_deadline)?;
    if setup.failed > 0 {
        return Err(format!(
            "{} of {n} clients failed to set up: {}",
            setup.failed,
            setup.errors.join(" / ")
        ));
    }
    let mut m = Measured::default();
    if idle {
        // The joins' member events and counts settle, then nothing but pings.
        std::thread::sleep(Duration::from_millis(if o.smoke { 300 } else { 5_000 }));
        let rss1 = server.proc.rss_bytes().ok_or("no RSS")?;
        m.rss_per_conn = Some(Ok(rss1.saturating_sub(rss0) as f64 / n as f64 / 1024.0));
        let (c0, t0) = (server.proc.cpu_seconds().unwrap_or(0.0), Instant::now());
        std::thread::sleep(o.idle);
        let c1 = server.proc.cpu_seconds().unwrap_or(0.0);
        m.idle_cpu = Some(Ok(cpu_pct(c1 - c0, t0.elapsed().as_secs_f64())));
    }
    if storm {
        let deadline = Duration::from_secs(120);
        let answers = load.run_all(
            || Cmd::Storm {
                connect_timeout_ms: 3_000,
                deadline_ms: deadline.as_millis() as u64,
            },
            deadline + Duration::from_secs(30),
        )?;
        let d = SetupDone::merge(answers);
        let secs = d.end_ns.saturating_sub(d.start_ns) as f64 / 1e9;
        m.storm_note = format!(
            "{}: {} retries{}",
            subject.name(),
            d.retries,
            match subject {
                Subject::Ours { .. } => format!(", {} of {n} resumed", d.resumed),
                Subject::Baseline(_) => String::new(),
            }
        );
        m.storm = Some(if d.failed > 0 {
            Err(format!(
                "{} of {n} not back: {}",
                d.failed,
                d.errors.join(" / ")
            ))
        } else {
            Ok(secs)
        });
    }
    Ok(m)
}
