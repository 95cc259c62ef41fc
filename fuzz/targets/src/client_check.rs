//! What `client_inputs` checks of a client's outputs: the §2.3 transitions, request ids,
//! "every request is answered", the §10 invitation events, and the transfers' exchanges
//! (ordered only for a transfer waiting for its answer, once; cancelled only while running;
//! never answered while its exchange runs).

use std::collections::{BTreeMap, BTreeSet};

use rtm_proto::client::{ClientOutput, Event, TransferOrder};
use rtm_proto::wire::{ClientFrame, InvitationKey, MAX_FRAME_BYTES};
use rtm_proto::{Client, ConnectionState as State};
use rtm_proto::{LocalInvitationEvent, RemoteInvitationEvent};
use rtm_transport_sim::config::Relaxations;
use rtm_transport_sim::model::allowed_transition;
use serde_json::Value;

use crate::debug;

/// What a client request waits for (to recognise answers of the wrong kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Login,
    Send,
    Query,
    Subscribe,
    Unsubscribe,
    Renew,
    Join,
    Leave,
    ChannelMessage,
    GetMembers,
    MemberCount,
    AttrWrite,
    GetUserAttrs,
    GetChannelAttrs,
    /// A file or image transfer: answered by the core, never by a reply of its id.
    Upload,
    Download,
}

impl Kind {
    /// Whether a frame of type `ty` answers a request of this kind.
    pub(crate) fn answered_by(self, ty: &str) -> bool {
        match self {
            Kind::Login | Kind::Upload | Kind::Download => true,
            Kind::Send => matches!(ty, "peer_message_result" | "error"),
            Kind::Query => matches!(ty, "online_status" | "error"),
            Kind::Subscribe => matches!(ty, "subscribed" | "error"),
            Kind::Unsubscribe
            | Kind::Renew
            | Kind::Leave
            | Kind::ChannelMessage
            | Kind::AttrWrite => matches!(ty, "ok" | "error"),
            Kind::Join => matches!(ty, "joined" | "error"),
            Kind::GetMembers => matches!(ty, "members" | "error"),
            Kind::MemberCount => matches!(ty, "member_counts" | "error"),
            Kind::GetUserAttrs => matches!(ty, "user_attributes" | "error"),
            Kind::GetChannelAttrs => matches!(ty, "channel_attributes" | "error"),
        }
    }
}

pub(crate) struct ClientCheck {
    pub(crate) relax: Relaxations,
    pub(crate) now: u64,
    pub(crate) state: State,
    pub(crate) outstanding: BTreeMap<u32, Kind>,
    /// Requests that were sent an answer of the wrong kind.
    pub(crate) mismatched: BTreeSet<u32>,
    pub(crate) connected: BTreeSet<u64>,
    pub(crate) opened: BTreeSet<u64>,
    pub(crate) last_transport: u64,
    pub(crate) sid: String,
    /// Caller-side invitations made, and whether they ended.
    pub(crate) local: BTreeMap<u64, bool>,
    /// Callee-side invitations received, and whether they ended.
    pub(crate) remote: BTreeMap<InvitationKey, bool>,
    /// Transfers whose HTTP exchange runs (ordered, not yet ended or cancelled).
    pub(crate) running: BTreeSet<u32>,
    /// Ids of `media_grant` requests sent, to answer with a ticket.
    pub(crate) grants: Vec<u32>,
}

