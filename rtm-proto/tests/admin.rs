//! The operator's plane (`rtm_proto::server::admin`): the REST API as a driver hands it to
//! the core, against clients in the in-memory world.

mod common;

use common::{ch, join, raw_login, say_raw, states, LinkMode, World, APP};
use rtm_proto::client::{
    ChannelEvent, ClientConfig, ConnectionChangeReason as R, ConnectionState as S, Event, Response,
};
use rtm_proto::server::admin::{AdminKey, AdminReply, Method};
use rtm_proto::server::AdminLimits;
use rtm_proto::wire::{close, RemovedReason};
use rtm_proto::{JoinChannelError, LeaveChannelError, LoginError, Message, ServerConfig};
use serde_json::{json, Value};

use Method::{Delete, Get, Patch, Post, Put};

/// `Basic base64("ops:secret")`.
const AUTH: Option<&str> = Some("Basic b3BzOnNlY3JldA==");
/// `Basic base64("ops:wrong")`.
const WRONG: Option<&str> = Some("Basic b3BzOndyb25n");

fn config() -> ServerConfig {
    ServerConfig {
        admin_keys: vec![AdminKey {
            id: "ops".into(),
            secret: "secret".into(),
        }],
        ..ServerConfig::default()
    }
}

fn world(n: usize) -> World {
    World::with_config(n, config(), ClientConfig::default())
}

fn world_with(n: usize, admin: AdminLimits) -> World {
    World::with_config(
        n,
        ServerConfig { admin, ..config() },
        ClientConfig::default(),
    )
}

fn path(rest: &str) -> String {
    format!("/v1/project/{APP}/rtm/{rest}")
}

/// The reply's body as JSON, checking the envelope every answer has.
fn body(r: &AdminReply) -> Value {
    let v: Value = serde_json::from_slice(&r.body).expect("a JSON body");
    assert!(v["request_id"].is_string(), "{v}");
    let ok = (200..300).contains(&r.status);
    assert_eq!(v["result"], if ok { "success" } else { "failed" }, "{v}");
    if !ok {
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
    }
    v
}

/// Status and `code` of a failure.
fn failure(r: &AdminReply) -> (u16, String) {
    let v = body(r);
    (r.status, v["code"].as_str().unwrap_or("").to_string())
}

fn call(w: &mut World, method: Method, rest: &str, query: &str, body_text: &str) -> AdminReply {
    w.admin(method, &path(rest), query, AUTH, body_text)
}

