//! File and image messages (§4.9) between the SDK's JavaScript objects and the core's types.
//!
//! The SDK hands over plain objects: `createMediaMessageByUploading`'s parameters (with the
//! source's size and first bytes) and the FILE / IMAGE messages an app sends. Their fields
//! are read here as the core's types; a field of the wrong JavaScript type makes the whole
//! object invalid (the caller's INVALID_ARGUMENT or INVALID_MESSAGE). What the values may be
//! — sizes, lengths, ids — is the core's to check.

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
    let f = Fields(value);
    let kind = match f.string("messageType").ok()?.as_str() {
        "" | "FILE" => MediaKind::File,
        "IMAGE" => MediaKind::Image,
        _ => return None,
    };
    Some(MediaUpload {
        kind,
        size: f.u64("size").ok()??,
        head: Bytes::from(f.bytes("head").ok()?),
        file_name: f.string("fileName").ok()?,
        description: f.string("description").ok()?,
        thumbnail: f.bytes("thumbnail").ok()?,
        width: f.u32("width").ok()?,
        height: f.u32("height").ok()?,
        thumbnail_width: f.u32("thumbnailWidth").ok()?.unwrap_or(0),
        thumbnail_height: f.u32("thumbnailHeight").ok()?.unwrap_or(0),
    })
}

/// A FILE or IMAGE message from the SDK's object (`messageType`, `mediaId`, `size`,
/// `fileName`, `description`, `thumbnail` as a `Uint8Array`, and on an IMAGE `width`,
/// `height`, `thumbnailWidth`, `thumbnailHeight`); `None` if a field has the wrong type.
pub(crate) fn message(value: &JsValue) -> Option<Message> {
    let f = Fields(value);
    let media = MediaMessage {
        media_id: f.string("mediaId").ok()?,
        size: f.u64("size").ok()?.unwrap_or(0),
        file_name: f.string("fileName").ok()?,
        description: f.string("description").ok()?,
        thumbnail: f.bytes("thumbnail").ok()?,
        width: f.u32("width").ok()?.unwrap_or(0),
        height: f.u32("height").ok()?.unwrap_or(0),
        thumbnail_width: f.u32("thumbnailWidth").ok()?.unwrap_or(0),
        thumbnail_height: f.u32("thumbnailHeight").ok()?.unwrap_or(0),
    };
    match f.string("messageType").ok()?.as_str() {
        "FILE" => Some(Message::File(Box::new(media))),
        "IMAGE" => Some(Message::Image(Box::new(media))),
        _ => None,
    }
}

/// Reads the fields of one JavaScript object.
pub(crate) struct Fields<'a>(pub(crate) &'a JsValue);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<JsValue> {
        if !self.0.is_object() {
            return None;
        }
        let v = js_sys::Reflect::get(self.0, &JsValue::from_str(key)).ok()?;
        (!v.is_undefined() && !v.is_null()).then_some(v)
    }

    /// A string field; absent is `""`.
    pub(crate) fn string(&self, key: &str) -> Result<String, ()> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(v) => v.as_string().ok_or(()),
        }
    }

    /// A whole-number field that fits in `u64` (and in a JavaScript number exactly).
    pub(crate) fn u64(&self, key: &str) -> Result<Option<u64>, ()> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().and_then(whole).map(Some).ok_or(()),
        }
    }

    pub(crate) fn u32(&self, key: &str) -> Result<Option<u32>, ()> {
        match self.u64(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| ()),
        }
    }

    /// A `Uint8Array` field; absent is empty.
    pub(crate) fn bytes(&self, key: &str) -> Result<Vec<u8>, ()> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => v
                .dyn_into::<js_sys::Uint8Array>()
                .map(|a| a.to_vec())
                .map_err(|_| ()),
        }
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
