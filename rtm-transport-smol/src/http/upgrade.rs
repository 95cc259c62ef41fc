//! The WebSocket opening handshake (RFC 6455 §4.2) on top of hyper: a request with
//! `Upgrade: websocket`, at any path, is checked and answered `101 Switching Protocols`; once
//! hyper has written that answer it hands back the socket, which becomes the connection's
//! [`WebSocketStream`].

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::WebSocketStream;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::Answer;
use crate::tls::Stream;
use smol_hyper::rt::FuturesIo;

/// Whether the request asks for a WebSocket: its `Upgrade` header names `websocket`. Such a
/// request is answered here whatever its path; any other goes to the static files.
pub(super) fn is_websocket(headers: &HeaderMap) -> bool {
    has_token(headers, &UPGRADE, "websocket")
}

/// Whether one of the `name` headers, a comma-separated list, has `token` (any case).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Answers a WebSocket upgrade request. Accepted: the `101` response and the future that
/// yields the socket once hyper has sent it. Refused: a `400` saying why (with
/// `Sec-WebSocket-Version: 13` when the version was the problem), and no future.
pub(super) fn accept(req: &mut Request<Incoming>, has_body: bool) -> (Answer, Option<OnUpgrade>) {
    let accept_key = match check(req, has_body) {
        Ok(accept_key) => accept_key,
        Err(why) => {
            let mut refusal = refusal(StatusCode::BAD_REQUEST, why);
            if why == BAD_VERSION {
                refusal
                    .headers_mut()
                    .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            }
            return (refusal, None);
        }
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(SEC_WEBSOCKET_ACCEPT, accept_key);
    (response, Some(hyper::upgrade::on(req)))
}

/// An upgrade refused with `status`, and why in plain text.
pub(super) fn refusal(status: StatusCode, why: &'static str) -> Answer {
    let mut refusal = Response::new(Full::new(Bytes::from_static(why.as_bytes())));
    *refusal.status_mut() = status;
    refusal.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    refusal
}

const BAD_VERSION: &str = "unsupported Sec-WebSocket-Version: this server speaks 13";

/// The `Sec-WebSocket-Accept` for a valid upgrade request, or why it is not valid.
fn check(req: &Request<Incoming>, has_body: bool) -> Result<HeaderValue, &'static str> {
    let headers = req.headers();
    if req.method() != Method::GET {
        return Err("a WebSocket upgrade must be a GET request");
    }
    if req.version() != Version::HTTP_11 {
        return Err("a WebSocket upgrade needs HTTP/1.1");
    }
    if has_body {
        return Err("a WebSocket upgrade has no body");
    }
    if !has_token(headers, &CONNECTION, "upgrade") {
        return Err("a WebSocket upgrade needs Connection: Upgrade");
    }
    let versions: Vec<&HeaderValue> = headers.get_all(SEC_WEBSOCKET_VERSION).iter().collect();
    if versions.len() != 1 || versions[0] != "13" {
        return Err(BAD_VERSION);
    }
    let keys: Vec<&HeaderValue> = headers.get_all(SEC_WEBSOCKET_KEY).iter().collect();
    match keys.as_slice() {
        [key] if valid_key(key.as_bytes()) => {
            Ok(HeaderValue::try_from(derive_accept_key(key.as_bytes()))
                .expect("base64 is a valid header"))
        }
        _ => Err("missing or malformed Sec-WebSocket-Key"),
    }
}

/// RFC 6455 §4.1: the key is 16 random bytes, base64-encoded.
fn valid_key(key: &[u8]) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|bytes| bytes.len() == 16)
}

/// The WebSocket over an upgraded connection. hyper gives back the very stream it was
/// given, so the link runs on the bare `TcpStream` (or TLS over it), as it did before HTTP
/// came in front of it; bytes the client sent after its request, before our `101`, are
/// read first.
pub(super) async fn websocket(
    upgraded: Upgraded,
    config: WebSocketConfig,
) -> Option<WebSocketStream<Stream>> {
    let parts = match upgraded.downcast::<FuturesIo<Stream>>() {
        Ok(parts) => parts,
        Err(_) => {
            debug_assert!(false, "every connection is served on a FuturesIo<Stream>");
            return None;
        }
    };
    let stream = parts.io.into_inner();
    let ws = if parts.read_buf.is_empty() {
        WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
    } else {
        let early = parts.read_buf.to_vec();
        WebSocketStream::from_partially_read(stream, early, Role::Server, Some(config)).await
    };
    Some(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sixteen_bytes_of_base64() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key(b"dGhlIHNhbXBsZQ=="));
        assert!(!valid_key(b"not base64!"));
        assert!(!valid_key(b""));
    }

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_and_connection_headers_are_token_lists() {
        let mut h = HeaderMap::new();
        h.append(UPGRADE, HeaderValue::from_static("h2c, WebSocket"));
        h.append(CONNECTION, HeaderValue::from_static("keep-alive"));
        h.append(CONNECTION, HeaderValue::from_static("Upgrade"));
        assert!(is_websocket(&h));
        assert!(has_token(&h, &CONNECTION, "upgrade"));
        assert!(!has_token(&h, &CONNECTION, "close"));
    }
}
