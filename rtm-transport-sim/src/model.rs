//! The reference model: what the system should hold, kept by the simulator from what it sees
//! crossing node boundaries, and the pure rules the simulator checks against it.

use std::collections::VecDeque;

use rtm_proto::{
    ConnectionChangeReason as Reason, ConnectionState as State, PeerOnlineState, UserId,
};

/// §2.3: the transitions a client's `ConnectionStateChanged` sequence may take.
pub fn allowed_transition(from: State, to: State, reason: Reason) -> bool {
    use Reason as R;
    use State as S;
    matches!(
        (from, to, reason),
        (S::Disconnected, S::Connecting, R::Login)
            | (S::Connecting, S::Connected, R::LoginSuccess)
            | (
                S::Connecting,
                S::Disconnected,
                R::LoginFailure | R::LoginTimeout | R::Logout
            )
            | (S::Connected, S::Reconnecting, R::Interrupted)
            | (S::Connected, S::Disconnected, R::Logout)
            | (
                S::Connected,
                S::Aborted,
                R::RemoteLogin | R::BannedByServer | R::TokenExpired
            )
            | (S::Reconnecting, S::Connected, R::LoginSuccess)
            | (S::Reconnecting, S::Disconnected, R::Logout)
            // TOKEN_EXPIRED from RECONNECTING: the server ended the session when its token
            // expired while it was attached, and the client, whose link died just then,
            // learns it when it tries to resume (the server's tombstone answers).
            | (
                S::Reconnecting,
                S::Aborted,
                R::RemoteLogin | R::BannedByServer | R::TokenExpired
            )
            | (S::Aborted, S::Disconnected, R::Logout)
    )
}

/// What the sender was told about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not answered yet.
    Pending,
    Received,
    Cached,
    Unreachable,
    /// An error response (its §8 code).
    Failed(u32),
}

/// One delivery of a message to its receiver's application.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub at: u64,
    pub node: usize,
    /// Server crashes so far when it was delivered.
    pub crash: u32,
    /// The server session (incarnation, session-id hash) the receiver was in.
    pub session: (u32, u64),
}

/// One message a workload sent.
#[derive(Debug, Clone)]
pub struct MsgRec {
    pub from_user: usize,
    pub from_node: usize,
    pub to: usize,
    pub offline: bool,
    pub raw: bool,
    /// `Message::counted_len` of the body.
    pub len: usize,
    pub sent_at: u64,
    /// Server crashes so far when it was sent.
    pub sent_crash: u32,
    /// Position among the messages this sender node sent to this receiver.
    pub pair_index: u64,
    pub outcome: Outcome,
    pub outcome_at: u64,
    /// Server crashes so far when the outcome arrived.
    pub outcome_crash: u32,
    /// The receiver's backlog-overflow epoch when the message was sent.
    pub overflow_mark: u64,
    pub deliveries: Vec<Delivery>,
    /// Sent by the post-heal probe (must be `Received`).
    pub probe: bool,
    /// Still counted in the receiver's backlog.
    pub in_backlog: bool,
}

/// The server's session of one user, as the model expects it.
#[derive(Debug, Clone)]
pub struct SessModel {
    pub sid: String,
    /// Last time the server heard from it (login, resume, or any frame on its connection).
    pub last_rx: u64,
    /// It went UNREACHABLE and came back since the server last reported UNREACHABLE.
    pub recovered: bool,
}

/// One entry of a user's presence history: from `at` on, the server said `state`.
#[derive(Debug, Clone, Copy)]
pub struct TruthEntry {
    pub seq: u64,
    pub at: u64,
    pub state: PeerOnlineState,
}

/// How many presence changes per user are remembered.
pub const TRUTH_WINDOW: usize = 256;

/// One user id.
#[derive(Debug, Clone)]
pub struct UserRec {
    pub id: UserId,
    /// Never logs in.
    pub ghost: bool,
    /// Client nodes logging in as this user.
    pub nodes: Vec<usize>,
    pub session: Option<SessModel>,
    /// Session ids of this user that the current server incarnation replaced by a newer
    /// login (kicked): a resume of one of them must not kick anyone.
    pub kicked_sids: std::collections::BTreeSet<String>,
    /// Session ids of this user that the current server incarnation banned.
    pub banned_sids: std::collections::BTreeSet<String>,
    pub truth: VecDeque<TruthEntry>,
    /// Messages to this user the server may still hold (accepted, and neither acknowledged
    /// — `Received` — nor refused — `Unreachable`): an upper bound on what can land in its
    /// offline store. Delivery alone does not count: until its ack reaches the server, a
    /// delivered message is kept, and goes back to the store if the session ends.
    pub backlog: usize,
    /// Bumped whenever `backlog` exceeds the per-user offline cap (eviction possible).
    pub overflow_epoch: u64,
}

