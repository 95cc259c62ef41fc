//! The `login` scenario: logins per second (connect, WebSocket handshake, `login` →
//! `login_ok`), app-id-only against certificate mode, where each login carries a 007 token
//! the server verifies (HMAC-SHA256). The figure's "baseline" is app-id-only mode.

use std::time::Duration;

use crate::jobs::ClientSpec;
use crate::load::Load;
use crate::opts::Opts;
use crate::report::{Better, Figure, Report, Target};
use crate::servers::{self, Subject};

pub fn run(o: &Opts, report: &mut Report) {
    let plain = measure(o, false);
    let cert = measure(o, true);
    let mut f = Figure::new(
        "login",
        format!(
            "logins/s, {} clients, certificate mode (baseline: app-id-only mode)",
            o.logins
        ),
        "logins/s",
        Better::Higher,
    );
    f.target = Some(Target::RatioAtLeast(0.8));
    let mut notes = Vec::new();
    match cert {
        Ok(v) => f.ours = Some(v),
        Err(e) => notes.push(format!("certificate mode: {e}")),
    }
    match plain {
        Ok(v) => f.baselines.push(("app-id-only".into(), Some(v))),
        Err(e) => {
            f.baselines.push(("app-id-only".into(), None));
            notes.push(format!("app-id-only: {e}"));
        }
    }
    f.note = notes.join("; ");
    report.add(f);
}

fn measure(o: &Opts, cert: bool) -> Result<f64, String> {
    let server = servers::start(Subject::Ours { cert }, o.pin.server_cpu)?;
    let clients: Vec<ClientSpec> = (0..o.logins)
        .map(|i| ClientSpec::new(format!("l{i}"), i))
        .collect();
    let mut load = Load::spawn(clients.len(), o.pin.load_cpu)?;
    let shares = load.shares(&clients).into_iter().map(|(c, _)| c).collect();
    let d = load.setup(&server.target, shares, 256, Duration::from_secs(120))?;
    if d.failed > 0 {
        return Err(format!(
            "{} of {} logins failed: {}",
            d.failed,
            o.logins,
            d.errors.join(" / ")
        ));
    }
    let secs = d.end_ns.saturating_sub(d.start_ns) as f64 / 1e9;
    if secs <= 0.0 {
        return Err("no time measured".into());
    }
    Ok(d.ok as f64 / secs)
}
