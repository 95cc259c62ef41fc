//! Measures what an idle connection costs the server: resident memory of a server process
//! before and after N logged-in, idle WebSocket connections.
//!
//! ```text
//! cargo run --release -p rtm-transport-smol --example idle_memory -- [N]
//! ```
//!
//! The example runs the server as a child process (itself, with `--serve tuned|defaults`),
//! once with this crate's WebSocket settings and once with tungstenite's defaults, opens N
//! connections to each, logs each one in as its own user, and prints the growth of the
//! child's VmRSS and of its live heap (a counting allocator) per connection. Linux only
//! (reads /proc). A harness that prints figures, not a test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::Message;
use futures_lite::StreamExt;
use rtm_proto::ServerConfig;
use rtm_transport_smol::{websocket_config, ServeOptions};
use smol::net::TcpStream;

/// Counts live heap bytes (for the server child's figures).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(args.get(2).map(String::as_str) == Some("defaults"));
        return;
    }
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    println!("idle connections: {n}");
    for variant in ["tuned", "defaults"] {
        for login in [false, true] {
            let (rss, heap) = measure(variant, n, login);
            let what = if login { "logged in" } else { "open only" };
            println!(
                "{variant:>9}, {what}: {rss:>7.0} B of RSS, {heap:>7.0} B of live heap per connection"
            );
        }
    }
}

/// Child mode: run a server on a free port, print its address, then answer each line on
/// stdin with the live heap bytes, until stdin closes.
fn serve(tungstenite_defaults: bool) {
    let mut options = ServeOptions::from(ServerConfig::default());
    if tungstenite_defaults {
        options.websocket = WebSocketConfig::default();
    }
    let server = rtm_transport_smol::spawn_server("127.0.0.1:0", options).expect("bind");
    println!("{}", server.url());
    for line in std::io::stdin().lines() {
        if line.is_err() {
            break;
        }
        println!("{}", LIVE.load(Ordering::Relaxed));
    }
    let _ = server.shutdown();
}

fn live_heap(stdin: &mut ChildStdin, stdout: &mut BufReader<ChildStdout>) -> u64 {
    let _ = writeln!(stdin, "stats");
    let mut line = String::new();
    let _ = stdout.read_line(&mut line);
    line.trim().parse().unwrap_or(0)
}

fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn measure(variant: &str, n: usize, login: bool) -> (f64, f64) {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--serve", variant])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server child");
    let mut url = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdout.read_line(&mut url).expect("read the server URL");
    let url = url.trim().to_string();
    let pid = child.id();

    smol::block_on(async {
        // Warm up: one connection, so one-time allocations are not counted.
        let warm = connect(&url, Some("warmup")).await;
        smol::Timer::after(Duration::from_millis(300)).await;
        let before = vm_rss(pid);
        let heap_before = live_heap(&mut stdin, &mut stdout);
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let uid = format!("user{i}");
            conns.push(connect(&url, login.then_some(uid.as_str())).await);
        }
        smol::Timer::after(Duration::from_millis(500)).await;
        let after = vm_rss(pid);
        let heap_after = live_heap(&mut stdin, &mut stdout);
        drop(conns);
        drop(warm);
        drop(stdin); // the child shuts down
        let _ = child.wait();
        (
            after.saturating_sub(before) as f64 / n as f64,
            heap_after.saturating_sub(heap_before) as f64 / n as f64,
        )
    })
}

/// A WebSocket to the server, logged in as `uid` if given.
async fn connect(url: &str, uid: Option<&str>) -> async_tungstenite::WebSocketStream<TcpStream> {
    let stream = TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .expect("connect");
    let (mut ws, _) =
        async_tungstenite::client_async_with_config(url, stream, Some(websocket_config()))
            .await
            .expect("handshake");
    let Some(uid) = uid else { return ws };
    let login = serde_json::json!({
        "type": "login", "id": 1, "version": rtm_proto::wire::PROTOCOL_VERSION,
        "app_id": rtm_proto::server::DEFAULT_APP_ID, "uid": uid,
    });
    ws.send(Message::text(login.to_string()))
        .await
        .expect("send login");
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("login_ok") => {}
        other => panic!("login of {uid} failed: {other:?}"),
    }
    ws
}
