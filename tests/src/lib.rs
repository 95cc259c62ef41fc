//! Shared helpers for the integration tests in `tests/`.
//!
//! End-to-end tests (`e2e_*.rs`) start their own server on a free loopback port
//! ([`TestServer::start`]), talk to it with [`RtmClient`]s ([`TestClient`]) or with a raw
//! WebSocket ([`RawWs`]) when they need to misbehave, and stop it at the end. Every wait is
//! bounded ([`WAIT`]); nothing asserts timing with a sleep.
//!
//! Channel stories compare exact sequences of [`ChannelEvent`]s with
//! [`TestClient::expect_channel_events`], which lets `MemberCountUpdated` come anywhere (the
//! server coalesces counts by time) but requires the latest count to reach the truth.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::Sender;
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::WebSocketStream;
use futures_lite::{future, StreamExt};
use rtm_proto::attributes::ChannelAttribute;
pub use rtm_proto::ChannelEvent;
use rtm_proto::{
    ChannelId, ClientConfig, ConnectionChangeReason, ConnectionState, Event, Message,
    PeerOnlineState, ServerConfig, UserId,
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

/// A channel id (panics on an invalid one: test data).
pub fn cid(s: &str) -> ChannelId {
    ChannelId::new(s).expect("valid test channel id")
}

/// An attribute map from `(key, value)` pairs.
pub fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Expected channel events for [`TestClient::expect_channel_events`], built from plain
/// strings.
pub mod chan {
    use rtm_proto::{ChannelEvent, Message};

    /// A text `ChannelMessage` from `from`, whatever its timestamp.
    pub fn text(from: &str, text: &str) -> ChannelEvent {
        ChannelEvent::Message {
            member_id: super::uid(from),
            message: Message::text(text),
            server_received_ts: 0,
        }
    }

    /// `MemberJoined(who)`.
    pub fn joined(who: &str) -> ChannelEvent {
        ChannelEvent::MemberJoined {
            member_id: super::uid(who),
        }
    }

    /// `MemberLeft(who)`.
    pub fn left(who: &str) -> ChannelEvent {
        ChannelEvent::MemberLeft {
            member_id: super::uid(who),
        }
    }

    /// The same event with a zero timestamp, to compare messages by sender and body.
    pub fn untimed(event: &ChannelEvent) -> ChannelEvent {
        match event {
            ChannelEvent::Message {
                member_id, message, ..
            } => ChannelEvent::Message {
                member_id: member_id.clone(),
                message: message.clone(),
                server_received_ts: 0,
            },
            other => other.clone(),
        }
    }
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
    events: rtm_transport_smol::Events,
    /// The latest `MemberCountUpdated` seen per channel (by the channel helpers).
    counts: Mutex<BTreeMap<String, u32>>,
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
        TestClient {
            client,
            events,
            counts: Mutex::default(),
        }
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

    /// The next event of a channel (any channel's events other than `channel`'s fail the
    /// test; connection and other non-channel events are skipped).
    pub async fn next_channel_event(&self, channel: &str) -> ChannelEvent {
        let (c, e) = self
            .wait_for(&format!("an event of channel {channel}"), |e| match e {
                Event::Channel { channel, event } => Some((channel.clone(), event.clone())),
                _ => None,
            })
            .await;
        assert_eq!(c.as_str(), channel, "an event of another channel: {e:?}");
        if let ChannelEvent::MemberCountUpdated { count: n } = e {
            self.counts
                .lock()
                .expect("counts")
                .insert(channel.to_string(), n);
        }
        e
    }

    /// The latest member count of `channel` this client was told of (by the helpers).
    pub fn last_count(&self, channel: &str) -> Option<u32> {
        self.counts.lock().expect("counts").get(channel).copied()
    }

    /// Reads `channel`'s events: first exactly the `expected` sequence, with
    /// `MemberCountUpdated` allowed anywhere in between (counts are coalesced by time, §5.2),
    /// then more counts until the latest one this client was told is `count`. Messages are
    /// compared by sender and body; their `serverReceivedTs` values are returned, in order.
    pub async fn expect_channel_events(
        &self,
        channel: &str,
        expected: &[ChannelEvent],
        count: u32,
    ) -> Vec<u64> {
        let mut timestamps = Vec::new();
        let mut seen = Vec::new();
        for want in expected {
            let got = loop {
                match self.next_channel_event(channel).await {
                    count @ ChannelEvent::MemberCountUpdated { .. } => seen.push(count),
                    other => break other,
                }
            };
            if let ChannelEvent::Message {
                server_received_ts, ..
            } = &got
            {
                timestamps.push(*server_received_ts);
            }
            seen.push(got.clone());
            assert_eq!(
                chan::untimed(&got),
                chan::untimed(want),
                "channel {channel}: unexpected event after {seen:?}"
            );
        }
        while self.last_count(channel) != Some(count) {
            match self.next_channel_event(channel).await {
                count @ ChannelEvent::MemberCountUpdated { .. } => seen.push(count),
                other => panic!(
                    "channel {channel}: {other:?} while waiting for the count {count}; saw {seen:?}"
                ),
            }
        }
        timestamps
    }

    /// The next `AttributesUpdated` of `channel` (member counts skipped, any other channel
    /// event fails the test).
    pub async fn next_attributes_update(
        &self,
        channel: &str,
    ) -> BTreeMap<String, ChannelAttribute> {
        loop {
            match self.next_channel_event(channel).await {
                ChannelEvent::MemberCountUpdated { .. } => {}
                ChannelEvent::AttributesUpdated { attributes } => return attributes,
                other => panic!("channel {channel}: {other:?} while waiting for attributes"),
            }
        }
    }

    /// The next invitation event (local or remote), skipping other events.
    pub async fn next_invitation_event(&self) -> Event {
        self.wait_for("an invitation event", |e| {
            matches!(
                e,
                Event::LocalInvitation { .. } | Event::RemoteInvitation { .. }
            )
            .then(|| e.clone())
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
