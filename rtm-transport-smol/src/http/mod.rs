//! The server's port speaks HTTP/1.1, over TLS when [`crate::ServeOptions::tls`] is set
//! ([`crate::tls`]): a request with `Upgrade: websocket`, at any path, becomes an RTM
//! connection (`upgrade.rs`) if its `Origin` is allowed ([`origin`]); `/healthz` and
//! `/readyz` are the health probes ([`health`]); every other GET or HEAD is a static file:
//! the demo page at `/`, the Web SDK under `/sdk/` ([`assets`]).
//!
//! One connection goes through one HTTP phase (`Http::accept`): the TLS handshake if the
//! port speaks TLS, then hyper serves its requests (keep-alive included) until one of them
//! upgrades, the client goes away, or the phase's time is up. Only an upgraded connection
//! is handed on to the link (`link.rs`) and so reaches the core; a connection that only
//! fetched files never does.
//!
//! Bounds: a request head (request line and headers) may take [`MAX_REQUEST_HEAD_BYTES`]
//! (431 past it) and must arrive within the handshake timeout
//! ([`crate::ServeOptions::handshake_timeout`]); the whole phase, from accept (the TLS
//! handshake included) to the upgrade, has that same timeout. When it runs out, or the
//! server stops, hyper is told to shut the connection down gracefully: an idle one is
//! closed at once, a response being written may finish within [`RESPONSE_GRACE`] (or
//! [`crate::CLOSE_GRACE`] when stopping).
//! No route takes a request body: one that comes with a body is refused and the connection
//! closed after the answer.
//!
//! ## Why hyper and include_dir
//!
//! HTTP parsing is where servers get request smuggling, header-size and slowloris bugs:
//! hyper is the most used and most scrutinised HTTP/1 implementation in Rust, and with only
//! its `http1` and `server` features it adds httparse and a few small crates to what
//! tungstenite already pulled in. It runs on smol through `smol-hyper`'s IO and timer
//! adapters (hyper itself needs only tokio's `sync` channels, not its runtime), and its
//! upgrade API gives back the very stream it was given (the `TcpStream`, or TLS over it):
//! the WebSocket runs on it exactly as it did when tungstenite did the handshake itself,
//! with the same memory per idle connection.
//! `include_dir` embeds the files at compile time, so the server stays one self-contained
//! binary that serves the SDK and the demo matching its own protocol version, with no file
//! system access (and no traversal to guard against) at run time; `build.rs` reruns the
//! build when they change.

pub mod assets;
mod health;
pub mod origin;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_channel::Receiver;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use futures_lite::future;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use rtm_proto::ConnId;
use smol::net::TcpStream;
use smol::Timer;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use tracing::{debug, info};

use crate::link::CLOSE_GRACE;
use crate::tls::{Stream, TlsConfig};
use crate::ServeOptions;
use health::Readiness;
use origin::AllowedOrigins;

/// Most bytes a request's head (request line and headers) may take; a larger one is answered
/// 431 and the connection closed. (hyper's read buffer bound, which cannot go below 8 KiB.)
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// How long a response that was being written when the HTTP phase ran out of time may take
/// to finish before the connection is dropped.
pub const RESPONSE_GRACE: Duration = Duration::from_secs(30);

/// The HTTP side of the server's port: hyper's settings and what an upgrade needs.
#[derive(Debug)]
pub(crate) struct Http {
    hyper: http1::Builder,
    websocket: WebSocketConfig,
    timeout: Duration,
    tls: Option<TlsConfig>,
    routes: Arc<Routes>,
}

/// What the routes need besides the request.
#[derive(Debug)]
struct Routes {
    origins: Option<AllowedOrigins>,
    readiness: Readiness,
}

/// A response: every body is in memory (or empty).
type Answer = Response<Full<Bytes>>;

/// Where the service leaves an accepted upgrade for [`Http::accept`] to pick up.
type UpgradeSlot = Arc<Mutex<Option<OnUpgrade>>>;

impl Http {
    /// The port as `options` sets it up; its handshake timeout bounds each request head and
    /// the whole HTTP phase of a connection.
    pub(crate) fn new(options: &ServeOptions) -> Http {
        let timeout = options.handshake_timeout;
        let mut hyper = http1::Builder::new();
        hyper
            .timer(SmolTimer::new())
            .header_read_timeout(timeout)
            .max_buf_size(MAX_REQUEST_HEAD_BYTES)
            .keep_alive(true);
        Http {
            hyper,
            websocket: options.websocket,
            timeout,
            tls: options.tls.clone(),
            routes: Arc::new(Routes {
                origins: options.allowed_origins.clone(),
                readiness: Readiness::default(),
            }),
        }
    }

    /// The server's shutdown has begun: `/readyz` says so from now on.
    pub(crate) fn stopping(&self) {
        self.routes.readiness.stopping();
    }

