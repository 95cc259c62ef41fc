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
    // By destination: one arm per state a change may lead to.
    matches!(
        (from, to, reason),
        (S::Disconnected, S::Connecting, R::Login)
            | (S::Connecting | S::Reconnecting, S::Connected, R::LoginSuccess)
            | (S::Connected, S::Reconnecting, R::Interrupted)
            | (S::Connecting, S::Disconnected, R::LoginFailure | R::LoginTimeout)
            | (
                S::Connecting | S::Connected | S::Reconnecting | S::Aborted,
                S::Disconnected,
                R::Logout
            )
            // TOKEN_EXPIRED from RECONNECTING too: the server ended the session when its
            // token expired while it was attached, and the client, whose link died just
            // then, learns it when it tries to resume (the server's tombstone answers).
            | (
                S::Connected | S::Reconnecting,
                S::Aborted,
                R::RemoteLogin | R::BannedByServer | R::TokenExpired
            )
    )
}

/// The newest `n` entries of a history, newest first, as `show` writes them: the context
/// of a violation about a report that matches none of them.
pub fn newest_first<T>(history: &VecDeque<T>, n: usize, show: impl Fn(&T) -> String) -> String {
    let shown: Vec<String> = history.iter().rev().take(n).map(show).collect();
    shown.join(" ")
}

/// An entry of one of the model's histories: numbered in order (`seq`), from `at` on.
pub trait Dated {
    fn seq(&self) -> u64;
    fn at(&self) -> u64;
}

macro_rules! dated {
    ($($t:ty),*) => {
        $(impl Dated for $t {
            fn seq(&self) -> u64 {
                self.seq
            }
            fn at(&self) -> u64 {
                self.at
            }
        })*
    };
}
dated!(TruthEntry, MemberEntry, AttrVersion);

/// Appends `entry` to a history that keeps its newest `cap` entries.
fn push_bounded<T>(history: &mut VecDeque<T>, cap: usize, entry: T) {
    if history.len() == cap {
        history.pop_front();
    }
    history.push_back(entry);
}

/// Order-preserving matching of a report against a history: the first entry numbered
/// `from` or later that `fits`. When the window has dropped entries after `cursor` (the
/// entry the last report matched) it is lenient: no fit keeps the cursor.
fn first_fit<T: Dated>(
    history: &VecDeque<T>,
    cursor: u64,
    from: u64,
    fits: impl Fn(&T) -> bool,
) -> Option<u64> {
    let lenient = history.front().is_some_and(|e| e.seq() > cursor);
    history
        .iter()
        .find(|e| e.seq() >= from && fits(e))
        .map(Dated::seq)
        .or(lenient.then_some(cursor))
}

/// Whether some entry of `history` that held at a moment of `[from, to]` is `held`
/// (`Some(true)`) or none (`Some(false)`); `None` when that stretch left the window or
/// `held` cannot tell. `touching`: an entry that ended exactly at `from` counts too.
fn some_moment<T: Dated>(
    history: &VecDeque<T>,
    from: u64,
    to: u64,
    touching: bool,
    held: impl Fn(&T) -> Option<bool>,
) -> Option<bool> {
    let front = history.front().expect("never empty");
    if front.at() > from && front.seq() != 0 {
        return None;
    }
    for (i, e) in history.iter().enumerate() {
        let end = history.get(i + 1).map_or(u64::MAX, Dated::at);
        let overlaps = e.at() <= to && (end > from || (touching && end == from));
        if overlaps && held(e)? {
            return Some(true);
        }
    }
    Some(false)
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
    /// Peer messages the node had delivered before this one (its dedup memory is bounded).
    pub ordinal: u64,
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
    /// A write of its record committed (the store applied it).
    pub committed: bool,
    /// A write of its record failed or was undone before it committed (timed out): the
    /// server may have dropped it, and its sender's client resends it as a new send if
    /// the not-stored answer was lost.
    pub store_dropped: bool,
    /// When its sender heard FAILURE / not stored (the server dropped it).
    pub not_stored_at: Option<u64>,
    /// Crashes before the incarnation that gave that answer.
    pub not_stored_crash: u32,
    /// The server's last not-stored answer for it, and its last push of it to the receiver
    /// (`Sim::server_out_seq`): after the first, the second must not happen.
    pub not_stored_seq: u64,
    pub pushed_seq: u64,
    /// The server handled a send of it after answering not stored (a resend that crossed
    /// the answer, taken as a new send).
    pub resent_after_not_stored: bool,
    /// A record of it that the core had undone (its delete emitted before the write
    /// committed) committed late and came back after a crash lost the delete.
    pub late_commit_restored: bool,
}

