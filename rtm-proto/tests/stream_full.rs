//! Channel stories where a member's delivery stream fills up: the member lags in the
//! channel, and catches up on the recent history (the last 30 s, at most 32 messages) once
//! it acknowledges again, exactly once and in order.

mod common;

use common::{ch, join, say, uid, LinkMode, World};
use rtm_proto::client::Event;
use rtm_proto::server::{ConnId, ServerOutput};
use rtm_proto::wire::ServerFrame;
use rtm_proto::wire::{Push, Reply};
use rtm_proto::ChannelEvent;
use rtm_proto::{Message, ServerConfig};

/// A server whose streams hold 8 unacknowledged pushes.
/// The `cseq` of the first message of `channel` that `user` missed while its stream was
/// full, while its catch-up is still to come (`None`: not behind).
fn lag(w: &World, user: &str, channel: &str) -> Option<u64> {
    w.server.observe().channel_lag(&uid(user), &ch(channel))
}

fn small_streams(n: usize) -> World {
    let sc = ServerConfig {
        max_unacked: 8,
        ..Default::default()
    };
    World::with_config(n, sc, Default::default())
}

/// Channel messages client `c` delivered, as `channel/text`.
fn heard(w: &mut World, c: usize) -> Vec<String> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::Channel {
                channel,
                event:
                    ChannelEvent::Message {
                        message: Message::Text { text },
                        ..
                    },
            } => Some(format!("{channel}/{text}")),
            _ => None,
        })
        .collect()
}

fn texts(channel: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("{channel}/{i}")).collect()
}

/// alice (client 0) and bob (client 1), both in `channels`, bob then cut off (his session
/// stays, detached).
fn bob_away_from(channels: &[&str]) -> World {
    let mut w = small_streams(2);
    w.login(0, "alice");
    w.login(1, "bob");
    for c in channels {
        join(&mut w, 0, c);
        join(&mut w, 1, c);
    }
    w.advance(2_000);
    w.take_events(0);
    w.take_events(1);
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    w
}

#[test]
fn a_member_away_while_its_stream_fills_catches_up_on_the_last_32_once_and_in_order() {
    let mut w = bob_away_from(&["room"]);
    for i in 1..=50 {
        say(&mut w, 0, "room", &i.to_string());
        w.advance(100);
    }
    // The stream took 1..=8; 9 found it full.
    assert_eq!(lag(&w, "bob", "room"), Some(9));
    w.advance(2_000);
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    // 9..=18 fell out of the history (32 kept) before bob could take them.
    let mut want = texts("room", 1..=8);
    want.extend(texts("room", 19..=50));
    assert_eq!(heard(&mut w, 1), want);
    assert_eq!(lag(&w, "bob", "room"), None);

    say(&mut w, 0, "room", "51");
    w.advance(100);
    assert_eq!(heard(&mut w, 1), ["room/51"], "then new messages as usual");
    let alice: Vec<Event> = w.take_events(0);
    assert!(
        !alice.iter().any(|e| matches!(
            e,
            Event::Channel {
                event: ChannelEvent::MemberLeft { .. },
                ..
            }
        )),
        "bob never left: {alice:?}"
    );
}

#[test]
fn a_member_behind_in_two_channels_catches_up_on_each_in_its_order() {
    let mut w = bob_away_from(&["a", "b"]);
    for i in 1..=40 {
        say(&mut w, 0, "a", &i.to_string());
        say(&mut w, 0, "b", &i.to_string());
        w.advance(100);
    }
    // The stream took a/1, b/1, …, a/4, b/4.
    assert_eq!(lag(&w, "bob", "a"), Some(5));
    assert_eq!(lag(&w, "bob", "b"), Some(5));
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    let mut want = Vec::new();
    for i in 1..=4 {
        want.push(format!("a/{i}"));
        want.push(format!("b/{i}"));
    }
    // One channel's catch-up at a time, each from its history (the last 32: 9..=40).
    want.extend(texts("a", 9..=40));
    want.extend(texts("b", 9..=40));
    assert_eq!(heard(&mut w, 1), want);
    assert_eq!(lag(&w, "bob", "a"), None);
    assert_eq!(lag(&w, "bob", "b"), None);
}

// ----- a raw member that acknowledges only when told to -----------------------------------

fn raw(w: &mut World, conn: ConnId, json: &str) -> Vec<ServerFrame> {
    w.raw_frame(conn, json.as_bytes())
        .into_iter()
        .filter_map(|o| match o {
            ServerOutput::Send { frame, .. } => ServerFrame::decode(&frame).ok(),
            _ => None,
        })
        .collect()
}

/// rx acknowledges its stream up to `seq`; the channel messages that brings, as
/// [`channel_messages`] renders them.
fn ack(w: &mut World, rx: ConnId, seq: u64) -> Vec<String> {
    channel_messages(&acked(w, rx, seq))
}

