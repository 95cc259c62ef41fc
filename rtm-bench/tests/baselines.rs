//! The baseline servers speak the benchmark's protocol end to end: each one that starts is
//! driven by three real WebSocket clients framed by the load side's own code
//! (`baseline_client.rs`), so a broken baseline shows here, not as a silently wrong figure.
//!
//! The Node baselines are skipped, with a printed line, when `node` or `npm` is absent; when
//! they are there, `npm ci` runs first if needed (as `rtm-bench` itself does).

#[allow(dead_code)]
#[path = "../src/baseline_client.rs"]
mod baseline_client;
#[allow(dead_code)]
#[path = "../src/baselines.rs"]
mod baselines;
#[allow(dead_code)]
#[path = "../src/process.rs"]
mod process;

use std::path::Path;
use std::time::Duration;

use async_tungstenite::tungstenite::Message;
use async_tungstenite::{WebSocketReceiver, WebSocketSender};
use baseline_client::{Dialect, In, Out};
use baselines::Baseline;
use futures_lite::{future, StreamExt};
use process::{Pinning, ServerProc};
use smol::net::TcpStream;

/// How long any one expected frame may take.
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn bare_speaks_the_plain_dialect() {
    let mut cmd = Pinning::wrap(None, Path::new(env!("CARGO_BIN_EXE_rtm-bench-bare")));
    cmd.args(["--listen", "127.0.0.1:0"]);
    let server = ServerProc::start("bare", cmd).expect("rtm-bench-bare starts");
    smol::block_on(conversation(&server, Dialect::Plain));
}

#[test]
fn node_ws_speaks_the_plain_dialect() {
    if let Some(server) = node_baseline(Baseline::NodeWs) {
        smol::block_on(conversation(&server, Dialect::Plain));
    }
}

#[test]
fn socket_io_speaks_the_socket_io_dialect() {
    if let Some(server) = node_baseline(Baseline::SocketIo) {
        smol::block_on(conversation(&server, Dialect::SocketIo));
    }
}

/// The Node baseline started, or `None` (with a line saying so) when Node.js is not here.
/// Any other failure (npm ci, the script) fails the test.
fn node_baseline(baseline: Baseline) -> Option<ServerProc> {
    for tool in ["node", "npm"] {
        if process::which(tool).is_none() {
            println!("{}: skipped: no `{tool}` on PATH", baseline.name());
            return None;
        }
    }
    match baselines::start(baseline, None) {
        Ok(server) => Some(server),
        Err(why) => panic!("{why}"),
    }
}

