//! Story: Alice writes to Bob while he is offline. The message she marks for offline
//! messaging is kept ("cached") and delivered exactly once, flagged as an offline message,
//! when Bob next logs in; the one she did not mark is "unreachable" and never delivered
//! (§4.3.2, §4.3.4).

use rtm_proto::client::SendMessageOptions;
use rtm_proto::ConnectionChangeReason::Logout;
use rtm_proto::ConnectionState::Disconnected;
use rtm_proto::{Message, PeerMessageOutcome, ServerConfig};
use rtm_tests::{log_out, story, unix_ms};

const OFFLINE: SendMessageOptions = SendMessageOptions {
    enable_offline_messaging: true,
};

#[test]
fn offline_message_is_delivered_once_at_the_next_login() {
    story(ServerConfig::default(), |server| async move {
        let alice = server.logged_in("alice").await;

        let before = unix_ms();
        let kept = alice
            .send_message_to_peer("bob", Message::text("while you were away"), OFFLINE)
            .await;
        assert_eq!(kept, Ok(PeerMessageOutcome::Cached));
        let dropped = alice.tell("bob", "not kept").await;
        assert_eq!(dropped, Ok(PeerMessageOutcome::Unreachable));

        // Bob logs in: the kept message comes first, flagged offline, stamped when the
        // server received it (before Bob was there).
        let bob = server.logged_in("bob").await;
        let got = bob.next_message().await;
        assert_eq!(got.peer_id, "alice");
        assert_eq!(got.message, Message::text("while you were away"));
        assert!(got.is_offline_message);
        assert!(got.server_received_ts >= before.saturating_sub(1000));
        assert!(got.server_received_ts <= unix_ms() + 1000);

        // A live message now: it is the next thing Bob gets, so "not kept" was never stored
        // and the offline message did not come twice.
        let live = alice.tell("bob", "live").await;
        assert_eq!(live, Ok(PeerMessageOutcome::Received));
        let got = bob.next_message().await;
        assert_eq!(got.message, Message::text("live"));
        assert!(!got.is_offline_message);

        // Bob logs out and in again: nothing is redelivered. Offline messages are pushed
        // right after login, so a redelivery would come before this fresh message.
        bob.logout().await.expect("bob logs out");
        bob.expect_state(Disconnected, Logout).await;
        let bob = server.logged_in("bob").await;
        let fresh = alice
            .send_message_to_peer("bob", Message::text("fresh"), OFFLINE)
            .await;
        assert_eq!(fresh, Ok(PeerMessageOutcome::Received));
        let got = bob.next_message().await;
        assert_eq!(got.message, Message::text("fresh"));
        assert!(!got.is_offline_message);

        log_out([&alice, &bob]).await;
    });
}
