//! Certificate mode (§3): tokens at login, renewal, warning and expiry.

mod common;

use common::{LinkMode, World, T0_UNIX_MS};
use rtm_proto::client::{ConnectionChangeReason as R, ConnectionState as S, Event, Response};
use rtm_proto::token::build_v007;
use rtm_proto::{ClientConfig, LoginError, RenewTokenError, ServerConfig};

const APP_ID: &str = "970ca35de60c44645bbae8a215061b33";
const CERT: &str = "5cfd2fd1755d40ecb72977518be15d3b";
const NOW_S: u32 = (T0_UNIX_MS / 1000) as u32;

fn world(n: usize) -> World {
    let sc = ServerConfig {
        app_id: APP_ID.into(),
        app_certificate: Some(CERT.into()),
        ..Default::default()
    };
    let cc = ClientConfig {
        app_id: APP_ID.into(),
        ..Default::default()
    };
    World::with_config(n, sc, cc)
}

fn token(uid: &str, valid_secs: u32) -> String {
    build_v007(APP_ID, CERT, uid, NOW_S, valid_secs, 12345)
}

fn login_result(w: &mut World, c: usize, uid: &str, token: Option<&str>) -> Response {
    let req = w.clients[c].login(w.now, uid, token).unwrap();
    w.settle();
    w.response(c, req).expect("login answered")
}

#[test]
fn a_valid_token_logs_in() {
    let mut w = world(1);
    let t = token("alice", 3600);
    assert_eq!(
        login_result(&mut w, 0, "alice", Some(&t)),
        Response::Login(Ok(()))
    );
}

#[test]
fn missing_tampered_foreign_and_expired_tokens_are_refused() {
    let mut w = world(1);
    assert_eq!(
        login_result(&mut w, 0, "alice", None),
        Response::Login(Err(LoginError::InvalidToken))
    );
    w.advance(1000);
    let mut t = token("alice", 3600).into_bytes();
    let i = t.len() - 5;
    t[i] = if t[i] == b'A' { b'B' } else { b'A' };
    let t = String::from_utf8(t).unwrap();
    assert_eq!(
        login_result(&mut w, 0, "alice", Some(&t)),
        Response::Login(Err(LoginError::InvalidToken))
    );
    w.advance(1000);
    let bob = token("bob", 3600);
    assert_eq!(
        login_result(&mut w, 0, "alice", Some(&bob)),
        Response::Login(Err(LoginError::InvalidToken))
    );
    w.advance(1000);
    let old = build_v007(APP_ID, CERT, "alice", NOW_S - 7200, 3600, 1);
    assert_eq!(
        login_result(&mut w, 0, "alice", Some(&old)),
        Response::Login(Err(LoginError::TokenExpired))
    );
    assert_eq!(w.clients[0].connection_state(), S::Disconnected);
}

#[test]
fn expiry_warns_30_s_ahead_then_aborts_with_token_expired() {
    let mut w = world(1);
    let t = token("alice", 100);
    assert_eq!(
        login_result(&mut w, 0, "alice", Some(&t)),
        Response::Login(Ok(()))
    );
    w.take_events(0);
    w.advance(69_999);
    assert!(!w.take_events(0).contains(&Event::TokenPrivilegeWillExpire));
    w.advance(1);
    assert_eq!(w.take_events(0), vec![Event::TokenPrivilegeWillExpire]);
    w.advance(30_000);
    assert_eq!(
        w.take_events(0),
        vec![
            Event::TokenExpired,
            Event::ConnectionStateChanged {
                state: S::Aborted,
                reason: R::TokenExpired
            },
        ]
    );
    assert_eq!(w.server.stats().sessions, 0);
}

#[test]
fn renewing_moves_the_expiry() {
    let mut w = world(1);
    let t = token("alice", 100);
    login_result(&mut w, 0, "alice", Some(&t));
    w.advance(60_000);
    let fresh = build_v007(APP_ID, CERT, "alice", NOW_S + 60, 3600, 7);
    let req = w.clients[0].renew_token(w.now, &fresh).unwrap();
    w.settle();
    assert_eq!(w.response(0, req), Some(Response::RenewToken(Ok(()))));
    w.advance(200_000);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
    assert!(!w.take_events(0).contains(&Event::TokenExpired));
}

#[test]
fn renewing_with_a_bad_token_fails_with_its_code() {
    let mut w = world(1);
    let t = token("alice", 3600);
    login_result(&mut w, 0, "alice", Some(&t));
    let req = w.clients[0].renew_token(w.now, "007garbage").unwrap();
    w.settle();
    assert_eq!(
        w.response(0, req),
        Some(Response::RenewToken(Err(RenewTokenError::InvalidToken)))
    );
    assert_eq!(
        w.clients[0].renew_token(w.now, ""),
        Err(RenewTokenError::InvalidArgument)
    );
}

#[test]
fn a_token_that_expires_while_reconnecting_waits_for_renewal() {
    let mut w = world(1);
    let t = token("alice", 60);
    login_result(&mut w, 0, "alice", Some(&t));
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.advance(61_000);
    assert_eq!(w.clients[0].connection_state(), S::Reconnecting);
    w.take_events(0);
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    // The re-login is refused as expired: the app hears it, the state stays.
    assert_eq!(w.take_events(0), vec![Event::TokenExpired]);
    assert_eq!(w.clients[0].connection_state(), S::Reconnecting);
    let fresh = build_v007(APP_ID, CERT, "alice", NOW_S + 70, 3600, 9);
    let req = w.clients[0].renew_token(w.now, &fresh).unwrap();
    w.advance(1_000);
    assert_eq!(w.response(0, req), Some(Response::RenewToken(Ok(()))));
    assert_eq!(
        w.take_events(0),
        vec![Event::ConnectionStateChanged {
            state: S::Connected,
            reason: R::LoginSuccess
        }]
    );
}
