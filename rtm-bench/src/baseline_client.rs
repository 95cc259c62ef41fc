//! The load side of the baselines: the frames a load client sends to and reads from a
//! baseline server. Pure functions, no IO. (Interface fixed by the lead; bodies to be
//! written.)

/// How a baseline frames its messages on the WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// One JSON object per text message (`rtm-bench-bare`, Node `ws`).
    Plain,
    /// Socket.IO v4 over Engine.IO v4, WebSocket transport only.
    SocketIo,
}

/// What a load client sends.
#[derive(Clone, Copy, Debug)]
pub enum Out<'a> {
    Hello { uid: &'a str },
    Join { room: &'a str },
    Subscribe { peers: &'a [&'a str] },
    Send { to: &'a str, id: u64, text: &'a str },
    Receipt { to: &'a str, id: u64 },
    Publish { room: &'a str, text: &'a str },
}

/// What a load client reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum In {
    HelloOk,
    Joined {
        room: String,
    },
    Subscribed,
    Message {
        from: String,
        id: u64,
        text: String,
    },
    Receipt {
        from: String,
        id: u64,
    },
    RoomMessage {
        room: String,
        from: String,
        text: String,
    },
    /// Engine.IO's ping: answer with [`pong`].
    Ping,
    /// Anything else (Engine.IO's open packet, Socket.IO's connect answer, …).
    Other,
}

/// The path (and query) to open the WebSocket at.
pub fn ws_path(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Plain => "/",
        Dialect::SocketIo => "/socket.io/?EIO=4&transport=websocket",
    }
}

/// Frames to send as soon as the WebSocket is open, before `Hello`.
pub fn opening(dialect: Dialect) -> Vec<String> {
    let _ = dialect;
    Vec::new()
}

pub fn encode(dialect: Dialect, out: &Out<'_>) -> String {
    let _ = (dialect, out);
    String::new()
}

pub fn parse(dialect: Dialect, frame: &str) -> In {
    let _ = (dialect, frame);
    In::Other
}

/// The answer to [`In::Ping`] (`None`: the dialect has no application-level ping).
pub fn pong(dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Plain => None,
        Dialect::SocketIo => Some("3".to_owned()),
    }
}
