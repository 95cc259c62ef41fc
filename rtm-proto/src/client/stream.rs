//! The client's end of the delivery stream ([`Inbox`]): positions, acknowledgements, and
//! the delivery of each push to the application once (a push resent after a resume is
//! acknowledged but not delivered again).

use crate::client::ChannelEvent;
use crate::ids::UserId;
use crate::wire::{ClientFrame, Push};

use super::link::Link;
use super::{Client, Event, TransportId};

/// Non-urgent stream pushes acknowledged at least every this many.
const ACK_BATCH: u64 = 16;

/// Bytes of pushes read after which they are acknowledged: a quarter of the server's first
/// send window (64 KiB, PROTOCOL.md), so that the window never runs dry while acks travel.
const ACK_BATCH_BYTES: usize = 16 * 1024;

/// Peer messages remembered as delivered (by sender and `msg_id`), to drop a redelivery.
pub(super) const DELIVERED_MEMORY: usize = 4096;

/// The client's end of the delivery stream: which positions were read, acknowledged and
/// delivered, and which peer messages were delivered already.
#[derive(Debug, Clone)]
pub(super) struct Inbox {
    /// Position of the last push read on the current link.
    pos: u64,
    /// Highest position delivered to the application in this server session: pushes a
    /// resume resends from below it are acknowledged, not delivered again.
    delivered: u64,
    /// Last position acknowledged to the server.
    acked: u64,
    /// Bytes of pushes read since the last acknowledgement.
    unacked_bytes: usize,
    /// Peer messages delivered, by sender and `msg_id`: a message delivered again in a
    /// later server session (its ack was lost with the old one) is dropped.
    messages: RecentSet<(UserId, u64)>,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            pos: 0,
            delivered: 0,
            acked: 0,
            unacked_bytes: 0,
            messages: RecentSet::new(DELIVERED_MEMORY),
        }
    }
}

impl Inbox {
    /// A push of `len` bytes was read: it takes the next position. Returns whether it is
    /// fresh, i.e. to be delivered to the application.
    pub(super) fn read(&mut self, len: usize) -> bool {
        self.pos += 1;
        self.unacked_bytes += len;
        let fresh = self.pos > self.delivered;
        if fresh {
            self.delivered = self.pos;
        }
        fresh
    }

    /// Whether to acknowledge now: at once after a peer message (`urgent`: its sender waits
    /// for the receipt), otherwise in batches of pushes or bytes (the server's window opens
    /// only with acks), or with the next heartbeat.
    pub(super) fn ack_due(&self, urgent: bool) -> bool {
        urgent || self.pos - self.acked >= ACK_BATCH || self.unacked_bytes >= ACK_BATCH_BYTES
    }

    /// The position to acknowledge, if anything read is not acknowledged yet; it counts as
    /// acknowledged from here on.
    pub(super) fn take_ack(&mut self) -> Option<u64> {
        (self.pos > self.acked).then(|| {
            self.acked = self.pos;
            self.unacked_bytes = 0;
            self.pos
        })
    }

    /// A login was answered: positions before `resend_from` were acknowledged, and what
    /// follows is resent or new. A session that was not resumed delivers all it sends.
    pub(super) fn on_login(&mut self, resend_from: u64, resumed: bool) {
        self.pos = resend_from.saturating_sub(1);
        self.acked = self.pos;
        self.unacked_bytes = 0;
        if !resumed {
            self.delivered = self.pos;
        }
    }

    /// An explicit login or a logout: the next server session's positions start over.
    pub(super) fn forget_session(&mut self) {
        self.delivered = 0;
    }

    /// Whether the peer message `(from, msg_id)` is delivered for the first time.
    pub(super) fn first_delivery(&mut self, from: &UserId, msg_id: u64) -> bool {
        self.messages.insert((from.clone(), msg_id))
    }
}

impl Client {
    /// A push of the delivery stream: it takes the next position; positions already
    /// delivered (resent after a resume) are acknowledged but not delivered again.
    pub(super) fn on_stream_push(&mut self, transport: TransportId, push: Push, len: usize) {
        let fresh = self.inbox.read(len);
        let urgent = matches!(push, Push::Message { .. });
        if fresh {
            self.deliver_push(push);
        } else if let Push::Invitation {
            caller, invitation, ..
        } = push
        {
            // Resent after a resume: the first `invitation_ack` may have been lost with the
            // old link, and the caller waits for it.
            self.send_frame(
                transport,
                &ClientFrame::InvitationAck { caller, invitation },
            );
        }
        if self.inbox.ack_due(urgent) {
            self.send_ack(transport);
        }
    }

    pub(super) fn send_ack(&mut self, transport: TransportId) {
        if let Some(seq) = self.inbox.take_ack() {
            self.send_frame(transport, &ClientFrame::Ack { seq });
        }
    }

