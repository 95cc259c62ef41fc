//! [`RtmClient`]: the Agora `RtmClient` API over a real WebSocket.
//!
//! The [`rtm_proto::Client`] core runs on a thread of its own together with its socket
//! tasks. The handle talks to that thread through channels: every request hands its command
//! over when it is called and returns a future that is a plain channel receive, `Send` and
//! `'static`, so it works on any executor (smol, tokio, a `block_on`...). Calls that are
//! synchronous in the SDK (creating a channel or an invitation, the invitation actions) are
//! synchronous here too.
//!
//! Channels, attributes and invitations are in [`crate::channel`], [`crate::attributes`] and
//! [`crate::invitation`]. Every listener from [`RtmClient::events`] hears every event of the
//! client; each channel and invitation also has listeners of its own ([`crate::events`]).
//!
//! `wss://` URLs are reached over TLS: the server's certificate must chain to the system's
//! roots, or to the CA file of [`ConnectOptions::tls_ca_file`] ([`crate::tls`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rtm_proto::{client::SendMessageOptions, ClientConfig, Message};
//! use rtm_transport_smol::RtmClient;
//!
//! let client = RtmClient::new("ws://127.0.0.1:9300", ClientConfig::default())?;
//! let events = client.events();
//! client.login("alice", None).await?;
//! let outcome = client
//!     .send_message_to_peer("bob", Message::text("hello"), SendMessageOptions::default())
//!     .await?;
//! println!("bob received it: {}", outcome.has_peer_received());
//!
//! let room = client.create_channel("room")?;
//! room.join().await?;
//! room.send_message(Message::text("hi all")).await?;
//!
//! let call = client.create_local_invitation("bob")?;
//! call.set_content("video call?")?;
//! call.send()?; // the outcome arrives as events
//!
//! while let Ok(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::header::{HeaderValue, ORIGIN};
use async_tungstenite::tungstenite::Error as WsError;
use async_tungstenite::tungstenite::Utf8Bytes;
use futures_lite::future;
use rtm_proto::client::{SendMessageOptions, TransferOrder};
use rtm_proto::errors::{
    DownloadMediaError, LoginError, LogoutError, PeerMessageError, PeerSubscriptionStatusError,
    QueryPeersBySubscriptionOptionError, QueryPeersOnlineStatusError, RenewTokenError,
};
use rtm_proto::wire::close;
use rtm_proto::{
    Client, ClientConfig, ClientInput, ClientOutput, ConnectionState, Event, Message,
    PeerMessageOutcome, RequestId, Response, Timestamp, TransportId, UserId,
};
use smol::net::TcpStream;
use smol::{Executor, Task};
use tracing::{debug, warn};

use crate::answers::{
    strs, Login, QueryPeersOnlineStatus, RenewToken, SendMessageToPeer, SubscribePeersOnlineStatus,
    UnsubscribePeersOnlineStatus,
};
use crate::events::{Events, Filter, Listeners, EVENT_QUEUE};
use crate::link::{self, LinkEvent, OnClosed, QueueError, QueueLimits, Writer, CLOSE_GRACE};
use crate::media::{lock, Job, MediaCommand, MediaProgress, Note, Reporter};
use crate::tls::{Connector, Stream, TlsError};
use crate::{random_seed, Answer, Clock};

/// When the application lets go of a logged-in client, its thread waits at most this long
/// for the logout to complete (the core waits 2 s at most for the server's answer).
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Why a client could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not a `ws://` or `wss://host[:port][/path]` URL.
    #[error("invalid server URL {url:?}: {why}")]
    InvalidUrl { url: String, why: String },
    /// The TLS settings of a `wss://` URL cannot be used (an unreadable CA file, no system
    /// roots).
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// [`ConnectOptions::origin`] cannot be sent as a header.
    #[error("invalid origin {0:?}: not a valid HTTP header value")]
    InvalidOrigin(String),
    /// The client thread could not be started.
    #[error("could not start the client thread: {0}")]
    Spawn(#[from] io::Error),
}