impl ClientCheck {
    /// §10: events only for invitations the client knows, at most one end each, nothing
    /// after it; ReceivedByPeer only while open.
    pub(crate) fn invitation_event(&mut self, e: &Event) {
        let (local, id, terminal) = match e {
            Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::ReceivedByPeer,
            } => (true, invitation.0, false),
            Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Accepted { .. },
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Refused { .. },
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Canceled,
            }
            | Event::LocalInvitation {
                invitation,
                event: LocalInvitationEvent::Failure { .. },
            } => (true, invitation.0, true),
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Received { .. },
            } => {
                let fresh = self.remote.insert(invitation.clone(), false).is_none();
                assert!(fresh, "RemoteInvitationReceived twice for {invitation:?}");
                return;
            }
            Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Accepted,
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Refused,
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Canceled { .. },
            }
            | Event::RemoteInvitation {
                invitation,
                event: RemoteInvitationEvent::Failure { .. },
            } => {
                let ended = self.remote.get_mut(invitation);
                assert!(
                    ended.as_deref() == Some(&false),
                    "{e:?} for an invitation not received or already over"
                );
                *ended.expect("checked") = true;
                return;
            }
            _ => return,
        };
        debug_assert!(local);
        let ended = self.local.get_mut(&id);
        assert!(
            ended.as_deref() == Some(&false),
            "{e:?} for an invitation not made or already over"
        );
        *ended.expect("checked") = terminal;
    }

    pub(crate) fn drain(&mut self, c: &mut Client, ticked: bool) {
        let mut outputs = 0usize;
        while let Some(out) = c.poll_output() {
            outputs += 1;
            assert!(outputs < 100_000, "client output runaway");
            if debug() {
                eprintln!("{:>8} client -> {out:?}", self.now);
            }
            match out {
                ClientOutput::Connect(t) => {
                    assert!(t.0 > self.last_transport, "transport id reused: {t:?}");
                    self.last_transport = t.0;
                    self.connected.insert(t.0);
                }
                ClientOutput::Send(t, frame) => {
                    assert!(
                        self.opened.contains(&t.0),
                        "client sent on transport {t:?} that was never opened"
                    );
                    // Known bug (relaxation `no_escape_heavy_messages`): valid text messages
                    // can encode over the limit.
                    assert!(
                        frame.len() <= MAX_FRAME_BYTES || self.relax.no_escape_heavy_messages,
                        "client sent a {}-byte frame, over the {MAX_FRAME_BYTES}-byte limit the server enforces",
                        frame.len()
                    );
                    if frame.len() <= MAX_FRAME_BYTES {
                        match ClientFrame::decode(&frame) {
                            Ok(ClientFrame::MediaGrant { id }) if self.grants.len() < 64 => {
                                self.grants.push(id)
                            }
                            Ok(_) => {}
                            Err(e) => panic!("client sent a frame that does not decode: {e}"),
                        }
                    }
                }
                ClientOutput::Transfer(order) => self.transfer(order),
                ClientOutput::Close(t, _) => {
                    assert!(self.connected.contains(&t.0), "client closed unknown {t:?}");
                }
                ClientOutput::Event(e) => self.event(e),
            }
        }
        assert_eq!(
            c.connection_state(),
            self.state,
            "connection_state() disagrees with events"
        );
        if let Some(t) = c.poll_timeout() {
            let t = t.as_millis();
            let known_bug =
                self.relax.link_lost_while_draining && self.state == State::Disconnected;
            assert!(
                known_bug || t >= self.now,
                "poll_timeout {t} is before now {}",
                self.now
            );
            assert!(
                known_bug || !(ticked && outputs == 0 && t == self.now),
                "a tick at the deadline {t} made no progress"
            );
        }
    }

    fn transfer(&mut self, order: TransferOrder) {
        match order {
            TransferOrder::Upload { request, .. } | TransferOrder::Download { request, .. } => {
                let kind = self.outstanding.get(&request.0);
                assert!(
                    matches!(kind, Some(Kind::Upload | Kind::Download)),
                    "an exchange ordered for request {} ({kind:?})",
                    request.0
                );
                assert!(
                    self.running.insert(request.0),
                    "a second exchange ordered for {} while one runs",
                    request.0
                );
            }
            TransferOrder::Cancel { request } => assert!(
                self.running.remove(&request.0),
                "cancel of {}, whose exchange does not run",
                request.0
            ),
        }
    }

    pub(crate) fn event(&mut self, e: Event) {
        match e {
            Event::ConnectionStateChanged { state, reason } => {
                let known_bug = self.relax.kicked_before_login_ok
                    && state == State::Aborted
                    && (self.state == State::Connecting
                        || (self.state == State::Reconnecting
                            && reason == rtm_proto::ConnectionChangeReason::TokenExpired));
                assert!(
                    known_bug || allowed_transition(self.state, state, reason),
                    "transition {:?} -> {state:?} ({reason:?}) not allowed by §2.3",
                    self.state
                );
                self.state = state;
            }
            Event::Response { request, .. } => {
                assert!(
                    !self.running.contains(&request.0),
                    "transfer {} answered while its exchange runs",
                    request.0
                );
                assert!(
                    self.outstanding.remove(&request.0).is_some(),
                    "response for request {} which is not outstanding",
                    request.0
                );
            }
            e => self.invitation_event(&e),
        }
    }

    pub(crate) fn track<E>(&mut self, kind: Kind, r: Result<rtm_proto::RequestId, E>) {
        if let Ok(id) = r {
            assert!(
                self.outstanding.insert(id.0, kind).is_none(),
                "request id {} reused",
                id.0
            );
        }
    }

    /// Notes answers of the wrong kind for pending requests.
    pub(crate) fn saw_answer(&mut self, frame: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(frame) else {
            return;
        };
        let (Some(ty), Some(id)) = (v["type"].as_str(), v["id"].as_u64()) else {
            return;
        };
        if let Some(kind) = self.outstanding.get(&(id as u32)) {
            if !kind.answered_by(ty) {
                self.mismatched.insert(id as u32);
            }
        }
    }
}
