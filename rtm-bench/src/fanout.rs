//! The `fanout` scenario: one channel of M members (1 000, then 10 000), a few of them
//! publishing, each within RTM's per-sender rate. Deliveries per second, and per message the
//! time from its publish to its last member's delivery (the publish time travels in the
//! text; the workers' clocks are the one machine's).

use std::collections::HashMap;
use std::time::Duration;

use crate::jobs::{Answer, ClientSpec, Cmd};
use crate::load::{self, Load};
use crate::opts::{cpu_note, percentile, Opts, Row};
use crate::report::{Better, Report, Target};
use crate::servers::{self, Subject};

/// Publishes per second of one publisher: under RTM's 60 a second.
const PER_PUBLISHER: f64 = 50.0;

struct Measured {
    deliveries_per_s: f64,
    p99_ms: f64,
    note: String,
}

pub fn run(o: &Opts, report: &mut Report) {
    for &members in &o.fanout_sizes {
        let pubs_per_s = (o.fanout_deliveries as f64 / members as f64).max(1.0);
        let publishers = ((pubs_per_s / PER_PUBLISHER).ceil() as usize)
            .max(2)
            .min(members);
        let mut rate = Row::new(
            format!(
                "fan-out deliveries/s, {members} members, {publishers} publishers, {pubs_per_s:.0} publishes/s offered"
            ),
            "deliveries/s",
            Better::Higher,
        )
        .target(Target::RatioAtLeast(0.95));
        let mut p99 = Row::new(
            format!("fan-out publish→last delivery p99, {members} members"),
            "ms",
            Better::Lower,
        )
        .target(Target::RatioAtMost(2.0));
        for s in servers::with(&o.baselines) {
            match measure(o, s, members, publishers, pubs_per_s) {
                Ok(m) => {
                    rate.values.push((s, Ok(m.deliveries_per_s)));
                    rate.notes.push(m.note);
                    p99.values.push((s, Ok(m.p99_ms)));
                }
                Err(e) => {
                    rate.values.push((s, Err(e.clone())));
                    p99.values.push((s, Err(e)));
                }
            }
        }
        report.add(rate.figure("fanout"));
        report.add(p99.figure("fanout"));
    }
}

fn measure(
    o: &Opts,
    subject: Subject,
    members: usize,
    publishers: usize,
    pubs_per_s: f64,
) -> Result<Measured, String> {
    let server = servers::start(subject, o.pin.server_cpu)?;
    let room = format!("f{members}");
    let clients: Vec<ClientSpec> = (0..members)
        .map(|i| ClientSpec {
            rooms: vec![room.clone()],
            ..ClientSpec::new(format!("m{i}"), i)
        })
        .collect();
    let mut load = Load::spawn(members, o.pin.load_cpu)?;
    let shares = load.shares(&clients);
    let clients_of = shares.iter().map(|(c, _)| c.clone()).collect();
    let d = load.setup(&server.target, clients_of, 400, Duration::from_secs(120))?;
    if d.failed > 0 {
        return Err(format!(
            "{} members failed to join: {}",
            d.failed,
            d.errors.join(" / ")
        ));
    }
    // Let the joins' member events and counts settle before publishing.
    std::thread::sleep(Duration::from_millis(if o.smoke { 300 } else { 4_000 }));
    // Publishers: the first clients (all in worker 0's share).
    let interval_us = (publishers as f64 / pubs_per_s * 1e6) as u64;
    let duration_ms = o.measure.as_millis() as u64;
    let cmds = shares
        .iter()
        .map(|(c, first)| Cmd::Publish {
            publishers: (0..c.len())
                .filter(|i| first + i < publishers)
                .map(|i| (i, room.clone(), (first + i) as u32))
                .collect(),
            interval_us,
            duration_ms,
        })
        .collect();
    let cpu = load::cpu_during(
        server.proc.pid(),
        load.pids(),
        (o.pin.server_cpu, o.pin.load_cpu),
        Duration::ZERO,
        o.measure,
    );
    load.run(cmds, o.measure + Duration::from_secs(30))?;
    let cpu = cpu.join().unwrap_or_default();
    // The last deliveries (a message still queued after this counts as missed).
    std::thread::sleep(Duration::from_millis(if o.smoke { 500 } else { 2_000 }));
    let mut merged: HashMap<(u32, u64), (u64, u64, u64)> = HashMap::new();
    for a in load.run_all(|| Cmd::Deliveries, Duration::from_secs(30))? {
        if let Answer::Deliveries(ds) = a {
            for d in ds {
                let e = merged
                    .entry((d.publisher, d.seq))
                    .or_insert((d.sent_ns, 0, 0));
                e.1 += d.count;
                e.2 = e.2.max(d.last_ns);
            }
        }
    }
    if merged.is_empty() {
        return Err("no deliveries".into());
    }
    let total: u64 = merged.values().map(|v| v.1).sum();
    let first = merged.values().map(|v| v.0).min().unwrap_or(0);
    let last = merged.values().map(|v| v.2).max().unwrap_or(0);
    let expected = (members - 1) as u64;
    let incomplete = merged.values().filter(|v| v.1 < expected).count();
    let mut lat: Vec<u32> = merged
        .values()
        .map(|v| (v.2.saturating_sub(v.0) / 1_000).min(u64::from(u32::MAX)) as u32)
        .collect();
    lat.sort_unstable();
    let span = (last.saturating_sub(first)) as f64 / 1e9;
    let mut note = cpu_note(subject.name(), &cpu);
    if incomplete > 0 {
        note.push_str(&format!(
            ", {incomplete} of {} messages missed some member",
            merged.len()
        ));
    }
    Ok(Measured {
        deliveries_per_s: if span > 0.0 { total as f64 / span } else { 0.0 },
        p99_ms: percentile(&lat, 99.0).unwrap_or(0.0) / 1000.0,
        note,
    })
}
