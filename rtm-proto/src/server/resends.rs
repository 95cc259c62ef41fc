//! Resends: which sends the server has already taken, so that a resend after a lost answer is
//! answered instead of delivered twice (§4.3, §4.8).
//!
//! A send is named by its sender, its destination (a peer or a channel) and the sender's
//! `msg_id`. A repeat with the same name and the same content (kind and bytes, compared by
//! [`crate::Message::digest`]) is a resend: it gets the first send's outcome, or waits for it.
//! The same `msg_id` to another destination is another send. The same name with other
//! content is refused (`FAILURE`): the receiver's client drops a push whose `(from, msg_id)`
//! it has delivered already, so delivering it would earn a receipt for a message nobody saw.
//!
//! Bounded in time ([`super::ServerConfig::dedup_window`]) and in bytes
//! ([`super::ServerConfig::dedup_bytes`]). When the byte bound is reached the oldest settled
//! sends are forgotten early (a resend of one of those is delivered again; the receiver's
//! client still drops it if its session saw it). Sends still waiting for their outcome are
//! never forgotten, so no request goes unanswered; if they alone fill the table, new sends
//! are refused with `FAILURE` until outcomes arrive.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;

use crate::ids::{ChannelId, UserId};
use crate::time::Timestamp;
use crate::wire::PeerMessageOutcome;

use super::keyed::KeyedState;

/// Where a send goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Target {
    Peer(UserId),
    Channel(ChannelId),
}

/// The name of one send across its resends.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct SendKey {
    pub from: UserId,
    pub to: Target,
    pub msg_id: u64,
}

impl Target {
    /// Bytes of the destination's id.
    pub fn id_len(&self) -> usize {
        match self {
            Target::Peer(u) => u.as_str().len(),
            Target::Channel(c) => c.as_str().len(),
        }
    }
}

impl SendKey {
    /// What one remembered send costs: the key is held twice (map and age queue), plus the
    /// map node, the entry and the queue slot, rounded up.
    fn weight(&self) -> usize {
        2 * (self.from.as_str().len() + self.to.id_len()) + ENTRY_OVERHEAD
    }
}

/// Bytes counted per remembered send beside its ids.
const ENTRY_OVERHEAD: usize = 192;

/// Requests of one sender waiting for the same send's outcome (the first and its repeats on
/// later connections). A further repeat is refused at once, so every request is answered.
pub(super) const MAX_WAITERS: usize = 4;

/// A request waiting for the outcome of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waiter {
    /// A `peer_message` request `request` on the sender's session of `epoch`.
    Session { epoch: u64, request: u32 },
    /// A REST call sending as the user (`admin/send.rs`), with the send's `msg_id`: a
    /// driver may reuse a call id once it is answered, so the id alone could name a later
    /// call.
    Admin {
        call: super::admin::AdminCallId,
        msg_id: u64,
    },
}

#[derive(Debug)]
struct Entry {
    digest: u64,
    fate: Fate,
    waiters: Vec<Waiter>,
}

/// Where a remembered send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Its outcome is still to come.
    Pending,
    Settled(PeerMessageOutcome),
    /// Its message could not be stored and is kept nowhere: a resend is answered the
    /// same FAILURE (the client resends an unanswered request on every new link, and such a
    /// resend may cross the answer: taken as new, it would be stored and delivered while
    /// the application heard "not stored" and sends it again). Ages out like a settled one.
    NotStored,
}

impl Fate {
    fn of(outcome: Option<PeerMessageOutcome>) -> Fate {
        outcome.map_or(Fate::Pending, Fate::Settled)
    }
}

/// What the table knows of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Not seen within the window.
    New,
    /// Seen with other content: a reused `msg_id`.
    Conflict,
    /// Seen and settled.
    Done(PeerMessageOutcome),
    /// Seen, outcome still to come.
    Pending,
    /// Seen, and its message could not be stored (answered FAILURE).
    NotStored,
}

/// What [`Resends::settle`] did.
#[derive(Debug)]
pub(super) struct Settled {
    /// This was the send's first outcome (it was pending).
    pub first: bool,
    /// The requests waiting for it, to answer.
    pub waiters: Vec<Waiter>,
}

/// A send's place in the table: its key behind the key's hash (`keyed.rs`: keyed from the
/// server's seed, so a client cannot make its sends collide). Ordered by the hash first, so a
/// lookup compares numbers down the tree and the ids only where the hashes are equal.
///
/// A B-tree, not a hash table: the table holds every send of the last 120 s, hundreds of
/// thousands under load, and a hash table grows by moving all its entries at once — at
/// 17 000 sends a second that stalled the core for tens of milliseconds, the peer
/// round trip's p99 (`rtm-bench peer`). A B-tree grows a node at a time. With string keys
/// it cost a dozen string compares a lookup instead (a tenth of a routed message).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    hash: u64,
    key: SendKey,
}

/// Recently taken sends, bounded in time and bytes.
#[derive(Debug)]
pub(super) struct Resends {
    window: Duration,
    max_bytes: usize,
    bytes: usize,
    /// Ordered by each key's keyed hash first (`Slot`): every send is looked up three or
    /// four times, and comparing numbers is what makes that cheap.
    entries: BTreeMap<Slot, Entry>,
    hashing: KeyedState,
    /// Keys by age. A pending send that reaches the front is moved to the back instead of
    /// being forgotten.
    order: VecDeque<(Timestamp, SendKey)>,
}

