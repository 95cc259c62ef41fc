//! Keeping the server in step with the client's record (§2.6): which requests change
//! convergent state, what became of them, and the corrections a [`Converge`] asks for.

use crate::attributes::AttrOp;
use crate::ids::ChannelId;
use crate::wire::{ChannelCursor, ClientFrame};

use super::channels::JoinedChannel;
use super::converge::Converge;
use super::link::Link;
use super::pending::PendingKind;
use super::pending::SHORT_TIMEOUT;
use super::Client;

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Started,
    Answered,
    /// No answer will come: it timed out, or was dropped to be made again.
    Lost,
}

impl Fate {
    fn apply(self, sync: &mut Converge, id: u32, restates: bool) {
        match self {
            Fate::Started => sync.started(id),
            Fate::Answered => sync.answered(id, restates),
            Fate::Lost => sync.lost(id),
        }
    }
}

/// The convergent state a request changes, and whether it restates all of it.
enum Changes<'a> {
    Subscriptions {
        restates: bool,
    },
    UserAttributes {
        restates: bool,
    },
    /// A join or leave says the whole membership of its channel.
    Membership(&'a ChannelId),
}

impl PendingKind {
    fn changes(&self) -> Option<Changes<'_>> {
        Some(match self {
            PendingKind::Subscribe(_) | PendingKind::Unsubscribe(_) => {
                Changes::Subscriptions { restates: false }
            }
            PendingKind::Resubscribe => Changes::Subscriptions { restates: true },
            PendingKind::UserAttrWrite(..) => Changes::UserAttributes { restates: false },
            PendingKind::RestateUserAttrs => Changes::UserAttributes { restates: true },
            PendingKind::Join(c)
            | PendingKind::Leave(c)
            | PendingKind::Rejoin(c)
            | PendingKind::Unjoin(c) => Changes::Membership(c),
            _ => return None,
        })
    }

    /// A correction, made from the record when sent: one left from an earlier link is
    /// dropped and made again rather than resent after newer changes it would undo.
    fn is_snapshot(&self) -> bool {
        matches!(
            self,
            PendingKind::Resubscribe | PendingKind::RestateUserAttrs
        )
    }
}

impl Client {
    /// Tells the convergent state `kind` changes what became of request `id`.
    pub(super) fn track(&mut self, kind: &PendingKind, id: u32, fate: Fate) {
        match kind.changes() {
            None => {}
            Some(Changes::Subscriptions { restates }) => {
                fate.apply(&mut self.subscription_sync, id, restates)
            }
            Some(Changes::UserAttributes { restates }) => {
                fate.apply(&mut self.user_attr_sync, id, restates)
            }
            Some(Changes::Membership(channel)) => {
                let sync = self.channel_sync.entry(channel.clone()).or_default();
                fate.apply(sync, id, true);
                if sync.is_quiet() {
                    self.channel_sync.remove(channel);
                }
            }
        }
    }

    /// The id of the newest request made so far.
    fn newest_request(&self) -> u32 {
        self.requests.newest()
    }

    /// A link came up (`fresh`: on a new server session). A resumed session may hold other
    /// subscriptions than the record (a change whose answer was lost), a fresh one holds
    /// nothing: resubscribe, restate the attributes, rejoin the channels (§2.6).
    pub(super) fn resync_on_login(&mut self, fresh: bool) {
        let stale: Vec<u32> = self
            .requests
            .kinds()
            .filter(|(_, k)| k.is_snapshot())
            .map(|(id, _)| id)
            .collect();
        for id in stale {
            if let Some(kind) = self.requests.take_if(id, |_| true) {
                self.track(&kind, id, Fate::Lost);
            }
        }
        let newest = self.newest_request();
        if !self.subscriptions.is_empty() {
            self.subscription_sync.doubt(newest);
        }
        if fresh {
            if !self.user_attributes.is_empty() {
                self.user_attr_sync.doubt(newest);
            }
            // The new server session holds no membership, as the record of a channel not
            // joined says: the rejoins below are the whole correction.
            for sync in self.channel_sync.values_mut() {
                sync.settle();
            }
            self.channel_sync.retain(|_, s| !s.is_quiet());
            self.rejoin_channels();
        }
        self.reconcile();
    }

    /// Sends the corrections the convergent state asks for.
    pub(super) fn reconcile(&mut self) {
        if !matches!(self.link, Link::Up { .. }) {
            return;
        }
        let timeout = self.config.request_timeout;
        if self.subscription_sync.wants_correction() {
            let peers = self.subscriptions.keys().cloned().collect();
            self.start_request(PendingKind::Resubscribe, timeout, |id| {
                ClientFrame::Subscribe {
                    id,
                    peers,
                    replace: true,
                }
            });
        }
        if self.user_attr_sync.wants_correction() {
            let attributes = self.user_attributes.clone();
            self.start_request(PendingKind::RestateUserAttrs, timeout, |id| {
                ClientFrame::UserAttrs {
                    id,
                    op: AttrOp::Set,
                    attributes,
                    keys: Vec::new(),
                }
            });
        }
        let channels: Vec<ChannelId> = self
            .channel_sync
            .iter()
            .filter(|(_, s)| s.wants_correction())
            .map(|(c, _)| c.clone())
            .collect();
        for channel in channels {
            self.correct_membership(channel);
        }
    }

    /// A join with the cursor (replaying what was missed) for a channel the record has
    /// joined, a leave for one it does not have.
    fn correct_membership(&mut self, channel: ChannelId) {
        let c = channel.clone();
        match self.channels.get(&channel) {
            Some(JoinedChannel {
                joined: true,
                cursor,
            }) => {
                let resume = *cursor;
                self.start_request(PendingKind::Rejoin(channel), SHORT_TIMEOUT, |id| {
                    ClientFrame::Join {
                        id,
                        channel: c,
                        resume,
                    }
                });
            }
            // A join of it is in flight (then there is nothing to correct yet).
            Some(_) => {}
            None => {
                let timeout = self.config.request_timeout;
                self.start_request(PendingKind::Unjoin(channel), timeout, |id| {
                    ClientFrame::Leave { id, channel: c }
                });
            }
        }
    }

    /// After a reconnect that lost the server session: rejoin every channel (§2.6), asking
    /// for the messages missed since the last one delivered.
    fn rejoin_channels(&mut self) {
        let joined: Vec<(ChannelId, Option<ChannelCursor>)> = self
            .channels
            .iter()
            .filter(|(_, c)| c.joined)
            .map(|(id, c)| (id.clone(), c.cursor))
            .collect();
        for (channel, resume) in joined {
            let c = channel.clone();
            self.start_request(PendingKind::Rejoin(channel), SHORT_TIMEOUT, |id| {
                ClientFrame::Join {
                    id,
                    channel: c,
                    resume,
                }
            });
        }
    }

    /// What a logout forgets of the convergent state.
    pub(super) fn forget_sync(&mut self) {
        self.subscription_sync = Converge::default();
        self.user_attr_sync = Converge::default();
        self.channel_sync.clear();
    }
}
