//! One load client: a WebSocket from a chosen loopback source address, logged in (RTM) or
//! greeted (baselines), joined and subscribed, then driven by the worker's commands while it
//! answers what the protocol asks (acks, pings, receipts). Everything it measures goes into
//! the worker's [`Shared`] tallies.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_util::{SinkExt, StreamExt};
use smol::{Async, Timer};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::baseline_client::{self as bc, Dialect, In, Out};
use crate::jobs::{unix_ns, ClientSpec, Speak, Target};
use crate::rtm_frames::{self as rf, Scan};

pub type Ws = WebSocketStream<Async<TcpStream>>;

/// RTM closes a connection silent for 30 s; the load pings well within that (and pings the
/// baselines as often, with WebSocket pings).
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a setup request (login, join, subscribe) may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// Text padding of every message the load sends (bytes).
const PAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// tungstenite zeroes `read_buffer_size` bytes before every read (128 KiB by default): with
/// the default, that memset was over half of the load's CPU. The load's frames are small.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

/// What the clients of one worker measured.
#[derive(Default)]
pub struct Shared {
    /// Round trips counted from `window.0` to `window.1`.
    pub window: Option<(Instant, Instant)>,
    pub receipts: u64,
    pub latencies_us: Vec<u32>,
    pub sent: u64,
    pub errors: u64,
    /// (publisher, seq) → (sent unix ns, deliveries, last delivery unix ns).
    pub deliveries: HashMap<(u32, u64), (u64, u64, u64)>,
    pub published: u64,
    pub publish_errors: u64,
    /// The first few failure reasons (for the report's notes).
    pub first_errors: Vec<String>,
}

impl Shared {
    pub fn note_error(&mut self, e: String) {
        self.errors += 1;
        if self.first_errors.len() < 5 {
            self.first_errors.push(e);
        }
    }

    fn deliver(&mut self, text: &str) {
        let mut parts = text.split('.');
        let (Some(p), Some(s), Some(t)) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        let (Ok(p), Ok(s), Ok(t)) = (p.parse(), s.parse(), t.parse()) else {
            return;
        };
        let now = unix_ns();
        let e = self.deliveries.entry((p, s)).or_insert((t, 0, 0));
        e.1 += 1;
        e.2 = e.2.max(now);
    }
}

/// What the worker tells a running client to do.
pub enum Ctl {
    /// Peer messages to `to` every `interval` (at most `window` unanswered) until `until`.
    Send {
        to: Rc<str>,
        interval: Duration,
        window: usize,
        first: Instant,
        until: Instant,
    },
    /// Channel messages to `room` every `interval` until `until`.
    Publish {
        room: Rc<str>,
        publisher: u32,
        interval: Duration,
        first: Instant,
        until: Instant,
    },
    /// Close the socket abruptly (RST: SO_LINGER 0) and end.
    Drop,
}

/// A client's readiness: how many connection attempts it retried, whether RTM resumed it.
pub struct Ready {
    pub retries: usize,
    pub resumed: bool,
}

/// Opens a TCP connection from `src` to `dst` without blocking the executor, within
/// `timeout`. Binding the source spreads the load over loopback addresses, as RTM counts
/// logins per source address.
pub async fn tcp_connect(
    src: Ipv4Addr,
    dst: SocketAddr,
    timeout: Duration,
) -> Result<Async<TcpStream>, String> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("socket: {e}"))?;
    sock.set_nonblocking(true)
        .map_err(|e| format!("nonblocking: {e}"))?;
    let _ = sock.set_tcp_nodelay(true);
    sock.bind(&SocketAddr::new(src.into(), 0).into())
        .map_err(|e| format!("bind {src}: {e}"))?;
    match sock.connect(&dst.into()) {
        Ok(()) => {}
        // EINPROGRESS (115 on Linux): the handshake goes on; wait until writable.
        Err(e) if e.raw_os_error() == Some(115) || e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(format!("connect: {e}")),
    }
    let stream = Async::new(TcpStream::from(sock)).map_err(|e| format!("async: {e}"))?;
    let writable = async { stream.writable().await.map_err(|e| format!("connect: {e}")) };
    let timed_out = async {
        Timer::after(timeout).await;
        Err(format!("connect timed out ({} ms)", timeout.as_millis()))
    };
    futures_lite::future::or(writable, timed_out).await?;
    if let Ok(Some(e)) = stream.get_ref().take_error() {
        return Err(format!("connect: {e}"));
    }
    stream
        .get_ref()
        .peer_addr()
        .map_err(|e| format!("connect: {e}"))?;
    Ok(stream)
}

