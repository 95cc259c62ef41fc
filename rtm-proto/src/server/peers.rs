//! Peer-to-peer messages (§4.3): delivery with receipts, buffering, idempotent resends.
//!
//! A message to an attached receiver is pushed on the session's delivery stream and stays in the
//! session's unacknowledged queue until the receiver's client acknowledges it; only then is the
//! sender told `received`. A detached receiver (reconnecting, < 30 s) gets it buffered, an
//! offline receiver gets it stored if the sender asked for offline messaging, and either way
//! the sender is told `cached` once the message is durable (`durable.rs`); else `unreachable`.
//!
//! Resends are recognised by [`super::resends`]: the first outcome is answered again instead
//! of a second delivery.

use crate::errors::PeerMessageError;
use crate::ids::UserId;
use crate::message::Message;
use crate::wire::{PeerMessageOutcome, Push, Reply};

use super::offline::StoredMessage;
use super::resends::{Lookup, SendKey, Settled, Target, Waiter, MSG_ID_REUSED, RESENDS_FULL};
use super::stream::StreamPush;
use super::{ConnId, Server};

impl Server {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_peer_message(
        &mut self,
        conn: ConnId,
        from: &UserId,
        epoch: u64,
        id: u32,
        to: UserId,
        msg_id: u64,
        message: Message,
        offline: bool,
    ) {
        let key = SendKey {
            from: from.clone(),
            to: Target::Peer(to.clone()),
            msg_id,
        };
        let digest = message.digest();
        let waiter = Waiter::Session { epoch, request: id };
        // A resend: answer with the first outcome, or wait for it.
        match self.resends.lookup(&key, digest) {
            Lookup::Done(outcome) => {
                return self.reply(conn, Reply::PeerMessageResult { id, outcome })
            }
            Lookup::Pending if self.resends.wait(&key, waiter) => return,
            Lookup::Pending => {
                let e = PeerMessageError::Failure;
                return self.reply_error(
                    conn,
                    id,
                    e.code(),
                    "this send is already waiting for its outcome (too many repeats)",
                );
            }
            Lookup::NotStored => {
                let e = PeerMessageError::Failure;
                return self.reply_error(conn, id, e.code(), super::durable::NOT_STORED);
            }
            Lookup::Conflict => {
                let e = PeerMessageError::Failure;
                return self.reply_error(conn, id, e.code(), MSG_ID_REUSED);
            }
            Lookup::New => {}
        }
        let refuse = if !message.is_valid() {
            Some(PeerMessageError::InvalidMessage)
        } else if &to == from {
            Some(PeerMessageError::InvalidUserId)
        } else if message.media().is_some() && !self.decodes_media(&to) {
            Some(PeerMessageError::IncompatibleMessage)
        } else if !self.take_message_rate(from) {
            Some(PeerMessageError::TooOften)
        } else {
            None
        };
        if let Some(e) = refuse {
            self.counters.message("peer", "refused");
            let too_often = e == PeerMessageError::TooOften;
            return self.refuse_message(conn, from, id, e.code(), e.to_string(), too_often);
        }
        if !self
            .resends
            .insert(self.now, key.clone(), digest, None, Some(waiter))
        {
            let e = PeerMessageError::Failure;
            return self.reply_error(conn, id, e.code(), RESENDS_FULL);
        }
        self.route_peer_message(&to, key, message, offline);
    }

    /// Delivers a peer message taken under `key` (remembered, pending) to `to`: pushed to
    /// its session, kept offline (if `offline`), or refused `unreachable`. Its outcome
    /// reaches the waiters of `key` (see [`Server::resolve`]).
    pub(super) fn route_peer_message(
        &mut self,
        to: &UserId,
        key: SendKey,
        message: Message,
        offline: bool,
    ) {
        // What the encoded push will weigh, near enough for the byte bound (raw data
        // travels as base64).
        let message_len = 256
            + match &message {
                Message::Text { text } => text.len(),
                Message::Raw { data, description } => {
                    data.len().div_ceil(3) * 4 + description.len()
                }
                Message::File(media) | Message::Image(media) => {
                    media.thumbnail.len().div_ceil(3) * 4
                        + media.file_name.len()
                        + media.description.len()
                        + media.media_id.len()
                }
            };
        let stored = StoredMessage {
            key: key.clone(),
            message,
            server_ts: self.unix_ms(),
            offline: false,
            record: None,
            pushed: false,
        };
        match self.sessions.get(to) {
            Some(s) if self.stream_limits().full(&s.stream, message_len) => {
                // The receiver's stream is full (it is away, or not acknowledging): refuse
                // rather than grow it, or store it out of order behind the buffered ones.
                self.resolve_if_pending(&key, PeerMessageOutcome::Unreachable);
            }
            // Attached: answered `received` on the ack. Detached: `cached` once durable.
            Some(_) => self.push_stored(to, stored),
            None => self.store_offline_or_refuse(to, stored, offline),
        }
    }

