//! The server driver: one task owns the [`rtm_proto::Server`], an accept loop takes
//! connections, and each connection's reader and writer move whole frames to and from that
//! task through channels.
//!
//! The port speaks HTTP/1.1 ([`crate::http`]), over TLS if [`ServeOptions::tls`] is set:
//! each accepted connection is served by hyper until it upgrades to a WebSocket (at any
//! path), and only then becomes a link the core hears of; other requests get the health
//! probes (`/healthz`, `/readyz`), the embedded Web SDK (`/sdk/…`) and demo page (`/`). REST
//! calls (`/v1/…`) and metric scrapes reach the core task through a bounded queue of their
//! own (`admin.rs`); the core task hands each call to the core and passes its answer
//! back.
//!
//! ```no_run
//! use rtm_proto::ServerConfig;
//! let server = rtm_transport_smol::spawn_server("127.0.0.1:0", ServerConfig::default())?;
//! println!("listening on {}", server.url());
//! server.shutdown()?; // clients are closed with GOING_AWAY (1001)
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use futures_lite::future;
use rtm_proto::server::StorageEvent;
use rtm_proto::wire::{close, ClientFrame};
use rtm_proto::{ConnId, Server, ServerConfig, ServerInput, ServerOutput};
use smol::net::TcpListener;
use smol::{Executor, Timer};
use tracing::{debug, info, warn};

use crate::admin::{AdminQueue, AdminRequest, Pending, Snapshot};
use crate::http::media::Media;
use crate::http::origin::AllowedOrigins;
use crate::http::{assets, Http};
use crate::link::{self, LinkEvent, QueueError, QueueLimits, TextFrames, Writer, CLOSE_GRACE};
use crate::media_files::MediaFiles;
use crate::metrics::DriverMetrics;
use crate::storage::{self, Opened, Storage, Store};
use crate::tls::TlsConfig;
use crate::transfers::{MediaInbox, MediaQueue, MediaRequest, Transfers};
use crate::{random_seed, Clock};
use rtm_proto::server::media::{MediaCall, MediaOp, TransferId};

/// Everything the server driver needs: the core's settings and the driver's own bounds.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The core's settings (app id, certificate, timers, store bounds).
    pub core: ServerConfig,
    /// Per-connection outbound queue bounds; a connection past them is a slow consumer.
    pub queue: QueueLimits,
    /// A connection that has not upgraded to a WebSocket is closed once it has had no request
    /// in progress for this long (a response being written may finish first); the TLS
    /// handshake, each request's head, and a REST call's body must also be done within it.
    pub handshake_timeout: Duration,
    /// Frames from all connections waiting for the core task; readers wait when it is full.
    pub inbound_capacity: usize,
    /// tungstenite settings of every connection ([`crate::websocket_config`]: 4 KiB buffers,
    /// frames capped at [`rtm_proto::wire::MAX_FRAME_BYTES`]).
    pub websocket: WebSocketConfig,
    /// Where offline messages are kept ([`Storage::Memory`] unless set: an embedded server
    /// writes no files unless asked to).
    pub storage: Storage,
    /// The port's certificate and key: with them it speaks only `https://` and `wss://`
    /// (plain HTTP is answered 400 and closed). `None` (the default): plain `http://` and
    /// `ws://`, e.g. behind a proxy that terminates TLS.
    pub tls: Option<TlsConfig>,
    /// The origins whose pages may open a WebSocket ([`AllowedOrigins`]): when set, an
    /// upgrade whose `Origin` header is missing or not in the list is refused with 403, and
    /// the media endpoints answer only these origins' pages (CORS). `None` (the default):
    /// every upgrade is accepted, with any `Origin` or none, and media answers any page.
    pub allowed_origins: Option<AllowedOrigins>,
    /// Where uploaded files and images are kept (`/v1/media`, issue #14). `None` (the
    /// default): `media/` in the data directory of [`Storage::Sqlite`]; with
    /// [`Storage::Memory`], a fresh directory under the system's temporary directory,
    /// removed when the server stops (the media's records do not outlive it either).
    pub media_dir: Option<PathBuf>,
    /// A media upload or download that has moved no byte for this long has its connection
    /// dropped (and its file, for an upload, removed). 120 s, the SDK's transfer timeout.
    pub media_stall_timeout: Duration,
    /// Connections the kernel may hold completed but not yet accepted ([`bind_listener`];
    /// [`spawn_server`] binds with it). 4 096 by default, where std and smol bind with 128:
    /// in a reconnect storm or a login burst a short queue makes the kernel drop SYNs, and
    /// each dropped client waits out its connect timeout. Linux caps it at
    /// `net.core.somaxconn` (4 096 by default since 5.4).
    pub listen_backlog: u32,
}

