//! Durable state: what the core asks its driver to keep on disk, and what it does with the
//! answers.
//!
//! The core does no IO. It emits [`StorageOp`]s (as [`super::ServerOutput::Storage`]) and
//! hears their completions as [`StorageEvent`]s (as [`super::ServerInput::Storage`]); at
//! start the driver hands back what it kept with [`super::Server::restore`].
//!
//! # What is durable
//!
//! Ban rules of the REST API (`admin/bans.rs`): written when made, deleted when they end.
//! Uploaded media (`media/`): written when the file is in place (the upload is answered
//! once the record commits), deleted when it expires after 7 days.
//!
//! Peer messages the server answers `cached` (§4.3.4): a message that comes to rest where
//! only the server holds it — the offline store, or the delivery stream of a *detached*
//! session (its connection dropped, the session waits for a resume) — is written, and its
//! sender hears `cached` only once the write has committed. The record is deleted once the
//! receiver's client acknowledges the message, or the store's rules drop it (the newest of
//! 200 evicting the oldest, 7 days). Sessions, presence, channels and attributes are soft
//! state: a restart ends them.
//!
//! # When a write fails
//!
//! A write reported failed, or not committed within
//! [`super::ServerConfig::storage_write_timeout`], leaves the message undurable:
//!
//! * in the offline store, never sent to the receiver, it is dropped and its waiting sender
//!   is answered `PeerMessageError::FAILURE` (1); a resend with the same `msg_id` gets the
//!   same answer (the client resends on every new link, and a resend crossing the answer
//!   must not be stored behind it); a new send (new `msg_id`) may find the disk back. One
//!   the store's newest evicted meanwhile is gone by the store's own rule: its sender is
//!   not answered (it may have been shown), and its request times out;
//! * anywhere else it may already be on the receiver's screen (it was sent before the
//!   connection dropped or the session ended), so it stays in memory: in a detached
//!   session's stream for the resume, in the offline store for the next login. Its sender is
//!   not answered `cached`: it hears `received` if the receiver acknowledges, else nothing
//!   (its request times out). A message in a stream is written again if its session ends.
//!
//! # Driver contract
//!
//! * Carry out ops in the order emitted: a `Delete` may follow the `Write` of the same
//!   record before that write has committed, and must win.
//! * Report each `Write` exactly once, as committed (durable: synced to disk) or failed.
//!   Writes emitted close together may share one transaction (group commit).
//! * Never report deletes; retry a failed one until it succeeds (a record left behind would
//!   be delivered again after a restart).
//! * At start, before any input, hand every kept record to [`super::Server::restore`].

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::message::Message;

use super::offline::StoredMessage;
use super::resends::{SendKey, Target};

/// A durable record's id: assigned by the core in ascending order, never reused (across
/// restarts it continues after the largest restored id).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(pub u64);

/// What a record holds. Stored beside the body so operators (and migrations) can tell
/// records apart without decoding them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A peer message the server holds for its receiver (`owner`).
    PeerMessage,
    /// A ban rule of the REST API (`owner`: the banned user id or address).
    Ban,
    /// An uploaded file or image (`owner`: its uploader); its bytes are the driver's file.
    Media,
}

impl RecordKind {
    /// The record kind's name in a store (`"peer_message"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::PeerMessage => "peer_message",
            RecordKind::Ban => "ban",
            RecordKind::Media => "media",
        }
    }

    /// The kind named `name`, if this version knows it.
    pub fn from_name(name: &str) -> Option<RecordKind> {
        match name {
            "peer_message" => Some(RecordKind::PeerMessage),
            "ban" => Some(RecordKind::Ban),
            "media" => Some(RecordKind::Media),
            _ => None,
        }
    }
}

/// One durable record as a driver keeps it. The body is the core's business (JSON, so an
/// operator can read it); the other fields are for the store's indexes and for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: RecordId,
    pub kind: RecordKind,
    /// Whose record it is (a peer message's receiver).
    pub owner: String,
    /// Unix ms at which the server created it (a peer message's `server_ts`).
    pub created_ms: u64,
    pub body: Bytes,
}

/// Storage work for the driver ([`super::ServerOutput::Storage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageOp {
    /// Keep `record`; report the outcome with [`StorageEvent`].
    Write(Record),
    /// Forget the record (no report; idempotent, retried until done).
    Delete(RecordId),
}

