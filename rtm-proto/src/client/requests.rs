//! Commands that talk to the server, their answers, timeouts and resends.
//!
//! Every request is kept, encoded, until it is answered or times out. When a link comes up
//! every request not yet sent on it is (re)sent: requests are idempotent on the server (peer
//! messages carry a `msg_id` the server deduplicates), so a request whose answer was lost with
//! the old link is answered once, and a message is never delivered twice.

use std::collections::BTreeMap;

use crate::attributes::AttrOp;
use crate::errors::*;
use crate::ids::{ChannelId, UserId};
use crate::wire::{ClientFrame, ServerFrame};

use super::link::Link;
use super::resync::Fate;
use super::{Client, ClientOutput, Event, Pending, RequestId, Response, TransportId};

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

impl Client {
    /// `renewToken(token)` (§3.5). While the link is down the token is kept for the next
    /// re-login and the call succeeds at once; a re-login held back by an expired token
    /// resumes.
    pub fn renew_token(
        &mut self,
        now: crate::time::Timestamp,
        token: &str,
    ) -> Result<RequestId, RenewTokenError> {
        self.advance(now);
        if !self.is_logged_in() {
            return Err(RenewTokenError::NotLoggedIn);
        }
        if token.is_empty() || token.len() > 2048 {
            return Err(RenewTokenError::InvalidArgument);
        }
        if !self.limiters.renew.try_acquire(self.now) {
            return Err(RenewTokenError::TooOften);
        }
        if !matches!(self.link, Link::Up { .. }) {
            self.token_renewed_offline(token.to_string());
            let request = RequestId(self.alloc_request());
            self.respond(request, Response::RenewToken(Ok(())));
            return Ok(request);
        }
        let kind = PendingKind::RenewToken(token.to_string());
        let token = token.to_string();
        Ok(self.start_request(kind, self.config.request_timeout, |id| {
            ClientFrame::RenewToken { id, token }
        }))
    }

    /// Registers a request and sends it if the link is up.
    pub(super) fn start_request(
        &mut self,
        kind: PendingKind,
        timeout: core::time::Duration,
        frame: impl FnOnce(u32) -> ClientFrame,
    ) -> RequestId {
        let id = self.alloc_request();
        let deadline = self.now.saturating_add(timeout);
        let frame = frame(id).encode();
        self.track(&kind, id, Fate::Started);
        self.pending.insert(
            id,
            Pending {
                kind,
                frame,
                sent_on: None,
                deadline,
            },
        );
        self.deadlines.schedule(deadline, id);
        self.arm_request_timer();
        if let Link::Up { transport } = self.link {
            self.send_pending(id, transport);
        }
        RequestId(id)
    }

