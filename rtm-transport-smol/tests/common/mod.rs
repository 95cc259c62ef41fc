//! A child process of the tests (`rtm-server`, `rtm`) whose output lines arrive on a
//! channel, with bounded waits; killed when dropped.

#![allow(dead_code)] // each test file uses its own part

pub mod rest;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long any wait on a child lasts at most.
pub const WAIT: Duration = Duration::from_secs(15);

/// A child process whose output lines arrive on a channel; killed when dropped.
pub struct Proc {
    pub child: Child,
    pub lines: Receiver<String>,
    name: &'static str,
}

impl Proc {
    /// Starts `bin` with `args`; `stdout` picks which stream is read line by line.
    pub fn spawn(name: &'static str, bin: &str, args: &[&str], read_stdout: bool) -> Proc {
        Proc::spawn_in(name, bin, args, read_stdout, None)
    }

    /// [`Proc::spawn`] with `dir` as the working directory (the test's own if `None`).
    pub fn spawn_in(
        name: &'static str,
        bin: &str,
        args: &[&str],
        read_stdout: bool,
        dir: Option<&std::path::Path>,
    ) -> Proc {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .env_remove("RUST_LOG")
            .env_remove("RTM_DATA_DIR");
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
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
    pub fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
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

    /// The `ws://` URL an `rtm-server` says it listens on (its "listening on" line).
    pub fn listening_url(&self) -> String {
        self.wait_for("the listening address", |line| {
            let i = line.find("listening on ws://")?;
            let rest = &line[i + "listening on ".len()..];
            Some(rest.split_whitespace().next()?.to_string())
        })
    }

    /// Waits for the process to exit by itself, within [`WAIT`].
    pub fn exit_status(&mut self) -> std::process::ExitStatus {
        self.exit_within("")
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit status, within [`WAIT`].
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
        self.exit_within(&format!(" of SIG{signal}"))
    }

    /// The exit status, within [`WAIT`] (`after` says of what, in the failure message).
    pub fn exit_within(&mut self, after: &str) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {WAIT:?}{after}",
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

impl Proc {
    /// kill -9: no chance to finish anything.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap the child");
    }
}
