//! The operator's plane over real sockets: REST calls reach the core and come back as it
//! answers them (bodies bounded, keep-alive kept), and `/metrics` is Prometheus text whose
//! counters move as a scripted session runs. Servers run in-process on a free loopback
//! port and are stopped at the end; every wait is bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use hyper::{Method, StatusCode};
use rtm_proto::client::SendMessageOptions;
use rtm_proto::server::admin::MAX_BODY_BYTES;
use rtm_proto::{ClientConfig, Message, ServerConfig};
use rtm_transport_smol::{spawn_server, RtmClient, ServeOptions, ServerHandle};
use serde_json::Value;
use smol::net::TcpStream;

mod common;

use common::rest::{basic, failure, is_text, logged_in, next_event, within, Api, Http, APP, KEY};

/// A server in this process with `core` and the HTTP phase's timeout.
fn server(core: ServerConfig, timeout: Duration) -> ServerHandle {
    let mut options = ServeOptions::from(core);
    options.handshake_timeout = timeout;
    spawn_server("127.0.0.1:0", options).expect("a server")
}

/// Writes `request` as is on a fresh connection (ignoring write errors: the server may stop
/// reading) and reads what comes back until the server closes.
async fn raw(addr: SocketAddr, request: Vec<u8>) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut writer = stream.clone();
    let writing = smol::spawn(async move {
        let _ = writer.write_all(&request).await;
    });
    let mut received = Vec::new();
    within("the server to answer and close", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    drop(writing);
    String::from_utf8_lossy(&received).into_owned()
}

const SEND_PEER: &str =
    "/v1/project/00000000000000000000000000000000/rtm/users/alice/peer_messages";

