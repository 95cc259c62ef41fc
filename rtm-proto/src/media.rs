//! File and image messages (§4.9): what both sides know of media.
//!
//! The media itself never travels over the WebSocket. A client uploads it over HTTP on the
//! server's port and gets a media id; a FILE or IMAGE message carries that id with the file's
//! size, name, description and a small thumbnail ([`MediaMessage`]); a receiver downloads by
//! id. Each HTTP request carries a single-use *ticket* the client got over its WebSocket
//! (`media_grant`), so only logged-in sessions move bytes (PROTOCOL.md, "Media over HTTP").
//!
//! This module holds what the client core, the server core and every driver share: the
//! limits, the message body, the error body of the HTTP endpoints, and two pure readers of a
//! file's first bytes — its MIME type ([`sniff_mime`], §4.9 since 1.4.2) and an image's
//! size ([`image_size`], which the SDK fills in unless the application set it).

use serde::{Deserialize, Serialize};

use crate::message::MAX_MESSAGE_BYTES;

/// Largest file or image: 30 MB, counted as 30 MiB (§4.9). Empty files are refused too.
pub const MAX_MEDIA_BYTES: u64 = 30 * 1024 * 1024;

/// How much of a file's start the client core reads to tell an image's size (and a driver
/// to sniff its type): 64 KiB holds the header of every PNG, GIF and BMP and of JPEGs
/// whose metadata segments before the frame header are not larger.
pub const HEAD_BYTES: usize = 64 * 1024;

/// Longest media id accepted anywhere (ours are 32 hex characters).
pub const MAX_MEDIA_ID_BYTES: usize = 64;

/// The paths of the HTTP endpoints: `POST` [`UPLOAD_PATH`]; `GET`/`HEAD`
/// `{DOWNLOAD_PREFIX}{media_id}`.
pub const UPLOAD_PATH: &str = "/v1/media";
/// See [`UPLOAD_PATH`].
pub const DOWNLOAD_PREFIX: &str = "/v1/media/";

/// FILE or IMAGE (`MessageType` 3 and 4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MediaKind {
    File,
    Image,
}

/// The body of a FILE or IMAGE message: where the media is and what the receiver shows
/// before downloading it. Image fields are 0 on a FILE (and left out on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaMessage {
    pub media_id: String,
    /// The media's size in bytes.
    pub size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Made by the application (the SDK never makes or scales one); base64 on the wire.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::message::base64_bytes"
    )]
    pub thumbnail: Vec<u8>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thumbnail_width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub thumbnail_height: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl MediaMessage {
    /// What counts against the message limit: file name, description and thumbnail
    /// together at most 32 KB (§4.3.1).
    pub fn counted_len(&self) -> usize {
        self.file_name.len() + self.description.len() + self.thumbnail.len()
    }

    /// A well-formed media id, a size of 1 byte to 30 MB, the 32 KB limit, and (for a FILE)
    /// no image fields.
    pub fn is_valid(&self, kind: MediaKind) -> bool {
        let image_fields =
            self.width | self.height | self.thumbnail_width | self.thumbnail_height != 0;
        is_valid_media_id(&self.media_id)
            && (1..=MAX_MEDIA_BYTES).contains(&self.size)
            && self.counted_len() <= MAX_MESSAGE_BYTES
            && !(kind == MediaKind::File && image_fields)
    }
}

