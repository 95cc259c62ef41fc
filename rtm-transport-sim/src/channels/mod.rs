//! Channels (§4.7, §4.8, §2.6), channel attributes (§4.6) and user attributes (§4.5): the
//! workload's commands, the reference model of what the server holds, and the invariants.
//!
//! ## The model
//!
//! The model keeps what the checks need over time, updated from the requests the server
//! handles and the answer it gives in the same step ([`Sim::watch_request`],
//! [`Sim::capture_answer`], [`Sim::finish_step_req`]): membership (and its history, for
//! the events), the messages each channel *instance* accepted (in `cseq` order) and who is
//! owed them, the attribute store's versions and its grace period, each session's user
//! attributes. A session that ends (logout, 30 s of silence, a newer login, a ban, a crash)
//! leaves every channel. After every server step the number of channels is compared with
//! the server's count; at every full sweep each channel's members and epoch with the
//! server's ([`Observer`]); and every answer (`joined` epoch and cseq, `members`,
//! `member_counts`, `user_attributes`, `channel_attributes`, attribute write verdicts,
//! `attributes_updated`) with the model.
//!
//! What the server decided is observed, not re-derived: the `cseq` a member starts after
//! ([`Observer::member_since`]), what a rejoin or a catch-up replays (`replay_after`), and
//! the stores after a write (`user_attributes`, `channel_attributes`, which must be what
//! the core's own rule, [`apply`], makes of the model's store). The model checks the
//! outcomes: who was owed which message and got it, and that answers and events agree with
//! what the server held.
//!
//! [`Sim::watch_request`]: crate::sim::Sim::watch_request
//! [`Sim::capture_answer`]: crate::sim::Sim::capture_answer
//! [`Sim::finish_step_req`]: crate::sim::Sim::finish_step_req
//! [`Observer`]: rtm_proto::server::Observer
//! [`Observer::member_since`]: rtm_proto::server::Observer::member_since
//! [`apply`]: rtm_proto::attributes::apply
//!
//! ## Stints: "stayed joined throughout"
//!
//! A *stint* is one uninterrupted membership of one node in one channel. It starts when the
//! server handles a join from the node's session while the node's client has the channel,
//! and ends when the client leaves (or its join fails or times out), logs out or is
//! aborted, when the server handles a leave from it, when its server session ends (30 s of
//! silence, a newer login, a ban), or at a server crash. A message the server accepts
//! during a stint is pushed to the node; it is *owed* to the node if that stint is still
//! running at convergence, and then must have been delivered (exactly once; never twice
//! from one server incarnation, never to its sender). After a session loss the rejoin's
//! replay (§2.6: the last 30 s, at most 32 per channel, newer than the client's cursor) is
//! owed to the new stint as well (and the server must replay nothing else). Excused: a
//! server crash (soft state lost, the stint ends), and messages lost to a full stream (see
//! "Lags").
//!
//! ## Lags: a member whose stream is full
//!
//! A channel message that finds a member's delivery stream full is held back, and so are
//! that channel's later ones, until a catch-up once the member acknowledges: the server
//! then pushes the history from the first held-back message, within §2.6's window (the
//! last 32, at most 30 s old); older ones are lost. The model reads the server's lag
//! ([`rtm_proto::server::Observer::channel_lag`]) after every step: a message accepted while the
//! server reports the member lagging is a *lagged* recipient (the lag must start at the
//! first message held back, and hold until it goes away); when the lag goes away while the
//! stint runs (a catch-up after an ack, or a rejoin with a cursor, whose replay covers it)
//! each lagged recipient is owed if it is in that window at that moment, else *excused*:
//! it must then never be delivered. Relaxation `channel_push_dropped_when_stream_full`
//! (fixed in the core; kept to reproduce old seeds), only where `max_unacked` is below the
//! default, excuses every message the server did not send on the member's connection at
//! once, and stale member counts.
//!
//! ## Other invariants
//!
//! * MemberJoined / MemberLeft / MemberCountUpdated match, in order, changes the server
//!   made ([`crate::model::ChanModel::match_member`], `match_count`); nobody hears of
//!   themselves.
//! * AttributesUpdated carries the complete set right after a notifying write (checked on
//!   the server's frame in that step against the model), and each client sees such sets in
//!   order; `getChannelAttributes` / `getUserAttributes` answers were the truth at some
//!   moment between the call and the answer.
//! * After healing: the server's members of each channel are exactly the connected clients
//!   that believe they are in it; every member's last MemberCountUpdated is the count;
//!   every logged-in user's attributes on the server are what its client last had
//!   confirmed; then probes (a channel message to all members, getMembers, member counts,
//!   attribute reads) must give exactly that.
//!
//! Core bugs found here are relaxed by name (see [`crate::config::Relaxations`]); all but
//! `channel_push_dropped_when_stream_full` are fixed and their relaxations default off:
//! `channel_leave_lost_after_timeout`, `rejoin_lost_after_timeout`,
//! `member_count_private_stale`.

//! ## Files
//!
//! `follow` (the server's steps and the model), `client_events` (what the clients hear),
//! `responses` (the answers their requests get), `commands` (the workload), `healing`
//! (rejoins, probes, convergence).

mod client_events;
mod commands;
mod follow;
mod healing;
mod responses;

use rtm_proto::wire::Reply;
use rtm_proto::wire::ServerFrame;
use rtm_proto::Timestamp;

/// Most channel messages one run may send (bounds the model).
const MAX_CMSGS: usize = 100_000;
/// Attribute keys the workload uses (more than 32, so that adds can overflow).
const KEYS: u64 = 40;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// Whose attributes a read asks for: a channel's or a user's (indices).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttrStore {
    Channel(usize),
    User(usize),
}

/// Whether a client frame of type `ty` is one the model follows.
pub(crate) fn watched_request(ty: &[u8]) -> bool {
    matches!(
        ty,
        b"join"
            | b"leave"
            | b"channel_message"
            | b"get_members"
            | b"get_member_count"
            | b"user_attrs"
            | b"get_user_attrs"
            | b"channel_attrs"
            | b"get_channel_attrs"
            | b"invite"
    )
}

/// The request a reply answers (`capture_answer` only passes the answer types of the
/// watched requests).
fn answer_id(f: &ServerFrame) -> Option<u32> {
    match f {
        ServerFrame::Reply(r) => Some(r.id()),
        _ => None,
    }
}

/// The server's verdict on a write: `Ok`, or an error code.
fn verdict(answer: &Option<ServerFrame>) -> Option<Result<(), u32>> {
    match answer {
        Some(ServerFrame::Reply(Reply::Ok { .. })) => Some(Ok(())),
        Some(ServerFrame::Reply(Reply::Error { code, .. })) => Some(Err(*code)),
        _ => None,
    }
}
