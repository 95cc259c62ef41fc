//! Reconnection stories (§2.3, §2.5, §2.6, §2.7).

mod common;

use common::{states, LinkMode, World};
use rtm_proto::client::{ConnectionChangeReason as R, ConnectionState as S};
use rtm_proto::LoginError;

#[test]
fn a_short_break_is_invisible() {
    let mut w = World::logged_in(&["alice"]);
    w.reset_link(0);
    w.advance(3_000);
    assert_eq!(states(&mut w, 0), vec![]);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
    assert_eq!(w.server.stats().sessions, 1);
}

#[test]
fn a_break_longer_than_4_s_is_reconnecting_then_connected() {
    let mut w = World::logged_in(&["alice"]);
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
    let mut w = World::logged_in(&["alice"]);
    w.set_mode(0, LinkMode::Blackhole);
    w.advance(20_000);
    assert_eq!(states(&mut w, 0), vec![(S::Reconnecting, R::Interrupted)]);
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    assert_eq!(states(&mut w, 0), vec![(S::Connected, R::LoginSuccess)]);
}

#[test]
fn reconnection_retries_forever() {
    let mut w = World::logged_in(&["alice"]);
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
    let mut w = World::logged_in(&["alice", "alice"]);
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

fn login_frame(uid: &str, instance: u64, attempt: u64) -> String {
    format!(
        r#"{{"type":"login","id":1,"version":1,"app_id":"00000000000000000000000000000000","uid":"{uid}","instance":{instance},"attempt":{attempt}}}"#
    )
}

fn closes(out: &[rtm_proto::ServerOutput]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            rtm_proto::ServerOutput::Close { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

/// Found by the simulator (relaxation `stale_login_self_kick`): a login frame delayed on a
/// connection its client had given up on reached the server after the client's newer login
/// and kicked the client's own session with REMOTE_LOGIN.
#[test]
fn regression_a_stale_login_of_the_same_client_does_not_kick_its_session() {
    use rtm_proto::wire::close;
    let mut w = World::new(0);
    let newer = w.raw_connect();
    assert_eq!(
        closes(&w.raw_frame(newer, login_frame("alice", 7, 2).as_bytes())),
        Vec::<u16>::new()
    );
    let stale = w.raw_connect();
    let out = w.raw_frame(stale, login_frame("alice", 7, 1).as_bytes());
    assert_eq!(
        closes(&out),
        vec![close::SUPERSEDED],
        "the stale attempt is dropped"
    );
    assert!(
        !w.server_closes.iter().any(|&(c, _)| c == newer),
        "the live session is untouched"
    );
    // The same client starting afresh (a higher attempt, no resume) replaces it quietly…
    let again = w.raw_connect();
    w.raw_frame(again, login_frame("alice", 7, 3).as_bytes());
    assert_eq!(
        w.server_closes
            .iter()
            .find(|&&(c, _)| c == newer)
            .map(|c| c.1),
        Some(close::SUPERSEDED)
    );
    // …while another device kicks it with REMOTE_LOGIN.
    let other = w.raw_connect();
    w.raw_frame(other, login_frame("alice", 8, 1).as_bytes());
    assert_eq!(
        w.server_closes
            .iter()
            .find(|&&(c, _)| c == again)
            .map(|c| c.1),
        Some(close::REMOTE_LOGIN)
    );
}
