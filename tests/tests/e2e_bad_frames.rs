//! Story: hostile or broken clients send frames the protocol does not allow. Each one gets
//! its documented close code (PROTOCOL.md): 4000 for a malformed frame, 1009 for a frame
//! over the size limit, 1003 for a binary frame, 4002 for a request before login, 4001 for
//! an unknown protocol version — and the server carries on for everybody else.

use async_tungstenite::tungstenite::Message as WsMessage;
use rtm_proto::wire::{close, MAX_FRAME_BYTES};
use rtm_proto::{Message, PeerMessageOutcome, ServerConfig};
use rtm_tests::{log_out, story, RawWs};
use rtm_transport_smol::{CLOSE_GRACE, CLOSE_UNSUPPORTED_DATA};

#[test]
fn bad_frames_get_their_close_codes_and_others_carry_on() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;

        // Not JSON at all.
        let mut raw = RawWs::connect(server.url()).await;
        raw.send_text("this is not json").await;
        assert_eq!(raw.closed().await.code, Some(close::PROTOCOL_ERROR));

        // JSON, but not a frame of the protocol — after a successful login, too.
        let mut raw = RawWs::connect(server.url()).await;
        raw.login("mallory").await;
        raw.send_text(r#"{"type":"launch_missiles","id":7}"#).await;
        assert_eq!(raw.closed().await.code, Some(close::PROTOCOL_ERROR));

        // Larger than the frame limit: refused before it is read.
        let mut raw = RawWs::connect(server.url()).await;
        raw.send_text(" ".repeat(MAX_FRAME_BYTES + 1)).await;
        assert_eq!(raw.closed().await.code, Some(close::TOO_BIG));

        // Binary frames are not part of the protocol.
        let mut raw = RawWs::connect(server.url()).await;
        raw.send_binary(b"\x00\x01".to_vec()).await;
        assert_eq!(raw.closed().await.code, Some(CLOSE_UNSUPPORTED_DATA));

        // A request before login.
        let mut raw = RawWs::connect(server.url()).await;
        raw.send_text(r#"{"type":"query_online","id":1,"peers":["bob"]}"#)
            .await;
        assert_eq!(raw.closed().await.code, Some(close::OUT_OF_SEQUENCE));

        // A protocol version this server does not speak.
        let mut raw = RawWs::connect(server.url()).await;
        raw.send_text(format!(
            r#"{{"type":"login","id":1,"version":999,"app_id":"{}","uid":"eve"}}"#,
            rtm_proto::server::DEFAULT_APP_ID
        ))
        .await;
        assert_eq!(raw.closed().await.code, Some(close::UNSUPPORTED_VERSION));

        // Meanwhile Alice and Bob still talk, both ways.
        let received = Ok(PeerMessageOutcome::Received);
        assert_eq!(alice.tell("bob", "still there?").await, received);
        assert_eq!(
            bob.next_message().await.message,
            Message::text("still there?")
        );
        assert_eq!(bob.tell("alice", "yes").await, received);
        assert_eq!(alice.next_message().await.message, Message::text("yes"));

        log_out([&alice, &bob]).await;
    });
}

/// Finding: after a 1003 or 1009 close the server kept the TCP connection for its whole
/// close grace (2 s) instead of ending it once the close frame was out. A refused link is
/// never read again, so waiting for the peer's reply only held the socket; the server ends
/// it at once (RFC 6455 §7.1.1: the server closes TCP first).
#[test]
fn regression_a_link_refused_with_1003_or_1009_ends_without_the_close_grace() {
    story(ServerConfig::default(), |server| async move {
        let refused = [
            (
                WsMessage::binary(b"\x00\x01".to_vec()),
                CLOSE_UNSUPPORTED_DATA,
            ),
            (
                WsMessage::text(" ".repeat(MAX_FRAME_BYTES + 1)),
                close::TOO_BIG,
            ),
        ];
        for (frame, expected) in refused {
            let mut raw = RawWs::connect(server.url()).await;
            raw.send(frame).await;
            let (code, lingered) = raw.close_then_end().await;
            assert_eq!(code, Some(expected));
            // Well under the 2 s grace the link used to wait out (a bound, not a speed
            // target).
            assert!(lingered < CLOSE_GRACE / 2, "{lingered:?}");
        }
    });
}