#[test]
fn rest_bodies_are_bounded_by_the_driver() {
    let server = server(ServerConfig::default(), Duration::from_secs(5));
    let addr = server.local_addr();
    smol::block_on(async {
        // Announced too large: 413 at once, nothing read, the connection closed.
        let head = format!(
            "POST {SEND_PEER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        let answer = raw(addr, head.into_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(answer.contains(r#""code":"too_large""#), "{answer}");
        assert!(answer.contains(r#""result":"failed""#), "{answer}");

        // Chunked, found too large while reading: 413 as well.
        let mut chunked =
            format!("POST {SEND_PEER} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                .into_bytes();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..(MAX_BODY_BYTES / chunk.len() + 2) {
            chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            chunked.extend_from_slice(&chunk);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let answer = raw(addr, chunked).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains(r#""code":"too_large""#), "{answer}");

        // Exactly at the bound: the core gets it and answers (JSON, never cached).
        let mut http = Http::connect(addr).await;
        let reply = http
            .send(Method::POST, SEND_PEER, &[], vec![b' '; MAX_BODY_BYTES])
            .await;
        assert_ne!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.json()["result"], "failed", "no key configured");
    });
    server.shutdown().expect("stopped");
}

#[test]
fn a_busy_rest_connection_outlives_the_idle_timeout() {
    let timeout = Duration::from_millis(400);
    let server = server(ServerConfig::default(), timeout);
    smol::block_on(async {
        let mut http = Http::connect(server.local_addr()).await;
        // Requests for three times the timeout on one connection, never idle that long.
        for _ in 0..12 {
            let reply = http.get("/v1/project/x/rtm/bans").await;
            assert_eq!(reply.header("content-type"), "application/json");
            smol::Timer::after(timeout / 4).await;
        }
        // Idle: closed once the timeout has passed.
        assert!(
            http.closed_within(timeout * 4).await,
            "an idle connection is closed"
        );
    });
    server.shutdown().expect("stopped");
}

/// The samples of a Prometheus text page (`name{labels}` → value), after checking its shape:
/// every sample under a `# TYPE` of its family, each family typed once.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                matches!(kind, "counter" | "gauge" | "histogram"),
                "type of {name}: {kind}"
            );
            let earlier = types.insert(name.to_string(), kind.to_string());
            assert!(earlier.is_none(), "{name} typed twice");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let name = series.split('{').next().unwrap_or(series);
        assert!(
            name.starts_with("rtm_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "name {name:?}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE before it");
        if types[family] == "counter" {
            assert!(name.ends_with("_total"), "counter {name} ends in _total");
        }
        samples.insert(series.to_string(), value);
    }
    samples
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let mut http = Http::connect(addr).await;
    let reply = http.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.header("content-type")
    );
    parse_metrics(std::str::from_utf8(&reply.body).expect("UTF-8"))
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[test]
fn metrics_are_prometheus_text_and_move_as_a_session_runs() {
    let server = server(ServerConfig::default(), Duration::from_secs(5));
    let addr = server.local_addr();
    let url = server.url();
    smol::block_on(async {
        let before = scrape(addr).await;
        for name in [
            "rtm_accepted_connections_total",
            "rtm_websocket_upgrades_total",
            "rtm_slow_consumer_closes_total",
            "rtm_outbound_queue_bytes",
            "rtm_storage_commits_total",
            "rtm_storage_commit_seconds_count",
            "rtm_connections",
            "rtm_sessions",
        ] {
            assert!(before.contains_key(name), "{name} in {before:#?}");
        }
        assert_eq!(value(&before, "rtm_sessions"), 0.0);

        let alice = RtmClient::new(&url, ClientConfig::default()).expect("alice");
        let bob = RtmClient::new(&url, ClientConfig::default()).expect("bob");
        within("alice's login", alice.login("alice", None))
            .await
            .expect("alice logged in");
        within("bob's login", bob.login("bob", None))
            .await
            .expect("bob logged in");
        within(
            "a peer message",
            alice.send_message_to_peer("bob", Message::text("hi"), SendMessageOptions::default()),
        )
        .await
        .expect("sent");

        let during = scrape(addr).await;
        assert_eq!(value(&during, "rtm_sessions"), 2.0);
        assert_eq!(value(&during, "rtm_connections"), 2.0);
        let upgrades = value(&during, "rtm_websocket_upgrades_total")
            - value(&before, "rtm_websocket_upgrades_total");
        assert_eq!(upgrades, 2.0);
        let switched = r#"rtm_http_requests_total{route="websocket",status="1xx"}"#;
        assert_eq!(value(&during, switched) - value(&before, switched), 2.0);
        // Two scrapes and two WebSockets, at least.
        assert!(
            value(&during, "rtm_accepted_connections_total")
                - value(&before, "rtm_accepted_connections_total")
                >= 3.0
        );
        let scrapes = r#"rtm_http_requests_total{route="metrics",status="2xx"}"#;
        assert!(value(&during, scrapes) >= 1.0);

        within("alice's logout", alice.logout()).await.expect("out");
        within("bob's logout", bob.logout()).await.expect("out");
        drop((alice, bob));
        let after = within("the sessions to end", async {
            loop {
                let after = scrape(addr).await;
                if value(&after, "rtm_sessions") == 0.0 {
                    break after;
                }
                smol::Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert_eq!(value(&after, "rtm_outbound_queue_frames"), 0.0);

        // Only GET and HEAD.
        let mut http = Http::connect(addr).await;
        let head = http.send(Method::HEAD, "/metrics", &[], Vec::new()).await;
        assert_eq!(head.status, StatusCode::OK);
        assert!(head.body.is_empty());
        let post = http.send(Method::POST, "/metrics", &[], Vec::new()).await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    });
    server.shutdown().expect("stopped");
}

// ---- The REST API end to end, answered by the core ----

/// A server with the admin key [`KEY`] and `tweak`ed limits.
fn api_server(tweak: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut core = ServerConfig {
        admin_keys: vec![rtm_proto::server::admin::AdminKey {
            id: KEY.0.into(),
            secret: KEY.1.into(),
        }],
        ..ServerConfig::default()
    };
    tweak(&mut core);
    server(core, Duration::from_secs(5))
}

#[test]
fn the_rest_api_answers_as_documented() {
    use rtm_proto::client::ChannelEvent;
    use rtm_proto::Event;

    let server = api_server(|core| core.admin.event_pulls_per_sec = 5);
    let addr = server.local_addr();
    let url = server.url();
    let bob = logged_in(&url, "bob");
    let bob_events = bob.events();
    let lobby = bob.create_channel("lobby").expect("a channel");
    smol::block_on(async {
        within("bob's join", lobby.join()).await.expect("joined");
        let mut api = Api::connect(addr).await;

        // Keys: none, a wrong one; then paths, methods and apps the API does not have.
        let mut anonymous = Http::connect(addr).await;
        let path = format!("/v1/project/{APP}/rtm/bans");
        let reply = anonymous.get(&path).await;
        assert_eq!(failure(&reply), (401, "unauthorized".into()));
        assert_eq!(reply.header("www-authenticate"), "Basic realm=\"rtm\"");
        let wrong = basic(KEY.0, "guess");
        let reply = anonymous
            .send(Method::GET, &path, &[("authorization", &wrong)], Vec::new())
            .await;
        assert_eq!(failure(&reply), (401, "unauthorized".into()));
        let auth = api.auth.clone();
        let reply = anonymous
            .send(
                Method::GET,
                "/v1/project/ffffffffffffffffffffffffffffffff/rtm/bans",
                &[("authorization", &auth)],
                Vec::new(),
            )
            .await;
        assert_eq!(failure(&reply), (404, "unknown_app".into()));
        let reply = api.call(Method::GET, "/nothing/here", None).await;
        assert_eq!(failure(&reply).0, 404);
        let reply = api.call(Method::PATCH, "/bans", None).await;
        assert_eq!(failure(&reply).0, 405);

        // Peer messages: delivered to bob (who acknowledges), sent, kept offline, or not.
        let reply = api
            .post(
                "/users/alice/peer_messages?wait_for_ack=true",
                serde_json::json!({"destination": "bob", "payload": "hello"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json()["code"],
            "message_delivered",
            "{}",
            reply.json()
        );
        next_event(&bob_events, "alice's message", |e| match e {
            Event::MessageFromPeer {
                peer_id, message, ..
            } if peer_id.as_str() == "alice" && is_text(message, "hello") => Some(()),
            _ => None,
        })
        .await;
        let reply = api
            .post(
                "/users/alice/peer_messages",
                serde_json::json!({"destination": "bob", "payload": "again"}),
            )
            .await;
        assert_eq!(reply.json()["code"], "message_sent");
        let reply = api
            .post(
                "/users/alice/peer_messages",
                serde_json::json!({"destination": "carol", "payload": "later"}),
            )
            .await;
        assert_eq!(reply.json()["code"], "peer_offline");
        assert_eq!(reply.json()["cached"], false);
        let reply = api
            .post(
                "/users/alice/peer_messages?wait_for_ack=true",
                serde_json::json!({"destination": "carol", "payload": "kept",
                                   "enable_offline_messaging": true}),
            )
            .await;
        assert_eq!(reply.json()["code"], "peer_offline");
        assert_eq!(reply.json()["cached"], true);

        // Bad bodies and out-of-limit values: 400 with a code saying what.
        let reply = api
            .call(
                Method::POST,
                "/users/alice/peer_messages",
                Some(Value::String("not an object".into())),
            )
            .await;
        assert_eq!(failure(&reply).0, 400);
        let reply = api
            .post(
                "/users/alice/peer_messages",
                serde_json::json!({"destination": "bob"}),
            )
            .await;
        assert_eq!(failure(&reply).0, 400);
        let reply = api
            .post(
                "/users/alice/peer_messages",
                serde_json::json!({"destination": "bob", "payload": "x".repeat(33 * 1024)}),
            )
            .await;
        assert_eq!(failure(&reply), (400, "invalid_payload".into()));
        let reply = api
            .post(
                "/users/null/peer_messages",
                serde_json::json!({"destination": "bob", "payload": "hi"}),
            )
            .await;
        assert_eq!(failure(&reply), (400, "invalid_user_id".into()));

        // A channel message as alice, who never joined.
        let reply = api
            .post(
                "/users/alice/channel_messages",
                serde_json::json!({"channel_name": "lobby", "payload": "hi all"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
        next_event(&bob_events, "alice's channel message", |e| match e {
            Event::Channel {
                event:
                    ChannelEvent::Message {
                        member_id, message, ..
                    },
                ..
            } if member_id.as_str() == "alice" && is_text(message, "hi all") => Some(()),
            _ => None,
        })
        .await;

        // Presence and members.
        let reply = api
            .post(
                "/users/online_status",
                serde_json::json!({"user_ids": ["bob", "carol"]}),
            )
            .await;
        assert_eq!(
            reply.json()["online"],
            serde_json::json!({"bob": true, "carol": false})
        );
        let many: Vec<String> = (0..257).map(|i| format!("u{i}")).collect();
        let reply = api
            .post(
                "/users/online_status",
                serde_json::json!({ "user_ids": many }),
            )
            .await;
        assert_eq!(failure(&reply), (400, "too_many_users".into()));
        assert_eq!(
            api.get("/channels/lobby/member_count").await["member_count"],
            1
        );
        let members = api.get("/channels/lobby/members?limit=10").await;
        assert_eq!(members["members"], serde_json::json!(["bob"]));
        assert_eq!(members["sampled"], false);

        // Attributes: bob's, read; the channel's, written (bob hears of it) and read.
        within(
            "bob's attributes",
            bob.set_local_user_attributes([("mood".to_string(), "busy".to_string())].into()),
        )
        .await
        .expect("set");
        let attrs = api.get("/users/bob/attributes").await;
        assert_eq!(attrs["attributes"], serde_json::json!({"mood": "busy"}));
        let reply = api
            .call(
                Method::PUT,
                "/channels/lobby/attributes",
                Some(serde_json::json!({"attributes": {"topic": "rust"},
                                        "enable_notification_to_channel_members": true})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
        next_event(&bob_events, "the channel's attributes", |e| match e {
            Event::Channel {
                event: ChannelEvent::AttributesUpdated { .. },
                ..
            } => Some(()),
            _ => None,
        })
        .await;
        let reply = api
            .call(
                Method::PATCH,
                "/channels/lobby/attributes",
                Some(serde_json::json!({"attributes": {"lang": "en"}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
        let reply = api
            .call(Method::DELETE, "/channels/lobby/attributes?keys=lang", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
        let attrs = api.get("/channels/lobby/attributes").await["attributes"].clone();
        let attrs = attrs.as_array().expect("a list");
        assert_eq!(attrs.len(), 1, "{attrs:?}");
        assert_eq!(
            (&attrs[0]["key"], &attrs[0]["value"]),
            (&"topic".into(), &"rust".into())
        );

        // Events: bob's login and join are there; a chained pull sees exactly what came next.
        let page = api.get("/vendor/user_events").await;
        let logins: Vec<&Value> = page["events"].as_array().expect("events").iter().collect();
        assert!(
            logins
                .iter()
                .any(|e| e["user_id"] == "bob" && e["type"] == "Login"),
            "{page}"
        );
        let cursor = page["next_cursor"].as_u64().expect("a cursor");
        let joins = api.get("/vendor/channel_events").await;
        assert!(
            joins["events"]
                .as_array()
                .expect("events")
                .iter()
                .any(|e| e["channel_id"] == "lobby"
                    && e["user_id"] == "bob"
                    && e["type"] == "Join"),
            "{joins}"
        );
        let carol = logged_in(&url, "carol");
        within("carol's logout", carol.logout()).await.expect("out");
        let page = within("carol's events", async {
            loop {
                let page = api
                    .get(&format!("/vendor/user_events?cursor={cursor}"))
                    .await;
                if page["events"].as_array().is_some_and(|e| e.len() >= 2) {
                    break page;
                }
                smol::Timer::after(Duration::from_millis(250)).await;
            }
        })
        .await;
        let seen: Vec<(String, String)> = page["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| (e["user_id"].to_string(), e["type"].to_string()))
            .collect();
        assert_eq!(
            seen,
            [
                ("\"carol\"".to_string(), "\"Login\"".to_string()),
                ("\"carol\"".to_string(), "\"Logout\"".to_string())
            ]
        );
        assert_eq!(page["lost"], 0);

        // What bob's SDK uploaded (nothing: it does not upload).
        assert!(api.get("/users/bob/logs").await["lines"].is_array());

        // Event pulls past the key's rate (5/s here): 429 with Retry-After.
        let mut limited = None;
        for _ in 0..20 {
            let reply = api.call(Method::GET, "/vendor/user_events", None).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(reply);
                break;
            }
        }
        let limited = limited.expect("a 429 within 20 pulls");
        assert_eq!(failure(&limited), (429, "too_many_requests".into()));
        assert!(limited
            .header("retry-after")
            .parse::<u32>()
            .is_ok_and(|s| s >= 1));
    });
    drop(bob);
    server.shutdown().expect("stopped");
}

#[test]
fn without_an_admin_key_the_api_is_off() {
    let server = server(ServerConfig::default(), Duration::from_secs(5));
    smol::block_on(async {
        let mut api = Api::connect(server.local_addr()).await;
        let reply = api.call(Method::GET, "/bans", None).await;
        assert_eq!(failure(&reply), (404, "api_disabled".into()));
    });
    server.shutdown().expect("stopped");
}

// ---- `rtm admin`, run as a process ----

/// `rtm-server` on a free loopback port with the admin key and `extra` flags; its address.
fn rtm_server(extra: &[&str]) -> (common::Proc, String) {
    let key = format!("{}:{}", KEY.0, KEY.1);
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--log",
        "info",
        "--storage",
        "memory",
        "--admin-key",
        &key,
    ];
    args.extend_from_slice(extra);
    let proc = common::Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false);
    let addr = proc.wait_for("the listening address", |line| {
        let i = line.find("listening on ")?;
        let url = line[i + "listening on ".len()..]
            .split_whitespace()
            .next()?;
        Some(url.split("://").nth(1)?.to_string())
    });
    (proc, addr)
}

/// Runs `rtm [before...] admin ARGS` to its end: exit success, stdout's JSON lines, stderr.
fn rtm_admin(before: &[&str], args: &[&str], key: Option<&str>) -> (bool, Vec<Value>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rtm"));
    cmd.args(before).arg("admin").args(args);
    cmd.env_remove("RTM_ADMIN_KEY").env_remove("RTM_ADMIN_URL");
    if let Some(key) = key {
        cmd.env("RTM_ADMIN_KEY", key);
    }
    let out = cmd.output().expect("run rtm admin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l:?}")))
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rtm_admin_drives_the_api_from_the_command_line() {
    let (_server, addr) = rtm_server(&[]);
    let url = format!("http://{addr}");
    let key = format!("{}:{}", KEY.0, KEY.1);
    let admin = |args: &[&str]| {
        let mut full = vec!["--url", url.as_str()];
        full.extend_from_slice(args);
        let (ok, lines, stderr) = rtm_admin(&[], &full, Some(&key));
        assert!(ok, "rtm admin {args:?} failed: {stderr}");
        assert_eq!(lines.len(), 1, "one JSON answer: {lines:?}");
        lines.into_iter().next().expect("a line")
    };

    let sent = admin(&[
        "send-peer",
        "--from",
        "alice",
        "--to",
        "bob",
        "--offline",
        "hi",
    ]);
    assert_eq!(sent["code"], "message_sent", "{sent}");
    let online = admin(&["online", "alice", "bob"]);
    assert_eq!(
        online["online"],
        serde_json::json!({"alice": false, "bob": false})
    );
    assert_eq!(admin(&["count", "lobby"])["member_count"], 0);
    assert_eq!(
        admin(&["members", "lobby", "--limit", "5"])["members"],
        serde_json::json!([])
    );
    admin(&["set-channel-attrs", "lobby", "topic=rust", "lang=en"]);
    let attrs = admin(&["channel-attrs", "lobby", "topic"]);
    assert_eq!(attrs["attributes"][0]["value"], "rust", "{attrs}");
    assert!(admin(&["events", "users"])["events"].is_array());
    assert!(admin(&["user-attrs", "bob"])["attributes"].is_object());
    assert!(admin(&["logs", "bob"])["lines"].is_array());

    let rule = admin(&[
        "ban",
        "--user",
        "mallory",
        "--minutes",
        "5",
        "--reason",
        "spam",
    ]);
    let id = rule["ban"]["id"].as_str().expect("an id").to_string();
    assert_eq!(admin(&["bans"])["bans"][0]["id"], id.as_str());
    admin(&["unban", &id]);
    assert_eq!(admin(&["bans"])["bans"], serde_json::json!([]));

    // `events --follow`: one line per event as they come.
    let follow = common::Proc::spawn(
        "rtm admin events --follow",
        env!("CARGO_BIN_EXE_rtm"),
        &[
            "admin", "--url", &url, "--key", &key, "events", "users", "--follow",
        ],
        true,
    );
    let dave = logged_in(&format!("ws://{addr}"), "dave");
    follow.wait_for("dave's Login", |line| {
        let event: Value = serde_json::from_str(line).ok()?;
        (event["user_id"] == "dave" && event["type"] == "Login").then_some(())
    });
    drop((dave, follow));

    // Failures: the server's code and message on stderr, exit 1.
    let (ok, lines, stderr) = rtm_admin(&[], &["--url", &url, "bans"], Some("ops:wrong"));
    assert!(!ok && lines.is_empty());
    assert!(stderr.contains("401 unauthorized"), "{stderr}");
    let (ok, _, stderr) = rtm_admin(&[], &["--url", &url, "unban", "999999"], Some(&key));
    assert!(!ok);
    assert!(stderr.contains("404 not_found"), "{stderr}");
}

#[test]
fn rtm_admin_speaks_https_with_a_ca_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let cert = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert, made.cert.pem()).expect("cert.pem");
    std::fs::write(&key_file, made.signing_key.serialize_pem()).expect("key.pem");
    let (cert, key_file) = (cert.to_str().unwrap(), key_file.to_str().unwrap());
    let (_server, addr) = rtm_server(&["--tls-cert", cert, "--tls-key", key_file]);
    let url = format!("https://{addr}");
    let key = format!("{}:{}", KEY.0, KEY.1);

    let (ok, lines, stderr) = rtm_admin(&["--ca-file", cert], &["--url", &url, "bans"], Some(&key));
    assert!(ok, "{stderr}");
    assert_eq!(lines[0]["bans"], serde_json::json!([]));
    // Without the CA file the certificate is not trusted: a failure saying so.
    let (ok, _, stderr) = rtm_admin(&[], &["--url", &url, "bans"], Some(&key));
    assert!(!ok);
    assert!(stderr.contains("TLS"), "{stderr}");
}
