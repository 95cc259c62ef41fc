//! `rtm-bench-bare`: the bare relay and broadcast server, the limit of our own stack.
//!
//! ```text
//! rtm-bench-bare --listen 127.0.0.1:0
//! ```
//!
//! It speaks the benchmark's plain dialect (one JSON object per text frame: `hello`, `join`,
//! `subscribe`, `send`, `receipt`, `publish`; see `baseline_client.rs`) on the same stack as
//! `rtm-server` and nothing more: smol with every connection on one thread, async-tungstenite
//! with the very `WebSocketConfig` rtm-server uses (4 KiB buffers, frames capped at the
//! protocol's limit, so idle memory compares like for like), a listening socket with the
//! same backlog (4 096), TCP_NODELAY, serde_json both ways, a single-thread outbox per
//! connection as in `link.rs`, a publish encoded once and its bytes shared by every
//! recipient. What it leaves out is RTM: no login check, no acknowledgements, no queue
//! bounds, no presence, no persistence.
//!
//! Prints `listening on ws://ADDR` on stderr once it accepts, and runs until killed.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::task::{Poll, Waker};

use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use clap::Parser;
use futures_lite::{future, StreamExt};
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use smol::net::{TcpListener, TcpStream};
use smol::LocalExecutor;

#[derive(Parser)]
#[command(
    about = "The bare async-tungstenite-on-smol relay and broadcast server (rtm-bench's baseline)"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

/// A connection's number, unique for the process's life.
type ConnId = u64;

/// A connection's outbox, shared by the hub's entries for it and its writer.
type Outbox = Rc<LocalOutbox>;

/// A single-thread outbox: a queue and the writer's waker. Every connection lives on one
/// thread, so there is no need for `async_channel`'s thread-safe queue, which costs some
/// 2.5 KiB per idle connection here (its cache-padded head and tail, and a 31-slot block kept
/// once the first frames went through). rtm-server's `link.rs` makes the same choice, so this
/// is our own stack's limit, not a handicap. Unbounded, as a bare relay's is.
#[derive(Default)]
struct LocalOutbox {
    frames: RefCell<VecDeque<Message>>,
    /// The writer, when it waits for a frame.
    waker: Cell<Option<Waker>>,
}

impl LocalOutbox {
    fn push(&self, frame: Message) {
        self.frames.borrow_mut().push_back(frame);
        if let Some(writer) = self.waker.take() {
            writer.wake();
        }
    }

