//! Property tests of the wire codec (`rtm_proto::wire`): round trips of arbitrary frames,
//! the frame size limit, and id validation while parsing. They live here (not in
//! rtm-proto) because the simulator crate owns the protocol's randomized testing.
//!
//! Frames are generated as JSON values for every frame type of the features the simulator
//! covers (sessions, peer messages, presence, tokens), with full field ranges; decoding must
//! accept them, and `encode(decode(json)) == json` shows that no field is lost or altered.

use proptest::prelude::*;
use rtm_proto::ids::validate_id;
use rtm_proto::message::MAX_MESSAGE_BYTES;
use rtm_proto::wire::{ClientFrame, DecodeError, ServerFrame, MAX_FRAME_BYTES};
use rtm_proto::Message;
use serde_json::{json, Value};

const ID_CHARS: &str = "[a-zA-Z0-9 !#$%&()+\\-:;<=.>?@\\[\\]^_{}|~,]";

fn uid() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("{ID_CHARS}{{1,64}}"))
        .expect("regex")
        .prop_filter("not null", |s| s != "null")
}

fn uids() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(uid(), 1..8)
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{1,200}".prop_map(Message::text),
        any::<String>()
            .prop_filter("non-empty", |s| !s.is_empty())
            .prop_map(Message::text),
        (prop::collection::vec(any::<u8>(), 1..300), ".{0,20}")
            .prop_map(|(d, s)| Message::raw(d, s)),
    ]
}

fn msg_json(m: &Message) -> Value {
    serde_json::to_value(m).expect("messages serialise")
}

fn client_frame() -> impl Strategy<Value = Value> {
    prop_oneof![
        (any::<u32>(), uid(), any::<String>(), proptest::option::of(".{1,40}"), proptest::option::of("[0-9a-f]{32}"))
            .prop_map(|(id, uid, app, token, resume)| {
                let mut v = json!({"type": "login", "id": id, "version": 1, "app_id": app, "uid": uid});
                if let Some(t) = token { v["token"] = json!(t); }
                if let Some(r) = resume { v["resume"] = json!(r); }
                v
            }),
        any::<u32>().prop_map(|id| json!({"type": "logout", "id": id})),
        Just(json!({"type": "ping"})),
        (any::<u32>(), any::<String>()).prop_map(|(id, t)| json!({"type": "renew_token", "id": id, "token": t})),
        (any::<u32>(), uid(), any::<u64>(), message(), any::<bool>()).prop_map(|(id, to, m, msg, off)| {
            json!({"type": "peer_message", "id": id, "to": to, "msg_id": m, "message": msg_json(&msg), "offline": off})
        }),
        any::<u64>().prop_map(|s| json!({"type": "ack", "seq": s})),
        (any::<u32>(), uids()).prop_map(|(id, p)| json!({"type": "query_online", "id": id, "peers": p})),
        (any::<u32>(), uids()).prop_map(|(id, p)| json!({"type": "subscribe", "id": id, "peers": p})),
        (any::<u32>(), uids()).prop_map(|(id, p)| json!({"type": "unsubscribe", "id": id, "peers": p})),
    ]
}

fn state() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("ONLINE"), Just("UNREACHABLE"), Just("OFFLINE")]
}

fn server_frame() -> impl Strategy<Value = Value> {
    prop_oneof![
        (any::<u32>(), "[0-9a-f]{32}", any::<bool>(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
            |(id, s, r, ts, hb, from)| json!({"type": "login_ok", "id": id, "version": 1, "session": s,
                "resumed": r, "server_ts": ts, "heartbeat_ms": hb, "resend_from": from})
        ),
        (any::<u32>(), any::<u32>(), any::<String>()).prop_map(|(id, c, m)| json!({"type": "error", "id": id, "code": c, "message": m})),
        any::<u32>().prop_map(|id| json!({"type": "ok", "id": id})),
        Just(json!({"type": "pong"})),
        (any::<u32>(), prop_oneof![Just("received"), Just("cached"), Just("unreachable")])
            .prop_map(|(id, o)| json!({"type": "peer_message_result", "id": id, "outcome": o})),
        (uid(), any::<u64>(), message(), any::<u64>(), any::<bool>()).prop_map(|(f, id, m, ts, off)| {
            json!({"type": "message", "from": f, "msg_id": id, "message": msg_json(&m), "server_ts": ts, "offline": off})
        }),
        (any::<u32>(), prop::collection::vec((uid(), any::<bool>()), 0..5)).prop_map(|(id, ps)| {
            let peers: Vec<Value> = ps.into_iter().map(|(p, o)| json!({"peer": p, "online": o})).collect();
            json!({"type": "online_status", "id": id, "peers": peers})
        }),
        (any::<u32>(), prop::collection::vec((uid(), state()), 0..5)).prop_map(|(id, ps)| {
            let peers: Vec<Value> = ps.into_iter().map(|(p, s)| json!({"peer": p, "state": s})).collect();
            json!({"type": "subscribed", "id": id, "peers": peers})
        }),
        prop::collection::vec((uid(), state()), 0..5).prop_map(|ps| {
            let peers: Vec<Value> = ps.into_iter().map(|(p, s)| json!({"peer": p, "state": s})).collect();
            json!({"type": "presence", "peers": peers})
        }),
        Just(json!({"type": "token_will_expire"})),
        prop_oneof![Just("remote_login"), Just("banned_by_server"), Just("token_expired")]
            .prop_map(|r| json!({"type": "kicked", "reason": r})),
    ]
}

fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("json")
}

