//! Resends and honest receipts: a repeat is a resend only when sender, destination,
//! `msg_id` and content all match, and every request is answered exactly once.
//!
//! The sender is a hand-written client on a raw connection (one that counts its ids from 1,
//! as a third-party client may); receivers are ordinary clients.

mod common;

use common::{drain_raw, join, raw_login, say_raw, World};
use rtm_proto::client::Event;
use rtm_proto::ChannelEvent;

fn peer_message(id: u32, to: &str, msg_id: u64, text: &str) -> String {
    format!(
        r#"{{"type":"peer_message","id":{id},"to":"{to}","msg_id":{msg_id},"message":{{"kind":"text","text":"{text}"}}}}"#
    )
}

fn texts_from_peers(w: &mut World, c: usize) -> Vec<String> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::MessageFromPeer {
                message: rtm_proto::Message::Text { text },
                ..
            } => Some(text),
            _ => None,
        })
        .collect()
}

fn received(id: u32) -> String {
    format!(r#"{{"type":"peer_message_result","id":{id},"outcome":"received"}}"#)
}

#[test]
fn regression_a_msg_id_reused_for_another_peer_is_delivered_not_answered_from_memory() {
    let mut w = World::logged_in(&["bob", "carol"]);
    let alice = raw_login(&mut w, "alice");

    assert_eq!(
        say_raw(&mut w, alice, &peer_message(2, "bob", 1, "to bob")),
        [received(2)]
    );
    assert_eq!(texts_from_peers(&mut w, 0), ["to bob"]);

    // The same msg_id to carol is another send: delivered, then answered.
    assert_eq!(
        say_raw(&mut w, alice, &peer_message(3, "carol", 1, "to carol")),
        [received(3)]
    );
    assert_eq!(texts_from_peers(&mut w, 1), ["to carol"]);
}

#[test]
fn regression_a_channel_message_reusing_a_peer_messages_id_reaches_the_channel() {
    let mut w = World::logged_in(&["bob"]);
    join(&mut w, 0, "room");
    let alice = raw_login(&mut w, "alice");
    say_raw(&mut w, alice, r#"{"type":"join","id":2,"channel":"room"}"#);
    assert_eq!(
        say_raw(&mut w, alice, &peer_message(3, "bob", 7, "private")),
        [received(3)]
    );
    w.take_events(0);

    let out = say_raw(
        &mut w,
        alice,
        r#"{"type":"channel_message","id":4,"channel":"room","msg_id":7,"message":{"kind":"text","text":"public"}}"#,
    );
    assert_eq!(out, [r#"{"type":"ok","id":4}"#]);
    let got: Vec<_> = w
        .take_events(0)
        .into_iter()
        .filter_map(|e| match e {
            Event::Channel {
                event: ChannelEvent::Message { message, .. },
                ..
            } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(got, [rtm_proto::Message::text("public")]);
}

#[test]
fn a_resend_with_the_same_content_is_answered_and_delivered_once() {
    let mut w = World::logged_in(&["bob"]);
    let alice = raw_login(&mut w, "alice");
    say_raw(&mut w, alice, &peer_message(2, "bob", 5, "once"));
    assert_eq!(
        say_raw(&mut w, alice, &peer_message(3, "bob", 5, "once")),
        [received(3)]
    );
    assert_eq!(texts_from_peers(&mut w, 0), ["once"]);
}

#[test]
fn a_msg_id_reused_for_other_content_to_the_same_peer_is_refused_with_failure() {
    let mut w = World::logged_in(&["bob"]);
    let alice = raw_login(&mut w, "alice");
    say_raw(&mut w, alice, &peer_message(2, "bob", 5, "first"));
    let out = say_raw(&mut w, alice, &peer_message(3, "bob", 5, "second"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with(r#"{"type":"error","id":3,"code":1,"#),
        "{out:?}"
    );
    assert_eq!(texts_from_peers(&mut w, 0), ["first"]);
}

#[test]
fn regression_a_repeat_of_a_pending_send_leaves_no_request_unanswered() {
    let mut w = World::new(0);
    // Bob is a raw client too: he acknowledges only when told to, so the send stays pending.
    let bob = raw_login(&mut w, "bob");
    let alice = raw_login(&mut w, "alice");
    assert_eq!(
        say_raw(&mut w, alice, &peer_message(2, "bob", 9, "hi")),
        [] as [String; 0]
    );
    assert_eq!(
        say_raw(&mut w, alice, &peer_message(3, "bob", 9, "hi")),
        [] as [String; 0]
    );
    let pushed = drain_raw(&mut w, bob);
    assert_eq!(pushed.len(), 1, "one delivery for two requests: {pushed:?}");

    say_raw(&mut w, bob, r#"{"type":"ack","seq":1}"#);
    assert_eq!(drain_raw(&mut w, alice), [received(2), received(3)]);
}