    /// A message to a user with no session: kept if the sender asked for offline messaging
    /// and the store as a whole has room (`cached` once durable), else `unreachable`.
    fn store_offline_or_refuse(&mut self, to: &UserId, mut stored: StoredMessage, offline: bool) {
        stored.offline = true;
        if offline && self.offline.admits(&stored) {
            self.keep_offline(to, stored);
        } else {
            self.resolve_if_pending(&stored.key, PeerMessageOutcome::Unreachable);
        }
    }

    /// Appends a peer message to `to`'s delivery stream (the offline store if `to` has no
    /// session); a message only the server holds (no session, or a detached one) is made
    /// durable, and its sender answered `cached` once it is.
    pub(super) fn push_stored(&mut self, to: &UserId, mut stored: StoredMessage) {
        let Some(attached) = self.sessions.get(to).map(|s| s.conn.is_some()) else {
            return self.keep_offline(to, stored);
        };
        if stored.message.media().is_some() && !self.decodes_media(to) {
            // Kept for a user whose client turned out to be too old for it (it logged in
            // with version 1): dropped, as the client could not decode it. A send still
            // waiting (one through the REST API) hears `unreachable`.
            self.delete_record(stored.record);
            return self.resolve_if_pending(&stored.key, PeerMessageOutcome::Unreachable);
        }
        if !attached {
            self.hold_durably(to, &mut stored);
        }
        let frame = Push::encode_message(
            &stored.key.from,
            stored.key.msg_id,
            &stored.message,
            stored.server_ts,
            stored.offline,
        );
        let pushed = self.push_stream(to, frame, Some(stored));
        debug_assert_ne!(pushed, StreamPush::Dropped, "a peer message is always kept");
    }

    /// Records `outcome` for `key` unless one is already known.
    pub(super) fn resolve_if_pending(&mut self, key: &SendKey, outcome: PeerMessageOutcome) {
        let settled = self.resends.settle(key, outcome, true);
        self.answer_settled(key, settled, outcome);
    }

    /// Whether `uid`'s client decodes FILE and IMAGE messages (true with no session: what
    /// logs in next is checked then).
    pub(super) fn decodes_media(&self, uid: &UserId) -> bool {
        self.sessions
            .get(uid)
            .is_none_or(|s| s.version >= crate::wire::MEDIA_VERSION)
    }

    /// Records `outcome` for `key` and tells the waiting requests.
    pub(super) fn resolve(&mut self, key: &SendKey, outcome: PeerMessageOutcome) {
        let settled = self.resends.settle(key, outcome, false);
        self.answer_settled(key, settled, outcome);
    }

    /// Counts a peer message's first outcome and answers its waiters.
    fn answer_settled(&mut self, key: &SendKey, settled: Settled, outcome: PeerMessageOutcome) {
        if settled.first {
            self.counters.message("peer", outcome.as_str());
        }
        self.answer_waiters(&key.from, settled.waiters, SendAnswer::Outcome(outcome));
    }

    /// Answers each waiter of a send: a request that came on the sender's current session
    /// on the connection it is on now (requests of an ended session have no one to hear
    /// them), a REST call through the admin plane.
    pub(super) fn answer_waiters(
        &mut self,
        from: &UserId,
        waiters: Vec<Waiter>,
        answer: SendAnswer,
    ) {
        for waiter in waiters {
            match waiter {
                Waiter::Session { epoch, request } => {
                    let conn = self
                        .sessions
                        .get(from)
                        .filter(|s| s.epoch == epoch)
                        .and_then(|s| s.conn);
                    let Some(conn) = conn else {
                        continue;
                    };
                    let reply = match answer {
                        SendAnswer::Outcome(outcome) => Reply::PeerMessageResult {
                            id: request,
                            outcome,
                        },
                        SendAnswer::NotStored => Reply::Error {
                            id: request,
                            code: PeerMessageError::Failure.code(),
                            message: super::durable::NOT_STORED.into(),
                        },
                    };
                    self.reply(conn, reply);
                }
                Waiter::Admin { call, msg_id } => self.admin_send_settled(call, msg_id, answer),
            }
        }
    }
}

/// What the waiters of a send are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendAnswer {
    Outcome(PeerMessageOutcome),
    /// Its message could not be stored and is kept nowhere.
    NotStored,
}
