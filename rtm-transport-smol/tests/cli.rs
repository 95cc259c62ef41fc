//! Smoke test of the binaries, the way a person would try them: start `rtm-server`, have Bob
//! `rtm listen`, have Alice `rtm send-peer bob hello`; Bob prints the message, Alice prints
//! that Bob received it. Then the same in certificate mode with tokens from `rtm token`.
//! Rooms: Bob `rtm join`s, Alice `rtm send-channel`s, others set and read attributes with
//! `rtm attrs`. Calls: Bob `rtm answer`s what Alice `rtm call`s.
//! Every wait is bounded; every process is killed at the end.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::Proc;

/// What only these stories read: the `rtm` CLI's JSON lines.
impl Proc {
    /// The JSON lines printed until (and including) the first that `last` accepts, within
    /// [`WAIT`].
    fn json_until(&self, what: &str, mut last: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut lines = Vec::new();
        self.wait_for(what, |line| {
            let v = json(line)?;
            lines.push(v.clone());
            last(&v).then_some(())
        });
        lines
    }

    /// The JSON lines already printed and not yet read.
    fn drain_json(&self) -> Vec<Value> {
        std::iter::from_fn(|| self.lines.try_recv().ok())
            .filter_map(|l| json(&l))
            .collect()
    }

    /// Reads JSON lines until the event named `event` (included), within [`WAIT`].
    fn until_event(&self, event: &str) -> Vec<Value> {
        self.json_until(event, |v| v["event"] == event)
    }

    /// Waits until the client printed that it is CONNECTED (logged in), within [`WAIT`].
    fn wait_connected(&self) {
        self.wait_for("CONNECTED", |l| json(l).filter(connected));
    }

    /// Waits for the exit, then adds the JSON lines it printed last to `lines`: results and
    /// events race to stdout, so a story reads to the end before it checks their order.
    fn exit_and_read_rest(&mut self, lines: &mut Vec<Value>) -> std::process::ExitStatus {
        let status = self.exit_status();
        std::thread::sleep(Duration::from_millis(100));
        lines.extend(self.drain_json());
        status
    }
}

fn rtm_server(extra: &[&str]) -> (Proc, String) {
    // Memory storage: these stories are not about restarts, and write no database.
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--log",
        "info",
        "--storage",
        "memory",
    ];
    args.extend_from_slice(extra);
    let server = Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false);
    let url = server.listening_url();
    (server, url)
}

fn json(line: &str) -> Option<Value> {
    serde_json::from_str(line).ok()
}

/// Runs `rtm` to completion (bounded by the test harness; the CLI bounds its own waits).
fn rtm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtm"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("run rtm")
}

fn stdout_json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "rtm printed no JSON ({e}): stdout {text:?}, stderr {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn listen_and_send(url: &str, listener_args: &[&str], sender_args: &[&str]) {
    let mut args = vec!["--server", url];
    args.extend_from_slice(listener_args);
    args.push("listen");
    let mut bob = Proc::spawn("rtm listen", env!("CARGO_BIN_EXE_rtm"), &args, true);
    bob.wait_connected();

    let mut args = vec!["--server", url];
    args.extend_from_slice(sender_args);
    args.extend_from_slice(&["send-peer", "bob", "hello"]);
    let sent = rtm(&args);
    let result = stdout_json(&sent);
    assert!(sent.status.success(), "send-peer failed: {result}");
    assert_eq!(result["outcome"], "received", "{result}");
    assert_eq!(result["peer_id"], "bob");
    assert_eq!(result["code"], 0);

    let message = bob.wait_for("the message from alice", |line| {
        let v = json(line)?;
        (v["event"] == "MessageFromPeer").then_some(v)
    });
    assert_eq!(message["peer_id"], "alice");
    assert_eq!(message["text"], "hello");
    assert_eq!(message["is_offline_message"], false);
    assert!(message["server_received_ts"]
        .as_u64()
        .is_some_and(|ts| ts > 0));

    // Ctrl-C: the listener logs out and exits cleanly.
    let status = bob.signal_and_wait("INT");
    assert!(status.success(), "rtm listen exited with {status}");
}

