//! Durable state stories (`rtm_proto::server::storage`): what the server answers `cached` is
//! on disk first, survives a crash, and leaves the disk once delivered.

mod common;

use common::{LinkMode, StoreMode, World};
use rtm_proto::client::{Event, RequestId, Response, SendMessageOptions};
use rtm_proto::server::{Record, RecordId, RecordKind, StorageOp};
use rtm_proto::{Message, PeerMessageError, PeerMessageOutcome, ServerConfig};

const OFFLINE: SendMessageOptions = SendMessageOptions {
    enable_offline_messaging: true,
};

fn send(w: &mut World, c: usize, to: &str, text: &str) -> RequestId {
    let req = w.clients[c]
        .send_message_to_peer(w.now, to, Message::text(text), OFFLINE)
        .expect("accepted locally");
    w.settle();
    req
}

fn outcome(w: &mut World, c: usize, req: RequestId) -> Option<Result<PeerMessageOutcome, u32>> {
    match w.response(c, req)? {
        Response::SendMessageToPeer(r) => Some(r.map_err(|e| e.code())),
        other => panic!("not a peer message response: {other:?}"),
    }
}

/// The texts of the peer messages client `c` received, as `from: text`.
fn received(w: &mut World, c: usize) -> Vec<String> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::MessageFromPeer {
                peer_id,
                message: Message::Text { text },
                ..
            } => Some(format!("{peer_id}: {text}")),
            _ => None,
        })
        .collect()
}

fn bob_logs_in(w: &mut World) {
    let r = w.clients[1].login(w.now, "bob", None);
    assert!(r.is_ok(), "{r:?} {:?}", w.events[1]);
    w.settle();
}

fn queued_writes(w: &World) -> usize {
    w.disk
        .queued
        .iter()
        .filter(|op| matches!(op, StorageOp::Write(_)))
        .count()
}

const CACHED: Option<Result<PeerMessageOutcome, u32>> = Some(Ok(PeerMessageOutcome::Cached));

#[test]
fn cached_is_answered_only_once_the_write_has_committed() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "one");
    assert_eq!(
        outcome(&mut w, 0, req),
        None,
        "nothing said before the commit"
    );
    assert_eq!(queued_writes(&w), 1);
    w.commit_writes();
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    let record = w.disk.records.values().next().expect("on disk");
    assert_eq!(record.kind, RecordKind::PeerMessage);
    assert_eq!(record.owner, "bob");
}

#[test]
fn a_crash_keeps_every_message_answered_cached_and_each_is_delivered_once() {
    let mut w = World::new(2);
    w.login(0, "alice");
    for text in ["one", "two", "three"] {
        let req = send(&mut w, 0, "bob", text);
        assert_eq!(outcome(&mut w, 0, req), CACHED);
    }
    let report = w.restart_server();
    assert_eq!(
        (report.messages, report.dropped, report.unreadable),
        (3, 0, 0)
    );
    assert_eq!(w.server.stats().offline_messages, 3);
    bob_logs_in(&mut w);
    assert_eq!(
        received(&mut w, 1),
        ["alice: one", "alice: two", "alice: three"],
        "all three, once, in the order sent"
    );
    assert!(w.disk.records.is_empty(), "acknowledged: deleted");
    // Once more: nothing comes back.
    w.restart_server();
    w.advance(10_000);
    assert!(received(&mut w, 1).is_empty());
}

#[test]
fn a_crash_before_the_commit_said_nothing_and_the_resend_is_stored_once() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "one");
    // The process dies with the write in flight: lost, and nobody was told `cached`.
    w.restart_server();
    assert!(w.disk.records.is_empty());
    assert_eq!(outcome(&mut w, 0, req), None);
    // Alice's client logs in again and resends what was unanswered.
    w.advance(5_000);
    assert_eq!(queued_writes(&w), 1, "the resend is written afresh");
    w.commit_writes();
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    w.disk.mode = StoreMode::Instant;
    bob_logs_in(&mut w);
    assert_eq!(received(&mut w, 1), ["alice: one"]);
}

#[test]
fn a_resend_after_a_crash_that_lost_the_answer_is_answered_cached_not_stored_twice() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "one");
    // Committed, but the `cached` answer never reaches alice before the crash.
    w.set_mode(0, LinkMode::Blackhole);
    w.commit_writes();
    w.restart_server();
    w.set_mode(0, LinkMode::Up);
    w.disk.mode = StoreMode::Instant;
    w.advance(10_000);
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    assert_eq!(w.disk.records.len(), 1, "one record, not two");
    bob_logs_in(&mut w);
    assert_eq!(received(&mut w, 1), ["alice: one"]);
}

