//! Story: Bob's network drops for a while. His client notices, goes RECONNECTING after the
//! interruption threshold (§2.3), keeps what he sends meanwhile, and when the network is back
//! it resumes the same session (CONNECTED / LOGIN_SUCCESS, §2.6): the message Alice sent
//! during the outage arrives exactly once, and Bob's held message is delivered too (§4.3).

use std::time::Duration;

use rtm_proto::{
    ClientConfig, ConnectionChangeReason, ConnectionState, Message, PeerMessageOutcome,
    ServerConfig,
};
use rtm_tests::{run, test_client_config, within, Proxy, TestServer, WAIT};

#[test]
fn a_network_outage_is_survived_without_loss_or_duplicates() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Proxy::start(server.addr());
    run(async {
        let alice = server.logged_in("alice").await;
        let bob = rtm_tests::TestClient::new(
            rtm_transport_smol::RtmClient::new(
                &proxy.url(),
                ClientConfig {
                    interruption_threshold: Duration::from_millis(300),
                    ..test_client_config()
                },
            )
            .expect("client"),
        );
        bob.login("bob", None).await.expect("bob logs in");

        // The network goes away: after 300 ms without a link Bob is RECONNECTING.
        proxy.cut();
        bob.expect_state(
            ConnectionState::Reconnecting,
            ConnectionChangeReason::Interrupted,
        )
        .await;

        // Alice writes meanwhile: the server holds it for Bob's session.
        let outcome = alice
            .send_message_to_peer(
                "bob",
                Message::text("during the outage"),
                Default::default(),
            )
            .await;
        assert!(
            matches!(
                outcome,
                Ok(PeerMessageOutcome::Cached | PeerMessageOutcome::Received)
            ),
            "{outcome:?}"
        );

        // Bob writes too: his client holds the message until the link is back.
        let held = bob.send_message_to_peer("alice", Message::text("held"), Default::default());

        // The network comes back.
        proxy.heal();
        let (held, ()) = futures_lite::future::zip(
            within(WAIT, "bob's held message to resolve", held),
            bob.expect_state(
                ConnectionState::Connected,
                ConnectionChangeReason::LoginSuccess,
            ),
        )
        .await;
        assert_eq!(held, Ok(PeerMessageOutcome::Received));
        assert_eq!(alice.next_message().await.message, Message::text("held"));

        let got = bob.next_message().await;
        assert_eq!(got.message, Message::text("during the outage"));
        assert_eq!(got.peer_id, "alice");

        // Nothing came twice: the next thing Bob gets is a fresh message.
        let outcome = alice
            .send_message_to_peer("bob", Message::text("after"), Default::default())
            .await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        assert_eq!(bob.next_message().await.message, Message::text("after"));

        bob.logout().await.expect("logout");
        alice.logout().await.expect("logout");
    });
    drop(proxy);
    server.stop();
}