/// The server's session of one user, as the model expects it.
#[derive(Debug, Clone)]
pub struct SessModel {
    pub sid: String,
    /// The client node that logged in to it.
    pub node: usize,
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
    /// Session ids of this user that the current server incarnation ended for any reason:
    /// a login the server answers with one of them must not be taken as a new session.
    pub ended_sids: std::collections::BTreeSet<String>,
    pub truth: VecDeque<TruthEntry>,
    /// Messages to this user the server may still hold (accepted, and neither acknowledged
    /// — `Received` — nor refused — `Unreachable`): an upper bound on what can land in its
    /// offline store. Delivery alone does not count: until its ack reaches the server, a
    /// delivered message is kept, and goes back to the store if the session ends.
    pub backlog: usize,
    /// Bumped whenever `backlog` exceeds the per-user offline cap (eviction possible).
    pub overflow_epoch: u64,
    /// The user's attributes as the server's session holds them (§4.5).
    pub attrs: std::collections::BTreeMap<String, String>,
    /// Their history: from `.0` on, the server held `.1` (`None`: no session).
    pub attr_hist: VecDeque<(u64, Option<std::collections::BTreeMap<String, String>>)>,
    /// Connections the server heard the current session on, with when first (bounded).
    pub session_conns: Vec<(u64, u64)>,
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
            ended_sids: Default::default(),
            truth,
            backlog: 0,
            overflow_epoch: 0,
            attrs: Default::default(),
            attr_hist: VecDeque::from([(0, None)]),
            session_conns: Vec::new(),
        }
    }

    /// Records the user's attributes (`None`: no session) from `at` on.
    pub fn record_attrs(&mut self, at: u64, session: bool) {
        let v = session.then(|| self.attrs.clone());
        push_bounded(&mut self.attr_hist, USER_ATTR_HISTORY, (at, v));
    }

    /// Whether a `getUserAttributes` answer (`None`: USER_NOT_FOUND) was the truth at some
    /// moment of `[from, to]`; `None` when that stretch left the window.
    pub fn attrs_between(
        &self,
        from: u64,
        to: u64,
        keys: Option<&[String]>,
        answer: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Option<bool> {
        let front = self.attr_hist.front().expect("never empty");
        if front.0 > from && front.0 != 0 {
            return None;
        }
        let n = self.attr_hist.len();
        for (i, (at, v)) in self.attr_hist.iter().enumerate() {
            let end = if i + 1 < n {
                self.attr_hist[i + 1].0
            } else {
                u64::MAX
            };
            let same = match (v, answer) {
                (None, None) => true,
                (Some(m), Some(a)) => &rtm_proto::attributes::select(m, keys) == a,
                _ => false,
            };
            if *at <= to && end >= from && same {
                return Some(true);
            }
        }
        Some(false)
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
        let entry = TruthEntry {
            seq: *seq,
            at,
            state,
        };
        push_bounded(&mut self.truth, TRUTH_WINDOW, entry);
        *seq += 1;
        true
    }

    /// A subscriber whose last report matched history entry `cursor` now reports `state`:
    /// the first entry at or after the cursor with that state (order-preserving
    /// subsequence). `None` if there is none; lenient when the cursor left the window.
    pub fn match_report(&self, cursor: u64, state: PeerOnlineState) -> Option<u64> {
        first_fit(&self.truth, cursor, cursor, |e| e.state == state)
    }

    /// Whether the server said "online" (`!= Offline`) equal to `online` at some moment of
    /// `[from, to]`. `None` when that stretch has left the window.
    pub fn online_at_some_point(&self, from: u64, to: u64, online: bool) -> Option<bool> {
        some_moment(&self.truth, from, to, false, |e| {
            Some((e.state != PeerOnlineState::Offline) == online)
        })
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

// ----- channels, attributes, invitations -----------------------------------------------------

/// Membership changes kept per channel (for MemberJoined/Left/CountUpdated reports; a push
/// can arrive long after, at a resume).
pub const CHAN_HISTORY: usize = 4096;
/// Attribute versions kept per channel (for AttributesUpdated and get reports) …
pub const ATTR_HISTORY: usize = 4096;
/// … the latest of which with their content (for reads by keys).
pub const ATTR_MAPS: usize = 64;
/// User-attribute versions kept per user.
pub const USER_ATTR_HISTORY: usize = 32;

/// One change of a channel's membership on the server.
#[derive(Debug, Clone, Copy)]
pub struct MemberEntry {
    pub seq: u64,
    pub at: u64,
    pub user: usize,
    pub joined: bool,
    /// The member count right after the change.
    pub count: u32,
}

/// One state of a channel's attribute store on the server, from `at` until the next.
#[derive(Debug, Clone)]
pub struct AttrVersion {
    pub seq: u64,
    pub at: u64,
    /// Made by a successful write with `enableNotificationToChannelMembers`.
    pub notified: bool,
    pub hash: u64,
    /// The content (dropped from older versions: [`ATTR_MAPS`]).
    pub map: Option<std::collections::BTreeMap<String, rtm_proto::attributes::ChannelAttribute>>,
}

/// One channel as the server should hold it.
#[derive(Debug, Clone)]
pub struct ChanModel {
    pub id: rtm_proto::ChannelId,
    /// The server holds an instance of it.
    pub exists: bool,
    /// Counts instances (the server forgets an empty channel and recreates it later).
    pub instance: u64,
    /// The server's name for the current instance, learned from `joined`.
    pub epoch: Option<u64>,
    pub members: std::collections::BTreeSet<usize>,
    pub attrs: std::collections::BTreeMap<String, rtm_proto::attributes::ChannelAttribute>,
    /// Empty with attributes: forgotten at this time (the grace period, §4.6).
    pub gc_deadline: Option<u64>,
    /// Messages accepted in the current instance, in `cseq` order (`cseq` = index + 1),
    /// with the time of acceptance.
    pub accepted: Vec<(usize, u64)>,
    pub history: VecDeque<MemberEntry>,
    pub versions: VecDeque<AttrVersion>,
}

/// Hash of a channel attribute set (value, writer, timestamp of every key).
pub fn attrs_hash(
    map: &std::collections::BTreeMap<String, rtm_proto::attributes::ChannelAttribute>,
) -> u64 {
    let mut h = crate::trace::Hash64::default();
    h.word(map.len() as u64);
    for (k, v) in map {
        h.bytes(k.as_bytes());
        h.bytes(v.value.as_bytes());
        h.bytes(v.last_update_user_id.as_str().as_bytes());
        h.word(v.last_update_ts);
    }
    h.value()
}

impl ChanModel {
    pub fn new(id: rtm_proto::ChannelId) -> Self {
        let mut versions = VecDeque::new();
        versions.push_back(AttrVersion {
            seq: 0,
            at: 0,
            notified: false,
            hash: attrs_hash(&Default::default()),
            map: Some(Default::default()),
        });
        ChanModel {
            id,
            exists: false,
            instance: 0,
            epoch: None,
            members: Default::default(),
            attrs: Default::default(),
            gc_deadline: None,
            accepted: Vec::new(),
            history: VecDeque::new(),
            versions,
        }
    }

    /// Records a membership change.
    pub fn record(&mut self, seq: &mut u64, at: u64, user: usize, joined: bool) {
        *seq += 1;
        let entry = MemberEntry {
            seq: *seq,
            at,
            user,
            joined,
            count: self.members.len() as u32,
        };
        push_bounded(&mut self.history, CHAN_HISTORY, entry);
    }

    /// Records the attribute store as it is now.
    pub fn record_attrs(&mut self, seq: &mut u64, at: u64, notified: bool) {
        *seq += 1;
        let version = AttrVersion {
            seq: *seq,
            at,
            notified,
            hash: attrs_hash(&self.attrs),
            map: Some(self.attrs.clone()),
        };
        push_bounded(&mut self.versions, ATTR_HISTORY, version);
        let n = self.versions.len();
        if n > ATTR_MAPS {
            self.versions[n - ATTR_MAPS - 1].map = None;
        }
    }

    /// A report about `member` (`joined` or left) from a node whose last report about it
    /// matched entry `cursor`: the first later entry that fits (order-preserving), or `None`.
    /// Lenient when the cursor left the window.
    pub fn match_member(&self, cursor: u64, member: usize, joined: bool) -> Option<u64> {
        first_fit(&self.history, cursor, cursor + 1, |e| {
            e.user == member && e.joined == joined
        })
    }

    /// Likewise for a member count.
    pub fn match_count(&self, cursor: u64, count: u32) -> Option<u64> {
        first_fit(&self.history, cursor, cursor, |e| e.count == count)
    }

    /// Likewise for an `AttributesUpdated` set: a version made by a notifying write.
    pub fn match_update(&self, cursor: u64, hash: u64) -> Option<u64> {
        first_fit(&self.versions, cursor, cursor + 1, |v| {
            v.notified && v.hash == hash
        })
    }

    /// Whether `answer` is the store (or its `keys`) at some moment of `[from, to]`.
    /// `None` when that stretch left the window.
    pub fn held_between(
        &self,
        from: u64,
        to: u64,
        keys: Option<&[String]>,
        answer: &std::collections::BTreeMap<String, rtm_proto::attributes::ChannelAttribute>,
    ) -> Option<bool> {
        // A version that begins and ends in the same instant never was observable, but a
        // read in that very step may see it: include the endpoints.
        some_moment(&self.versions, from, to, true, |v| match (&v.map, keys) {
            (_, None) => Some(v.hash == attrs_hash(answer)),
            (Some(m), Some(keys)) => Some(&rtm_proto::attributes::select(m, Some(keys)) == answer),
            (None, Some(_)) => None,
        })
    }
}

/// A server's acceptance of a channel message.
#[derive(Debug, Clone)]
pub struct Accept {
    pub at: u64,
    /// Server crashes before the incarnation that accepted it.
    pub crash: u32,
    pub instance: u64,
    pub cseq: u64,
    /// Who it was pushed to (and who is owed it by a replay).
    pub recipients: Vec<Recipient>,
}

/// A node a channel message was pushed to.
#[derive(Debug, Clone, Copy)]
pub struct Recipient {
    pub node: usize,
    /// The node's membership stint then (0: its client did not believe it was a member).
    pub stint: u64,
    /// The server sent it on the member's connection at once (not: the session was
    /// detached, the push waited behind the send window, or a full stream held it back).
    pub pushed: bool,
    /// The server held it back because the member's stream was full (it lagged in the
    /// channel, [`rtm_proto::server::Observer::channel_lag`]): a catch-up carries it if it is still in
    /// the replay window then.
    pub lagged: bool,
    /// Held back and outside the window (the last 32, at most 30 s old) when the lag was
    /// resolved by a catch-up or a rejoin's replay: lost by design, must not be delivered.
    pub excused: bool,
}

/// A member's lag in a channel as the model follows it: from the message the server first
/// held back until the server's lag goes away.
#[derive(Debug, Clone, Copy)]
pub struct LagRec {
    pub node: usize,
    /// Channel instance and server incarnation the lag belongs to.
    pub instance: u64,
    pub crash: u32,
    /// `cseq` of the first message held back.
    pub first: u64,
}

/// One delivery of a channel message to a node's application.
#[derive(Debug, Clone, Copy)]
pub struct CDelivery {
    pub node: usize,
    pub at: u64,
    pub crash: u32,
}

/// One channel message a workload sent.
#[derive(Debug, Clone)]
pub struct CMsgRec {
    pub from_node: usize,
    pub from_user: usize,
    pub chan: usize,
    pub raw: bool,
    pub len: usize,
    pub sent_at: u64,
    pub probe: bool,
    pub accepts: Vec<Accept>,
    /// The sender's `Response::SendChannelMessage`: `Ok`, or the error code.
    pub answered: Option<Result<(), u32>>,
    pub deliveries: Vec<CDelivery>,
}

/// How an invitation ended on the caller's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerEnd {
    Accepted(String),
    Refused(String),
    Canceled,
    Failure(rtm_proto::invitation::LocalInvitationFailureReason),
}

/// How an invitation ended on the callee's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalleeEnd {
    Accepted,
    Refused,
    Canceled,
    Failure(rtm_proto::invitation::RemoteInvitationFailureReason),
}

