//! A plain WebSocket relay, the baseline of the browser benchmark
//! (`rtm-transport-web/sdk/bench/roundtrip.mjs`): what two pages get from a bare
//! `new WebSocket(url)` and a relay that does nothing but forward, beside what they get
//! through the RTM SDK and `rtm-server`.
//!
//! ```text
//! cargo run --release -p rtm-transport-smol --example ws_relay -- --listen 127.0.0.1:0
//! ```
//!
//! No RTM protocol: a client's first text frame is its name; every later text frame
//! `"<to>\n<payload>"` is forwarded as `"<from>\n<payload>"` to the client of that name, and
//! dropped if there is none. Prints `listening on ws://ADDR` on stderr. Same stack as the
//! server (smol, async-tungstenite, TCP_NODELAY, every connection on one thread), but no
//! queue bounds, no acks, no persistence.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use async_channel::{Receiver, Sender};
use async_tungstenite::tungstenite::Message;
use futures_lite::{future, StreamExt};
use smol::net::{TcpListener, TcpStream};
use smol::LocalExecutor;

/// Each named client's outbox.
type Clients = Rc<RefCell<HashMap<String, Sender<String>>>>;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = match args.as_slice() {
        [_] => "127.0.0.1:9400",
        [_, flag, addr] if flag == "--listen" => addr.as_str(),
        _ => {
            eprintln!("usage: ws_relay [--listen ADDR]   (port 0: any free port)");
            std::process::exit(2);
        }
    };
    let ex = Rc::new(LocalExecutor::new());
    smol::block_on(ex.run(async {
        let listener = TcpListener::bind(listen).await?;
        eprintln!("listening on ws://{}", listener.local_addr()?);
        let clients = Clients::default();
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            ex.spawn(serve(stream, clients.clone())).detach();
        }
    }))
}

/// One client: the handshake, its name, then its frames forwarded until it goes.
async fn serve(stream: TcpStream, clients: Clients) {
    let Ok(ws) = async_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut frames) = ws.split();
    let name = loop {
        match frames.next().await {
            Some(Ok(Message::Text(name))) => break name.to_string(),
            Some(Ok(_)) => continue,
            _ => return,
        }
    };
    let (outbox, inbox): (Sender<String>, Receiver<String>) = async_channel::unbounded();
    clients.borrow_mut().insert(name.clone(), outbox.clone());
    let read = async {
        while let Some(Ok(message)) = frames.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Some((to, payload)) = text.split_once('\n') else {
                continue;
            };
            let peer = clients.borrow().get(to).cloned();
            if let Some(peer) = peer {
                let _ = peer.try_send(format!("{name}\n{payload}"));
            }
        }
    };
    let write = async {
        while let Ok(text) = inbox.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
    };
    future::or(read, write).await;
    // A newer client of the same name keeps its place.
    let mut clients = clients.borrow_mut();
    if clients.get(&name).is_some_and(|o| o.same_channel(&outbox)) {
        clients.remove(&name);
    }
}
