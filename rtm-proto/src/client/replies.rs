//! The answers to requests: frames of the [`Reply`] family, each checked against the kind of
//! request it names before it settles it, and the failures of requests that got none.
//!
//! Pushes of the delivery stream go to `stream.rs`; notices are handled here beside replies
//! because both arrive only on an established link.

use crate::wire::{Notice, Reply, ServerFrame};

use super::pending::{answers, failure_response, Failure, PendingKind};
use super::resync::Fate;
use super::{Client, Event, RequestId, Response, TransportId};

impl Client {
    /// Frames on an established link; `len` is the frame's encoded size.
    pub(super) fn on_session_frame(
        &mut self,
        transport: TransportId,
        frame: ServerFrame,
        len: usize,
    ) {
        match frame {
            ServerFrame::Push(push) => self.on_stream_push(transport, push, len),
            ServerFrame::Reply(reply) => self.on_reply(reply),
            ServerFrame::Notice(notice) => self.on_notice(notice),
        }
    }

    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::TokenWillExpire {} => self.emit(Event::TokenPrivilegeWillExpire),
            Notice::Presence { peers } => self.report_presence(peers, false),
            Notice::Pong {} => self.on_pong(),
            // Handled before the link's state is consulted (`session.rs`).
            Notice::Kicked { .. } => {}
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        let id = reply.id();
        let Some(kind) = self.take_pending(&reply) else {
            return;
        };
        let request = RequestId(id);
        match reply {
            Reply::PeerMessageResult { outcome, .. } => {
                self.respond(request, Response::SendMessageToPeer(Ok(outcome)));
            }
            Reply::OnlineStatus { peers, .. } => {
                let result = peers.into_iter().map(|p| (p.peer, p.online)).collect();
                self.respond(request, Response::QueryPeersOnlineStatus(Ok(result)));
            }
            Reply::Subscribed { peers, .. } => match kind {
                PendingKind::Subscribe(asked) => {
                    for p in asked {
                        self.subscriptions.entry(p).or_insert(None);
                    }
                    self.respond(request, Response::SubscribePeersOnlineStatus(Ok(())));
                    self.report_presence(peers, true);
                }
                _ => self.report_presence(peers, false),
            },
            Reply::Joined {
                channel,
                epoch,
                cseq,
                ..
            } => {
                self.on_joined(&channel, epoch, cseq);
                if let PendingKind::Join(_) = kind {
                    self.respond(request, Response::Join(Ok(())));
                }
            }
            Reply::Members { members, .. } => {
                self.respond(request, Response::GetMembers(Ok(members)));
            }
            Reply::MemberCounts { counts, .. } => {
                let counts = counts.into_iter().map(|c| (c.channel, c.count)).collect();
                self.respond(request, Response::GetChannelMemberCount(Ok(counts)));
            }
            Reply::UserAttributes { attributes, .. } => {
                self.respond(request, Response::GetUserAttributes(Ok(attributes)));
            }
            Reply::ChannelAttributes { attributes, .. } => {
                self.respond(request, Response::GetChannelAttributes(Ok(attributes)));
            }
            Reply::Ok { .. } => self.on_ok(request, kind),
            Reply::Error { code, .. } => self.on_error(request, kind, code),
            Reply::InvitationStates { local, remote, .. } => {
                if let PendingKind::InvitationSync(l, r) = kind {
                    self.on_invitation_states((l, r), local, remote);
                }
            }
            Reply::MediaTicket { ticket, .. } => {
                if let PendingKind::MediaGrant(transfer) = kind {
                    self.on_media_ticket(transfer, ticket);
                }
            }
            // Answers no request (`answers` says so): a login is answered in `session.rs`.
            Reply::LoginOk { .. } => {}
        }
    }

    fn on_ok(&mut self, request: RequestId, kind: PendingKind) {
        let response = match kind {
            PendingKind::Unsubscribe(peers) => {
                for p in &peers {
                    self.subscriptions.remove(p);
                }
                Response::UnsubscribePeersOnlineStatus(Ok(()))
            }
            PendingKind::RenewToken(token) => {
                self.token = Some(token);
                Response::RenewToken(Ok(()))
            }
            PendingKind::Leave(_) => Response::Leave(Ok(())),
            PendingKind::ChannelMessage => Response::SendChannelMessage(Ok(())),
            PendingKind::UserAttrWrite(op, attrs, keys) => {
                self.user_attrs_confirmed(op, attrs, &keys);
                Response::AttributeWrite(Ok(()))
            }
            PendingKind::AttrWrite => Response::AttributeWrite(Ok(())),
            // Invitation outcomes come as pushes; internal corrections answer nobody.
            _ => return,
        };
        self.respond(request, response);
    }

    fn on_error(&mut self, request: RequestId, kind: PendingKind, code: u32) {
        if let PendingKind::Invite(n) = kind {
            return self.on_local_update(crate::wire::LocalInvitationUpdate {
                invitation: n,
                state: crate::invitation::LocalInvitationState::Failure,
                response: String::new(),
                reason: Some(crate::invitation::LocalInvitationFailureReason::PeerNoResponse),
            });
        }
        if let PendingKind::Join(channel) | PendingKind::Rejoin(channel) = &kind {
            self.forget_unless_rejoining(channel);
        }
        self.answer_with_failure(request.0, kind, Failure::Code(code));
    }

    /// Removes and returns the request `reply` names if it is an answer that request's kind
    /// can take. A wrong kind of answer (only a buggy or hostile server sends one) leaves the
    /// request waiting, to be answered properly or to time out.
    fn take_pending(&mut self, reply: &Reply) -> Option<PendingKind> {
        let id = reply.id();
        let kind = self.requests.take_if(id, |kind| answers(reply, kind))?;
        self.track(&kind, id, Fate::Answered);
        Some(kind)
    }

    /// Answers every waiting request with its family's NOT_LOGGED_IN (logout).
    pub(super) fn fail_all_pending(&mut self) {
        for (id, p) in self.requests.take_all() {
            self.answer_with_failure(id, p.kind, Failure::NotLoggedIn);
        }
        self.arm_request_timer();
    }

    pub(super) fn answer_with_failure(&mut self, id: u32, kind: PendingKind, why: Failure) {
        if let PendingKind::MediaGrant(transfer) = kind {
            return self.media_grant_failed(transfer, why);
        }
        if let Some(response) = failure_response(kind, why) {
            self.respond(RequestId(id), response);
        }
    }
}
