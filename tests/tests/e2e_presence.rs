//! Story: Alice subscribes to Bob's online status. She sees him OFFLINE, then ONLINE when he
//! logs in, UNREACHABLE when his client goes silent, and OFFLINE when the server gives up on
//! him (§2.4, §4.4). And when Bob logs out she sees OFFLINE at once, not 30 s later.

use std::time::Duration;

use rtm_proto::{PeerOnlineState, ServerConfig};
use rtm_tests::{fast_liveness, log_out, story, uid, within, RawWs, TestClient, TestServer};

use PeerOnlineState::{Offline, Online, Unreachable};

fn bob(state: PeerOnlineState) -> Vec<(String, PeerOnlineState)> {
    vec![("bob".to_string(), state)]
}

/// Alice, logged in and subscribed to `peers`' online status, and the snapshot of their
/// states that every subscription starts with.
async fn alice_watching(
    server: &TestServer,
    peers: &[&str],
) -> (TestClient, Vec<(String, PeerOnlineState)>) {
    let alice = server.logged_in("alice").await;
    alice
        .subscribe_peers_online_status(peers)
        .await
        .expect("subscribe");
    let snapshot = alice.next_presence().await;
    (alice, snapshot)
}

#[test]
fn a_silent_peer_goes_unreachable_then_offline() {
    // UNREACHABLE after 800 ms of silence, OFFLINE after 2 s (instead of 6 s and 30 s).
    story(
        fast_liveness(ServerConfig::default()),
        |server| async move {
            let (alice, snapshot) = alice_watching(&server, &["bob"]).await;
            assert_eq!(snapshot, bob(Offline), "the initial snapshot");
            assert_eq!(
                alice.query_peers_by_subscription_option().await,
                Ok(vec![uid("bob")])
            );

            // Bob logs in from a raw WebSocket that will never send anything again.
            let mut raw_bob = RawWs::connect(server.url()).await;
            raw_bob.login("bob").await;
            assert_eq!(alice.next_presence().await, bob(Online));
            assert_eq!(
                alice.query_peers_online_status(&["bob", "carol"]).await,
                Ok(vec![(uid("bob"), true), (uid("carol"), false)])
            );

            assert_eq!(alice.next_presence().await, bob(Unreachable));
            // Unreachable users still count as online for queries (§4.4).
            assert_eq!(
                alice.query_peers_online_status(&["bob"]).await,
                Ok(vec![(uid("bob"), true)])
            );

            assert_eq!(alice.next_presence().await, bob(Offline));
            assert_eq!(
                alice.query_peers_online_status(&["bob"]).await,
                Ok(vec![(uid("bob"), false)])
            );
            drop(raw_bob);
            alice.logout().await.expect("logout");
        },
    );
}

#[test]
fn logout_is_offline_at_once() {
    // Default liveness: a silent user would only be OFFLINE after 30 s.
    story(ServerConfig::default(), |server| async move {
        let (alice, snapshot) = alice_watching(&server, &["bob"]).await;
        assert_eq!(snapshot, bob(Offline));

        let bob_client = server.logged_in("bob").await;
        assert_eq!(alice.next_presence().await, bob(Online));

        bob_client.logout().await.expect("bob logs out");
        let change = within(
            Duration::from_secs(3),
            "OFFLINE after logout",
            alice.next_presence(),
        )
        .await;
        assert_eq!(change, bob(Offline));
        alice.logout().await.expect("logout");
    });
}

#[test]
fn unsubscribed_peers_are_not_reported() {
    story(ServerConfig::default(), |server| async move {
        let (alice, snapshot) = alice_watching(&server, &["bob", "carol"]).await;
        assert_eq!(
            snapshot,
            vec![("bob".to_string(), Offline), ("carol".to_string(), Offline)]
        );
        alice
            .unsubscribe_peers_online_status(&["bob"])
            .await
            .expect("unsubscribe");
        assert_eq!(
            alice.query_peers_by_subscription_option().await,
            Ok(vec![uid("carol")])
        );

        // Bob logs in first, then Carol: the first change Alice hears of is Carol's.
        let bob_client = server.logged_in("bob").await;
        let carol = server.logged_in("carol").await;
        assert_eq!(
            alice.next_presence().await,
            vec![("carol".to_string(), Online)]
        );
        log_out([&bob_client, &carol, &alice]).await;
    });
}
