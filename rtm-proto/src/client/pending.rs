//! What a request waits for and how it ends without an answer: the vocabulary shared by
//! the modules that start requests (`requests.rs`, `channels.rs`, `attributes.rs`, ...) and
//! the one that settles them (`replies.rs`), so neither imports the other.

use core::time::Duration;
use std::collections::BTreeMap;

use crate::attributes::AttrOp;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::wire::Reply;

use super::Response;

/// Join, getMembers, member-count and attribute requests time out after 5 s (§9.3).
pub(super) const SHORT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(super) enum PendingKind {
    PeerMessage,
    QueryOnline,
    Subscribe(Vec<UserId>),
    Unsubscribe(Vec<UserId>),
    RenewToken(String),
    Join(ChannelId),
    /// An internal join carrying the client's cursor: the automatic rejoin after a
    /// reconnect that lost the server session (§2.6), or a correction after a membership
    /// request timed out (the record says joined).
    Rejoin(ChannelId),
    Leave(ChannelId),
    /// An internal leave correcting the server after a membership request timed out (the
    /// record says not joined).
    Unjoin(ChannelId),
    ChannelMessage,
    GetMembers,
    GetMemberCount,
    /// A write to the local user's attributes, mirrored locally once confirmed.
    UserAttrWrite(AttrOp, BTreeMap<String, String>, Vec<String>),
    /// A write to channel attributes.
    AttrWrite,
    GetUserAttrs,
    GetChannelAttrs,
    /// `invite` for the invitation with this number (kept out of a sync until answered).
    Invite(u64),
    /// Cancel, accept or refuse: the outcome comes as a push.
    InvitationAction,
    /// A sync of these open invitations after a session loss.
    InvitationSync(Vec<u64>, Vec<crate::wire::InvitationKey>),
    /// A correction: `subscribe` with `replace`, the server's subscriptions set to the
    /// client's record.
    Resubscribe,
    /// A correction: `user_attrs` `set` with the client's confirmed copy.
    RestateUserAttrs,
}

/// Whether `reply` is an answer a request of `kind` can take.
pub(super) fn answers(reply: &Reply, kind: &PendingKind) -> bool {
    use PendingKind as K;
    match reply {
        Reply::Error { .. } => true,
        Reply::LoginOk { .. } => false,
        Reply::PeerMessageResult { .. } => matches!(kind, K::PeerMessage),
        Reply::OnlineStatus { .. } => matches!(kind, K::QueryOnline),
        Reply::Subscribed { .. } => matches!(kind, K::Subscribe(_) | K::Resubscribe),
        Reply::Joined { .. } => matches!(kind, K::Join(_) | K::Rejoin(_)),
        Reply::Members { .. } => matches!(kind, K::GetMembers),
        Reply::MemberCounts { .. } => matches!(kind, K::GetMemberCount),
        Reply::UserAttributes { .. } => matches!(kind, K::GetUserAttrs),
        Reply::ChannelAttributes { .. } => matches!(kind, K::GetChannelAttrs),
        Reply::InvitationStates { .. } => matches!(kind, K::InvitationSync(..)),
        Reply::Ok { .. } => matches!(
            kind,
            K::Unsubscribe(_)
                | K::RenewToken(_)
                | K::Leave(_)
                | K::Unjoin(_)
                | K::ChannelMessage
                | K::UserAttrWrite(..)
                | K::AttrWrite
                | K::Invite(_)
                | K::InvitationAction
                | K::RestateUserAttrs
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    Timeout,
    NotLoggedIn,
    /// The server answered with this code of the request's family.
    Code(u32),
}

/// The response for a request that failed, `None` for internal requests.
pub(super) fn failure_response(kind: PendingKind, why: Failure) -> Option<Response> {
    /// Picks the family member: the server's code, else TIMEOUT or NOT_LOGGED_IN, with
    /// FAILURE for a code the family does not know.
    macro_rules! pick {
        ($family:ident, $timeout:ident, $failure:ident) => {
            Err(match why {
                Failure::Timeout => $family::$timeout,
                Failure::NotLoggedIn => $family::NotLoggedIn,
                Failure::Code(c) => $family::from_code(c).unwrap_or($family::$failure),
            })
        };
    }
    Some(match kind {
        PendingKind::PeerMessage => {
            Response::SendMessageToPeer(pick!(PeerMessageError, Timeout, Failure))
        }
        PendingKind::QueryOnline => {
            Response::QueryPeersOnlineStatus(pick!(QueryPeersOnlineStatusError, Timeout, Failure))
        }
        PendingKind::Subscribe(_) => Response::SubscribePeersOnlineStatus(pick!(
            PeerSubscriptionStatusError,
            Timeout,
            Failure
        )),
        PendingKind::Unsubscribe(_) => Response::UnsubscribePeersOnlineStatus(pick!(
            PeerSubscriptionStatusError,
            Timeout,
            Failure
        )),
        // RenewTokenError has no TIMEOUT: a renewal that got no answer is a FAILURE.
        PendingKind::RenewToken(_) => {
            Response::RenewToken(pick!(RenewTokenError, Failure, Failure))
        }
        PendingKind::Join(_) => Response::Join(pick!(JoinChannelError, Timeout, Failure)),
        PendingKind::Leave(_) => Response::Leave(pick!(LeaveChannelError, Failure, Failure)),
        PendingKind::ChannelMessage => {
            Response::SendChannelMessage(pick!(ChannelMessageError, Timeout, Failure))
        }
        PendingKind::GetMembers => Response::GetMembers(pick!(GetMembersError, Timeout, Failure)),
        PendingKind::GetMemberCount => {
            Response::GetChannelMemberCount(pick!(GetChannelMemberCountError, Timeout, Failure))
        }
        PendingKind::UserAttrWrite(..) | PendingKind::AttrWrite => {
            Response::AttributeWrite(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::GetUserAttrs => {
            Response::GetUserAttributes(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::GetChannelAttrs => {
            Response::GetChannelAttributes(pick!(AttributeOperationError, Timeout, Failure))
        }
        PendingKind::Resubscribe
        | PendingKind::RestateUserAttrs
        | PendingKind::Rejoin(_)
        | PendingKind::Unjoin(_)
        | PendingKind::InvitationAction
        | PendingKind::InvitationSync(..) => return None,
        // The server refused to relay the invitation (too many open ones): it failed.
        PendingKind::Invite(_) => return None,
    })
}