impl Resends {
    pub fn new(window: Duration, max_bytes: usize, hashing: KeyedState) -> Self {
        Resends {
            window,
            max_bytes,
            bytes: 0,
            entries: BTreeMap::new(),
            hashing,
            order: VecDeque::new(),
        }
    }

    fn slot(&self, key: &SendKey) -> Slot {
        Slot {
            hash: self.hashing.hash_one(key),
            key: key.clone(),
        }
    }

    /// Sends remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes counted against [`super::ServerConfig::dedup_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets settled sends older than the window; pending ones go to the back.
    pub fn expire(&mut self, now: Timestamp) {
        // Each key is looked at once per call at most: a requeued one carries `now`.
        while let Some((at, _)) = self.order.front() {
            if now.since(*at) < self.window {
                break;
            }
            let Some((_, key)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&self.slot(&key))
                .is_some_and(|e| e.fate == Fate::Pending)
            {
                self.order.push_back((now, key));
            } else {
                self.forget(&key);
            }
        }
    }

    /// Whether `key` is remembered and still waits for its outcome.
    pub fn lookup(&self, key: &SendKey, digest: u64) -> Lookup {
        match self.entries.get(&self.slot(key)) {
            None => Lookup::New,
            Some(e) if e.digest != digest => Lookup::Conflict,
            Some(e) => match e.fate {
                Fate::Settled(outcome) => Lookup::Done(outcome),
                Fate::NotStored => Lookup::NotStored,
                Fate::Pending => Lookup::Pending,
            },
        }
    }

    /// Adds a waiter to a pending send; `false` if it has [`MAX_WAITERS`] already.
    pub fn wait(&mut self, key: &SendKey, waiter: Waiter) -> bool {
        match self.entries.get_mut(&self.slot(key)) {
            Some(e) if e.fate == Fate::Pending && e.waiters.len() < MAX_WAITERS => {
                e.waiters.push(waiter);
                true
            }
            _ => false,
        }
    }

    /// Remembers a new send, settled (`outcome`) or pending (`waiter`). `false` if the table
    /// is full of pending sends: the caller refuses the send.
    pub fn insert(
        &mut self,
        now: Timestamp,
        key: SendKey,
        digest: u64,
        outcome: Option<PeerMessageOutcome>,
        waiter: Option<Waiter>,
    ) -> bool {
        debug_assert!(
            !self.entries.contains_key(&self.slot(&key)),
            "insert of a known send"
        );
        let weight = key.weight();
        // Forget the oldest settled sends; pending ones met on the way go to the back. Once
        // every remembered send left has been moved, all are pending: refuse.
        let mut moved = 0;
        while self.bytes + weight > self.max_bytes {
            if moved >= self.order.len() {
                return false;
            }
            let Some((at, oldest)) = self.order.pop_front() else {
                return false;
            };
            if self
                .entries
                .get(&self.slot(&oldest))
                .is_some_and(|e| e.fate == Fate::Pending)
            {
                moved += 1;
                self.order.push_back((at, oldest));
            } else {
                self.forget(&oldest);
            }
        }
        self.bytes += weight;
        let slot = self.slot(&key);
        self.order.push_back((now, key));
        self.entries.insert(
            slot,
            Entry {
                digest,
                fate: Fate::of(outcome),
                waiters: waiter.into_iter().collect(),
            },
        );
        debug_assert_eq!(self.entries.len(), self.order.len());
        true
    }

    /// Records `outcome` (unless `only_if_pending` and one is known) and hands back the
    /// waiters to answer.
    pub fn settle(
        &mut self,
        key: &SendKey,
        outcome: PeerMessageOutcome,
        only_if_pending: bool,
    ) -> Settled {
        match self.entries.get_mut(&self.slot(key)) {
            Some(e)
                if e.fate == Fate::Pending || (!only_if_pending && e.fate != Fate::NotStored) =>
            {
                let first = e.fate == Fate::Pending;
                e.fate = Fate::Settled(outcome);
                Settled {
                    first,
                    waiters: std::mem::take(&mut e.waiters),
                }
            }
            _ => Settled {
                first: false,
                waiters: Vec::new(),
            },
        }
    }

    /// Settles a pending send as not stored (its message is kept nowhere) and hands back
    /// its waiters, to be answered FAILURE; so are its resends.
    pub fn not_stored(&mut self, key: &SendKey) -> Vec<Waiter> {
        match self.entries.get_mut(&self.slot(key)) {
            Some(e) if e.fate == Fate::Pending => {
                e.fate = Fate::NotStored;
                std::mem::take(&mut e.waiters)
            }
            _ => Vec::new(),
        }
    }

    fn forget(&mut self, key: &SendKey) {
        if self.entries.remove(&self.slot(key)).is_some() {
            self.bytes -= key.weight();
        }
    }
}

/// The answer to a `msg_id` reused for other content.
pub(super) const MSG_ID_REUSED: &str =
    "msg_id already used for another message to this destination within 120 s; use a fresh id";
/// The answer when pending sends fill the table.
pub(super) const RESENDS_FULL: &str = "server busy: too many sends waiting for their outcome";