    /// Serves HTTP (after the TLS handshake if the port speaks TLS) on a fresh connection
    /// until it upgrades (its WebSocket is returned), the client goes away, the phase's time
    /// runs out or `stop` closes (`None` for all three).
    pub(crate) async fn accept(
        &self,
        conn: ConnId,
        peer: SocketAddr,
        tcp: TcpStream,
        stop: &Receiver<()>,
    ) -> Option<WebSocketStream<Stream>> {
        let mut deadline = Timer::after(self.timeout);
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some(tls) => {
                let handshake = future::or(async { Some(tls.accept(tcp).await) }, async {
                    future::or(
                        async {
                            (&mut deadline).await;
                        },
                        async {
                            let _ = stop.recv().await;
                        },
                    )
                    .await;
                    None
                })
                .await;
                match handshake {
                    Some(Ok(stream)) => stream,
                    Some(Err(e)) => {
                        debug!(conn = conn.0, %peer, error = %e, "TLS connection refused");
                        return None;
                    }
                    None => {
                        debug!(conn = conn.0, %peer, "TLS handshake timed out (or stopping)");
                        return None;
                    }
                }
            }
        };
        let slot = UpgradeSlot::default();
        let service = {
            let slot = slot.clone();
            let routes = self.routes.clone();
            service_fn(move |req| route(conn, req, slot.clone(), routes.clone()))
        };
        let mut connection = pin!(self
            .hyper
            .serve_connection(FuturesIo::new(stream), service)
            .with_upgrades());
        let served = future::or(async { Ok(connection.as_mut().await) }, async {
            future::or(
                async {
                    (&mut deadline).await;
                    Err(("timed out", RESPONSE_GRACE))
                },
                async {
                    let _ = stop.recv().await;
                    Err(("server stopping", CLOSE_GRACE))
                },
            )
            .await
        })
        .await;
        match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                debug!(conn = conn.0, %peer, error = %e, "HTTP connection failed");
                return None;
            }
            Err((why, grace)) => {
                debug!(conn = conn.0, %peer, why, "HTTP connection closing");
                connection.as_mut().graceful_shutdown();
                future::or(
                    async {
                        let _ = connection.as_mut().await;
                    },
                    async {
                        Timer::after(grace).await;
                    },
                )
                .await;
                return None;
            }
        }
        let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(on_upgrade) = taken else {
            debug!(conn = conn.0, %peer, "HTTP connection closed by the peer");
            return None;
        };
        // hyper fulfils the upgrade before its connection future ends: this is immediate.
        let upgraded = future::or(async { Some(on_upgrade.await) }, async {
            (&mut deadline).await;
            None
        })
        .await;
        match upgraded {
            Some(Ok(upgraded)) => {
                let ws = upgrade::websocket(upgraded, self.websocket).await?;
                info!(conn = conn.0, %peer, "connection opened");
                Some(ws)
            }
            Some(Err(e)) => {
                debug!(conn = conn.0, %peer, error = %e, "upgrade failed");
                None
            }
            None => {
                debug!(conn = conn.0, %peer, "upgrade timed out");
                None
            }
        }
    }
}

/// One request's answer: the WebSocket upgrade, a health probe, or a static file.
async fn route(
    conn: ConnId,
    mut req: Request<Incoming>,
    slot: UpgradeSlot,
    routes: Arc<Routes>,
) -> Result<Answer, Infallible> {
    let has_body = !req.body().is_end_stream();
    let response = match req.uri().path() {
        _ if upgrade::is_websocket(req.headers()) => {
            upgrade_or_refuse(conn, &mut req, has_body, &slot, &routes)
        }
        path @ (health::HEALTHZ | health::READYZ) => {
            health::respond(&routes.readiness, req.method(), path, has_body)
        }
        path => assets::respond(req.method(), path, req.headers(), has_body).await,
    };
    debug!(
        conn = conn.0,
        method = %req.method(),
        path = req.uri().path(),
        status = response.status().as_u16(),
        "HTTP request"
    );
    Ok(response)
}

/// A WebSocket upgrade: refused 403 if its `Origin` is not allowed, else checked and
/// accepted (the socket is left in `slot` for [`Http::accept`]) or refused 400.
fn upgrade_or_refuse(
    conn: ConnId,
    req: &mut Request<Incoming>,
    has_body: bool,
    slot: &UpgradeSlot,
    routes: &Routes,
) -> Answer {
    if let Some(origins) = &routes.origins {
        if let Err(why) = origins.check(req.headers()) {
            let origin = req.headers().get(hyper::header::ORIGIN);
            info!(
                conn = conn.0,
                ?origin,
                "WebSocket refused: Origin not allowed"
            );
            return upgrade::refusal(StatusCode::FORBIDDEN, why);
        }
    }
    let (response, on_upgrade) = upgrade::accept(req, has_body);
    if on_upgrade.is_some() {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = on_upgrade;
    }
    response
}
