//! The baseline servers: what users would pick instead of RTM, started beside it in the same
//! run. (Interface fixed by the lead; bodies to be written.)

use crate::baseline_client::Dialect;
use crate::process::ServerProc;

/// A baseline server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// `rtm-bench-bare`: async-tungstenite on smol, our own stack with no RTM in it.
    Bare,
    /// Node.js with the `ws` package, `JSON.stringify` once per broadcast.
    NodeWs,
    /// Node.js with Socket.IO, a room per channel.
    SocketIo,
}

impl Baseline {
    pub const ALL: [Baseline; 3] = [Baseline::Bare, Baseline::NodeWs, Baseline::SocketIo];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::Bare => "bare",
            Baseline::NodeWs => "node-ws",
            Baseline::SocketIo => "socket.io",
        }
    }

    pub fn dialect(self) -> Dialect {
        match self {
            Baseline::Bare | Baseline::NodeWs => Dialect::Plain,
            Baseline::SocketIo => Dialect::SocketIo,
        }
    }
}

/// Starts `baseline` on a free loopback port, pinned to `cpu` when given (installing its npm
/// packages first if needed). `Err` is the one-line reason it is skipped.
pub fn start(baseline: Baseline, cpu: Option<usize>) -> Result<ServerProc, String> {
    let _ = cpu;
    Err(format!("{}: not written yet", baseline.name()))
}
