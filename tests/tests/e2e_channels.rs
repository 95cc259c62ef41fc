//! Story: Alice, Bob and Carol meet in a room (§4.7, §4.8, §5.2). Each sees the others join
//! and the member count follow; a message reaches every other member with the time the server
//! received it, never its sender; leaving and logging out are seen at once. Member counts can
//! be asked for without joining (0 for a channel nobody is in), and misuse fails with the
//! documented codes without bothering the server.

use rtm_proto::errors::{
    ChannelMessageError, CreateChannelError, GetChannelMemberCountError, GetMembersError,
    JoinChannelError, LeaveChannelError,
};
use rtm_proto::{Message, ServerConfig};
use rtm_tests::{chan, cid, each_hears, log_out, story, uid, unix_ms, ChannelEvent, Say};

fn sorted(mut v: Vec<rtm_proto::UserId>) -> Vec<rtm_proto::UserId> {
    v.sort();
    v
}

#[test]
fn three_members_join_chat_and_leave() {
    story(ServerConfig::default(), |server| async move {
        // Dave never joins.
        let [alice, bob, carol, dave] = server.users(["alice", "bob", "carol", "dave"]).await;

        // Alice is first: she is told the count (1) on joining.
        let room_a = alice.joined("room").await;
        assert_eq!(room_a.channel_id().as_str(), "room");
        alice.expect_channel_events("room", &[], 1).await;
        assert_eq!(room_a.get_members().await, Ok(vec![uid("alice")]));
        assert_eq!(alice.joined_channels(), vec![cid("room")]);

        // Bob joins: Alice sees him; both end up with the count 2.
        let room_b = bob.joined("room").await;
        bob.expect_channel_events("room", &[], 2).await;
        alice
            .expect_channel_events("room", &[chan::joined("bob")], 2)
            .await;

        // Carol joins: both others see her; everyone ends up with 3.
        let room_c = carol.joined("room").await;
        carol.expect_channel_events("room", &[], 3).await;
        each_hears([&alice, &bob], "room", &[chan::joined("carol")], 3).await;
        let everyone = vec![uid("alice"), uid("bob"), uid("carol")];
        for room in [&room_a, &room_b, &room_c] {
            let members = room.get_members().await.expect("members");
            assert_eq!(sorted(members), everyone);
        }

        // Dave counts without joining: 3 in the room, 0 in a channel that does not exist.
        assert_eq!(
            dave.get_channel_member_count(&["room", "nowhere"]).await,
            Ok(vec![(cid("room"), 3), (cid("nowhere"), 0)])
        );

        // Alice writes: Bob and Carol get it with the server's timestamp.
        let before = unix_ms();
        room_a.say("hi all").await;
        let after = unix_ms();
        for member in [&bob, &carol] {
            let ts = member
                .expect_channel_events("room", &[chan::text("alice", "hi all")], 3)
                .await;
            assert!(
                (before.saturating_sub(1000)..=after + 1000).contains(&ts[0]),
                "serverReceivedTs {} not within [{before}, {after}]",
                ts[0]
            );
        }

        // Bob answers with raw bytes: the first message Alice gets is his, not her own.
        let raw = Message::raw(vec![1, 2, 3], "bytes");
        room_b.send_message(raw.clone()).await.expect("accepted");
        let from_bob = ChannelEvent::Message {
            member_id: uid("bob"),
            message: raw,
            server_received_ts: 0,
        };
        each_hears([&alice, &carol], "room", &[from_bob], 3).await;

        // Carol leaves: the others see her go, and the count drops to 2.
        room_c.leave().await.expect("carol leaves");
        assert!(carol.joined_channels().is_empty());
        each_hears([&alice, &bob], "room", &[chan::left("carol")], 2).await;

        // Bob logs out without leaving: he leaves the channel at once, not 30 s later.
        bob.logout().await.expect("bob logs out");
        alice
            .expect_channel_events("room", &[chan::left("bob")], 1)
            .await;
        assert_eq!(room_a.get_members().await, Ok(vec![uid("alice")]));
        assert_eq!(
            carol.get_channel_member_count(&["room"]).await,
            Ok(vec![(cid("room"), 1)])
        );

        room_a.leave().await.expect("alice leaves");
        log_out([&alice, &carol, &dave]).await;
    });
}

#[test]
fn channel_misuse_fails_with_the_documented_codes() {
    story(ServerConfig::default(), |server| async move {
        // Before login: a channel handle can be made, but not joined.
        let early = server.client();
        let lobby = early.create_channel("lobby").expect("works before login");
        assert_eq!(lobby.join().await, Err(JoinChannelError::NotLoggedIn));
        assert_eq!(
            early.get_channel_member_count(&["lobby"]).await,
            Err(GetChannelMemberCountError::NotLoggedIn)
        );

        let alice = server.logged_in("alice").await;
        for bad in ["", "null", "no/slash", &"x".repeat(65)] {
            assert_eq!(
                alice.create_channel(bad).map(|_| ()),
                Err(CreateChannelError::InvalidArgument),
                "{bad:?}"
            );
        }

        // Not joined yet.
        let room = alice.create_channel("room").expect("valid");
        assert_eq!(
            room.send_message(Message::text("x")).await,
            Err(ChannelMessageError::NotInChannel)
        );
        assert_eq!(room.get_members().await, Err(GetMembersError::NotInChannel));
        assert_eq!(room.leave().await, Err(LeaveChannelError::NotInChannel));

        room.join().await.expect("join");
        assert_eq!(room.join().await, Err(JoinChannelError::AlreadyJoined));
        assert_eq!(
            room.send_message(Message::text("")).await,
            Err(ChannelMessageError::InvalidMessage)
        );
        assert_eq!(
            room.send_message(Message::text("x".repeat(32 * 1024 + 1)))
                .await,
            Err(ChannelMessageError::InvalidMessage)
        );

        // Member counts: at least one and at most 32 valid ids.
        assert_eq!(
            alice.get_channel_member_count(&[]).await,
            Err(GetChannelMemberCountError::InvalidArgument)
        );
        assert_eq!(
            alice.get_channel_member_count(&["ok", "no/slash"]).await,
            Err(GetChannelMemberCountError::InvalidArgument)
        );
        let many: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            alice.get_channel_member_count(&many).await,
            Err(GetChannelMemberCountError::ExceedLimit)
        );

        // At most 20 joined channels (§4.8).
        for i in 1..20 {
            alice.joined(&format!("c{i}")).await; // within the limit
        }
        assert_eq!(alice.joined_channels().len(), 20);
        let one_too_many = alice.create_channel("c20").expect("valid");
        assert_eq!(
            one_too_many.join().await,
            Err(JoinChannelError::ExceedLimit)
        );

        alice.logout().await.expect("logout");
        // Logged out: the channels are gone with the session.
        assert!(alice.joined_channels().is_empty());
        assert_eq!(
            room.send_message(Message::text("late")).await,
            Err(ChannelMessageError::NotLoggedIn)
        );
    });
}

#[test]
fn a_member_whose_client_is_dropped_leaves_at_once() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;
        let _room_a = alice.joined("room").await;
        let room_b = bob.joined("room").await;
        alice
            .expect_channel_events("room", &[chan::joined("bob")], 2)
            .await;

        // Bob's application lets go of its client (and channel) without logging out: the
        // client logs out by itself, so Alice sees him leave now, not after 30 s of silence.
        drop(room_b);
        drop(bob);
        alice
            .expect_channel_events("room", &[chan::left("bob")], 1)
            .await;
        alice.logout().await.expect("logout");
    });
}
