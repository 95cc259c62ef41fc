//! REST calls for the tests: hyper's HTTP/1.1 client on one keep-alive connection
//! ([`Http`]), the REST API as an admin key ([`Api`]), and waits for clients' events.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::{future, Future};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use rtm_proto::{ClientConfig, Message};
use rtm_transport_smol::RtmClient;
use serde_json::Value;
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;

use super::WAIT;

/// `f`, or a panic naming `what` once [`WAIT`] has passed.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    future::or(f, async {
        smol::Timer::after(WAIT).await;
        panic!("{what}: not done within {WAIT:?}")
    })
    .await
}

/// One answer, its body read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One keep-alive HTTP/1.1 connection, driven by hyper's client.
pub struct Http {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    connection: smol::Task<()>,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> Http {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, connection) = http1::handshake(FuturesIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        Http {
            addr,
            sender,
            connection: smol::spawn(async move {
                let _ = connection.await;
            }),
        }
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .expect("a request");
        within("an HTTP answer", async {
            self.sender.ready().await.expect("the connection is open");
            let response = self.sender.send_request(request).await.expect("an answer");
            let (parts, body) = response.into_parts();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: body.collect().await.expect("the body").to_bytes(),
            }
        })
        .await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Vec::new()).await
    }

    /// Whether the server has closed the connection, waiting at most `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        future::or(
            async {
                (&mut self.connection).await;
                true
            },
            async {
                smol::Timer::after(limit).await;
                false
            },
        )
        .await
    }
}

pub const APP: &str = "00000000000000000000000000000000";
pub const KEY: (&str, &str) = ("ops", "s3cret");

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

/// REST calls on one keep-alive connection, as the admin key [`KEY`].
pub struct Api {
    pub http: Http,
    pub auth: String,
}

impl Api {
    pub async fn connect(addr: SocketAddr) -> Api {
        Api {
            http: Http::connect(addr).await,
            auth: basic(KEY.0, KEY.1),
        }
    }

    /// `method` on `/v1/project/APP/rtm{path}`, with `body` as JSON.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = self.auth.clone();
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let reply = self
            .http
            .send(
                method,
                &format!("/v1/project/{APP}/rtm{path}"),
                &headers,
                body,
            )
            .await;
        assert_eq!(reply.header("content-type"), "application/json");
        reply
    }

    pub async fn get(&mut self, path: &str) -> Value {
        let reply = self.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {:?}", reply.body);
        reply.json()
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }
}

/// A failure's status and `code`.
pub fn failure(reply: &Reply) -> (u16, String) {
    let v = reply.json();
    assert_eq!(v["result"], "failed", "{v}");
    assert!(v["message"].is_string(), "{v}");
    (
        reply.status.as_u16(),
        v["code"].as_str().unwrap_or_default().to_string(),
    )
}

pub fn logged_in(url: &str, uid: &str) -> RtmClient {
    let client = RtmClient::new(url, ClientConfig::default()).expect("a client");
    smol::block_on(within("a login", client.login(uid, None)))
        .unwrap_or_else(|e| panic!("{uid} could not log in: {e:?}"));
    client
}

/// The next event `pick` accepts, within [`WAIT`].
pub async fn next_event<T>(
    events: &rtm_transport_smol::Events,
    what: &str,
    mut pick: impl FnMut(&rtm_proto::Event) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            let event = events.recv().await.expect("the event stream is open");
            if let Some(t) = pick(&event) {
                return t;
            }
        }
    })
    .await
}

pub fn is_text(message: &Message, text: &str) -> bool {
    matches!(message, Message::Text { text: t } if t == text)
}
