//! The road between the HTTP tasks and the core task for the operator's plane: REST calls
//! (`/v1`, answered by the core) and metric snapshots (`/metrics`).
//!
//! An HTTP task puts an [`AdminRequest`] on a bounded queue ([`AdminQueue`]) with a one-shot
//! channel for the answer and waits; the core task hands a call to the core under an
//! [`AdminCallId`] of its own and keeps the answer's channel in [`Pending`] until the core's
//! [`AdminReply`] comes out. Both bounds are the driver's (like a connection's outbound
//! queue): past either, the call is answered 503 `busy` without reaching the core, so a flood
//! of REST calls holds a fixed amount of memory. When the core task is gone (the server is
//! stopping) every waiting call gets 503 too.

use std::collections::BTreeMap;

use async_channel::{Receiver, Sender, TrySendError};
use bytes::Bytes;
use rtm_proto::server::admin::{AdminCall, AdminCallId, AdminReply, Method};
use rtm_proto::server::metrics::MetricSample;

/// REST calls and snapshot requests waiting for the core task, at most.
pub const ADMIN_QUEUE: usize = 256;

/// REST calls handed to the core and not yet answered, at most (a `wait_for_ack` send waits
/// up to 10 s in the core).
pub const MAX_PENDING_CALLS: usize = 4096;

/// A REST call as the HTTP task read it; the core task gives it its id.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

impl Call {
    fn with_id(self, id: AdminCallId) -> AdminCall {
        AdminCall {
            id,
            method: self.method,
            path: self.path,
            query: self.query,
            authorization: self.authorization,
            body: self.body,
        }
    }
}

/// What the metrics endpoint needs from the core task: the core's series and what only the
/// core task can sum (the connections' outbound queues).
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub core: Vec<MetricSample>,
    /// Frames queued for all connections and not yet handed to their sockets.
    pub queued_frames: u64,
    /// Bytes of those frames.
    pub queued_bytes: u64,
}

/// One request of an HTTP task to the core task, with where to put the answer.
#[derive(Debug)]
pub(crate) enum AdminRequest {
    Call(Call, Sender<AdminReply>),
    Snapshot(Sender<Snapshot>),
}

/// Why a request got no answer from the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unanswered {
    /// The queue to the core task (or its table of pending calls) is full.
    #[error("too many requests are waiting for the server")]
    Busy,
    /// The core task has stopped.
    #[error("the server is stopping")]
    Stopped,
}

/// The HTTP tasks' end of the queue to the core task.
#[derive(Debug, Clone)]
pub(crate) struct AdminQueue {
    tx: Sender<AdminRequest>,
}

impl AdminQueue {
    /// The queue and the core task's end of it.
    pub(crate) fn new() -> (AdminQueue, Receiver<AdminRequest>) {
        let (tx, rx) = async_channel::bounded(ADMIN_QUEUE);
        (AdminQueue { tx }, rx)
    }

    /// Hands `call` to the core and waits for its answer.
    pub(crate) async fn call(&self, call: Call) -> Result<AdminReply, Unanswered> {
        let (reply, answer) = async_channel::bounded(1);
        self.push(AdminRequest::Call(call, reply))?;
        answer.recv().await.map_err(|_| Unanswered::Stopped)
    }

    /// The core's metrics now.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, Unanswered> {
        let (reply, answer) = async_channel::bounded(1);
        self.push(AdminRequest::Snapshot(reply))?;
        answer.recv().await.map_err(|_| Unanswered::Stopped)
    }

    fn push(&self, request: AdminRequest) -> Result<(), Unanswered> {
        self.tx.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => Unanswered::Busy,
            TrySendError::Closed(_) => Unanswered::Stopped,
        })
    }
}

/// The answer to a call the driver has no room for, in the core's shape (`openapi.yaml`,
/// `Failure`).
pub(crate) fn busy(id: AdminCallId) -> AdminReply {
    AdminReply {
        id,
        status: 503,
        body: Bytes::from_static(
            br#"{"result":"failed","request_id":"0","code":"busy","message":"too many requests are waiting for the server"}"#,
        ),
        retry_after_secs: Some(1),
        challenge: false,
    }
}

/// The core task's table of calls handed to the core and not yet answered.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    waiting: BTreeMap<AdminCallId, Sender<AdminReply>>,
    next: u64,
}

impl Pending {
    /// Takes `call` in under a fresh id: the call to hand to the core. When the table is full
    /// even after forgetting the calls whose HTTP client has gone away, answers 503 `busy`
    /// itself (`None`).
    pub(crate) fn admit(&mut self, call: Call, reply: Sender<AdminReply>) -> Option<AdminCall> {
        if self.waiting.len() >= MAX_PENDING_CALLS {
            // The core still answers those calls; their answers then find no one.
            self.waiting.retain(|_, reply| !reply.is_closed());
            if self.waiting.len() >= MAX_PENDING_CALLS {
                let _ = reply.try_send(busy(AdminCallId(0)));
                return None;
            }
        }
        self.next += 1;
        let id = AdminCallId(self.next);
        self.waiting.insert(id, reply);
        Some(call.with_id(id))
    }

    /// Delivers the core's answer to whoever waits for it (if anyone still does).
    pub(crate) fn answer(&mut self, reply: AdminReply) {
        if let Some(waiting) = self.waiting.remove(&reply.id) {
            let _ = waiting.try_send(reply);
        }
    }

    /// Calls waiting for their answer (the core exports their count as
    /// `rtm_admin_pending_calls`).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call {
            method: Method::Get,
            path: "/v1/x".into(),
            query: String::new(),
            authorization: None,
            body: Bytes::new(),
        }
    }

    fn reply(id: AdminCallId) -> AdminReply {
        AdminReply {
            id,
            status: 200,
            body: Bytes::from_static(b"{}"),
            retry_after_secs: None,
            challenge: false,
        }
    }

    #[test]
    fn answers_reach_their_callers_and_the_table_stays_bounded() {
        let mut pending = Pending::default();
        let (tx, rx) = async_channel::bounded(1);
        let a = pending.admit(call(), tx).expect("room");
        let (tx, rx_b) = async_channel::bounded(1);
        let b = pending.admit(call(), tx).expect("room");
        assert_ne!(a.id, b.id);
        pending.answer(reply(b.id));
        assert_eq!(rx_b.try_recv().map(|r| r.id), Ok(b.id));
        assert!(rx.try_recv().is_err(), "a is still waiting");
        pending.answer(reply(b.id)); // twice: ignored
        assert_eq!(pending.len(), 1);

        // Full: calls whose client left make room; live ones are never dropped.
        let mut live = vec![rx];
        for _ in 1..MAX_PENDING_CALLS {
            let (tx, rx) = async_channel::bounded(1);
            pending.admit(call(), tx).expect("room");
            live.push(rx);
        }
        let (tx, refused) = async_channel::bounded(1);
        assert!(pending.admit(call(), tx).is_none(), "full of live calls");
        assert_eq!(refused.try_recv().map(|r| r.status), Ok(503));
        live.truncate(10);
        let (tx, _rx) = async_channel::bounded(1);
        pending.admit(call(), tx).expect("room once clients left");
        assert_eq!(pending.len(), 11);
    }
}
