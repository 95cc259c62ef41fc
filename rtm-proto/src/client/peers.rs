//! Peer messages (§4.3) and peer presence (§4.4): sending, querying, subscribing, and
//! reporting presence changes to the application.

use std::collections::{BTreeMap, BTreeSet};

use crate::errors::*;
use crate::ids::UserId;
use crate::limits::{MAX_QUERY_PEERS, MAX_SUBSCRIPTIONS};
use crate::message::Message;
use crate::wire::{ClientFrame, PeerStatus};

use super::pending::PendingKind;
use super::{Client, Event, RequestId};

/// `SendMessageOptions` (§4.3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendMessageOptions {
    /// Store the message if the peer is offline and deliver it at its next login (§4.3.4).
    pub enable_offline_messaging: bool,
}

impl Client {
    /// `sendMessageToPeer(message, peerId, options)` (§4.3.2). The result arrives as
    /// `Response::SendMessageToPeer`: received, cached by the server, or peer unreachable.
    pub fn send_message_to_peer(
        &mut self,
        now: crate::time::Timestamp,
        peer_id: &str,
        message: Message,
        options: SendMessageOptions,
    ) -> Result<RequestId, PeerMessageError> {
        self.enter(now, PeerMessageError::NotLoggedIn)?;
        let to = UserId::new(peer_id).map_err(|_| PeerMessageError::InvalidUserId)?;
        if Some(&to) == self.uid.as_ref() {
            return Err(PeerMessageError::InvalidUserId);
        }
        if !message.is_valid() {
            return Err(PeerMessageError::InvalidMessage);
        }
        if !self.limiters.messages.try_acquire(self.now) {
            return Err(PeerMessageError::TooOften);
        }
        let msg_id = self.rng.next_u64();
        let offline = options.enable_offline_messaging;
        Ok(self.start_request(
            PendingKind::PeerMessage,
            self.config.request_timeout,
            |id| ClientFrame::PeerMessage {
                id,
                to,
                msg_id,
                message,
                offline,
            },
        ))
    }

    /// `queryPeersOnlineStatus(peerIds)` (§4.4): ≤ 256 ids, answered in input order.
    pub fn query_peers_online_status(
        &mut self,
        now: crate::time::Timestamp,
        peer_ids: &[&str],
    ) -> Result<RequestId, QueryPeersOnlineStatusError> {
        self.enter(now, QueryPeersOnlineStatusError::NotLoggedIn)?;
        let peers = parse_ids(peer_ids, MAX_QUERY_PEERS)
            .ok_or(QueryPeersOnlineStatusError::InvalidArgument)?;
        if !self.limiters.query_online.try_acquire(self.now) {
            return Err(QueryPeersOnlineStatusError::TooOften);
        }
        Ok(self.start_request(
            PendingKind::QueryOnline,
            self.config.request_timeout,
            |id| ClientFrame::QueryOnline { id, peers },
        ))
    }

    /// `subscribePeersOnlineStatus(peerIds)` (§4.4): ≤ 512 subscribed in total. On success a
    /// `PeersOnlineStatusChanged` reports the current state of the peers asked for.
    pub fn subscribe_peers_online_status(
        &mut self,
        now: crate::time::Timestamp,
        peer_ids: &[&str],
    ) -> Result<RequestId, PeerSubscriptionStatusError> {
        let peers = self.subscription_peers(now, peer_ids)?;
        let new: BTreeSet<&UserId> = peers
            .iter()
            .filter(|p| !self.subscriptions.contains_key(*p))
            .collect();
        if self.subscriptions.len() + new.len() > MAX_SUBSCRIPTIONS {
            return Err(PeerSubscriptionStatusError::Overflow);
        }
        if !self.limiters.subscribe.try_acquire(self.now) {
            return Err(PeerSubscriptionStatusError::TooOften);
        }
        let kind = PendingKind::Subscribe(peers.clone());
        Ok(self.start_request(kind, self.config.request_timeout, |id| {
            ClientFrame::Subscribe {
                id,
                peers,
                replace: false,
            }
        }))
    }

    /// The checks `subscribe` and `unsubscribe` share: logged in, and valid peer ids.
    fn subscription_peers(
        &mut self,
        now: crate::time::Timestamp,
        peer_ids: &[&str],
    ) -> Result<Vec<UserId>, PeerSubscriptionStatusError> {
        self.enter(now, PeerSubscriptionStatusError::NotLoggedIn)?;
        parse_ids(peer_ids, usize::MAX).ok_or(PeerSubscriptionStatusError::InvalidArgument)
    }

    /// `unsubscribePeersOnlineStatus(peerIds)` (§4.4).
    pub fn unsubscribe_peers_online_status(
        &mut self,
        now: crate::time::Timestamp,
        peer_ids: &[&str],
    ) -> Result<RequestId, PeerSubscriptionStatusError> {
        let peers = self.subscription_peers(now, peer_ids)?;
        if !self.limiters.unsubscribe.try_acquire(self.now) {
            return Err(PeerSubscriptionStatusError::TooOften);
        }
        let kind = PendingKind::Unsubscribe(peers.clone());
        Ok(self.start_request(kind, self.config.request_timeout, |id| {
            ClientFrame::Unsubscribe { id, peers }
        }))
    }

    /// `queryPeersBySubscriptionOption(ONLINE_STATUS)` (§4.4): the peers this client is
    /// subscribed to. Answered from the client's own record, which the server mirrors.
    pub fn query_peers_by_subscription_option(
        &mut self,
        now: crate::time::Timestamp,
    ) -> Result<Vec<UserId>, QueryPeersBySubscriptionOptionError> {
        self.enter(now, QueryPeersBySubscriptionOptionError::NotLoggedIn)?;
        if !self.limiters.query_subscribed.try_acquire(self.now) {
            return Err(QueryPeersBySubscriptionOptionError::TooOften);
        }
        Ok(self.subscriptions.keys().cloned().collect())
    }

    /// Reports presence: everything in a fresh snapshot (`all`), else only what changed since
    /// the last report. Peers no longer subscribed are ignored.
    pub(super) fn report_presence(&mut self, peers: Vec<PeerStatus>, all: bool) {
        let mut changed = BTreeMap::new();
        for p in peers {
            if let Some(last) = self.subscriptions.get_mut(&p.peer) {
                if all || *last != Some(p.state) {
                    *last = Some(p.state);
                    changed.insert(p.peer, p.state);
                }
            }
        }
        if !changed.is_empty() {
            self.emit(Event::PeersOnlineStatusChanged(changed));
        }
    }
}

/// Validates a non-empty id list of at most `max`.
fn parse_ids(ids: &[&str], max: usize) -> Option<Vec<UserId>> {
    if ids.is_empty() || ids.len() > max {
        return None;
    }
    ids.iter().map(|s| UserId::new(*s).ok()).collect()
}
