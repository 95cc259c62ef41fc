//! `frame_decode`: the wire codec on arbitrary bytes.

use bytes::Bytes;
use rtm_proto::wire::{ClientFrame, DecodeError, ServerFrame};

/// Decoding never panics; decodable frames survive `decode(encode(f))` unchanged, and
/// encoding is canonical.
pub fn frame_decode(data: &[u8]) {
    round_trip(
        "ClientFrame",
        data,
        ClientFrame::decode,
        ClientFrame::encode,
    );
    round_trip(
        "ServerFrame",
        data,
        ServerFrame::decode,
        ServerFrame::encode,
    );
}

/// The contract of one direction's codec (`name`) on `data`.
fn round_trip<F: PartialEq + std::fmt::Debug>(
    name: &str,
    data: &[u8],
    decode: fn(&[u8]) -> Result<F, DecodeError>,
    encode: fn(&F) -> Bytes,
) {
    let Ok(f) = decode(data) else { return };
    let enc = encode(&f);
    let back = decode(&enc).unwrap_or_else(|e| {
        panic!(
            "an encoded {name} does not decode ({e}): {}",
            String::from_utf8_lossy(&enc)
        )
    });
    assert_eq!(back, f, "{name} changed in a round trip");
    assert_eq!(encode(&back), enc, "{name} encoding is not canonical");
}
