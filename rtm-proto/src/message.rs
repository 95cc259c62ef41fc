//! Peer and channel message bodies (§4.3.1, §6).

use serde::{Deserialize, Serialize};

use crate::media::{MediaKind, MediaMessage};

/// Largest text, or raw bytes plus description, in one message: 32 KB (§9.1).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// `MessageType.TEXT`: UTF-8 text.
    Text { text: String },
    /// `MessageType.RAW`: opaque bytes (base64 on the wire) with an optional description.
    Raw {
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        #[serde(default)]
        description: String,
    },
    /// `MessageType.FILE` (§4.9): a media id with the file's size, name and description.
    /// Boxed, so that a media message does not make every message (and every stream and
    /// offline-store entry) larger.
    File(Box<MediaMessage>),
    /// `MessageType.IMAGE` (§4.9): as a file, with the image's and thumbnail's sizes.
    Image(Box<MediaMessage>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text { text: text.into() }
    }

    /// A raw message.
    pub fn raw(data: impl Into<Vec<u8>>, description: impl Into<String>) -> Self {
        Message::Raw {
            data: data.into(),
            description: description.into(),
        }
    }

    /// The size that counts against [`MAX_MESSAGE_BYTES`].
    pub fn counted_len(&self) -> usize {
        match self {
            Message::Text { text } => text.len(),
            Message::Raw { data, description } => data.len() + description.len(),
            Message::File(media) | Message::Image(media) => media.counted_len(),
        }
    }

    /// FILE or IMAGE, with its media; `None` for text and raw messages.
    pub fn media(&self) -> Option<(MediaKind, &MediaMessage)> {
        match self {
            Message::File(media) => Some((MediaKind::File, &**media)),
            Message::Image(media) => Some((MediaKind::Image, &**media)),
            Message::Text { .. } | Message::Raw { .. } => None,
        }
    }

    /// Non-empty and at most 32 KB (`INVALID_MESSAGE` otherwise).
    pub fn is_valid(&self) -> bool {
        let non_empty = match self {
            Message::Text { text } => !text.is_empty(),
            Message::Raw { data, .. } => !data.is_empty(),
            Message::File(media) => return media.is_valid(MediaKind::File),
            Message::Image(media) => return media.is_valid(MediaKind::Image),
        };
        non_empty && self.counted_len() <= MAX_MESSAGE_BYTES
    }

    /// A 64-bit FNV-1a digest of the kind and content: what the server remembers of a send
    /// to tell a resend (same content) from a reused `msg_id` (other content) without
    /// keeping the message.
    pub fn digest(&self) -> u64 {
        fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h
        }
        // The length goes in before the field, so ("ab", "c") and ("a", "bc") differ.
        let field = |h: u64, bytes: &[u8]| fnv(fnv(h, &(bytes.len() as u64).to_le_bytes()), bytes);
        let h = 0xcbf2_9ce4_8422_2325;
        match self {
            Message::Text { text } => field(fnv(h, b"t"), text.as_bytes()),
            Message::Raw { data, description } => {
                field(field(fnv(h, b"r"), data), description.as_bytes())
            }
            // Every field counts; its JSON is an exact, unambiguous rendering of them.
            Message::File(media) => field(fnv(h, b"f"), &media_json(media)),
            Message::Image(media) => field(fnv(h, b"i"), &media_json(media)),
        }
    }
}

fn media_json(media: &MediaMessage) -> Vec<u8> {
    serde_json::to_vec(media).expect("a media message always serialises")
}

/// Serde helper: `Vec<u8>` as standard base64 text.
pub(crate) mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(Message::text("hi").is_valid());
        assert!(!Message::text("").is_valid());
        assert!(Message::text("x".repeat(MAX_MESSAGE_BYTES)).is_valid());
        assert!(!Message::text("x".repeat(MAX_MESSAGE_BYTES + 1)).is_valid());
        assert!(!Message::raw(vec![], "d").is_valid());
        assert!(!Message::raw(vec![0; MAX_MESSAGE_BYTES], "d").is_valid());
        assert!(Message::raw(vec![0; MAX_MESSAGE_BYTES - 1], "d").is_valid());
    }

    #[test]
    fn digest_tells_kind_and_content_apart() {
        let d = |m: Message| m.digest();
        assert_eq!(d(Message::text("hi")), d(Message::text("hi")));
        assert_ne!(d(Message::text("hi")), d(Message::text("ho")));
        assert_ne!(d(Message::text("hi")), d(Message::raw(b"hi".to_vec(), "")));
        assert_ne!(
            d(Message::raw(b"ab".to_vec(), "c")),
            d(Message::raw(b"a".to_vec(), "bc"))
        );
        let file = MediaMessage {
            media_id: "m1".into(),
            size: 3,
            ..Default::default()
        };
        assert_ne!(
            d(Message::File(Box::new(file.clone()))),
            d(Message::Image(Box::new(file.clone())))
        );
        let renamed = MediaMessage {
            file_name: "a.png".into(),
            ..file.clone()
        };
        assert_ne!(
            d(Message::File(Box::new(file))),
            d(Message::File(Box::new(renamed)))
        );
    }

    #[test]
    fn media_messages_on_the_wire() {
        let image = Message::Image(Box::new(MediaMessage {
            media_id: "m1".into(),
            size: 3,
            thumbnail: vec![1, 2],
            width: 4,
            height: 5,
            ..Default::default()
        }));
        let json = serde_json::to_string(&image).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"image","media_id":"m1","size":3,"thumbnail":"AQI=","width":4,"height":5}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), image);
        let stray = r#"{"kind":"file","media_id":"m1","size":3,"bogus":1}"#;
        assert!(serde_json::from_str::<Message>(stray).is_err());
    }
}
