//! REST calls for `server_inputs` (inputs that start with [`crate::ADMIN`]): methods, paths
//! built from the API's routes with valid, awkward and invalid ids, queries and bodies from
//! templates with fuzzed fields or raw bytes, with the configured key or another; and the
//! check that every call is answered exactly once, with a status in 200..600 and the
//! documented JSON envelope.

use std::collections::BTreeSet;

use bytes::Bytes;
use rtm_proto::server::admin::{AdminCall, AdminCallId, AdminKey, AdminReply, Method};
use rtm_proto::server::DEFAULT_APP_ID;
use serde_json::{json, Value};

use crate::input::Input;
use crate::values::{channel, name};

/// The key the server is configured with.
pub(crate) fn key() -> AdminKey {
    AdminKey {
        id: "ops".into(),
        secret: "secret".into(),
    }
}

/// `Basic base64("ops:secret")`.
const GOOD_AUTH: &str = "Basic b3BzOnNlY3JldA==";

/// The calls made and not yet answered.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    next: u64,
    waiting: BTreeSet<u64>,
}

impl Calls {
    /// A new call, recorded as waiting for its answer.
    pub fn make(&mut self, inp: &mut Input) -> AdminCall {
        self.next += 1;
        self.waiting.insert(self.next);
        let (path, fitting) = path(inp);
        AdminCall {
            id: AdminCallId(self.next),
            method: if inp.u8() % 8 == 0 {
                method(inp)
            } else {
                fitting
            },
            path,
            query: query(inp),
            authorization: auth(inp),
            body: body(inp),
        }
    }

    /// Checks one answer: to a call that waits for it, once, with a documented envelope.
    pub fn answered(&mut self, reply: &AdminReply) {
        assert!(
            self.waiting.remove(&reply.id.0),
            "answer to call {} that was answered already or never made",
            reply.id.0
        );
        assert!(
            (200..600).contains(&reply.status),
            "status {} out of range",
            reply.status
        );
        let v: Value = serde_json::from_slice(&reply.body).expect("an answer is JSON");
        assert!(v["request_id"].is_string(), "no request_id: {v}");
        if reply.status < 300 {
            assert_eq!(v["result"], "success", "{v}");
        } else {
            assert_eq!(v["result"], "failed", "{v}");
            assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        }
        assert!(
            reply.status < 500 || [501, 503].contains(&reply.status),
            "{v}"
        );
        assert_eq!(reply.retry_after_secs.is_some(), reply.status == 429);
        assert_eq!(reply.challenge, reply.status == 401);
    }

    /// Every call made has been answered.
    pub fn all_answered(&self) {
        assert!(
            self.waiting.is_empty(),
            "calls never answered: {:?}",
            self.waiting
        );
    }
}

fn method(inp: &mut Input) -> Method {
    match inp.u8() % 8 {
        0 | 1 => Method::Get,
        2 | 3 => Method::Post,
        4 => Method::Put,
        5 => Method::Patch,
        6 => Method::Delete,
        _ => Method::Other,
    }
}

/// A user id as a path segment: valid, awkward (percent-encoded), or invalid.
fn user_segment(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => "%3Cd%3E%7C~".into(),
        1 => "%zz".into(),
        2 => "a%20b".into(),
        _ => name(inp).replace('|', "%7C"),
    }
}

/// A path, and a method it takes.
fn path(inp: &mut Input) -> (String, Method) {
    let app = if inp.u8() % 16 == 0 {
        "other"
    } else {
        DEFAULT_APP_ID
    };
    use Method::*;
    let (rest, fitting) = match inp.u8() % 16 {
        0 => (format!("users/{}/peer_messages", user_segment(inp)), Post),
        1 => (
            format!("users/{}/channel_messages", user_segment(inp)),
            Post,
        ),
        2 => ("users/online_status".into(), Post),
        3 => (format!("users/{}/attributes", user_segment(inp)), Get),
        4 => (format!("users/{}/logs", user_segment(inp)), Get),
        5 => (
            format!("channels/{}/member_count", channel(inp).replace('|', "%7C")),
            Get,
        ),
        6 => (format!("channels/{}/members", channel(inp)), Get),
        7 | 8 => {
            let m = [Get, Put, Patch, Delete][inp.u8() as usize % 4];
            (format!("channels/{}/attributes", channel(inp)), m)
        }
        9 => ("vendor/user_events".into(), Get),
        10 => ("vendor/channel_events".into(), Get),
        11 | 12 => ("bans".into(), if inp.bool() { Get } else { Post }),
        13 => (format!("bans/{}", inp.u8() % 8), Delete),
        14 => (String::from_utf8_lossy(inp.bytes(24)).into_owned(), Get),
        _ => ("bans/99999999999999999999999".into(), Delete),
    };
    (format!("/v1/project/{app}/rtm/{rest}"), fitting)
}

fn query(inp: &mut Input) -> String {
    match inp.u8() % 10 {
        0 => "wait_for_ack=true".into(),
        1 => format!("limit={}", inp.u16()),
        2 => format!("cursor={}", inp.u64()),
        3 => "keys=k1,k2,%zz".into(),
        4 => "enable_notification_to_channel_members=true&keys=k1".into(),
        5 => String::from_utf8_lossy(inp.bytes(24)).into_owned(),
        _ => String::new(),
    }
}

fn auth(inp: &mut Input) -> Option<String> {
    match inp.u8() % 32 {
        0 => None,
        1 => Some("Basic b3BzOndyb25n".into()),
        2 => Some(String::from_utf8_lossy(inp.bytes(16)).into_owned()),
        _ => Some(GOOD_AUTH.into()),
    }
}

fn text(inp: &mut Input) -> String {
    match inp.u8() % 8 {
        0 => String::new(),
        1 => "x".repeat(32 * 1024 + 1),
        _ => String::from_utf8_lossy(inp.bytes(32)).into_owned(),
    }
}

fn body(inp: &mut Input) -> Bytes {
    let v: Value = match inp.u8() % 10 {
        0 => json!({
            "destination": name(inp),
            "payload": text(inp),
            "enable_offline_messaging": inp.bool(),
        }),
        1 => json!({"channel_name": channel(inp), "payload": text(inp)}),
        2 => {
            let n = if inp.u8() % 8 == 0 { 300 } else { 3 };
            let ids: Vec<&str> = (0..n).map(|_| name(inp)).collect();
            json!({ "user_ids": ids })
        }
        3 => json!({
            "attributes": {"k1": text(inp), "k2": "v"},
            "enable_notification_to_channel_members": inp.bool(),
            "user_id": name(inp),
        }),
        4 => json!({"user_id": name(inp), "minutes": u64::from(inp.u16()) % 50_000}),
        5 => json!({"ip": if inp.bool() { "10.0.0.1" } else { "::ffff:10.0.0.1" }, "minutes": 1}),
        6 => {
            json!({"user_id": name(inp), "channel_name": channel(inp), "minutes": 1, "reason": text(inp)})
        }
        7 => json!({"user_id": name(inp), "ip": "::1", "minutes": 1}),
        _ => return Bytes::copy_from_slice(inp.bytes(64)),
    };
    Bytes::from(v.to_string())
}
