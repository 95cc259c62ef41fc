//! The load side of the baselines: the frames a load client sends to and reads from a
//! baseline server. Pure functions, no IO. (Interface fixed by the lead.)

use std::fmt::Write as _;

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
    match dialect {
        Dialect::Plain => Vec::new(),
        // Socket.IO's CONNECT to the main namespace (the server answers `40{"sid":…}`).
        Dialect::SocketIo => vec!["40".to_owned()],
    }
}

/// Whether `frame` is the server's answer to the [`opening`] frames, which a client must read
/// before it sends `Hello`: Socket.IO binds a socket to its namespace a tick after the
/// connect, and closes a connection whose event comes before (`40` then `42["hello",…]` back
/// to back is closed by socket.io 4.8). A dialect with no opening frames has nothing to wait
/// for. (Added to the lead's interface: without it the harness cannot tell the connect answer
/// from the other frames [`parse`] calls [`In::Other`].)
pub fn opened(dialect: Dialect, frame: &str) -> bool {
    match dialect {
        Dialect::Plain => false,
        Dialect::SocketIo => frame.starts_with("40"),
    }
}

/// The text frame for `out`: `{"type":NAME,FIELDS}` (plain) or `42[NAME,{FIELDS}]`
/// (a Socket.IO EVENT). Written by hand rather than through a `serde_json::Value`: the load
/// side encodes every message it sends, and must not be what limits a run.
pub fn encode(dialect: Dialect, out: &Out<'_>) -> String {
    let name = match out {
        Out::Hello { .. } => "hello",
        Out::Join { .. } => "join",
        Out::Subscribe { .. } => "subscribe",
        Out::Send { .. } => "send",
        Out::Receipt { .. } => "receipt",
        Out::Publish { .. } => "publish",
    };
    let mut frame = String::with_capacity(64);
    match dialect {
        Dialect::Plain => {
            frame.push_str("{\"type\":\"");
            frame.push_str(name);
            frame.push('"');
        }
        Dialect::SocketIo => {
            frame.push_str("42[\"");
            frame.push_str(name);
            frame.push_str("\",{");
        }
    }
    // Every field is preceded by a comma in the plain dialect (after "type"), by none first in
    // Socket.IO's payload object.
    let mut first = dialect == Dialect::SocketIo;
    let mut key = |frame: &mut String, name: &str| {
        if !std::mem::take(&mut first) {
            frame.push(',');
        }
        frame.push('"');
        frame.push_str(name);
        frame.push_str("\":");
    };
    match *out {
        Out::Hello { uid } => {
            key(&mut frame, "uid");
            push_str(&mut frame, uid);
        }
        Out::Join { room } => {
            key(&mut frame, "room");
            push_str(&mut frame, room);
        }
        Out::Subscribe { peers } => {
            key(&mut frame, "peers");
            frame.push('[');
            for (i, peer) in peers.iter().enumerate() {
                if i > 0 {
                    frame.push(',');
                }
                push_str(&mut frame, peer);
            }
            frame.push(']');
        }
        Out::Send { to, id, text } => {
            key(&mut frame, "to");
            push_str(&mut frame, to);
            key(&mut frame, "id");
            let _ = write!(frame, "{id}");
            key(&mut frame, "text");
            push_str(&mut frame, text);
        }
        Out::Receipt { to, id } => {
            key(&mut frame, "to");
            push_str(&mut frame, to);
            key(&mut frame, "id");
            let _ = write!(frame, "{id}");
        }
        Out::Publish { room, text } => {
            key(&mut frame, "room");
            push_str(&mut frame, room);
            key(&mut frame, "text");
            push_str(&mut frame, text);
        }
    }
    match dialect {
        Dialect::Plain => frame.push('}'),
        Dialect::SocketIo => frame.push_str("}]"),
    }
    frame
}

/// Appends `s` as a JSON string (quoted and escaped by serde_json).
fn push_str(frame: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => frame.push_str(&quoted),
        // Serializing a &str cannot fail; an empty string keeps the frame valid JSON anyway.
        Err(_) => frame.push_str("\"\""),
    }
}

/// The fields of every server frame, whichever it is; missing ones are `None`.
#[derive(serde::Deserialize)]
struct Fields {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    room: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    text: Option<String>,
}

/// What a server frame is. Never panics: anything that is not a well-formed frame of the
/// dialect (bad JSON, a missing or mistyped field, an unknown name) is [`In::Other`].
pub fn parse(dialect: Dialect, frame: &str) -> In {
    match dialect {
        Dialect::Plain => match serde_json::from_str::<Fields>(frame) {
            Ok(mut fields) => match fields.kind.take() {
                Some(kind) => event(&kind, fields),
                None => In::Other,
            },
            Err(_) => In::Other,
        },
        Dialect::SocketIo => {
            if frame == "2" {
                return In::Ping;
            }
            // An EVENT of the main namespace without an ack id: `42[NAME,PAYLOAD]`.
            let Some(args) = frame.strip_prefix("42") else {
                return In::Other;
            };
            match serde_json::from_str::<(String, Fields)>(args) {
                Ok((name, fields)) => event(&name, fields),
                Err(_) => In::Other,
            }
        }
    }
}

