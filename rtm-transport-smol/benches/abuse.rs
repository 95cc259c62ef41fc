//! The `abuse` benchmark: attacks of issue #9 against a real `rtm-server` process, each with
//! a bystander that pings. Prints, per attack, the bystander's ping round trip (p50, p99,
//! max) and the server's RSS (idle, peak, and after the attackers left and their sessions
//! ended). Asserts nothing: figures go to BENCHMARKS.md.
//!
//! `cargo bench -p rtm-transport-smol --bench abuse` (about 4 minutes; `-- WORD` runs only the
//! attacks whose names contain WORD). Clients use blocking
//! sockets on threads of this process; the server is its own process, so each side stays
//! far below the 20 000 open-file limit.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{client, Message, WebSocket};
use socket2::{Domain, Socket, Type};

type Ws = WebSocket<TcpStream>;
/// One attacker thread: the url, its index, when to stop.
type Attack = fn(&str, usize, Instant);

const APP: &str = "00000000000000000000000000000000";
/// How long each attack runs.
const ATTACK: Duration = Duration::from_secs(10);
/// Attack sessions end 30 s after their connections close (§2.4), and `rtm-server` gives
/// freed heap back every 10 s; then RSS is read again.
const SETTLE: Duration = Duration::from_secs(42);

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtm-server"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--storage",
                "memory",
            ])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rtm-server");
        let url = format!("ws://127.0.0.1:{port}/");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server { child, url };
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("rtm-server did not start");
    }

    /// (current RSS, peak RSS) in KiB.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(url: &str, uid: &str) -> Ws {
    connect_from(url, uid, Ipv4Addr::LOCALHOST).unwrap_or_else(|e| panic!("login of {uid}: {e}"))
}

/// [`connect`] from a source address of our own (the server limits logins per address);
/// the error says why the login failed (a refusal, for an attacker logging in too often).
fn connect_from(url: &str, uid: &str, source: Ipv4Addr) -> Result<Ws, String> {
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .expect("a socket address");
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
    socket
        .bind(&SocketAddr::from((source, 0)).into())
        .expect("bind the source address");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).ok();
    let (mut ws, _) = client(url, stream).expect("handshake");
    send(
        &mut ws,
        &format!(r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"{uid}"}}"#),
    );
    let mut said = String::new();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t.starts_with(r#"{"type":"login_ok""#) => return Ok(ws),
            Ok(Message::Text(t)) => said = t.to_string(),
            Ok(_) => {}
            Err(e) => return Err(format!("{e} after {said}")),
        }
    }
}