/// Runs `f` within `timeout`, else `Err(what timed out)`.
async fn within<T>(
    timeout: Duration,
    what: &str,
    f: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    futures_lite::future::or(f, async {
        Timer::after(timeout).await;
        Err(format!("{what} timed out"))
    })
    .await
}

/// A connected, logged-in client.
pub struct Client {
    ws: Ws,
    speak: Rc<Speak>,
    dialect: Dialect,
    rtm: bool,
    uid: Rc<str>,
    /// RTM: the stream position of the last push read, and the last acknowledged.
    position: u64,
    acked: u64,
    next_id: u32,
    msg_id_base: u64,
    /// Frames fed but not flushed.
    dirty: bool,
    shared: Rc<RefCell<Shared>>,
    /// RTM: the session to resume after a drop.
    pub session: Option<String>,
}

impl Client {
    /// Connects (retrying refused or timed-out attempts until `deadline`), logs in or says
    /// hello, joins and subscribes.
    pub async fn start(
        target: &Target,
        speak: Rc<Speak>,
        spec: &ClientSpec,
        resume: Option<String>,
        connect_timeout: Duration,
        deadline: Instant,
        shared: Rc<RefCell<Shared>>,
    ) -> Result<(Client, Ready), String> {
        let dst: SocketAddr = target
            .url
            .trim_start_matches("ws://")
            .parse()
            .map_err(|e| format!("bad url {}: {e}", target.url))?;
        let (rtm, dialect) = match &*speak {
            Speak::Rtm { .. } => (true, Dialect::Plain),
            Speak::Plain => (false, Dialect::Plain),
            Speak::SocketIo => (false, Dialect::SocketIo),
        };
        let path = if rtm { "/" } else { bc::ws_path(dialect) };
        let url = format!("{}{}", target.url, path);
        let src = Ipv4Addr::from(spec.src);
        let mut retries = 0;
        let mut backoff = Duration::from_millis(50);
        let mut client = loop {
            let attempt = async {
                let stream = tcp_connect(src, dst, connect_timeout).await?;
                let (ws, _) = within(
                    connect_timeout.max(Duration::from_secs(10)),
                    "websocket handshake",
                    async {
                        async_tungstenite::client_async_with_config(
                            url.as_str(),
                            stream,
                            Some(ws_config()),
                        )
                        .await
                        .map_err(|e| format!("handshake: {e}"))
                    },
                )
                .await?;
                Ok::<Ws, String>(ws)
            };
            match attempt.await {
                Ok(ws) => {
                    break Client {
                        ws,
                        speak: speak.clone(),
                        dialect,
                        rtm,
                        uid: spec.uid.as_str().into(),
                        position: 0,
                        acked: 0,
                        next_id: 1,
                        msg_id_base: seed(&spec.uid),
                        dirty: false,
                        shared,
                        session: None,
                    }
                }
                Err(e) if Instant::now() + backoff < deadline => {
                    retries += 1;
                    if retries == 1 || retries % 100 == 0 {
                        eprintln!("rtm-bench worker: {} retrying: {e}", spec.uid);
                    }
                    Timer::after(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(format!("{} after {retries} retries", e)),
            }
        };
        let resumed = within(ANSWER_TIMEOUT, "login", client.greet(spec, resume)).await?;
        if !resumed {
            for room in &spec.rooms {
                within(ANSWER_TIMEOUT, "join", client.join(room)).await?;
            }
            if !spec.peers.is_empty() {
                within(
                    ANSWER_TIMEOUT,
                    "subscribe",
                    client.subscribe(&spec.peers, false),
                )
                .await?;
            }
        } else if !spec.peers.is_empty() {
            // A resumed session kept its channels and subscriptions; the reference client
            // still sends its subscription set with `replace` after every login (PROTOCOL.md
            // `subscribe`), so the storm counts that answer too.
            within(
                ANSWER_TIMEOUT,
                "subscribe",
                client.subscribe(&spec.peers, true),
            )
            .await?;
        }
        Ok((client, Ready { retries, resumed }))
    }

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    async fn feed(&mut self, frame: String) -> Result<(), String> {
        self.dirty = true;
        self.ws
            .feed(Message::text(frame))
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.dirty = false;
        self.ws.flush().await.map_err(|e| format!("write: {e}"))
    }

    async fn send(&mut self, frame: String) -> Result<(), String> {
        self.feed(frame).await?;
        self.flush().await
    }

    /// Login (RTM) or the opening frames and hello (baselines). `Ok(resumed)`.
    async fn greet(&mut self, spec: &ClientSpec, resume: Option<String>) -> Result<bool, String> {
        if let Speak::Rtm { app_id, cert } = &*self.speak.clone() {
            let token = spec.token.clone().or_else(|| {
                cert.as_ref().map(|c| {
                    let now = (unix_ns() / 1_000_000_000) as u32;
                    rtm_proto::token::build_v007(app_id, c, &spec.uid, now, 3600, now ^ 0x5a5a)
                })
            });
            let id = self.id();
            self.send(rf::login(
                id,
                app_id,
                &spec.uid,
                token.as_deref(),
                resume.as_deref(),
            ))
            .await?;
            loop {
                let frame = self.read().await?;
                match rf::scan(&frame) {
                    Scan::LoginOk => {
                        let ok = rf::login_ok(&frame).ok_or("bad login_ok")?;
                        self.position = ok.resend_from.saturating_sub(1);
                        self.acked = self.position;
                        self.session = Some(ok.session);
                        return Ok(ok.resumed);
                    }
                    Scan::Error | Scan::Kicked => return Err(format!("login refused: {frame}")),
                    _ => {
                        self.on_frame(&frame).await?;
                    }
                }
            }
        }
        let opening = bc::opening(self.dialect);
        if !opening.is_empty() {
            for frame in opening {
                self.feed(frame).await?;
            }
            // Socket.IO closes a connection whose first event comes before its connect answer.
            loop {
                let frame = self.read().await?;
                if bc::opened(self.dialect, &frame) {
                    break;
                }
                self.on_frame(&frame).await?;
            }
        }
        let hello = bc::encode(self.dialect, &Out::Hello { uid: &spec.uid });
        self.send(hello).await?;
        self.await_answer(|i| matches!(i, In::HelloOk)).await?;
        Ok(false)
    }

    async fn join(&mut self, room: &str) -> Result<(), String> {
        if self.rtm {
            let id = self.id();
            self.send(rf::join(id, room)).await?;
            return self.await_rtm(Scan::Joined).await;
        }
        let frame = bc::encode(self.dialect, &Out::Join { room });
        self.send(frame).await?;
        self.await_answer(|i| matches!(i, In::Joined { .. })).await
    }

    async fn subscribe(&mut self, peers: &[String], replace: bool) -> Result<(), String> {
        if self.rtm {
            let id = self.id();
            self.send(rf::subscribe(id, peers, replace)).await?;
            return self.await_rtm(Scan::Subscribed).await;
        }
        let refs: Vec<&str> = peers.iter().map(String::as_str).collect();
        let frame = bc::encode(self.dialect, &Out::Subscribe { peers: &refs });
        self.send(frame).await?;
        self.await_answer(|i| matches!(i, In::Subscribed)).await
    }

    /// Reads until the RTM answer `want`, handling pushes meanwhile.
    async fn await_rtm(&mut self, want: Scan<'static>) -> Result<(), String> {
        loop {
            let frame = self.read().await?;
            let got = rf::scan(&frame);
            if got == want {
                return Ok(());
            }
            if matches!(got, Scan::Error | Scan::Kicked) {
                return Err(format!("refused: {frame}"));
            }
            self.on_frame(&frame).await?;
        }
    }

    /// Reads until a baseline answer `want`, handling pushes meanwhile.
    async fn await_answer(&mut self, want: impl Fn(&In) -> bool) -> Result<(), String> {
        loop {
            let frame = self.read().await?;
            if want(&bc::parse(self.dialect, &frame)) {
                return Ok(());
            }
            self.on_frame(&frame).await?;
        }
    }

    /// The next text frame (pings and pongs of the WebSocket itself are tungstenite's).
    async fn read(&mut self) -> Result<String, String> {
        if self.dirty {
            self.flush().await?;
        }
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
                Some(Ok(Message::Close(c))) => return Err(format!("closed by the server: {c:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("read: {e}")),
                None => return Err("closed".into()),
            }
        }
    }

    /// Handles a frame outside a request: counts and acknowledges pushes, answers peer
    /// messages with receipts (baselines), records channel deliveries, answers pings.
    /// `Some((id, received))` for a peer round trip's end.
    async fn on_frame(&mut self, frame: &str) -> Result<Option<(u64, bool)>, String> {
        if self.rtm {
            match rf::scan(frame) {
                Scan::PeerMessage => {
                    self.position += 1;
                    self.acked = self.position;
                    self.feed(rf::ack(self.position)).await?;
                }
                Scan::ChannelMessage { text } => {
                    self.shared.borrow_mut().deliver(text);
                    self.push_counted().await?;
                }
                Scan::OtherPush => self.push_counted().await?,
                Scan::PeerResult { id, received } => return Ok(Some((id, received))),
                Scan::Kicked => return Err(format!("kicked: {frame}")),
                Scan::Error => self.shared.borrow_mut().note_error(frame.to_owned()),
                _ => {}
            }
            return Ok(None);
        }
        match bc::parse(self.dialect, frame) {
            In::Message { from, id, .. } => {
                let receipt = bc::encode(self.dialect, &Out::Receipt { to: &from, id });
                self.feed(receipt).await?;
            }
            In::Receipt { id, .. } => return Ok(Some((id, true))),
            In::RoomMessage { text, .. } => self.shared.borrow_mut().deliver(&text),
            In::Ping => {
                if let Some(p) = bc::pong(self.dialect) {
                    self.feed(p).await?;
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// A stream push other than a peer message: acknowledged every 16, as the reference
    /// client does.
    async fn push_counted(&mut self) -> Result<(), String> {
        self.position += 1;
        if self.position - self.acked >= 16 {
            self.acked = self.position;
            self.feed(rf::ack(self.position)).await?;
        }
        Ok(())
    }

    /// Serves the worker's commands until `Drop` or a lost connection. Returns the session
    /// to resume (RTM).
    pub async fn run(mut self, ctl: async_channel::Receiver<Ctl>) -> Option<String> {
        let result = self.serve(ctl).await;
        if let Err(e) = &result {
            self.shared
                .borrow_mut()
                .note_error(format!("{}: {e}", self.uid));
        }
        self.session.take()
    }

    async fn serve(&mut self, ctl: async_channel::Receiver<Ctl>) -> Result<(), String> {
        enum Ev {
            Frame(Option<Result<Message, async_tungstenite::tungstenite::Error>>),
            Flush,
            Ctl(Option<Ctl>),
            Tick,
        }
        let mut ctl = Box::pin(ctl);
        let mut timer = Timer::never();
        let mut armed: Option<Instant> = None;
        let mut next_ping = Instant::now() + PING_EVERY;
        let mut sending: Option<Sending> = None;
        let mut publishing: Option<Publishing> = None;
        let mut buf = String::new();
        loop {
            let mut wake = next_ping;
            if let Some(s) = &sending {
                if s.outstanding.len() < s.window && s.next < s.until {
                    wake = wake.min(s.next);
                }
            }
            if let Some(p) = &publishing {
                if p.next < p.until {
                    wake = wake.min(p.next);
                }
            }
            if armed != Some(wake) {
                timer.set_at(wake);
                armed = Some(wake);
            }
            let dirty = self.dirty;
            let ev = std::future::poll_fn(|cx| {
                if let Poll::Ready(f) = self.ws.poll_next_unpin(cx) {
                    return Poll::Ready(Ev::Frame(f));
                }
                if dirty {
                    return Poll::Ready(Ev::Flush);
                }
                if let Poll::Ready(c) = ctl.poll_next_unpin(cx) {
                    return Poll::Ready(Ev::Ctl(c));
                }
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    return Poll::Ready(Ev::Tick);
                }
                Poll::Pending
            })
            .await;
            match ev {
                Ev::Frame(Some(Ok(Message::Text(t)))) => {
                    if let Some((id, received)) = self.on_frame(t.as_str()).await? {
                        if let Some(s) = &mut sending {
                            s.answered(id, received, &self.shared);
                        }
                    }
                }
                Ev::Frame(Some(Ok(Message::Close(c)))) => {
                    return Err(format!("closed by the server: {c:?}"))
                }
                Ev::Frame(Some(Ok(_))) => {}
                Ev::Frame(Some(Err(e))) => return Err(format!("read: {e}")),
                Ev::Frame(None) => return Err("closed".into()),
                Ev::Flush => self.flush().await?,
                Ev::Ctl(None) | Ev::Ctl(Some(Ctl::Drop)) => {
                    // SO_LINGER 0: close() sends an RST and leaves no TIME_WAIT.
                    let _ =
                        SockRef::from(self.ws.get_ref().get_ref()).set_linger(Some(Duration::ZERO));
                    return Ok(());
                }
                Ev::Ctl(Some(Ctl::Send {
                    to,
                    interval,
                    window,
                    first,
                    until,
                })) => {
                    sending = Some(Sending {
                        to,
                        interval,
                        window,
                        next: first,
                        until,
                        outstanding: Vec::new(),
                    })
                }
                Ev::Ctl(Some(Ctl::Publish {
                    room,
                    publisher,
                    interval,
                    first,
                    until,
                })) => {
                    publishing = Some(Publishing {
                        room,
                        publisher,
                        seq: 0,
                        interval,
                        next: first,
                        until,
                    })
                }
                Ev::Tick => {
                    armed = None;
                    let now = Instant::now();
                    if now >= next_ping {
                        next_ping = now + PING_EVERY;
                        self.ping().await?;
                    }
                    if let Some(s) = &mut sending {
                        if s.outstanding.len() < s.window && now >= s.next && s.next < s.until {
                            let id = self.id();
                            let msg_id = self.msg_id_base.wrapping_add(u64::from(id));
                            if self.rtm {
                                rf::peer_message(&mut buf, id, &s.to, msg_id, PAD);
                            } else {
                                buf = bc::encode(
                                    self.dialect,
                                    &Out::Send {
                                        to: &s.to,
                                        id: u64::from(id),
                                        text: PAD,
                                    },
                                );
                            }
                            s.outstanding.push((u64::from(id), now));
                            s.next = (s.next + s.interval).max(now + s.interval.min(MIN_GAP));
                            self.shared.borrow_mut().sent += 1;
                            let frame = std::mem::take(&mut buf);
                            self.feed(frame).await?;
                        }
                    }
                    if let Some(p) = &mut publishing {
                        if now >= p.next && p.next < p.until {
                            p.seq += 1;
                            let text = format!("{}.{}.{}.{PAD}", p.publisher, p.seq, unix_ns());
                            let id = self.id();
                            if self.rtm {
                                let msg_id = self.msg_id_base.wrapping_add(u64::from(id));
                                rf::channel_message(&mut buf, id, &p.room, msg_id, &text);
                            } else {
                                buf = bc::encode(
                                    self.dialect,
                                    &Out::Publish {
                                        room: &p.room,
                                        text: &text,
                                    },
                                );
                            }
                            p.next = (p.next + p.interval).max(now + p.interval.min(MIN_GAP));
                            self.shared.borrow_mut().published += 1;
                            let frame = std::mem::take(&mut buf);
                            self.feed(frame).await?;
                        }
                    }
                }
            }
        }
    }

    /// RTM's heartbeat, with an ack of whatever is unacknowledged.
    /// Baselines: a WebSocket ping (their protocol has none of its own), so that every
    /// server answers the same keep-alive traffic in the idle figure.
    async fn ping(&mut self) -> Result<(), String> {
        if !self.rtm {
            self.dirty = true;
            return self
                .ws
                .feed(Message::Ping(Default::default()))
                .await
                .map_err(|e| format!("write: {e}"));
        }
        if self.position > self.acked {
            self.acked = self.position;
            self.feed(rf::ack(self.position)).await?;
        }
        self.feed(rf::PING.to_owned()).await
    }
}

/// Two sends of one client are never closer than this: 60 a second at most keeps every
/// sender within RTM's 180 per 3 s however late its timer fires.
const MIN_GAP: Duration = Duration::from_micros(16_700);

struct Sending {
    to: Rc<str>,
    interval: Duration,
    window: usize,
    next: Instant,
    until: Instant,
    /// (request id, sent at): a handful at most.
    outstanding: Vec<(u64, Instant)>,
}

impl Sending {
    fn answered(&mut self, id: u64, received: bool, shared: &RefCell<Shared>) {
        let Some(at) = self.outstanding.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, sent) = self.outstanding.swap_remove(at);
        let now = Instant::now();
        let mut shared = shared.borrow_mut();
        if !received {
            shared.errors += 1;
            return;
        }
        if let Some((from, to)) = shared.window {
            if sent >= from && now <= to {
                shared.receipts += 1;
                let us = now
                    .duration_since(sent)
                    .as_micros()
                    .min(u128::from(u32::MAX)) as u32;
                shared.latencies_us.push(us);
            }
        }
    }
}

struct Publishing {
    room: Rc<str>,
    publisher: u32,
    seq: u64,
    interval: Duration,
    next: Instant,
    until: Instant,
}

/// A per-client msg_id base: RTM remembers (sender, destination, msg_id) for 120 s, so ids
/// must not repeat across the runs of one server; time and uid make them distinct.
fn seed(uid: &str) -> u64 {
    let mut h = unix_ns() ^ 0x9e37_79b9_7f4a_7c15;
    for b in uid.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h >> 16
}
