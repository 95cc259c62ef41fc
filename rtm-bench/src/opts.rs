//! What every scenario needs from the command line, and the bookkeeping they share: one
//! figure per quantity with ours and each baseline's value, missing values with a reason.

use std::time::Duration;

use crate::baselines::Baseline;
use crate::load::CpuUse;
use crate::process::Pinning;
use crate::report::{Better, Figure, Target};
use crate::servers::Subject;

/// Scenario sizes and pinning, from the command line (`--smoke` shrinks them).
#[derive(Clone, Debug)]
pub struct Opts {
    pub smoke: bool,
    pub pin: Pinning,
    /// The baselines to run beside ours (`--baselines`).
    pub baselines: Vec<Baseline>,
    pub connections: usize,
    pub pairs: usize,
    pub fanout_sizes: Vec<usize>,
    pub fanout_deliveries: u64,
    pub logins: usize,
    /// Length of a measuring phase (peer, fan-out).
    pub measure: Duration,
    pub idle: Duration,
}

/// `(figure value, note)` per subject, turned into a Figure: the first subject is ours.
pub struct Row {
    pub what: String,
    pub unit: &'static str,
    pub better: Better,
    pub target: Option<Target>,
    pub values: Vec<(Subject, Result<f64, String>)>,
    pub notes: Vec<String>,
}

impl Row {
    pub fn new(what: impl Into<String>, unit: &'static str, better: Better) -> Row {
        Row {
            what: what.into(),
            unit,
            better,
            target: None,
            values: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn target(mut self, t: Target) -> Row {
        self.target = Some(t);
        self
    }

    pub fn figure(self, scenario: &'static str) -> Figure {
        let mut f = Figure::new(scenario, self.what, self.unit, self.better);
        f.target = self.target;
        let mut notes = self.notes;
        for (i, (subject, value)) in self.values.into_iter().enumerate() {
            let v = match value {
                Ok(v) => Some(v),
                Err(e) => {
                    if e.starts_with(subject.name()) {
                        notes.push(e);
                    } else {
                        notes.push(format!("{}: {e}", subject.name()));
                    }
                    None
                }
            };
            if i == 0 {
                f.ours = v;
            } else {
                f.baselines.push((subject.name().to_owned(), v));
            }
        }
        notes.dedup();
        f.note = notes.join("; ");
        f
    }
}

/// Percentile `p` (0–100) of sorted samples.
pub fn percentile(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(f64::from(sorted[rank.clamp(1, sorted.len()) - 1]))
}

/// CPU use as a percentage of one core over `secs`.
pub fn cpu_pct(cpu_secs: f64, secs: f64) -> f64 {
    if secs > 0.0 {
        cpu_secs / secs * 100.0
    } else {
        0.0
    }
}

/// The note beside a throughput figure: both processes' CPU use, what else ran on their
/// cores, and a warning when the load core, not the server's, was the one saturated.
pub fn cpu_note(name: &str, cpu: &CpuUse) -> String {
    let mut s = format!(
        "{name}: server CPU {:.0} %, load CPU {:.0} %",
        cpu.server, cpu.load
    );
    let others = |core: Option<f64>, own: f64| core.map(|c| c - own).filter(|o| *o >= 10.0);
    if let Some(o) = others(cpu.server_core, cpu.server) {
        s.push_str(&format!(
            " (+{o:.0} % of other processes on the server's core)"
        ));
    }
    if let Some(o) = others(cpu.load_core, cpu.load) {
        s.push_str(&format!(
            " (+{o:.0} % of other processes on the load's core)"
        ));
    }
    if cpu.load >= 90.0 && cpu.server < 90.0 {
        s.push_str(" (load-bound: the load core was saturated, not the server's)");
    }
    s
}
