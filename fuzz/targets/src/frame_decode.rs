//! `frame_decode`: the wire codec on arbitrary bytes.

use rtm_proto::wire::{ClientFrame, ServerFrame};

/// Decoding never panics; decodable frames survive `decode(encode(f))` unchanged, and
/// encoding is canonical.
pub fn frame_decode(data: &[u8]) {
    if let Ok(f) = ClientFrame::decode(data) {
        let enc = f.encode();
        let back = ClientFrame::decode(&enc).unwrap_or_else(|e| {
            panic!(
                "an encoded ClientFrame does not decode ({e}): {}",
                String::from_utf8_lossy(&enc)
            )
        });
        assert_eq!(back, f, "ClientFrame changed in a round trip");
        assert_eq!(back.encode(), enc, "ClientFrame encoding is not canonical");
    }
    if let Ok(f) = ServerFrame::decode(data) {
        let enc = f.encode();
        let back = ServerFrame::decode(&enc).unwrap_or_else(|e| {
            panic!(
                "an encoded ServerFrame does not decode ({e}): {}",
                String::from_utf8_lossy(&enc)
            )
        });
        assert_eq!(back, f, "ServerFrame changed in a round trip");
        assert_eq!(back.encode(), enc, "ServerFrame encoding is not canonical");
    }
}