#[test]
fn listen_prints_what_send_peer_sends() {
    let (mut server, url) = rtm_server(&[]);
    listen_and_send(&url, &["--uid", "bob"], &["--uid", "alice"]);

    // Nobody listens as carol: the message is unreachable, or cached with --offline.
    let out = rtm_as(&url, "alice", &["send-peer", "carol", "hi"]);
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["outcome"], "unreachable");
    let out = rtm_as(&url, "alice", &["send-peer", "carol", "hi", "--offline"]);
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["outcome"], "cached");

    // An error carries its numeric code and a non-zero exit.
    let out = rtm_as(&url, "alice", &["send-peer", "alice", "me"]);
    assert!(!out.status.success());
    assert_eq!(stdout_json(&out)["code"], 6); // INVALID_USERID

    // Graceful shutdown on SIGTERM.
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "rtm-server exited with {status}");
}

#[test]
fn certificate_mode_with_tokens_from_rtm_token() {
    const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
    const APP_CERT: &str = "5CFd2fd1755d40ecb72977518be15d3b";
    let (_server, url) = rtm_server(&["--app-id", APP_ID, "--app-cert", APP_CERT]);
    let token = |uid: &str| {
        let out = rtm(&[
            "token",
            "--app-id",
            APP_ID,
            "--app-cert",
            APP_CERT,
            "--uid",
            uid,
        ]);
        assert!(out.status.success(), "rtm token failed: {out:?}");
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .trim()
            .to_string()
    };
    let (bob_token, alice_token) = (token("bob"), token("alice"));
    assert!(bob_token.starts_with("007"));

    // Without a token the login is refused with INVALID_TOKEN (5).
    let out = rtm(&[
        "--server",
        &url,
        "--app-id",
        APP_ID,
        "--uid",
        "alice",
        "send-peer",
        "bob",
        "x",
    ]);
    assert!(!out.status.success());
    assert_eq!(stdout_json(&out)["code"], 5);

    listen_and_send(
        &url,
        &["--app-id", APP_ID, "--uid", "bob", "--token", &bob_token],
        &[
            "--app-id",
            APP_ID,
            "--uid",
            "alice",
            "--token",
            &alice_token,
        ],
    );
}

#[test]
fn rtm_server_runs_with_no_flags() {
    // The default address may be taken on a shared machine; only check that the server
    // announces it (or says why it cannot listen) and stops on SIGTERM. Its data directory
    // is ./rtm-data: run it in a scratch directory, not in the repository.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let mut server = Proc::spawn_in(
        "rtm-server",
        env!("CARGO_BIN_EXE_rtm-server"),
        &[],
        false,
        Some(scratch.path()),
    );
    let line = server.wait_for("startup", |line| {
        (line.contains("listening on") || line.contains("failed")).then(|| line.to_string())
    });
    if line.contains("listening on") {
        assert!(line.contains("ws://127.0.0.1:9300"), "{line}");
        assert!(line.contains("app-id-only mode"), "{line}");
        let status = server.signal_and_wait("TERM");
        assert!(status.success());
        assert!(
            scratch.path().join("rtm-data/rtm.db").is_file(),
            "no database in ./rtm-data"
        );
    }
}

/// `rtm` with `args` after `--server URL --uid UID`, its stdout read line by line.
fn rtm_proc(name: &'static str, url: &str, uid: &str, args: &[&str]) -> Proc {
    let mut all = vec!["--server", url, "--uid", uid];
    all.extend_from_slice(args);
    Proc::spawn(name, env!("CARGO_BIN_EXE_rtm"), &all, true)
}

/// Runs `rtm --server URL --uid UID args...` to completion.
fn rtm_as(url: &str, uid: &str, args: &[&str]) -> Output {
    let mut all = vec!["--server", url, "--uid", uid];
    all.extend_from_slice(args);
    rtm(&all)
}

/// The first of `lines` whose `key` is `value` (a call's result or an event); fails the test
/// if none is.
fn line<'a>(lines: &'a [Value], key: &str, value: &str) -> &'a Value {
    lines
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no line with {key} {value:?} in {lines:?}"))
}

fn connected(v: &Value) -> bool {
    v["event"] == "ConnectionStateChanged" && v["state"] == "CONNECTED"
}