#[test]
fn a_failed_write_is_answered_failure_and_nothing_is_kept() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "lost");
    w.fail_writes();
    assert_eq!(
        outcome(&mut w, 0, req),
        Some(Err(PeerMessageError::Failure.code()))
    );
    assert_eq!(w.server.stats().offline_messages, 0);
    // The disk is back: the next send is stored.
    w.disk.mode = StoreMode::Instant;
    let req = send(&mut w, 0, "bob", "kept");
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    bob_logs_in(&mut w);
    assert_eq!(received(&mut w, 1), ["alice: kept"]);
}

#[test]
fn a_write_not_committed_within_5_s_fails_and_is_undone_if_it_commits_later() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "slow");
    w.advance(4_900);
    assert_eq!(outcome(&mut w, 0, req), None);
    w.advance(200);
    assert_eq!(
        outcome(&mut w, 0, req),
        Some(Err(PeerMessageError::Failure.code()))
    );
    // The hung disk wakes up: the write commits, and the delete queued behind it too.
    assert!(matches!(
        w.disk.queued.as_slice(),
        [StorageOp::Write(_), StorageOp::Delete(_)]
    ));
    w.commit_writes();
    assert!(w.disk.records.is_empty());
    w.restart_server();
    bob_logs_in(&mut w);
    assert!(received(&mut w, 1).is_empty());
}

#[test]
fn messages_for_a_detached_session_are_cached_once_durable_and_deleted_once_acknowledged() {
    let mut w = World::logged_in(&["alice", "bob"]);
    // Bob's connection drops and cannot come back for now: his session waits, detached.
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "while away");
    assert_eq!(outcome(&mut w, 0, req), None);
    w.commit_writes();
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    assert_eq!(w.disk.records.len(), 1);
    w.disk.mode = StoreMode::Instant;
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    assert_eq!(received(&mut w, 1), ["alice: while away"]);
    assert!(w.disk.records.is_empty(), "acknowledged: deleted");
}

#[test]
fn messages_in_flight_when_the_receiver_s_connection_drops_are_written_then_cached() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.set_mode(1, LinkMode::Blackhole);
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "in flight");
    assert_eq!(
        queued_writes(&w),
        0,
        "on its way to a live connection: no write"
    );
    // The dead connection is noticed: only the server holds the message now.
    w.set_mode(1, LinkMode::Refuse);
    assert_eq!(queued_writes(&w), 1);
    assert_eq!(outcome(&mut w, 0, req), None);
    w.commit_writes();
    assert_eq!(outcome(&mut w, 0, req), CACHED);
    // A crash now: the message survives it, and bob gets it once.
    w.restart_server();
    w.disk.mode = StoreMode::Instant;
    w.set_mode(1, LinkMode::Up);
    w.advance(30_000);
    assert_eq!(received(&mut w, 1), ["alice: in flight"]);
    assert!(w.disk.records.is_empty());
}

#[test]
fn a_failed_write_for_a_detached_session_keeps_the_message_for_its_resume() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    w.disk.mode = StoreMode::Held;
    let req = send(&mut w, 0, "bob", "held in memory");
    w.fail_writes();
    assert_eq!(outcome(&mut w, 0, req), None, "not cached: alice waits");
    w.disk.mode = StoreMode::Instant;
    w.set_mode(1, LinkMode::Up);
    w.advance(5_000);
    assert_eq!(received(&mut w, 1), ["alice: held in memory"]);
    assert_eq!(
        outcome(&mut w, 0, req),
        Some(Ok(PeerMessageOutcome::Received))
    );
}

#[test]
fn what_the_offline_store_evicts_leaves_the_disk_too() {
    let config = ServerConfig {
        offline_per_user: 2,
        ..Default::default()
    };
    let mut w = World::with_config(2, config, Default::default());
    w.login(0, "alice");
    for text in ["one", "two", "three"] {
        send(&mut w, 0, "bob", text);
    }
    assert_eq!(w.disk.records.len(), 2, "the newest two");
    w.restart_server();
    bob_logs_in(&mut w);
    assert_eq!(received(&mut w, 1), ["alice: two", "alice: three"]);
}

#[test]
fn records_past_7_days_are_dropped_at_restore() {
    let mut w = World::new(2);
    w.login(0, "alice");
    send(&mut w, 0, "bob", "old");
    // The server is down for a week.
    w.now = rtm_proto::Timestamp::from_millis(w.now.as_millis() + 7 * 24 * 3600 * 1000);
    let report = w.restart_server();
    assert_eq!((report.messages, report.dropped), (0, 1));
    assert!(w.disk.records.is_empty());
}

