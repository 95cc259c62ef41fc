//! The `core` scenario: the server's state machine alone, in this process, with no socket,
//! no driver and no other stack to compare with — what RTM's own logic costs.
//!
//! * **peer**: pairs of logged-in sessions; each message is the whole routed round trip a
//!   client sees as a `received` result: `peer_message` in, `message` push out, the
//!   receiver's `ack` in, `peer_message_result` out.
//! * **fanout**: one channel message to every other member of a channel (deliveries/s).
//!
//! Wall-clock rates are printed for orientation; the figure with a target is **instructions
//! per routed peer message**, counted by valgrind's callgrind, which is repeatable here where
//! `perf` has no counters. Two runs of [`probe`] with different message counts (same
//! sessions, same warm-up) are subtracted, so the logins, the warm-up and the process's
//! start-up drop out and what is left is the cost of the extra messages alone.

use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use rtm_proto::server::{ConnId, ServerConfig, ServerInput, ServerOutput};
use rtm_proto::{Server, Timestamp};

use crate::report::{Better, Figure, Report, Target};
use crate::rtm_frames;

const APP: &str = "00000000000000000000000000000000";

/// The issue's target: the core at most this many instructions per routed peer message.
const INSTRUCTIONS_TARGET: f64 = 10_000.0;

/// Sessions in the peer runs: enough that the user-id maps are not trivially small.
const PAIRS: u64 = 1_000;

/// Runs the scenario and adds its figures to `report`.
pub fn run(report: &mut Report, smoke: bool) {
    let (rounds, fanout_members, fanout_sends) = if smoke {
        (5, 200, 20)
    } else {
        (100, 10_000, 200)
    };

    let mut core = Core::new();
    core.login_pairs(PAIRS);
    let n = PAIRS * rounds;
    let t0 = Instant::now();
    core.peer_rounds(0, rounds);
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    let mut f = Figure::new(
        "core",
        "routed peer messages/s, in process",
        "msg/s",
        Better::Higher,
    );
    f.ours = Some(rate);
    f.note = format!("{PAIRS} pairs × {rounds} rounds: send, push, ack, receipt");
    report.add(f);

    let mut core = Core::new();
    let deliveries = core.fan_out(fanout_members, fanout_sends);
    let mut f = Figure::new(
        "core",
        format!("channel deliveries/s, {fanout_members} members, in process"),
        "deliveries/s",
        Better::Higher,
    );
    f.ours = Some(deliveries);
    report.add(f);

    let mut f = Figure::new(
        "core",
        "instructions per routed peer message (callgrind)",
        "instructions",
        Better::Lower,
    );
    f.target = Some(Target::AbsoluteAtMost(INSTRUCTIONS_TARGET));
    let (low, high) = if smoke { (2, 4) } else { (5, 25) };
    match (instructions(low), instructions(high)) {
        (Ok(a), Ok(b)) => {
            f.ours = Some((b.saturating_sub(a)) as f64 / ((high - low) * PAIRS) as f64);
            f.note = format!("({b} − {a}) / {} messages", (high - low) * PAIRS);
        }
        (Err(e), _) | (_, Err(e)) => f.note = e,
    }
    report.add(f);
}

/// The body of `rtm-bench core-probe ROUNDS`, run under callgrind by [`instructions`]: logs
/// in [`PAIRS`] pairs, warms up with two rounds, then routes `rounds` more.
pub fn probe(rounds: u64) {
    let mut core = Core::new();
    core.login_pairs(PAIRS);
    core.peer_rounds(0, 2);
    core.peer_rounds(2, rounds);
    println!(
        "routed {} messages, {} frames out",
        PAIRS * (rounds + 2),
        core.sent
    );
}

/// Instructions a `core-probe` of `rounds` rounds executes, from callgrind's summary.
fn instructions(rounds: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new("valgrind")
        // Count only inside the core's two entry points: the harness's own frame building and
        // bookkeeping stay out of the figure.
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "--collect-atstart=no",
            "--toggle-collect=rtm_proto::server::Server::handle_input",
            "--toggle-collect=rtm_proto::server::Server::poll_output",
        ])
        .arg(&exe)
        .args(["core-probe", &rounds.to_string()])
        .output()
        .map_err(|e| {
            format!("skipped: valgrind not runnable ({e}); install the valgrind package")
        })?;
    if !out.status.success() {
        return Err(format!("skipped: valgrind exited {}", out.status));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .ok_or_else(|| "skipped: no `Collected :` line in callgrind's output".to_owned())
}