/// rx acknowledges its stream up to `seq`; every frame that brings.
fn acked(w: &mut World, rx: ConnId, seq: u64) -> Vec<ServerFrame> {
    raw(w, rx, &format!(r#"{{"type":"ack","seq":{seq}}}"#))
}

/// rx (re)sends its join of `room`; the `cseq` its `joined` answer names.
fn rejoin(w: &mut World, rx: ConnId) -> Option<u64> {
    let answer = raw(w, rx, r#"{"type":"join","id":2,"channel":"room"}"#);
    match answer.first() {
        Some(ServerFrame::Reply(Reply::Joined { cseq, .. })) => Some(*cseq),
        _ => None,
    }
}

/// No channel message at all.
const NOTHING: [&str; 0] = [];

/// `(channel, text, from)` of the channel messages among `frames`.
fn channel_messages(frames: &[ServerFrame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Push(Push::ChannelMessage {
                channel,
                from,
                message: Message::Text { text },
                ..
            }) => Some(format!("{channel}/{text} from {from}")),
            _ => None,
        })
        .collect()
}

/// alice (client 0) and a raw `rx` that never acknowledges on its own, both in `room`.
/// rx's stream holds 8: its member count, alice joining, the new count, then alice's
/// messages 1..=5; 6..=12 are held back.
fn rx_lagging() -> (World, ConnId) {
    rx_lagging_with(1)
}

/// [`rx_lagging`] in a world of `n` clients (alice is client 0; the others logged in as
/// `u1`, `u2`…, not in the channel).
fn rx_lagging_with(n: usize) -> (World, ConnId) {
    let mut w = small_streams(n);
    for c in 1..n {
        w.login(c, &format!("u{c}"));
    }
    w.login(0, "alice");
    let rx = w.raw_connect();
    raw(
        &mut w,
        rx,
        r#"{"type":"login","id":1,"version":1,"app_id":"00000000000000000000000000000000","uid":"rx"}"#,
    );
    raw(&mut w, rx, r#"{"type":"join","id":2,"channel":"room"}"#);
    join(&mut w, 0, "room");
    w.advance(2_000);
    w.take_events(0);
    for i in 1..=12 {
        say(&mut w, 0, "room", &i.to_string());
    }
    (w, rx)
}

#[test]
fn a_lagging_member_is_caught_up_without_its_own_messages() {
    let (mut w, rx) = rx_lagging();
    assert_eq!(lag(&w, "rx", "room"), Some(6));
    // rx speaks while lagging: alice gets it at once; rx will not get it back.
    raw(
        &mut w,
        rx,
        r#"{"type":"channel_message","id":3,"channel":"room","msg_id":1,"message":{"kind":"text","text":"mine"}}"#,
    );
    assert_eq!(heard(&mut w, 0), ["room/mine"]);
    say(&mut w, 0, "room", "13");
    // Acknowledging the whole stream brings the catch-up: the missed ones, in order.
    let want: Vec<String> = (6..=13).map(|i| format!("room/{i} from alice")).collect();
    assert_eq!(ack(&mut w, rx, 8), want);
    assert_eq!(lag(&w, "rx", "room"), None);
    // Once rx has taken those (positions 9..=16), the next one goes out at once, and
    // nothing comes twice.
    ack(&mut w, rx, 16);
    say(&mut w, 0, "room", "14");
    assert_eq!(lag(&w, "rx", "room"), None);
    assert_eq!(ack(&mut w, rx, 17), NOTHING);
}

#[test]
fn a_lagging_member_is_caught_up_only_once_its_stream_is_half_empty() {
    let (mut w, rx) = rx_lagging();
    // 8 pushes unacknowledged: acknowledging 3 leaves 5, more than half of 8.
    assert_eq!(ack(&mut w, rx, 3), NOTHING);
    assert!(lag(&w, "rx", "room").is_some());
    assert!(!ack(&mut w, rx, 4).is_empty());
    assert_eq!(lag(&w, "rx", "room"), None);
}

#[test]
fn leaving_while_lagging_forgets_the_catch_up() {
    let (mut w, rx) = rx_lagging();
    assert_eq!(lag(&w, "rx", "room"), Some(6));
    raw(&mut w, rx, r#"{"type":"leave","id":3,"channel":"room"}"#);
    assert_eq!(lag(&w, "rx", "room"), None);
    assert_eq!(ack(&mut w, rx, 8), NOTHING);
}

#[test]
fn a_catch_up_skips_what_is_older_than_30_s() {
    let (mut w, rx) = rx_lagging();
    // rx stays connected and alive, but acknowledges nothing for 32 s (its first frame
    // after 30 s is the ack: a ping then would close it as a slow consumer, see
    // hostile.rs).
    for _ in 0..3 {
        w.advance(8_000);
        raw(&mut w, rx, r#"{"type":"ping"}"#);
    }
    w.advance(8_000);
    say(&mut w, 0, "room", "13");
    assert_eq!(lag(&w, "rx", "room"), Some(6));
    assert_eq!(ack(&mut w, rx, 8), ["room/13 from alice"]);
    assert_eq!(lag(&w, "rx", "room"), None);
}

#[test]
fn a_rejoin_with_a_cursor_replays_what_a_lagging_member_missed_even_into_a_full_stream() {
    let (mut w, rx) = rx_lagging();
    // The join is a resend carrying the cursor of what rx delivered so far: the replay
    // after `joined` covers the lag, and is pushed although the stream is full.
    let joined = raw(&mut w, rx, r#"{"type":"join","id":5,"channel":"room"}"#);
    let Some(ServerFrame::Reply(Reply::Joined { epoch, .. })) = joined.first() else {
        panic!("{joined:?}");
    };
    let epoch = *epoch;
    let frames = raw(
        &mut w,
        rx,
        &format!(
            r#"{{"type":"join","id":6,"channel":"room","resume":{{"epoch":{epoch},"cseq":10}}}}"#
        ),
    );
    assert_eq!(lag(&w, "rx", "room"), None);
    assert_eq!(
        channel_messages(&frames),
        ["room/11 from alice", "room/12 from alice"]
    );
    // Nothing is sent twice once rx acknowledges.
    assert_eq!(ack(&mut w, rx, 12), NOTHING);
}

#[test]
fn a_member_that_missed_count_pushes_is_told_the_current_count_after_its_catch_up() {
    let (mut w, rx) = rx_lagging_with(3);
    // Two more join while rx's stream is full: their events and counts do not reach it.
    u1_then_u2_join(&mut w, 1_000);
    w.advance(1_000);
    let frames = acked(&mut w, rx, 8);
    assert_eq!(channel_messages(&frames).len(), 7, "{frames:?}");
    assert_eq!(
        counts(&frames),
        Vec::<u32>::new(),
        "7 unacknowledged: more than half full"
    );
    // Once rx has taken the catch-up, the current count, once.
    let frames = acked(&mut w, rx, 15);
    assert_eq!(counts(&frames), [4]);
    assert_eq!(
        frames.len(),
        1,
        "member events are not caught up: {frames:?}"
    );
    let frames = acked(&mut w, rx, 16);
    assert!(frames.is_empty(), "{frames:?}");
}

/// u1 (client 1) joins `room`, then u2 (client 2) `gap_ms` later.
fn u1_then_u2_join(w: &mut World, gap_ms: u64) {
    join(w, 1, "room");
    w.advance(gap_ms);
    join(w, 2, "room");
}

fn counts(frames: &[ServerFrame]) -> Vec<u32> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Push(Push::MemberCount { count, .. }) => Some(*count),
            _ => None,
        })
        .collect()
}

/// Frames the server sent `rx` outside its own requests (pushes made in others' steps).
fn pushed_to(w: &mut World, rx: ConnId) -> Vec<ServerFrame> {
    let (mine, others) = std::mem::take(&mut w.raw_sent)
        .into_iter()
        .partition(|(c, _)| *c == rx);
    w.raw_sent = others;
    mine.into_iter()
        .filter_map(|(_, f)| ServerFrame::decode(&f).ok())
        .collect()
}

/// Found by the simulator (seed 139): a member told the current count by its catch-up kept
/// it when the count went back to the one last pushed to all before the next push.
#[test]
fn regression_a_count_told_by_a_catch_up_is_corrected_when_it_goes_back() {
    let (mut w, rx) = rx_lagging_with(3);
    // u1 joins: 3 pushed to all at once, but not to rx, whose stream is full. 200 ms later
    // u2 joins: 4, told u2 alone; the push to all waits for the 1 s throttle.
    u1_then_u2_join(&mut w, 200);
    ack(&mut w, rx, 8); // the catch-up of 6..=12
    let frames = acked(&mut w, rx, 15);
    assert_eq!(counts(&frames), [4], "the current count");
    pushed_to(&mut w, rx);
    // u2 leaves before the throttled push: back to 3, the count last pushed to all. rx,
    // told 4, must hear it.
    w.clients[2].leave(w.now, &ch("room")).unwrap();
    w.advance(1_000);
    assert_eq!(counts(&pushed_to(&mut w, rx)), [3]);
}

/// Found by the simulator (seed 364): a join whose answer was lost is resent; the member
/// fell behind in between. Answered with the latest cseq, its client would start its cursor
/// there and drop the catch-up — and, without a lag, the messages still waiting behind the
/// send window. A resent join names the last message before the membership began.
#[test]
fn regression_a_resent_join_names_the_last_message_before_the_membership_began() {
    let (mut w, rx) = rx_lagging(); // joined an empty room; 12 messages since, 6.. held back
    assert_eq!(rejoin(&mut w, rx), Some(0));
    // Caught up, still the same answer: the membership began at 0.
    ack(&mut w, rx, 9);
    assert_eq!(lag(&w, "rx", "room"), None);
    assert_eq!(rejoin(&mut w, rx), Some(0));
}
