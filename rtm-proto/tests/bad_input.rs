//! Hostile and malformed input from peers (rules of the house: never panic, documented
//! close codes, nothing accepted is lost).

mod common;

use common::{close_code, World};
use rtm_proto::client::Event;
use rtm_proto::server::ServerOutput;
use rtm_proto::wire::{close, MAX_FRAME_BYTES};
use rtm_proto::Message;

fn logged_in_raw(w: &mut World, uid: &str) -> rtm_proto::ConnId {
    let conn = w.raw_connect();
    let login = format!(
        r#"{{"type":"login","id":1,"version":1,"app_id":"00000000000000000000000000000000","uid":"{uid}"}}"#
    );
    let out = w.raw_frame(conn, login.as_bytes());
    assert_eq!(close_code(&out), None, "{out:?}");
    conn
}

#[test]
fn malformed_frames_close_with_4000() {
    let mut w = World::new(0);
    for bad in [
        &b"{"[..],
        b"[]",
        br#"{"type":"warp"}"#,
        b"\xff\xfe",
        br#"{"type":"ack","seq":-1}"#,
    ] {
        let conn = logged_in_raw(&mut w, "mallory");
        assert_eq!(
            close_code(&w.raw_frame(conn, bad)),
            Some(close::PROTOCOL_ERROR)
        );
    }
}

#[test]
fn oversized_frames_close_with_1009() {
    let mut w = World::new(0);
    let conn = logged_in_raw(&mut w, "mallory");
    let big = vec![b'x'; MAX_FRAME_BYTES + 1];
    assert_eq!(close_code(&w.raw_frame(conn, &big)), Some(close::TOO_BIG));
}

#[test]
fn requests_before_login_close_with_4002() {
    let mut w = World::new(0);
    let conn = w.raw_connect();
    assert_eq!(
        close_code(&w.raw_frame(conn, br#"{"type":"ping"}"#)),
        Some(close::OUT_OF_SEQUENCE)
    );
}

#[test]
fn a_second_login_on_one_connection_closes_with_4002() {
    let mut w = World::new(0);
    let conn = logged_in_raw(&mut w, "mallory");
    let login = br#"{"type":"login","id":2,"version":1,"app_id":"00000000000000000000000000000000","uid":"eve"}"#;
    assert_eq!(
        close_code(&w.raw_frame(conn, login)),
        Some(close::OUT_OF_SEQUENCE)
    );
}

#[test]
fn an_unknown_protocol_version_closes_with_4001() {
    let mut w = World::new(0);
    let conn = w.raw_connect();
    let login = br#"{"type":"login","id":1,"version":99,"app_id":"00000000000000000000000000000000","uid":"eve"}"#;
    assert_eq!(
        close_code(&w.raw_frame(conn, login)),
        Some(close::UNSUPPORTED_VERSION)
    );
}

#[test]
fn a_connection_that_never_logs_in_is_closed() {
    let mut w = World::new(0);
    let _conn = w.raw_connect();
    w.advance(10_000);
    assert_eq!(
        w.server_closes.last().map(|c| c.1),
        Some(close::OUT_OF_SEQUENCE)
    );
    assert_eq!(w.server.stats().connections, 0);
}

#[test]
fn a_misbehaving_session_does_not_disturb_others_and_keeps_what_it_was_given() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let conn = logged_in_raw(&mut w, "mallory");
    assert_eq!(
        close_code(&w.raw_frame(conn, b"garbage")),
        Some(close::PROTOCOL_ERROR)
    );
    w.clients[0]
        .send_message_to_peer(
            w.now,
            "bob",
            Message::text("still here"),
            Default::default(),
        )
        .unwrap();
    w.settle();
    assert!(w
        .take_events(1)
        .iter()
        .any(|e| matches!(e, Event::MessageFromPeer { .. })));
    // Mallory's session survives the close (detached) and can resume within 30 s.
    assert_eq!(w.server.stats().sessions, 3);
}

#[test]
fn a_forged_ack_and_unknown_request_ids_are_harmless() {
    let mut w = World::logged_in(&["alice"]);
    let conn = logged_in_raw(&mut w, "mallory");
    let out = w.raw_frame(conn, br#"{"type":"ack","seq":18446744073709551615}"#);
    assert_eq!(close_code(&out), None);
    let out = w.raw_frame(conn, br#"{"type":"unsubscribe","id":7,"peers":["nobody"]}"#);
    assert_eq!(close_code(&out), None);
}

#[test]
fn close_reasons_fit_a_websocket_close_frame() {
    let mut w = World::new(0);
    let conn = logged_in_raw(&mut w, "mallory");
    let long_field = format!(r#"{{"type":"{}"}}"#, "x".repeat(500));
    let out = w.raw_frame(conn, long_field.as_bytes());
    let reason = out
        .iter()
        .find_map(|o| match o {
            ServerOutput::Close { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        !reason.is_empty() && reason.len() <= close::MAX_REASON_BYTES,
        "{}",
        reason.len()
    );
}

#[test]
fn a_receiver_that_never_acknowledges_gets_no_more_than_its_stream_holds() {
    use rtm_proto::client::Response;
    let sc = rtm_proto::ServerConfig {
        max_unacked_bytes: 70 * 1024,
        ..Default::default()
    };
    let mut w = World::with_config(1, sc, Default::default());
    w.login(0, "alice");
    let _rx = logged_in_raw(&mut w, "rx");
    let big = "y".repeat(16 * 1024);
    let mut outcomes = Vec::new();
    for i in 0..5 {
        w.advance(100);
        let req = w.clients[0]
            .send_message_to_peer(
                w.now,
                "rx",
                Message::text(format!("{i}{big}")),
                Default::default(),
            )
            .unwrap();
        w.settle();
        outcomes.push(w.response(0, req));
    }
    // Four fit in its 70 KiB stream and wait for its acks; the fifth is refused.
    assert!(outcomes[..4].iter().all(Option::is_none), "{outcomes:?}");
    assert_eq!(
        outcomes[4],
        Some(Response::SendMessageToPeer(Ok(
            rtm_proto::PeerMessageOutcome::Unreachable
        )))
    );
    // Nothing is closed, and the session stays: what was accepted is kept.
    assert!(w.server_closes.is_empty(), "{:?}", w.server_closes);
    assert_eq!(
        w.server
            .observe()
            .peer_state(&rtm_proto::UserId::new("rx").unwrap()),
        rtm_proto::PeerOnlineState::Online
    );
}
