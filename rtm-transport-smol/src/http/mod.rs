//! The server's port speaks HTTP/1.1: a request with `Upgrade: websocket`, at any path,
//! becomes an RTM connection (`upgrade.rs`); a request under `/v1/` is a call of the REST
//! API, answered by the core ([`rest`]); `GET /metrics` is the Prometheus text of the
//! metrics ([`scrape`]); every other GET or HEAD is a static file: the demo page at `/`, the
//! Web SDK under `/sdk/` ([`assets`]).
//!
//! One connection goes through one HTTP phase (`Http::accept`): hyper serves its requests
//! (keep-alive included) until one of them upgrades, the client goes away, or the
//! connection has been idle too long. Only an upgraded connection is handed on to the link
//! (`link.rs`) and so reaches the core as a connection; REST calls reach it as calls.
//!
//! Bounds: a request head (request line and headers) may take [`MAX_REQUEST_HEAD_BYTES`]
//! (431 past it) and must arrive within the handshake timeout
//! ([`crate::ServeOptions::handshake_timeout`]). The phase ends once the connection has had
//! no request in progress for that same timeout, counted from the accept and then from the
//! end of each request: a connection that neither upgrades nor asks anything is closed as
//! before, while a REST client that keeps its connection busy (a backend calling the API
//! all day over keep-alive) is not cut off in the middle of its work, and each of its
//! requests is bounded by itself (its head by hyper's timeout, its body by [`rest`], its
//! answer by the core). When the phase ends, or the server stops, hyper is told to shut the
//! connection down gracefully: an idle one is closed at once, a response being written may
//! finish within [`RESPONSE_GRACE`] (or [`crate::CLOSE_GRACE`] when stopping).
//! Only the REST API takes a request body (at most
//! [`rtm_proto::server::admin::MAX_BODY_BYTES`]); any other request that comes with a body
//! is refused and the connection closed after the answer.
//!
//! ## Why hyper and include_dir
//!
//! HTTP parsing is where servers get request smuggling, header-size and slowloris bugs:
//! hyper is the most used and most scrutinised HTTP/1 implementation in Rust, and with only
//! its `http1` and `server` features it adds httparse and a few small crates to what
//! tungstenite already pulled in. It runs on smol through `smol-hyper`'s IO and timer
//! adapters (hyper itself needs only tokio's `sync` channels, not its runtime), and its
//! upgrade API gives back the very `TcpStream` it was given: the WebSocket runs on the bare
//! socket exactly as it did when tungstenite did the handshake itself, with the same memory
//! per idle connection.
//! `include_dir` embeds the files at compile time, so the server stays one self-contained
//! binary that serves the SDK and the demo matching its own protocol version, with no file
//! system access (and no traversal to guard against) at run time; `build.rs` reruns the
//! build when they change.

pub mod assets;
pub mod rest;
pub mod scrape;
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_channel::Receiver;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use event_listener::Event;
use futures_lite::future;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response};
use rtm_proto::ConnId;
use smol::net::TcpStream;
use smol::Timer;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use tracing::{debug, info};

use crate::admin::AdminQueue;
use crate::link::CLOSE_GRACE;
use crate::metrics::{DriverMetrics, RouteClass};

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
    plane: Arc<Plane>,
}

/// What the operator's routes need: the queue to the core task, the driver's counters, and
/// how long a request body may take.
#[derive(Debug)]
pub(crate) struct Plane {
    pub(crate) admin: AdminQueue,
    pub(crate) metrics: DriverMetrics,
    pub(crate) body_timeout: Duration,
}

/// A response: every body is in memory (or empty).
type Answer = Response<Full<Bytes>>;

/// Where the service leaves an accepted upgrade for [`Http::accept`] to pick up.
type UpgradeSlot = Arc<Mutex<Option<OnUpgrade>>>;

impl Http {
    /// `timeout` bounds each request head and body, and the idle time of a connection in its
    /// HTTP phase.
    pub(crate) fn new(
        websocket: WebSocketConfig,
        timeout: Duration,
        admin: AdminQueue,
        metrics: DriverMetrics,
    ) -> Http {
        let mut hyper = http1::Builder::new();
        hyper
            .timer(SmolTimer::new())
            .header_read_timeout(timeout)
            .max_buf_size(MAX_REQUEST_HEAD_BYTES)
            .keep_alive(true);
        Http {
            hyper,
            websocket,
            timeout,
            plane: Arc::new(Plane {
                admin,
                metrics,
                body_timeout: timeout,
            }),
        }
    }

