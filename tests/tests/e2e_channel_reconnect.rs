//! Stories of channel members whose network drops (§2.6).
//!
//! Short outage: Carol's link drops for a moment. The server keeps her session, so she stays
//! a member — Alice and Bob see no MemberLeft, the count never moves — and when she is back
//! she gets the channel messages she missed, once, in order.
//!
//! Long outage: Carol is gone longer than the server's offline timer (shrunk here from 30 s
//! to 2 s), so the server ends her session and she leaves the room (others see MemberLeft).
//! When the network is back her client logs in again, rejoins the room by itself (others
//! see MemberJoined), gets the messages sent while she was away replayed, and pushes her
//! user attributes again.

use rtm_proto::ConnectionChangeReason::{Interrupted, LoginSuccess};
use rtm_proto::ConnectionState::{Connected, Reconnecting};
use rtm_proto::ServerConfig;
use rtm_tests::{attrs, chan, each_hears, fast_liveness, log_out, story, Proxy, Say, TestClient};
use rtm_transport_smol::RtmChannel;

/// Alice, Bob and Carol in "room", everyone's count settled at 3.
async fn three_in_a_room(
    alice: &TestClient,
    bob: &TestClient,
    carol: &TestClient,
) -> (RtmChannel, RtmChannel, RtmChannel) {
    let room_a = alice.joined("room").await;
    let room_b = bob.joined("room").await;
    let room_c = carol.joined("room").await;
    alice
        .expect_channel_events("room", &[chan::joined("bob"), chan::joined("carol")], 3)
        .await;
    bob.expect_channel_events("room", &[chan::joined("carol")], 3)
        .await;
    carol.expect_channel_events("room", &[], 3).await;
    (room_a, room_b, room_c)
}

#[test]
fn a_short_outage_keeps_the_member_and_delivers_what_it_missed() {
    story(ServerConfig::default(), |server| async move {
        let proxy = Proxy::start(server.addr());
        let [alice, bob] = server.users(["alice", "bob"]).await;
        let carol = proxy.logged_in("carol").await;
        let (room_a, room_b, room_c) = three_in_a_room(&alice, &bob, &carol).await;

        proxy.cut();
        carol.expect_state(Reconnecting, Interrupted).await;
        room_a.say("while you were away 1").await;
        room_a.say("while you were away 2").await;

        proxy.heal();
        carol.expect_state(Connected, LoginSuccess).await;
        let missed = [
            chan::text("alice", "while you were away 1"),
            chan::text("alice", "while you were away 2"),
        ];
        each_hears([&carol, &bob], "room", &missed, 3).await;

        // Carol never left: the next thing the others hear of her is her message (no
        // MemberLeft / MemberJoined, no count change in between).
        room_c.say("back").await;
        for member in [&alice, &bob] {
            assert_eq!(
                chan::untimed(&member.next_channel_event("room").await),
                chan::text("carol", "back")
            );
        }
        // And nothing came twice: Carol's next message is a fresh one.
        room_b.say("welcome back").await;
        assert_eq!(
            chan::untimed(&carol.next_channel_event("room").await),
            chan::text("bob", "welcome back")
        );

        log_out([&alice, &bob, &carol]).await;
    });
}

#[test]
fn after_a_long_outage_the_member_rejoins_by_itself_and_gets_the_replay() {
    // The server ends a silent session after 2 s instead of 30 s.
    story(
        fast_liveness(ServerConfig::default()),
        |server| async move {
            let proxy = Proxy::start(server.addr());
            let [alice, bob] = server.users(["alice", "bob"]).await;
            let carol = proxy.logged_in("carol").await;
            carol
                .set_local_user_attributes(attrs(&[("status", "in a meeting")]))
                .await
                .expect("set");
            let (room_a, _room_b, _room_c) = three_in_a_room(&alice, &bob, &carol).await;

            proxy.cut();
            carol.expect_state(Reconnecting, Interrupted).await;
            // The server gives up on Carol: she leaves the room.
            each_hears([&alice, &bob], "room", &[chan::left("carol")], 2).await;
            assert_eq!(
                alice.get_user_attributes("carol").await,
                Err(rtm_proto::errors::AttributeOperationError::UserNotFound)
            );
            room_a.say("she left").await;
            bob.expect_channel_events("room", &[chan::text("alice", "she left")], 2)
                .await;

            // The network is back: Carol's client logs in again and rejoins on its own.
            proxy.heal();
            carol.expect_state(Connected, LoginSuccess).await;
            each_hears([&alice, &bob], "room", &[chan::joined("carol")], 3).await;
            // The message sent while she was out of the room is replayed to her, once.
            carol
                .expect_channel_events("room", &[chan::text("alice", "she left")], 3)
                .await;
            room_a.say("hello again").await;
            carol
                .expect_channel_events("room", &[chan::text("alice", "hello again")], 3)
                .await;
            // Her user attributes were pushed again.
            assert_eq!(
                alice.get_user_attributes("carol").await,
                Ok(attrs(&[("status", "in a meeting")]))
            );

            log_out([&alice, &bob, &carol]).await;
        },
    );
}
