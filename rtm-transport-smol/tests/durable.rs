//! Durable offline messages (issue #12) with real `rtm-server` processes on a data directory
//! of their own: a message the server answered `cached` is delivered exactly once after the
//! server is killed (-9) or stopped (SIGTERM) while sends are in flight, and restarted on the
//! same directory; per sender, in order. A database the server cannot trust is refused at
//! start. Every wait is bounded; every process is killed at the end.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_lite::future;
use rtm_proto::client::SendMessageOptions;
use rtm_proto::{ClientConfig, Event, Message, PeerMessageOutcome};
use rtm_transport_smol::{Answer, RtmClient};

mod common;

use common::{Proc, WAIT};

const OFFLINE: SendMessageOptions = SendMessageOptions {
    enable_offline_messaging: true,
};
const SENDERS: [&str; 2] = ["alice", "carol"];
const RECEIVERS: [&str; 3] = ["r0", "r1", "r2"];

/// An `rtm-server` on a loopback port and `data_dir`; killed (-9) when dropped.
struct Server {
    proc: Proc,
    url: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let proc = server_proc(data_dir);
        let url = proc.listening_url();
        Server { proc, url }
    }

    /// The `records=N` of the "storage: restored" line.
    fn restored_records(&self) -> usize {
        self.proc.wait_for("storage: restored", |line| {
            if !line.contains("storage: restored") {
                return None;
            }
            let i = line.find(" records=")?;
            line[i + " records=".len()..]
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
    }

    /// kill -9: no chance to finish anything.
    fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// SIGTERM, and the graceful exit it must lead to.
    fn terminate(&mut self) {
        let status = self.proc.signal_and_wait("TERM");
        assert!(
            status.success(),
            "rtm-server exited with {status} on SIGTERM"
        );
    }
}

/// `rtm-server` on a free loopback port and `data_dir`, its log lines read.
fn server_proc(data_dir: &Path) -> Proc {
    let dir = data_dir.to_str().expect("a UTF-8 temporary path");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--log",
        "info",
        "--data-dir",
        dir,
    ];
    Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false)
}

fn logged_in(url: &str, uid: &str) -> RtmClient {
    let client = RtmClient::new(url, ClientConfig::default()).expect("a client");
    smol::block_on(within(client.login(uid, None)))
        .unwrap_or_else(|e| panic!("{uid} could not log in: {e:?}"));
    client
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    future::or(f, async {
        smol::Timer::after(WAIT).await;
        panic!("not done within {WAIT:?}")
    })
    .await
}

/// One send: its text (`sender:seq`), receiver and answer.
struct Sent {
    from: &'static str,
    seq: u32,
    to: &'static str,
    answer: Answer<PeerMessageOutcome, rtm_proto::PeerMessageError>,
}

/// The senders send `per_sender` offline messages each, round robin over the receivers, one
/// every few ms; `stop` runs after `stop_after` rounds, while sends continue (in flight).
fn send_and_stop(
    server: &mut Server,
    per_sender: u32,
    stop_after: u32,
    stop: fn(&mut Server),
) -> Vec<(Sent, bool)> {
    let senders: Vec<(&'static str, RtmClient)> = SENDERS
        .iter()
        .map(|&uid| (uid, logged_in(&server.url, uid)))
        .collect();
    let mut sent = Vec::new();
    for seq in 0..per_sender {
        for (i, (from, client)) in senders.iter().enumerate() {
            let to = RECEIVERS[(seq as usize + i) % RECEIVERS.len()];
            let answer =
                client.send_message_to_peer(to, Message::text(format!("{from}:{seq}")), OFFLINE);
            sent.push(Sent {
                from,
                seq,
                to,
                answer,
            });
        }
        std::thread::sleep(Duration::from_millis(3));
        if seq + 1 == stop_after {
            stop(server);
        }
    }
    // Answers the clients had heard before the stop are in by now; the rest never come.
    std::thread::sleep(Duration::from_millis(300));
    sent.into_iter()
        .map(|mut s| {
            let cached = matches!(
                future::block_on(future::poll_once(&mut s.answer)),
                Some(Ok(PeerMessageOutcome::Cached))
            );
            (s, cached)
        })
        .collect()
}

/// Logs every receiver in on `url` and gathers what it is delivered: until every message of
/// `expected` (per receiver) has come, then for a further moment to catch duplicates.
fn deliveries(
    url: &str,
    expected: &BTreeMap<&str, Vec<String>>,
) -> BTreeMap<&'static str, Vec<String>> {
    let mut got = BTreeMap::new();
    for uid in RECEIVERS {
        let client = RtmClient::new(url, ClientConfig::default()).expect("a client");
        let events = client.events();
        smol::block_on(within(client.login(uid, None))).expect("receiver logs in");
        let want = expected.get(uid).map_or(0, Vec::len);
        let mut texts: Vec<String> = Vec::new();
        let deadline = Instant::now() + WAIT;
        let mut quiet_until = None;
        loop {
            let now = Instant::now();
            let until = match quiet_until {
                Some(q) => q,
                None => deadline,
            };
            if now >= until {
                assert!(
                    quiet_until.is_some(),
                    "{uid}: only {} of {want} messages came: {texts:?}",
                    texts.len()
                );
                break;
            }
            let event = smol::block_on(future::or(async { events.recv().await.ok() }, async {
                smol::Timer::at(until).await;
                None
            }));
            match event {
                Some(Event::MessageFromPeer {
                    message,
                    is_offline_message,
                    ..
                }) => {
                    assert!(is_offline_message, "{uid}: a live message? {message:?}");
                    let Message::Text { text } = message else {
                        panic!("{uid}: not a text message: {message:?}")
                    };
                    texts.push(text);
                }
                Some(_) => {}
                None => {}
            }
            if quiet_until.is_none()
                && expected
                    .get(uid)
                    .into_iter()
                    .flatten()
                    .all(|t| texts.contains(t))
            {
                quiet_until = Some(Instant::now() + Duration::from_millis(700));
            }
        }
        smol::block_on(within(client.logout())).expect("receiver logs out");
        got.insert(uid, texts);
    }
    got
}