/// The frame `v` decodes, re-encodes to the same JSON (nothing lost or altered), decodes
/// again to the same frame, and its encoding is canonical: both directions' contract.
fn round_trips<F: PartialEq + std::fmt::Debug>(
    v: &Value,
    decode: fn(&[u8]) -> Result<F, DecodeError>,
    encode: fn(&F) -> bytes::Bytes,
) -> Result<(), TestCaseError> {
    let f = decode(&bytes_of(v)).map_err(|e| TestCaseError::fail(format!("{e}: {v}")))?;
    let enc = encode(&f);
    let again: Value = serde_json::from_slice(&enc).expect("encode emits JSON");
    prop_assert_eq!(&again, v, "a field was lost or altered");
    let back = decode(&enc).expect("re-decodes");
    prop_assert_eq!(&back, &f);
    prop_assert_eq!(encode(&back), enc, "encoding is not canonical");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every well-formed client frame decodes, loses nothing, and round-trips.
    #[test]
    fn client_frames_round_trip(v in client_frame()) {
        round_trips(&v, ClientFrame::decode, ClientFrame::encode)?;
    }

    /// Every well-formed server frame decodes, loses nothing, and round-trips.
    #[test]
    fn server_frames_round_trip(v in server_frame()) {
        round_trips(&v, ServerFrame::decode, ServerFrame::encode)?;
    }

    /// The size limit is checked before parsing: one byte over is refused as TOO_BIG,
    /// exactly at the limit the same frame decodes.
    #[test]
    fn size_limit_is_exact(v in client_frame(), slack in 0usize..4) {
        let base = bytes_of(&v);
        prop_assume!(base.len() + slack <= MAX_FRAME_BYTES);
        let pad = |n: usize| {
            let mut b = base.clone();
            b.resize(b.len() + n, b' ');
            b
        };
        let at = pad(MAX_FRAME_BYTES - base.len() - slack);
        prop_assert!(ClientFrame::decode(&at).is_ok());
        let over = pad(MAX_FRAME_BYTES - base.len() + 1 + slack);
        prop_assert_eq!(ClientFrame::decode(&over), Err(DecodeError::TooBig(over.len())));
        prop_assert_eq!(ServerFrame::decode(&over), Err(DecodeError::TooBig(over.len())));
    }

    /// Ids are validated while parsing: an id list decodes exactly when every id is valid.
    #[test]
    fn ids_validated_while_parsing(s in prop_oneof![uid(), any::<String>(), Just("null".to_string()), ".{60,70}"]) {
        let v = json!({"type": "query_online", "id": 1, "peers": [s.clone()]});
        let decoded = ClientFrame::decode(&bytes_of(&v)).is_ok();
        prop_assert_eq!(decoded, validate_id(&s).is_ok(), "id {:?}", s);
    }

    /// A valid raw message (the largest kind by bytes) always fits a frame: 32 KB of raw
    /// data is ~44 KB of base64.
    #[test]
    fn valid_raw_messages_fit_a_frame(n in 1usize..=MAX_MESSAGE_BYTES, desc in 0usize..64, to in uid(), id in any::<u32>(), msg_id in any::<u64>()) {
        let n = n.min(MAX_MESSAGE_BYTES - desc);
        prop_assume!(n >= 1);
        let m = Message::raw(vec![0xff; n], "d".repeat(desc));
        prop_assert!(m.is_valid());
        let f = ClientFrame::decode(&bytes_of(&json!({"type": "peer_message", "id": id, "to": to,
            "msg_id": msg_id, "message": msg_json(&m), "offline": true}))).expect("decodes");
        prop_assert!(f.encode().len() <= MAX_FRAME_BYTES);
    }
}

/// Was a known bug (relaxation `no_escape_heavy_messages`, now fixed by a 256 KiB frame
/// limit): a text message that `Message::is_valid` accepts (32 KB counted as UTF-8 bytes)
/// encoded to a frame over the limit, because JSON escapes control characters as `\u00XX`.
/// Now the request and the server's push of the worst such message both fit.
#[test]
fn regression_valid_text_message_fits_a_frame_as_request_and_as_push() {
    let m = Message::text("\u{1}".repeat(MAX_MESSAGE_BYTES));
    assert!(m.is_valid(), "the client accepts it");
    let req = bytes_of(
        &json!({"type": "peer_message", "id": u32::MAX, "to": "r".repeat(64),
        "msg_id": u64::MAX, "message": msg_json(&m), "offline": false}),
    );
    assert!(
        req.len() <= MAX_FRAME_BYTES,
        "request is {} bytes",
        req.len()
    );
    assert!(ClientFrame::decode(&req).is_ok());
    let push = bytes_of(
        &json!({"type": "message", "from": "s".repeat(64), "msg_id": u64::MAX,
        "message": msg_json(&m), "server_ts": u64::MAX, "offline": true}),
    );
    assert!(
        push.len() <= MAX_FRAME_BYTES,
        "push is {} bytes",
        push.len()
    );
    assert!(ServerFrame::decode(&push).is_ok());
}