/// The server core driven from a loop, every output drained and dropped.
struct Core {
    server: Server,
    now_ms: u64,
    sent: u64,
    /// Each connection's delivery-stream position: the pushes it was sent, to acknowledge.
    seq: Vec<u64>,
}

impl Core {
    fn new() -> Self {
        Core {
            server: Server::new(
                ServerConfig::default(),
                1,
                Timestamp::ZERO,
                1_750_000_000_000,
            ),
            now_ms: 0,
            sent: 0,
            seq: Vec::new(),
        }
    }

    fn input(&mut self, input: ServerInput) {
        self.server
            .handle_input(Timestamp::from_millis(self.now_ms), input);
        while let Some(out) = self.server.poll_output() {
            if let ServerOutput::Send { conn, frame } = out {
                self.sent += 1;
                if rtm_frames::is_stream_push(rtm_proto::wire::frame_type(&frame)) {
                    if let Some(position) = self.seq.get_mut(conn.0 as usize) {
                        *position += 1;
                    }
                }
            }
        }
    }

    fn frame(&mut self, conn: u64, text: String) {
        self.input(ServerInput::Frame(ConnId(conn), Bytes::from(text)));
    }

    fn login(&mut self, conn: u64, uid: &str) {
        self.input(ServerInput::Opened(ConnId(conn), None));
        self.frame(conn, format!(r#"{{"type":"login","id":1,"version":2,"app_id":"{APP}","uid":"{uid}","instance":{conn},"attempt":1}}"#));
        if self.seq.len() <= conn as usize {
            self.seq.resize(conn as usize + 1, 0);
        }
    }

    fn login_pairs(&mut self, pairs: u64) {
        for conn in 0..pairs * 2 {
            self.login(conn, &format!("user-{conn:05}"));
        }
    }

    /// Rounds `first..first + rounds`: every sender sends its peer one message, which the
    /// receiver acknowledges at once (as the reference client does), so the sender gets
    /// `received`. 20 ms between rounds keeps every sender within its 180 per 3 s.
    fn peer_rounds(&mut self, first: u64, rounds: u64) {
        for round in first..first + rounds {
            self.now_ms += 20;
            for pair in 0..self.seq.len() as u64 / 2 {
                let (from, to) = (pair * 2, pair * 2 + 1);
                let msg_id = (round << 20) | from;
                self.frame(from, format!(r#"{{"type":"peer_message","id":{round},"to":"user-{to:05}","msg_id":{msg_id},"message":{{"kind":"text","text":"hello, this is message {round}"}}}}"#));
                let seq = self.seq[to as usize];
                self.frame(to, format!(r#"{{"type":"ack","seq":{seq}}}"#));
            }
        }
    }

    /// Deliveries per second of `sends` channel messages to a channel of `members`.
    fn fan_out(&mut self, members: u64, sends: u64) -> f64 {
        for conn in 0..members {
            self.login(conn, &format!("member-{conn:05}"));
            self.frame(
                conn,
                r#"{"type":"join","id":2,"channel":"room"}"#.to_owned(),
            );
        }
        self.now_ms += 10_000;
        let sent0 = self.sent;
        let t0 = Instant::now();
        for k in 0..sends {
            self.now_ms += 20;
            self.frame(0, format!(r#"{{"type":"channel_message","id":{k},"channel":"room","msg_id":{k},"message":{{"kind":"text","text":"hello everyone, message {k}"}}}}"#));
            // Every member acknowledges what it got, as clients do, so streams stay open.
            if k % 16 == 15 {
                for conn in 1..members {
                    let seq = self.seq[conn as usize];
                    self.frame(conn, format!(r#"{{"type":"ack","seq":{seq}}}"#));
                }
            }
        }
        (self.sent - sent0) as f64 / t0.elapsed().as_secs_f64()
    }
}
