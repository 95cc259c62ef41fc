//! Encoding and decoding of every frame, and the refusals of malformed ones.

use super::*;
use crate::message::Message;
use std::collections::BTreeMap;

fn uid(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

#[test]
fn login_frame_shape_is_stable() {
    let f = ClientFrame::Login(LoginFrame {
        id: 1,
        version: 1,
        app_id: "app".into(),
        uid: uid("bob"),
        token: None,
        resume: None,
        instance: 0,
        attempt: 0,
    });
    let text = String::from_utf8(f.encode().to_vec()).unwrap();
    assert_eq!(
        text,
        r#"{"type":"login","id":1,"version":1,"app_id":"app","uid":"bob"}"#
    );
    assert_eq!(ClientFrame::decode(text.as_bytes()).unwrap(), f);
}

#[test]
fn a_login_frame_with_an_unknown_field_is_refused() {
    let extra = br#"{"type":"login","id":1,"version":1,"app_id":"app","uid":"bob","admin":true}"#;
    let err = ClientFrame::decode(extra).unwrap_err();
    assert_eq!(err.close_code(), close::PROTOCOL_ERROR, "{err}");
}

#[test]
fn raw_messages_travel_as_base64() {
    let f = ClientFrame::PeerMessage {
        id: 2,
        to: uid("bob"),
        msg_id: 7,
        message: Message::raw(vec![0, 1, 255], "d"),
        offline: false,
    };
    let text = String::from_utf8(f.encode().to_vec()).unwrap();
    assert!(text.contains(r#""data":"AAH/""#), "{text}");
    assert_eq!(ClientFrame::decode(text.as_bytes()).unwrap(), f);
}

#[test]
fn bad_frames_are_refused_with_a_reason() {
    for bad in [
        &b"not json"[..],
        br#"{"type":"nope"}"#,
        br#"{"type":"login","id":1}"#,
        br#"{"type":"query_online","id":1,"peers":["null"]}"#,
        br#"{"type":"ping","extra":1}"#,
        br#"{"type":"peer_message","id":1,"to":"b","msg_id":1,"message":{"kind":"raw","data":"!!"}}"#,
    ] {
        let e = ClientFrame::decode(bad).unwrap_err();
        assert_eq!(e.close_code(), close::PROTOCOL_ERROR, "{e}");
    }
}

#[test]
fn server_frames_fall_into_three_families_with_one_flat_shape() {
    let reply = ServerFrame::Reply(Reply::Ok { id: 7 });
    let push = ServerFrame::Push(Push::MemberJoined {
        channel: ChannelId::new("lobby").unwrap(),
        member: uid("bob"),
    });
    let notice = ServerFrame::Notice(Notice::Pong {});
    for (frame, text) in [
        (&reply, r#"{"type":"ok","id":7}"#),
        (
            &push,
            r#"{"type":"member_joined","channel":"lobby","member":"bob"}"#,
        ),
        (&notice, r#"{"type":"pong"}"#),
    ] {
        assert_eq!(&frame.encode()[..], text.as_bytes());
        assert_eq!(&ServerFrame::decode(text.as_bytes()).unwrap(), frame);
    }
    // A family encodes exactly as its frame does.
    assert_eq!(Reply::Ok { id: 7 }.encode(), reply.encode());
    assert_eq!(Reply::Ok { id: 7 }.id(), 7);
}

#[test]
fn a_bad_server_frame_is_refused_with_its_familys_reason() {
    let unknown = ServerFrame::decode(br#"{"type":"nope"}"#).unwrap_err();
    assert_eq!(unknown.close_code(), close::PROTOCOL_ERROR);
    // A known type with a bad field names the field, not "no family matched".
    let e = ServerFrame::decode(br#"{"type":"ok","id":"seven"}"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
    // Also with the type later, where the untagged path decides.
    let e = ServerFrame::decode(br#"{"id":"seven","type":"ok"}"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
    let e = ServerFrame::decode(br#"{"type":"member_count","channel":"c"}"#).unwrap_err();
    assert!(e.to_string().contains("missing field `count`"), "{e}");
}

#[test]
fn the_type_is_peeked_only_where_it_comes_first() {
    assert_eq!(frame_type(br#"{"type":"login_ok","id":1}"#), b"login_ok");
    assert_eq!(frame_type(br#"{"id":1,"type":"ok"}"#), b"");
    assert_eq!(frame_type(br#"{"type":"ok"#), b"");
    assert_eq!(frame_type(b"{}"), b"");
}

#[test]
fn a_server_frame_decodes_the_same_with_its_type_first_or_not() {
    // Type first takes the direct path; type elsewhere the general one. They agree.
    for (first, elsewhere) in [
        (r#"{"type":"ok","id":7}"#, r#"{"id":7,"type":"ok"}"#),
        (
            r#"{"type":"member_count","channel":"c","count":3}"#,
            r#"{"channel":"c","count":3,"type":"member_count"}"#,
        ),
        (
            r#"{"type":"kicked","reason":"remote_login"}"#,
            r#"{"reason":"remote_login","type":"kicked"}"#,
        ),
    ] {
        let direct = ServerFrame::decode(first.as_bytes()).unwrap();
        let general = ServerFrame::decode(elsewhere.as_bytes()).unwrap();
        assert_eq!(direct, general, "{first}");
    }
}

#[test]
fn a_frame_over_the_limit_is_too_big_in_either_direction() {
    let big = vec![b' '; MAX_FRAME_BYTES + 1];
    let client = ClientFrame::decode(&big).unwrap_err();
    let server = ServerFrame::decode(&big).unwrap_err();
    assert_eq!(client.close_code(), close::TOO_BIG);
    assert_eq!(server.close_code(), close::TOO_BIG);
}

/// Found by the simulator (relaxation `no_escape_heavy_messages`) and the poison-push
/// analysis: a valid message or attribute set must fit a frame however JSON escapes it,
/// also as the server's push (which adds the sender, timestamps and ids).
#[test]
fn regression_worst_case_valid_frames_fit_the_frame_limit() {
    use crate::attributes::{ChannelAttribute, MAX_CHANNEL_BYTES, MAX_KEY_BYTES};
    use crate::message::MAX_MESSAGE_BYTES;
    let long_uid = UserId::new("~".repeat(64)).unwrap();
    let nasty = "\u{1}".repeat(MAX_MESSAGE_BYTES);
    assert!(Message::text(nasty.clone()).is_valid());
    let push = ServerFrame::Push(Push::Message {
        from: long_uid.clone(),
        msg_id: u64::MAX,
        message: Message::text(nasty.clone()),
        server_ts: u64::MAX,
        offline: true,
    });
    assert!(
        push.encode().len() <= MAX_FRAME_BYTES,
        "{}",
        push.encode().len()
    );
    let chan = ServerFrame::Push(Push::ChannelMessage {
        channel: ChannelId::new("~".repeat(64)).unwrap(),
        epoch: u64::MAX,
        cseq: u64::MAX,
        from: long_uid.clone(),
        message: Message::text(nasty),
        server_ts: u64::MAX,
    });
    assert!(chan.encode().len() <= MAX_FRAME_BYTES);
    // 32 attributes whose keys and values fill the 32 KB channel total with characters
    // JSON escapes.
    let mut attributes = BTreeMap::new();
    let per = MAX_CHANNEL_BYTES / 32 - MAX_KEY_BYTES;
    for i in 0..32 {
        let key = format!("{i:0>2}{}", "\\".repeat(MAX_KEY_BYTES - 2));
        let value = "\u{1}".repeat(per);
        attributes.insert(
            key,
            ChannelAttribute {
                value,
                last_update_user_id: long_uid.clone(),
                last_update_ts: u64::MAX,
            },
        );
    }
    let total: usize = attributes
        .iter()
        .map(|(k, v)| k.len() + v.value.len())
        .sum();
    assert!(total <= MAX_CHANNEL_BYTES);
    let update = ServerFrame::Push(Push::AttributesUpdated {
        channel: ChannelId::new("c").unwrap(),
        attributes,
    });
    assert!(
        update.encode().len() <= MAX_FRAME_BYTES,
        "{}",
        update.encode().len()
    );
}

/// The direct paths of the message path's frames (`hot_decode.rs`, `hot_encode.rs`) and the
/// general ones through serde agree: same frame or bytes, or both refuse.
mod hot_paths {
    use super::*;
    use proptest::prelude::*;

    fn general(bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
        decode::<ClientFrame>(bytes)
    }

    fn agree(text: &str) {
        let direct = ClientFrame::decode(text.as_bytes());
        match (&direct, general(text.as_bytes())) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b, "{text}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{text}: direct {a:?}, general {b:?}"),
        }
    }

    #[test]
    fn hand_picked_frames_decode_alike() {
        for text in [
            r#"{"type":"ack","seq":17}"#,
            r#"{"type":"ack","seq":-1}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","seq":1,"extra":2}"#,
            r#"{"type":"ack","seq":1,"type":"ping"}"#,
            r#"{"type":"ack","seq":01}"#,
            r#"{"type":"ack","seq":0}"#,
            r#"{"type":"ack","seq":1.0}"#,
            r#"{"type":"ack","seq":1e2}"#,
            r#"{"type":"ack","seq":18446744073709551616}"#,
            r#"{"type":"ack", "seq":1}"#,
            r#"{"type":"ack","seq":1} "#,
            r#"{"type":"ack","seq":1}x"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"ping"}}"#,
            r#"{"type":"ping","id":1}"#,
            r#"{"type":"peer_message","id":4294967296,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"}}"#,
            r#"{"type":"peer_message","id":1,"to":"b\u006fb","msg_id":9,"message":{"kind":"text","text":"a\"b\\c\u00e9\ud83d\ude00"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"bad \x escape"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"lone \ud83d"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"escaped\ttab"}}"#,
            "{\"type\":\"peer_message\",\"id\":1,\"to\":\"bob\",\"msg_id\":9,\"message\":{\"kind\":\"text\",\"text\":\"raw\ttab\"}}",
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"},"offline":false}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"},"offline":1}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"},"offline":true,"offline":true}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"unterminated}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"offline":true,"message":{"kind":"text","text":"h\u00e9\n"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"text":"hi","kind":"text"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"raw","data":"AAH/","description":"d"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"file","media_id":"m1","size":3}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi","text":"again"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi","kind":"text"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"text":"hi","kind":"text","text":"x"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi","more":1}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"html","text":"hi"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":"hi"}"#,
            r#"{"type":"peer_message","id":1,"to":"null","msg_id":9,"message":{"kind":"text","text":"hi"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","message":{"kind":"text","text":"hi"}}"#,
            r#"{"type":"peer_message","id":1,"to":"bob","msg_id":9,"message":{"kind":"text","text":"hi"},"to":"eve"}"#,
            r#"{"type":"channel_message","id":2,"channel":"room","msg_id":3,"message":{"kind":"text","text":"all"}}"#,
            r#"{"type":"channel_message","id":2,"channel":"room","msg_id":3,"message":{"kind":"text","text":"all"},"offline":true}"#,
            r#"{"type":"channel_message","id":2,"channel":"a/b","msg_id":3,"message":{"kind":"text","text":"all"}}"#,
            r#"{"type":"channel_message","id":2,"channel":"room","msg_id":3,"message":{"kind":"raw","data":"AA=="}}"#,
        ] {
            agree(text);
        }
    }

    fn id() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 !#$%&()+:;<=.>?@^_{}|~,-]{1,64}"
    }

    fn frame() -> impl Strategy<Value = ClientFrame> {
        let text = prop_oneof![
            "\\PC{0,40}".prop_map(Message::text),
            any::<String>().prop_map(Message::text),
            (proptest::collection::vec(any::<u8>(), 0..20), "\\PC{0,8}")
                .prop_map(|(d, s)| Message::raw(d, s)),
        ];
        prop_oneof![
            any::<u64>().prop_map(|seq| ClientFrame::Ack { seq }),
            Just(ClientFrame::Ping {}),
            (
                any::<u32>(),
                id(),
                any::<u64>(),
                text.clone(),
                any::<bool>()
            )
                .prop_map(|(id, to, msg_id, message, offline)| {
                    ClientFrame::PeerMessage {
                        id,
                        to: UserId::new(to).unwrap(),
                        msg_id,
                        message,
                        offline,
                    }
                }),
            (any::<u32>(), id(), any::<u64>(), text).prop_map(|(id, c, msg_id, message)| {
                ClientFrame::ChannelMessage {
                    id,
                    channel: ChannelId::new(c).unwrap(),
                    msg_id,
                    message,
                }
            }),
        ]
    }

    proptest! {
        /// Encoded frames decode to themselves on both paths, and so do their bytes with one
        /// byte changed (most of which are refused by both).
        #[test]
        fn random_frames_decode_alike(f in frame(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
            let bytes = f.encode();
            // What our encoders write takes the direct path, but media and raw messages.
            let raw = matches!(&f, ClientFrame::PeerMessage { message: Message::Raw { .. }, .. }
                | ClientFrame::ChannelMessage { message: Message::Raw { .. }, .. });
            prop_assert_eq!(hot_decode::decode(&bytes).is_some(), !raw);
            prop_assert_eq!(ClientFrame::decode(&bytes).unwrap(), f);
            let mut mutated = bytes.to_vec();
            let i = at.index(mutated.len());
            mutated[i] = b;
            if let Ok(text) = std::str::from_utf8(&mutated) {
                agree(text);
            }
        }

        /// The pushes and the reply of the message path are written byte for byte as the
        /// general encoder writes them.
        #[test]
        fn direct_encoding_is_the_general_one(
            from in id(),
            text in any::<String>(),
            n in any::<u64>(),
            m in any::<u64>(),
            offline in any::<bool>(),
            request in any::<u32>(),
        ) {
            let text = Message::text(text);
            let pushes = [
                Push::Message { from: uid(&from), msg_id: n, message: text.clone(), server_ts: m, offline },
                Push::ChannelMessage {
                    channel: ChannelId::new(from.clone()).unwrap(),
                    epoch: n,
                    cseq: m,
                    from: uid(&from),
                    message: text,
                    server_ts: n ^ m,
                },
            ];
            for push in pushes {
                prop_assert_eq!(push.encode(), encode(&push));
            }
            for outcome in [PeerMessageOutcome::Received, PeerMessageOutcome::Cached, PeerMessageOutcome::Unreachable] {
                let reply = Reply::PeerMessageResult { id: request, outcome };
                prop_assert_eq!(reply.encode(), encode(&reply));
            }
        }
    }
}
