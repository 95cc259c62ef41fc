//! File and image messages (§4.9) between the SDK's JavaScript objects and the core's types.
//!
//! The SDK hands over plain objects: `createMediaMessageByUploading`'s parameters (with the
//! source's size and first bytes) and the FILE / IMAGE messages an app sends. Their fields
//! are read here as the core's types; a field of the wrong JavaScript type makes the whole
//! object invalid (the caller's INVALID_ARGUMENT or INVALID_MESSAGE). What the values may be
//! — sizes, lengths, ids — is the core's to check.

use std::cell::Cell;

use bytes::Bytes;
use rtm_proto::client::MediaUpload;
use rtm_proto::media::{MediaKind, MediaMessage};
use rtm_proto::Message;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `createMediaMessageByUploading`'s parameters (`messageType` `'FILE'` — the default — or
/// `'IMAGE'`, `fileName`, `description`, `thumbnail` as a `Uint8Array`, `width`, `height`,
/// `thumbnailWidth`, `thumbnailHeight`) with the source's `size` and first bytes (`head`);
/// `None` if a field has the wrong type (a `size` that is no size: the source is no Blob).
pub(crate) fn upload(value: &JsValue) -> Option<MediaUpload> {
    let f = Fields::new(value);
    let kind = match f.string("messageType").as_str() {
        "" | "FILE" => MediaKind::File,
        "IMAGE" => MediaKind::Image,
        _ => return None,
    };
    // The size is the one field that must be there.
    let size = f.u64("size")?;
    let upload = MediaUpload {
        kind,
        size,
        head: Bytes::from(f.bytes("head")),
        file_name: f.string("fileName"),
        description: f.string("description"),
        thumbnail: f.bytes("thumbnail"),
        width: f.u32("width"),
        height: f.u32("height"),
        thumbnail_width: f.u32("thumbnailWidth").unwrap_or(0),
        thumbnail_height: f.u32("thumbnailHeight").unwrap_or(0),
    };
    f.valid(upload)
}

/// A FILE or IMAGE message from the SDK's object (`messageType`, `mediaId`, `size`,
/// `fileName`, `description`, `thumbnail` as a `Uint8Array`, and on an IMAGE `width`,
/// `height`, `thumbnailWidth`, `thumbnailHeight`); `None` if a field has the wrong type.
pub(crate) fn message(value: &JsValue) -> Option<Message> {
    let f = Fields::new(value);
    let image = match f.string("messageType").as_str() {
        "FILE" => false,
        "IMAGE" => true,
        _ => return None,
    };
    let media = Box::new(MediaMessage {
        media_id: f.string("mediaId"),
        size: f.u64("size").unwrap_or(0),
        file_name: f.string("fileName"),
        description: f.string("description"),
        thumbnail: f.bytes("thumbnail"),
        width: f.u32("width").unwrap_or(0),
        height: f.u32("height").unwrap_or(0),
        thumbnail_width: f.u32("thumbnailWidth").unwrap_or(0),
        thumbnail_height: f.u32("thumbnailHeight").unwrap_or(0),
    });
    f.valid(if image {
        Message::Image(media)
    } else {
        Message::File(media)
    })
}

/// Reads the fields of one JavaScript object: an absent field (`undefined` or `null`) is
/// empty; one of the wrong type reads as empty too and marks the object invalid (one check
/// at the end rather than one exit per field keeps the code small: this module is shipped
/// to every browser).
struct Fields<'a> {
    value: &'a JsValue,
    bad: Cell<bool>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a JsValue) -> Self {
        Fields {
            value,
            bad: Cell::new(!value.is_object()),
        }
    }

    fn get(&self, key: &str) -> Option<JsValue> {
        if self.bad.get() {
            return None;
        }
        let v = js_sys::Reflect::get(self.value, &JsValue::from_str(key)).ok()?;
        (!v.is_undefined() && !v.is_null()).then_some(v)
    }

    fn bad<T: Default>(&self) -> T {
        self.bad.set(true);
        T::default()
    }

    fn string(&self, key: &str) -> String {
        match self.get(key) {
            None => String::new(),
            Some(v) => v.as_string().unwrap_or_else(|| self.bad()),
        }
    }

    /// A whole number that fits in `u64` (and in a JavaScript number exactly).
    fn u64(&self, key: &str) -> Option<u64> {
        let n = self.get(key)?.as_f64().and_then(whole);
        n.or_else(|| self.bad())
    }

    fn u32(&self, key: &str) -> Option<u32> {
        let n = u32::try_from(self.u64(key)?).ok();
        n.or_else(|| self.bad())
    }

    /// A `Uint8Array`.
    fn bytes(&self, key: &str) -> Vec<u8> {
        match self.get(key).map(JsCast::dyn_into::<js_sys::Uint8Array>) {
            None => Vec::new(),
            Some(Ok(a)) => a.to_vec(),
            Some(Err(_)) => self.bad(),
        }
    }

    /// `t`, unless a field had the wrong type.
    fn valid<T>(&self, t: T) -> Option<T> {
        (!self.bad.get()).then_some(t)
    }
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// `n` as a `u64` if it is a whole number in `0..=2^53-1`.
pub(crate) fn whole(n: f64) -> Option<u64> {
    ((0.0..=MAX_SAFE_INTEGER).contains(&n) && n.fract() == 0.0).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_safe_non_negative_numbers_are_sizes() {
        assert_eq!(whole(0.0), Some(0));
        assert_eq!(whole(31_457_280.0), Some(31_457_280));
        assert_eq!(whole(MAX_SAFE_INTEGER), Some(9_007_199_254_740_991));
        for bad in [
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            MAX_SAFE_INTEGER + 2.0,
        ] {
            assert_eq!(whole(bad), None, "{bad}");
        }
    }
}