/// The `event` names in `lines`, without member counts (they are coalesced by time).
fn event_names(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|v| v["event"].as_str())
        .filter(|e| *e != "MemberCountUpdated" && *e != "ConnectionStateChanged")
        .map(str::to_string)
        .collect()
}

#[test]
fn call_and_answer() {
    let (_server, url) = rtm_server(&[]);

    // Bob accepts with a response; Alice's call is accepted.
    let mut bob = rtm_proc(
        "rtm answer",
        &url,
        "bob",
        &["answer", "--accept", "--response", "sure"],
    );
    bob.wait_connected();
    let mut alice = rtm_proc(
        "rtm call",
        &url,
        "alice",
        &[
            "call",
            "bob",
            "--content",
            "video?",
            "--channel-id",
            "room-1",
        ],
    );
    let mut caller = alice.until_event("LocalInvitationAccepted");
    // The send's result line and the events race to stdout: read to the end.
    let status = alice.exit_and_read_rest(&mut caller);
    assert!(status.success(), "accepted: exit 0");
    let sent = line(&caller, "op", "send_local_invitation");
    assert_eq!(sent["code"], 0, "{sent}");
    assert_eq!(sent["callee_id"], "bob");
    let invitation = sent["invitation"].as_u64().expect("an invitation number");
    assert_eq!(
        event_names(&caller),
        ["LocalInvitationReceivedByPeer", "LocalInvitationAccepted"]
    );
    let accepted = line(&caller, "event", "LocalInvitationAccepted");
    assert_eq!(accepted["response"], "sure");
    assert_eq!(accepted["invitation"], invitation);
    assert_eq!(accepted["callee_id"], "bob");

    let mut callee = bob.until_event("RemoteInvitationAccepted");
    let status = bob.exit_and_read_rest(&mut callee);
    assert!(status.success(), "the answer took effect: exit 0");
    assert_eq!(
        event_names(&callee),
        ["RemoteInvitationReceived", "RemoteInvitationAccepted"]
    );
    let received = line(&callee, "event", "RemoteInvitationReceived");
    assert_eq!(received["caller_id"], "alice");
    assert_eq!(received["content"], "video?");
    assert_eq!(received["channel_id"], "room-1");
    assert_eq!(received["invitation"], invitation);
    let answered = line(&callee, "op", "accept_remote_invitation");
    assert_eq!(answered["code"], 0);

    // Bob refuses: Alice's call exits 3 with Bob's response.
    let mut bob = rtm_proc(
        "rtm answer",
        &url,
        "bob",
        &["answer", "--refuse", "--response", "busy"],
    );
    bob.wait_connected();
    let mut alice = rtm_proc("rtm call", &url, "alice", &["call", "bob"]);
    let caller = alice.until_event("LocalInvitationRefused");
    assert_eq!(caller.last().expect("a line")["response"], "busy");
    assert_eq!(alice.exit_status().code(), Some(3));
    bob.until_event("RemoteInvitationRefused");
    assert!(bob.exit_status().success());

    // Nobody answers Carol's `rtm listen`: Ctrl-C cancels the call, which exits 4; the
    // listener sees it ring, then the cancel.
    let mut carol = rtm_proc("rtm listen", &url, "carol", &["listen"]);
    carol.wait_connected();
    let mut alice = rtm_proc(
        "rtm call",
        &url,
        "alice",
        &["call", "carol", "--content", "hello?"],
    );
    alice.until_event("LocalInvitationReceivedByPeer");
    let status = alice.signal_and_wait("INT");
    assert_eq!(status.code(), Some(4), "canceled: exit 4");
    let listener = carol.until_event("RemoteInvitationCanceled");
    assert_eq!(
        event_names(&listener),
        ["RemoteInvitationReceived", "RemoteInvitationCanceled"]
    );
    assert_eq!(listener.last().expect("a line")["content"], "hello?");
    assert!(carol.signal_and_wait("INT").success());

    // A call to someone who cannot be called fails at once with the API error's code.
    let out = rtm_as(&url, "alice", &["call", "no/slash"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .lines()
        .filter_map(json)
        .find(|v| v.get("op").is_some())
        .unwrap_or_else(|| panic!("no result line in {text:?}"));
    assert_eq!(v["op"], "create_local_invitation");
    assert_eq!(v["code"], 1); // INVALID_ARGUMENT
}

#[test]
fn join_send_channel_and_attrs() {
    let (_server, url) = rtm_server(&[]);
    let mut bob = rtm_proc("rtm join", &url, "bob", &["join", "room"]);
    let joined = bob.json_until("the join result", |v| v["op"] == "join");
    assert_eq!(joined.last().expect("a line")["code"], 0);

    // Alice joins, sends, leaves: Bob sees all three.
    let out = rtm_as(&url, "alice", &["send-channel", "room", "hi all"]);
    let result = stdout_json(&out);
    assert!(out.status.success(), "send-channel failed: {result}");
    assert_eq!(result["op"], "send_channel_message");
    assert_eq!(result["code"], 0);
    assert_eq!(result["channel_id"], "room");
    let seen = bob.json_until("alice leaving", |v| v["event"] == "MemberLeft");
    assert_eq!(
        event_names(&seen),
        ["MemberJoined", "ChannelMessage", "MemberLeft"]
    );
    let message = line(&seen, "event", "ChannelMessage");
    assert_eq!(message["member_id"], "alice");
    assert_eq!(message["channel_id"], "room");
    assert_eq!(message["text"], "hi all");
    assert!(message["server_received_ts"]
        .as_u64()
        .is_some_and(|ts| ts > 0));

    // `join --say`: Carol says hello once joined.
    let mut carol = rtm_proc(
        "rtm join --say",
        &url,
        "carol",
        &["join", "room", "--say", "hello"],
    );
    let said = carol.json_until("the send result", |v| v["op"] == "send_channel_message");
    assert_eq!(said.last().expect("a line")["code"], 0);
    let seen = bob.json_until("carol's message", |v| v["event"] == "ChannelMessage");
    assert_eq!(event_names(&seen), ["MemberJoined", "ChannelMessage"]);
    assert_eq!(seen.last().expect("a line")["text"], "hello");

    // Channel attributes from someone outside the room, with notification.
    let out = rtm_as(
        &url,
        "dave",
        &["attrs", "channel", "room", "set", "topic=rust", "--notify"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_json(&out)["op"], "set_channel_attributes");
    let update = bob.until_event("AttributesUpdated");
    let update = update.last().expect("a line");
    assert_eq!(update["attributes"]["topic"]["value"], "rust");
    assert_eq!(update["attributes"]["topic"]["last_update_user_id"], "dave");
    let out = rtm_as(&url, "dave", &["attrs", "channel", "room", "get"]);
    assert!(out.status.success(), "{out:?}");
    let got = stdout_json(&out);
    assert_eq!(got["op"], "get_channel_attributes");
    assert_eq!(got["attributes"]["topic"]["value"], "rust");
    let out = rtm_as(&url, "dave", &["attrs", "channel", "room", "set", "k="]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], 3); // INVALID_ARGUMENT: empty value

    // User attributes live as long as Erin's session: `set` holds it until Ctrl-C.
    let mut erin = rtm_proc(
        "rtm attrs user set",
        &url,
        "erin",
        &["attrs", "user", "set", "mood=happy"],
    );
    let set = erin.json_until("the set result", |v| v.get("op").is_some());
    let set = set.last().expect("a line");
    assert_eq!(set["op"], "set_local_user_attributes");
    assert_eq!(set["attributes"]["mood"], "happy");
    let out = rtm_as(&url, "dave", &["attrs", "user", "get", "erin"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_json(&out)["attributes"]["mood"], "happy");
    assert!(erin.signal_and_wait("INT").success());
    let out = rtm_as(&url, "dave", &["attrs", "user", "get", "erin", "mood"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], 6); // USER_NOT_FOUND

    // Ctrl-C: the joiners leave and exit cleanly.
    assert!(carol.signal_and_wait("INT").success());
    let left = bob.json_until("carol leaving", |v| v["event"] == "MemberLeft");
    assert_eq!(left.last().expect("a line")["member_id"], "carol");
    assert!(bob.signal_and_wait("INT").success());
}
