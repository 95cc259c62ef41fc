//! The storage thread: carries out the core's ops in order, many per transaction (group
//! commit), and reports what became of each write.
//!
//! Why a thread of its own: a commit waits for an fsync (milliseconds on most disks); on the
//! core task that would stall every connection. Why group commit: the fsync, not the
//! insert, is the cost, so one transaction per batch of messages instead of one per message
//! is what lets durable messages keep up with the in-memory ones.
//!
//! The thread blocks for the first op, then gathers whatever else arrives within
//! [`GroupCommit::window`] (or until [`GroupCommit::max_batch`] ops) and commits them as one
//! transaction. A commit is reported as `Committed(write ids)`; a failed one as
//! `Failed(write ids)` (SQLite rolled it back: nothing of it is on disk), and that batch's
//! deletes are applied first in the next transaction, again and again until one succeeds: a delete is never lost, and the store recovers by
//! itself when the disk does.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender, TryRecvError};
use futures_lite::future;
use rtm_proto::server::{RecordId, StorageEvent, StorageOp};
use smol::Timer;
use tracing::{error, info, warn};

use super::sqlite::Db;
use crate::metrics::StorageMetrics;

/// How the storage thread batches ops into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// How long the thread keeps gathering ops after the first one of a batch. Adds at most
    /// this much to a `cached` answer's latency; the fsync costs more.
    pub window: Duration,
    /// Ops per transaction at most.
    pub max_batch: usize,
    /// Ops waiting for the thread at most. When the queue is full the core task waits for
    /// room before it takes any more input (connections' readers then wait in turn): the
    /// server slows to the disk's pace instead of holding an unbounded backlog. It cannot
    /// deadlock: the thread never waits for the core (its reports go through an unbounded
    /// channel, one message per transaction).
    pub queue: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            window: Duration::from_millis(2),
            max_batch: 4096,
            queue: 8192,
        }
    }
}

/// A store error is logged at most once per this interval, with the count of those not
/// logged since: a failing disk must not flood the log with a line per message.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// With deletes left over from a failed transaction and no new ops, the thread tries them
/// again after this long.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// At shutdown, leftover deletes are tried this many more times (RETRY_INTERVAL apart)
/// before the thread gives up on them.
const SHUTDOWN_RETRIES: u32 = 3;

/// Where the thread puts its batches. [`Db`] in the server; tests put failures in between.
pub trait Sink: Send + 'static {
    /// Applies `deletes`, then `ops` in order, as one durable transaction.
    fn apply(&mut self, deletes: &[RecordId], ops: &[StorageOp]) -> Result<(), String>;
}

impl Sink for Db {
    fn apply(&mut self, deletes: &[RecordId], ops: &[StorageOp]) -> Result<(), String> {
        Db::apply(self, deletes, ops).map_err(|e| e.to_string())
    }
}

/// The driver's end of the storage thread.
#[derive(Debug)]
pub struct Writer {
    ops: Option<Sender<StorageOp>>,
    done: Receiver<StorageEvent>,
    thread: Option<JoinHandle<()>>,
    metrics: StorageMetrics,
}

impl Writer {
    /// Starts the thread over `sink`.
    pub fn start(sink: impl Sink, tuning: GroupCommit) -> std::io::Result<Writer> {
        let (ops_tx, ops_rx) = async_channel::bounded(tuning.queue.max(1));
        let (done_tx, done_rx) = async_channel::unbounded();
        let metrics = StorageMetrics::default();
        let counted = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("rtm-storage".into())
            .spawn(move || run(sink, ops_rx, done_tx, tuning, counted))?;
        Ok(Writer {
            ops: Some(ops_tx),
            done: done_rx,
            thread: Some(thread),
            metrics,
        })
    }

