//! [`HttpClient`]: hyper's HTTP/1.1 client on one keep-alive connection to the server's port,
//! and [`raw_exchange`] for requests no client library would send.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HOST};
use hyper::{Method, Request, StatusCode};
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;

use crate::{within, WAIT};

/// One HTTP/1.1 connection to the server, driven by hyper's client.
#[derive(Debug)]
pub struct HttpClient {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    connection: smol::Task<Result<(), hyper::Error>>,
}

/// A response, its body read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A header's value as text (`""` when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl HttpClient {
    pub async fn connect(addr: SocketAddr) -> HttpClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, connection) = http1::handshake(FuturesIo::new(stream))
            .await
            .expect("HTTP/1.1 client handshake");
        HttpClient {
            addr,
            sender,
            connection: smol::spawn(connection.with_upgrades()),
        }
    }

    /// Sends a request with these headers (`Host` is added) and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> Reply {
        let request = self.request(method, path, headers, body);
        within(WAIT, "an HTTP response", async {
            self.sender.ready().await.expect("the connection is open");
            let response = self
                .sender
                .send_request(request)
                .await
                .expect("an HTTP response");
            let (parts, body) = response.into_parts();
            let body = body.collect().await.expect("the body").to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
        .await
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, b"").await
    }

    /// The request `send` would send.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(Full::new(Bytes::from_static(body)))
            .expect("a valid request")
    }

    /// Sends a request that asks to upgrade and returns the response, not waiting for a
    /// body; the socket comes from `hyper::upgrade::on(response)`.
    pub async fn send_upgrade(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> hyper::Response<hyper::body::Incoming> {
        let request = self.request(Method::GET, path, headers, b"");
        within(WAIT, "an HTTP response", async {
            self.sender.ready().await.expect("the connection is open");
            self.sender
                .send_request(request)
                .await
                .expect("an HTTP response")
        })
        .await
    }

    /// Waits (at most [`WAIT`]) for the connection to end: the server closed it, or said it
    /// would (`Connection: close`). True once it has.
    pub async fn closed(self) -> bool {
        within(WAIT, "the server to close the connection", async {
            let _ = self.connection.await;
        })
        .await;
        true
    }
}

/// Writes `request` as is on a fresh connection, then reads until the server closes the
/// connection (or [`WAIT`] passes): what came back and how long the connection lasted.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may close before it has read everything (a head too large): a failed
    // write is part of what is being tested, not an error of the test.
    let _ = stream.write_all(request).await;
    let mut received = Vec::new();
    within(WAIT, "the server to close the connection", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (received, start.elapsed())
}