#[test]
fn unreadable_records_are_left_alone_and_ids_continue_after_them() {
    let mut w = World::new(2);
    w.disk.records.insert(
        RecordId(41),
        Record {
            id: RecordId(41),
            kind: RecordKind::PeerMessage,
            owner: "bob".into(),
            created_ms: 0,
            body: bytes::Bytes::from_static(b"{not json"),
        },
    );
    let report = w.restart_server();
    assert_eq!((report.messages, report.unreadable), (0, 1));
    w.login(0, "alice");
    send(&mut w, 0, "bob", "new");
    let ids: Vec<u64> = w.disk.records.keys().map(|id| id.0).collect();
    assert_eq!(
        ids,
        [41, 42],
        "kept for an operator; the next id comes after it"
    );
}

#[test]
fn the_expiry_sweep_deletes_expired_records_without_a_login() {
    let mut w = World::new(3);
    w.login(0, "alice");
    send(&mut w, 0, "bob", "old");
    send(&mut w, 0, "carol", "old");
    w.advance(7 * 24 * 3600 * 1000 + 3_600_000);
    assert!(w.disk.records.is_empty());
    assert_eq!(w.server.stats().offline_messages, 0);
}

#[test]
fn a_message_written_again_after_a_failure_comes_back_in_the_order_sent() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    w.disk.mode = StoreMode::Held;
    let first = send(&mut w, 0, "bob", "first");
    w.fail_writes();
    w.disk.mode = StoreMode::Instant;
    w.advance(10);
    let second = send(&mut w, 0, "bob", "second");
    assert_eq!(outcome(&mut w, 0, second), CACHED);
    assert_eq!(outcome(&mut w, 0, first), None);
    // Bob stays away past 30 s: his session ends and "first" is written again, under a
    // newer id than "second", on its way to the offline store. Alice's request gave up
    // waiting long before (TIMEOUT, 10 s), as PROTOCOL.md says.
    w.advance(31_000);
    assert_eq!(
        outcome(&mut w, 0, first),
        Some(Err(PeerMessageError::Timeout.code()))
    );
    assert_eq!(w.disk.records.len(), 2);
    w.restart_server();
    w.set_mode(1, LinkMode::Up);
    w.advance(30_000); // bob's client, still trying, gets in
    assert_eq!(received(&mut w, 1), ["alice: first", "alice: second"]);
}

#[test]
fn a_resend_of_a_send_that_was_not_stored_gets_the_same_failure() {
    let mut w = World::new(2);
    let alice = common::raw_login(&mut w, "alice");
    w.disk.mode = StoreMode::Held;
    let frame = r#"{"type":"peer_message","id":7,"to":"bob","msg_id":99,"offline":true,"message":{"kind":"text","text":"hi"}}"#;
    assert!(common::say_raw(&mut w, alice, frame).is_empty());
    w.fail_writes();
    let answers = common::drain_raw(&mut w, alice);
    assert!(
        answers.len() == 1 && answers[0].contains(r#""code":1"#),
        "{answers:?}"
    );
    // The client's resend (on a new link, crossing the answer) is not stored after all.
    let again = common::say_raw(&mut w, alice, frame);
    assert!(
        again.len() == 1 && again[0].contains("could not store"),
        "{again:?}"
    );
    assert!(w.disk.queued.is_empty(), "nothing written for the resend");
}

#[test]
fn a_pushed_message_whose_write_fails_as_its_session_ends_is_kept_for_the_next_login() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.set_mode(1, LinkMode::Blackhole);
    let req = send(&mut w, 0, "bob", "maybe on screen");
    // Bob is banned with the message pushed and unacknowledged: it moves to the offline
    // store, and that write fails.
    w.disk.mode = StoreMode::Held;
    w.server.ban(w.now, &common::uid("bob"));
    w.settle();
    assert_eq!(queued_writes(&w), 1);
    w.fail_writes();
    assert_eq!(outcome(&mut w, 0, req), None, "not cached, not refused");
    assert_eq!(w.server.stats().offline_messages, 1, "kept in memory");
    w.disk.mode = StoreMode::Instant;
    // Bob's client learns of the ban when its link comes back, and logs in again.
    w.set_mode(1, LinkMode::Up);
    w.advance(20_000);
    let _ = w.clients[1].logout(w.now);
    w.settle();
    bob_logs_in(&mut w);
    assert_eq!(received(&mut w, 1), ["alice: maybe on screen"]);
}