/// The default [`ServeOptions::listen_backlog`].
pub const DEFAULT_LISTEN_BACKLOG: u32 = 4096;

/// Binds a listening TCP socket to the first address of `addr` that binds, with `backlog`
/// ([`ServeOptions::listen_backlog`]) and `SO_REUSEADDR` (as std does on Unix, so a restart
/// does not wait out TIME_WAIT).
pub fn bind_listener(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in addr.to_socket_addrs()? {
        let bound = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            #[cfg(unix)]
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
            Ok::<_, io::Error>(std::net::TcpListener::from(socket))
        })();
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl From<ServerConfig> for ServeOptions {
    fn from(core: ServerConfig) -> Self {
        // A resume resends up to a send window of pushes at once (and catch-ups, replays
        // and invitation decisions may carry a stream past `max_unacked`): the queue must
        // hold that burst and the answers beside it, or the resume would be closed as a slow
        // consumer again and again.
        let mut queue = QueueLimits::default();
        queue.frames = queue.frames.max(core.send_window.saturating_mul(2));
        queue.bytes = queue.bytes.max(core.send_window_bytes.saturating_mul(2));
        ServeOptions {
            core,
            queue,
            handshake_timeout: Duration::from_secs(10),
            inbound_capacity: 1024,
            websocket: link::websocket_config(),
            storage: Storage::Memory,
            tls: None,
            allowed_origins: None,
            media_dir: None,
            media_stall_timeout: Duration::from_secs(120),
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
        }
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServerConfig::default().into()
    }
}

