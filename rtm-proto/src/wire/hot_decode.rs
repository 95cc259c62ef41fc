//! The frames every message crosses, read straight from their bytes when they have the
//! exact shape every encoder here writes.
//!
//! serde's internally tagged enum first buffers a whole frame into a generic content tree
//! and then decodes it again from there; with the nested tagged `message` that was a third
//! of the core's cost of a routed peer message (callgrind, `rtm-bench core`). Frames of the
//! message path — `ack`, `ping`, `peer_message` and `channel_message` of a text — are
//! almost always written by our own clients, fields in declaration order, no whitespace.
//! This reader accepts exactly that shape and nothing else: any other byte where it expects
//! one (another field order, whitespace, a number with a sign or exponent, a media
//! message, an unknown field) returns `None`, and the frame takes the general path, which
//! decodes it or refuses it with its reason. So this path never accepts a frame the general
//! path refuses, and gives the same frame for the ones it accepts (a test in
//! `wire/tests.rs` checks both over random and mutated frames). Ids are validated by their
//! types as everywhere; strings with escapes are unescaped by serde_json.

use std::borrow::Cow;

use super::client::ClientFrame;
use crate::ids::{ChannelId, UserId};
use crate::message::Message;

/// `bytes` decoded on the direct path, or `None` for the general path.
pub(super) fn decode(bytes: &[u8]) -> Option<ClientFrame> {
    let mut r = Reader { bytes, at: 0 };
    let frame = match super::frame_type(bytes) {
        b"ack" => {
            r.literal(br#"{"type":"ack","seq":"#)?;
            ClientFrame::Ack { seq: r.number()? }
        }
        b"ping" => {
            r.literal(br#"{"type":"ping""#)?;
            ClientFrame::Ping {}
        }
        b"peer_message" => {
            r.literal(br#"{"type":"peer_message","id":"#)?;
            let id = r.request_id()?;
            r.literal(br#","to":"#)?;
            let to = UserId::try_from(&*r.string()?).ok()?;
            r.literal(br#","msg_id":"#)?;
            let msg_id = r.number()?;
            r.literal(br#","message":"#)?;
            let message = r.text_message()?;
            let offline = if r.literal(br#","offline":"#).is_some() {
                r.boolean()?
            } else {
                false
            };
            ClientFrame::PeerMessage {
                id,
                to,
                msg_id,
                message,
                offline,
            }
        }
        b"channel_message" => {
            r.literal(br#"{"type":"channel_message","id":"#)?;
            let id = r.request_id()?;
            r.literal(br#","channel":"#)?;
            let channel = ChannelId::try_from(&*r.string()?).ok()?;
            r.literal(br#","msg_id":"#)?;
            let msg_id = r.number()?;
            r.literal(br#","message":"#)?;
            let message = r.text_message()?;
            ClientFrame::ChannelMessage {
                id,
                channel,
                msg_id,
                message,
            }
        }
        _ => return None,
    };
    r.literal(b"}")?;
    r.end()?;
    Some(frame)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        rest.starts_with(expected)
            .then(|| self.at += expected.len())
    }

    fn end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }

    /// An unsigned integer as JSON writes one: `0`, or digits without a leading zero,
    /// within `u64`.
    fn number(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.at..)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        let mut n: u64 = 0;
        for &d in &rest[..digits] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        // A fraction or exponent would make it a float: the general path's to refuse.
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += digits;
        Some(n)
    }

    fn request_id(&mut self) -> Option<u32> {
        u32::try_from(self.number()?).ok()
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }

    /// A JSON string: borrowed when it has no escapes, else unescaped by serde_json.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.bytes;
        let start = self.at;
        if bytes.get(start) != Some(&b'"') {
            return None;
        }
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            match *bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                // Control characters must be escaped in JSON.
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        if escaped {
            serde_json::from_slice::<String>(&bytes[start..=i])
                .ok()
                .map(Cow::Owned)
        } else {
            std::str::from_utf8(&bytes[start + 1..i])
                .ok()
                .map(Cow::Borrowed)
        }
    }

    /// `{"kind":"text","text":"…"}`.
    fn text_message(&mut self) -> Option<Message> {
        self.literal(br#"{"kind":"text","text":"#)?;
        let text = self.string()?.into_owned();
        self.literal(b"}")?;
        Some(Message::Text { text })
    }
}