    /// The next frame, once there is one.
    async fn pop(&self) -> Message {
        future::poll_fn(|cx| {
            let mut frames = self.frames.borrow_mut();
            match frames.pop_front() {
                Some(frame) => {
                    if frames.is_empty() && frames.capacity() > 16 {
                        frames.shrink_to(4); // a burst is over: give its memory back
                    }
                    Poll::Ready(frame)
                }
                None => {
                    let waker = match self.waker.take() {
                        Some(w) if w.will_wake(cx.waker()) => w,
                        _ => cx.waker().clone(),
                    };
                    self.waker.set(Some(waker));
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn is_empty(&self) -> bool {
        self.frames.borrow().is_empty()
    }
}

/// Who is where: the state every connection shares (one thread, hence `Rc<RefCell>`).
#[derive(Default)]
struct Hub {
    next_conn: ConnId,
    /// The connection of each uid (the newest one `hello` named).
    names: HashMap<Rc<str>, (ConnId, Outbox)>,
    /// The members of each room; the name is shared with the members' lists of their rooms.
    rooms: HashMap<Rc<str>, HashMap<ConnId, Outbox>>,
}

/// One client frame, every field the dialect has, borrowed from the frame where it can be.
/// A flat struct, not a tagged enum: serde_json reads it in one pass without buffering.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    room: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    to: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    peers: Option<Vec<String>>,
}

/// What the server sends.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Push<'a> {
    HelloOk,
    Joined {
        room: &'a str,
    },
    Subscribed,
    Message {
        from: &'a str,
        id: u64,
        text: &'a str,
    },
    Receipt {
        from: &'a str,
        id: u64,
    },
    RoomMessage {
        room: &'a str,
        from: &'a str,
        text: &'a str,
    },
}

impl Push<'_> {
    /// The text frame, encoded once: clones of it share the bytes.
    fn frame(&self) -> Message {
        // Serializing these structs to a String cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        Message::Text(Utf8Bytes::from(json))
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = rtm_transport_smol::server::bind_listener(
        args.listen.as_str(),
        rtm_transport_smol::server::DEFAULT_LISTEN_BACKLOG,
    )?;
    let ex = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(async {
        let listener = TcpListener::try_from(listener)?;
        eprintln!("listening on ws://{}", listener.local_addr()?);
        let hub = Rc::new(RefCell::new(Hub::default()));
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    ex.spawn(serve(stream, hub.clone())).detach();
                }
                // Typically out of file descriptors: back off instead of spinning.
                Err(_) => {
                    smol::Timer::after(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

/// One connection's own state.
struct Conn {
    id: ConnId,
    outbox: Outbox,
    uid: Option<Rc<str>>,
    rooms: Vec<Rc<str>>,
    /// The peers it subscribed to (kept, as a server would, but nothing is pushed).
    peers: HashSet<String>,
}

/// One client: the handshake, then its frames handled until it goes, then its places freed.
async fn serve(stream: TcpStream, hub: Rc<RefCell<Hub>>) {
    // Boxed: the handshake's state is freed once it is done instead of sizing the
    // connection's task for its whole life.
    let handshake = Box::pin(async_tungstenite::accept_async_with_config(
        stream,
        Some(rtm_transport_smol::websocket_config()),
    ));
    let Ok(ws) = handshake.await else {
        return;
    };
    let (mut sink, mut frames) = ws.split();
    let outbox = Outbox::default();
    let writer = outbox.clone();
    let id = {
        let mut hub = hub.borrow_mut();
        hub.next_conn += 1;
        hub.next_conn
    };
    let mut conn = Conn {
        id,
        outbox,
        uid: None,
        rooms: Vec::new(),
        peers: HashSet::new(),
    };
    let read = async {
        while let Some(Ok(message)) = frames.next().await {
            if let Message::Text(text) = message {
                handle(&hub, &mut conn, &text);
            }
        }
    };
    let write = async {
        loop {
            let frame = writer.pop().await;
            if sink.feed(frame).await.is_err() {
                break;
            }
            if writer.is_empty() && sink.flush().await.is_err() {
                break;
            }
        }
    };
    future::or(read, write).await;
    leave(&hub, &conn);
}

/// Handles one client frame; bad or unknown frames are ignored.
fn handle(hub: &RefCell<Hub>, conn: &mut Conn, text: &str) {
    let Ok(Frame {
        kind,
        uid,
        room,
        to,
        text,
        id,
        peers,
    }) = serde_json::from_str::<Frame<'_>>(text)
    else {
        return;
    };
    match (&*kind, conn.uid.clone()) {
        ("hello", _) => {
            let Some(uid) = uid else { return };
            let uid: Rc<str> = Rc::from(&*uid);
            let mut hub = hub.borrow_mut();
            if let Some(old) = conn.uid.take() {
                if hub.names.get(&old).is_some_and(|(id, _)| *id == conn.id) {
                    hub.names.remove(&old);
                }
            }
            hub.names
                .insert(uid.clone(), (conn.id, conn.outbox.clone()));
            conn.uid = Some(uid);
            conn.outbox.push(Push::HelloOk.frame());
        }
        ("join", _) => {
            let Some(room) = room else { return };
            if !conn.rooms.iter().any(|r| **r == *room) {
                let mut hub = hub.borrow_mut();
                let name = match hub.rooms.get_key_value(&*room) {
                    Some((name, _)) => name.clone(),
                    None => Rc::from(&*room),
                };
                hub.rooms
                    .entry(name.clone())
                    .or_default()
                    .insert(conn.id, conn.outbox.clone());
                conn.rooms.push(name);
            }
            conn.outbox.push(Push::Joined { room: &room }.frame());
        }
        ("subscribe", _) => {
            let Some(peers) = peers else { return };
            conn.peers.extend(peers);
            conn.outbox.push(Push::Subscribed.frame());
        }
        ("send", Some(from)) => {
            let (Some(to), Some(id), Some(text)) = (to, id, text) else {
                return;
            };
            if let Some((_, peer)) = hub.borrow().names.get(&*to) {
                peer.push(
                    Push::Message {
                        from: &from,
                        id,
                        text: &text,
                    }
                    .frame(),
                );
            }
        }
        ("receipt", Some(from)) => {
            let (Some(to), Some(id)) = (to, id) else {
                return;
            };
            if let Some((_, peer)) = hub.borrow().names.get(&*to) {
                peer.push(Push::Receipt { from: &from, id }.frame());
            }
        }
        ("publish", Some(from)) => {
            let (Some(room), Some(text)) = (room, text) else {
                return;
            };
            let hub = hub.borrow();
            let Some(members) = hub.rooms.get(&*room) else {
                return;
            };
            let frame = Push::RoomMessage {
                room: &room,
                from: &from,
                text: &text,
            }
            .frame();
            for (id, member) in members {
                if *id != conn.id {
                    member.push(frame.clone());
                }
            }
        }
        // Unknown types, and sends before `hello` (they would have no `from`).
        _ => {}
    }
}

/// A connection that closed leaves its rooms and the name map (unless a newer connection of
/// its uid took its name).
fn leave(hub: &RefCell<Hub>, conn: &Conn) {
    let mut hub = hub.borrow_mut();
    if let Some(uid) = &conn.uid {
        if hub.names.get(uid).is_some_and(|(id, _)| *id == conn.id) {
            hub.names.remove(uid);
        }
    }
    for room in &conn.rooms {
        if let Some(members) = hub.rooms.get_mut(room) {
            members.remove(&conn.id);
            if members.is_empty() {
                hub.rooms.remove(room);
            }
        }
    }
}