    fn send_pending(&mut self, id: u32, transport: TransportId) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.sent_on = Some(transport);
            let frame = p.frame.clone();
            self.out.push_back(ClientOutput::Send(transport, frame));
        }
    }

    /// Sends every request not yet sent on the current link, oldest first.
    pub(super) fn flush_pending(&mut self) {
        let Link::Up { transport } = self.link else {
            return;
        };
        let ids: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.sent_on != Some(transport))
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.send_pending(id, transport);
        }
    }

    pub(super) fn expire_requests(&mut self) {
        while let Some(id) = self.deadlines.pop_due(self.now) {
            let due = self
                .pending
                .get(&id)
                .is_some_and(|p| p.deadline <= self.now);
            if due {
                let p = self.pending.remove(&id).expect("checked");
                // The application is told it failed, but the server may have applied it.
                self.track(&p.kind, id, Fate::Lost);
                if let PendingKind::Join(channel) = &p.kind {
                    // The join failed for the application: the channel leaves the record.
                    self.forget_unless_rejoining(channel);
                }
                self.answer_with_failure(id, p.kind, Failure::Timeout);
            }
        }
        self.arm_request_timer();
    }

    /// Keeps `Timer::Request` at the earliest request deadline.
    fn arm_request_timer(&mut self) {
        let next = self.deadlines.next_deadline();
        self.timers.set_or_stop(super::timer::Timer::Request, next);
    }

    /// A join of `channel` failed: it leaves the record — unless the record is a newer
    /// join's (join, leave, join again while the link was down), still waiting.
    fn forget_unless_rejoining(&mut self, channel: &ChannelId) {
        let newer = self
            .pending
            .values()
            .any(|p| matches!(&p.kind, PendingKind::Join(c) if c == channel));
        if !newer {
            self.channels.remove(channel);
        }
    }

    /// Answers every waiting request with its family's NOT_LOGGED_IN (logout).
    pub(super) fn fail_all_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (id, p) in pending {
            self.answer_with_failure(id, p.kind, Failure::NotLoggedIn);
        }
        self.deadlines = Default::default();
        self.arm_request_timer();
    }

    fn answer_with_failure(&mut self, id: u32, kind: PendingKind, why: Failure) {
        if let Some(response) = failure_response(kind, why) {
            self.respond(RequestId(id), response);
        }
    }

    /// Frames on an established link.
    pub(super) fn on_session_frame(&mut self, transport: TransportId, frame: ServerFrame) {
        if frame.is_stream_push() {
            return self.on_stream_push(transport, frame);
        }
        let answer = Answer::of(&frame);
        match frame {
            ServerFrame::TokenWillExpire {} => self.emit(Event::TokenPrivilegeWillExpire),
            ServerFrame::Presence { peers } => self.report_presence(peers, false),
            ServerFrame::PeerMessageResult { id, outcome } => {
                if self.take_pending(id, answer).is_some() {
                    self.respond(RequestId(id), Response::SendMessageToPeer(Ok(outcome)));
                }
            }
            ServerFrame::OnlineStatus { id, peers } => {
                if self.take_pending(id, answer).is_some() {
                    let result = peers.into_iter().map(|p| (p.peer, p.online)).collect();
                    self.respond(RequestId(id), Response::QueryPeersOnlineStatus(Ok(result)));
                }
            }
            ServerFrame::Subscribed { id, peers } => match self.take_pending(id, answer) {
                Some(PendingKind::Subscribe(asked)) => {
                    for p in asked {
                        self.subscriptions.entry(p).or_insert(None);
                    }
                    self.respond(RequestId(id), Response::SubscribePeersOnlineStatus(Ok(())));
                    self.report_presence(peers, true);
                }
                Some(PendingKind::Resubscribe) => self.report_presence(peers, false),
                _ => {}
            },
            ServerFrame::Joined {
                id,
                channel,
                epoch,
                cseq,
            } => match self.take_pending(id, answer) {
                Some(PendingKind::Join(_)) => {
                    self.on_joined(&channel, epoch, cseq);
                    self.respond(RequestId(id), Response::Join(Ok(())));
                }
                Some(PendingKind::Rejoin(_)) => self.on_joined(&channel, epoch, cseq),
                _ => {}
            },
            ServerFrame::Members { id, members } => {
                if self.take_pending(id, answer).is_some() {
                    self.respond(RequestId(id), Response::GetMembers(Ok(members)));
                }
            }
            ServerFrame::MemberCounts { id, counts } => {
                if self.take_pending(id, answer).is_some() {
                    let counts = counts.into_iter().map(|c| (c.channel, c.count)).collect();
                    self.respond(RequestId(id), Response::GetChannelMemberCount(Ok(counts)));
                }
            }
            ServerFrame::UserAttributes { id, attributes, .. } => {
                if self.take_pending(id, answer).is_some() {
                    self.respond(RequestId(id), Response::GetUserAttributes(Ok(attributes)));
                }
            }
            ServerFrame::ChannelAttributes { id, attributes, .. } => {
                if self.take_pending(id, answer).is_some() {
                    self.respond(
                        RequestId(id),
                        Response::GetChannelAttributes(Ok(attributes)),
                    );
                }
            }
            ServerFrame::Ok { id } => {
                let response = match self.take_pending(id, answer) {
                    Some(PendingKind::Unsubscribe(peers)) => {
                        for p in &peers {
                            self.subscriptions.remove(p);
                        }
                        Response::UnsubscribePeersOnlineStatus(Ok(()))
                    }
                    Some(PendingKind::RenewToken(token)) => {
                        self.token = Some(token);
                        Response::RenewToken(Ok(()))
                    }
                    Some(PendingKind::Leave(_)) => Response::Leave(Ok(())),
                    Some(PendingKind::ChannelMessage) => Response::SendChannelMessage(Ok(())),
                    Some(PendingKind::UserAttrWrite(op, attrs, keys)) => {
                        self.user_attrs_confirmed(op, attrs, &keys);
                        Response::AttributeWrite(Ok(()))
                    }
                    Some(PendingKind::AttrWrite) => Response::AttributeWrite(Ok(())),
                    Some(PendingKind::Invite(_)) | Some(PendingKind::InvitationAction) => return,
                    _ => return,
                };
                self.respond(RequestId(id), response);
            }
            ServerFrame::Error { id, code, .. } => {
                let Some(kind) = self.take_pending(id, answer) else {
                    return;
                };
                if let PendingKind::Invite(n) = kind {
                    return self.on_local_update(crate::wire::LocalInvitationUpdate {
                        invitation: n,
                        state: crate::invitation::LocalInvitationState::Failure,
                        response: String::new(),
                        reason: Some(
                            crate::invitation::LocalInvitationFailureReason::PeerNoResponse,
                        ),
                    });
                }
                if let PendingKind::Join(channel) | PendingKind::Rejoin(channel) = &kind {
                    self.forget_unless_rejoining(channel);
                }
                self.answer_with_failure(id, kind, Failure::Code(code));
            }
            // Handled before a link is up, or not meaningful here.
            ServerFrame::InvitationStates { id, local, remote } => {
                if let Some(PendingKind::InvitationSync(l, r)) = self.take_pending(id, answer) {
                    self.on_invitation_states((l, r), local, remote);
                }
            }
            ServerFrame::Pong {} => self.on_pong(),
            ServerFrame::LoginOk { .. } | ServerFrame::Kicked { .. } => {}
            ServerFrame::Message { .. }
            | ServerFrame::ChannelMessage { .. }
            | ServerFrame::MemberJoined { .. }
            | ServerFrame::MemberLeft { .. }
            | ServerFrame::MemberCount { .. }
            | ServerFrame::AttributesUpdated { .. }
            | ServerFrame::Invitation { .. }
            | ServerFrame::LocalInvitation(_)
            | ServerFrame::RemoteInvitation(_) => unreachable!("stream pushes handled above"),
        }
    }

    /// Removes and returns the request `id` if `answer` is an answer its kind can take. A
    /// wrong kind of answer (only a buggy or hostile server sends one) leaves the request
    /// waiting, to be answered properly or to time out.
    fn take_pending(&mut self, id: u32, answer: Answer) -> Option<PendingKind> {
        let fits = self.pending.get(&id).is_some_and(|p| answer.fits(&p.kind));
        if !fits {
            return None;
        }
        let kind = self.pending.remove(&id).map(|p| p.kind)?;
        self.track(&kind, id, Fate::Answered);
        Some(kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Timeout,
    NotLoggedIn,
    /// The server answered with this code of the request's family.
    Code(u32),
}

/// The response for a request that failed, `None` for internal requests.
fn failure_response(kind: PendingKind, why: Failure) -> Option<Response> {
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

/// The kind of answer a response frame is, to check it against the request it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    PeerResult,
    OnlineStatus,
    Subscribed,
    Joined,
    Members,
    MemberCounts,
    UserAttributes,
    ChannelAttributes,
    InvitationStates,
    Ok,
    Error,
    Push,
}

impl Answer {
    fn of(frame: &ServerFrame) -> Answer {
        match frame {
            ServerFrame::PeerMessageResult { .. } => Answer::PeerResult,
            ServerFrame::OnlineStatus { .. } => Answer::OnlineStatus,
            ServerFrame::Subscribed { .. } => Answer::Subscribed,
            ServerFrame::Joined { .. } => Answer::Joined,
            ServerFrame::Members { .. } => Answer::Members,
            ServerFrame::MemberCounts { .. } => Answer::MemberCounts,
            ServerFrame::UserAttributes { .. } => Answer::UserAttributes,
            ServerFrame::ChannelAttributes { .. } => Answer::ChannelAttributes,
            ServerFrame::InvitationStates { .. } => Answer::InvitationStates,
            ServerFrame::Ok { .. } => Answer::Ok,
            ServerFrame::Error { .. } => Answer::Error,
            _ => Answer::Push,
        }
    }

    /// Whether a request of `kind` can be answered this way.
    fn fits(self, kind: &PendingKind) -> bool {
        use PendingKind as K;
        match self {
            Answer::Error => true,
            Answer::Push => false,
            Answer::PeerResult => matches!(kind, K::PeerMessage),
            Answer::OnlineStatus => matches!(kind, K::QueryOnline),
            Answer::Subscribed => matches!(kind, K::Subscribe(_) | K::Resubscribe),
            Answer::Joined => matches!(kind, K::Join(_) | K::Rejoin(_)),
            Answer::Members => matches!(kind, K::GetMembers),
            Answer::MemberCounts => matches!(kind, K::GetMemberCount),
            Answer::UserAttributes => matches!(kind, K::GetUserAttrs),
            Answer::ChannelAttributes => matches!(kind, K::GetChannelAttrs),
            Answer::InvitationStates => matches!(kind, K::InvitationSync(..)),
            Answer::Ok => matches!(
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
}