/// What became of writes ([`super::ServerInput::Storage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageEvent {
    /// These writes are durable.
    Committed(Vec<RecordId>),
    /// These writes did not happen (disk full, IO error): the records are not kept.
    Failed(Vec<RecordId>),
}

/// What [`super::Server::restore`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Peer messages now held again for their receivers.
    pub messages: usize,
    /// Records dropped as they came back: past the 7-day retention, or evicted by the
    /// per-receiver bounds (their deletes are queued as outputs).
    pub dropped: usize,
    /// Ban rules in force again. Those expired meanwhile count as `dropped` (their records
    /// are deleted).
    pub bans: usize,
    /// Media live again. Those expired meanwhile count as `dropped` (their records are
    /// deleted and their files removed).
    pub media: usize,
    /// Records whose body this version cannot read: left in the store untouched (and not
    /// deleted), for an operator to look at.
    pub unreadable: usize,
}

/// A peer message record's body.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerMessageBody {
    /// Body format version.
    v: u32,
    from: UserId,
    to: UserId,
    msg_id: u64,
    server_ts: u64,
    message: Message,
}

const BODY_VERSION: u32 = 1;

/// The record of `m` (a peer message to `to`) under `id`.
pub(super) fn peer_message_record(id: RecordId, to: &UserId, m: &StoredMessage) -> Record {
    let body = PeerMessageBody {
        v: BODY_VERSION,
        from: m.key.from.clone(),
        to: to.clone(),
        msg_id: m.key.msg_id,
        server_ts: m.server_ts,
        message: m.message.clone(),
    };
    let body = serde_json::to_vec(&body).expect("a peer message body always serializes");
    Record {
        id,
        kind: RecordKind::PeerMessage,
        owner: to.as_str().to_string(),
        created_ms: m.server_ts,
        body: Bytes::from(body),
    }
}

/// The peer message a record holds, with its receiver; `None` if unreadable.
pub(super) fn peer_message_of(record: &Record) -> Option<(UserId, StoredMessage)> {
    if record.kind != RecordKind::PeerMessage {
        return None;
    }
    let body: PeerMessageBody = serde_json::from_slice(&record.body).ok()?;
    if body.v != BODY_VERSION || !body.message.is_valid() || body.from == body.to {
        return None;
    }
    let stored = StoredMessage {
        key: SendKey {
            from: body.from,
            to: Target::Peer(body.to.clone()),
            msg_id: body.msg_id,
        },
        message: body.message,
        server_ts: body.server_ts,
        offline: true,
        record: Some(record.id),
        // It may have been: a receiver's client drops a redelivery by `(from, msg_id)`.
        pushed: true,
    };
    Some((body.to, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_message_record_reads_back() {
        let to = UserId::new("bob").unwrap();
        let m = StoredMessage {
            key: SendKey {
                from: UserId::new("alice").unwrap(),
                to: Target::Peer(to.clone()),
                msg_id: 7,
            },
            message: Message::raw(vec![0, 1, 255], "bin"),
            server_ts: 1_700_000_000_000,
            offline: false,
            record: None,
            pushed: false,
        };
        let record = peer_message_record(RecordId(3), &to, &m);
        assert_eq!(record.owner, "bob");
        assert_eq!(record.created_ms, 1_700_000_000_000);
        let (back_to, back) = peer_message_of(&record).expect("readable");
        assert_eq!(back_to, to);
        assert_eq!(back.key, m.key);
        assert_eq!(back.message, m.message);
        assert_eq!(back.record, Some(RecordId(3)));
        assert!(
            back.offline,
            "a restored message comes from the offline store"
        );
    }

    #[test]
    fn a_garbled_body_is_unreadable_not_a_panic() {
        for body in [
            &b""[..],
            b"{}",
            b"{\"v\":2}",
            b"\xff\xfe",
            b"{\"v\":1,\"from\":\"a\",\"to\":\"a\",\"msg_id\":1,\"server_ts\":1,\"message\":{\"kind\":\"text\",\"text\":\"x\"}}",
        ] {
            let record = Record {
                id: RecordId(1),
                kind: RecordKind::PeerMessage,
                owner: "a".into(),
                created_ms: 1,
                body: Bytes::copy_from_slice(body),
            };
            assert!(peer_message_of(&record).is_none());
        }
    }
}
