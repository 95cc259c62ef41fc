//! The server's port speaks HTTP/1.1, over TLS when [`crate::ServeOptions::tls`] is set
//! ([`crate::tls`]): a request with `Upgrade: websocket`, at any path, becomes an RTM
//! connection (`upgrade.rs`) if its `Origin` is allowed ([`origin`]); a request under
//! `/v1/media` is a media upload or download ([`media`]), any other under `/v1/` a call of
//! the REST API, answered by the core ([`rest`]); `GET /metrics` is the
//! Prometheus text of the metrics ([`scrape`]); `/healthz` and `/readyz` are the health
//! probes (`health.rs`); every other GET or HEAD is a static file: the demo page at `/`, the
//! Web SDK under `/sdk/` ([`assets`]).
//!
//! One connection goes through one HTTP phase (`Http::accept`): the TLS handshake if the
//! port speaks TLS, then hyper serves its requests (keep-alive included) until one of them
//! upgrades, the client goes away, or the connection has been idle too long. Only an
//! upgraded connection is handed on to the link (`link.rs`) and so reaches the core as a
//! connection; REST calls reach it as calls.
//!
//! Bounds: a request head (request line and headers) may take [`MAX_REQUEST_HEAD_BYTES`]
//! (431 past it) and must arrive within the handshake timeout
//! ([`crate::ServeOptions::handshake_timeout`]); so must the TLS handshake. The phase ends
//! once the connection has had no request in progress for that same timeout, counted from
//! the accept (the TLS handshake) and then from the end of each request: a connection that
//! neither upgrades nor asks anything is closed as before, while a REST client that keeps
//! its connection busy (a backend calling the API all day over keep-alive) is not cut off
//! in the middle of its work, and each of its requests is bounded by itself (its head by
//! hyper's timeout, its body by [`rest`], its answer by the core). When the phase ends, or
//! the server stops, hyper is told to shut the connection down gracefully: an idle one is
//! closed at once, a response being written may finish within [`RESPONSE_GRACE`] (or
//! [`crate::CLOSE_GRACE`] when stopping).
//! Two routes take a request body: the REST API (at most
//! [`rtm_proto::server::admin::MAX_BODY_BYTES`], read whole) and a media upload
//! (`POST /v1/media`, [`media`]: streamed to disk, as long as the core allowed); any other
//! request that comes with a body is refused and the connection closed after the answer.
//!
//! Media transfers are long requests: a 30 MB file over a slow link takes minutes. A
//! download's body is written after its service has returned, so the connection counts as
//! busy until the body is done (the idle timeout must not cut it), and a transfer that has
//! moved no byte for [`crate::ServeOptions::media_stall_timeout`] has its connection dropped
//! (`Activity::stalled`): a client that stops reading or sending holds neither a file nor
//! a slot of the core's for longer than that.
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
pub mod media;
pub mod origin;
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
use http_body_util::{Either, Full};
use hyper::body::{Body, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use rtm_proto::ConnId;
use smol::net::TcpStream;
use smol::Timer;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use tracing::{debug, info};

use crate::admin::AdminQueue;
use crate::link::CLOSE_GRACE;
use crate::metrics::{DriverMetrics, RouteClass};
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
    /// A media transfer with no byte moved for this long has its connection dropped.
    stall_timeout: Duration,
    tls: Option<TlsConfig>,
    routes: Arc<Routes>,
}

/// What the routes need besides the request.
#[derive(Debug)]
struct Routes {
    origins: Option<AllowedOrigins>,
    readiness: Readiness,
    /// The queue to the core task (REST calls, metric snapshots).
    admin: AdminQueue,
    metrics: DriverMetrics,
    /// How long a REST call's body may take to arrive.
    body_timeout: Duration,
    /// The media endpoints' queue to the core and files (`None`: answered 404).
    media: Option<media::Media>,
}

/// A response whose body is in memory (or empty).
type Answer = Response<Full<Bytes>>;

/// Where the service leaves an accepted upgrade for [`Http::accept`] to pick up.
type UpgradeSlot = Arc<Mutex<Option<OnUpgrade>>>;