/// The whole protocol, checked from three clients u1, u2, u3 in room c1.
async fn conversation(server: &ServerProc, dialect: Dialect) {
    let mut u1 = Client::connect(server, dialect).await;
    let mut u2 = Client::connect(server, dialect).await;
    let mut u3 = Client::connect(server, dialect).await;

    for (client, uid) in [(&mut u1, "u1"), (&mut u2, "u2"), (&mut u3, "u3")] {
        client.send(Out::Hello { uid }).await;
        assert_eq!(client.next().await, In::HelloOk, "{uid}'s hello");
        client.send(Out::Join { room: "c1" }).await;
        assert_eq!(
            client.next().await,
            In::Joined { room: "c1".into() },
            "{uid}'s join"
        );
    }

    // Unknown and malformed frames are ignored and leave the connection up. (Socket.IO
    // itself closes a connection on a frame that is not a Socket.IO packet: only unknown
    // events and bad payloads are the baseline's to ignore.)
    let garbage: &[&str] = match dialect {
        Dialect::Plain => &[
            "not json",
            "{}",
            "[1,2]",
            r#"{"type":"nope"}"#,
            r#"{"type":"send","to":"u2"}"#,
            r#"{"type":"join","room":7}"#,
        ],
        Dialect::SocketIo => &[
            r#"42["nope",{}]"#,
            r#"42["send",7]"#,
            r#"42["join",{"room":7}]"#,
            r#"42["hello"]"#,
        ],
    };
    for frame in garbage {
        u1.send_raw(frame).await;
    }
    u1.send(Out::Subscribe {
        peers: &["u2", "u3"],
    })
    .await;
    assert_eq!(u1.next().await, In::Subscribed);

    // A send arrives once, as a message from its sender, with its id and text untouched.
    let text = "hi \"u2\" \\ é 😀\n";
    u1.send(Out::Send {
        to: "u2",
        id: 7,
        text,
    })
    .await;
    assert_eq!(
        u2.next().await,
        In::Message {
            from: "u1".into(),
            id: 7,
            text: text.into()
        }
    );
    // The receipt comes back to the sender.
    u2.send(Out::Receipt { to: "u1", id: 7 }).await;
    assert_eq!(
        u1.next().await,
        In::Receipt {
            from: "u2".into(),
            id: 7
        }
    );
    // A send to nobody is dropped.
    u1.send(Out::Send {
        to: "nobody",
        id: 8,
        text: "lost",
    })
    .await;

    // A publish reaches every other member, not the sender.
    u1.send(Out::Publish {
        room: "c1",
        text: "to all",
    })
    .await;
    let published = In::RoomMessage {
        room: "c1".into(),
        from: "u1".into(),
        text: "to all".into(),
    };
    assert_eq!(u2.next().await, published, "u2 gets the publish");
    // u3's first frame since its join is the publish: the send to u2 did not reach it.
    assert_eq!(u3.next().await, published, "u3 gets the publish");

    // Exactly once: frames of one connection arrive in order, so a marker sent after the
    // publish must be the next frame each member reads, and the sender's next frame is a
    // marker too (not its own publish, nor the receipt twice).
    for (client, uid) in [(&mut u2, "u2"), (&mut u3, "u3")] {
        u1.send(Out::Send {
            to: uid,
            id: 9,
            text: "marker",
        })
        .await;
        assert_eq!(
            client.next().await,
            In::Message {
                from: "u1".into(),
                id: 9,
                text: "marker".into()
            },
            "{uid}: nothing twice before the marker"
        );
    }
    u2.send(Out::Send {
        to: "u1",
        id: 10,
        text: "marker",
    })
    .await;
    assert_eq!(
        u1.next().await,
        In::Message {
            from: "u2".into(),
            id: 10,
            text: "marker".into()
        },
        "u1: neither its own publish nor anything twice before the marker"
    );

    // A newer connection of a uid takes its name: sends to u2 go to it from now on.
    let mut u2b = Client::connect(server, dialect).await;
    u2b.send(Out::Hello { uid: "u2" }).await;
    assert_eq!(u2b.next().await, In::HelloOk);
    u1.send(Out::Send {
        to: "u2",
        id: 11,
        text: "to the newer u2",
    })
    .await;
    assert_eq!(
        u2b.next().await,
        In::Message {
            from: "u1".into(),
            id: 11,
            text: "to the newer u2".into()
        }
    );

    // A member that left no longer gets the room's messages; the others still do.
    drop(u3);
    u2.send(Out::Publish {
        room: "c1",
        text: "after u3 left",
    })
    .await;
    assert_eq!(
        u1.next().await,
        In::RoomMessage {
            room: "c1".into(),
            from: "u2".into(),
            text: "after u3 left".into()
        }
    );
}

/// One load client, framed by `baseline_client`.
struct Client {
    dialect: Dialect,
    sink: WebSocketSender<TcpStream>,
    frames: WebSocketReceiver<TcpStream>,
}

impl Client {
    /// Opens the WebSocket at the dialect's path, sends its opening frames and waits for their
    /// answer (Socket.IO closes a connection whose first event comes before it).
    async fn connect(server: &ServerProc, dialect: Dialect) -> Client {
        let url = format!("{}{}", server.url, baseline_client::ws_path(dialect));
        let tcp = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .expect("TCP connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (ws, _) = within(async_tungstenite::client_async(url.as_str(), tcp))
            .await
            .expect("WebSocket handshake");
        let (sink, frames) = ws.split();
        let mut client = Client {
            dialect,
            sink,
            frames,
        };
        for frame in baseline_client::opening(dialect) {
            client.send_raw(&frame).await;
        }
        if !baseline_client::opening(dialect).is_empty() {
            while !baseline_client::opened(dialect, &client.next_text().await) {}
        }
        client
    }

    async fn send(&mut self, out: Out<'_>) {
        let frame = baseline_client::encode(self.dialect, &out);
        self.send_raw(&frame).await;
    }

    async fn send_raw(&mut self, frame: &str) {
        self.sink
            .send(Message::text(frame))
            .await
            .expect("frame sent");
    }

    /// The next text frame.
    async fn next_text(&mut self) -> String {
        loop {
            match within(self.frames.next()).await {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    }

    /// The next frame that means something, answering pings on the way.
    async fn next(&mut self) -> In {
        loop {
            let frame = self.next_text().await;
            match baseline_client::parse(self.dialect, &frame) {
                In::Ping => {
                    if let Some(pong) = baseline_client::pong(self.dialect) {
                        self.send_raw(&pong).await;
                    }
                }
                In::Other => continue,
                known => return known,
            }
        }
    }
}

/// `f`, or a panic after [`WAIT`].
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    future::or(f, async {
        smol::Timer::after(WAIT).await;
        panic!("nothing within {WAIT:?}")
    })
    .await
}
