//! RTM frames as the load writes and reads them. Hot frames (`peer_message`,
//! `channel_message`, `ack`) are written from fixed templates and incoming pushes are only
//! scanned (their `type`, an `id`, a `text`), so that the load core spends its time on the
//! sockets, not on JSON: the load must not be what limits the figures. Rare frames
//! (`login_ok`) go through serde.

use std::fmt::Write as _;

use serde_json::json;

/// What a scanned server frame is, as far as the load cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan<'a> {
    LoginOk,
    /// A peer `message` push: acknowledge at once.
    PeerMessage,
    /// A `channel_message` push, with its message text.
    ChannelMessage {
        text: &'a str,
    },
    /// Another delivery-stream push: counted, acknowledged in batches.
    OtherPush,
    /// `peer_message_result`: `received` or not.
    PeerResult {
        id: u64,
        received: bool,
    },
    Joined,
    Subscribed,
    Ok,
    Error,
    Kicked,
    /// `pong`, `presence`, `token_will_expire`, anything else.
    Ignored,
}

/// Whether a frame of type `ty` takes a position in its session's delivery stream
/// (PROTOCOL.md "The delivery stream"): the client counts these to acknowledge them.
pub fn is_stream_push(ty: &[u8]) -> bool {
    matches!(
        ty,
        b"message"
            | b"channel_message"
            | b"member_joined"
            | b"member_left"
            | b"member_count"
            | b"attributes_updated"
            | b"invitation"
            | b"local_invitation"
            | b"remote_invitation"
            | b"removed"
    )
}

/// Classifies a frame by its `type` (`rtm_proto::wire::frame_type`) without parsing it.
pub fn scan(frame: &str) -> Scan<'_> {
    match rtm_proto::wire::frame_type(frame.as_bytes()) {
        b"message" => Scan::PeerMessage,
        b"channel_message" => Scan::ChannelMessage {
            text: field_str(frame, "\"text\":\"").unwrap_or(""),
        },
        ty if is_stream_push(ty) => Scan::OtherPush,
        b"peer_message_result" => Scan::PeerResult {
            id: field_u64(frame, "\"id\":").unwrap_or(u64::MAX),
            received: frame.contains("\"outcome\":\"received\""),
        },
        b"login_ok" => Scan::LoginOk,
        b"joined" => Scan::Joined,
        b"subscribed" => Scan::Subscribed,
        b"ok" => Scan::Ok,
        b"error" => Scan::Error,
        b"kicked" => Scan::Kicked,
        _ => Scan::Ignored,
    }
}

/// The unsigned number after `key` (e.g. `"id":`), if any.
pub fn field_u64(frame: &str, key: &str) -> Option<u64> {
    let at = frame.find(key)? + key.len();
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

/// The string after `key` (which ends with the opening quote) up to the next quote. The
/// load's own texts hold no quote or escape, so this is exact for them.
pub fn field_str<'a>(frame: &'a str, key: &str) -> Option<&'a str> {
    let at = frame.find(key)? + key.len();
    let len = frame[at..].find('"')?;
    Some(&frame[at..at + len])
}

/// What `login_ok` says: the session to resume, whether it resumed, the stream position of
/// the next push.
pub struct LoginOk {
    pub session: String,
    pub resumed: bool,
    pub resend_from: u64,
}

pub fn login_ok(frame: &str) -> Option<LoginOk> {
    let v: serde_json::Value = serde_json::from_str(frame).ok()?;
    Some(LoginOk {
        session: v.get("session")?.as_str()?.to_owned(),
        resumed: v.get("resumed")?.as_bool()?,
        resend_from: v.get("resend_from").and_then(|r| r.as_u64()).unwrap_or(1),
    })
}

pub fn login(
    id: u32,
    app_id: &str,
    uid: &str,
    token: Option<&str>,
    resume: Option<&str>,
) -> String {
    let mut v = json!({"type":"login","id":id,"version":2,"app_id":app_id,"uid":uid});
    if let Some(t) = token {
        v["token"] = json!(t);
    }
    if let Some(r) = resume {
        v["resume"] = json!(r);
    }
    v.to_string()
}

pub fn join(id: u32, channel: &str) -> String {
    format!(r#"{{"type":"join","id":{id},"channel":"{channel}"}}"#)
}

/// `replace`: the session's subscriptions become exactly `peers` (the reference client's
/// correction after every login, a resumed one included).
pub fn subscribe(id: u32, peers: &[String], replace: bool) -> String {
    let mut v = json!({"type":"subscribe","id":id,"peers":peers});
    if replace {
        v["replace"] = json!(true);
    }
    v.to_string()
}

pub const PING: &str = r#"{"type":"ping"}"#;

pub fn ack(seq: u64) -> String {
    format!(r#"{{"type":"ack","seq":{seq}}}"#)
}

pub fn peer_message(out: &mut String, id: u32, to: &str, msg_id: u64, text: &str) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"type":"peer_message","id":{id},"to":"{to}","msg_id":{msg_id},"message":{{"kind":"text","text":"{text}"}}}}"#
    );
}

pub fn channel_message(out: &mut String, id: u32, channel: &str, msg_id: u64, text: &str) {
    out.clear();
    let _ = write!(
        out,
        r#"{{"type":"channel_message","id":{id},"channel":"{channel}","msg_id":{msg_id},"message":{{"kind":"text","text":"{text}"}}}}"#
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_the_frames_the_load_cares_about() {
        assert_eq!(
            scan(r#"{"type":"peer_message_result","id":14,"outcome":"received"}"#),
            Scan::PeerResult {
                id: 14,
                received: true
            }
        );
        assert_eq!(
            scan(
                r#"{"type":"channel_message","channel":"c","epoch":2,"cseq":58,"from":"a","message":{"kind":"text","text":"3.7.99.xx"},"server_ts":1}"#
            ),
            Scan::ChannelMessage { text: "3.7.99.xx" }
        );
        assert_eq!(scan(r#"{"type":"message","from":"a"}"#), Scan::PeerMessage);
        assert_eq!(scan("not json"), Scan::Ignored);
        let ok = login_ok(
            r#"{"type":"login_ok","id":1,"version":2,"session":"ab","resumed":true,"server_ts":1,"heartbeat_ms":2000,"resend_from":5}"#,
        );
        assert!(ok.is_some_and(|o| o.resumed && o.session == "ab" && o.resend_from == 5));
    }
}
