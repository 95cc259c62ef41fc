//! Online-status stories (§4.4, liveness §2.4).

mod common;

use std::collections::BTreeMap;

use common::{LinkMode, World};
use rtm_proto::client::{Event, Response};
use rtm_proto::{
    PeerOnlineState as P, PeerSubscriptionStatusError, QueryPeersOnlineStatusError, UserId,
};

/// Alice and bob logged in, alice subscribed to bob and past the first snapshot.
fn alice_watching_bob() -> World {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.clients[0]
        .subscribe_peers_online_status(w.now, &["bob"])
        .unwrap();
    w.settle();
    changes(&mut w, 0);
    w
}

fn changes(w: &mut World, c: usize) -> Vec<Vec<(String, P)>> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::PeersOnlineStatusChanged(m) => {
                Some(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn query_reports_online_flags_in_input_order() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let req = w.clients[0]
        .query_peers_online_status(w.now, &["zed", "bob", "alice"])
        .unwrap();
    w.settle();
    let id = |s: &str| UserId::new(s).unwrap();
    assert_eq!(
        w.response(0, req),
        Some(Response::QueryPeersOnlineStatus(Ok(vec![
            (id("zed"), false),
            (id("bob"), true),
            (id("alice"), true)
        ])))
    );
}

#[test]
fn query_limits() {
    let mut w = World::logged_in(&["alice"]);
    let many: Vec<String> = (0..257).map(|i| format!("u{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        w.clients[0].query_peers_online_status(w.now, &many),
        Err(QueryPeersOnlineStatusError::InvalidArgument)
    );
    assert_eq!(
        w.clients[0].query_peers_online_status(w.now, &[]),
        Err(QueryPeersOnlineStatusError::InvalidArgument)
    );
    for _ in 0..10 {
        w.clients[0]
            .query_peers_online_status(w.now, &["bob"])
            .unwrap();
    }
    assert_eq!(
        w.clients[0].query_peers_online_status(w.now, &["bob"]),
        Err(QueryPeersOnlineStatusError::TooOften)
    );
}

#[test]
fn a_subscriber_sees_the_snapshot_then_online_unreachable_offline() {
    let mut w = World::new(2);
    w.login(0, "alice");
    let req = w.clients[0]
        .subscribe_peers_online_status(w.now, &["bob"])
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(0, req),
        Some(Response::SubscribePeersOnlineStatus(Ok(())))
    );
    assert_eq!(changes(&mut w, 0), vec![vec![("bob".into(), P::Offline)]]);

    w.login(1, "bob");
    assert_eq!(changes(&mut w, 0), vec![vec![("bob".into(), P::Online)]]);

    // Bob's network dies silently: UNREACHABLE after > 6 s, OFFLINE after > 30 s.
    w.set_mode(1, LinkMode::Blackhole);
    w.advance(6_000);
    assert_eq!(changes(&mut w, 0), Vec::<Vec<(String, P)>>::new());
    w.advance(2);
    assert_eq!(
        changes(&mut w, 0),
        vec![vec![("bob".into(), P::Unreachable)]]
    );
    // A query still reports him online (§7.3: queries never say UNREACHABLE).
    w.advance(23_990);
    assert_eq!(changes(&mut w, 0), Vec::<Vec<(String, P)>>::new());
    w.advance(10);
    assert_eq!(changes(&mut w, 0), vec![vec![("bob".into(), P::Offline)]]);
}

#[test]
fn logout_is_offline_at_once() {
    let mut w = alice_watching_bob();
    w.clients[1].logout(w.now).unwrap();
    w.settle();
    assert_eq!(changes(&mut w, 0), vec![vec![("bob".into(), P::Offline)]]);
}

#[test]
fn subscriptions_survive_a_reconnect_and_catch_up() {
    let mut w = World::new(3);
    w.login(0, "alice");
    w.login(1, "bob");
    w.clients[0]
        .subscribe_peers_online_status(w.now, &["bob", "carol"])
        .unwrap();
    w.settle();
    changes(&mut w, 0);
    // Alice goes away; meanwhile bob logs out and carol logs in.
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.clients[1].logout(w.now).unwrap();
    w.login(2, "carol");
    w.advance(1_000);
    assert_eq!(changes(&mut w, 0), Vec::<Vec<(String, P)>>::new());
    w.set_mode(0, LinkMode::Up);
    w.advance(10_000);
    let mut expect = BTreeMap::new();
    expect.insert("bob".to_string(), P::Offline);
    expect.insert("carol".to_string(), P::Online);
    let got: BTreeMap<String, P> = changes(&mut w, 0).into_iter().flatten().collect();
    assert_eq!(got, expect);
    assert_eq!(
        w.clients[0]
            .query_peers_by_subscription_option(w.now)
            .unwrap(),
        vec![UserId::new("bob").unwrap(), UserId::new("carol").unwrap()]
    );
}

#[test]
fn at_most_512_subscriptions() {
    let mut w = World::logged_in(&["alice"]);
    let ids: Vec<String> = (0..513).map(|i| format!("u{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(
        w.clients[0].subscribe_peers_online_status(w.now, &ids),
        Err(PeerSubscriptionStatusError::Overflow)
    );
    w.clients[0]
        .subscribe_peers_online_status(w.now, &ids[..512])
        .unwrap();
    w.settle();
    // Subscribing again to a subscribed peer is not an error.
    w.advance(10);
    assert!(w.clients[0]
        .subscribe_peers_online_status(w.now, &ids[..1])
        .is_ok());
    assert_eq!(
        w.clients[0].subscribe_peers_online_status(w.now, &ids[512..]),
        Err(PeerSubscriptionStatusError::Overflow)
    );
}

#[test]
fn unsubscribe_stops_the_events() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.clients[0]
        .subscribe_peers_online_status(w.now, &["bob"])
        .unwrap();
    w.settle();
    let req = w.clients[0]
        .unsubscribe_peers_online_status(w.now, &["bob"])
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(0, req),
        Some(Response::UnsubscribePeersOnlineStatus(Ok(())))
    );
    changes(&mut w, 0);
    w.login(1, "bob");
    assert_eq!(changes(&mut w, 0), Vec::<Vec<(String, P)>>::new());
    assert!(w.clients[0]
        .query_peers_by_subscription_option(w.now)
        .unwrap()
        .is_empty());
}

