//! [`RawWs`]: a WebSocket driven by hand, for frames a well-behaved client never sends.

use std::time::Duration;

use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::WebSocketStream;
use futures_lite::StreamExt;
use serde_json::Value;
use smol::net::TcpStream;

use crate::{within, WAIT};

/// A hand-driven WebSocket to the server, for what a well-behaved client never does.
#[derive(Debug)]
pub struct RawWs {
    ws: WebSocketStream<TcpStream>,
}

/// How a raw connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code, `None` if the socket ended without a close frame.
    pub code: Option<u16>,
    pub reason: String,
    /// Text frames that came before the close.
    pub frames: Vec<Value>,
}

impl RawWs {
    /// A WebSocket to `url` (`ws://ADDR` or `ws://ADDR/PATH`: the server takes any path).
    pub async fn connect(url: &str) -> RawWs {
        let addr = url.strip_prefix("ws://").expect("a ws:// URL");
        let addr = addr.split('/').next().unwrap_or(addr);
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (ws, _) = async_tungstenite::client_async(url, stream)
            .await
            .expect("WebSocket handshake");
        RawWs { ws }
    }

    /// A WebSocket whose handshake was done elsewhere.
    pub fn from_stream(ws: WebSocketStream<TcpStream>) -> RawWs {
        RawWs { ws }
    }

    /// Sends one WebSocket frame of any kind, the ones the protocol forbids included.
    pub async fn send(&mut self, frame: WsMessage) {
        self.ws.send(frame).await.expect("send a frame");
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.send(WsMessage::text(text.into())).await;
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.send(WsMessage::binary(data)).await;
    }

    /// The next text frame as JSON (pings and pongs skipped); `None` if the socket closed.
    pub async fn recv_json(&mut self) -> Option<Value> {
        within(WAIT, "a frame from the server", async {
            while let Some(m) = self.ws.next().await {
                match m {
                    Ok(WsMessage::Text(t)) => {
                        return Some(serde_json::from_str(&t).expect("the server sends JSON"))
                    }
                    Ok(WsMessage::Close(_)) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
            None
        })
        .await
    }

    /// Logs in as `uid` with the default app id and returns the `login_ok` frame.
    pub async fn login(&mut self, uid: &str) -> Value {
        let frame = serde_json::json!({
            "type": "login", "id": 1, "version": rtm_proto::wire::PROTOCOL_VERSION,
            "app_id": rtm_proto::server::DEFAULT_APP_ID, "uid": uid,
        });
        self.send_text(frame.to_string()).await;
        let reply = self.recv_json().await.expect("a reply to login");
        assert_eq!(reply["type"], "login_ok", "login refused: {reply}");
        reply
    }

    /// Reads until the server closes; returns the close code and the frames before it.
    pub async fn closed(mut self) -> Closed {
        within(WAIT, "the server to close the connection", async {
            let mut frames = Vec::new();
            while let Some(m) = self.ws.next().await {
                match m {
                    Ok(WsMessage::Text(t)) => {
                        frames.push(serde_json::from_str(&t).unwrap_or(Value::Null))
                    }
                    Ok(WsMessage::Close(frame)) => {
                        return Closed {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                            frames,
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            Closed {
                code: None,
                reason: String::new(),
                frames,
            }
        })
        .await
    }
}

impl RawWs {
    /// Reads until the server's close frame, then keeps reading until the connection ends;
    /// returns the close code and how long the connection stayed up after the close frame.
    pub async fn close_then_end(mut self) -> (Option<u16>, Duration) {
        within(WAIT, "the server to close and end the connection", async {
            let mut code = None;
            let mut closed_at = None;
            while let Some(m) = self.ws.next().await {
                match m {
                    Ok(WsMessage::Close(frame)) => {
                        code = frame.as_ref().map(|f| u16::from(f.code));
                        closed_at = Some(std::time::Instant::now());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let lingered = closed_at.map(|t| t.elapsed()).unwrap_or_default();
            (code, lingered)
        })
        .await
    }
}
