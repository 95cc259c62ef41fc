//! One browser `WebSocket` per transport the core asks for.

use rtm_proto::wire::close;
use rtm_proto::TransportId;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// Bytes the browser may hold unsent on one socket before the link counts as too slow:
/// four of the largest frames. Past it the driver drops the socket, as the native driver
/// does when its write buffer is full.
pub(crate) const MAX_BUFFERED: u32 = 1024 * 1024;

/// What a socket reports to the driver.
pub(crate) enum SocketEvent {
    Opened,
    Frame(bytes::Bytes),
    Closed,
}

/// An open (or opening) socket and the handlers that must live as long as it.
pub(crate) struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(JsValue)>,
}

impl Socket {
    /// Opens `url`; every event goes to `report` with this transport's id. Fails (as the
    /// browser does for a malformed URL) with the exception's text.
    pub(crate) fn open(
        url: &str,
        transport: TransportId,
        report: impl Fn(TransportId, SocketEvent) + Clone + 'static,
    ) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let r = report.clone();
        let on_open =
            Closure::<dyn FnMut(JsValue)>::new(move |_| r(transport, SocketEvent::Opened));
        let r = report.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            let bytes = match data.as_string() {
                Some(text) => bytes::Bytes::from(text.into_bytes()),
                // The protocol is text frames only; a binary frame goes to the core as it
                // is, which refuses it like any other malformed frame.
                None => bytes::Bytes::from(js_sys::Uint8Array::new(&data).to_vec()),
            };
            r(transport, SocketEvent::Frame(bytes));
        });
        // `error` is always followed by `close`, so `close` alone reports the end.
        let r = report;
        let on_close =
            Closure::<dyn FnMut(JsValue)>::new(move |_| r(transport, SocketEvent::Closed));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one text frame. `false` when the link is gone or too slow: the caller drops
    /// the socket and reports it closed.
    pub(crate) fn send(&self, frame: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(frame) else {
            // The core encodes JSON: not reachable, but never send a corrupted frame.
            return false;
        };
        self.ws.send_with_str(text).is_ok() && self.ws.buffered_amount() <= MAX_BUFFERED
    }

    /// Closes with `code`, mapped into what a script may send.
    pub(crate) fn close(&self, code: u16) {
        let (code, reason) = script_close_code(code);
        let _ = self.ws.close_with_code_and_reason(code, &reason);
    }
}

impl Drop for Socket {
    /// Detaches the handlers first: the browser may still fire events after the driver has
    /// let go, and a dropped `Closure` must never be called.
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close_with_code(close::NORMAL);
        }
    }
}

/// Browsers let a script close with 1000 or 3000–4999 only (any other code throws). The
/// core's other codes (1001 going away, 1009 too big) close with 1000 and keep the core's
/// code in the reason, where the server's logs show it.
pub(crate) fn script_close_code(code: u16) -> (u16, String) {
    match code {
        close::NORMAL | 3000..=4999 => (code, String::new()),
        other => (close::NORMAL, format!("rtm close code {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_a_script_may_not_send_become_normal_with_the_code_in_the_reason() {
        assert_eq!(script_close_code(1000), (1000, String::new()));
        assert_eq!(
            script_close_code(close::HEARTBEAT_TIMEOUT),
            (close::HEARTBEAT_TIMEOUT, String::new())
        );
        assert_eq!(
            script_close_code(close::GOING_AWAY),
            (1000, "rtm close code 1001".to_string())
        );
        assert_eq!(
            script_close_code(close::TOO_BIG),
            (1000, "rtm close code 1009".to_string())
        );
    }
}
