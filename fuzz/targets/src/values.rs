//! Field values the frame generators and the command drivers share: user and channel ids
//! (valid, awkward and invalid), messages, attribute keys, values and operations.

use std::collections::BTreeMap;

use rtm_proto::{Message, UserId};
use serde_json::{json, Value};

use crate::input::Input;

pub(crate) const NAMES: [&str; 5] = ["alice", "bob", "carol", "<d>|~", "null"];

pub(crate) fn name(inp: &mut Input) -> &'static str {
    NAMES[inp.u8() as usize % NAMES.len()]
}

/// Up to three user ids, as a command takes them.
pub(crate) fn names(inp: &mut Input) -> Vec<&'static str> {
    (0..inp.u8() % 4).map(|_| name(inp)).collect()
}

pub(crate) fn uid(inp: &mut Input) -> UserId {
    UserId::new(NAMES[inp.u8() as usize % 4]).expect("valid")
}

/// A message body: small text, raw bytes, or (rarely) one repeated character up to 32 KB —
/// escape-heavy characters make the JSON frame much larger than the counted length.
pub(crate) fn message(inp: &mut Input) -> Message {
    match inp.u8() % 8 {
        0 => Message::text(""),
        1..=3 => {
            let b = inp.bytes(64);
            Message::text(String::from_utf8_lossy(b).into_owned())
        }
        4..=5 => {
            let b = inp.bytes(64).to_vec();
            Message::raw(b, "d")
        }
        6 => {
            let c = char::from(inp.u8() % 128);
            let n = (inp.u16() as usize).min(rtm_proto::message::MAX_MESSAGE_BYTES + 1);
            Message::text(c.to_string().repeat(n))
        }
        _ => {
            let n = (inp.u16() as usize).min(rtm_proto::message::MAX_MESSAGE_BYTES);
            Message::raw(vec![inp.u8(); n], "")
        }
    }
}

pub(crate) fn uids(inp: &mut Input) -> Vec<UserId> {
    let n = inp.u8() % 4;
    (0..n).map(|_| uid(inp)).collect()
}
/// Inputs of `client_inputs` and `server_inputs` that start with this also generate the
/// commands and frames of channels, attributes and invitations. Others are read exactly as
/// before those existed, so the committed corpus files still say what they said.
pub const EXTENDED: &[u8] = b"X2";

/// Inputs of `server_inputs` that start with this are [`EXTENDED`] and also make calls of
/// the operator's REST API (a configured key, calls with it or without).
pub const ADMIN: &[u8] = b"X3";

/// Inputs of `server_inputs` that start with this are [`EXTENDED`] and also ask for media
/// tickets and make the media endpoints' calls (`ServerInput::Media`), under small quotas.
pub const MEDIA: &[u8] = b"X4";

pub(crate) const CHANNELS: [&str; 4] = ["room", "lobby", "<c>|~", "null"];

pub(crate) fn channel(inp: &mut Input) -> &'static str {
    CHANNELS[inp.u8() as usize % CHANNELS.len()]
}

pub(crate) fn attr_key(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => String::new(),
        1 => "bad key".into(),
        2 => "k".repeat(33),
        n => format!("k{n}"),
    }
}

pub(crate) fn attr_value(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => String::new(),
        1 => "v".repeat(8 * 1024 + 1),
        2 => "w".repeat(usize::from(inp.u16()) % (16 * 1024)),
        _ => String::from_utf8_lossy(inp.bytes(32)).into_owned(),
    }
}

pub(crate) fn attr_map(inp: &mut Input) -> BTreeMap<String, String> {
    (0..inp.u8() % 5)
        .map(|_| (attr_key(inp), attr_value(inp)))
        .collect()
}

pub(crate) fn attr_keys(inp: &mut Input) -> Vec<String> {
    (0..inp.u8() % 4).map(|_| attr_key(inp)).collect()
}

pub(crate) fn attr_op(inp: &mut Input) -> rtm_proto::attributes::AttrOp {
    use rtm_proto::attributes::AttrOp;
    [
        AttrOp::Set,
        AttrOp::AddOrUpdate,
        AttrOp::Delete,
        AttrOp::Clear,
    ][inp.u8() as usize % 4]
}

pub(crate) fn channel_attrs_json(inp: &mut Input) -> Value {
    let mut m = serde_json::Map::new();
    for _ in 0..inp.u8() % 4 {
        m.insert(
            attr_key(inp),
            json!({"value": attr_value(inp), "last_update_user_id": uid(inp).as_str(),
                   "last_update_ts": inp.u64() % 4_000_000_000_000}),
        );
    }
    Value::Object(m)
}

/// An invitation number: one the client made, or a small one (so that the invitations
pub(crate) fn message_json(inp: &mut Input) -> Value {
    serde_json::to_value(message(inp)).expect("messages serialise")
}