/// When and how one side ended.
#[derive(Debug, Clone)]
pub struct Ended<T> {
    pub how: T,
    pub at: u64,
    /// Server crashes so far.
    pub crash: u32,
    /// Server crashes before the incarnation whose frame ended it (a decision, or the sync
    /// answer that made the client end it).
    pub via: u32,
    /// Ended by the client itself as its session ended (logout, kick), not by the server.
    pub local: bool,
}

/// The callee's view of an invitation, on one node.
#[derive(Debug, Clone)]
pub struct CalleeView {
    pub node: usize,
    /// The connection the invitation arrived on.
    pub conn: u64,
    pub received_at: u64,
    pub crash: u32,
    /// `accept` (true) or `refuse` was called, with this response.
    pub answered: Option<(bool, String)>,
    pub end: Option<Ended<CalleeEnd>>,
}

/// One invitation a workload created and sent.
#[derive(Debug, Clone)]
pub struct InvRec {
    pub caller_node: usize,
    pub caller: usize,
    pub callee: usize,
    pub number: u64,
    pub content: String,
    pub channel_id: String,
    pub probe: bool,
    pub sent_at: u64,
    /// First and latest receipt of its `invite` by a server: (time, crashes then).
    pub rx_first: Option<(u64, u32)>,
    pub rx_last: Option<(u64, u32)>,
    /// The caller's server session that first delivered the `invite` (sid).
    pub rx_sid: Option<String>,
    /// The `invite` reached the same server incarnation again from a later session of its
    /// caller (relaxation `invite_resend_after_session_loss`).
    pub resent_across_sessions: bool,
    /// The caller called `cancel` (accepted by its client).
    pub canceled: bool,
    pub received_by_peer: u32,
    pub caller_end: Option<Ended<CallerEnd>>,
    pub callees: Vec<CalleeView>,
    /// The callee's plan: accept (true), refuse (false), or never answer (`None`).
    pub plan: Option<bool>,
}

/// The §10 / server-table rule: may the caller end `c` while the callee ends `r` (`None`:
/// the callee never received it)?
pub fn ends_agree(c: &CallerEnd, r: Option<&CalleeEnd>) -> bool {
    use rtm_proto::invitation::LocalInvitationFailureReason as L;
    use rtm_proto::invitation::RemoteInvitationFailureReason as R;
    matches!(
        (c, r),
        (CallerEnd::Accepted(_), Some(CalleeEnd::Accepted))
            | (CallerEnd::Refused(_), Some(CalleeEnd::Refused))
            | (CallerEnd::Canceled, None | Some(CalleeEnd::Canceled))
            | (
                CallerEnd::Failure(L::PeerOffline),
                None | Some(CalleeEnd::Failure(R::PeerOffline))
            )
            | (
                CallerEnd::Failure(L::PeerNoResponse),
                None | Some(CalleeEnd::Failure(R::InvitationExpire))
            )
            | (
                CallerEnd::Failure(L::InvitationExpire),
                Some(CalleeEnd::Failure(R::InvitationExpire))
            )
            | (
                CallerEnd::Failure(L::NotLoggedin),
                None | Some(CalleeEnd::Failure(R::PeerOffline | R::AcceptFailure))
            )
    )
}
