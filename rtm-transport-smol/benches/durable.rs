//! The `durable` benchmark (issue #12): offline peer messages answered `cached` per second,
//! kept durably in SQLite with group commit versus in memory only, by the same servers in
//! one run. Asserts nothing: figures go to BENCHMARKS.md.
//!
//! `cargo bench -p rtm-transport-smol --bench durable` (well under a minute). Each round
//! starts a server in this process on a loopback port (memory, or SQLite in a fresh
//! temporary directory), logs in `SENDERS` clients, and has each send a burst of `BURST`
//! offline messages to receivers who never log in (all in flight at once, as fast as the
//! client's §9.2 rate allows a burst); the time is from the first send to the last `cached`.
//! Rounds alternate memory and SQLite, so machine noise hits both; the best round of each
//! counts.

use std::time::{Duration, Instant};

use futures_lite::future;
use rtm_proto::client::SendMessageOptions;
use rtm_proto::{ClientConfig, Message, PeerMessageOutcome};
use rtm_transport_smol::{spawn_server, RtmClient, ServeOptions, Storage};

/// Sender clients (each its own connection and thread).
const SENDERS: usize = 100;
/// Messages each sender sends at once (the client allows 180 per 3 s).
const BURST: usize = 150;
/// Absent receivers the messages are spread over (well under 200 each: nothing evicted).
const RECEIVERS: usize = 1000;
const ROUNDS: usize = 3;

/// Messages per second of one round on a fresh server with `storage`.
fn round(storage: Storage) -> f64 {
    let options = ServeOptions {
        storage,
        ..ServeOptions::default()
    };
    let server = spawn_server("127.0.0.1:0", options).expect("a server");
    let url = server.url();
    let clients: Vec<RtmClient> = (0..SENDERS)
        .map(|_| RtmClient::new(&url, ClientConfig::default()).expect("a client"))
        .collect();
    let logins: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| c.login(&format!("sender{i}"), None))
        .collect();
    future::block_on(async {
        for login in logins {
            login.await.expect("login");
        }
    });
    let options = SendMessageOptions {
        enable_offline_messaging: true,
    };
    let start = Instant::now();
    let mut answers = Vec::with_capacity(SENDERS * BURST);
    for k in 0..BURST {
        for (i, c) in clients.iter().enumerate() {
            let to = format!("receiver{}", (i * BURST + k) % RECEIVERS);
            answers.push(c.send_message_to_peer(&to, Message::text(format!("m{i}:{k}")), options));
        }
    }
    future::block_on(async {
        for answer in answers {
            assert_eq!(answer.await, Ok(PeerMessageOutcome::Cached));
        }
    });
    let elapsed = start.elapsed();
    drop(clients);
    server.shutdown().expect("shutdown");
    (SENDERS * BURST) as f64 / elapsed.as_secs_f64()
}

fn main() {
    let started = Instant::now();
    let (mut memory, mut sqlite) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        let m = round(Storage::Memory);
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let s = round(Storage::sqlite(dir.path()));
        let db_bytes = std::fs::metadata(dir.path().join("rtm.db")).map_or(0, |m| m.len());
        println!(
            "round {}: memory {m:>8.0} msg/s, sqlite {s:>8.0} msg/s ({:.2}x; rtm.db {} KiB)",
            r + 1,
            s / m,
            db_bytes / 1024
        );
        memory.push(m);
        sqlite.push(s);
        std::thread::sleep(Duration::from_millis(200));
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (m, s) = (best(&memory), best(&sqlite));
    println!(
        "best of {ROUNDS}: memory {m:.0} msg/s, sqlite (group commit) {s:.0} msg/s, ratio {:.2} \
         ({} senders x {BURST} offline messages, {RECEIVERS} absent receivers; {:.1} s in all)",
        s / m,
        SENDERS,
        started.elapsed().as_secs_f64()
    );
}
