//! Story: a server in certificate mode (§3). A login with an AccessToken2 ("007") built for
//! the same app id, certificate and user id is accepted; a tampered token, one signed with
//! another certificate, one for another user, or none at all is refused with INVALID_TOKEN
//! (5); an expired one with TOKEN_EXPIRED (6). A session renews its token (renewToken,
//! §3.5), hears TokenPrivilegeWillExpire 30 s before expiry, and is ABORTED with
//! TOKEN_EXPIRED when its AccessToken2 runs out.

use rtm_proto::token::build_v007;
use rtm_proto::{
    ClientConfig, ConnectionChangeReason, ConnectionState, Event, LoginError, RenewTokenError,
    ServerConfig,
};
use rtm_tests::{log_out, story, test_client_config, unix_ms, TestClient, TestServer};

const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
const APP_CERT: &str = "5CFd2fd1755d40ecb72977518be15d3b";
const OTHER_CERT: &str = "0123456789abcdef0123456789abcdef";

fn now_secs() -> u32 {
    (unix_ms() / 1000) as u32
}

fn token_for(uid: &str) -> String {
    build_v007(APP_ID, APP_CERT, uid, now_secs(), 3600, 12345)
}

/// A server in certificate mode for [`APP_ID`] and [`APP_CERT`].
fn cert_mode() -> ServerConfig {
    ServerConfig {
        app_id: APP_ID.to_string(),
        app_certificate: Some(APP_CERT.to_string()),
        ..ServerConfig::default()
    }
}

/// A client of `server` logged in as `uid` with `token`, which must be accepted.
async fn logged_in_with(server: &TestServer, uid: &str, token: &str) -> TestClient {
    let client = server.client();
    client.login(uid, Some(token)).await.expect("login");
    client
}

/// Logs in with a fresh client (login is limited to 2 calls per second per client).
async fn login(server: &TestServer, uid: &str, token: Option<&str>) -> Result<(), LoginError> {
    let client = server.client();
    let result = client.login(uid, token).await;
    match result {
        Ok(()) => {
            assert_eq!(client.connection_state(), ConnectionState::Connected);
            client.logout().await.expect("logout");
        }
        Err(_) => {
            client
                .expect_state(
                    ConnectionState::Disconnected,
                    ConnectionChangeReason::LoginFailure,
                )
                .await;
        }
    }
    result
}

#[test]
fn a_valid_token_is_accepted() {
    story(cert_mode(), |server| async move {
        let token = token_for("alice");
        assert!(token.starts_with("007"), "build_v007 made {token:?}");
        assert_eq!(login(&server, "alice", Some(&token)).await, Ok(()));
    });
}

#[test]
fn bad_tokens_are_refused_with_invalid_token() {
    story(cert_mode(), |server| async move {
        let good = token_for("alice");

        // One character of the token changed.
        let mut tampered: Vec<char> = good.chars().collect();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        let refused = [
            ("one character changed", Some(tampered)),
            (
                "signed with another certificate",
                Some(build_v007(
                    APP_ID,
                    OTHER_CERT,
                    "alice",
                    now_secs(),
                    3600,
                    12345,
                )),
            ),
            ("made for another user", Some(token_for("bob"))),
            ("no token at all", None),
        ];
        for (why, token) in refused {
            assert_eq!(
                login(&server, "alice", token.as_deref()).await,
                Err(LoginError::InvalidToken),
                "{why}"
            );
        }
        assert_eq!(LoginError::InvalidToken.code(), 5);
    });
}

#[test]
fn an_expired_token_is_refused_with_token_expired() {
    story(cert_mode(), |server| async move {
        // Issued two hours ago, valid for one.
        let expired = build_v007(APP_ID, APP_CERT, "alice", now_secs() - 7200, 3600, 777);
        assert_eq!(
            login(&server, "alice", Some(&expired)).await,
            Err(LoginError::TokenExpired)
        );
        assert_eq!(LoginError::TokenExpired.code(), 6);
    });
}

#[test]
fn another_app_id_is_refused() {
    story(cert_mode(), |server| async move {
        let client = server.client_with(ClientConfig {
            app_id: "00000000000000000000000000000001".into(),
            ..test_client_config()
        });
        assert_eq!(
            client.login("alice", Some(&token_for("alice"))).await,
            Err(LoginError::InvalidAppId)
        );
    });
}

#[test]
fn renewing_the_token() {
    story(cert_mode(), |server| async move {
        let alice = logged_in_with(&server, "alice", &token_for("alice")).await;

        let fresh = build_v007(APP_ID, APP_CERT, "alice", now_secs(), 7200, 999);
        assert_eq!(alice.renew_token(&fresh).await, Ok(()));

        let forged = build_v007(APP_ID, OTHER_CERT, "alice", now_secs(), 7200, 999);
        assert_eq!(
            alice.renew_token(&forged).await.map_err(|e| e.code()),
            Err(RenewTokenError::InvalidToken.code())
        );

        // A refused renewal does not end the session.
        assert_eq!(alice.connection_state(), ConnectionState::Connected);

        // renewToken is limited to 2 calls per second per client: Bob tries the expired one.
        let bob = logged_in_with(&server, "bob", &token_for("bob")).await;
        let expired = build_v007(APP_ID, APP_CERT, "bob", now_secs() - 7200, 3600, 1);
        assert_eq!(
            bob.renew_token(&expired).await,
            Err(RenewTokenError::TokenExpired)
        );
        log_out([&bob, &alice]).await;
    });
}

#[test]
fn the_server_warns_30_s_before_expiry() {
    story(cert_mode(), |server| async move {
        // Valid for 31 s: the warning is due in about one second.
        let token = build_v007(APP_ID, APP_CERT, "alice", now_secs(), 31, 5);
        let alice = logged_in_with(&server, "alice", &token).await;
        alice
            .wait_for("TokenPrivilegeWillExpire", |e| {
                matches!(e, Event::TokenPrivilegeWillExpire).then_some(())
            })
            .await;
        // Renewing in time keeps the session.
        assert_eq!(alice.renew_token(&token_for("alice")).await, Ok(()));
        alice.logout().await.expect("logout");
    });
}

#[test]
fn an_expiring_token_aborts_the_session() {
    story(cert_mode(), |server| async move {
        // Issued almost an hour ago, valid for an hour: it expires in about two seconds.
        let token = build_v007(APP_ID, APP_CERT, "alice", now_secs() - 3598, 3600, 6);
        let alice = logged_in_with(&server, "alice", &token).await;
        alice
            .wait_for("TokenExpired", |e| {
                matches!(e, Event::TokenExpired).then_some(())
            })
            .await;
        alice
            .expect_state(
                ConnectionState::Aborted,
                ConnectionChangeReason::TokenExpired,
            )
            .await;
        assert_eq!(alice.connection_state(), ConnectionState::Aborted);
        alice.logout().await.expect("logout from ABORTED");
    });
}
