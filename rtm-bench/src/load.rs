//! The parent's side of the load: worker processes (this binary's `worker` subcommand)
//! pinned to the load core, each given a share of the clients, each command answered within
//! a deadline or the workers are killed and the phase reported missing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::jobs::{Answer, ClientSpec, Cmd, SetupDone, Target};
use crate::process::{cpu_seconds, Pinning};

/// Sockets per worker process: well under the 20 000 open files each process may hold.
pub const PER_WORKER: usize = 6_500;
/// Clients per loopback source address: RTM allows 1 000 logins at once per source,
/// refilled 100 a second.
pub const PER_SOURCE: usize = 500;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

/// The running workers.
pub struct Load {
    workers: Vec<Worker>,
}

impl Load {
    /// Starts enough workers for `clients` clients, pinned to `cpu`.
    pub fn spawn(clients: usize, cpu: Option<usize>) -> Result<Load, String> {
        let n = clients.div_ceil(PER_WORKER).max(1);
        let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let mut cmd = Pinning::wrap(cpu, &me);
            cmd.arg("worker")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut child = cmd.spawn().map_err(|e| format!("worker: {e}"))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                let _ = child.kill();
                return Err("worker: no pipes".into());
            };
            let (tx, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            workers.push(Worker {
                child,
                stdin,
                lines,
            });
        }
        Ok(Load { workers })
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Splits `clients` into one contiguous share per worker: (worker, first global index).
    pub fn shares(&self, clients: &[ClientSpec]) -> Vec<(Vec<ClientSpec>, usize)> {
        let per = clients.len().div_ceil(self.workers.len()).max(1);
        (0..self.workers.len())
            .map(|w| {
                let lo = (w * per).min(clients.len());
                let hi = ((w + 1) * per).min(clients.len());
                (clients[lo..hi].to_vec(), lo)
            })
            .collect()
    }

    /// Sends one command to each worker (`cmds[i]` to worker i) and waits for every answer
    /// until `deadline`. A worker that misses it fails the phase: every worker is killed.
    pub fn run(&mut self, cmds: Vec<Cmd>, deadline: Duration) -> Result<Vec<Answer>, String> {
        for (w, cmd) in self.workers.iter_mut().zip(cmds) {
            let line = serde_json::to_string(&cmd).map_err(|e| format!("encode: {e}"))?;
            writeln!(w.stdin, "{line}").map_err(|e| format!("worker stdin: {e}"))?;
            w.stdin.flush().map_err(|e| format!("worker stdin: {e}"))?;
        }
        let until = Instant::now() + deadline;
        let mut answers = Vec::with_capacity(self.workers.len());
        for (i, w) in self.workers.iter().enumerate() {
            let left = until.saturating_duration_since(Instant::now());
            let answer = match w.lines.recv_timeout(left) {
                Ok(line) => serde_json::from_str::<Answer>(&line)
                    .map_err(|e| format!("worker {i}: bad answer ({e}): {line}")),
                Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                    "worker {i} missed its {} s deadline",
                    deadline.as_secs()
                )),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!("worker {i} exited")),
            };
            match answer {
                Ok(Answer::Failed(e)) => return Err(self.fail(format!("worker {i}: {e}"))),
                Ok(a) => answers.push(a),
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(answers)
    }

    /// Connects and sets up `shares[i]` in worker i (workers beyond the shares get none), at
    /// most `concurrency` connecting at a time in each, all within `deadline`.
    pub fn setup(
        &mut self,
        target: &Target,
        mut shares: Vec<Vec<ClientSpec>>,
        concurrency: usize,
        deadline: Duration,
    ) -> Result<SetupDone, String> {
        shares.resize_with(self.workers.len().max(shares.len()), Vec::new);
        let cmds = shares
            .into_iter()
            .map(|clients| Cmd::Setup {
                target: target.clone(),
                clients,
                concurrency,
                connect_timeout_ms: 5_000,
                deadline_ms: deadline.as_millis() as u64,
            })
            .collect();
        let answers = self.run(cmds, deadline + Duration::from_secs(30))?;
        Ok(SetupDone::merge(answers))
    }

    /// The same command to every worker.
    pub fn run_all(
        &mut self,
        cmd: impl Fn() -> Cmd,
        deadline: Duration,
    ) -> Result<Vec<Answer>, String> {
        let cmds = (0..self.workers.len()).map(|_| cmd()).collect();
        self.run(cmds, deadline)
    }

    fn fail(&mut self, reason: String) -> String {
        for w in &mut self.workers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        reason
    }

    /// The workers' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.workers.iter().map(|w| w.child.id()).collect()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = writeln!(w.stdin, "\"Quit\"");
            let _ = w.stdin.flush();
        }
        // A moment to close their sockets themselves, then kill.
        let until = Instant::now() + Duration::from_secs(3);
        for w in &mut self.workers {
            while Instant::now() < until {
                if let Ok(Some(_)) = w.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

/// The loopback source address of client `i`: 127.0.0.2 on, `PER_SOURCE` clients each.
pub fn source(i: usize) -> [u8; 4] {
    let n = 2 + i / PER_SOURCE;
    [127, (n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// CPU use over a measuring window, in % of one core.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub server: f64,
    pub load: f64,
    /// How busy the server's and the load's cores were with any process (/proc/stat): more
    /// than the processes' own use means something else ran there (a build, another run).
    pub server_core: Option<f64>,
    pub load_core: Option<f64>,
}

/// CPU use of the server and of the load between `from` and `from + span`, sampled on a
/// thread while the parent waits for the workers' answers: the measuring window only, not
/// the warm-up or the drain around it.
pub fn cpu_during(
    server: u32,
    load: Vec<u32>,
    cores: (Option<usize>, Option<usize>),
    from: Duration,
    span: Duration,
) -> std::thread::JoinHandle<CpuUse> {
    std::thread::spawn(move || {
        let sample = || {
            (
                cpu_seconds(server).unwrap_or(0.0),
                load.iter().filter_map(|&p| cpu_seconds(p)).sum::<f64>(),
                cores.0.and_then(core_busy),
                cores.1.and_then(core_busy),
            )
        };
        std::thread::sleep(from);
        let (s0, l0, sc0, lc0) = sample();
        let t0 = Instant::now();
        std::thread::sleep(span);
        let (s1, l1, sc1, lc1) = sample();
        let secs = t0.elapsed().as_secs_f64().max(1e-3);
        let core = |a: Option<(f64, f64)>, b: Option<(f64, f64)>| {
            let ((busy0, all0), (busy1, all1)) = (a?, b?);
            (all1 > all0).then(|| (busy1 - busy0) / (all1 - all0) * 100.0)
        };
        CpuUse {
            server: (s1 - s0) / secs * 100.0,
            load: (l1 - l0) / secs * 100.0,
            server_core: core(sc0, sc1),
            load_core: core(lc0, lc1),
        }
    })
}

/// (busy, total) jiffies of core `cpu` from /proc/stat.
fn core_busy(cpu: usize) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{cpu} ");
    let line = stat.lines().find(|l| l.starts_with(&name))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    // user + nice + system + steal: processes' time. Interrupts and softirqs (where loopback
    // packets are often processed) are the kernel's, charged to no process; left out.
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(7)?;
    Some((busy, total))
}
