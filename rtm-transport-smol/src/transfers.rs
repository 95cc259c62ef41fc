//! The road between the HTTP tasks serving `/v1/media` and the core task, for media
//! transfers (issue #14): the HTTP task of an upload or a download hands the core a
//! `MediaCall` and hears back the `MediaOp`s of its transfer.
//!
//! Each transfer has a [`TransferId`] chosen here (a counter: unique for the server's life,
//! which is longer than the core knows any of them), and on the core task's side a small
//! channel its ops are delivered to ([`Transfers`]).
//!
//! One queue, in order (a transfer's `Ended` must never overtake its `Begin*`), but the
//! calls are not alike:
//!
//! * `Begin*` start a transfer: at most [`BEGIN_QUEUE`] may wait for the core task; past
//!   that the request is answered 503 `busy` without reaching the core, as a REST call
//!   would be.
//! * `Uploaded` and `Ended` report on a transfer the core already knows: they must never be
//!   lost (a lost `Ended` would hold a user's quota and concurrency slot for ever), so they
//!   are never refused for room: the queue is unbounded, bounded in practice by the
//!   transfers begun (two reports each at most). `Ended` is sent by the `Drop` of the
//!   transfer's [`End`]: exactly once, however the exchange ends (answered, refused, client
//!   gone, cut for stalling, server stopping), and after `Uploaded` when a commit was under
//!   way (the blocking job holds the `End` meanwhile).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use async_channel::{Receiver, Sender};

use crate::admin::Unanswered;
use rtm_proto::server::media::{MediaCall, MediaOp, TransferId};

/// `Begin*` calls waiting for the core task, at most.
pub const BEGIN_QUEUE: usize = 256;

/// Ops of one transfer the core task may hand on before the HTTP task reads them (an
/// accept then an answer is the most there can be).
const OPS_PER_TRANSFER: usize = 4;

/// A call for the core task: a transfer's first, with where its ops go, or a report.
#[derive(Debug)]
pub(crate) enum MediaRequest {
    Begin(MediaCall, Sender<MediaOp>),
    Report(MediaCall),
}

/// The HTTP tasks' end of the queues to the core task.
#[derive(Debug, Clone)]
pub(crate) struct MediaQueue {
    tx: Sender<MediaRequest>,
    /// `Begin*` calls queued and not yet taken by the core task.
    begins: Arc<AtomicUsize>,
    next: Arc<AtomicU64>,
}

/// The core task's end of the queue.
#[derive(Debug)]
pub(crate) struct MediaInbox {
    rx: Receiver<MediaRequest>,
    begins: Arc<AtomicUsize>,
}

impl MediaInbox {
    /// The next call; `None` once every HTTP task's end is gone.
    pub(crate) async fn recv(&self) -> Option<MediaRequest> {
        let request = self.rx.recv().await.ok()?;
        if matches!(request, MediaRequest::Begin(..)) {
            self.begins.fetch_sub(1, Ordering::Relaxed);
        }
        Some(request)
    }
}

impl MediaQueue {
    pub(crate) fn new() -> (MediaQueue, MediaInbox) {
        let (tx, rx) = async_channel::unbounded();
        let begins = Arc::new(AtomicUsize::new(0));
        let queue = MediaQueue {
            tx,
            begins: begins.clone(),
            next: Arc::new(AtomicU64::new(1)),
        };
        (queue, MediaInbox { rx, begins })
    }

    /// A fresh transfer id.
    pub(crate) fn next_id(&self) -> TransferId {
        TransferId(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Hands `call` (a `Begin*` of transfer `id`) to the core: the transfer, whose ops then
    /// arrive on it, or why the core cannot be asked.
    pub(crate) fn begin(&self, id: TransferId, call: MediaCall) -> Result<Transfer, Unanswered> {
        if self.tx.is_closed() {
            return Err(Unanswered::Stopped);
        }
        if self.begins.fetch_add(1, Ordering::Relaxed) >= BEGIN_QUEUE {
            self.begins.fetch_sub(1, Ordering::Relaxed);
            return Err(Unanswered::Busy);
        }
        let (tx, ops) = async_channel::bounded(OPS_PER_TRANSFER);
        if self.tx.try_send(MediaRequest::Begin(call, tx)).is_err() {
            self.begins.fetch_sub(1, Ordering::Relaxed);
            return Err(Unanswered::Stopped);
        }
        Ok(Transfer {
            id,
            ops,
            end: Some(End {
                id,
                tx: self.tx.clone(),
            }),
        })
    }
}

/// A transfer the core was told of; dropping it tells the core it ended (through its
/// [`End`], unless that was taken and is still held elsewhere).
#[derive(Debug)]
pub(crate) struct Transfer {
    id: TransferId,
    ops: Receiver<MediaOp>,
    end: Option<End>,
}

impl Transfer {
    pub(crate) fn id(&self) -> TransferId {
        self.id
    }

    /// The next op of the core for this transfer; `None` if the core task has stopped.
    pub(crate) async fn next_op(&self) -> Option<MediaOp> {
        self.ops.recv().await.ok()
    }

    /// The transfer's end, for a step that must report to the core even if the HTTP task
    /// is dropped in the middle of it (an upload's commit on the blocking pool): whoever holds
    /// it reports `Ended` when dropping it. Given back with [`Transfer::put_end`].
    pub(crate) fn take_end(&mut self) -> Option<End> {
        self.end.take()
    }

    pub(crate) fn put_end(&mut self, end: Option<End>) {
        self.end = end;
    }
}

/// Reports a transfer's `Ended` to the core when dropped; can report before that.
#[derive(Debug)]
pub(crate) struct End {
    id: TransferId,
    tx: Sender<MediaRequest>,
}

impl End {
    /// Reports `call` (`Uploaded`) to the core.
    pub(crate) fn report(&self, call: MediaCall) {
        let _ = self.tx.try_send(MediaRequest::Report(call));
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let ended = MediaCall::Ended { transfer: self.id };
        let _ = self.tx.try_send(MediaRequest::Report(ended));
    }
}

/// The core task's table of transfers: where each one's ops go.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    waiting: BTreeMap<TransferId, Sender<MediaOp>>,
}

impl Transfers {
    /// A transfer begins: its ops go to `ops` until it ends.
    pub(crate) fn begin(&mut self, id: TransferId, ops: Sender<MediaOp>) {
        self.waiting.insert(id, ops);
    }

