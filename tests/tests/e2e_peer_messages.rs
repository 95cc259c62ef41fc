//! Story: two users exchange peer messages both ways over real loopback WebSockets; each
//! send resolves with "the peer received it", and each receiver sees who sent it and when
//! the server received it (§4.3).

use rtm_proto::client::SendMessageOptions;
use rtm_proto::{Message, PeerMessageError, PeerMessageOutcome, ServerConfig};
use rtm_tests::{log_out, story, unix_ms};

#[test]
fn two_users_exchange_peer_messages_both_ways() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;

        // Alice writes to Bob: Bob's client acknowledged it, so Alice hears "received".
        let before = unix_ms();
        let outcome = alice
            .send_message_to_peer(
                "bob",
                Message::text("hello bob"),
                SendMessageOptions::default(),
            )
            .await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        let after = unix_ms();
        let got = bob.next_message().await;
        assert_eq!(got.peer_id, "alice");
        assert_eq!(got.message, Message::text("hello bob"));
        assert!(!got.is_offline_message);
        assert!(
            (before.saturating_sub(1000)..=after + 1000).contains(&got.server_received_ts),
            "serverReceivedTs {} not within [{before}, {after}]",
            got.server_received_ts
        );

        // Bob answers with a raw message.
        let outcome = bob
            .send_message_to_peer(
                "alice",
                Message::raw(vec![0, 1, 2, 255], "bytes"),
                SendMessageOptions::default(),
            )
            .await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        let got = alice.next_message().await;
        // The first message Alice receives is Bob's: her own never comes back to her.
        assert_eq!(got.peer_id, "bob");
        assert_eq!(got.message, Message::raw(vec![0, 1, 2, 255], "bytes"));
        assert!(got.server_received_ts >= before.saturating_sub(1000));

        // Several messages arrive in the order they were sent.
        for i in 0..5 {
            let outcome = alice.tell("bob", &format!("m{i}")).await;
            assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        }
        for i in 0..5 {
            assert_eq!(
                bob.next_message().await.message,
                Message::text(format!("m{i}"))
            );
        }

        // A user who never logged in: unreachable (not an error, §4.3.2).
        let outcome = alice.tell("carol", "anyone?").await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Unreachable));

        // Refused locally, without the server: to oneself, to an invalid id, empty.
        let to_self = alice.tell("alice", "me").await;
        assert_eq!(to_self, Err(PeerMessageError::InvalidUserId));
        let bad_id = alice.tell("no/slash", "x").await;
        assert_eq!(bad_id.map_err(|e| e.code()), Err(6));
        let empty = alice.tell("bob", "").await;
        assert_eq!(empty, Err(PeerMessageError::InvalidMessage));

        log_out([&alice, &bob]).await;
        // Logged out: sending needs a login again (102).
        let after_logout = alice.tell("bob", "late").await;
        assert_eq!(after_logout, Err(PeerMessageError::NotLoggedIn));
    });
}