/// How the driver reaches the server, beyond its URL: settings about sockets, which the
/// core's [`ClientConfig`] leaves to the driver.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// For `wss://`: a PEM file of the CA certificate(s) the server's certificate must chain
    /// to, trusted instead of the system's roots (a private CA, or a self-signed
    /// certificate itself, which must then not be marked as a CA: rustls refuses a CA
    /// certificate as a server's). Not looked at for `ws://`.
    pub tls_ca_file: Option<PathBuf>,
    /// The `Origin` header of the WebSocket upgrade, e.g. `https://app.example.com`: needed
    /// by a server that only accepts listed origins (`rtm-server --allowed-origin`), which
    /// refuses an upgrade without one. A browser sends its page's; by default none is sent.
    pub origin: Option<String>,
}

/// Where the client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    url: String,
    host: String,
    port: u16,
    /// `wss://`.
    tls: bool,
}

fn parse_url(url: &str) -> Result<Target, ClientError> {
    let invalid = |why: &str| ClientError::InvalidUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let (rest, tls) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Err(invalid("the URL must start with ws:// or wss://")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid("unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(invalid("unexpected text after the host")),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| invalid("bad port"))?,
        None if tls => 443,
        None => 80,
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    url.into_client_request()
        .map_err(|e| invalid(&e.to_string()))?;
    Ok(Target {
        url: url.to_string(),
        host: host.to_string(),
        port,
        tls,
    })
}

/// How each connection is made: the target, and what TLS and the upgrade need.
#[derive(Debug)]
pub(crate) struct Dialer {
    target: Target,
    /// For `wss://`.
    tls: Option<Connector>,
    origin: Option<HeaderValue>,
}

impl Dialer {
    fn new(url: &str, options: ConnectOptions) -> Result<Dialer, ClientError> {
        let target = parse_url(url)?;
        let tls = match target.tls {
            true => Some(Connector::new(
                &target.host,
                options.tls_ca_file.as_deref(),
            )?),
            false => None,
        };
        let origin = match options.origin {
            Some(origin) => Some(
                HeaderValue::try_from(origin.as_str())
                    .map_err(|_| ClientError::InvalidOrigin(origin))?,
            ),
            None => None,
        };
        Ok(Dialer {
            target,
            tls,
            origin,
        })
    }

    /// A connection to the server's port, TLS included for `wss://` (the WebSocket's, and
    /// the media transfers' over HTTP).
    pub(crate) async fn stream(&self) -> Result<Stream, String> {
        let target = &self.target;
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        Ok(match &self.tls {
            None => Stream::Plain(tcp),
            Some(tls) => tls.connect(tcp).await.map_err(|e| {
                // Most likely a certificate this client does not trust: say so where
                // people look, as the login only fails later, by its timeout.
                warn!(
                    url = %target.url,
                    error = %e,
                    "TLS handshake with the server failed (is its certificate trusted? \
                     see ConnectOptions::tls_ca_file, rtm --ca-file)"
                );
                e.to_string()
            })?,
        })
    }

    /// A request to the media endpoint (`/v1/media` + `tail`) on the server's port: the
    /// WebSocket URL's path is kept as a prefix (a server behind a proxy that routes a path
    /// to it), its query dropped.
    pub(crate) fn media_request(
        &self,
        method: hyper::Method,
        tail: &str,
    ) -> hyper::http::request::Builder {
        let target = &self.target;
        let after_scheme = target.url.split_once("://").map_or("", |(_, rest)| rest);
        let (authority, path) = match after_scheme.find(['/', '?', '#']) {
            Some(i) => after_scheme.split_at(i),
            None => (after_scheme, ""),
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let prefix = path.trim_end_matches('/');
        hyper::Request::builder()
            .method(method)
            .uri(format!("{prefix}{}{tail}", rtm_proto::media::UPLOAD_PATH))
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("rtm-transport-smol/", env!("CARGO_PKG_VERSION")),
            )
    }

    /// A connection to the server, up to its WebSocket handshake.
    async fn dial(&self) -> Result<async_tungstenite::WebSocketStream<Stream>, String> {
        let target = &self.target;
        let stream = self.stream().await?;
        let mut request = target
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        if let Some(origin) = &self.origin {
            request.headers_mut().insert(ORIGIN, origin.clone());
        }
        async_tungstenite::client_async_with_config(request, stream, Some(link::websocket_config()))
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| {
                if let WsError::Http(refusal) = &e {
                    // The server answered the upgrade with an error (403: an Origin it does
                    // not allow): as above, the login only times out later.
                    let why = refusal
                        .body()
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    let why: String = why.chars().take(200).collect();
                    warn!(
                        url = %target.url,
                        status = %refusal.status(),
                        %why,
                        "the server refused the WebSocket upgrade"
                    );
                }
                e.to_string()
            })
    }
}

/// Starts a request in the core: its id, or the answer refused locally.
pub(crate) type Start =
    Box<dyn FnOnce(&mut Client, Timestamp) -> Result<RequestId, Response> + Send>;
/// Runs a call that the core answers at once (the closure hands the answer back itself).
type Local = Box<dyn FnOnce(&mut Client, Timestamp) + Send>;

enum Command {
    /// A command whose result comes later as an `Event::Response` (or at once if the core
    /// refused it locally); the answer goes to `reply`.
    Request {
        start: Start,
        reply: Sender<Response>,
    },
    /// A call the core answers without the network.
    Local(Local),
    Logout {
        reply: Sender<Result<(), LogoutError>>,
    },
    /// A media transfer's start ([`crate::media`]).
    Media(MediaCommand),
}

/// An RTM client (the Agora `RtmClient`), connected to one server URL.
///
/// Methods mirror the SDK in snake_case and resolve with the spec's results and error codes;
/// arguments the core refuses locally (invalid ids, not logged in, too often) fail at once
/// without contacting the server. Everything else that happens — connection state changes,
/// peer and channel messages, member and attribute events, presence changes, invitation
/// events, token events — arrives on [`RtmClient::events`].
///
/// Two kinds of methods:
///
/// * **Requests** (`login`, `send_message_to_peer`, `join`, `set_channel_attributes`, ...)
///   return an [`Answer`], a future of the call's own result. The command is handed to the
///   client when the method is called; the future only waits for the answer (`Send`,
///   `'static`, any executor).
/// * **Local calls** (`create_channel`, `create_local_invitation`, the invitation actions and
///   getters, `joined_channels`, `local_user_attributes`) answer at once, as in the SDK,
///   where they are synchronous too. They wait for the client thread to run them (no network:
///   microseconds), so they block the calling thread that long.
///
/// Clones share one client, and so do the handles made from it ([`RtmChannel`],
/// [`LocalInvitation`], [`RemoteInvitation`]), which keep it alive. Dropping the last of them
/// logs out (if logged in) and stops the client's thread.
///
/// [`RtmChannel`]: crate::RtmChannel
/// [`LocalInvitation`]: crate::LocalInvitation
/// [`RemoteInvitation`]: crate::RemoteInvitation
#[derive(Debug, Clone)]
pub struct RtmClient {
    commands: Sender<Command>,
    listeners: Listeners,
    state: Arc<AtomicU8>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl RtmClient {
    /// A client for the server at `server_url` (`ws://host:port` or `wss://host:port`), not
    /// logged in yet.
    pub fn new(server_url: &str, config: ClientConfig) -> Result<Self, ClientError> {
        RtmClient::with_options(server_url, config, ConnectOptions::default())
    }

    /// [`RtmClient::new`] with the driver's own settings (a CA file for `wss://`, an
    /// `Origin`). Fails at once if they cannot be used (an unreadable CA file).
    pub fn with_options(
        server_url: &str,
        config: ClientConfig,
        options: ConnectOptions,
    ) -> Result<Self, ClientError> {
        let dialer = Arc::new(Dialer::new(server_url, options)?);
        let (commands, commands_rx) = async_channel::unbounded();
        let listeners = Listeners::default();
        let driver_listeners = listeners.clone();
        let state = Arc::new(AtomicU8::new(ConnectionState::Disconnected as u8));
        let driver_state = state.clone();
        std::thread::Builder::new()
            .name("rtm-client".into())
            .spawn(move || {
                let ex = Arc::new(Executor::new());
                smol::block_on(ex.run(run_driver(
                    ex.clone(),
                    dialer,
                    config,
                    commands_rx,
                    driver_listeners,
                    driver_state,
                )));
            })?;
        Ok(RtmClient {
            commands,
            listeners,
            state,
        })
    }

    /// A new listener of this client's events, from now on: every [`Event`] except
    /// `Event::Response` (results go to the call that asked). Every listener hears every
    /// event, like each `client.on(...)` of the SDK; one that falls [`EVENT_QUEUE`] events
    /// behind loses the oldest and is told how many ([`crate::events::RecvError::Lagged`]).
    pub fn events(&self) -> Events {
        self.events_with_capacity(EVENT_QUEUE)
    }

    /// [`RtmClient::events`] for a listener that keeps at most `capacity` events waiting.
    pub fn events_with_capacity(&self, capacity: usize) -> Events {
        self.listeners.listen(Filter::All, capacity)
    }

    /// A listener of the events `filter` lets through (channels and invitations).
    pub(crate) fn listen(&self, filter: Filter) -> Events {
        self.listeners.listen(filter, EVENT_QUEUE)
    }

    /// The current connection state (§2.1).
    pub fn connection_state(&self) -> ConnectionState {
        match self.state.load(Ordering::Relaxed) {
            2 => ConnectionState::Connecting,
            3 => ConnectionState::Connected,
            4 => ConnectionState::Reconnecting,
            5 => ConnectionState::Aborted,
            _ => ConnectionState::Disconnected,
        }
    }

    /// Hands a request to the core now; the returned receiver gets its [`Response`]. If the
    /// client thread is gone the receiver fails.
    pub(crate) fn start(
        &self,
        start: impl FnOnce(&mut Client, Timestamp) -> Result<RequestId, Response> + Send + 'static,
    ) -> Receiver<Response> {
        let (reply, answer) = async_channel::bounded(1);
        // If the driver is gone the command (and `reply`) is dropped: `answer` fails.
        let _ = self.commands.try_send(Command::Request {
            start: Box::new(start),
            reply,
        });
        answer
    }

    /// Hands a media transfer's start to the client thread.
    pub(crate) fn send_media_command(&self, command: MediaCommand) {
        // If the driver is gone the command is dropped: its receivers fail.
        let _ = self.commands.try_send(Command::Media(command));
    }

    /// Runs `f` on the core now; the returned receiver gets what it returns.
    fn local_answer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client, Timestamp) -> T + Send + 'static,
    ) -> Receiver<T> {
        let (reply, answer) = async_channel::bounded(1);
        let _ = self
            .commands
            .try_send(Command::Local(Box::new(move |client, now| {
                let _ = reply.try_send(f(client, now));
            })));
        answer
    }

    /// Runs `f` on the core and waits (blocking, no network) for what it returns; `None` if
    /// the client thread is gone.
    pub(crate) fn local<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client, Timestamp) -> T + Send + 'static,
    ) -> Option<T> {
        self.local_answer(f).recv_blocking().ok()
    }

    /// `login({uid, token})` (§4.2). `token` is required in certificate mode.
    ///
    /// Like every request here, the command is handed to the client when called; the future
    /// only waits for its answer and can be awaited anywhere (or dropped).
    pub fn login(&self, uid: &str, token: Option<&str>) -> Answer<(), LoginError> {
        self.request(Login, (uid, token), |c, now, (uid, token)| {
            c.login(now, &uid, token.as_deref())
        })
    }

    /// `logout()` (§2.10). Resolves once the server has been told and the connection is
    /// closed (the core first waits briefly for the server's answer, so that decisions it
    /// made before the logout still arrive as events).
    pub fn logout(&self) -> Answer<(), LogoutError> {
        let (reply, answer) = async_channel::bounded(1);
        let _ = self.commands.try_send(Command::Logout { reply });
        Answer::new(async move { answer.recv().await.unwrap_or(Err(LogoutError::Rejected)) })
    }

    /// `renewToken(token)` (§3.5).
    pub fn renew_token(&self, token: &str) -> Answer<(), RenewTokenError> {
        self.request(RenewToken, token, |c, now, token| {
            c.renew_token(now, &token)
        })
    }

    /// `sendMessageToPeer(message, peerId, options)` (§4.3.2): resolves with
    /// received / cached by the server / peer unreachable.
    pub fn send_message_to_peer(
        &self,
        peer_id: &str,
        message: Message,
        options: SendMessageOptions,
    ) -> Answer<PeerMessageOutcome, PeerMessageError> {
        self.request(SendMessageToPeer, peer_id, move |c, now, peer| {
            c.send_message_to_peer(now, &peer, message, options)
        })
    }

    /// `queryPeersOnlineStatus(peerIds)` (§4.4): `(peer, online)` in the order asked.
    pub fn query_peers_online_status(
        &self,
        peer_ids: &[&str],
    ) -> Answer<Vec<(UserId, bool)>, QueryPeersOnlineStatusError> {
        self.request(QueryPeersOnlineStatus, peer_ids, |c, now, ids| {
            c.query_peers_online_status(now, &strs(&ids))
        })
    }

    /// `subscribePeersOnlineStatus(peerIds)` (§4.4). The current state of the peers follows
    /// as an `Event::PeersOnlineStatusChanged`, then every change.
    pub fn subscribe_peers_online_status(
        &self,
        peer_ids: &[&str],
    ) -> Answer<(), PeerSubscriptionStatusError> {
        self.request(SubscribePeersOnlineStatus, peer_ids, |c, now, ids| {
            c.subscribe_peers_online_status(now, &strs(&ids))
        })
    }

    /// `unsubscribePeersOnlineStatus(peerIds)` (§4.4).
    pub fn unsubscribe_peers_online_status(
        &self,
        peer_ids: &[&str],
    ) -> Answer<(), PeerSubscriptionStatusError> {
        self.request(UnsubscribePeersOnlineStatus, peer_ids, |c, now, ids| {
            c.unsubscribe_peers_online_status(now, &strs(&ids))
        })
    }

    /// `queryPeersBySubscriptionOption(ONLINE_STATUS)` (§4.4): the peers this client is
    /// subscribed to (the only subscription option there is).
    pub fn query_peers_by_subscription_option(
        &self,
    ) -> Answer<Vec<UserId>, QueryPeersBySubscriptionOptionError> {
        let answer = self.local_answer(|c, now| c.query_peers_by_subscription_option(now));
        let gone = Err(QueryPeersBySubscriptionOptionError::Failure);
        Answer::new(async move { answer.recv().await.unwrap_or(gone) })
    }
}