fn ok(w: &mut World, method: Method, rest: &str, query: &str, body_text: &str) -> Value {
    let r = call(w, method, rest, query, body_text);
    assert!(
        (200..300).contains(&r.status),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    body(&r)
}

fn texts(w: &mut World, c: usize) -> Vec<String> {
    w.take_events(c)
        .into_iter()
        .filter_map(|e| match e {
            Event::MessageFromPeer {
                peer_id,
                message: Message::Text { text },
                ..
            } => Some(format!("{peer_id}: {text}")),
            Event::Channel {
                event:
                    ChannelEvent::Message {
                        member_id,
                        message: Message::Text { text },
                        ..
                    },
                channel,
            } => Some(format!("{channel}/{member_id}: {text}")),
            _ => None,
        })
        .collect()
}

// ----- authentication and routing -----

#[test]
fn without_a_key_the_api_is_disabled() {
    let mut w = World::new(0);
    let r = w.admin(Get, &path("bans"), "", AUTH, "");
    assert_eq!(failure(&r), (404, "api_disabled".into()));
}

#[test]
fn a_missing_or_wrong_key_is_401_with_a_challenge() {
    let mut w = world(0);
    for auth in [None, WRONG, Some("Bearer x"), Some("Basic ***")] {
        let r = w.admin(Get, &path("bans"), "", auth, "");
        assert_eq!(failure(&r), (401, "unauthorized".into()));
        assert!(r.challenge);
    }
    let r = w.admin(Get, &path("bans"), "", AUTH, "");
    assert_eq!(r.status, 200);
    assert!(!r.challenge);
}

#[test]
fn unknown_paths_apps_and_methods() {
    let mut w = world(0);
    let r = w.admin(Get, "/v1/project/OTHER/rtm/bans", "", AUTH, "");
    assert_eq!(failure(&r), (404, "unknown_app".into()));
    let r = call(&mut w, Get, "nothing/here", "", "");
    assert_eq!(failure(&r), (404, "not_found".into()));
    let r = call(&mut w, Get, "users/alice/peer_messages", "", "");
    assert_eq!(failure(&r), (405, "method_not_allowed".into()));
    let r = w.admin(Method::Other, &path("bans"), "", AUTH, "");
    assert_eq!(failure(&r), (405, "method_not_allowed".into()));
    let r = call(&mut w, Delete, "bans/abc", "", "");
    assert_eq!(failure(&r), (400, "bad_request".into()));
    let r = call(&mut w, Delete, "bans/77", "", "");
    assert_eq!(failure(&r), (404, "not_found".into()));
}

#[test]
fn request_ids_differ() {
    let mut w = world(0);
    let a = ok(&mut w, Get, "bans", "", "");
    let b = ok(&mut w, Get, "bans", "", "");
    assert_ne!(a["request_id"], b["request_id"]);
}

#[test]
fn past_the_rate_is_429_with_retry_after() {
    let mut w = world(0);
    for _ in 0..10 {
        ok(&mut w, Get, "vendor/user_events", "", "");
    }
    let r = call(&mut w, Get, "vendor/user_events", "", "");
    assert_eq!(failure(&r), (429, "too_many_requests".into()));
    assert_eq!(r.retry_after_secs, Some(1));
    // Other kinds have their own bucket; a second later the pulls refill.
    ok(&mut w, Get, "bans", "", "");
    w.advance(1000);
    ok(&mut w, Get, "vendor/user_events", "", "");
    let m = w.server.metrics();
    assert!(m
        .iter()
        .any(|s| s.name == "rate_limited" && s.labels == vec![("kind", "rest_event_pulls")]));
}

// ----- sending as a user -----

#[test]
fn a_peer_message_as_a_user_reaches_an_online_receiver_once() {
    let mut w = world(1);
    w.login(0, "bob");
    let v = ok(
        &mut w,
        Post,
        "users/backend/peer_messages",
        "",
        r#"{"destination":"bob","payload":"hello"}"#,
    );
    assert_eq!(v["code"], "message_sent");
    let v = ok(
        &mut w,
        Post,
        "users/backend/peer_messages",
        "wait_for_ack=true",
        r#"{"destination":"bob","payload":"again"}"#,
    );
    assert_eq!(v["code"], "message_delivered");
    w.advance(5000);
    assert_eq!(texts(&mut w, 0), vec!["backend: hello", "backend: again"]);
}

#[test]
fn a_peer_message_to_an_offline_user_is_cached_and_delivered_at_login() {
    let mut w = world(1);
    let offline = r#"{"destination":"bob","payload":"later","enable_offline_messaging":true}"#;
    let v = ok(
        &mut w,
        Post,
        "users/backend/peer_messages",
        "wait_for_ack=true",
        offline,
    );
    assert_eq!(
        v,
        json!({"result": "success", "request_id": v["request_id"], "code": "peer_offline", "cached": true})
    );
    let v = ok(&mut w, Post, "users/backend/peer_messages", "", offline);
    assert_eq!(v["code"], "message_sent");
    let v = ok(
        &mut w,
        Post,
        "users/backend/peer_messages",
        "",
        r#"{"destination":"bob","payload":"lost"}"#,
    );
    assert_eq!(
        (v["code"].as_str(), v["cached"].as_bool()),
        (Some("peer_offline"), Some(false))
    );
    // (not `World::login`, which forgets the events of the login)
    w.clients[0]
        .login(w.now, "bob", None)
        .expect("accepted locally");
    w.advance(1000);
    assert_eq!(texts(&mut w, 0), vec!["backend: later", "backend: later"]);
}

#[test]
fn a_send_that_cannot_be_stored_is_503() {
    let mut w = world(0);
    w.disk.mode = common::StoreMode::Held;
    let id = w.admin_call(
        Post,
        &path("users/backend/peer_messages"),
        "",
        AUTH,
        r#"{"destination":"bob","payload":"x","enable_offline_messaging":true}"#,
    );
    assert!(w.admin_reply(id).is_none(), "answered once durable");
    w.fail_writes();
    let r = w.admin_reply(id).expect("answered");
    assert_eq!(failure(&r), (503, "not_stored".into()));
}

#[test]
fn wait_for_ack_times_out_when_the_receiver_never_acknowledges() {
    let mut w = world(0);
    let conn = raw_login(&mut w, "bob");
    let id = w.admin_call(
        Post,
        &path("users/backend/peer_messages"),
        "wait_for_ack=true",
        AUTH,
        r#"{"destination":"bob","payload":"hi"}"#,
    );
    let pushed = common::drain_raw(&mut w, conn);
    assert!(pushed.iter().any(|f| f.contains("\"hi\"")), "{pushed:?}");
    w.advance(9_999);
    assert!(w.admin_reply(id).is_none());
    w.advance(1);
    let r = w.admin_reply(id).expect("answered at the deadline");
    assert_eq!(failure(&r), (408, "timeout".into()));
    // Answered once: the outcome that comes later finds no call.
    say_raw(&mut w, conn, r#"{"type":"ack","seq":1}"#);
    assert!(w.admin_replies.is_empty());
}

#[test]
fn bad_sends_are_400_with_their_code() {
    let mut w = world(0);
    let cases = [
        (
            "users/null/peer_messages",
            r#"{"destination":"bob","payload":"x"}"#,
            "invalid_user_id",
        ),
        (
            "users/a/peer_messages",
            r#"{"destination":"a","payload":"x"}"#,
            "invalid_user_id",
        ),
        (
            "users/a/peer_messages",
            r#"{"destination":"b\u0001","payload":"x"}"#,
            "invalid_user_id",
        ),
        (
            "users/a/peer_messages",
            r#"{"destination":"b","payload":""}"#,
            "invalid_payload",
        ),
        (
            "users/a/peer_messages",
            r#"{"destination":"b"}"#,
            "bad_request",
        ),
        (
            "users/a/peer_messages",
            r#"{"destination":"b","payload":"x""#,
            "bad_request",
        ),
        ("users/a/peer_messages", r#"[1]"#, "bad_request"),
        (
            "users/a/channel_messages",
            r#"{"channel_name":"","payload":"x"}"#,
            "invalid_channel_name",
        ),
        (
            "users/a/channel_messages",
            r#"{"channel_name":"c"}"#,
            "bad_request",
        ),
    ];
    for (rest, body_text, code) in cases {
        let r = call(&mut w, Post, rest, "", body_text);
        assert_eq!(failure(&r), (400, code.into()), "{rest} {body_text}");
    }
    let big = format!(
        r#"{{"destination":"b","payload":"{}"}}"#,
        "x".repeat(32 * 1024 + 1)
    );
    let r = call(&mut w, Post, "users/a/peer_messages", "", &big);
    assert_eq!(failure(&r), (400, "invalid_payload".into()));
    let r = call(
        &mut w,
        Post,
        "users/a/peer_messages",
        "wait_for_ack=maybe",
        r#"{"destination":"b","payload":"x"}"#,
    );
    assert_eq!(failure(&r), (400, "bad_request".into()));
}

#[test]
fn a_channel_message_as_a_user_reaches_every_member_once() {
    let mut w = world(2);
    w.login(0, "alice");
    w.login(1, "bob");
    join(&mut w, 0, "lobby");
    join(&mut w, 1, "lobby");
    let body_text = r#"{"channel_name":"lobby","payload":"announcement"}"#;
    ok(&mut w, Post, "users/system/channel_messages", "", body_text);
    ok(
        &mut w,
        Post,
        "users/system/channel_messages",
        "",
        r#"{"channel_name":"empty","payload":"x"}"#,
    );
    w.advance(1000);
    assert_eq!(texts(&mut w, 0), vec!["lobby/system: announcement"]);
    assert_eq!(texts(&mut w, 1), vec!["lobby/system: announcement"]);
}

// ----- reads and writes -----

#[test]
fn online_status_of_up_to_256_users() {
    let mut w = world(1);
    w.login(0, "alice");
    let v = ok(
        &mut w,
        Post,
        "users/online_status",
        "",
        r#"{"user_ids":["alice","bob"]}"#,
    );
    assert_eq!(v["online"], json!({"alice": true, "bob": false}));
    let many: Vec<String> = (0..257).map(|i| format!("u{i}")).collect();
    let r = call(
        &mut w,
        Post,
        "users/online_status",
        "",
        &json!({ "user_ids": many }).to_string(),
    );
    assert_eq!(failure(&r), (400, "too_many_users".into()));
    let r = call(
        &mut w,
        Post,
        "users/online_status",
        "",
        r#"{"user_ids":[]}"#,
    );
    assert_eq!(failure(&r), (400, "bad_request".into()));
    let r = call(
        &mut w,
        Post,
        "users/online_status",
        "",
        r#"{"user_ids":["null"]}"#,
    );
    assert_eq!(failure(&r), (400, "invalid_user_id".into()));
    let r = call(
        &mut w,
        Post,
        "users/online_status",
        "",
        r#"{"users":["a"]}"#,
    );
    assert_eq!(failure(&r), (400, "bad_request".into()));
}

#[test]
fn members_counts_and_attributes() {
    let mut w = world(3);
    for (c, name) in ["alice", "bob", "carol"].iter().enumerate() {
        w.login(c, name);
        join(&mut w, c, "lobby");
    }
    let v = ok(&mut w, Get, "channels/lobby/member_count", "", "");
    assert_eq!(v["member_count"], 3);
    let v = ok(&mut w, Get, "channels/nobody/member_count", "", "");
    assert_eq!(v["member_count"], 0);
    let v = ok(&mut w, Get, "channels/lobby/members", "limit=2", "");
    assert_eq!(
        (
            v["member_count"].as_u64(),
            v["members"].as_array().map(Vec::len),
            v["sampled"].as_bool()
        ),
        (Some(3), Some(2), Some(true))
    );
    let v = ok(&mut w, Get, "channels/lobby/members", "", "");
    assert_eq!(v["members"], json!(["alice", "bob", "carol"]));
    assert_eq!(v["sampled"], false);
    let r = call(&mut w, Get, "channels/lobby/members", "limit=513", "");
    assert_eq!(failure(&r), (400, "bad_request".into()));

    // Channel attributes: written as the key (a valid user id), with a notification.
    w.take_events(0);
    ok(
        &mut w,
        Put,
        "channels/lobby/attributes",
        "",
        r#"{"attributes":{"topic":"rust","mood":"ok"},"enable_notification_to_channel_members":true}"#,
    );
    let updated = w.take_events(0).into_iter().any(|e| {
        matches!(
            e,
            Event::Channel {
                event: ChannelEvent::AttributesUpdated { .. },
                ..
            }
        )
    });
    assert!(updated);
    ok(
        &mut w,
        Patch,
        "channels/lobby/attributes",
        "",
        r#"{"attributes":{"mood":"great"},"user_id":"mod"}"#,
    );
    let v = ok(&mut w, Get, "channels/lobby/attributes", "", "");
    let attrs = v["attributes"].as_array().expect("an array").clone();
    assert_eq!(attrs.len(), 2);
    assert_eq!(attrs[0]["key"], "mood");
    assert_eq!(attrs[0]["value"], "great");
    assert_eq!(attrs[0]["last_update_user_id"], "mod");
    assert_eq!(attrs[1]["last_update_user_id"], "ops");
    assert!(attrs[1]["last_update_ts"].as_u64() > Some(0));
    let v = ok(&mut w, Get, "channels/lobby/attributes", "keys=topic", "");
    assert_eq!(v["attributes"].as_array().map(Vec::len), Some(1));
    ok(
        &mut w,
        Delete,
        "channels/lobby/attributes",
        "keys=topic",
        "",
    );
    let v = ok(&mut w, Get, "channels/lobby/attributes", "", "");
    assert_eq!(v["attributes"].as_array().map(Vec::len), Some(1));
    ok(&mut w, Delete, "channels/lobby/attributes", "", "");
    let v = ok(&mut w, Get, "channels/lobby/attributes", "", "");
    assert_eq!(v["attributes"], json!([]));
    let too_big = json!({"attributes": {"k": "v".repeat(9000)}}).to_string();
    let r = call(&mut w, Put, "channels/lobby/attributes", "", &too_big);
    assert_eq!(r.status, 400);
    let r = call(
        &mut w,
        Put,
        "channels/lobby/attributes",
        "",
        r#"{"attributes":{"a":1}}"#,
    );
    assert_eq!(failure(&r), (400, "bad_request".into()));
    let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let r = call(
        &mut w,
        Get,
        "channels/lobby/attributes",
        &format!("keys={}", keys.join(",")),
        "",
    );
    assert_eq!(failure(&r), (400, "bad_request".into()));

    // User attributes: empty for a user who is not logged in.
    let set = w.clients[0]
        .set_local_user_attributes(w.now, [("role".to_string(), "admin".to_string())].into())
        .expect("accepted");
    w.settle();
    assert!(w.response(0, set).is_some());
    let v = ok(&mut w, Get, "users/alice/attributes", "", "");
    assert_eq!(v["attributes"], json!({"role": "admin"}));
    let v = ok(&mut w, Get, "users/zed/attributes", "keys=role", "");
    assert_eq!(v["attributes"], json!({}));
}

// ----- the event logs -----

fn events(w: &mut World, which: &str, query: &str) -> Value {
    ok(w, Get, &format!("vendor/{which}"), query, "")
}

fn kinds(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let channel = e["channel_id"]
                .as_str()
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            format!(
                "{channel}{} {}",
                e["type"].as_str().unwrap_or("?"),
                e["user_id"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn the_event_logs_tell_logins_logouts_joins_and_leaves_in_order() {
    let mut w = world(2);
    w.login(0, "alice");
    w.login(1, "bob");
    join(&mut w, 0, "lobby");
    join(&mut w, 1, "lobby");
    let leave = w.clients[1].leave(w.now, &ch("lobby")).expect("accepted");
    w.settle();
    assert!(w.response(1, leave).is_some());
    w.clients[0].logout(w.now).expect("accepted");
    w.settle();
    // A resume is not a login.
    w.reset_link(1);
    w.advance(3000);
    assert_eq!(w.clients[1].connection_state(), S::Connected);

    let v = events(&mut w, "user_events", "");
    assert_eq!(kinds(&v), vec!["Login alice", "Login bob", "Logout alice"]);
    assert_eq!(v["lost"], 0);
    let v = events(&mut w, "channel_events", "");
    assert_eq!(
        kinds(&v),
        vec![
            "lobby Join alice",
            "lobby Join bob",
            "lobby Leave bob",
            "lobby Leave alice"
        ]
    );
    let ts = v["events"][0]["ts"].as_u64().expect("ts");
    assert!(ts >= common::T0_UNIX_MS);
}

#[test]
fn chained_pulls_never_lose_or_repeat_and_overflow_is_counted() {
    let mut w = world_with(
        6,
        AdminLimits {
            event_log_events: 4,
            event_pulls_per_sec: 1000,
            ..AdminLimits::default()
        },
    );
    let names = ["a", "b", "c", "d", "e", "f"];
    w.login(0, names[0]);
    w.login(1, names[1]);
    let first = events(&mut w, "user_events", "limit=1");
    assert_eq!(kinds(&first), vec!["Login a"]);
    let cursor = first["next_cursor"].as_u64().expect("cursor");
    let next = events(&mut w, "user_events", &format!("cursor={cursor}&limit=5"));
    assert_eq!(kinds(&next), vec!["Login b"]);
    let cursor = next["next_cursor"].as_u64().expect("cursor");
    let empty = events(&mut w, "user_events", &format!("cursor={cursor}"));
    assert_eq!(kinds(&empty), Vec::<String>::new());
    assert_eq!(empty["next_cursor"].as_u64(), Some(cursor));
    // Six more logins: the log keeps 4 of the 8, so 2 after the cursor were lost.
    for (c, name) in names.iter().enumerate().skip(2) {
        w.login(c, name);
    }
    w.clients[0].logout(w.now).expect("accepted");
    w.settle();
    w.clients[1].logout(w.now).expect("accepted");
    w.settle();
    let after = events(&mut w, "user_events", &format!("cursor={cursor}"));
    assert_eq!(
        kinds(&after),
        vec!["Login e", "Login f", "Logout a", "Logout b"]
    );
    assert_eq!(after["lost"], 2);
    let r = call(&mut w, Get, "vendor/user_events", "limit=0", "");
    assert_eq!(failure(&r), (400, "bad_request".into()));
    let r = call(&mut w, Get, "vendor/user_events", "cursor=-1", "");
    assert_eq!(failure(&r), (400, "bad_request".into()));
}

// ----- bans -----

fn ban(w: &mut World, body_text: &str) -> Value {
    let r = call(w, Post, "bans", "", body_text);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    body(&r)["ban"].clone()
}

fn login_result(w: &mut World, c: usize, name: &str) -> Option<Result<(), LoginError>> {
    let req = w.clients[c]
        .login(w.now, name, None)
        .expect("accepted locally");
    w.settle();
    match w.response(c, req) {
        Some(Response::Login(r)) => Some(r),
        _ => None,
    }
}

#[test]
fn a_user_ban_ends_the_session_refuses_logins_and_expires() {
    let mut w = world(1);
    w.login(0, "bob");
    let rule = ban(&mut w, r#"{"user_id":"bob","minutes":1,"reason":"spam"}"#);
    assert_eq!(rule["user_id"], "bob");
    assert_eq!(rule["minutes"], 1);
    assert_eq!(rule["reason"], "spam");
    assert_eq!(
        rule["expires_ts"].as_u64().unwrap() - rule["created_ts"].as_u64().unwrap(),
        60_000
    );
    assert_eq!(states(&mut w, 0), vec![(S::Aborted, R::BannedByServer)]);
    assert!(w
        .server_closes
        .iter()
        .any(|(_, code)| *code == close::BANNED));
    w.clients[0].logout(w.now).expect("logout from ABORTED");
    w.settle();
    assert_eq!(
        login_result(&mut w, 0, "bob"),
        Some(Err(LoginError::Rejected))
    );
    let v = ok(&mut w, Get, "bans", "", "");
    assert_eq!(v["bans"].as_array().map(Vec::len), Some(1));
    assert_eq!(w.disk.records.len(), 1, "the rule is on disk");
    w.advance(60_000);
    assert_eq!(login_result(&mut w, 0, "bob"), Some(Ok(())));
    let v = ok(&mut w, Get, "bans", "", "");
    assert_eq!(v["bans"], json!([]));
    assert!(
        w.disk.records.is_empty(),
        "an expired rule's record is deleted"
    );
    let m = w.server.metrics();
    let applied = m
        .iter()
        .find(|s| s.name == "bans_applied")
        .expect("counted");
    assert_eq!(
        (applied.labels.clone(), applied.value),
        (vec![("scope", "user")], 1)
    );
    assert!(m
        .iter()
        .any(|s| s.name == "kicks" && s.labels == vec![("reason", "banned_by_server")]));
    assert!(m
        .iter()
        .any(|s| s.name == "logins" && s.labels == vec![("outcome", "rejected")]));
}

#[test]
fn a_ban_survives_a_restart_and_delete_ends_it() {
    let mut w = world(1);
    let rule = ban(&mut w, r#"{"user_id":"bob","minutes":10}"#);
    let report = w.restart_server();
    assert_eq!(report.bans, 1);
    assert_eq!(
        login_result(&mut w, 0, "bob"),
        Some(Err(LoginError::Rejected))
    );
    let v = ok(&mut w, Get, "bans", "", "");
    assert_eq!(v["bans"][0]["id"], rule["id"]);
    let id = rule["id"].as_str().expect("an id string").to_string();
    ok(&mut w, Delete, &format!("bans/{id}"), "", "");
    let r = call(&mut w, Delete, &format!("bans/{id}"), "", "");
    assert_eq!(failure(&r), (404, "not_found".into()));
    assert!(w.disk.records.is_empty());
    assert_eq!(login_result(&mut w, 0, "bob"), Some(Ok(())));
    // A rule that expired while the server was down is dropped at restore.
    ban(&mut w, r#"{"user_id":"carol","minutes":1}"#);
    w.now = rtm_proto::Timestamp::from_millis(w.now.as_millis() + 120_000);
    let report = w.restart_server();
    assert_eq!((report.bans, report.dropped), (0, 1));
    assert!(w.disk.records.is_empty());
}

#[test]
fn a_ban_whose_record_fails_is_503_and_not_in_force() {
    let mut w = world(1);
    w.login(0, "bob");
    w.disk.mode = common::StoreMode::Held;
    let id = w.admin_call(
        Post,
        &path("bans"),
        "",
        AUTH,
        r#"{"user_id":"bob","minutes":5}"#,
    );
    assert!(
        w.admin_reply(id).is_none(),
        "answered once the write commits"
    );
    w.fail_writes();
    let r = w.admin_reply(id).expect("answered");
    assert_eq!(failure(&r), (503, "not_stored".into()));
    assert_eq!(w.clients[0].connection_state(), S::Connected);
    let v = ok(&mut w, Get, "bans", "", "");
    assert_eq!(v["bans"], json!([]));
}

#[test]
fn bad_ban_requests_are_400() {
    let mut w = world(0);
    for body_text in [
        r#"{"minutes":5}"#,
        r#"{"user_id":"a","ip":"10.0.0.1","minutes":5}"#,
        r#"{"ip":"10.0.0.1","channel_name":"c","minutes":5}"#,
        r#"{"channel_name":"c","minutes":5}"#,
        r#"{"ip":"not an ip","minutes":5}"#,
        r#"{"user_id":"a","minutes":0}"#,
        r#"{"user_id":"a","minutes":43201}"#,
        r#"{"user_id":"a"}"#,
        r#"{"user_id":"a","minutes":-1}"#,
    ] {
        let r = call(&mut w, Post, "bans", "", body_text);
        assert_eq!(failure(&r), (400, "bad_request".into()), "{body_text}");
    }
    let long = json!({"user_id": "a", "minutes": 1, "reason": "x".repeat(257)}).to_string();
    assert_eq!(
        failure(&call(&mut w, Post, "bans", "", &long)),
        (400, "bad_request".into())
    );
    let r = call(
        &mut w,
        Post,
        "bans",
        "",
        r#"{"user_id":"null","minutes":5}"#,
    );
    assert_eq!(failure(&r), (400, "invalid_user_id".into()));
}

#[test]
fn past_the_rule_bound_bans_are_refused_full() {
    let mut w = world_with(
        0,
        AdminLimits {
            ban_rules: 2,
            ..AdminLimits::default()
        },
    );
    ban(&mut w, r#"{"user_id":"a","minutes":5}"#);
    ban(&mut w, r#"{"user_id":"b","minutes":5}"#);
    let r = call(&mut w, Post, "bans", "", r#"{"user_id":"c","minutes":5}"#);
    assert_eq!(failure(&r), (503, "full".into()));
}

#[test]
fn an_ip_ban_ends_the_sessions_from_that_address() {
    let mut w = world(2);
    w.login(0, "alice");
    w.login(1, "bob");
    // Client 1's address, written as an IPv4-mapped IPv6 address.
    let ip = match common::client_address(1) {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().to_string(),
        v6 => v6.to_string(),
    };
    ban(&mut w, &json!({"ip": ip, "minutes": 5}).to_string());
    assert_eq!(states(&mut w, 1), vec![(S::Aborted, R::BannedByServer)]);
    assert_eq!(w.clients[0].connection_state(), S::Connected);
    w.clients[1].logout(w.now).expect("logout");
    w.settle();
    // Any user from there is refused.
    assert_eq!(
        login_result(&mut w, 1, "carol"),
        Some(Err(LoginError::Rejected))
    );
}

#[test]
fn a_channel_ban_removes_the_user_from_the_channel() {
    let mut w = world(2);
    w.login(0, "alice");
    w.login(1, "bob");
    join(&mut w, 0, "lobby");
    join(&mut w, 1, "lobby");
    join(&mut w, 1, "other");
    w.take_events(0);
    w.take_events(1);
    ban(
        &mut w,
        r#"{"user_id":"bob","channel_name":"lobby","minutes":5}"#,
    );
    w.advance(1500);
    // (no count push: the coalesced count of bob's join was still to come, and is 1 again)
    assert_eq!(w.story(0, common::story::channel), vec!["-bob"]);
    let removed: Vec<Event> = w
        .take_events(1)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Channel {
                    event: ChannelEvent::Removed { .. },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        removed,
        vec![Event::Channel {
            channel: ch("lobby"),
            event: ChannelEvent::Removed {
                reason: RemovedReason::BannedByServer
            }
        }]
    );
    assert_eq!(w.clients[1].joined_channels(), vec![ch("other")]);
    assert_eq!(w.clients[1].connection_state(), S::Connected);
    assert_eq!(
        w.clients[1].leave(w.now, &ch("lobby")),
        Err(LeaveChannelError::Kicked)
    );
    let req = w.clients[1].join(w.now, &ch("lobby")).expect("sent");
    w.settle();
    assert_eq!(
        w.response(1, req),
        Some(Response::Join(Err(JoinChannelError::Rejected)))
    );
    // A reconnect that loses the session does not rejoin it.
    w.set_mode(1, LinkMode::Blackhole);
    w.advance(40_000);
    w.set_mode(1, LinkMode::Up);
    w.advance(20_000);
    assert_eq!(w.clients[1].connection_state(), S::Connected);
    let v = ok(&mut w, Get, "channels/lobby/members", "", "");
    assert_eq!(v["members"], json!(["alice"]));
    let v = ok(&mut w, Get, "channels/other/members", "", "");
    assert_eq!(v["members"], json!(["bob"]));
}

// ----- the client log window -----

#[test]
fn uploaded_log_lines_are_readable_and_frames_over_limits_close() {
    let mut w = world(0);
    let conn = raw_login(&mut w, "bob");
    say_raw(
        &mut w,
        conn,
        r#"{"type":"logs","lines":[{"ts":1,"level":"warn","text":"one"},{"ts":2,"level":"debug","text":"two"}]}"#,
    );
    let v = ok(&mut w, Get, "users/bob/logs", "", "");
    assert_eq!(
        v["lines"],
        json!([{"ts": 1, "level": "warn", "text": "one"}, {"ts": 2, "level": "debug", "text": "two"}])
    );
    let v = ok(&mut w, Get, "users/alice/logs", "", "");
    assert_eq!(v["lines"], json!([]));
    let long =
        json!({"type": "logs", "lines": [{"ts": 3, "level": "info", "text": "x".repeat(1025)}]});
    let out = w.raw_frame(conn, long.to_string().as_bytes());
    assert_eq!(common::close_code(&out), Some(close::PROTOCOL_ERROR));
    let conn = raw_login(&mut w, "carol");
    let line = json!({"ts": 3, "level": "info", "text": "x"});
    let many = json!({"type": "logs", "lines": vec![line; 51]});
    let out = w.raw_frame(conn, many.to_string().as_bytes());
    assert_eq!(common::close_code(&out), Some(close::PROTOCOL_ERROR));
    // Lines older than a day are no longer shown.
    w.advance(24 * 3600 * 1000 + 1);
    let v = ok(&mut w, Get, "users/bob/logs", "", "");
    assert_eq!(v["lines"], json!([]));
}

#[test]
fn every_answer_counts_by_status_class() {
    let mut w = world(0);
    ok(&mut w, Get, "bans", "", "");
    let _ = w.admin(Get, &path("bans"), "", WRONG, "");
    let m = w.server.metrics();
    let get = |class| {
        m.iter()
            .find(|s| s.name == "rest_calls" && s.labels == vec![("status", class)])
            .map(|s| s.value)
    };
    assert_eq!((get("2xx"), get("4xx")), (Some(1), Some(1)));
    assert!(w.admin_replies.is_empty());
}

#[test]
fn a_resume_of_a_banned_users_session_is_refused() {
    let mut w = world(0);
    let conn = w.raw_connect();
    let login = format!(r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"bob"}}"#);
    let out = w.raw_frame(conn, login.as_bytes());
    let sid = out
        .iter()
        .find_map(|o| match o {
            rtm_proto::server::ServerOutput::Send { frame, .. } => {
                let v: Value = serde_json::from_slice(frame).ok()?;
                v["session"].as_str().map(str::to_string)
            }
            _ => None,
        })
        .expect("login_ok");
    // The link dies before the ban: the client never hears its `kicked`.
    w.server
        .handle_input(w.now, rtm_proto::server::ServerInput::Closed(conn));
    ban(&mut w, r#"{"user_id":"bob","minutes":5}"#);
    let again = w.raw_connect();
    let resume = format!(
        r#"{{"type":"login","id":2,"version":1,"app_id":"{APP}","uid":"bob","resume":"{sid}"}}"#
    );
    let frames = say_raw(&mut w, again, &resume);
    assert!(
        frames
            .iter()
            .any(|f| f.contains(r#""code":2"#) && f.contains("banned by the server until")),
        "{frames:?}"
    );
    assert!(w
        .server_closes
        .iter()
        .any(|(c, code)| *c == again && *code == close::LOGIN_FAILED));
}

#[test]
fn a_client_with_log_upload_on_sends_its_lines_and_support_reads_them() {
    use rtm_proto::logs::LogLevel;
    let uploading = ClientConfig {
        log_upload: true,
        log_filter: Some(LogLevel::Debug),
        ..ClientConfig::default()
    };
    let mut w = World::with_config(2, config(), uploading);
    // Client 1 turns it off again: off is what Agora's SDK does by default.
    w.clients[1].set_log_upload(false);
    w.login(0, "alice");
    w.login(1, "bob");
    join(&mut w, 0, "room");
    let now = w.now;
    w.clients[0].log(now, LogLevel::Error, "the app's own line");
    w.clients[0].log(now, LogLevel::Debug, &"y".repeat(5000));
    w.advance(5_000); // a couple of heartbeats
    let v = ok(&mut w, Get, "users/alice/logs", "", "");
    let lines = v["lines"].as_array().unwrap();
    let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert!(
        texts.contains(&"connection state CONNECTED (LOGIN_SUCCESS)"),
        "{texts:?}"
    );
    assert!(texts.contains(&"the app's own line"), "{texts:?}");
    let long = texts.iter().find(|t| t.starts_with("yyy")).unwrap();
    assert_eq!(
        long.len(),
        rtm_proto::logs::MAX_LINE_BYTES,
        "cut, not refused"
    );
    let levels: Vec<&str> = lines.iter().map(|l| l["level"].as_str().unwrap()).collect();
    assert!(
        levels.contains(&"info") && levels.contains(&"error"),
        "{levels:?}"
    );
    // Each line once, oldest first.
    let ts: Vec<u64> = lines.iter().map(|l| l["ts"].as_u64().unwrap()).collect();
    assert!(ts.windows(2).all(|p| p[0] <= p[1]), "{ts:?}");
    let mut unique = texts.clone();
    unique.dedup();
    assert_eq!(unique.len(), texts.len(), "no line twice: {texts:?}");
    // Nothing from the client that has it off, and the session stayed up throughout.
    let v = ok(&mut w, Get, "users/bob/logs", "", "");
    assert_eq!(v["lines"], json!([]));
    assert_eq!(w.clients[0].connection_state(), S::Connected);

    // The filter: at `error` only errors are recorded.
    w.clients[0].set_log_filter(Some(LogLevel::Error));
    let now = w.now;
    w.clients[0].log(now, LogLevel::Info, "filtered out");
    w.clients[0].log(now, LogLevel::Error, "kept");
    w.advance(5_000);
    let v = ok(&mut w, Get, "users/alice/logs", "", "");
    let texts: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.last(), Some(&"kept"));
    assert!(!texts.contains(&"filtered out"));
}
