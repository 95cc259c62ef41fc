//! The hidden `worker` subcommand: a load process holding a share of the clients (under
//! ~8 000 sockets, for the 20 000-file cap) on one thread, reading [`Cmd`] lines on stdin and
//! writing one [`Answer`] line per command on stdout.

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::LocalExecutor;

use crate::conn::{Client, Ctl, Ready, Shared};
use crate::jobs::{
    unix_ns, Answer, ClientSpec, Cmd, Delivered, PeerDone, SetupDone, Speak, Target,
};

/// A client's task handle and its command channel.
struct Running {
    ctl: async_channel::Sender<Ctl>,
    task: smol::Task<Option<String>>,
}

struct Worker<'ex> {
    ex: Rc<LocalExecutor<'ex>>,
    shared: Rc<RefCell<Shared>>,
    target: Option<(Target, Rc<Speak>)>,
    clients: Vec<ClientSpec>,
    running: Vec<Option<Running>>,
    /// RTM sessions to resume, by client index.
    sessions: Vec<Option<String>>,
}

pub fn main() {
    let ex = Rc::new(LocalExecutor::new());
    let (tx, rx) = async_channel::unbounded::<String>();
    // stdin is read on its own thread: a blocking read must not stall the clients.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send_blocking(line).is_err() {
                break;
            }
        }
    });
    let mut worker = Worker {
        ex: ex.clone(),
        shared: Rc::new(RefCell::new(Shared::default())),
        target: None,
        clients: Vec::new(),
        running: Vec::new(),
        sessions: Vec::new(),
    };
    smol::block_on(ex.run(async move {
        while let Ok(line) = rx.recv().await {
            let answer = match serde_json::from_str::<Cmd>(&line) {
                Ok(Cmd::Quit) => {
                    send_answer(&Answer::Quit);
                    break;
                }
                Ok(cmd) => worker.handle(cmd).await,
                Err(e) => Answer::Failed(format!("bad command: {e}")),
            };
            send_answer(&answer);
        }
        // The parent went away or said quit: close every socket abruptly and leave.
        worker.drop_all().await;
    }));
}