impl UserRec {
    /// A user that is offline at time 0.
    pub fn new(id: UserId, ghost: bool, seq: &mut u64) -> Self {
        let mut truth = VecDeque::new();
        truth.push_back(TruthEntry {
            seq: *seq,
            at: 0,
            state: PeerOnlineState::Offline,
        });
        *seq += 1;
        UserRec {
            id,
            ghost,
            nodes: Vec::new(),
            session: None,
            kicked_sids: Default::default(),
            banned_sids: Default::default(),
            truth,
            backlog: 0,
            overflow_epoch: 0,
        }
    }

    /// The latest recorded presence.
    pub fn current(&self) -> TruthEntry {
        *self.truth.back().expect("never empty")
    }

    /// Records the server's presence of this user at `at`; true if it changed.
    pub fn record(&mut self, seq: &mut u64, at: u64, state: PeerOnlineState) -> bool {
        if self.current().state == state {
            return false;
        }
        if self.truth.len() == TRUTH_WINDOW {
            self.truth.pop_front();
        }
        self.truth.push_back(TruthEntry {
            seq: *seq,
            at,
            state,
        });
        *seq += 1;
        true
    }

    /// A subscriber whose last report matched history entry `cursor` now reports `state`:
    /// the first entry at or after the cursor with that state (order-preserving
    /// subsequence). `None` if there is none; lenient when the cursor left the window.
    pub fn match_report(&self, cursor: u64, state: PeerOnlineState) -> Option<u64> {
        let front = self.truth.front().expect("never empty").seq;
        let lenient = front > cursor;
        for e in &self.truth {
            if (lenient || e.seq >= cursor) && e.state == state {
                return Some(e.seq);
            }
        }
        lenient.then_some(cursor)
    }

    /// Whether the server said "online" (`!= Offline`) equal to `online` at some moment of
    /// `[from, to]`. `None` when that stretch has left the window.
    pub fn online_at_some_point(&self, from: u64, to: u64, online: bool) -> Option<bool> {
        let front = self.truth.front().expect("never empty");
        if front.at > from && front.seq != 0 {
            return None;
        }
        let n = self.truth.len();
        for (i, e) in self.truth.iter().enumerate() {
            let end = if i + 1 < n {
                self.truth[i + 1].at
            } else {
                u64::MAX
            };
            let overlaps = e.at <= to && end > from;
            if overlaps && (e.state != PeerOnlineState::Offline) == online {
                return Some(true);
            }
        }
        Some(false)
    }
}

/// A 64-bit hash of a session id (to record which server session a delivery was in).
pub fn sid_hash(sid: &str) -> u64 {
    let mut h = crate::trace::Hash64::default();
    h.bytes(sid.as_bytes());
    h.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        assert!(allowed_transition(
            State::Disconnected,
            State::Connecting,
            Reason::Login
        ));
        assert!(!allowed_transition(
            State::Disconnected,
            State::Connected,
            Reason::LoginSuccess
        ));
        assert!(!allowed_transition(
            State::Connecting,
            State::Aborted,
            Reason::RemoteLogin
        ));
        assert!(allowed_transition(
            State::Aborted,
            State::Disconnected,
            Reason::Logout
        ));
    }

    #[test]
    fn reports_follow_history_in_order() {
        let mut seq = 0;
        let mut u = UserRec::new(UserId::new("a").unwrap(), false, &mut seq);
        u.record(&mut seq, 10, PeerOnlineState::Online);
        u.record(&mut seq, 20, PeerOnlineState::Unreachable);
        u.record(&mut seq, 30, PeerOnlineState::Online);
        let c = u.match_report(0, PeerOnlineState::Unreachable).unwrap();
        assert_eq!(c, 2);
        assert_eq!(u.match_report(c, PeerOnlineState::Online), Some(3));
        assert!(u.match_report(3, PeerOnlineState::Offline).is_none());
        assert_eq!(u.online_at_some_point(0, 5, true), Some(false));
        assert_eq!(u.online_at_some_point(0, 10, true), Some(true));
        assert_eq!(u.online_at_some_point(25, 26, false), Some(false));
    }
}
