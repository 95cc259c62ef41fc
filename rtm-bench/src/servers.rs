//! The servers a scenario measures, in the order it runs them: ours, then each baseline,
//! back to back in one invocation.

use crate::baselines::{self, Baseline};
use crate::jobs::{Speak, Target};
use crate::process::{sibling_binary, Pinning, ServerProc};

/// The app id the load logs in with (the server's default) and the certificate of
/// certificate mode (any 32 hex characters).
pub const APP_ID: &str = "00000000000000000000000000000000";
pub const APP_CERT: &str = "0123456789abcdef0123456789abcdef";

/// What runs a scenario's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `rtm-server`; `cert`: certificate mode.
    Ours {
        cert: bool,
    },
    Baseline(Baseline),
}

impl Subject {
    pub fn name(self) -> &'static str {
        match self {
            Subject::Ours { cert: false } => "ours",
            Subject::Ours { cert: true } => "ours (certificate mode)",
            Subject::Baseline(b) => b.name(),
        }
    }
}

/// A started server and how to talk to it.
pub struct Running {
    pub proc: ServerProc,
    pub target: Target,
}

pub fn start(subject: Subject, cpu: Option<usize>) -> Result<Running, String> {
    match subject {
        Subject::Ours { cert } => {
            let bin = sibling_binary("rtm-server")?;
            let mut cmd = Pinning::wrap(cpu, &bin);
            // The `listening on` line is logged at info by the binary; the rest stays quiet.
            cmd.args([
                "--listen",
                "127.0.0.1:0",
                "--storage",
                "memory",
                "--app-id",
                APP_ID,
                "--log",
                "warn,rtm_server=info",
            ]);
            if cert {
                cmd.args(["--app-cert", APP_CERT]);
            }
            let proc = ServerProc::start(subject.name(), cmd)?;
            let target = Target {
                url: proc.url.clone(),
                speak: Speak::Rtm {
                    app_id: APP_ID.to_owned(),
                    cert: cert.then(|| APP_CERT.to_owned()),
                },
            };
            Ok(Running { proc, target })
        }
        Subject::Baseline(b) => {
            let proc = baselines::start(b, cpu)?;
            let speak = match b.dialect() {
                crate::baseline_client::Dialect::Plain => Speak::Plain,
                crate::baseline_client::Dialect::SocketIo => Speak::SocketIo,
            };
            let target = Target {
                url: proc.url.clone(),
                speak,
            };
            Ok(Running { proc, target })
        }
    }
}

/// Ours first, then `baselines`.
pub fn with(baselines: &[Baseline]) -> Vec<Subject> {
    std::iter::once(Subject::Ours { cert: false })
        .chain(baselines.iter().map(|&b| Subject::Baseline(b)))
        .collect()
}
