//! The client's end of the delivery stream: positions, acknowledgements, and the delivery
//! of each push to the application once (a push resent after a resume is acknowledged but
//! not delivered again).

use crate::client::ChannelEvent;
use crate::wire::{ClientFrame, Push};

use super::link::Link;
use super::{Client, Event, TransportId};

/// Non-urgent stream pushes acknowledged at least every this many.
const ACK_BATCH: u64 = 16;

/// Bytes of pushes read after which they are acknowledged: a quarter of the server's first
/// send window (64 KiB, PROTOCOL.md), so that the window never runs dry while acks travel.
const ACK_BATCH_BYTES: usize = 16 * 1024;

impl Client {
    /// A push of the delivery stream: it takes the next position; positions already
    /// delivered (resent after a resume) are acknowledged but not delivered again.
    pub(super) fn on_stream_push(&mut self, transport: TransportId, push: Push) {
        self.stream_pos += 1;
        let fresh = self.stream_pos > self.delivered_pos;
        if fresh {
            self.delivered_pos = self.stream_pos;
        }
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
        // Peer messages are acknowledged at once (the sender waits for the receipt); the
        // rest in batches of pushes or bytes (the server's window opens only with acks), or
        // with the next heartbeat.
        if urgent
            || self.stream_pos - self.acked_pos >= ACK_BATCH
            || self.unacked_bytes >= ACK_BATCH_BYTES
        {
            self.send_ack(transport);
        }
    }

    pub(super) fn send_ack(&mut self, transport: TransportId) {
        if self.stream_pos > self.acked_pos {
            self.acked_pos = self.stream_pos;
            self.unacked_bytes = 0;
            let seq = self.stream_pos;
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
                if !self.delivered_messages.insert((from.clone(), msg_id)) {
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
            _ => return,
        };
        self.emit(event);
    }
}

/// Peer messages remembered as delivered (by sender and `msg_id`), to drop a redelivery.
pub(super) const DELIVERED_MEMORY: usize = 4096;

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
