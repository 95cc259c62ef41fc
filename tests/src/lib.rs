//! Shared helpers for the integration tests in `tests/`.
//!
//! End-to-end tests (`e2e_*.rs`) start their own server on a free loopback port
//! ([`TestServer::start`]), talk to it with [`RtmClient`]s ([`TestClient`]) or with a raw
//! WebSocket ([`RawWs`]) when they need to misbehave, and stop it at the end. Every wait is
//! bounded ([`WAIT`]); nothing asserts timing with a sleep.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::WebSocketStream;
use futures_lite::{future, StreamExt};
use rtm_proto::{
    ClientConfig, ConnectionChangeReason, ConnectionState, Event, Message, PeerOnlineState,
    ServerConfig, UserId,
};
use rtm_transport_smol::{RtmClient, ServerHandle};
use serde_json::Value;
use smol::net::{TcpListener, TcpStream};

/// The longest any test waits for one thing to happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs an async test body.
pub fn run<T>(f: impl Future<Output = T>) -> T {
    smol::block_on(f)
}

/// `f`'s result, or a panic naming `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    future::or(async { Some(f.await) }, async {
        smol::Timer::after(limit).await;
        None
    })
    .await
    .unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// The wall clock, Unix ms.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A user id (panics on an invalid one: test data).
pub fn uid(s: &str) -> UserId {
    UserId::new(s).expect("valid test user id")
}

/// Server settings with liveness timers shrunk for tests: UNREACHABLE after 800 ms of
/// silence, OFFLINE after 2 s, heartbeats every 200 ms.
pub fn fast_liveness(config: ServerConfig) -> ServerConfig {
    ServerConfig {
        heartbeat: Duration::from_millis(200),
        unreachable_after: Duration::from_millis(800),
        offline_after: Duration::from_secs(2),
        ..config
    }
}

/// Client settings for tests: quick reconnection.
pub fn test_client_config() -> ClientConfig {
    ClientConfig {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..ClientConfig::default()
    }
}

/// A server on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    handle: Option<ServerHandle>,
    url: String,
    app_id: String,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with a port the OS picks.
    pub fn start(config: ServerConfig) -> TestServer {
        let app_id = config.app_id.clone();
        let handle = rtm_transport_smol::spawn_server("127.0.0.1:0", config)
            .expect("start a server on a loopback port");
        TestServer {
            url: handle.url(),
            handle: Some(handle),
            app_id,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle
            .as_ref()
            .map(|h| h.local_addr())
            .expect("the server runs")
    }

    /// A client of this server (same app id), not logged in.
    pub fn client(&self) -> TestClient {
        self.client_with(ClientConfig {
            app_id: self.app_id.clone(),
            ..test_client_config()
        })
    }

    /// A client of this server with these settings, not logged in.
    pub fn client_with(&self, config: ClientConfig) -> TestClient {
        TestClient::new(RtmClient::new(&self.url, config).expect("valid server URL"))
    }

    /// A client logged in as `uid` (app-id-only mode), its login events consumed.
    pub async fn logged_in(&self, uid: &str) -> TestClient {
        let c = self.client();
        within(WAIT, &format!("{uid} to log in"), c.login(uid, None))
            .await
            .unwrap_or_else(|e| panic!("{uid} could not log in: {e:?}"));
        c.expect_state(
            ConnectionState::Connected,
            ConnectionChangeReason::LoginSuccess,
        )
        .await;
        c
    }

    /// Graceful shutdown; returns once the server thread has ended.
    pub fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("server shut down cleanly");
        }
    }
}

/// An [`RtmClient`] with its event stream and helpers to wait for events.
#[derive(Debug)]
pub struct TestClient {
    client: RtmClient,
    events: Receiver<Event>,
}

/// A received peer message, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub peer_id: String,
    pub message: Message,
    pub server_received_ts: u64,
    pub is_offline_message: bool,
}

impl TestClient {
    pub fn new(client: RtmClient) -> Self {
        let events = client.events();
        TestClient { client, events }
    }

