//! A hostile or broken client, written by hand on a raw connection, cannot make the server
//! grow without bound or serve others worse: every request kind has a server-side limit and
//! every table a bound.

mod common;

use common::{close_code, drain_raw, raw_login, say_raw, World};
use rtm_proto::server::ServerOutput;
use rtm_proto::wire::close;

fn count(frames: &[String], kind: &str) -> usize {
    let tag = format!(r#"{{"type":"{kind}""#);
    frames.iter().filter(|f| f.starts_with(&tag)).count()
}

#[test]
fn regression_resending_invite_or_cancel_of_a_decided_invitation_does_not_grow_the_stream() {
    let mut w = World::new(0);
    let alice = raw_login(&mut w, "alice");
    let invite =
        r#"{"type":"invite","id":2,"invitation":7,"callee":"bob","content":"","channel_id":""}"#;
    let cancel = r#"{"type":"invitation_cancel","id":3,"invitation":7}"#;
    let mut told = say_raw(&mut w, alice, invite);
    told.extend(say_raw(&mut w, alice, cancel));
    assert_eq!(count(&told, "local_invitation"), 1, "{told:?}");

    // Alice never acknowledges and keeps resending, within her invite budget: each resend
    // is answered, and the decision she has not acknowledged is not pushed again.
    let mut answers = 0;
    // (80 of each in 24 s: within the invite budget, and before the 30 s after which a
    // connection that acknowledges nothing is closed.)
    for _ in 0..80 {
        w.advance(300);
        let mut out = say_raw(&mut w, alice, invite);
        out.extend(say_raw(&mut w, alice, cancel));
        answers += count(&out, "ok");
        assert_eq!(count(&out, "local_invitation"), 0, "{out:?}");
    }
    assert_eq!(answers, 160);

    // Once she has acknowledged it, a resend tells her the decision again (she may have
    // lost it with a session).
    say_raw(&mut w, alice, r#"{"type":"ack","seq":1}"#);
    w.advance(300);
    let out = say_raw(&mut w, alice, invite);
    assert_eq!(count(&out, "local_invitation"), 1, "{out:?}");
}

#[test]
fn every_request_kind_has_a_server_side_budget() {
    let mut w = World::new(0);
    let mallory = raw_login(&mut w, "mallory");
    // (request, how many its budget admits at once: twice §9.2's rate over 10 s; the
    // family's TOO_OFTEN code)
    #[rustfmt::skip]
    let kinds = [
        (r#"{"type":"get_member_count","id":ID,"channels":["a"]}"#, 20, 3),
        (r#"{"type":"query_online","id":ID,"peers":["bob"]}"#, 40, 5),
        (r#"{"type":"subscribe","id":ID,"peers":["bob"]}"#, 40, 5),
        (r#"{"type":"unsubscribe","id":ID,"peers":["bob"]}"#, 40, 5),
        (r#"{"type":"get_user_attrs","id":ID,"user":"bob"}"#, 160, 5),
        (r#"{"type":"get_channel_attrs","id":ID,"channel":"a"}"#, 40, 5),
        (r#"{"type":"channel_attrs","id":ID,"channel":"a","op":"clear"}"#, 40, 5),
        (r#"{"type":"user_attrs","id":ID,"op":"clear"}"#, 40, 5),
        (r#"{"type":"get_members","id":ID,"channel":"a"}"#, 50, 4),
        (r#"{"type":"renew_token","id":ID,"token":"x"}"#, 40, 4),
        (r#"{"type":"invitation_sync","id":ID,"local":[],"remote":[]}"#, 120, 6),
        (r#"{"type":"join","id":ID,"channel":"cID"}"#, 333, 7),
        (r#"{"type":"leave","id":ID,"channel":"cID"}"#, 333, 2),
        (r#"{"type":"invite","id":ID,"invitation":ID,"callee":"bob","content":"","channel_id":""}"#, 40, 6),
    ];
    let mut id = 10;
    for (frame, admitted, code) in kinds {
        for _ in 0..admitted {
            id += 1;
            let out = say_raw(&mut w, mallory, &frame.replace("ID", &id.to_string()));
            let refused = format!(r#"{{"type":"error","id":{id},"code":{code},"#);
            assert!(
                !out.iter().any(|f| f.starts_with(&refused)),
                "{frame}: {out:?}"
            );
        }
        id += 1;
        let out = say_raw(&mut w, mallory, &frame.replace("ID", &id.to_string()));
        let refused = format!(r#"{{"type":"error","id":{id},"code":{code},"#);
        assert!(
            out.iter().any(|f| f.starts_with(&refused)),
            "{frame}: {out:?}"
        );
        // A budget refills with time.
        w.advance(10_001);
    }
}

#[test]
fn a_client_that_keeps_flooding_after_refusals_is_closed_with_4010() {
    let mut w = World::new(0);
    let mallory = raw_login(&mut w, "mallory");
    let mut refusals = 0;
    for id in 10.. {
        let frame = format!(r#"{{"type":"get_member_count","id":{id},"channels":["a"]}}"#);
        let out = w.raw_frame(mallory, frame.as_bytes());
        if let Some(code) = close_code(&out) {
            assert_eq!(code, close::TOO_MANY_REQUESTS);
            break;
        }
        refusals += out
            .iter()
            .filter(|o| matches!(o, ServerOutput::Send { frame, .. } if frame.starts_with(br#"{"type":"error""#)))
            .count();
        assert!(id < 1_000, "never closed");
    }
    assert_eq!(refusals, 100);
}

fn channel_attrs_set(id: u32, channel: &str, value: &str) -> String {
    format!(
        r#"{{"type":"channel_attrs","id":{id},"channel":"{channel}","op":"set","attributes":{{"k":"{value}"}}}}"#
    )
}

fn error_code(out: &[String], id: u32) -> Option<u32> {
    let tag = format!(r#"{{"type":"error","id":{id},"code":"#);
    out.iter()
        .find_map(|f| f.strip_prefix(&tag))
        .and_then(|rest| rest.split(',').next())
        .and_then(|c| c.parse().ok())
}

#[test]
fn regression_channel_attributes_are_bounded_server_wide_and_forgotten_after_the_grace() {
    let sc = rtm_proto::server::ServerConfig {
        max_channels: 4,
        channel_attributes_total: 2_000,
        ..Default::default()
    };
    let mut w = World::with_config(0, sc, Default::default());
    let mallory = raw_login(&mut w, "mallory");
    let value = "v".repeat(500);
    let mut taken = 0;
    for (i, id) in (10..40).enumerate() {
        // Within the write budget: one write every 300 ms.
        w.advance(300);
        let out = say_raw(
            &mut w,
            mallory,
            &channel_attrs_set(id, &format!("c{i}"), &value),
        );
        match error_code(&out, id) {
            None => taken += 1,
            // Past the byte budget: SIZE_OVERFLOW; past the channel count: FAILURE.
            Some(code) => assert!(code == 4 || code == 2, "{out:?}"),
        }
        let stats = w.server.stats();
        assert!(stats.channel_attribute_bytes <= 2_000, "{stats:?}");
        assert!(stats.channels <= 4, "{stats:?}");
    }
    assert_eq!(taken, 3, "three 600-byte sets fit in 2 000 bytes");

    // Nobody is in those channels: their attributes go after the grace period (180 s), and
    // the budget is free again.
    w.advance(181_000);
    let stats = w.server.stats();
    assert_eq!((stats.channels, stats.channel_attribute_bytes), (0, 0));
}

#[test]
fn get_members_of_a_big_channel_is_a_sample_of_512_shared_for_a_second() {
    let mut w = World::new(0);
    let mut conns = Vec::new();
    for i in 0..600 {
        let conn = raw_login(&mut w, &format!("m{i:03}"));
        say_raw(&mut w, conn, r#"{"type":"join","id":2,"channel":"big"}"#);
        conns.push(conn);
    }
    let ask = |w: &mut World, conn, id: u32| -> Vec<String> {
        let out = say_raw(
            w,
            conn,
            &format!(r#"{{"type":"get_members","id":{id},"channel":"big"}}"#),
        );
        let members = out
            .iter()
            .find(|f| f.starts_with(r#"{"type":"members""#))
            .unwrap_or_else(|| panic!("{out:?}"));
        let v: serde_json::Value = serde_json::from_str(members).unwrap();
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let first = ask(&mut w, conns[0], 10);
    assert_eq!(first.len(), 512);
    assert!(first.windows(2).all(|p| p[0] < p[1]), "sorted and distinct");
    // Within a second every asker shares the sample drawn once.
    assert_eq!(ask(&mut w, conns[1], 11), first);
    w.advance(1_001);
    let later = ask(&mut w, conns[2], 12);
    assert_eq!(later.len(), 512);
    assert_ne!(later, first, "a new sample after a second");
}

#[test]
fn regression_join_leave_churn_leaves_room_for_peer_messages() {
    let sc = rtm_proto::server::ServerConfig {
        max_unacked: 64,
        ..Default::default()
    };
    let mut w = World::with_config(0, sc, Default::default());
    // Bob has not acknowledged anything yet (a slow path): his stream fills.
    let bob = raw_login(&mut w, "bob");
    say_raw(&mut w, bob, r#"{"type":"join","id":2,"channel":"room"}"#);
    let mallory = raw_login(&mut w, "mallory");
    for i in 0..100 {
        say_raw(
            &mut w,
            mallory,
            &format!(r#"{{"type":"join","id":{},"channel":"room"}}"#, 10 + 2 * i),
        );
        say_raw(
            &mut w,
            mallory,
            &format!(r#"{{"type":"leave","id":{},"channel":"room"}}"#, 11 + 2 * i),
        );
    }
    let events = member_events(&drain_raw(&mut w, bob));
    assert!(
        events <= 48,
        "member events take at most 3/4 of the stream: {events}"
    );

    let alice = raw_login(&mut w, "alice");
    let out = say_raw(
        &mut w,
        alice,
        r#"{"type":"peer_message","id":2,"to":"bob","msg_id":1,"message":{"kind":"text","text":"hi"}}"#,
    );
    assert!(!out.iter().any(|f| f.contains("unreachable")), "{out:?}");
    assert_eq!(count(&drain_raw(&mut w, bob), "message"), 1);
    say_raw(&mut w, bob, r#"{"type":"ack","seq":1000}"#);
    assert_eq!(
        drain_raw(&mut w, alice),
        [r#"{"type":"peer_message_result","id":2,"outcome":"received"}"#]
    );
}

fn member_events(frames: &[String]) -> usize {
    count(frames, "member_joined") + count(frames, "member_left") + count(frames, "member_count")
}

fn offline_text(id: u32, to: &str, len: usize) -> String {
    let text = "x".repeat(len);
    format!(
        r#"{{"type":"peer_message","id":{id},"to":"{to}","msg_id":{id},"offline":true,"message":{{"kind":"text","text":"{text}"}}}}"#
    )
}

#[test]
fn regression_the_offline_store_is_bounded_in_bytes_per_receiver_and_in_all() {
    let sc = rtm_proto::server::ServerConfig {
        offline_user_bytes: 100_000,
        offline_total_bytes: 250_000,
        ..Default::default()
    };
    let mut w = World::with_config(1, sc, Default::default());
    let alice = raw_login(&mut w, "alice");
    // Five 32 KB messages to bob: his share keeps the newest three (about 98 KB).
    for id in 10..15 {
        w.advance(100);
        let out = say_raw(
            &mut w,
            alice,
            &offline_text(id, "bob", 32_000 + id as usize),
        );
        assert_eq!(count(&out, "peer_message_result"), 1);
        assert!(out[0].contains("cached"), "{out:?}");
    }
    assert_eq!(w.server.stats().offline_messages, 3);
    // Carol's and dave's shares fill the store's 250 000 bytes: further sends are refused.
    let mut outcomes = Vec::new();
    for (id, to) in (20..26).zip(["carol", "carol", "carol", "dave", "dave", "dave"]) {
        w.advance(100);
        let out = say_raw(&mut w, alice, &offline_text(id, to, 32_000));
        outcomes.push(out[0].contains("cached"));
        assert!(w.server.stats().offline_bytes <= 250_000);
    }
    assert_eq!(outcomes, [true, true, true, true, false, false]);

    // Bob logs in and gets the newest three of his five, in order.
    let now = w.now;
    w.clients[0].login(now, "bob", None).unwrap();
    w.settle();
    let lengths: Vec<usize> = w
        .take_events(0)
        .into_iter()
        .filter_map(|e| match e {
            rtm_proto::client::Event::MessageFromPeer { message, .. } => {
                Some(message.counted_len())
            }
            _ => None,
        })
        .collect();
    assert_eq!(lengths, [32_012, 32_013, 32_014]);
}

#[test]
fn regression_a_connection_that_pings_but_never_acknowledges_is_closed_with_4007() {
    let mut w = World::logged_in(&["alice"]);
    let bob = raw_login(&mut w, "bob");
    let now = w.now;
    let req = w.clients[0]
        .send_message_to_peer(
            now,
            "bob",
            rtm_proto::Message::text("read me"),
            Default::default(),
        )
        .unwrap();
    w.settle();
    assert_eq!(count(&drain_raw(&mut w, bob), "message"), 1);

    // Bob keeps pinging (so he is alive) but acknowledges nothing.
    let mut closed_at = None;
    for second in (2..=40).step_by(2) {
        w.advance(2_000);
        let out = w.raw_frame(bob, br#"{"type":"ping"}"#);
        if let Some(code) = close_code(&out) {
            assert_eq!(code, close::SLOW_CONSUMER);
            closed_at = Some(second);
            break;
        }
    }
    assert_eq!(
        closed_at,
        Some(30),
        "closed at the first frame 30 s after the push"
    );
    // His session stays, detached and resumable, with the message kept for it.
    assert_eq!(w.server.stats().sessions, 2);
    assert_eq!(
        w.response(0, req),
        Some(rtm_proto::Response::SendMessageToPeer(Err(
            rtm_proto::PeerMessageError::Timeout
        ))),
        "alice's client gave up after 10 s; the server never said received"
    );
}

fn channel_text(id: u32, channel: &str, len: usize) -> String {
    let text = "h".repeat(len);
    format!(
        r#"{{"type":"channel_message","id":{id},"channel":"{channel}","msg_id":{id},"message":{{"kind":"text","text":"{text}"}}}}"#
    )
}

#[test]
fn channel_history_is_bounded_in_bytes_over_all_channels_and_swept_when_quiet() {
    let mut w = World::with_config(
        0,
        rtm_proto::server::ServerConfig {
            channel_history_total: 100_000,
            ..Default::default()
        },
        Default::default(),
    );
    let alice = raw_login(&mut w, "alice");
    for channel in ["a", "b"] {
        let out = say_raw(
            &mut w,
            alice,
            &format!(r#"{{"type":"join","id":2,"channel":"{channel}"}}"#),
        );
        assert_eq!(count(&out, "joined"), 1, "{out:?}");
    }
    // 10 messages of 20 KB in each channel: every one is accepted and delivered, but only
    // 100 000 bytes of them are kept for replays.
    let mut id = 10;
    for channel in ["a", "b"] {
        for _ in 0..10 {
            id += 1;
            let out = say_raw(&mut w, alice, &channel_text(id, channel, 20_000));
            assert_eq!(count(&out, "ok"), 1, "{out:?}");
        }
    }
    let kept = w.server.stats().channel_history_bytes;
    assert!(kept > 80_000 && kept <= 100_000, "{kept}");
    // Nobody posts any more: the sweep drops the expired history anyway.
    for _ in 0..9 {
        w.advance(5_000);
        let _ = say_raw(&mut w, alice, r#"{"type":"ack","seq":0}"#);
    }
    assert_eq!(w.server.stats().channel_history_bytes, 0);
}

#[test]
fn invitation_records_are_bounded_in_bytes_server_wide() {
    let mut w = World::with_config(
        0,
        rtm_proto::server::ServerConfig {
            invitations_total_bytes: 10_000,
            ..Default::default()
        },
        Default::default(),
    );
    let alice = raw_login(&mut w, "alice");
    let content = "c".repeat(4_000);
    let invite = |id: u32| {
        format!(
            r#"{{"type":"invite","id":{id},"invitation":{id},"callee":"bob","content":"{content}","channel_id":""}}"#
        )
    };
    // A record weighs its content once (both views are derived from one phase): two fit.
    for id in [2, 3] {
        let out = say_raw(&mut w, alice, &invite(id));
        assert_eq!(count(&out, "ok"), 1, "{out:?}");
    }
    let bytes = w.server.stats().invitation_bytes;
    assert!(bytes > 8_000 && bytes <= 10_000, "{bytes}");
    let out = say_raw(&mut w, alice, &invite(4));
    assert_eq!(error_code(&out, 4), Some(6), "{out:?}");
    assert_eq!(w.server.stats().invitations, 2);
    // Records are kept 5 minutes after they were sent; then there is room again.
    for _ in 0..11 {
        w.advance(28_000);
        let _ = say_raw(&mut w, alice, r#"{"type":"ack","seq":100}"#);
    }
    assert_eq!(w.server.stats().invitation_bytes, 0);
    let out = say_raw(&mut w, alice, &invite(5));
    assert_eq!(count(&out, "ok"), 1, "{out:?}");
}

#[test]
fn regression_many_callers_ringing_a_callee_that_never_reads_end_its_session_at_the_reserve() {
    let mut w = World::new(0);
    let bob = raw_login(&mut w, "bob");
    // Invitation pushes are kept however full a stream is; each caller is bounded (40
    // invites per 10 s, 64 open), their sum is not. 40 callers × 40 invitations.
    let callers: Vec<_> = (0..40)
        .map(|i| raw_login(&mut w, &format!("caller{i}")))
        .collect();
    let mut answered = 0;
    let mut told_bob = 0;
    for n in 0..40u32 {
        for &caller in &callers {
            let id = 10 + n;
            let invite = format!(
                r#"{{"type":"invite","id":{id},"invitation":{id},"callee":"bob","content":"ring","channel_id":""}}"#
            );
            answered += count(&say_raw(&mut w, caller, &invite), "ok");
            told_bob += count(&drain_raw(&mut w, bob), "invitation");
        }
    }
    assert_eq!(answered, 1_600, "every invite is answered");
    // Bob's session ended once his stream passed 1 024 pushes and the reserve of 256.
    let closes: Vec<_> = w.server_closes.iter().filter(|(c, _)| *c == bob).collect();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(closes[0].1, close::SLOW_CONSUMER);
    assert_eq!(w.server.stats().sessions, 40, "bob's session was ended");
    // What reached his connection is the send window's worth (64 KiB at first).
    assert!(told_bob > 0 && told_bob < 1_024, "{told_bob}");
}