/// A server running on its own thread. Dropping it shuts the server down too.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to: `ws://ADDR`, or `wss://ADDR` when the port speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}", self.addr)
    }

    /// Graceful shutdown: every connection is closed with GOING_AWAY (1001) after what was
    /// queued for it is flushed; returns once the server thread has ended (at most about
    /// [`CLOSE_GRACE`] later).
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Binds `addr` and runs a server on a thread of its own. Fails if the store does not open
/// (a database refused at start: the error says why and what to do).
pub fn spawn_server(
    addr: impl ToSocketAddrs,
    options: impl Into<ServeOptions>,
) -> io::Result<ServerHandle> {
    let options = options.into();
    let opened = storage::open(&options.storage)?;
    let listener = bind_listener(addr, options.listen_backlog)?;
    let addr = listener.local_addr()?;
    let listener = TcpListener::try_from(listener)?;
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let tls = options.tls.is_some();
    let thread = std::thread::Builder::new()
        .name("rtm-server".into())
        .spawn(move || {
            smol::block_on(serve_opened(listener, options, opened, async move {
                let _ = stopped.recv().await;
            }))
        })?;
    Ok(ServerHandle {
        addr,
        tls,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The media directory of `options` ([`ServeOptions::media_dir`]).
async fn media_files(options: &ServeOptions, opened: &Opened) -> io::Result<MediaFiles> {
    let dir = match (&options.media_dir, &opened.path) {
        (Some(dir), _) => Some(dir.clone()),
        // Beside the database: `<data dir>/media`.
        (None, Some(db)) => Some(db.parent().unwrap_or(db).join("media")),
        (None, None) => None,
    };
    smol::unblock(move || match dir {
        Some(dir) => MediaFiles::open(dir),
        None => MediaFiles::temporary(),
    })
    .await
}

/// Runs a server on `listener` until `shutdown` completes, then closes every connection with
/// GOING_AWAY and returns once they are closed (at most about [`CLOSE_GRACE`] later) and
/// the store has carried out every op it was given.
///
/// Fails at once if the store does not open (a database refused at start: the error says
/// why and what to do).
///
/// Works on any executor: connection tasks run on an executor owned by this future.
pub async fn serve(
    listener: TcpListener,
    options: impl Into<ServeOptions>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let options = options.into();
    let storage = options.storage.clone();
    let opened = smol::unblock(move || storage::open(&storage)).await?;
    serve_opened(listener, options, opened, shutdown).await
}

/// [`serve`] with a store opened beforehand ([`storage::open`]); `options.storage` is not
/// looked at.
pub async fn serve_opened(
    listener: TcpListener,
    options: ServeOptions,
    opened: Opened,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let ex = Arc::new(Executor::new());
    let (events_tx, events_rx) = async_channel::bounded(options.inbound_capacity.max(1));
    // Every connection task holds a clone; `recv` fails once all of them have ended.
    let (alive_tx, alive_rx) = async_channel::bounded::<()>(1);
    info!(
        %addr,
        app_id = %options.core.app_id,
        certificate_mode = options.core.app_certificate.is_some(),
        tls = options.tls.is_some(),
        allowed_origins = options.allowed_origins.is_some(),
        "serving"
    );
    // Hash the embedded files now, on a blocking thread, not at the first request.
    smol::unblock(assets::init).await;
    let metrics = DriverMetrics::new(opened.store.metrics().clone());
    let (admin, admin_rx) = AdminQueue::new();
    let files = Arc::new(media_files(&options, &opened).await?);
    info!(dir = %files.dir().display(), "media files");
    let (media_queue, media_rx) = MediaQueue::new();
    let media = Media {
        queue: media_queue,
        files: files.clone(),
    };
    let http = Arc::new(Http::new(&options, admin, Some(media), metrics.clone()));
    // From the moment the shutdown begins, `/readyz` answers 503.
    let shutdown = {
        let http = http.clone();
        async move {
            shutdown.await;
            http.stopping();
        }
    };
    // Closed once the core has stopped: connections still in their HTTP phase end then.
    let (stop_http, http_stopped) = async_channel::bounded::<()>(1);
    ex.run(async {
        let accept = ex.spawn(accept_loop(
            listener,
            ex.clone(),
            events_tx,
            alive_tx,
            http,
            http_stopped,
            metrics.clone(),
        ));
        let inputs = Inputs {
            events: events_rx,
            admin: admin_rx,
            media: media_rx,
            files,
        };
        core_loop(
            options.core,
            options.queue,
            opened,
            inputs,
            metrics,
            shutdown,
        )
        .await;
        let _ = accept.cancel().await;
        drop(stop_http);
        // Let the connections finish their close handshakes.
        future::or(
            async {
                let _ = alive_rx.recv().await;
            },
            async {
                Timer::after(CLOSE_GRACE + Duration::from_millis(500)).await;
            },
        )
        .await;
    })
    .await;
    info!(%addr, "stopped");
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    ex: Arc<Executor<'static>>,
    events: Sender<LinkEvent<ConnId>>,
    alive: Sender<()>,
    http: Arc<Http>,
    stop: Receiver<()>,
    metrics: DriverMetrics,
) {
    let mut next_conn = 1u64;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                metrics.accepted();
                let conn = ConnId(next_conn);
                next_conn += 1;
                let _ = stream.set_nodelay(true);
                debug!(conn = conn.0, %peer, "accepted");
                let events = events.clone();
                let alive = alive.clone();
                let http = http.clone();
                let stop = stop.clone();
                ex.spawn(async move {
                    let _alive = alive;
                    // Boxed: the HTTP phase's state (hyper's buffers) is freed once it is
                    // done instead of staying in the connection's task for its whole life.
                    let ws = Box::pin(async move { http.accept(conn, peer, stream, &stop).await });
                    if let Some(ws) = ws.await {
                        link::run(conn, ws, Some(peer.ip()), events).await;
                    }
                })
                .detach();
            }
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connection the core knows about.
#[derive(Debug)]
struct Conn {
    writer: Writer,
    /// For logs only: the user id of the connection's login frame.
    uid: Option<String>,
}

enum Input {
    Link(LinkEvent<ConnId>),
    Admin(AdminRequest),
    Media(MediaRequest),
    Storage(StorageEvent),
    Tick,
    Shutdown,
}

/// The task that owns the core.
struct Core {
    server: Server,
    clock: Clock,
    conns: BTreeMap<ConnId, Conn>,
    queue: QueueLimits,
    store: Store,
    /// REST calls handed to the core and not yet answered.
    pending: Pending,
    /// Media transfers the core knows of, and where their ops go.
    transfers: Transfers,
    files: Arc<MediaFiles>,
    metrics: DriverMetrics,
    /// The core's frames as WebSocket text, checked once per encoding.
    text: TextFrames,
}

/// What the core task hears from the other tasks.
struct Inputs {
    /// From the connections.
    events: Receiver<LinkEvent<ConnId>>,
    /// From the HTTP tasks (REST calls, metric snapshots).
    admin: Receiver<AdminRequest>,
    /// From the HTTP tasks of media transfers.
    media: MediaInbox,
    files: Arc<MediaFiles>,
}

async fn core_loop(
    config: ServerConfig,
    queue: QueueLimits,
    opened: Opened,
    inputs: Inputs,
    metrics: DriverMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let Inputs {
        events,
        admin,
        media,
        files,
    } = inputs;
    let clock = Clock::new();
    let mut server = Server::new(config, random_seed(), clock.now(), clock.unix_ms_at_start());
    let Opened {
        store,
        records,
        path,
        size_bytes,
    } = opened;
    let loaded = records.len();
    let report = server.restore(records);
    match &path {
        Some(path) => info!(
            path = %path.display(),
            records = loaded,
            messages = report.messages,
            dropped = report.dropped,
            unreadable = report.unreadable,
            size_bytes,
            "storage: restored"
        ),
        None => info!("storage: memory only (nothing survives a restart)"),
    }
    if report.unreadable > 0 {
        warn!(
            unreadable = report.unreadable,
            "storage: records this version cannot read were left in the database untouched"
        );
    }
    sweep_media(&server, &files).await;
    let completions = store.completions();
    let mut core = Core {
        server,
        clock,
        conns: BTreeMap::new(),
        queue,
        store,
        pending: Pending::default(),
        transfers: Transfers::default(),
        files,
        metrics,
        text: TextFrames::default(),
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        core.drain();
        // Waits here while the storage thread's queue is full (see `GroupCommit::queue`).
        core.store.flush().await;
        let deadline = core.server.poll_timeout();
        if deadline.is_some_and(|t| t <= core.clock.now()) {
            // Due timers first, so a busy inbound stream cannot starve them.
            core.server
                .handle_input(core.clock.now(), ServerInput::Tick);
            continue;
        }
        let timer = core.clock.timer(deadline);
        // REST calls first: they come at the pace of HTTP parsing on this same executor, and
        // would otherwise wait behind every frame of a busy server.
        let input = future::or(
            async {
                future::or(
                    async {
                        match admin.recv().await {
                            Ok(request) => Input::Admin(request),
                            // Every HTTP task ended (cannot happen while the accept loop
                            // runs).
                            Err(_) => future::pending().await,
                        }
                    },
                    async {
                        match media.recv().await {
                            Some(request) => Input::Media(request),
                            None => future::pending().await,
                        }
                    },
                )
                .await
            },
            future::or(
                async { events.recv().await.map_or(Input::Shutdown, Input::Link) },
                future::or(
                    async {
                        match &completions {
                            Some(c) => match c.recv().await {
                                Ok(ev) => Input::Storage(ev),
                                // The thread is gone (it panicked): writes time out in the core.
                                Err(_) => future::pending().await,
                            },
                            None => future::pending().await,
                        }
                    },
                    future::or(
                        async {
                            shutdown.as_mut().await;
                            Input::Shutdown
                        },
                        async {
                            timer.await;
                            Input::Tick
                        },
                    ),
                ),
            ),
        )
        .await;
        let now = core.clock.now();
        match input {
            Input::Link(ev) => core.on_link_event(ev),
            Input::Admin(request) => core.on_admin(request),
            Input::Media(request) => core.on_media(request),
            Input::Storage(ev) => core.server.handle_input(now, ServerInput::Storage(ev)),
            Input::Tick => core.server.handle_input(now, ServerInput::Tick),
            Input::Shutdown => {
                info!(connections = core.conns.len(), "shutting down");
                core.server.shutdown();
                core.drain();
                core.store.flush().await;
                // Every write committed and every delete done before the server returns.
                core.store.finish().await;
                return;
            }
        }
    }
}

/// At start, once the core has restored its records: removes the media files it does not
/// know (a crash between a file's rename and its record's commit, or records that expired
/// while the server was down) and the parts of uploads a stop cut.
async fn sweep_media(server: &Server, files: &Arc<MediaFiles>) {
    let stored = {
        let files = files.clone();
        smol::unblock(move || files.stored()).await
    };
    let live: std::collections::BTreeSet<String> = match stored {
        Ok(ids) => ids
            .into_iter()
            .filter(|id| server.media_is_live(id))
            .collect(),
        Err(e) => {
            warn!(dir = %files.dir().display(), error = %e, "media: cannot list the media directory");
            return;
        }
    };
    let files = files.clone();
    match smol::unblock(move || files.sweep(|id| live.contains(id))).await {
        Ok(swept) => info!(
            kept = swept.kept,
            orphans_removed = swept.orphans,
            parts_removed = swept.parts,
            "media: files checked against the records"
        ),
        Err(e) => warn!(error = %e, "media: the start-up sweep failed"),
    }
}

impl Core {
    fn on_media(&mut self, request: MediaRequest) {
        let now = self.clock.now();
        let call = match request {
            MediaRequest::Begin(call, ops) => {
                self.transfers.begin(call_transfer(&call), ops);
                call
            }
            MediaRequest::Report(call) => {
                if let MediaCall::Ended { transfer } = &call {
                    self.transfers.ended(*transfer);
                }
                call
            }
        };
        self.server.handle_input(now, ServerInput::Media(call));
    }

    /// Carries out a media op of the core.
    fn media(&mut self, op: MediaOp) {
        match op {
            MediaOp::UploadAccepted { transfer, .. }
            | MediaOp::DownloadAccepted { transfer, .. }
            | MediaOp::Answer { transfer, .. } => self.transfers.deliver(transfer, op),
            MediaOp::Remove { media_id } => {
                let files = self.files.clone();
                // On the blocking pool, unawaited: nothing waits for a removal.
                smol::unblock(move || match files.remove(&media_id) {
                    Ok(()) => debug!(%media_id, "media: file removed"),
                    Err(e) => warn!(%media_id, error = %e, "media: cannot remove a file"),
                })
                .detach();
            }
        }
    }

    fn on_admin(&mut self, request: AdminRequest) {
        match request {
            AdminRequest::Call(call, reply) => {
                if let Some(call) = self.pending.admit(call, reply) {
                    self.server
                        .handle_input(self.clock.now(), ServerInput::Admin(call));
                }
            }
            AdminRequest::Snapshot(reply) => {
                let (mut frames, mut bytes) = (0u64, 0u64);
                for c in self.conns.values() {
                    let (f, b) = c.writer.queued();
                    frames += f as u64;
                    bytes += b as u64;
                }
                let _ = reply.try_send(Snapshot {
                    core: self.server.metrics(),
                    queued_frames: frames,
                    queued_bytes: bytes,
                });
            }
        }
    }

    fn on_link_event(&mut self, ev: LinkEvent<ConnId>) {
        let now = self.clock.now();
        match ev {
            LinkEvent::Opened(conn, writer, source) => {
                self.conns.insert(conn, Conn { writer, uid: None });
                self.server
                    .handle_input(now, ServerInput::Opened(conn, source));
            }
            LinkEvent::Frame(conn, frame, _handled) => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return; // closed by us already
                };
                if c.uid.is_none() {
                    c.uid = login_uid(&frame);
                }
                self.server
                    .handle_input(now, ServerInput::Frame(conn, frame));
            }
            LinkEvent::Closed(conn) => {
                if let Some(c) = self.conns.remove(&conn) {
                    info!(
                        conn = conn.0,
                        uid = c.uid.as_deref(),
                        "connection closed by the peer"
                    );
                    self.server.handle_input(now, ServerInput::Closed(conn));
                }
            }
        }
    }

    /// Carries out every output of the core.
    fn drain(&mut self) {
        loop {
            let Some(output) = self.server.poll_output() else {
                // The memory store commits at once: its commits come back in the same drain.
                let Some(committed) = self.store.take_committed() else {
                    return;
                };
                self.server
                    .handle_input(self.clock.now(), ServerInput::Storage(committed));
                continue;
            };
            match output {
                ServerOutput::Storage(op) => self.store.push(op),
                ServerOutput::AdminReply(reply) => self.pending.answer(reply),
                ServerOutput::Media(op) => self.media(op),
                ServerOutput::Send { conn, frame } => self.send(conn, frame),
                ServerOutput::Close { conn, code, reason } => {
                    if let Some(c) = self.conns.remove(&conn) {
                        if code == close::LOGIN_FAILED {
                            info!(conn = conn.0, uid = c.uid.as_deref(), %reason, "login refused");
                        }
                        info!(conn = conn.0, uid = c.uid.as_deref(), code, %reason, "closing connection");
                        c.writer.close(code, &reason, None);
                    }
                }
            }
        }
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        let Some(c) = self.conns.get(&conn) else {
            return; // already reported closed to the core
        };
        let Some(text) = self.text.text(frame) else {
            debug_assert!(false, "the core only sends UTF-8 JSON");
            return;
        };
        let frame = text;
        if frame.starts_with(r#"{"type":"login_ok""#) {
            info!(conn = conn.0, uid = c.uid.as_deref(), "login accepted");
        }
        match c.writer.send(frame, self.queue) {
            Ok(()) => {}
            Err(QueueError::Full) => {
                warn!(
                    conn = conn.0,
                    uid = c.uid.as_deref(),
                    "slow consumer: outbound queue full"
                );
                self.metrics.slow_consumer();
                c.writer
                    .close(close::SLOW_CONSUMER, "outbound queue full", None);
                self.conns.remove(&conn);
                self.server
                    .handle_input(self.clock.now(), ServerInput::Closed(conn));
            }
            Err(QueueError::Gone) => {
                info!(
                    conn = conn.0,
                    uid = c.uid.as_deref(),
                    "connection closed by the peer"
                );
                self.conns.remove(&conn);
                self.server
                    .handle_input(self.clock.now(), ServerInput::Closed(conn));
            }
        }
    }
}

/// The transfer a call is about.
fn call_transfer(call: &MediaCall) -> TransferId {
    match call {
        MediaCall::BeginUpload { transfer, .. }
        | MediaCall::Uploaded { transfer, .. }
        | MediaCall::BeginDownload { transfer, .. }
        | MediaCall::Ended { transfer } => *transfer,
    }
}

/// The user id of a login frame, for logs.
fn login_uid(frame: &[u8]) -> Option<String> {
    if !tracing::enabled!(tracing::Level::INFO) {
        return None;
    }
    match ClientFrame::decode(frame) {
        Ok(ClientFrame::Login(login)) => Some(login.uid.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod backlog_tests {
    use std::net::TcpStream;
    use std::time::Duration;

    use super::bind_listener;

    /// Connections that complete their handshake against a listener that accepts none.
    fn completed(backlog: u32, attempts: usize) -> usize {
        let listener = bind_listener("127.0.0.1:0", backlog).expect("binds");
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..attempts {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        held.len()
    }

    /// The kernel queues up to the backlog (Linux: backlog + 1) completed connections the
    /// server has not accepted yet; past it, SYNs are dropped and clients time out.
    #[test]
    fn the_backlog_is_what_the_server_asked_for() {
        assert!(completed(8, 64) <= 9, "a backlog of 8 holds about 8");
        assert_eq!(completed(1024, 512), 512, "a backlog of 1024 holds 512");
    }

    #[test]
    fn an_address_that_does_not_bind_says_so() {
        let taken = bind_listener("127.0.0.1:0", 16).unwrap();
        let addr = taken.local_addr().unwrap();
        assert!(bind_listener(addr, 16).is_err());
        assert!(bind_listener("no-such-host.invalid:1", 16).is_err());
    }
}