    /// What the thread has done, for `/metrics`.
    pub(crate) fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Queues `op`, waiting for room if the queue is full. False if the thread is gone (it
    /// panicked): the op is dropped, and the core times its write out.
    pub async fn send(&self, op: StorageOp) -> bool {
        match &self.ops {
            Some(ops) => ops.send(op).await.is_ok(),
            None => false,
        }
    }

    /// The completions, for the core loop to select on.
    pub fn completions(&self) -> Receiver<StorageEvent> {
        self.done.clone()
    }

    /// Lets the thread finish every queued op, then waits for it to end.
    pub async fn finish(mut self) {
        self.ops = None;
        if let Some(thread) = self.thread.take() {
            if smol::unblock(move || thread.join()).await.is_err() {
                error!("the storage thread panicked");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Without `finish` (the server's future was dropped): the thread still completes
        // what was queued, on its own.
        self.ops = None;
    }
}

fn run(
    mut sink: impl Sink,
    ops: Receiver<StorageOp>,
    done: Sender<StorageEvent>,
    tuning: GroupCommit,
    metrics: StorageMetrics,
) {
    let mut leftover: Vec<RecordId> = Vec::new();
    let mut log = ErrorLog::default();
    let mut shutdown_tries = 0;
    let mut batch = Vec::new();
    loop {
        let closed = smol::block_on(gather(&ops, &mut batch, leftover.is_empty(), tuning));
        if batch.is_empty() && leftover.is_empty() {
            if closed {
                return;
            }
            continue;
        }
        let writes: Vec<RecordId> = batch
            .iter()
            .filter_map(|op| match op {
                StorageOp::Write(r) => Some(r.id),
                StorageOp::Delete(_) => None,
            })
            .collect();
        let started = Instant::now();
        let applied = sink.apply(&leftover, &batch);
        let deletes = leftover.len() + batch.len() - writes.len();
        metrics.transaction(writes.len(), deletes, started.elapsed(), applied.is_ok());
        match applied {
            Ok(()) => {
                leftover.clear();
                log.recovered();
                if !writes.is_empty() {
                    let _ = done.try_send(StorageEvent::Committed(writes));
                }
            }
            Err(e) => {
                log.failed(&e, batch.len() + leftover.len());
                // A failed transaction is rolled back: its writes left nothing to delete,
                // and leaving them out keeps `leftover` bounded by the records that exist
                // however long the disk stays full.
                leftover.extend(batch.iter().filter_map(|op| match op {
                    StorageOp::Write(_) => None,
                    StorageOp::Delete(id) => Some(*id),
                }));
                leftover.sort_unstable();
                leftover.dedup();
                if !writes.is_empty() {
                    let _ = done.try_send(StorageEvent::Failed(writes));
                }
            }
        }
        batch.clear();
        if closed {
            if leftover.is_empty() {
                return;
            }
            shutdown_tries += 1;
            if shutdown_tries > SHUTDOWN_RETRIES {
                error!(
                    deletes = leftover.len(),
                    "storage: giving up at shutdown on deletes that keep failing; those \
                     messages will be delivered again after the restart"
                );
                return;
            }
            std::thread::sleep(RETRY_INTERVAL);
        }
    }
}

/// Fills `batch` with the next ops: waits for the first (for ever if `idle`, else at most
/// [`RETRY_INTERVAL`]), then gathers more within the window. True once the queue is closed
/// and empty (every op the core sent is in this or an earlier batch).
async fn gather(
    ops: &Receiver<StorageOp>,
    batch: &mut Vec<StorageOp>,
    idle: bool,
    tuning: GroupCommit,
) -> bool {
    let first = if idle {
        Some(ops.recv().await)
    } else {
        future::or(async { Some(ops.recv().await) }, async {
            Timer::after(RETRY_INTERVAL).await;
            None
        })
        .await
    };
    match first {
        None => return false, // time to retry the leftover deletes
        Some(Err(_)) => return true,
        Some(Ok(op)) => batch.push(op),
    }
    let deadline = Instant::now() + tuning.window;
    while batch.len() < tuning.max_batch.max(1) {
        match ops.try_recv() {
            Ok(op) => {
                batch.push(op);
                continue;
            }
            Err(TryRecvError::Closed) => return true,
            Err(TryRecvError::Empty) => {}
        }
        let next = future::or(async { Some(ops.recv().await) }, async {
            Timer::at(deadline).await;
            None
        })
        .await;
        match next {
            None => break,
            Some(Ok(op)) => batch.push(op),
            Some(Err(_)) => return true,
        }
    }
    false
}

/// Store errors, logged at most once per [`LOG_INTERVAL`].
#[derive(Debug, Default)]
struct ErrorLog {
    last_logged: Option<Instant>,
    /// Failed transactions not logged since the last line.
    suppressed: u64,
    /// Failed transactions since the last success.
    failing: u64,
}

impl ErrorLog {
    fn failed(&mut self, error: &str, ops: usize) {
        self.failing += 1;
        let due = match self.last_logged {
            None => true,
            Some(t) => t.elapsed() >= LOG_INTERVAL,
        };
        if due {
            warn!(
                %error,
                ops,
                suppressed = self.suppressed,
                "storage: a transaction failed; its writes are reported failed (senders \
                 get FAILURE), its deletes are tried again with the next one"
            );
            self.last_logged = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }

    fn recovered(&mut self) {
        if self.failing > 0 {
            info!(
                failed_transactions = self.failing,
                "storage: transactions succeed again"
            );
            *self = ErrorLog::default();
        }
    }
}
