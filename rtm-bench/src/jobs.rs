//! What the parent asks of a load worker and what the worker answers: one JSON object per
//! line on the worker's stdin and stdout. Every command gets exactly one answer, so the
//! parent can wait for each with a deadline and kill a worker that misses it.

use serde::{Deserialize, Serialize};

/// The server a worker's clients talk to and the protocol they speak.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Speak {
    /// RTM, PROTOCOL.md version 2. `cert`: certificate mode (each login carries a 007 token).
    Rtm {
        app_id: String,
        cert: Option<String>,
    },
    /// A baseline's dialect (`baseline_client`).
    Plain,
    SocketIo,
}

/// The server: `ws://127.0.0.1:PORT` plus the dialect's path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    pub url: String,
    pub speak: Speak,
}

/// One load client: its user id, the loopback source address it binds, what it joins and
/// whom it subscribes to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientSpec {
    pub uid: String,
    pub src: [u8; 4],
    pub rooms: Vec<String>,
    pub peers: Vec<String>,
    /// RTM in certificate mode: the client's 007 token, built by the worker before it
    /// starts the clock (building one compresses it: a load-side cost the login figure
    /// must not carry).
    #[serde(default)]
    pub token: Option<String>,
}

impl ClientSpec {
    /// Client `i` named `uid`, from its spread source address, in no room, subscribed to no
    /// one.
    pub fn new(uid: String, i: usize) -> Self {
        ClientSpec {
            uid,
            src: crate::load::source(i),
            rooms: Vec::new(),
            peers: Vec::new(),
            token: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Cmd {
    /// Connect and log in every client (at most `concurrency` at a time), join and subscribe.
    Setup {
        target: Target,
        clients: Vec<ClientSpec>,
        concurrency: usize,
        connect_timeout_ms: u64,
        deadline_ms: u64,
    },
    /// Peer round trips: each (sender, receiver) index pair sends every `interval_us` with at
    /// most `window` unanswered; receipts and latencies counted between `warmup_ms` and
    /// `warmup_ms + measure_ms` after the start.
    Peer {
        pairs: Vec<(usize, usize)>,
        interval_us: u64,
        window: usize,
        warmup_ms: u64,
        measure_ms: u64,
    },
    /// Channel publishes: each (client index, room, publisher number) publishes every
    /// `interval_us` for `duration_ms`. Answered when the publishing ends.
    Publish {
        publishers: Vec<(usize, String, u32)>,
        interval_us: u64,
        duration_ms: u64,
    },
    /// What this worker's clients received of the publishes so far.
    Deliveries,
    /// Every client's socket closed abruptly (an RST), then all reconnect at once.
    Storm {
        connect_timeout_ms: u64,
        deadline_ms: u64,
    },
    Quit,
}

/// How a set of connections went.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SetupDone {
    pub ok: usize,
    pub failed: usize,
    pub retries: usize,
    /// RTM logins answered `resumed: true` (storm).
    pub resumed: usize,
    /// Unix ns when the phase started and when its last client was ready.
    pub start_ns: u64,
    pub end_ns: u64,
    /// The first failures' reasons (a few).
    pub errors: Vec<String>,
}

impl SetupDone {
    /// The workers' setup answers as one: counts summed, the earliest start, the latest
    /// end, a few reasons from each.
    pub fn merge(answers: Vec<Answer>) -> SetupDone {
        let mut t = SetupDone {
            start_ns: u64::MAX,
            ..SetupDone::default()
        };
        for a in answers {
            if let Answer::Setup(d) = a {
                t.ok += d.ok;
                t.failed += d.failed;
                t.retries += d.retries;
                t.resumed += d.resumed;
                t.start_ns = t.start_ns.min(d.start_ns);
                t.end_ns = t.end_ns.max(d.end_ns);
                t.errors.extend(d.errors.into_iter().take(2));
            }
        }
        if t.start_ns == u64::MAX {
            t.start_ns = t.end_ns;
        }
        t
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PeerDone {
    pub receipts: u64,
    /// Send → receipt, µs, for the round trips in the window.
    pub latencies_us: Vec<u32>,
    pub sent: u64,
    pub errors: u64,
}

/// One published message as a worker's clients saw it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivered {
    pub publisher: u32,
    pub seq: u64,
    pub sent_ns: u64,
    pub count: u64,
    pub last_ns: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    Setup(SetupDone),
    Peer(PeerDone),
    Published {
        sent: u64,
        errors: u64,
    },
    Deliveries(Vec<Delivered>),
    Quit,
    /// The command could not be carried out.
    Failed(String),
}

/// Unix time in ns: comparable across the worker processes of one machine.
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