/// Found by the simulator (relaxation `unreachable_after_recovery`): after recovering from
/// UNREACHABLE, the next silence was only noticed at the old 30 s check.
#[test]
fn regression_unreachable_after_recovery_is_reported_again_after_6_s() {
    let mut w = alice_watching_bob();
    // Silent for 7 s (UNREACHABLE), then heard from again (ONLINE)…
    w.set_mode(1, LinkMode::Blackhole);
    w.advance(7_000);
    w.set_mode(1, LinkMode::Up);
    w.advance(10_000);
    assert_eq!(
        changes(&mut w, 0),
        vec![
            vec![("bob".into(), P::Unreachable)],
            vec![("bob".into(), P::Online)]
        ]
    );
    // …then silent again: UNREACHABLE after 6 s, not 30.
    w.set_mode(1, LinkMode::Blackhole);
    w.advance(6_500);
    assert_eq!(
        changes(&mut w, 0),
        vec![vec![("bob".into(), P::Unreachable)]]
    );
}

/// A logout from an UNREACHABLE session goes straight to OFFLINE (no ONLINE flash).
#[test]
fn regression_logout_while_unreachable_is_offline_without_an_online_flash() {
    let mut w = alice_watching_bob();
    let conn = {
        // A raw session for carol that goes silent, then logs out.
        let conn = w.raw_connect();
        let login = br#"{"type":"login","id":1,"version":1,"app_id":"00000000000000000000000000000000","uid":"carol"}"#;
        w.raw_frame(conn, login);
        conn
    };
    w.clients[0]
        .subscribe_peers_online_status(w.now, &["carol"])
        .unwrap();
    w.settle();
    changes(&mut w, 0);
    w.advance(7_000);
    w.raw_frame(conn, br#"{"type":"logout","id":2}"#);
    let seen: Vec<P> = changes(&mut w, 0)
        .into_iter()
        .flatten()
        .filter(|(p, _)| p == "carol")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(seen, vec![P::Unreachable, P::Offline]);
}

/// Found by the simulator (relaxation `subscription_divergence_after_timeout`): a subscribe
/// that timed out on the client could still be applied by the server, leaving the two
/// records of the subscription apart for good. The client now undoes a timed-out change.
#[test]
fn regression_a_timed_out_subscribe_is_undone_on_the_server() {
    let mut w = World::logged_in(&["alice"]);
    // The server hears alice; alice hears nothing back.
    w.set_mode(0, LinkMode::DropToClient);
    let req = w.clients[0]
        .subscribe_peers_online_status(w.now, &["bob"])
        .unwrap();
    w.settle();
    assert_eq!(w.server.stats().subscriptions, 1, "the server applied it");
    w.advance(10_000);
    assert_eq!(
        w.response(0, req),
        Some(Response::SubscribePeersOnlineStatus(Err(
            PeerSubscriptionStatusError::Timeout
        )))
    );
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(
        w.clients[0].connection_state(),
        rtm_proto::ConnectionState::Connected
    );
    assert!(w.clients[0]
        .query_peers_by_subscription_option(w.now)
        .unwrap()
        .is_empty());
    assert_eq!(w.server.stats().subscriptions, 0, "and then undid it");
}