/// The story of both tests: sends in flight when the server stops, a restart on the same
/// directory, every `cached` message delivered once, in order per sender.
fn survives(stop: fn(&mut Server)) {
    let dir = tempfile::tempdir().expect("a data directory");
    let mut server = Server::start(dir.path());
    assert_eq!(server.restored_records(), 0);
    let sent = send_and_stop(&mut server, 120, 60, stop);
    let cached = sent.iter().filter(|(_, c)| *c).count();
    assert!(
        cached >= 60,
        "only {cached} sends answered cached before the stop"
    );
    assert!(
        cached < sent.len(),
        "every send answered: none was in flight at the stop"
    );
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (s, c) in &sent {
        if *c {
            expected
                .entry(s.to)
                .or_default()
                .push(format!("{}:{}", s.from, s.seq));
        }
    }

    let server = Server::start(dir.path());
    let records = server.restored_records();
    assert!(
        records >= cached,
        "{records} records restored, {cached} sends were answered cached"
    );
    let got = deliveries(&server.url, &expected);
    let delivered: usize = got.values().map(Vec::len).sum();
    eprintln!(
        "{} sends, {cached} answered cached before the stop, {records} records restored, \
         {delivered} delivered",
        sent.len()
    );
    for uid in RECEIVERS {
        let texts = &got[uid];
        let mut last_seq: BTreeMap<&str, u32> = BTreeMap::new();
        for text in texts {
            let (from, seq) = text.split_once(':').expect("sender:seq");
            let seq: u32 = seq.parse().expect("a sequence number");
            assert!(
                sent.iter()
                    .any(|(s, _)| s.from == from && s.seq == seq && s.to == uid),
                "{uid} got {text}, never sent to it"
            );
            if let Some(&prev) = last_seq.get(from) {
                assert!(
                    seq > prev,
                    "{uid}: {text} after {from}:{prev} (out of order or twice): {texts:?}"
                );
            }
            last_seq.insert(SENDERS.iter().find(|&&s| s == from).expect("a sender"), seq);
        }
        for text in expected.get(uid).into_iter().flatten() {
            assert!(
                texts.contains(text),
                "{uid}: cached {text} was not delivered"
            );
        }
    }
    drop(server);
}

#[test]
fn cached_messages_survive_kill_9() {
    survives(Server::kill9);
}

#[test]
fn cached_messages_survive_sigterm_and_are_not_redelivered() {
    survives(Server::terminate);
}

#[test]
fn delivered_messages_are_gone_after_a_restart() {
    let dir = tempfile::tempdir().expect("a data directory");
    let mut server = Server::start(dir.path());
    let alice = logged_in(&server.url, "alice");
    for i in 0..5 {
        let out = smol::block_on(within(alice.send_message_to_peer(
            "r0",
            Message::text(format!("alice:{i}")),
            OFFLINE,
        )));
        assert_eq!(out, Ok(PeerMessageOutcome::Cached));
    }
    server.terminate();
    let mut server = Server::start(dir.path());
    assert_eq!(server.restored_records(), 5);
    let expected = BTreeMap::from([("r0", (0..5).map(|i| format!("alice:{i}")).collect())]);
    let got = deliveries(&server.url, &expected);
    assert_eq!(got["r0"], expected["r0"]);
    // Delivered and acknowledged: deleted before the graceful stop returns.
    server.terminate();
    let server = Server::start(dir.path());
    assert_eq!(server.restored_records(), 0);
}

/// Runs `rtm-server` on `data_dir`, which it must refuse: non-zero exit, and stderr.
fn refused(data_dir: &Path) -> String {
    let mut proc = server_proc(data_dir);
    let status = proc.exit_status();
    // The process is gone: its stderr ends, and the reader thread with it.
    let stderr = proc.lines.iter().collect::<Vec<_>>().join("\n");
    assert!(!status.success(), "rtm-server started on it: {stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    stderr
}

#[test]
fn a_corrupt_database_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a data directory");
    let db = dir.path().join("rtm.db");
    let garbage: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).unwrap();
    let stderr = refused(dir.path());
    assert!(stderr.contains("rtm.db"), "{stderr}");
    assert!(stderr.contains("not a usable RTM database"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), garbage, "the file was changed");
}

#[test]
fn a_database_with_a_newer_schema_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a data directory");
    Server::start(dir.path()).terminate();
    let db = dir.path().join("rtm.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    let stderr = refused(dir.path());
    assert!(stderr.contains("rtm.db"), "{stderr}");
    assert!(stderr.contains("schema version 99 is newer"), "{stderr}");
}