/// What wakes the driver.
enum Input {
    Command(Command),
    Link(LinkEvent<TransportId>),
    /// A media transfer's report.
    Note(Note),
    Tick,
    /// The handle was dropped.
    Exit,
}

/// One transport the core asked for.
struct Slot {
    /// Connects, then runs the link. Dropping it before the link is open cancels the attempt.
    task: Task<()>,
    writer: Option<Writer>,
}

struct Driver {
    ex: Arc<Executor<'static>>,
    dialer: Arc<Dialer>,
    client: Client,
    clock: Clock,
    slots: BTreeMap<TransportId, Slot>,
    /// Links being closed: kept so the close handshake can finish before the thread ends.
    closing: Vec<Task<()>>,
    link_tx: Sender<LinkEvent<TransportId>>,
    replies: BTreeMap<RequestId, Sender<Response>>,
    /// A logout waiting for its close frame to be flushed.
    logout_reply: Option<Sender<Result<(), LogoutError>>>,
    listeners: Listeners,
    state: Arc<AtomicU8>,
    media: MediaJobs,
}

/// The driver's side of the media transfers: each request's source or sink, its handle's
/// progress channel, and the task carrying out the core's current order for it.
struct MediaJobs {
    jobs: BTreeMap<RequestId, Job>,
    progress: BTreeMap<RequestId, Sender<MediaProgress>>,
    /// The running exchange of a request, with its generation (reports of an exchange the
    /// core has since replaced or cancelled are dropped).
    running: BTreeMap<RequestId, (u64, Task<()>)>,
    generation: u64,
    notes: Sender<Note>,
}

