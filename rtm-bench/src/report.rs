//! The table every scenario adds its figures to: ours beside each baseline of the same run,
//! as a ratio, with the target where there is one.

use std::fmt::Write as _;

/// Which way a figure is better: the ratio printed is always ours ÷ baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// A target on the ratio ours ÷ baseline (`AtLeast(0.9)`: ≥ 0.9×) or on our absolute figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    RatioAtLeast(f64),
    RatioAtMost(f64),
    AbsoluteAtMost(f64),
}

/// One measured quantity: ours and the same quantity on each baseline that ran.
#[derive(Clone, Debug)]
pub struct Figure {
    pub scenario: &'static str,
    /// What was measured, e.g. "peer msgs/s with receipt (saturation)".
    pub what: String,
    pub unit: &'static str,
    pub better: Better,
    /// `None`: ours could not be measured (the reason is in `note`).
    pub ours: Option<f64>,
    /// (baseline name, its figure; `None` when it was skipped).
    pub baselines: Vec<(String, Option<f64>)>,
    /// The target, against the first baseline for ratios.
    pub target: Option<Target>,
    pub note: String,
}

impl Figure {
    pub fn new(
        scenario: &'static str,
        what: impl Into<String>,
        unit: &'static str,
        better: Better,
    ) -> Self {
        Figure {
            scenario,
            what: what.into(),
            unit,
            better,
            ours: None,
            baselines: Vec::new(),
            target: None,
            note: String::new(),
        }
    }

    /// Whether the target is met (`None` when there is no target or a figure is missing).
    pub fn met(&self) -> Option<bool> {
        let ours = self.ours?;
        match self.target? {
            Target::AbsoluteAtMost(max) => Some(ours <= max),
            Target::RatioAtLeast(min) => Some(ours / self.baselines.first()?.1? >= min),
            Target::RatioAtMost(max) => Some(ours / self.baselines.first()?.1? <= max),
        }
    }
}

/// Every figure of a run, printed as a Markdown table (BENCHMARKS.md takes it as is).
#[derive(Default)]
pub struct Report {
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn add(&mut self, figure: Figure) {
        println!("{}", line(&figure));
        self.figures.push(figure);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("| scenario | figure | ours | baselines (ours ÷ baseline) | target | met |\n|---|---|---|---|---|---|\n");
        for f in &self.figures {
            let baselines: Vec<String> = f
                .baselines
                .iter()
                .map(|(name, value)| match (value, f.ours) {
                    (Some(b), Some(o)) if *b != 0.0 => {
                        format!("{name} {} ({:.2}×)", number(*b), o / b)
                    }
                    (Some(b), _) => format!("{name} {}", number(*b)),
                    (None, _) => format!("{name} skipped"),
                })
                .collect();
            let target = match f.target {
                Some(Target::RatioAtLeast(x)) => format!("≥ {x}×"),
                Some(Target::RatioAtMost(x)) => format!("≤ {x}×"),
                Some(Target::AbsoluteAtMost(x)) => format!("≤ {}", number(x)),
                None => String::new(),
            };
            let met = match f.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let ours = f.ours.map_or_else(|| "—".to_owned(), number);
            let mut what = format!("{} ({})", f.what, f.unit);
            if !f.note.is_empty() {
                let _ = write!(what, "; {}", f.note);
            }
            let _ = writeln!(
                out,
                "| {} | {what} | {ours} | {} | {target} | {met} |",
                f.scenario,
                baselines.join(", ")
            );
        }
        out
    }
}

/// One figure as a progress line while the run goes on.
fn line(f: &Figure) -> String {
    let mut s = format!(
        "[{}] {}: {} {}",
        f.scenario,
        f.what,
        f.ours.map_or_else(|| "—".into(), number),
        f.unit
    );
    for (name, value) in &f.baselines {
        match (value, f.ours) {
            (Some(b), Some(o)) if *b != 0.0 => {
                let _ = write!(s, " | {name} {} ({:.2}×)", number(*b), o / b);
            }
            (Some(b), _) => {
                let _ = write!(s, " | {name} {}", number(*b));
            }
            (None, _) => {
                let _ = write!(s, " | {name} skipped");
            }
        }
    }
    s
}

/// Three significant figures, thousands separated by a thin space.
pub fn number(x: f64) -> String {
    if x.abs() >= 1000.0 {
        let mut digits = format!("{:.0}", x.round());
        let mut grouped = String::new();
        let negative = digits.starts_with('-');
        if negative {
            digits.remove(0);
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        if negative {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
