//! The frames every message crosses, written straight into their bytes.
//!
//! serde's derive writes an internally tagged variant through its generic map machinery:
//! every key is escaped, every field goes through a trait call, and the buffer grows from
//! empty. For the `message` and `channel_message` pushes of a text and the
//! `peer_message_result` reply that was a fifth of the core's cost of a routed peer message
//! (callgrind, `rtm-bench core`). Here the keys are literals and only the values are
//! escaped (by serde_json, as the general path escapes them). The output is byte for byte
//! what the general path writes — the field order of the enums, the same escapes — and a
//! test in `wire/tests.rs` checks that over random contents. Every other frame, and media
//! and raw messages, take the general path.

use bytes::Bytes;

use super::server::{Push, Reply};
use crate::ids::UserId;
use crate::message::Message;

/// `push` written directly, or `None` for the general path.
pub(super) fn push(push: &Push) -> Option<Bytes> {
    match push {
        Push::Message {
            from,
            msg_id,
            message,
            server_ts,
            offline,
        } => message_push(from, *msg_id, message, *server_ts, *offline),
        Push::ChannelMessage {
            channel,
            epoch,
            cseq,
            from,
            message: Message::Text { text },
            server_ts,
        } => {
            let room = 200 + channel.as_str().len() + from.as_str().len() + text.len();
            let mut w = Writer::with_room(room);
            w.raw(br#"{"type":"channel_message","channel":"#);
            w.string(channel.as_str());
            w.raw(br#","epoch":"#);
            w.number(*epoch);
            w.raw(br#","cseq":"#);
            w.number(*cseq);
            w.raw(br#","from":"#);
            w.string(from.as_str());
            w.raw(br#","message":{"kind":"text","text":"#);
            w.string(text);
            w.raw(br#"},"server_ts":"#);
            w.number(*server_ts);
            w.raw(b"}");
            Some(w.finish())
        }
        _ => None,
    }
}

/// A `message` push of a text written directly from borrowed parts (the server keeps the
/// message itself for a resend), or `None` for the general path.
pub(super) fn message_push(
    from: &UserId,
    msg_id: u64,
    message: &Message,
    server_ts: u64,
    offline: bool,
) -> Option<Bytes> {
    let Message::Text { text } = message else {
        return None;
    };
    // The fixed parts are ~110 bytes, the two numbers up to 40.
    let mut w = Writer::with_room(160 + from.as_str().len() + text.len());
    w.raw(br#"{"type":"message","from":"#);
    w.string(from.as_str());
    w.raw(br#","msg_id":"#);
    w.number(msg_id);
    w.raw(br#","message":{"kind":"text","text":"#);
    w.string(text);
    w.raw(br#"},"server_ts":"#);
    w.number(server_ts);
    w.raw(if offline {
        br#","offline":true}"#.as_slice()
    } else {
        br#","offline":false}"#.as_slice()
    });
    Some(w.finish())
}

/// `reply` written directly, or `None` for the general path.
pub(super) fn reply(reply: &Reply) -> Option<Bytes> {
    match reply {
        Reply::PeerMessageResult { id, outcome } => {
            let mut w = Writer::with_room(72);
            w.raw(br#"{"type":"peer_message_result","id":"#);
            w.number(u64::from(*id));
            w.raw(br#","outcome":""#);
            w.raw(outcome.as_str().as_bytes());
            w.raw(br#""}"#);
            Some(w.finish())
        }
        _ => None,
    }
}

/// A frame's bytes, allocated once at their expected size.
struct Writer(Vec<u8>);

impl Writer {
    fn with_room(bytes: usize) -> Self {
        Writer(Vec::with_capacity(bytes))
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A JSON string, escaped exactly as serde_json escapes one.
    fn string(&mut self, s: &str) {
        serde_json::to_writer(&mut self.0, s).expect("writing to a Vec cannot fail");
    }

    fn number(&mut self, n: u64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    fn finish(self) -> Bytes {
        Bytes::from(self.0)
    }
}
