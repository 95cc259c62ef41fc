//! The baseline servers: what users would pick instead of RTM, started beside it in the same
//! run. (Interface fixed by the lead.)

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::baseline_client::Dialect;
use crate::process::{self, Pinning, ServerProc};

/// A baseline server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// `rtm-bench-bare`: async-tungstenite on smol, our own stack with no RTM in it.
    Bare,
    /// Node.js with the `ws` package, `JSON.stringify` once per broadcast.
    NodeWs,
    /// Node.js with Socket.IO, a room per channel.
    SocketIo,
}

impl Baseline {
    pub const ALL: [Baseline; 3] = [Baseline::Bare, Baseline::NodeWs, Baseline::SocketIo];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::Bare => "bare",
            Baseline::NodeWs => "node-ws",
            Baseline::SocketIo => "socket.io",
        }
    }

    pub fn dialect(self) -> Dialect {
        match self {
            Baseline::Bare | Baseline::NodeWs => Dialect::Plain,
            Baseline::SocketIo => Dialect::SocketIo,
        }
    }
}

/// Starts `baseline` on a free loopback port, pinned to `cpu` when given (installing its npm
/// packages first if needed). `Err` is the one-line reason it is skipped.
pub fn start(baseline: Baseline, cpu: Option<usize>) -> Result<ServerProc, String> {
    let name = baseline.name();
    let skip = |why: String| format!("{name}: skipped: {why}");
    match baseline {
        Baseline::Bare => {
            let program = process::sibling_binary("rtm-bench-bare").map_err(skip)?;
            let mut cmd = Pinning::wrap(cpu, &program);
            cmd.args(["--listen", "127.0.0.1:0"]);
            ServerProc::start(name, cmd)
        }
        Baseline::NodeWs | Baseline::SocketIo => {
            let script = match baseline {
                Baseline::SocketIo => "socketio-server.js",
                _ => "ws-server.js",
            };
            let dir = node_dir();
            let node = node_ready(&dir).map_err(skip)?;
            let mut cmd = Pinning::wrap(cpu, &node);
            cmd.arg(script)
                .args(["--listen", "127.0.0.1:0"])
                .current_dir(&dir);
            ServerProc::start(name, cmd)
        }
    }
}

/// `rtm-bench/baselines/node` of the source tree this binary was built from (right for a
/// fresh clone: the harness runs from its own checkout).
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("baselines")
        .join("node")
}

/// How long `npm ci` may take (a cold cache downloads some twenty packages).
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

/// Checks that `node` and `npm` are there and that `dir`'s packages are installed as its
/// lockfile says (running `npm ci` when they are missing or older than the lockfile).
/// Returns the path of `node`.
pub fn node_ready(dir: &Path) -> Result<PathBuf, String> {
    // One install at a time: the baselines may be started from several threads.
    static INSTALL: Mutex<()> = Mutex::new(());
    let node = process::which("node").ok_or("no `node` on PATH (Node.js 20 or later needed)")?;
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", node.display()))?;
    if !version.status.success() {
        return Err(format!("`{} --version` failed", node.display()));
    }
    let npm = process::which("npm").ok_or("no `npm` on PATH")?;
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if installed(dir) {
        return Ok(node);
    }
    npm_ci(&npm, dir)?;
    if installed(dir) {
        Ok(node)
    } else {
        Err(format!(
            "`npm ci` in {} left no node_modules/.package-lock.json",
            dir.display()
        ))
    }
}

/// `node_modules` exists and is at least as new as `package-lock.json`: npm writes
/// `node_modules/.package-lock.json` at the end of every install, so a lockfile changed
/// since (a pull, a version bump) makes it stale.
fn installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules").join(".package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(locked)) => installed >= locked,
        _ => false,
    }
}

/// Runs `npm ci --no-audit --no-fund` in `dir`, bounded by [`NPM_CI_TIMEOUT`].
fn npm_ci(npm: &Path, dir: &Path) -> Result<(), String> {
    eprintln!(
        "rtm-bench: installing the Node baselines' packages (npm ci in {})",
        dir.display()
    );
    let mut child = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", npm.display()))?;
    // Drained on a thread so a chatty npm cannot block on a full pipe.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let deadline = Instant::now() + NPM_CI_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "`npm ci` in {} took over {} s",
                    dir.display(),
                    NPM_CI_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(format!("waiting for npm: {e}")),
        }
    };
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    let status = status?;
    if status.success() {
        return Ok(());
    }
    let why = npm_error(&stderr);
    Err(format!(
        "`npm ci` in {} failed ({status}): {why}",
        dir.display()
    ))
}

/// The line of npm's error output that says why (`FetchError: request to … failed, reason:
/// connect ECONNREFUSED …`, "`npm ci` can only install packages when your package.json and
/// package-lock.json are in sync", …): the first message line, past the `code`/`errno`
/// lines, the stack and the pointer to the log.
fn npm_error(stderr: &str) -> String {
    let mut messages = stderr.lines().filter_map(|line| {
        let line = line
            .strip_prefix("npm error")
            .or_else(|| line.strip_prefix("npm ERR!"))?;
        let message = line.strip_prefix(' ')?;
        let boring = message.is_empty()
            || message.starts_with(char::is_whitespace)
            || message.starts_with("A complete log")
            || ["code ", "errno ", "syscall ", "path ", "dest "]
                .iter()
                .any(|k| message.starts_with(k));
        (!boring).then_some(message)
    });
    messages
        .next()
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_errors_come_down_to_their_message() {
        let refused = "npm error code ECONNREFUSED\n\
            npm error syscall connect\n\
            npm error errno ECONNREFUSED\n\
            npm error FetchError: request to http://127.0.0.1:9/ws failed, reason: connect ECONNREFUSED 127.0.0.1:9\n\
            npm error     at ClientRequest.<anonymous> (index.js:130:14)\n\
            npm error   code: 'ECONNREFUSED',\n\
            npm error }\n\
            npm error\n\
            npm error A complete log of this run can be found in: /tmp/x.log\n";
        assert_eq!(
            npm_error(refused),
            "FetchError: request to http://127.0.0.1:9/ws failed, reason: connect ECONNREFUSED 127.0.0.1:9"
        );
        assert_eq!(
            npm_error("npm ERR! code EUSAGE\nnpm ERR! `npm ci` can only install when in sync\n"),
            "`npm ci` can only install when in sync"
        );
        assert_eq!(npm_error("Segmentation fault\n\n"), "Segmentation fault");
        assert_eq!(npm_error(""), "no output");
    }
}