impl MediaJobs {
    /// The reporter of `request`'s next exchange, under a new generation.
    fn next_reporter(&mut self, request: RequestId) -> Reporter {
        self.generation += 1;
        Reporter {
            request,
            generation: self.generation,
            notes: self.notes.clone(),
        }
    }
}

async fn run_driver(
    ex: Arc<Executor<'static>>,
    dialer: Arc<Dialer>,
    config: ClientConfig,
    commands: Receiver<Command>,
    listeners: Listeners,
    state: Arc<AtomicU8>,
) {
    let clock = Clock::new();
    let client = Client::new(config, random_seed(), clock.now(), clock.unix_ms_at_start());
    let (link_tx, link_rx) = async_channel::bounded(256);
    // Unbounded: a report must not be lost (an end above all); each running exchange sends
    // one per `PROGRESS_EVERY` at most, and there are at most as many as the core allows.
    let (notes, notes_rx) = async_channel::unbounded();
    let mut d = Driver {
        ex,
        dialer,
        client,
        clock,
        slots: BTreeMap::new(),
        closing: Vec::new(),
        link_tx,
        replies: BTreeMap::new(),
        logout_reply: None,
        listeners,
        state,
        media: MediaJobs {
            jobs: BTreeMap::new(),
            progress: BTreeMap::new(),
            running: BTreeMap::new(),
            generation: 0,
            notes,
        },
    };
    // Set when the application let go of the client: the logout it implies is under way.
    let mut exit_by: Option<Instant> = None;
    loop {
        d.drain();
        if let Some(by) = exit_by {
            if d.slots.is_empty() || Instant::now() >= by {
                break;
            }
        }
        let deadline = d.client.poll_timeout();
        if deadline.is_some_and(|t| t <= d.clock.now()) {
            // Due timers first, so a busy link cannot starve them.
            d.client.handle_input(d.clock.now(), ClientInput::Tick);
            continue;
        }
        let timer = d.clock.timer(deadline);
        let exit_timer = match exit_by {
            Some(by) => smol::Timer::at(by),
            None => smol::Timer::never(),
        };
        let input = future::or(
            async {
                future::or(
                    async { link_rx.recv().await.map_or(Input::Exit, Input::Link) },
                    async {
                        match notes_rx.recv().await {
                            Ok(note) => Input::Note(note),
                            Err(_) => future::pending().await,
                        }
                    },
                )
                .await
            },
            future::or(
                async {
                    if exit_by.is_some() {
                        return future::pending().await;
                    }
                    commands.recv().await.map_or(Input::Exit, Input::Command)
                },
                async {
                    future::or(timer, exit_timer).await;
                    Input::Tick
                },
            ),
        )
        .await;
        let now = d.clock.now();
        match input {
            Input::Command(c) => d.command(c),
            Input::Link(ev) => d.on_link_event(ev),
            Input::Note(note) => d.on_note(note),
            Input::Tick => d.client.handle_input(now, ClientInput::Tick),
            Input::Exit => {
                // The application let go of the client: log out so the server knows now,
                // not 30 s later, and keep running until the connection is closed.
                if exit_by.is_none() {
                    exit_by = Some(Instant::now() + EXIT_GRACE);
                    let _ = d.client.logout(now);
                }
            }
        }
    }
    let closing: Vec<Task<()>> = std::mem::take(&mut d.closing);
    // Every listener's stream ends once it has read what is queued.
    d.listeners.close();
    drop(d);
    future::or(
        async {
            for task in closing {
                task.await;
            }
        },
        async {
            smol::Timer::after(CLOSE_GRACE).await;
        },
    )
    .await;
}

