//! Story: Bob logs in on a second device. The server keeps one session per user id: the
//! first client is kicked to ABORTED with reason REMOTE_LOGIN and must log out before it may
//! log in again; the second one gets Bob's messages (§2.7, §2.9).

use rtm_proto::ConnectionChangeReason::{Logout, RemoteLogin};
use rtm_proto::ConnectionState::{Aborted, Connected, Disconnected};
use rtm_proto::{LoginError, Message, PeerMessageError, PeerMessageOutcome, ServerConfig};
use rtm_tests::{log_out, story};

#[test]
fn a_second_login_of_the_same_user_aborts_the_first() {
    story(ServerConfig::default(), |server| async move {
        let [alice, first, second] = server.users(["alice", "bob", "bob"]).await;

        first.expect_state(Aborted, RemoteLogin).await;
        assert_eq!(first.connection_state(), Aborted);
        assert_eq!(second.connection_state(), Connected);

        // ABORTED: no new login until logout; nothing that needs a session works.
        assert_eq!(
            first.login("bob", None).await,
            Err(LoginError::AlreadyLogin)
        );
        let send = first.tell("alice", "x").await;
        assert_eq!(send, Err(PeerMessageError::NotLoggedIn));

        // Messages for Bob go to the session that won.
        let outcome = alice.tell("bob", "which bob?").await;
        assert_eq!(outcome, Ok(PeerMessageOutcome::Received));
        let got = second.next_message().await;
        assert_eq!(got.message, Message::text("which bob?"));

        first
            .logout()
            .await
            .expect("the aborted client may log out");
        first.expect_state(Disconnected, Logout).await;
        assert_eq!(first.connection_state(), Disconnected);

        log_out([&second, &alice]).await;
    });
}