    /// The next event, whatever it is.
    pub async fn next_event(&self) -> Event {
        within(WAIT, "the next event", self.events.recv())
            .await
            .expect("the client's event stream ended")
    }

    /// Skips events until `pick` accepts one; returns what it made of it.
    pub async fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        within(WAIT, what, async {
            loop {
                let event = self.events.recv().await.expect("event stream ended");
                if let Some(t) = pick(&event) {
                    return t;
                }
            }
        })
        .await
    }

    /// Waits for `ConnectionStateChanged(state, reason)`, skipping other events.
    pub async fn expect_state(&self, state: ConnectionState, reason: ConnectionChangeReason) {
        let what = format!("ConnectionStateChanged({state:?}, {reason:?})");
        self.wait_for(&what, |e| match e {
            Event::ConnectionStateChanged {
                state: s,
                reason: r,
            } if *s == state => {
                assert_eq!(*r, reason, "state {state:?} reached for another reason");
                Some(())
            }
            _ => None,
        })
        .await
    }

    /// The next peer message, skipping other events.
    pub async fn next_message(&self) -> Received {
        self.wait_for("a peer message", |e| match e {
            Event::MessageFromPeer {
                peer_id,
                message,
                server_received_ts,
                is_offline_message,
            } => Some(Received {
                peer_id: peer_id.to_string(),
                message: message.clone(),
                server_received_ts: *server_received_ts,
                is_offline_message: *is_offline_message,
            }),
            _ => None,
        })
        .await
    }

    /// The next presence change, skipping other events: `(peer, state)` pairs in peer order.
    pub async fn next_presence(&self) -> Vec<(String, PeerOnlineState)> {
        self.wait_for("a presence change", |e| match e {
            Event::PeersOnlineStatusChanged(m) => {
                Some(m.iter().map(|(p, s)| (p.to_string(), *s)).collect())
            }
            _ => None,
        })
        .await
    }
}

impl Deref for TestClient {
    type Target = RtmClient;
    fn deref(&self) -> &RtmClient {
        &self.client
    }
}

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
    pub async fn connect(url: &str) -> RawWs {
        let addr = url.strip_prefix("ws://").expect("a ws:// URL");
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (ws, _) = async_tungstenite::client_async(url, stream)
            .await
            .expect("WebSocket handshake");
        RawWs { ws }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(WsMessage::text(text.into()))
            .await
            .expect("send a text frame");
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws
            .send(WsMessage::binary(data))
            .await
            .expect("send a binary frame");
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

/// A TCP proxy in front of a server that can cut every connection through it and refuse new
/// ones for a while: a network outage on demand.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct ProxyState {
    refusing: bool,
    /// Dropping a sender ends its connection.
    links: Vec<Sender<()>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let listener = TcpListener::try_from(listener).expect("async listener");
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let ex = smol::LocalExecutor::new();
            smol::block_on(ex.run(future::or(
                async {
                    let _ = stopped.recv().await;
                },
                async {
                    loop {
                        let Ok((down, _)) = listener.accept().await else {
                            continue;
                        };
                        let (kill, killed) = async_channel::bounded::<()>(1);
                        {
                            let mut s = shared.lock().expect("proxy state");
                            if s.refusing {
                                continue; // `down` is dropped: connection refused
                            }
                            s.links.push(kill);
                        }
                        ex.spawn(async move {
                            let Ok(up) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            let forward = futures_lite::io::copy(down.clone(), up.clone());
                            let back = futures_lite::io::copy(up, down);
                            future::or(
                                async {
                                    let _ = future::or(forward, back).await;
                                },
                                async {
                                    let _ = killed.recv().await;
                                },
                            )
                            .await;
                        })
                        .detach();
                    }
                },
            )));
        });
        Proxy {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `ws://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Drops every connection through the proxy and refuses new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.refusing = true;
        s.links.clear();
    }

    /// Accepts connections again.
    pub fn heal(&self) {
        self.state.lock().expect("proxy state").refusing = false;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