impl Driver {
    fn command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Request { start, reply } => match start(&mut self.client, now) {
                Ok(request) => {
                    self.replies.insert(request, reply);
                }
                Err(local) => {
                    let _ = reply.try_send(local);
                }
            },
            Command::Local(run) => run(&mut self.client, now),
            Command::Media(media) => match (media.start)(&mut self.client, now) {
                Ok(request) => {
                    self.replies.insert(request, media.reply);
                    self.media.jobs.insert(request, media.job);
                    self.media.progress.insert(request, media.progress);
                    let _ = media.request.try_send(Some(request));
                }
                Err(local) => {
                    let _ = media.request.try_send(None);
                    if let Job::Download(sink) = &media.job {
                        lock(sink).discard();
                    }
                    let _ = media.reply.try_send(local);
                }
            },
            Command::Logout { reply } => match self.client.logout(now) {
                // Answered once the connection is closed (see `drain`).
                Ok(()) => self.logout_reply = Some(reply),
                Err(e) => {
                    let _ = reply.try_send(Err(e));
                }
            },
        }
    }

    fn on_link_event(&mut self, ev: LinkEvent<TransportId>) {
        let now = self.clock.now();
        match ev {
            LinkEvent::Opened(t, writer, _) => match self.slots.get_mut(&t) {
                Some(slot) => {
                    slot.writer = Some(writer);
                    self.client.handle_input(now, ClientInput::Opened(t));
                }
                // The core gave up on it while it was connecting.
                None => writer.close(close::NORMAL, "", None),
            },
            LinkEvent::Frame(t, frame, _handled) => {
                if self.slots.contains_key(&t) {
                    self.client.handle_input(now, ClientInput::Frame(t, frame));
                }
            }
            LinkEvent::Closed(t) => {
                if let Some(slot) = self.slots.remove(&t) {
                    debug!(transport = t.0, "link closed");
                    self.closing.push(slot.task);
                    self.client.handle_input(now, ClientInput::Closed(t));
                }
            }
        }
    }

    /// A media exchange's report, for the core (unless the exchange is no longer the
    /// request's current one).
    fn on_note(&mut self, note: Note) {
        let now = self.clock.now();
        let current = |request: &RequestId, generation: u64| {
            self.media
                .running
                .get(request)
                .is_some_and(|(g, _)| *g == generation)
        };
        match note {
            Note::Progress {
                request,
                generation,
                done,
                total,
            } => {
                if current(&request, generation) {
                    self.client.transfer_progress(now, request, done, total);
                }
            }
            Note::Ended {
                request,
                generation,
                end,
            } => {
                if current(&request, generation) {
                    self.media.running.remove(&request);
                    self.client.transfer_ended(now, request, end);
                }
            }
        }
    }

    /// Carries out a transfer order of the core: an exchange as a task of its own.
    fn transfer(&mut self, order: TransferOrder) {
        let media = &mut self.media;
        match order {
            TransferOrder::Cancel { request } => {
                // Dropping the task drops its connection.
                media.running.remove(&request);
            }
            TransferOrder::Upload {
                request,
                ticket,
                size,
            } => {
                let Some(Job::Upload(source)) = media.jobs.get(&request).cloned() else {
                    return;
                };
                let reporter = media.next_reporter(request);
                let generation = reporter.generation;
                let task = self.ex.spawn(crate::media::upload(
                    self.ex.clone(),
                    self.dialer.clone(),
                    ticket,
                    size,
                    source,
                    reporter,
                ));
                media.running.insert(request, (generation, task));
            }
            TransferOrder::Download {
                request,
                ticket,
                media_id,
                from,
            } => {
                let Some(Job::Download(sink)) = media.jobs.get(&request).cloned() else {
                    return;
                };
                let reporter = media.next_reporter(request);
                let generation = reporter.generation;
                let task = self.ex.spawn(crate::media::download(
                    self.ex.clone(),
                    self.dialer.clone(),
                    ticket,
                    media_id,
                    from,
                    sink,
                    reporter,
                ));
                media.running.insert(request, (generation, task));
            }
        }
    }

    /// A request answered: a transfer's leftovers go (its file closed and named, or removed
    /// if it failed). A whole download whose file cannot take its name fails after all
    /// (FAILURE): the application would not find it.
    fn answered(&mut self, request: RequestId, response: &mut Response) {
        self.media.running.remove(&request);
        self.media.progress.remove(&request);
        if let Some(Job::Download(sink)) = self.media.jobs.remove(&request) {
            let mut sink = lock(&sink);
            match response {
                Response::DownloadMedia(Ok(_)) => {
                    if let Err(e) = sink.close() {
                        warn!(error = %e, "media download: cannot rename the file to its name");
                        sink.discard();
                        *response = Response::DownloadMedia(Err(DownloadMediaError::Failure));
                    }
                }
                _ => sink.discard(),
            }
        }
    }

    fn connect(&mut self, t: TransportId) {
        let dialer = self.dialer.clone();
        let events = self.link_tx.clone();
        let task = self.ex.spawn(async move {
            match dialer.dial().await {
                Ok(ws) => link::run(t, ws, None, events).await,
                Err(e) => {
                    debug!(transport = t.0, error = %e, "connect failed");
                    let _ = events.send(LinkEvent::Closed(t)).await;
                }
            }
        });
        self.slots.insert(t, Slot { task, writer: None });
    }

    /// Carries out every output of the core.
    fn drain(&mut self) {
        // The input that queued these outputs has already moved the state: publish it before
        // any answer wakes a caller who may look at it.
        self.publish_state();
        while let Some(output) = self.client.poll_output() {
            match output {
                ClientOutput::Connect(t) => self.connect(t),
                ClientOutput::Send(t, frame) => {
                    let Some(writer) = self.slots.get(&t).and_then(|s| s.writer.as_ref()) else {
                        continue;
                    };
                    let Ok(text) = Utf8Bytes::try_from(frame) else {
                        debug_assert!(false, "the core only sends UTF-8 JSON");
                        continue;
                    };
                    match writer.send(text, QueueLimits::default()) {
                        Ok(()) => {}
                        Err(e) => {
                            if e == QueueError::Full {
                                warn!(transport = t.0, "the server does not keep up: closing");
                                writer.close(close::SLOW_CONSUMER, "outbound queue full", None);
                            }
                            if let Some(slot) = self.slots.remove(&t) {
                                self.closing.push(slot.task);
                            }
                            self.client
                                .handle_input(self.clock.now(), ClientInput::Closed(t));
                        }
                    }
                }
                ClientOutput::Close(t, code) => {
                    let Some(slot) = self.slots.remove(&t) else {
                        continue;
                    };
                    match &slot.writer {
                        Some(writer) => {
                            let then = self.logout_reply.take().map(|reply| {
                                OnClosed::new(move || {
                                    let _ = reply.try_send(Ok(()));
                                })
                            });
                            writer.close(code, "", then);
                            self.closing.push(slot.task);
                        }
                        None => drop(slot.task), // cancels the connection attempt
                    }
                }
                ClientOutput::Transfer(order) => self.transfer(order),
                ClientOutput::Event(Event::Response {
                    request,
                    mut response,
                }) => {
                    self.answered(request, &mut response);
                    if let Some(reply) = self.replies.remove(&request) {
                        let _ = reply.try_send(response);
                    }
                }
                ClientOutput::Event(event) => {
                    if let Event::MediaProgress {
                        request,
                        current,
                        total,
                    } = &event
                    {
                        if let Some(progress) = self.media.progress.get(request) {
                            let _ = progress.try_send(MediaProgress {
                                current: *current,
                                total: *total,
                            });
                        }
                    }
                    self.listeners.publish(&event)
                }
            }
        }
        self.closing.retain(|t| !t.is_finished());
        // A logout whose connection is gone without a close of ours (it broke, or there was
        // none) has nothing left to wait for.
        if self.slots.is_empty() {
            if let Some(reply) = self.logout_reply.take() {
                let _ = reply.try_send(Ok(()));
            }
        }
        self.publish_state();
    }

    fn publish_state(&self) {
        self.state
            .store(self.client.connection_state() as u8, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("ws://127.0.0.1:9300").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 9300));
        let t = parse_url("ws://example.org/rtm?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("example.org", 80));
        let t = parse_url("ws://[::1]:9300/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9300));
        assert!(!t.tls);
        let t = parse_url("wss://rtm.example.org/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.tls),
            ("rtm.example.org", 443, true)
        );
        let t = parse_url("wss://127.0.0.1:9443").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 9443, true));
        let t = parse_url("wss://[::1]:9443/rtm").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 9443, true));
        for bad in [
            "http://x",
            "https://x",
            "wss://",
            "wss://h:port",
            "ws://",
            "ws://:80",
            "ws://h:port",
            "ws://[::1",
            "ws://[::1]x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod options_tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_fails_at_once_and_only_for_wss() {
        let options = ConnectOptions {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            origin: None,
        };
        let err = Dialer::new("wss://127.0.0.1:1", options.clone()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        // Not looked at for ws://.
        assert!(Dialer::new("ws://127.0.0.1:1", options).is_ok());
    }

    #[test]
    fn media_requests_go_to_the_server_s_port_under_the_url_s_path() {
        let request = |url: &str, tail: &str| {
            let dialer = Dialer::new(url, ConnectOptions::default()).unwrap();
            let r = dialer
                .media_request(hyper::Method::GET, tail)
                .body(())
                .unwrap();
            (
                r.uri().to_string(),
                r.headers()["host"].to_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            request("ws://127.0.0.1:9300", ""),
            ("/v1/media".into(), "127.0.0.1:9300".into())
        );
        assert_eq!(
            request("ws://127.0.0.1:9300/", "/abc"),
            ("/v1/media/abc".into(), "127.0.0.1:9300".into())
        );
        // Behind a proxy that routes a path to the server; the query is the WebSocket's.
        assert_eq!(
            request("ws://rtm.example.org/rtm/?x=1", "/abc"),
            ("/rtm/v1/media/abc".into(), "rtm.example.org".into())
        );
        assert_eq!(
            request("ws://[::1]:9300/rtm", ""),
            ("/rtm/v1/media".into(), "[::1]:9300".into())
        );
    }

    #[test]
    fn the_origin_must_be_a_header_value() {
        let bad = ConnectOptions {
            origin: Some("https://a.example\n".into()),
            ..ConnectOptions::default()
        };
        assert!(matches!(
            Dialer::new("ws://127.0.0.1:1", bad),
            Err(ClientError::InvalidOrigin(_))
        ));
    }
}