/// [`connect_from`] for an attacker: a refused login is retried after 100 ms.
fn reconnect(url: &str, uid: &str, source: Ipv4Addr, until: Instant) -> Option<Ws> {
    while Instant::now() < until {
        match connect_from(url, uid, source) {
            Ok(ws) => return Some(ws),
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
    None
}

fn send(ws: &mut Ws, frame: &str) {
    let _ = ws.send(Message::text(frame.to_string()));
}

/// Reads whatever has arrived without blocking, acknowledging stream pushes like a client
/// that keeps up (every push counted from the login).
struct Reader {
    pos: u64,
}

impl Reader {
    fn drain(&mut self, ws: &mut Ws) {
        ws.get_mut().set_nonblocking(true).ok();
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    let push = [
                        "message",
                        "channel_message",
                        "member_joined",
                        "member_left",
                        "member_count",
                        "attributes_updated",
                        "invitation",
                        "local_invitation",
                        "remote_invitation",
                    ]
                    .iter()
                    .any(|k| t.starts_with(&format!(r#"{{"type":"{k}""#)));
                    if push {
                        self.pos += 1;
                    }
                }
                Ok(_) => {}
                Err(async_tungstenite::tungstenite::Error::Io(e))
                    if e.kind() == ErrorKind::WouldBlock =>
                {
                    break
                }
                Err(_) => break,
            }
        }
        ws.get_mut().set_nonblocking(false).ok();
        let ack = format!(r#"{{"type":"ack","seq":{}}}"#, self.pos);
        send(ws, &ack);
    }
}

/// The bystander: pings every 20 ms and times each pong.
fn bystander(url: String, stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<Duration>> {
    thread::spawn(move || {
        let mut ws = connect(&url, "bystander");
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .ok();
        let mut rtts = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t0 = Instant::now();
            send(&mut ws, r#"{"type":"ping"}"#);
            loop {
                match ws.read() {
                    Ok(Message::Text(t)) if t.starts_with(r#"{"type":"pong""#) => break,
                    Ok(_) => {}
                    // No pong within the 5 s read timeout (or the link broke): counted as 5 s.
                    Err(_) => break,
                }
            }
            rtts.push(t0.elapsed().min(Duration::from_secs(5)));
            thread::sleep(Duration::from_millis(20));
        }
        rtts
    })
}

/// Runs `attack` until `ATTACK` has passed (or it returns), in `threads` threads.
fn run_attack(url: &str, threads: usize, attack: Attack) {
    let until = Instant::now() + ATTACK;
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let url = url.to_string();
            thread::spawn(move || attack(&url, i, until))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

/// Finding 3: resending `invite` of a decided invitation, never acknowledging.
fn invite_resends(url: &str, i: usize, until: Instant) {
    let mut ws = connect(url, &format!("inviter{i}"));
    let invite = r#"{"type":"invite","id":2,"invitation":7,"callee":"nobody","content":"x","channel_id":""}"#;
    send(&mut ws, invite);
    send(
        &mut ws,
        r#"{"type":"invitation_cancel","id":3,"invitation":7}"#,
    );
    while Instant::now() < until {
        send(&mut ws, invite);
    }
}

/// Finding 4: 32 KB of attributes written to ever new channel names, with `notify`.
fn channel_attrs(url: &str, i: usize, until: Instant) {
    let mut ws = connect(url, &format!("writer{i}"));
    let value = "v".repeat(8000);
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let frame = format!(
            r#"{{"type":"channel_attrs","id":{},"channel":"c{i}-{n}","op":"set","notify":true,"attributes":{{"a":"{value}","b":"{value}","c":"{value}","d":"{value}"}}}}"#,
            n % 1_000_000
        );
        send(&mut ws, &frame);
        if n.is_multiple_of(64) {
            // Read the refusals so that our own socket does not stall us.
            Reader { pos: 0 }.drain(&mut ws);
        }
    }
}

/// Finding 5: join/leave churn on a channel of 200 acknowledging members.
fn churn(url: &str, i: usize, until: Instant) {
    if i > 0 {
        // A member that keeps up.
        let mut ws = connect(url, &format!("member{i}"));
        send(&mut ws, r#"{"type":"join","id":2,"channel":"room"}"#);
        let mut reader = Reader { pos: 0 };
        while Instant::now() < until {
            reader.drain(&mut ws);
            send(&mut ws, r#"{"type":"ping"}"#);
            thread::sleep(Duration::from_millis(200));
        }
        return;
    }
    thread::sleep(Duration::from_secs(1));
    let mut ws = connect(url, "churner");
    let mut id = 10u32;
    while Instant::now() < until {
        id = id.wrapping_add(2);
        send(
            &mut ws,
            &format!(r#"{{"type":"join","id":{id},"channel":"room"}}"#),
        );
        send(
            &mut ws,
            &format!(r#"{{"type":"leave","id":{},"channel":"room"}}"#, id + 1),
        );
        if id.is_multiple_of(128) {
            Reader { pos: 0 }.drain(&mut ws);
        }
    }
}

/// Findings 6a and 9: 1 000 members that never read but keep pinging, and a member
/// flooding their channel with 32 KB messages as fast as its message rate allows (55 a
/// second, under §9.2's 180 per 3 s: a flooder over it is closed with 4010 within seconds).
fn non_readers(url: &str, i: usize, until: Instant) {
    if i > 0 {
        let mut conns: Vec<Ws> = (0..100)
            .map(|k| {
                let mut ws = connect(url, &format!("deaf{i}-{k}"));
                send(&mut ws, r#"{"type":"join","id":2,"channel":"deaf"}"#);
                ws
            })
            .collect();
        while Instant::now() < until {
            for ws in &mut conns {
                send(ws, r#"{"type":"ping"}"#);
            }
            thread::sleep(Duration::from_secs(2));
        }
        return;
    }
    thread::sleep(Duration::from_secs(2));
    let mut ws = connect(url, "flooder");
    send(&mut ws, r#"{"type":"join","id":2,"channel":"deaf"}"#);
    let text = "x".repeat(32_000);
    let mut id = 10u32;
    let start = Instant::now();
    while Instant::now() < until {
        id += 1;
        let due = start + Duration::from_secs_f64(f64::from(id - 10) / 55.0);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let frame = format!(
            r#"{{"type":"channel_message","id":{id},"channel":"deaf","msg_id":{id},"message":{{"kind":"text","text":"{text}"}}}}"#
        );
        send(&mut ws, &frame);
        if id.is_multiple_of(32) {
            Reader { pos: 0 }.drain(&mut ws);
        }
    }
}

/// Members of the big channel of findings 6b and 6c.
const BIG: usize = 10_000;
/// Threads that hold them, 1 000 each, each from a loopback address of its own.
const BIG_HOLDERS: usize = 10;
/// Members of the big channel logged in and joined so far.
static BIG_READY: AtomicUsize = AtomicUsize::new(0);

/// Threads `0..BIG_HOLDERS` fill the channel `big` with members that never read; the last
/// thread runs `attack` once they are all in (or 5 s have passed).
fn big_channel(url: &str, i: usize, until: Instant, attack: fn(&str, Instant)) {
    if i < BIG_HOLDERS {
        let source = Ipv4Addr::new(127, 0, 1, 10 + i as u8);
        let per_thread = BIG / BIG_HOLDERS;
        let conns: Vec<Ws> = (0..per_thread)
            .map(|k| {
                let uid = format!("big{i}-{k}");
                let mut ws = connect_from(url, &uid, source)
                    .unwrap_or_else(|e| panic!("login of {uid}: {e}"));
                send(&mut ws, r#"{"type":"join","id":2,"channel":"big"}"#);
                BIG_READY.fetch_add(1, Ordering::Relaxed);
                ws
            })
            .collect();
        thread::sleep(until.saturating_duration_since(Instant::now()));
        drop(conns);
        return;
    }
    let ready_by = Instant::now() + Duration::from_secs(5);
    while BIG_READY.load(Ordering::Relaxed) < BIG && Instant::now() < ready_by {
        thread::sleep(Duration::from_millis(50));
    }
    attack(url, until);
}

/// Finding 6b: `get_members` of a 10 000-member channel in a tight loop, logging in again
/// whenever the server closes the connection (4010 after 100 refusals).
fn get_members_loop(url: &str, until: Instant) {
    while let Some(mut ws) = reconnect(url, "asker", Ipv4Addr::new(127, 0, 1, 99), until) {
        send(&mut ws, r#"{"type":"join","id":2,"channel":"big"}"#);
        let mut id = 10u32;
        while Instant::now() < until && ws.can_write() {
            id += 1;
            let ask = format!(r#"{{"type":"get_members","id":{id},"channel":"big"}}"#);
            if ws.send(Message::text(ask)).is_err() {
                break; // closed by the server: log in again
            }
            if id.is_multiple_of(16) {
                Reader { pos: 0 }.drain(&mut ws);
            }
        }
    }
}

/// Finding 6c: a non-member writing 32 KB of the big channel's attributes with `notify` in a
/// tight loop, logging in again whenever the server closes the connection.
fn channel_attrs_notify_loop(url: &str, until: Instant) {
    let value = "v".repeat(8000);
    while let Some(mut ws) = reconnect(url, "painter", Ipv4Addr::new(127, 0, 1, 98), until) {
        let mut id = 10u32;
        while Instant::now() < until && ws.can_write() {
            id += 1;
            let write = format!(
                r#"{{"type":"channel_attrs","id":{id},"channel":"big","op":"set","notify":true,"attributes":{{"a":"{value}{id}","b":"{value}","c":"{value}","d":"{value}"}}}}"#
            );
            if ws.send(Message::text(write)).is_err() {
                break; // closed by the server: log in again
            }
            if id.is_multiple_of(16) {
                Reader { pos: 0 }.drain(&mut ws);
            }
        }
    }
}

fn big_get_members(url: &str, i: usize, until: Instant) {
    big_channel(url, i, until, get_members_loop);
}

fn big_channel_attrs(url: &str, i: usize, until: Instant) {
    big_channel(url, i, until, channel_attrs_notify_loop);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let attacks: [(&str, usize, Attack); 6] = [
        ("invite resends (3)", 1, invite_resends),
        ("channel attributes (4)", 1, channel_attrs),
        ("join/leave churn, 200 members (5)", 201, churn),
        ("1 000 non-readers + 32 KB flood (6a, 9)", 11, non_readers),
        (
            "get_members loop, 10 000 members (6b)",
            BIG_HOLDERS + 1,
            big_get_members,
        ),
        (
            "channel_attrs notify loop by a non-member, 10 000 members (6c)",
            BIG_HOLDERS + 1,
            big_channel_attrs,
        ),
    ];
    // `cargo bench --bench abuse -- WORD` runs only the attacks whose names contain WORD.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!("| attack | bystander ping p50 / p99 / max | RSS idle → peak → after (MiB) |");
    println!("|---|---|---|");
    for (name, threads, attack) in attacks {
        if !only.is_empty() && !only.iter().any(|w| name.contains(w.as_str())) {
            continue;
        }
        let server = Server::start();
        let stop = Arc::new(AtomicBool::new(false));
        let by = bystander(server.url.clone(), stop.clone());
        thread::sleep(Duration::from_millis(500));
        let (idle, _) = server.rss();
        run_attack(&server.url, threads, attack);
        stop.store(true, Ordering::Relaxed);
        let mut rtts = by.join().expect("bystander");
        let (_, peak) = server.rss();
        thread::sleep(SETTLE);
        let (after, _) = server.rss();
        rtts.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {name} | {:.1} / {:.1} / {:.1} ms | {:.1} → {:.1} → {:.1} |",
            ms(percentile(&rtts, 0.5)),
            ms(percentile(&rtts, 0.99)),
            ms(rtts.last().copied().unwrap_or_default()),
            idle as f64 / 1024.0,
            peak as f64 / 1024.0,
            after as f64 / 1024.0,
        );
    }
}
