//! Story: Bob's network drops for a while. His client notices, goes RECONNECTING after the
//! interruption threshold (§2.3), keeps what he sends meanwhile, and when the network is back
//! it resumes the same session (CONNECTED / LOGIN_SUCCESS, §2.6): the message Alice sent
//! during the outage arrives exactly once, and Bob's held message is delivered too (§4.3).

use rtm_proto::ConnectionChangeReason::{Interrupted, LoginSuccess};
use rtm_proto::ConnectionState::{Connected, Reconnecting};
use rtm_proto::{Message, PeerMessageOutcome, ServerConfig};
use rtm_tests::{log_out, story, within, Proxy, WAIT};

#[test]
fn a_network_outage_is_survived_without_loss_or_duplicates() {
    story(ServerConfig::default(), |server| async move {
        let proxy = Proxy::start(server.addr());
        let alice = server.logged_in("alice").await;
        let bob = proxy.logged_in("bob").await;

        // The network goes away: after 300 ms without a link Bob is RECONNECTING.
        proxy.cut();
        bob.expect_state(Reconnecting, Interrupted).await;

        // Alice writes meanwhile: the server holds it for Bob's session.
        let outcome = alice.tell("bob", "during the outage").await;
        assert!(
            matches!(
                outcome,
                Ok(PeerMessageOutcome::Cached | PeerMessageOutcome::Received)
            ),
            "{outcome:?}"
        );

        // Bob writes too: his client holds the message until the link is back.
        let held = bob.tell("alice", "held");

        // The network comes back.
        proxy.heal();
        let (held, ()) = futures_lite::future::zip(
            within(WAIT, "bob's held message to resolve", held),
            bob.expect_state(Connected, LoginSuccess),
        )
        .await;
        assert_eq!(held, Ok(PeerMessageOutcome::Received));
        assert_eq!(alice.next_message().await.message, Message::text("held"));

        let got = bob.next_message().await;
        assert_eq!(got.message, Message::text("during the outage"));
        assert_eq!(got.peer_id, "alice");

        // Nothing came twice: the next thing Bob gets is a fresh message.
        let outcome = alice.tell("bob", "after").await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        assert_eq!(bob.next_message().await.message, Message::text("after"));

        log_out([&bob, &alice]).await;
    });
}