    /// Serves HTTP on a fresh connection until it upgrades (its WebSocket is returned), the
    /// client goes away, it has been idle for the timeout or `stop` closes (`None` for all
    /// three).
    pub(crate) async fn accept(
        &self,
        conn: ConnId,
        peer: SocketAddr,
        stream: TcpStream,
        stop: &Receiver<()>,
    ) -> Option<WebSocketStream<TcpStream>> {
        let slot = UpgradeSlot::default();
        let activity = Arc::new(Activity::new());
        let service = {
            let slot = slot.clone();
            let activity = activity.clone();
            let plane = self.plane.clone();
            service_fn(move |req| {
                let busy = activity.begin();
                let (slot, plane) = (slot.clone(), plane.clone());
                async move {
                    let answer = route(conn, req, slot, &plane).await;
                    drop(busy);
                    answer
                }
            })
        };
        let mut connection = pin!(self
            .hyper
            .serve_connection(FuturesIo::new(stream), service)
            .with_upgrades());
        let served = future::or(async { Ok(connection.as_mut().await) }, async {
            future::or(
                async {
                    activity.idle_for(self.timeout).await;
                    Err(("idle for too long", RESPONSE_GRACE))
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
            Timer::after(self.timeout).await;
            None
        })
        .await;
        match upgraded {
            Some(Ok(upgraded)) => {
                let ws = upgrade::websocket(upgraded, self.websocket).await?;
                self.plane.metrics.upgraded();
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

/// Requests of one connection in progress, and when the last one ended: the HTTP phase ends
/// once the connection has been idle for the timeout (see the module's doc).
#[derive(Debug)]
struct Activity {
    /// Requests in progress, and the end of the last one (the accept before any).
    state: Mutex<(usize, Instant)>,
    /// Notified when a request begins or ends.
    changed: Event,
}

/// A request in progress; dropping it ends it.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.0 -= 1;
        state.1 = Instant::now();
        drop(state);
        self.0.changed.notify(usize::MAX);
    }
}

impl Activity {
    fn new() -> Self {
        Activity {
            state: Mutex::new((0, Instant::now())),
            changed: Event::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.lock().0 += 1;
        self.changed.notify(usize::MAX);
        Busy(self.clone())
    }

    /// Resolves once no request has been in progress for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let changed = self.changed.listen();
            let (busy, since) = *self.lock();
            if busy > 0 {
                changed.await;
                continue;
            }
            let Some(at) = since.checked_add(timeout) else {
                return future::pending().await;
            };
            let expired = future::or(
                async {
                    Timer::at(at).await;
                    true
                },
                async {
                    changed.await;
                    false
                },
            )
            .await;
            if expired {
                return;
            }
        }
    }
}

/// One request's answer: the WebSocket upgrade, a REST call, the metrics, or a static file.
async fn route(
    conn: ConnId,
    mut req: Request<Incoming>,
    slot: UpgradeSlot,
    plane: &Plane,
) -> Result<Answer, Infallible> {
    let has_body = !req.body().is_end_stream();
    let websocket = upgrade::is_websocket(req.headers());
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let path = uri.path();
    let response = if websocket {
        let (response, on_upgrade) = upgrade::accept(&mut req, has_body);
        if on_upgrade.is_some() {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = on_upgrade;
        }
        response
    } else if rest::is_rest(path) {
        rest::respond(req, &plane.admin, plane.body_timeout).await
    } else if path == scrape::METRICS_PATH {
        scrape::respond(&method, has_body, plane).await
    } else {
        assets::respond(&method, path, req.headers(), has_body).await
    };
    let status = response.status().as_u16();
    plane
        .metrics
        .http_request(route_class(websocket, path), status);
    debug!(conn = conn.0, %method, path, status, "HTTP request");
    Ok(response)
}

/// The `route` label of a request in `rtm_http_requests_total`.
fn route_class(websocket: bool, path: &str) -> RouteClass {
    if websocket {
        RouteClass::WebSocket
    } else if rest::is_rest(path) {
        RouteClass::Rest
    } else if path == scrape::METRICS_PATH {
        RouteClass::Metrics
    } else if matches!(path, "/healthz" | "/readyz") {
        RouteClass::Health
    } else {
        RouteClass::Static
    }
}
