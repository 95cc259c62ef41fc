//! Login and logout stories (§2.3, §4.2).

mod common;

use common::{LinkMode, World};
use rtm_proto::client::{
    ConnectionChangeReason as R, ConnectionState as S, Event, RequestId, Response,
};
use rtm_proto::{LoginError, LogoutError};

fn state(s: S, r: R) -> Event {
    Event::ConnectionStateChanged {
        state: s,
        reason: r,
    }
}

/// The events of a login that fails with `error`, ending DISCONNECTED for `reason`.
fn failed_login(request: RequestId, error: LoginError, reason: R) -> Vec<Event> {
    vec![
        state(S::Connecting, R::Login),
        Event::Response {
            request,
            response: Response::Login(Err(error)),
        },
        state(S::Disconnected, reason),
    ]
}

#[test]
fn login_goes_connecting_then_connected_and_resolves() {
    let mut w = World::new(1);
    let req = w.clients[0].login(w.now, "alice", None).unwrap();
    w.settle();
    assert_eq!(
        w.take_events(0),
        vec![
            state(S::Connecting, R::Login),
            Event::Response {
                request: req,
                response: Response::Login(Ok(()))
            },
            state(S::Connected, R::LoginSuccess),
        ]
    );
}

#[test]
fn login_twice_is_already_login() {
    let mut w = World::logged_in(&["alice"]);
    assert_eq!(
        w.clients[0].login(w.now, "alice", None),
        Err(LoginError::AlreadyLogin)
    );
}

#[test]
fn invalid_user_id_is_refused_locally() {
    let mut w = World::new(1);
    assert_eq!(
        w.clients[0].login(w.now, "null", None),
        Err(LoginError::InvalidArgument)
    );
    assert_eq!(
        w.clients[0].login(w.now, "", None),
        Err(LoginError::InvalidArgument)
    );
    assert_eq!(
        w.clients[0].login(w.now, "a/b", None),
        Err(LoginError::InvalidArgument)
    );
    assert_eq!(w.clients[0].poll_output(), None, "nothing was sent");
}

#[test]
fn more_than_two_logins_a_second_is_too_often() {
    let mut w = World::new(1);
    w.set_mode(0, LinkMode::Refuse);
    for _ in 0..2 {
        w.clients[0].login(w.now, "alice", None).unwrap();
        w.clients[0].logout(w.now).unwrap();
    }
    assert_eq!(
        w.clients[0].login(w.now, "alice", None),
        Err(LoginError::TooOften)
    );
    w.advance(1000);
    assert!(w.clients[0].login(w.now, "alice", None).is_ok());
}

#[test]
fn login_times_out_after_12_s_when_the_server_is_unreachable() {
    let mut w = World::new(1);
    w.set_mode(0, LinkMode::Blackhole);
    let req = w.clients[0].login(w.now, "alice", None).unwrap();
    w.advance(11_999);
    assert_eq!(w.clients[0].connection_state(), S::Connecting);
    w.advance(1);
    assert_eq!(
        w.take_events(0),
        failed_login(req, LoginError::Timeout, R::LoginTimeout)
    );
}

#[test]
fn login_keeps_retrying_refused_connects_until_the_server_appears() {
    let mut w = World::new(1);
    w.set_mode(0, LinkMode::Refuse);
    w.clients[0].login(w.now, "alice", None).unwrap();
    w.advance(3_000);
    assert_eq!(w.clients[0].connection_state(), S::Connecting);
    w.set_mode(0, LinkMode::Up);
    w.advance(5_000);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
}

#[test]
fn wrong_app_id_fails_with_login_failure_and_code_4() {
    let cc = rtm_proto::ClientConfig {
        app_id: "0123456789abcdef0123456789abcdef".into(),
        ..Default::default()
    };
    let mut w = World::with_config(1, Default::default(), cc);
    let req = w.clients[0].login(w.now, "alice", None).unwrap();
    w.settle();
    assert_eq!(
        w.take_events(0),
        failed_login(req, LoginError::InvalidAppId, R::LoginFailure)
    );
    assert_eq!(LoginError::InvalidAppId.code(), 4);
}

#[test]
fn logout_is_immediate_and_a_second_logout_is_not_logged_in() {
    let mut w = World::logged_in(&["alice"]);
    w.clients[0].logout(w.now).unwrap();
    w.settle();
    assert_eq!(w.take_events(0), vec![state(S::Disconnected, R::Logout)]);
    assert_eq!(
        w.server.stats().sessions,
        0,
        "the server dropped the session at once"
    );
    assert_eq!(w.clients[0].logout(w.now), Err(LogoutError::NotLoggedIn));
    // And the client can log in again.
    w.advance(1000);
    w.login(0, "alice");
}
