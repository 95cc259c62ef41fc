//! Smoke test of the binaries, the way a person would try them: start `rtm-server`, have Bob
//! `rtm listen`, have Alice `rtm send-peer bob hello`; Bob prints the message, Alice prints
//! that Bob received it. Then the same in certificate mode with tokens from `rtm token`.
//! Every wait is bounded; every process is killed at the end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// A child process whose output lines arrive on a channel; killed when dropped.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    name: &'static str,
}

impl Proc {
    /// Starts `bin` with `args`; `stdout` picks which stream is read line by line.
    fn spawn(name: &'static str, bin: &str, args: &[&str], read_stdout: bool) -> Proc {
        let mut cmd = Command::new(bin);
        cmd.args(args).stdin(Stdio::null()).env_remove("RUST_LOG");
        if read_stdout {
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let reader: Box<dyn std::io::Read + Send> = if read_stdout {
            Box::new(child.stdout.take().expect("piped stdout"))
        } else {
            Box::new(child.stderr.take().expect("piped stderr"))
        };
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines, name }
    }

    /// Reads lines until `pick` accepts one, within [`WAIT`].
    fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(t) = pick(&line) {
                        return t;
                    }
                    seen.push(line);
                }
                Err(_) => panic!(
                    "{}: no line with {what} within {WAIT:?}; saw:\n{}",
                    self.name,
                    seen.join("\n")
                ),
            }
        }
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit status, within [`WAIT`].
    fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {WAIT:?} of SIG{signal}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rtm_server(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--listen", "127.0.0.1:0", "--log", "info"];
    args.extend_from_slice(extra);
    let server = Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false);
    let url = server.wait_for("the listening address", |line| {
        let i = line.find("listening on ws://")?;
        let url = line[i + "listening on ".len()..]
            .split_whitespace()
            .next()?;
        Some(url.to_string())
    });
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
    bob.wait_for("CONNECTED", |line| {
        let v = json(line)?;
        (v["event"] == "ConnectionStateChanged" && v["state"] == "CONNECTED").then_some(())
    });

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
    let out = rtm(&[
        "--server",
        &url,
        "--uid",
        "alice",
        "send-peer",
        "carol",
        "hi",
    ]);
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["outcome"], "unreachable");
    let out = rtm(&[
        "--server",
        &url,
        "--uid",
        "alice",
        "send-peer",
        "carol",
        "hi",
        "--offline",
    ]);
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["outcome"], "cached");

    // An error carries its numeric code and a non-zero exit.
    let out = rtm(&[
        "--server",
        &url,
        "--uid",
        "alice",
        "send-peer",
        "alice",
        "me",
    ]);
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
    // announces it (or says why it cannot listen) and stops on SIGTERM.
    let mut server = Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &[], false);
    let line = server.wait_for("startup", |line| {
        (line.contains("listening on") || line.contains("failed")).then(|| line.to_string())
    });
    if line.contains("listening on") {
        assert!(line.contains("ws://127.0.0.1:9300"), "{line}");
        assert!(line.contains("app-id-only mode"), "{line}");
        let status = server.signal_and_wait("TERM");
        assert!(status.success());
    }
}