fn send_answer(a: &Answer) {
    let mut out = std::io::stdout().lock();
    let line = serde_json::to_string(a).unwrap_or_else(|e| format!("{{\"Failed\":\"{e}\"}}"));
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

impl Worker<'_> {
    async fn handle(&mut self, cmd: Cmd) -> Answer {
        match cmd {
            Cmd::Setup {
                target,
                clients,
                concurrency,
                connect_timeout_ms,
                deadline_ms,
            } => {
                let speak = Rc::new(target.speak.clone());
                let mut clients = clients;
                if let Speak::Rtm {
                    app_id,
                    cert: Some(cert),
                } = &*speak
                {
                    let now = (unix_ns() / 1_000_000_000) as u32;
                    for c in &mut clients {
                        c.token = Some(rtm_proto::token::build_v007(
                            app_id,
                            cert,
                            &c.uid,
                            now,
                            3600,
                            now ^ 0x5a5a,
                        ));
                    }
                }
                self.target = Some((target, speak));
                self.sessions = vec![None; clients.len()];
                self.running = (0..clients.len()).map(|_| None).collect();
                self.clients = clients;
                let all: Vec<usize> = (0..self.clients.len()).collect();
                Answer::Setup(
                    self.connect(
                        &all,
                        concurrency,
                        Duration::from_millis(connect_timeout_ms),
                        Duration::from_millis(deadline_ms),
                        false,
                    )
                    .await,
                )
            }
            Cmd::Peer {
                pairs,
                interval_us,
                window,
                warmup_ms,
                measure_ms,
            } => {
                self.peer(pairs, interval_us, window, warmup_ms, measure_ms)
                    .await
            }
            Cmd::Publish {
                publishers,
                interval_us,
                duration_ms,
            } => {
                let start = Instant::now();
                let until = start + Duration::from_millis(duration_ms);
                let interval = Duration::from_micros(interval_us.max(1));
                let count = publishers.len().max(1) as u32;
                for (n, (idx, room, publisher)) in publishers.into_iter().enumerate() {
                    // Publishers start staggered over one interval, not in lockstep.
                    let first = start + interval * n as u32 / count;
                    self.tell(
                        idx,
                        Ctl::Publish {
                            room: room.into(),
                            publisher,
                            interval,
                            first,
                            until,
                        },
                    )
                    .await;
                }
                Timer::at(until + Duration::from_millis(50)).await;
                let s = self.shared.borrow();
                Answer::Published {
                    sent: s.published,
                    errors: s.publish_errors,
                }
            }
            Cmd::Deliveries => {
                let s = self.shared.borrow();
                Answer::Deliveries(
                    s.deliveries
                        .iter()
                        .map(
                            |(&(publisher, seq), &(sent_ns, count, last_ns))| Delivered {
                                publisher,
                                seq,
                                sent_ns,
                                count,
                                last_ns,
                            },
                        )
                        .collect(),
                )
            }
            Cmd::Storm {
                connect_timeout_ms,
                deadline_ms,
            } => {
                let start_ns = unix_ns();
                self.drop_all().await;
                let all: Vec<usize> = (0..self.clients.len()).collect();
                let n = all.len().max(1);
                let mut done = self
                    .connect(
                        &all,
                        n,
                        Duration::from_millis(connect_timeout_ms),
                        Duration::from_millis(deadline_ms),
                        true,
                    )
                    .await;
                done.start_ns = start_ns;
                Answer::Setup(done)
            }
            Cmd::Quit => Answer::Quit,
        }
    }

    async fn tell(&self, idx: usize, ctl: Ctl) {
        if let Some(Some(r)) = self.running.get(idx) {
            let _ = r.ctl.send(ctl).await;
        }
    }

    /// Starts the clients `which` (at most `concurrency` connecting at a time) and waits
    /// until each is ready or failed, or the deadline passes.
    async fn connect(
        &mut self,
        which: &[usize],
        concurrency: usize,
        connect_timeout: Duration,
        deadline: Duration,
        resume: bool,
    ) -> SetupDone {
        let Some((target, speak)) = self.target.clone() else {
            return SetupDone {
                errors: vec!["no setup".into()],
                ..SetupDone::default()
            };
        };
        let mut done = SetupDone {
            start_ns: unix_ns(),
            ..SetupDone::default()
        };
        let deadline_at = Instant::now() + deadline;
        let (ready_tx, ready_rx) = async_channel::unbounded::<Result<Ready, String>>();
        // A semaphore: a slot is a message in a bounded channel.
        let (slot_tx, slot_rx) = async_channel::bounded::<()>(concurrency.max(1));
        for &idx in which {
            let spec = self.clients[idx].clone();
            let session = if resume {
                self.sessions[idx].take()
            } else {
                None
            };
            let (ctl_tx, ctl_rx) = async_channel::unbounded();
            let (target, speak, shared) = (target.clone(), speak.clone(), self.shared.clone());
            let (ready_tx, slot_tx, slot_rx) = (ready_tx.clone(), slot_tx.clone(), slot_rx.clone());
            let task = self.ex.spawn(async move {
                let _ = slot_tx.send(()).await;
                let started = Client::start(
                    &target,
                    speak,
                    &spec,
                    session,
                    connect_timeout,
                    deadline_at,
                    shared,
                )
                .await;
                let _ = slot_rx.recv().await;
                match started {
                    Ok((client, ready)) => {
                        let _ = ready_tx.send(Ok(ready)).await;
                        client.run(ctl_rx).await
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e)).await;
                        None
                    }
                }
            });
            self.running[idx] = Some(Running { ctl: ctl_tx, task });
        }
        let grace = deadline_at + Duration::from_secs(2);
        while done.ok + done.failed < which.len() {
            let next = futures_lite::future::or(async { ready_rx.recv().await.ok() }, async {
                Timer::at(grace).await;
                None
            })
            .await;
            match next {
                Some(Ok(r)) => {
                    done.ok += 1;
                    done.retries += r.retries;
                    done.resumed += usize::from(r.resumed);
                }
                Some(Err(e)) => {
                    done.failed += 1;
                    if done.errors.len() < 5 {
                        done.errors.push(e);
                    }
                }
                None => {
                    let missing = which.len() - done.ok - done.failed;
                    done.failed += missing;
                    done.errors
                        .push(format!("{missing} clients not ready by the deadline"));
                    break;
                }
            }
        }
        done.end_ns = unix_ns();
        done
    }

    async fn peer(
        &mut self,
        pairs: Vec<(usize, usize)>,
        interval_us: u64,
        window: usize,
        warmup_ms: u64,
        measure_ms: u64,
    ) -> Answer {
        let start = Instant::now();
        let from = start + Duration::from_millis(warmup_ms);
        let to = from + Duration::from_millis(measure_ms);
        {
            let mut s = self.shared.borrow_mut();
            s.window = Some((from, to));
            s.receipts = 0;
            s.latencies_us.clear();
            s.sent = 0;
            s.errors = 0;
        }
        let interval = Duration::from_micros(interval_us.max(1));
        let count = pairs.len().max(1) as u32;
        for (n, (sender, receiver)) in pairs.into_iter().enumerate() {
            let to_uid: Rc<str> = self.clients[receiver].uid.as_str().into();
            let first = start + interval * n as u32 / count;
            self.tell(
                sender,
                Ctl::Send {
                    to: to_uid,
                    interval,
                    window,
                    first,
                    until: to,
                },
            )
            .await;
        }
        // Late answers still count if they came inside the window; give them a moment.
        Timer::at(to + Duration::from_millis(warmup_ms.min(500))).await;
        let mut s = self.shared.borrow_mut();
        Answer::Peer(PeerDone {
            receipts: s.receipts,
            latencies_us: std::mem::take(&mut s.latencies_us),
            sent: s.sent,
            errors: s.errors,
        })
    }

    /// Closes every client's socket abruptly and waits for their tasks, keeping RTM sessions
    /// for a resume.
    async fn drop_all(&mut self) {
        for r in self.running.iter().flatten() {
            let _ = r.ctl.send(Ctl::Drop).await;
        }
        for (idx, r) in self.running.iter_mut().enumerate() {
            if let Some(r) = r.take() {
                let session = r.task.await;
                if let Some(slot) = self.sessions.get_mut(idx) {
                    *slot = session;
                }
            }
        }
    }
}

use smol::Timer;