    fn deliver_push(&mut self, push: Push) {
        let event = match push {
            Push::Message {
                from,
                msg_id,
                message,
                server_ts,
                offline,
            } => {
                // Delivered before, in an earlier server session (an ack lost before the
                // session ended): the stream position cannot tell, the message id can.
                if !self.inbox.first_delivery(&from, msg_id) {
                    return;
                }
                Event::MessageFromPeer {
                    peer_id: from,
                    message,
                    server_received_ts: server_ts,
                    is_offline_message: offline,
                }
            }
            Push::ChannelMessage {
                channel,
                epoch,
                cseq,
                from,
                message,
                server_ts,
            } => {
                if !self.accept_channel_message(&channel, epoch, cseq) {
                    return;
                }
                Event::Channel {
                    channel,
                    event: ChannelEvent::Message {
                        member_id: from,
                        message,
                        server_received_ts: server_ts,
                    },
                }
            }
            Push::MemberJoined { channel, member } if self.in_channel(&channel) => Event::Channel {
                channel,
                event: ChannelEvent::MemberJoined { member_id: member },
            },
            Push::MemberLeft { channel, member } if self.in_channel(&channel) => Event::Channel {
                channel,
                event: ChannelEvent::MemberLeft { member_id: member },
            },
            Push::MemberCount { channel, count } if self.in_channel(&channel) => Event::Channel {
                channel,
                event: ChannelEvent::MemberCountUpdated { count },
            },
            Push::AttributesUpdated {
                channel,
                attributes,
            } if self.in_channel(&channel) => Event::Channel {
                channel,
                event: ChannelEvent::AttributesUpdated { attributes },
            },
            Push::Invitation {
                caller,
                invitation,
                content,
                channel_id,
            } => {
                if let Link::Up { transport } = self.link {
                    self.on_invitation(transport, caller, invitation, content, channel_id);
                }
                return;
            }
            Push::LocalInvitation(u) => return self.on_local_update(u),
            Push::RemoteInvitation(u) => return self.on_remote_update(u),
            Push::Removed { channel, reason } if self.on_removed(&channel, reason) => {
                Event::Channel {
                    channel,
                    event: ChannelEvent::Removed { reason },
                }
            }
            _ => return,
        };
        self.emit(event);
    }
}

/// A set that remembers its last `cap` insertions.
#[derive(Debug, Clone)]
pub(super) struct RecentSet<T: Ord + Clone> {
    cap: usize,
    set: std::collections::BTreeSet<T>,
    order: std::collections::VecDeque<T>,
}

impl<T: Ord + Clone> RecentSet<T> {
    pub(super) fn new(cap: usize) -> Self {
        RecentSet {
            cap,
            set: Default::default(),
            order: std::collections::VecDeque::new(),
        }
    }

    /// Inserts `t`; false if it was already there.
    pub(super) fn insert(&mut self, t: T) -> bool {
        if !self.set.insert(t.clone()) {
            return false;
        }
        self.order.push_back(t);
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        debug_assert!(self.set.len() <= self.cap);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    #[test]
    fn a_resume_resends_what_was_not_acknowledged_and_delivers_only_the_new() {
        let mut inbox = Inbox::default();
        inbox.on_login(1, false);
        assert!(inbox.read(10) && inbox.read(10) && inbox.read(10));
        assert_eq!(inbox.take_ack(), Some(3));
        assert!(inbox.read(10) && inbox.read(10));
        // The link dropped before positions 4 and 5 were acknowledged: the server resumes
        // from 4; they were delivered already, 6 is new.
        inbox.on_login(4, true);
        assert!(!inbox.read(10));
        assert!(!inbox.read(10));
        assert!(inbox.read(10));
        assert_eq!(inbox.take_ack(), Some(6));
        assert_eq!(inbox.take_ack(), None);
    }

    #[test]
    fn a_new_session_delivers_everything_it_sends() {
        let mut inbox = Inbox::default();
        inbox.on_login(1, false);
        for _ in 0..5 {
            inbox.read(1);
        }
        // Session lost: the new one numbers from 1 again, all of it fresh.
        inbox.on_login(1, false);
        assert!(inbox.read(1));
        inbox.forget_session();
        inbox.on_login(1, false);
        assert!(inbox.read(1));
    }

    #[test]
    fn acks_go_at_once_for_peer_messages_else_by_count_or_bytes() {
        let mut inbox = Inbox::default();
        inbox.read(100);
        assert!(inbox.ack_due(true));
        assert!(!inbox.ack_due(false));
        for _ in 1..ACK_BATCH {
            inbox.read(100);
        }
        assert!(inbox.ack_due(false), "{ACK_BATCH} pushes");
        inbox.take_ack();
        inbox.read(ACK_BATCH_BYTES);
        assert!(inbox.ack_due(false), "{ACK_BATCH_BYTES} bytes");
    }

    #[test]
    fn a_peer_message_is_delivered_once_across_sessions_while_remembered() {
        let mut inbox = Inbox::default();
        assert!(inbox.first_delivery(&uid("alice"), 7));
        assert!(!inbox.first_delivery(&uid("alice"), 7));
        assert!(inbox.first_delivery(&uid("bob"), 7));
        for n in 0..DELIVERED_MEMORY as u64 {
            inbox.first_delivery(&uid("carol"), n);
        }
        // Forgotten past the memory's bound.
        assert!(inbox.first_delivery(&uid("alice"), 7));
    }
}