/// The frame named `kind` with `fields`, if it has every field that frame needs.
fn event(kind: &str, f: Fields) -> In {
    match (kind, f.room, f.from, f.id, f.text) {
        ("hello_ok", ..) => In::HelloOk,
        ("joined", Some(room), ..) => In::Joined { room },
        ("subscribed", ..) => In::Subscribed,
        ("message", _, Some(from), Some(id), Some(text)) => In::Message { from, id, text },
        ("receipt", _, Some(from), Some(id), _) => In::Receipt { from, id },
        ("room_message", Some(room), Some(from), _, Some(text)) => {
            In::RoomMessage { room, from, text }
        }
        _ => In::Other,
    }
}

/// The answer to [`In::Ping`] (`None`: the dialect has no application-level ping).
pub fn pong(dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Plain => None,
        Dialect::SocketIo => Some("3".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Dialect; 2] = [Dialect::Plain, Dialect::SocketIo];

    #[test]
    fn only_socket_io_opens_with_a_connect() {
        assert!(opening(Dialect::Plain).is_empty());
        assert_eq!(opening(Dialect::SocketIo), ["40"]);
    }

    #[test]
    fn plain_frames_are_the_objects_of_the_protocol() {
        let e = |out| encode(Dialect::Plain, &out);
        assert_eq!(
            e(Out::Hello { uid: "u1" }),
            r#"{"type":"hello","uid":"u1"}"#
        );
        assert_eq!(
            e(Out::Join { room: "c1" }),
            r#"{"type":"join","room":"c1"}"#
        );
        assert_eq!(
            e(Out::Subscribe {
                peers: &["u2", "u3"]
            }),
            r#"{"type":"subscribe","peers":["u2","u3"]}"#
        );
        assert_eq!(
            e(Out::Subscribe { peers: &[] }),
            r#"{"type":"subscribe","peers":[]}"#
        );
        assert_eq!(
            e(Out::Send {
                to: "u2",
                id: 7,
                text: "hi"
            }),
            r#"{"type":"send","to":"u2","id":7,"text":"hi"}"#
        );
        assert_eq!(
            e(Out::Receipt { to: "u1", id: 7 }),
            r#"{"type":"receipt","to":"u1","id":7}"#
        );
        assert_eq!(
            e(Out::Publish {
                room: "c1",
                text: "hey"
            }),
            r#"{"type":"publish","room":"c1","text":"hey"}"#
        );
    }

    #[test]
    fn socket_io_frames_are_events_with_the_same_objects_without_type() {
        let e = |out| encode(Dialect::SocketIo, &out);
        assert_eq!(e(Out::Hello { uid: "u1" }), r#"42["hello",{"uid":"u1"}]"#);
        assert_eq!(e(Out::Join { room: "c1" }), r#"42["join",{"room":"c1"}]"#);
        assert_eq!(
            e(Out::Subscribe {
                peers: &["u2", "u3"]
            }),
            r#"42["subscribe",{"peers":["u2","u3"]}]"#
        );
        assert_eq!(
            e(Out::Send {
                to: "u2",
                id: 7,
                text: "hi"
            }),
            r#"42["send",{"to":"u2","id":7,"text":"hi"}]"#
        );
        assert_eq!(
            e(Out::Receipt { to: "u1", id: 7 }),
            r#"42["receipt",{"to":"u1","id":7}]"#
        );
        assert_eq!(
            e(Out::Publish {
                room: "c1",
                text: "hey"
            }),
            r#"42["publish",{"room":"c1","text":"hey"}]"#
        );
    }

    #[test]
    fn every_frame_is_valid_json_whatever_its_strings_hold() {
        let odd = "quote \" backslash \\ newline \n tab \t nul \u{0} é 😀";
        for dialect in BOTH {
            let frame = encode(
                dialect,
                &Out::Send {
                    to: odd,
                    id: u64::MAX,
                    text: odd,
                },
            );
            let json = match dialect {
                Dialect::Plain => frame.as_str(),
                Dialect::SocketIo => &frame[2..],
            };
            let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            let fields = match dialect {
                Dialect::Plain => &v,
                Dialect::SocketIo => &v[1],
            };
            assert_eq!(fields["to"], odd);
            assert_eq!(fields["text"], odd);
            assert_eq!(fields["id"], u64::MAX);
        }
    }

    #[test]
    fn plain_server_frames_parse() {
        let p = |f| parse(Dialect::Plain, f);
        assert_eq!(p(r#"{"type":"hello_ok"}"#), In::HelloOk);
        assert_eq!(
            p(r#"{"type":"joined","room":"c1"}"#),
            In::Joined { room: "c1".into() }
        );
        assert_eq!(p(r#"{"type":"subscribed"}"#), In::Subscribed);
        assert_eq!(
            p(r#"{"type":"message","from":"u1","id":7,"text":"hi \" there"}"#),
            In::Message {
                from: "u1".into(),
                id: 7,
                text: "hi \" there".into()
            }
        );
        assert_eq!(
            p(r#"{"id":7,"from":"u2","type":"receipt"}"#),
            In::Receipt {
                from: "u2".into(),
                id: 7
            }
        );
        assert_eq!(
            p(r#"{"type":"room_message","room":"c1","from":"u1","text":"hey"}"#),
            In::RoomMessage {
                room: "c1".into(),
                from: "u1".into(),
                text: "hey".into()
            }
        );
    }

    #[test]
    fn socket_io_server_frames_parse() {
        let p = |f| parse(Dialect::SocketIo, f);
        assert_eq!(p("2"), In::Ping);
        assert_eq!(
            p(r#"0{"sid":"abc","upgrades":[],"pingInterval":25000}"#),
            In::Other
        );
        assert_eq!(p(r#"40{"sid":"xyz"}"#), In::Other);
        assert_eq!(p(r#"42["hello_ok",{}]"#), In::HelloOk);
        assert_eq!(
            p(r#"42["joined",{"room":"c1"}]"#),
            In::Joined { room: "c1".into() }
        );
        assert_eq!(p(r#"42["subscribed",{}]"#), In::Subscribed);
        assert_eq!(
            p(r#"42["message",{"from":"u1","id":7,"text":"hi"}]"#),
            In::Message {
                from: "u1".into(),
                id: 7,
                text: "hi".into()
            }
        );
        assert_eq!(
            p(r#"42["receipt",{"from":"u2","id":7}]"#),
            In::Receipt {
                from: "u2".into(),
                id: 7
            }
        );
        assert_eq!(
            p(r#"42["room_message",{"room":"c1","from":"u1","text":"hey"}]"#),
            In::RoomMessage {
                room: "c1".into(),
                from: "u1".into(),
                text: "hey".into()
            }
        );
    }

    #[test]
    fn garbage_is_other() {
        let garbage = [
            "",
            " ",
            "{",
            "null",
            "[]",
            "7",
            "\"hello_ok\"",
            "{}",
            r#"{"type":7}"#,
            r#"{"type":"nope"}"#,
            r#"{"type":"joined"}"#,
            r#"{"type":"message","from":"u1","id":-1,"text":"x"}"#,
            r#"{"type":"message","from":"u1","id":1.5,"text":"x"}"#,
            r#"{"type":"message","from":"u1","id":"7","text":"x"}"#,
            r#"{"type":"message","from":"u1","text":"x"}"#,
            r#"{"type":"receipt","from":null,"id":7}"#,
            r#"{"type":"room_message","room":"c1","from":"u1"}"#,
            "42",
            "42[",
            "42[]",
            r#"42["hello_ok"]"#,
            r#"42["hello_ok",{},3]"#,
            r#"42[7,{}]"#,
            r#"42["nope",{}]"#,
            r#"42["joined",{"room":1}]"#,
            r#"42/admin,["hello_ok",{}]"#,
            "3",
            "22",
            "4",
            "\u{0}\u{1}\u{ff}",
        ];
        for dialect in BOTH {
            for frame in garbage {
                assert_eq!(parse(dialect, frame), In::Other, "{dialect:?} {frame:?}");
            }
        }
        // Frames of the other dialect are garbage too.
        assert_eq!(parse(Dialect::Plain, r#"42["hello_ok",{}]"#), In::Other);
        assert_eq!(parse(Dialect::Plain, "2"), In::Other);
        assert_eq!(
            parse(Dialect::SocketIo, r#"{"type":"hello_ok"}"#),
            In::Other
        );
    }

    /// Every prefix of every well-formed frame, and pseudo-random bytes: `parse` answers
    /// without panicking.
    #[test]
    fn parse_never_panics() {
        let frames = [
            r#"{"type":"message","from":"u1","id":7,"text":"hi \u00e9"}"#,
            r#"42["room_message",{"room":"c1","from":"u1","text":"h\"ey"}]"#,
            r#"0{"sid":"abc"}"#,
        ];
        for dialect in BOTH {
            for frame in frames {
                for end in (0..=frame.len()).filter(|&i| frame.is_char_boundary(i)) {
                    let _ = parse(dialect, &frame[..end]);
                }
            }
        }
        let alphabet = b"{}[]\":,42 typeidfromtext0123\\u";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let frame = String::from_utf8_lossy(&bytes);
            for dialect in BOTH {
                let _ = parse(dialect, &frame);
            }
        }
    }

    #[test]
    fn socket_io_is_opened_by_its_connect_answer() {
        assert!(opened(Dialect::SocketIo, r#"40{"sid":"xyz"}"#));
        assert!(!opened(Dialect::SocketIo, r#"0{"sid":"abc"}"#));
        assert!(!opened(Dialect::SocketIo, "2"));
        assert!(!opened(Dialect::SocketIo, r#"42["hello_ok",{}]"#));
        assert!(!opened(Dialect::Plain, r#"{"type":"hello_ok"}"#));
    }

    #[test]
    fn only_socket_io_answers_pings() {
        assert_eq!(pong(Dialect::Plain), None);
        assert_eq!(pong(Dialect::SocketIo).as_deref(), Some("3"));
    }
}