/// A media id this side would ask for: 1 to [`MAX_MEDIA_ID_BYTES`] ASCII letters, digits,
/// `-` or `_` (it goes into a URL path unescaped). Whether it exists is the server's to say.
pub fn is_valid_media_id(id: &str) -> bool {
    (1..=MAX_MEDIA_ID_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The MIME type of a file from its first bytes: png, gif, pdf, jpeg and zip (what the
/// 1.4.2 Web SDK tells apart), otherwise `application/octet-stream`.
pub fn sniff_mime(head: &[u8]) -> &'static str {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"), // an empty archive
        (b"PK\x07\x08", "application/zip"), // a spanned archive
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map_or("application/octet-stream", |(_, mime)| mime)
}

/// An image's width and height from its first bytes, for PNG, JPEG, BMP and GIF; `None`
/// for anything else or a header cut short (the SDK then reports 0 × 0).
pub fn image_size(head: &[u8]) -> Option<(u32, u32)> {
    let le16 = |at: usize| Some(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?));
    let be32 = |at: usize| Some(u32::from_be_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let le_i32 = |at: usize| Some(i32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let size = match sniff_mime(head) {
        // The IHDR chunk comes first: width and height at 16 and 20.
        "image/png" => (be32(16)?, be32(20)?),
        "image/gif" => (u32::from(le16(6)?), u32::from(le16(8)?)),
        "image/jpeg" => jpeg_size(head)?,
        // BITMAPINFOHEADER (or larger): signed width and height (negative height = top-down).
        _ if head.starts_with(b"BM") && le_i32(14)? >= 40 => {
            (le_i32(18)?.unsigned_abs(), le_i32(22)?.unsigned_abs())
        }
        // BITMAPCOREHEADER (OS/2 1.x): 16-bit fields.
        _ if head.starts_with(b"BM") && le_i32(14)? == 12 => {
            (u32::from(le16(18)?), u32::from(le16(20)?))
        }
        _ => return None,
    };
    (size.0 > 0 && size.1 > 0).then_some(size)
}

/// Walks JPEG segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG and DAC).
fn jpeg_size(head: &[u8]) -> Option<(u32, u32)> {
    let be16 = |at: usize| Some(u16::from_be_bytes(head.get(at..at + 2)?.try_into().ok()?));
    let mut at = 2; // after SOI
    loop {
        // Markers may be padded with 0xff fill bytes.
        while *head.get(at)? == 0xff && *head.get(at + 1)? == 0xff {
            at += 1;
        }
        if *head.get(at)? != 0xff {
            return None;
        }
        let marker = *head.get(at + 1)?;
        match marker {
            // Standalone markers: no length.
            0x01 | 0xd0..=0xd7 => at += 2,
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => {
                // SOFn: length, precision, height, width.
                let height = be16(at + 5)?;
                let width = be16(at + 7)?;
                return Some((u32::from(width), u32::from(height)));
            }
            // Start of scan without a frame header first, or end of image: no size.
            0xda | 0xd9 => return None,
            _ => at += 2 + usize::from(be16(at + 2)?),
        }
    }
}

/// The body of every refusal of the media endpoints, with the HTTP status beside it; the
/// client core maps `error` to a §8.14 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRefusal {
    pub error: RefusalReason,
    pub message: String,
}

/// Why a media request was refused, with its HTTP status ([`RefusalReason::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// 400: a malformed request (an empty body, a body of another length than declared).
    BadRequest,
    /// 401: no ticket, or one that is unknown, used, expired or of an ended session.
    Unauthorized,
    /// 404: no such media id (never uploaded, or expired).
    NotExist,
    /// 411: an upload without `Content-Length`.
    LengthRequired,
    /// 413: larger than 30 MB.
    SizeOverflow,
    /// 429: the user already has 9 transfers running.
    ConcurrencyLimitExceeded,
    /// 503: the server's transfer table is full.
    Busy,
    /// 503: the media's record could not be stored.
    NotStored,
    /// 507: the user's quota or the server's media budget is used up.
    QuotaExceeded,
    /// Any other status a proxy or an older server might answer.
    #[serde(other)]
    Other,
}

impl RefusalReason {
    /// The HTTP status this reason is answered with.
    pub fn status(self) -> u16 {
        match self {
            RefusalReason::BadRequest => 400,
            RefusalReason::Unauthorized => 401,
            RefusalReason::NotExist => 404,
            RefusalReason::LengthRequired => 411,
            RefusalReason::SizeOverflow => 413,
            RefusalReason::ConcurrencyLimitExceeded => 429,
            RefusalReason::Busy | RefusalReason::NotStored => 503,
            RefusalReason::QuotaExceeded => 507,
            RefusalReason::Other => 500,
        }
    }
}

impl MediaRefusal {
    /// A refusal with its words.
    pub fn new(error: RefusalReason, message: impl Into<String>) -> Self {
        MediaRefusal {
            error,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> bytes::Bytes {
        serde_json::to_vec(self)
            .expect("a refusal always serialises")
            .into()
    }

    /// Reads a refusal body; a body that is not one (a proxy's page) is `Other` with the
    /// status in its words.
    pub fn parse(status: u16, body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            MediaRefusal::new(RefusalReason::Other, format!("HTTP status {status}"))
        })
    }
}

/// The body of a successful upload (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub media_id: String,
    pub size: u64,
    pub mime: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        v.extend_from_slice(&width.to_be_bytes());
        v.extend_from_slice(&height.to_be_bytes());
        v.extend_from_slice(&[8, 6, 0, 0, 0]);
        v
    }

    #[test]
    fn sniffs_the_five_types() {
        assert_eq!(sniff_mime(&png(1, 1)), "image/png");
        assert_eq!(sniff_mime(b"GIF89a\x01\0\x01\0"), "image/gif");
        assert_eq!(sniff_mime(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff_mime(b"\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
        assert_eq!(sniff_mime(b"PK\x03\x04\x14\0"), "application/zip");
        assert_eq!(sniff_mime(b"hello"), "application/octet-stream");
        assert_eq!(sniff_mime(b""), "application/octet-stream");
    }

    #[test]
    fn image_sizes() {
        assert_eq!(image_size(&png(640, 480)), Some((640, 480)));
        assert_eq!(image_size(&png(640, 480)[..20]), None, "cut short");
        assert_eq!(image_size(b"GIF89a\x20\x03\x58\x02"), Some((800, 600)));
        // A JPEG with an APP0 segment, then SOF0 (height 0x01e0 = 480, width 0x0280 = 640).
        let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xc0\0\x11\x08\x01\xe0\x02\x80\x03";
        assert_eq!(image_size(jpeg), Some((640, 480)));
        // A JPEG whose DHT (0xc4) comes before the frame header is not mistaken for one.
        let dht = b"\xff\xd8\xff\xc4\0\x04\0\0\xff\xc2\0\x11\x08\0\x10\0\x20\x03";
        assert_eq!(image_size(dht), Some((32, 16)));
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 12]);
        bmp.extend_from_slice(&40i32.to_le_bytes());
        bmp.extend_from_slice(&300i32.to_le_bytes());
        bmp.extend_from_slice(&(-200i32).to_le_bytes());
        assert_eq!(image_size(&bmp), Some((300, 200)));
        assert_eq!(image_size(b"%PDF-1.7"), None);
        assert_eq!(image_size(&png(0, 10)), None, "no empty images");
    }

    #[test]
    fn hostile_heads_never_panic() {
        for len in 0..64 {
            let mut v = vec![0xffu8; len];
            if len > 1 {
                v[1] = 0xd8;
            }
            let _ = image_size(&v);
            let _ = image_size(&[b'B', b'M'].repeat(len));
        }
        // A segment length that points past the end.
        assert_eq!(image_size(b"\xff\xd8\xff\xe1\xff\xff"), None);
    }

    #[test]
    fn media_message_limits() {
        let m = MediaMessage {
            media_id: "0123abcd".into(),
            size: 10,
            ..Default::default()
        };
        assert!(m.is_valid(MediaKind::File));
        let too_big = MediaMessage {
            size: MAX_MEDIA_BYTES + 1,
            ..m.clone()
        };
        assert!(!too_big.is_valid(MediaKind::File));
        let empty = MediaMessage {
            size: 0,
            ..m.clone()
        };
        assert!(!empty.is_valid(MediaKind::File));
        let sized = MediaMessage {
            width: 3,
            ..m.clone()
        };
        assert!(sized.is_valid(MediaKind::Image));
        assert!(!sized.is_valid(MediaKind::File));
        let thumb = MediaMessage {
            thumbnail: vec![0; MAX_MESSAGE_BYTES],
            file_name: "x".into(),
            ..m.clone()
        };
        assert!(!thumb.is_valid(MediaKind::Image));
        assert!(!is_valid_media_id("../etc"));
        assert!(!is_valid_media_id(""));
        assert!(!is_valid_media_id(&"a".repeat(MAX_MEDIA_ID_BYTES + 1)));
    }

    #[test]
    fn refusals_round_trip() {
        let r = MediaRefusal::new(RefusalReason::NotExist, "no such media");
        assert_eq!(MediaRefusal::parse(404, &r.to_json()), r);
        assert_eq!(
            MediaRefusal::parse(502, b"<html>bad gateway</html>").error,
            RefusalReason::Other
        );
        assert_eq!(
            MediaRefusal::parse(500, br#"{"error":"new_thing","message":"m"}"#).error,
            RefusalReason::Other
        );
    }
}
