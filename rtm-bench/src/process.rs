//! Servers under test as child processes: pinned to a core with `taskset`, their address read
//! from the `listening on ws://ADDR` line they print, their memory and CPU read from `/proc`,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The core the server runs on and the core the load runs on (`--server-cpu`, `--load-cpu`).
#[derive(Clone, Copy, Debug)]
pub struct Pinning {
    pub server_cpu: Option<usize>,
    pub load_cpu: Option<usize>,
}

impl Pinning {
    /// `cmd` run under `taskset -c CPU` when a core is set and `taskset` exists.
    pub fn wrap(cpu: Option<usize>, program: &Path) -> Command {
        match cpu {
            Some(cpu) if which("taskset").is_some() => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            _ => Command::new(program),
        }
    }
}

/// A server under test.
pub struct ServerProc {
    pub name: String,
    child: Child,
    /// `ws://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    pub port: u16,
}

impl ServerProc {
    /// Starts `cmd` and waits (up to 60 s) for a line holding `listening on ws://ADDR` on its
    /// stderr or stdout. Its later output is drained and dropped, so a chatty server cannot
    /// block on a full pipe.
    pub fn start(name: &str, mut cmd: Command) -> Result<ServerProc, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{name}: cannot start {cmd:?}: {e}"))?;
        let (tx, rx) = mpsc::channel::<String>();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("listening on ws://") {
                        let rest = &line[at + "listening on ws://".len()..];
                        let addr: String = rest
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '/' && *c != ')')
                            .collect();
                        let _ = tx.send(addr);
                    }
                }
            });
        }
        drop(tx);
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => {
                let port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                Ok(ServerProc {
                    name: name.to_owned(),
                    child,
                    url: format!("ws://{addr}"),
                    port,
                })
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                Err(format!(
                    "{name}: no `listening on ws://` line within 60 s (exit: {status:?})"
                ))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in bytes (`VmRSS` of /proc/PID/status).
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.pid())
    }

    /// CPU time (user + system) the process has used so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// A program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// A binary built beside this one (`target/release/rtm-server` beside `target/release/rtm-bench`).
pub fn sibling_binary(name: &str) -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let path = me.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not built (cargo build --release -p rtm-transport-smol -p rtm-bench)",
            path.display()
        ))
    }
}