impl Http {
    /// The port as `options` sets it up; its handshake timeout bounds the TLS handshake,
    /// each request head and body, and the idle time of a connection in its HTTP phase.
    /// `admin` reaches the core task, `metrics` counts what the port sees.
    pub(crate) fn new(
        options: &ServeOptions,
        admin: AdminQueue,
        media: Option<media::Media>,
        metrics: DriverMetrics,
    ) -> Http {
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
            stall_timeout: options.media_stall_timeout,
            tls: options.tls.clone(),
            routes: Arc::new(Routes {
                origins: options.allowed_origins.clone(),
                readiness: Readiness::default(),
                admin,
                metrics,
                body_timeout: timeout,
                media,
            }),
        }
    }

    /// The server's shutdown has begun: `/readyz` says so from now on.
    pub(crate) fn stopping(&self) {
        self.routes.readiness.stopping();
    }

    /// Serves HTTP (after the TLS handshake if the port speaks TLS) on a fresh connection
    /// until it upgrades (its WebSocket is returned), the client goes away, it has been idle
    /// for the timeout or `stop` closes (`None` for all three).
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
        let activity = Arc::new(Activity::new());
        let service = {
            let slot = slot.clone();
            let activity = activity.clone();
            let routes = self.routes.clone();
            service_fn(move |req| {
                let busy = activity.begin();
                let (slot, routes) = (slot.clone(), routes.clone());
                route(conn, req, slot, routes, busy)
            })
        };
        let mut connection = pin!(self
            .hyper
            .serve_connection(FuturesIo::new(stream), service)
            .with_upgrades());
        let idle = async {
            activity.idle_for(self.timeout).await;
            ("idle for too long", RESPONSE_GRACE)
        };
        // Dropped at once: the client stopped moving bytes, there is nothing to finish.
        let stalled = async {
            activity.stalled(self.stall_timeout).await;
            ("media transfer stalled", Duration::ZERO)
        };
        let stopping = async {
            let _ = stop.recv().await;
            ("server stopping", CLOSE_GRACE)
        };
        let served = future::or(async { Ok(connection.as_mut().await) }, async {
            Err(future::or(idle, future::or(stalled, stopping)).await)
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
                self.routes.metrics.upgraded();
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
    /// Media transfers in progress, and when the last byte of any of them moved (or the
    /// last one began).
    transfers: Mutex<(usize, Instant)>,
    /// Notified when a request or a transfer begins or ends.
    changed: Event,
}

/// A request in progress; dropping it ends it. A download's body holds it until it is
/// written out.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Busy {
    /// A media transfer of this request begins.
    pub(crate) fn moving(&self) -> Moving {
        let mut transfers = self.0.transfers();
        transfers.0 += 1;
        transfers.1 = Instant::now();
        drop(transfers);
        self.0.changed.notify(usize::MAX);
        Moving(self.0.clone())
    }
}

/// A media transfer in progress: it says when bytes move; dropping it ends it.
#[derive(Debug)]
pub(crate) struct Moving(Arc<Activity>);

impl Moving {
    /// Bytes moved just now.
    pub(crate) fn touch(&self) {
        self.0.transfers().1 = Instant::now();
    }
}

impl Drop for Moving {
    fn drop(&mut self) {
        let mut transfers = self.0.transfers();
        transfers.0 -= 1;
        transfers.1 = Instant::now();
        drop(transfers);
        self.0.changed.notify(usize::MAX);
    }
}

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
            transfers: Mutex::new((0, Instant::now())),
            changed: Event::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn transfers(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        self.transfers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves once a media transfer is in progress and no byte of any has moved for
    /// `limit`.
    async fn stalled(&self, limit: Duration) {
        loop {
            let changed = self.changed.listen();
            let (moving, since) = *self.transfers();
            if moving == 0 {
                changed.await;
                continue;
            }
            let Some(at) = since.checked_add(limit) else {
                return future::pending().await;
            };
            if Instant::now() >= at {
                return;
            }
            // Woken at the deadline of the last byte seen, or by a transfer's start or end;
            // bytes that moved since then push the deadline on at the next look.
            future::or(
                async {
                    Timer::at(at).await;
                },
                changed,
            )
            .await;
        }
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

/// A plain-text answer that no cache keeps (a probe or a scrape must see the server as it is
/// now).
fn text(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One request's answer: the WebSocket upgrade, a REST call, the metrics, a health probe,
/// or a static file.
async fn route(
    conn: ConnId,
    mut req: Request<Incoming>,
    slot: UpgradeSlot,
    routes: Arc<Routes>,
    busy: Busy,
) -> Result<Response<Either<Full<Bytes>, media::FileBody>>, Infallible> {
    let has_body = !req.body().is_end_stream();
    let websocket = upgrade::is_websocket(req.headers());
    let (method, uri) = (req.method().clone(), req.uri().clone());
    if !websocket && media::is_media(uri.path()) {
        let response = media::respond(req, &routes, busy).await;
        let status = response.status().as_u16();
        routes.metrics.http_request(RouteClass::Media, status);
        debug!(conn = conn.0, %method, path = uri.path(), status, "HTTP request");
        return Ok(response);
    }
    let response = match uri.path() {
        _ if websocket => upgrade_or_refuse(conn, &mut req, has_body, &slot, &routes),
        path if rest::is_rest(path) => rest::respond(req, &routes.admin, routes.body_timeout).await,
        scrape::METRICS_PATH => {
            scrape::respond(&method, has_body, &routes.admin, &routes.metrics).await
        }
        path @ (health::HEALTHZ | health::READYZ) => {
            health::respond(&routes.readiness, &method, path, has_body)
        }
        path => assets::respond(&method, path, req.headers(), has_body).await,
    };
    let status = response.status().as_u16();
    let path = uri.path();
    routes
        .metrics
        .http_request(route_class(websocket, path), status);
    debug!(conn = conn.0, %method, path, status, "HTTP request");
    drop(busy);
    Ok(response.map(Either::Left))
}

/// The `route` label of a request in `rtm_http_requests_total`.
fn route_class(websocket: bool, path: &str) -> RouteClass {
    if websocket {
        RouteClass::WebSocket
    } else if rest::is_rest(path) {
        RouteClass::Rest
    } else if path == scrape::METRICS_PATH {
        RouteClass::Metrics
    } else if matches!(path, health::HEALTHZ | health::READYZ) {
        RouteClass::Health
    } else {
        RouteClass::Static
    }
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
