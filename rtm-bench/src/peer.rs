//! The `peer` scenario: pairs of clients; each sender sends to its receiver, which
//! acknowledges (RTM) or sends a receipt back (baselines), and the round trip ends when the
//! sender hears `peer_message_result` `received` (RTM) or the receipt. Throughput at
//! saturation (every sender at up to 60 a second, a few unanswered at most), then latency
//! at half that rate.

use std::time::Duration;

use crate::jobs::{Answer, ClientSpec, Cmd, PeerDone};
use crate::load::{self, Load};
use crate::opts::{cpu_note, percentile, Opts, Row};
use crate::report::{Better, Report, Target};
use crate::servers::{self, Subject};

/// One sender's shortest interval: 60 a second keeps it within RTM's 180 per 3 s.
const SATURATION_INTERVAL_US: u64 = 17_000;

struct Measured {
    throughput: f64,
    p50: Option<f64>,
    p99: Option<f64>,
    p999: Option<f64>,
    note: String,
}

pub fn run(o: &Opts, report: &mut Report) {
    let subjects = servers::with(&o.baselines);
    let mut thr = Row::new(
        format!("peer msgs/s with receipt at saturation, {} pairs", o.pairs),
        "msg/s",
        Better::Higher,
    )
    .target(Target::RatioAtLeast(0.9));
    let mut p50 = Row::new("peer send→receipt p50 at half rate", "ms", Better::Lower);
    let mut p99 = Row::new("peer send→receipt p99 at half rate", "ms", Better::Lower);
    let mut p999 = Row::new("peer send→receipt p99.9 at half rate", "ms", Better::Lower);
    for s in subjects {
        match measure(o, s) {
            Ok(m) => {
                thr.values.push((s, Ok(m.throughput)));
                thr.notes.push(m.note);
                let ms =
                    |v: Option<f64>| v.map(|us| us / 1000.0).ok_or_else(|| "no samples".into());
                p50.values.push((s, ms(m.p50)));
                p99.values.push((s, ms(m.p99)));
                p999.values.push((s, ms(m.p999)));
            }
            Err(e) => {
                for r in [&mut thr, &mut p50, &mut p99, &mut p999] {
                    r.values.push((s, Err(e.clone())));
                }
            }
        }
    }
    for r in [thr, p50, p99, p999] {
        report.add(r.figure("peer"));
    }
}

fn measure(o: &Opts, subject: Subject) -> Result<Measured, String> {
    let server = servers::start(subject, o.pin.server_cpu)?;
    let clients: Vec<ClientSpec> = (0..o.pairs * 2)
        .map(|i| {
            ClientSpec::new(
                format!("{}{}", if i % 2 == 0 { "s" } else { "r" }, i / 2),
                i,
            )
        })
        .collect();
    let mut load = Load::spawn(clients.len(), o.pin.load_cpu)?;
    // Shares of whole pairs, so that both ends of a pair live in one worker.
    let per = (o.pairs.div_ceil(load.len()) * 2).max(2);
    let shares: Vec<Vec<ClientSpec>> = clients.chunks(per).map(<[_]>::to_vec).collect();
    let shares_len: Vec<usize> = shares.iter().map(Vec::len).collect();
    let d = load.setup(&server.target, shares, 400, Duration::from_secs(120))?;
    if d.failed > 0 {
        return Err(format!(
            "{} clients failed to log in: {}",
            d.failed,
            d.errors.join(" / ")
        ));
    }
    let pairs_of =
        |n: usize| -> Vec<(usize, usize)> { (0..n / 2).map(|p| (2 * p, 2 * p + 1)).collect() };
    let warmup = if o.smoke { 200 } else { 2_000 };
    let measure_ms = o.measure.as_millis() as u64;
    let workers = load.len();
    let peer_cmds = |interval_us: u64, window: usize| -> Vec<Cmd> {
        shares_len
            .iter()
            .map(|&n| Cmd::Peer {
                pairs: pairs_of(n),
                interval_us,
                window,
                warmup_ms: warmup,
                measure_ms,
            })
            .chain(std::iter::repeat_with(|| Cmd::Peer {
                pairs: Vec::new(),
                interval_us: 1_000_000,
                window: 1,
                warmup_ms: warmup,
                measure_ms,
            }))
            .take(workers)
            .collect()
    };
    let deadline = Duration::from_millis(warmup + measure_ms) + Duration::from_secs(30);
    // Saturation; CPU sampled over the measuring window only.
    let window = |load: &Load| {
        load::cpu_during(
            server.proc.pid(),
            load.pids(),
            (o.pin.server_cpu, o.pin.load_cpu),
            Duration::from_millis(warmup),
            o.measure,
        )
    };
    let cpu = window(&load);
    let sat = sum(load.run(peer_cmds(SATURATION_INTERVAL_US, 4), deadline)?);
    let cpu = cpu.join().unwrap_or_default();
    let throughput = sat.receipts as f64 / o.measure.as_secs_f64();
    let mut note = cpu_note(subject.name(), &cpu);
    if sat.errors > 0 {
        note.push_str(&format!(", {} errors", sat.errors));
    }
    if throughput <= 0.0 {
        return Err(format!("no receipts ({note})"));
    }
    // Latency at half the saturation rate, spread over every sender.
    let interval_us = ((o.pairs as f64 / (throughput / 2.0)) * 1e6) as u64;
    let cpu = window(&load);
    let half = sum(load.run(
        peer_cmds(interval_us.max(SATURATION_INTERVAL_US), 64),
        deadline,
    )?);
    let cpu = cpu.join().unwrap_or_default();
    note.push_str(&format!(
        "; at half rate ({:.0} msg/s): server CPU {:.0} %, load CPU {:.0} %",
        half.receipts as f64 / o.measure.as_secs_f64(),
        cpu.server,
        cpu.load
    ));
    let mut lat = half.latencies_us;
    lat.sort_unstable();
    Ok(Measured {
        throughput,
        p50: percentile(&lat, 50.0),
        p99: percentile(&lat, 99.0),
        p999: percentile(&lat, 99.9),
        note,
    })
}

fn sum(answers: Vec<Answer>) -> PeerDone {
    let mut total = PeerDone::default();
    for a in answers {
        if let Answer::Peer(p) = a {
            total.receipts += p.receipts;
            total.sent += p.sent;
            total.errors += p.errors;
            total.latencies_us.extend(p.latencies_us);
        }
    }
    total
}
