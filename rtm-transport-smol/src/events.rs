//! Event listeners: every listener sees every event, as with the SDK's `client.on(...)`.
//!
//! [`crate::RtmClient::events`] gives a listener of all the client's events,
//! [`crate::RtmChannel::events`] one of a channel's, and each invitation one of its own. Each
//! listener has a queue of its own, bounded by [`EVENT_QUEUE`]: a listener that does not keep
//! up loses its oldest events, and its next [`Events::recv`] says how many
//! ([`RecvError::Lagged`]) before it goes on with the rest. Listeners never slow down the
//! client or each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_channel::{Receiver, Sender, TryRecvError};
use rtm_proto::client::InvitationId;
use rtm_proto::{ChannelId, Event, InvitationKey};

/// Events one listener may have waiting before its oldest are dropped.
pub const EVENT_QUEUE: usize = 4096;

/// Why [`Events::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// This listener fell behind and lost this many of its oldest events; the next call
    /// returns the events that followed them.
    #[error("this listener fell behind: {0} events were dropped")]
    Lagged(u64),
    /// The client is gone: no event will come any more.
    #[error("the client is gone")]
    Closed,
}

/// Which events a listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    All,
    Channel(ChannelId),
    Local(InvitationId),
    Remote(InvitationKey),
}

impl Filter {
    fn hears(&self, event: &Event) -> bool {
        match self {
            Filter::All => true,
            Filter::Channel(c) => event.channel() == Some(c),
            Filter::Local(n) => event.local_invitation() == Some(*n),
            Filter::Remote(k) => event.remote_invitation() == Some(k),
        }
    }
}

#[derive(Debug)]
struct Listener {
    filter: Filter,
    queue: Sender<Event>,
    missed: Arc<AtomicU64>,
}

/// Every listener of one client, shared by its handles (which add listeners) and its driver
/// (which publishes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Listeners(Arc<Mutex<Vec<Listener>>>);

impl Listeners {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Listener>> {
        // A panic while holding this lock cannot leave the list inconsistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new listener of the events `filter` lets through, from now on, keeping at most
    /// `capacity` of them (at least 1).
    pub(crate) fn listen(&self, filter: Filter, capacity: usize) -> Events {
        let (queue, rx) = async_channel::bounded(capacity.max(1));
        let missed = Arc::new(AtomicU64::new(0));
        self.lock().push(Listener {
            filter,
            queue,
            missed: missed.clone(),
        });
        Events { rx, missed }
    }

    /// Hands `event` to every listener that hears it; forgets listeners that were dropped.
    pub(crate) fn publish(&self, event: &Event) {
        let mut listeners = self.lock();
        listeners.retain(|l| !l.queue.is_closed());
        for l in listeners.iter().filter(|l| l.filter.hears(event)) {
            if let Ok(Some(_dropped)) = l.queue.force_send(event.clone()) {
                l.missed.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// The client is gone: every listener's stream ends once it has read what is queued.
    pub(crate) fn close(&self) {
        self.lock().clear();
    }
}

/// One listener's events (see the module documentation).
#[derive(Debug)]
pub struct Events {
    rx: Receiver<Event>,
    missed: Arc<AtomicU64>,
}

impl Events {
    /// The next event; [`RecvError::Lagged`] first if this listener lost events since the
    /// last call, [`RecvError::Closed`] once the client is gone and nothing is left.
    pub async fn recv(&self) -> Result<Event, RecvError> {
        self.lagged()?;
        self.rx.recv().await.map_err(|_| RecvError::Closed)
    }

    /// [`Events::recv`] without waiting: `Ok(None)` when no event is queued.
    pub fn try_recv(&self) -> Result<Option<Event>, RecvError> {
        self.lagged()?;
        match self.rx.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        }
    }

    fn lagged(&self) -> Result<(), RecvError> {
        match self.missed.swap(0, Ordering::AcqRel) {
            0 => Ok(()),
            n => Err(RecvError::Lagged(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtm_proto::client::{ConnectionChangeReason, ConnectionState};
    use rtm_proto::ChannelEvent;

    fn state_event(n: u32) -> Event {
        Event::Channel {
            channel: ChannelId::new("room").unwrap(),
            event: ChannelEvent::MemberCountUpdated { count: n },
        }
    }

    #[test]
    fn every_listener_hears_every_event_and_a_slow_one_is_told_what_it_lost() {
        let listeners = Listeners::default();
        let fast = listeners.listen(Filter::All, EVENT_QUEUE);
        let slow = listeners.listen(Filter::All, EVENT_QUEUE);
        let other_channel = listeners.listen(
            Filter::Channel(ChannelId::new("hall").unwrap()),
            EVENT_QUEUE,
        );
        for n in 0..EVENT_QUEUE as u32 + 10 {
            listeners.publish(&state_event(n));
            assert_eq!(fast.try_recv(), Ok(Some(state_event(n))));
        }
        assert_eq!(slow.try_recv(), Err(RecvError::Lagged(10)));
        assert_eq!(slow.try_recv(), Ok(Some(state_event(10))));
        assert_eq!(other_channel.try_recv(), Ok(None));
        let connected = Event::ConnectionStateChanged {
            state: ConnectionState::Connected,
            reason: ConnectionChangeReason::LoginSuccess,
        };
        listeners.publish(&connected);
        assert_eq!(other_channel.try_recv(), Ok(None), "not a channel event");
        listeners.close();
        assert_eq!(fast.try_recv(), Ok(Some(connected)));
        assert_eq!(fast.try_recv(), Err(RecvError::Closed));
    }

    #[test]
    fn a_dropped_listener_is_forgotten() {
        let listeners = Listeners::default();
        drop(listeners.listen(Filter::All, EVENT_QUEUE));
        listeners.publish(&state_event(1));
        assert!(listeners.lock().is_empty());
    }
}
