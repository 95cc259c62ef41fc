//! Story: Bob logs in on a second device. The server keeps one session per user id: the
//! first client is kicked to ABORTED with reason REMOTE_LOGIN and must log out before it may
//! log in again; the second one gets Bob's messages (§2.7, §2.9).

use rtm_proto::{
    ConnectionChangeReason, ConnectionState, LoginError, Message, PeerMessageError,
    PeerMessageOutcome, ServerConfig,
};
use rtm_tests::{run, TestServer};

#[test]
fn a_second_login_of_the_same_user_aborts_the_first() {
    let server = TestServer::start(ServerConfig::default());
    run(async {
        let alice = server.logged_in("alice").await;
        let first = server.logged_in("bob").await;
        let second = server.logged_in("bob").await;

        first
            .expect_state(
                ConnectionState::Aborted,
                ConnectionChangeReason::RemoteLogin,
            )
            .await;
        assert_eq!(first.connection_state(), ConnectionState::Aborted);
        assert_eq!(second.connection_state(), ConnectionState::Connected);

        // ABORTED: no new login until logout; nothing that needs a session works.
        assert_eq!(
            first.login("bob", None).await,
            Err(LoginError::AlreadyLogin)
        );
        let send = first
            .send_message_to_peer("alice", Message::text("x"), Default::default())
            .await;
        assert_eq!(send, Err(PeerMessageError::NotLoggedIn));

        // Messages for Bob go to the session that won.
        let outcome = alice
            .send_message_to_peer("bob", Message::text("which bob?"), Default::default())
            .await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        let got = second.next_message().await;
        assert_eq!(got.message, Message::text("which bob?"));

        first
            .logout()
            .await
            .expect("the aborted client may log out");
        first
            .expect_state(
                ConnectionState::Disconnected,
                ConnectionChangeReason::Logout,
            )
            .await;
        assert_eq!(first.connection_state(), ConnectionState::Disconnected);

        second.logout().await.expect("logout");
        alice.logout().await.expect("logout");
    });
    server.stop();
}
