//! Reconnection stories (§2.3, §2.5, §2.6, §2.7).

mod common;

use common::{LinkMode, World};
use rtm_proto::client::{ConnectionChangeReason as R, ConnectionState as S, Event};
use rtm_proto::LoginError;

fn states(w: &mut World, c: usize) -> Vec<(S, R)> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::ConnectionStateChanged { state, reason } => Some((state, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_short_break_is_invisible() {
    let mut w = World::new(1);
    w.login(0, "alice");
    w.reset_link(0);
    w.advance(3_000);
    assert_eq!(states(&mut w, 0), vec![]);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
    assert_eq!(w.server.stats().sessions, 1);
}

#[test]
fn a_break_longer_than_4_s_is_reconnecting_then_connected() {
    let mut w = World::new(1);
    w.login(0, "alice");
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.advance(4_000);
    assert_eq!(states(&mut w, 0), vec![]);
    w.advance(1);
    assert_eq!(states(&mut w, 0), vec![(S::Reconnecting, R::Interrupted)]);
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(states(&mut w, 0), vec![(S::Connected, R::LoginSuccess)]);
}

#[test]
fn a_silent_link_is_noticed_by_heartbeats() {
    let mut w = World::new(1);
    w.login(0, "alice");
    w.set_mode(0, LinkMode::Blackhole);
    w.advance(20_000);
    assert_eq!(states(&mut w, 0), vec![(S::Reconnecting, R::Interrupted)]);
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(states(&mut w, 0), vec![(S::Connected, R::LoginSuccess)]);
}

#[test]
fn reconnection_retries_forever() {
    let mut w = World::new(1);
    w.login(0, "alice");
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.advance(10 * 60_000);
    assert_eq!(w.clients[0].connection_state(), S::Reconnecting);
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
}

#[test]
fn a_second_login_of_the_same_user_aborts_the_first_with_remote_login() {
    let mut w = World::new(2);
    w.login(0, "alice");
    w.login(1, "alice");
    assert_eq!(states(&mut w, 0), vec![(S::Aborted, R::RemoteLogin)]);
    assert_eq!(w.clients[1].connection_state(), S::Connected);
    // ABORTED needs a logout before a new login.
    assert_eq!(
        w.clients[0].login(w.now, "alice", None),
        Err(LoginError::AlreadyLogin)
    );
    w.clients[0].logout(w.now).unwrap();
    w.settle();
    assert_eq!(states(&mut w, 0), vec![(S::Disconnected, R::Logout)]);
    // The kicked client stays down: nobody fights over the session.
    w.advance(60_000);
    assert_eq!(w.clients[1].connection_state(), S::Connected);
}

#[test]
fn a_kicked_client_that_missed_the_kick_does_not_steal_the_session_back() {
    let mut w = World::new(2);
    w.login(0, "alice");
    // Client 0's link dies silently, then client 1 logs in as alice.
    w.set_mode(0, LinkMode::Blackhole);
    w.login(1, "alice");
    w.set_mode(0, LinkMode::Up);
    w.advance(20_000);
    assert_eq!(w.clients[1].connection_state(), S::Connected);
    assert_eq!(w.clients[0].connection_state(), S::Aborted);
    assert_eq!(
        states(&mut w, 0).last(),
        Some(&(S::Aborted, R::RemoteLogin))
    );
}
