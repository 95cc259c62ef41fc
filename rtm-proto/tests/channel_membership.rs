//! Membership stories: a join, leave or automatic rejoin that gets no answer must not leave
//! the server and the client disagreeing on who is in a channel (§2.6, §4.8).

mod common;

use common::{ch, join, story, LinkMode, World};
use rtm_proto::client::Response;
use rtm_proto::{JoinChannelError, LeaveChannelError, Message, UserId};

/// The members of `channel` as client `c` (a member) hears them from the server.
fn members(w: &mut World, c: usize, channel: &str) -> Vec<String> {
    w.advance(2_100); // getMembers: 5 per 2 s
    let req = w.clients[c].get_members(w.now, &ch(channel)).unwrap();
    w.settle();
    match w.response(c, req) {
        Some(Response::GetMembers(Ok(list))) => {
            let mut v: Vec<String> = list.iter().map(UserId::to_string).collect();
            v.sort();
            v
        }
        other => panic!("getMembers: {other:?}"),
    }
}

/// Membership and messages client `c` heard (member counts left out), as short strings.
fn heard(w: &mut World, c: usize) -> Vec<String> {
    let mut heard = w.story(c, story::channel);
    heard.retain(|s| !s.starts_with("count "));
    heard
}

fn pair_in_room() -> World {
    let mut w = World::logged_in(&["alice", "bob"]);
    join(&mut w, 0, "room");
    join(&mut w, 1, "room");
    w.advance(1_000);
    w.take_events(0);
    w.take_events(1);
    w
}

/// Found by the simulator (`channel_leave_lost_after_timeout`, seed 1014): a leave lost
/// with the link timed out, and nothing ever told the server; bob stayed a member (alice
/// saw him, counts included him) while his client believed he had left.
#[test]
fn regression_a_leave_that_timed_out_is_carried_out_once_the_link_is_back() {
    let mut w = pair_in_room();
    w.set_mode(1, LinkMode::Blackhole);
    let req = w.clients[1].leave(w.now, &ch("room")).unwrap();
    w.advance(11_000);
    assert_eq!(
        w.response(1, req),
        Some(Response::Leave(Err(LeaveChannelError::Failure)))
    );
    assert_eq!(members(&mut w, 0, "room"), ["alice", "bob"], "still away");
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    assert_eq!(heard(&mut w, 0), ["-bob"]);
    assert_eq!(members(&mut w, 0, "room"), ["alice"]);
    assert!(w.clients[1].joined_channels().is_empty());
    assert_eq!(
        heard(&mut w, 1),
        Vec::<String>::new(),
        "bob hears nothing of it"
    );
}

/// A join whose answer never came is undone on the server, also when the undoing leave
/// times out in turn (the link stayed down): the channel is corrected once a link is up.
#[test]
fn regression_a_join_that_timed_out_is_undone_even_if_the_undo_times_out() {
    let mut w = pair_in_room();
    w.set_mode(1, LinkMode::DropToClient); // the join reaches the server, its answer does not
    let req = w.clients[1].join(w.now, &ch("lobby")).unwrap();
    w.settle();
    w.set_mode(1, LinkMode::Blackhole); // then the link dies for 19 s
    w.advance(19_000);
    assert_eq!(
        w.response(1, req),
        Some(Response::Join(Err(JoinChannelError::Timeout)))
    );
    join(&mut w, 0, "lobby");
    assert_eq!(
        members(&mut w, 0, "lobby"),
        ["alice", "bob"],
        "not undone yet"
    );
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    assert_eq!(members(&mut w, 0, "lobby"), ["alice"]);
    assert_eq!(w.clients[1].joined_channels(), [ch("room")]);
}

/// Found by the simulator (`rejoin_lost_after_timeout`, seed 200535): the automatic rejoin
/// after a session loss timed out unanswered (the link died under it and stayed down for
/// more than 5 s); the next link resumed the new session and nobody rejoined: bob believed
/// he was in the room, the server had him nowhere, and he missed every message.
#[test]
fn regression_an_automatic_rejoin_that_timed_out_is_sent_again() {
    let mut w = pair_in_room();
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    w.advance(31_000); // the server ends bob's session
    assert_eq!(heard(&mut w, 0), ["-bob"]);
    w.die_before = Some((1, r#""type":"join""#));
    w.set_mode(1, LinkMode::Up);
    w.advance(4_000); // bob logs in afresh; his rejoin dies with the link
    w.advance(8_000); // the rejoin times out; the link comes back (the session resumes)
    w.set_mode(1, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(heard(&mut w, 0), ["+bob"]);
    assert_eq!(members(&mut w, 0, "room"), ["alice", "bob"]);
    let say = w.clients[0]
        .send_channel_message(w.now, &ch("room"), Message::text("hi bob"))
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(0, say),
        Some(Response::SendChannelMessage(Ok(())))
    );
    assert_eq!(heard(&mut w, 1), ["alice: hi bob"]);
}

/// Found by the simulator (seed 67 with both relaxations off): join, leave and join again
/// while the link was down; the first join timed out and took the second join's record
/// with it, so the application was told the second join succeeded while its client no
/// longer had the channel.
#[test]
fn regression_a_timed_out_join_does_not_forget_a_newer_join() {
    let mut w = pair_in_room();
    w.set_mode(1, LinkMode::Refuse);
    w.reset_link(1);
    let first = w.clients[1].join(w.now, &ch("lobby")).unwrap();
    w.advance(100);
    w.clients[1].leave(w.now, &ch("lobby")).unwrap();
    w.advance(4_800);
    let second = w.clients[1].join(w.now, &ch("lobby")).unwrap();
    w.advance(200); // the first join times out; the second is still waiting
    assert_eq!(
        w.response(1, first),
        Some(Response::Join(Err(JoinChannelError::Timeout)))
    );
    w.set_mode(1, LinkMode::Up);
    w.advance(5_000);
    assert_eq!(w.response(1, second), Some(Response::Join(Ok(()))));
    assert!(w.clients[1].joined_channels().contains(&ch("lobby")));
    join(&mut w, 0, "lobby");
    assert_eq!(members(&mut w, 0, "lobby"), ["alice", "bob"]);
}

/// Found by the simulator (seed 745): on a slow link, leave (X) then join again (N); N timed
/// out and marked the channel, then X's late answer settled it — but the server had handled
/// N after X, so it held bob as a member while his client believed he was out.
#[test]
fn regression_an_older_answer_does_not_settle_a_newer_timed_out_join() {
    let cc = rtm_proto::client::ClientConfig {
        link_timeout: core::time::Duration::from_secs(30), // slow, not dead
        ..Default::default()
    };
    let mut w = World::with_config(2, Default::default(), cc);
    w.login(0, "alice");
    w.login(1, "bob");
    join(&mut w, 0, "room");
    join(&mut w, 1, "room");
    w.advance(1_000);
    w.set_mode(1, LinkMode::Stalled);
    let x = w.clients[1].leave(w.now, &ch("room")).unwrap();
    w.advance(1_000);
    let n = w.clients[1].join(w.now, &ch("room")).unwrap();
    w.advance(5_500); // N times out; X does not (10 s)
    assert_eq!(
        w.response(1, n),
        Some(Response::Join(Err(JoinChannelError::Timeout)))
    );
    w.set_mode(1, LinkMode::Up); // X's answer, N's late answer
    assert_eq!(w.response(1, x), Some(Response::Leave(Ok(()))));
    w.advance(5_000);
    assert!(w.clients[1].joined_channels().is_empty());
    assert_eq!(members(&mut w, 0, "room"), ["alice"]);
}
