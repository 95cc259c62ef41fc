//! Core benchmarks: they print figures, they assert nothing about speed.
//!
//! `cargo bench -p rtm-proto --bench core`
//!
//! * channel fan-out: one channel message to N members — time and heap allocations per send,
//!   for N = 100 and N = 10 000 (the ratio shows the per-member cost);
//! * peer messages: send → push → ack → receipt through the server, messages per second;
//! * sessions: logins per second and heap bytes held per idle session.

// The benchmark times the core from outside: the clock the core itself may not read.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use rtm_proto::server::{ConnId, ServerConfig, ServerInput, ServerOutput};
use rtm_proto::{Server, Timestamp};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as u64, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as u64, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const APP: &str = "00000000000000000000000000000000";

fn frame(s: String) -> Bytes {
    Bytes::from(s)
}

struct Bench {
    server: Server,
    now: u64,
    sent: u64,
}

impl Bench {
    fn new() -> Self {
        Bench {
            server: Server::new(
                ServerConfig::default(),
                1,
                Timestamp::ZERO,
                1_750_000_000_000,
            ),
            now: 0,
            sent: 0,
        }
    }

    fn input(&mut self, i: ServerInput) {
        self.server
            .handle_input(Timestamp::from_millis(self.now), i);
        while let Some(o) = self.server.poll_output() {
            if let ServerOutput::Send { .. } = o {
                self.sent += 1;
            }
        }
    }

    fn login(&mut self, conn: u64, uid: &str) {
        self.input(ServerInput::Opened(ConnId(conn), None));
        let f = format!(r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"{uid}"}}"#);
        self.input(ServerInput::Frame(ConnId(conn), frame(f)));
    }

    fn send(&mut self, conn: u64, f: String) {
        self.input(ServerInput::Frame(ConnId(conn), frame(f)));
    }
}

fn fan_out(members: u64, sends: u64) {
    let mut b = Bench::new();
    for i in 0..members {
        b.login(i, &format!("u{i}"));
        b.send(i, r#"{"type":"join","id":2,"channel":"room"}"#.into());
    }
    b.now += 10_000;
    // Members acknowledge nothing here, so keep sends below the unacked bound.
    let frames: Vec<String> = (0..sends)
        .map(|k| format!(r#"{{"type":"channel_message","id":{k},"channel":"room","msg_id":{k},"message":{{"kind":"text","text":"hello everyone, message {k}"}}}}"#))
        .collect();
    let (a0, t0) = (ALLOCS.load(Relaxed), Instant::now());
    let sent0 = b.sent;
    for (k, f) in frames.into_iter().enumerate() {
        b.now += 20; // stay within the 180 per 3 s rate
        b.send(k as u64 % members.min(1), f);
    }
    let (dt, da) = (t0.elapsed(), ALLOCS.load(Relaxed) - a0);
    let delivered = b.sent - sent0;
    println!(
        "fan-out  members={members:>6}  sends={sends}  {:>9.1} µs/send  {:>7.1} ns/recipient  {:>7.1} allocs/send  frames out={delivered}",
        dt.as_secs_f64() * 1e6 / sends as f64,
        dt.as_secs_f64() * 1e9 / (sends * (members - 1)) as f64,
        da as f64 / sends as f64,
    );
}

fn peer_messages(pairs: u64, rounds: u64) {
    let mut b = Bench::new();
    for i in 0..pairs * 2 {
        b.login(i, &format!("u{i}"));
    }
    let t0 = Instant::now();
    let mut seq = vec![0u64; (pairs * 2) as usize];
    for r in 0..rounds {
        b.now += 20;
        for p in 0..pairs {
            let (from, to) = (p * 2, p * 2 + 1);
            let f = format!(
                r#"{{"type":"peer_message","id":{r},"to":"u{to}","msg_id":{r},"message":{{"kind":"text","text":"ping {r}"}}}}"#
            );
            b.send(from, f);
            seq[to as usize] += 1;
            b.send(
                to,
                format!(r#"{{"type":"ack","seq":{}}}"#, seq[to as usize]),
            );
        }
    }
    let n = pairs * rounds;
    let dt = t0.elapsed();
    println!(
        "peer     pairs={pairs}  messages={n}  {:>10.0} msg/s (send + push + ack + receipt)",
        n as f64 / dt.as_secs_f64()
    );
}

fn sessions(n: u64) {
    let live0 = LIVE.load(Relaxed);
    let mut b = Bench::new();
    let t0 = Instant::now();
    for i in 0..n {
        b.login(i, &format!("user-{i}"));
    }
    let dt = t0.elapsed();
    let held = LIVE.load(Relaxed) - live0;
    println!(
        "sessions n={n}  {:>9.0} logins/s  {:>7.0} heap bytes per idle session",
        n as f64 / dt.as_secs_f64(),
        held as f64 / n as f64
    );
    drop(b);
}

fn main() {
    fan_out(100, 500);
    fan_out(10_000, 500);
    peer_messages(1_000, 50);
    sessions(50_000);
}