    /// Delivers `op` of transfer `id` to its HTTP task (if it is still there).
    pub(crate) fn deliver(&mut self, id: TransferId, op: MediaOp) {
        if let Some(ops) = self.waiting.get(&id) {
            let _ = ops.try_send(op);
        }
    }

    /// The transfer ended: nothing more goes to it.
    pub(crate) fn ended(&mut self, id: TransferId) {
        self.waiting.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_reports_its_end_exactly_once_when_dropped() {
        let (queue, inbox) = MediaQueue::new();
        let id = queue.next_id();
        let call = MediaCall::BeginDownload {
            transfer: id,
            ticket: "t".into(),
            media_id: "m".into(),
        };
        let transfer = queue.begin(id, call.clone()).unwrap();
        drop(transfer);
        let Some(MediaRequest::Begin(got, _ops)) = smol::block_on(inbox.recv()) else {
            panic!("the begin comes first");
        };
        assert_eq!(got, call);
        assert!(matches!(
            smol::block_on(inbox.recv()),
            Some(MediaRequest::Report(MediaCall::Ended { transfer })) if transfer == id
        ));
        assert!(inbox.rx.try_recv().is_err());
        assert_ne!(queue.next_id(), id);
    }

    #[test]
    fn a_taken_end_reports_after_what_its_holder_reported() {
        let (queue, inbox) = MediaQueue::new();
        let id = queue.next_id();
        let call = MediaCall::BeginUpload {
            transfer: id,
            ticket: "t".into(),
            size: Some(1),
        };
        let mut transfer = queue.begin(id, call).unwrap();
        let end = transfer.take_end();
        drop(transfer); // the HTTP task is gone while its commit runs: no Ended yet
        let uploaded = MediaCall::Uploaded {
            transfer: id,
            size: 1,
            mime: "application/octet-stream".into(),
        };
        end.as_ref().unwrap().report(uploaded.clone());
        drop(end);
        let calls: Vec<MediaCall> = std::iter::from_fn(|| match smol::block_on(inbox.recv()) {
            Some(MediaRequest::Begin(call, _)) | Some(MediaRequest::Report(call)) => Some(call),
            None => None,
        })
        .take(3)
        .collect();
        assert!(matches!(calls[0], MediaCall::BeginUpload { .. }));
        assert_eq!(calls[1], uploaded);
        assert_eq!(calls[2], MediaCall::Ended { transfer: id });
        assert!(inbox.rx.try_recv().is_err());
    }

    #[test]
    fn a_full_begin_queue_is_busy_and_a_stopped_core_is_stopped() {
        let (queue, inbox) = MediaQueue::new();
        let mut kept = Vec::new();
        for _ in 0..BEGIN_QUEUE {
            let id = queue.next_id();
            let call = MediaCall::BeginUpload {
                transfer: id,
                ticket: String::new(),
                size: Some(1),
            };
            kept.push(queue.begin(id, call).unwrap());
        }
        let id = queue.next_id();
        let call = MediaCall::Ended { transfer: id };
        assert_eq!(queue.begin(id, call.clone()).unwrap_err(), Unanswered::Busy);
        // Taking one makes room for one.
        assert!(smol::block_on(inbox.recv()).is_some());
        let again = queue.begin(id, call.clone()).unwrap();
        std::mem::forget(again);
        drop(kept);
        drop(inbox);
        assert_eq!(queue.begin(id, call).unwrap_err(), Unanswered::Stopped);
    }
}
