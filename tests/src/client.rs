//! [`TestClient`]: an [`RtmClient`] with its own listener and the waits a story needs, each
//! bounded by [`WAIT`](crate::WAIT).

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::Mutex;

use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::client::SendMessageOptions;
use rtm_proto::{
    ChannelEvent, ConnectionChangeReason, ConnectionState, Event, Message, PeerMessageError,
    PeerMessageOutcome, PeerOnlineState,
};
use rtm_transport_smol::{RtmChannel, RtmClient};

use crate::{chan, within, WAIT};

/// An [`RtmClient`] with its event stream and helpers to wait for events.
#[derive(Debug)]
pub struct TestClient {
    client: RtmClient,
    events: rtm_transport_smol::Events,
    /// The latest `MemberCountUpdated` seen per channel (by the channel helpers).
    counts: Mutex<BTreeMap<String, u32>>,
}

/// A received peer message, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub peer_id: String,
    pub message: Message,
    pub server_received_ts: u64,
    pub is_offline_message: bool,
}

impl TestClient {
    pub fn new(client: RtmClient) -> Self {
        let events = client.events();
        TestClient {
            client,
            events,
            counts: Mutex::default(),
        }
    }

    /// Logs in as `uid` (app-id-only mode) and waits for CONNECTED / LOGIN_SUCCESS, so the
    /// story's next wait cannot mistake this login for a later one.
    pub async fn log_in(&self, uid: &str) {
        within(WAIT, &format!("{uid} to log in"), self.login(uid, None))
            .await
            .unwrap_or_else(|e| panic!("{uid} could not log in: {e:?}"));
        self.expect_state(
            ConnectionState::Connected,
            ConnectionChangeReason::LoginSuccess,
        )
        .await;
    }

    /// Sends `text` to `peer` as a plain online message: what a chat does, and what most
    /// stories need (the options of §4.3.2 are tested where they matter). Like the SDK call,
    /// the message is handed to the client now; the future only waits for the outcome, so a
    /// story can send during an outage and await the outcome later.
    pub fn tell(
        &self,
        peer: &str,
        text: &str,
    ) -> impl Future<Output = Result<PeerMessageOutcome, PeerMessageError>> + Send + 'static {
        self.send_message_to_peer(peer, Message::text(text), SendMessageOptions::default())
    }

    /// A handle to `channel`, joined: the join must succeed. What follows the join (counts,
    /// other members' `MemberJoined`) is left to the story to expect.
    pub async fn joined(&self, channel: &str) -> RtmChannel {
        let handle = self.create_channel(channel).expect("a valid channel id");
        handle
            .join()
            .await
            .unwrap_or_else(|e| panic!("joining {channel} failed: {e:?}"));
        handle
    }

    /// The next event, whatever it is.
    pub async fn next_event(&self) -> Event {
        within(WAIT, "the next event", self.events.recv())
            .await
            .expect("the client's event stream ended")
    }

    /// Skips events until `pick` accepts one; returns what it made of it.
    pub async fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        within(WAIT, what, async {
            loop {
                let event = self.events.recv().await.expect("event stream ended");
                if let Some(t) = pick(&event) {
                    return t;
                }
            }
        })
        .await
    }

    /// Waits for `ConnectionStateChanged(state, reason)`, skipping other events.
    pub async fn expect_state(&self, state: ConnectionState, reason: ConnectionChangeReason) {
        let what = format!("ConnectionStateChanged({state:?}, {reason:?})");
        self.wait_for(&what, |e| match e {
            Event::ConnectionStateChanged {
                state: s,
                reason: r,
            } if *s == state => {
                assert_eq!(*r, reason, "state {state:?} reached for another reason");
                Some(())
            }
            _ => None,
        })
        .await
    }

    /// The next peer message, skipping other events.
    pub async fn next_message(&self) -> Received {
        self.wait_for("a peer message", |e| match e {
            Event::MessageFromPeer {
                peer_id,
                message,
                server_received_ts,
                is_offline_message,
            } => Some(Received {
                peer_id: peer_id.to_string(),
                message: message.clone(),
                server_received_ts: *server_received_ts,
                is_offline_message: *is_offline_message,
            }),
            _ => None,
        })
        .await
    }

    /// The next event of a channel (any channel's events other than `channel`'s fail the
    /// test; connection and other non-channel events are skipped).
    pub async fn next_channel_event(&self, channel: &str) -> ChannelEvent {
        let (c, e) = self
            .wait_for(&format!("an event of channel {channel}"), |e| match e {
                Event::Channel { channel, event } => Some((channel.clone(), event.clone())),
                _ => None,
            })
            .await;
        assert_eq!(c.as_str(), channel, "an event of another channel: {e:?}");
        if let ChannelEvent::MemberCountUpdated { count: n } = e {
            self.counts
                .lock()
                .expect("counts")
                .insert(channel.to_string(), n);
        }
        e
    }

    /// The latest member count of `channel` this client was told of (by the helpers).
    pub fn last_count(&self, channel: &str) -> Option<u32> {
        self.counts.lock().expect("counts").get(channel).copied()
    }

    /// Reads `channel`'s events: first exactly the `expected` sequence, with
    /// `MemberCountUpdated` allowed anywhere in between (counts are coalesced by time, §5.2),
    /// then more counts until the latest one this client was told is `count`. Messages are
    /// compared by sender and body; their `serverReceivedTs` values are returned, in order.
    pub async fn expect_channel_events(
        &self,
        channel: &str,
        expected: &[ChannelEvent],
        count: u32,
    ) -> Vec<u64> {
        let mut timestamps = Vec::new();
        let mut seen = Vec::new();
        for want in expected {
            let got = loop {
                match self.next_channel_event(channel).await {
                    count @ ChannelEvent::MemberCountUpdated { .. } => seen.push(count),
                    other => break other,
                }
            };
            if let ChannelEvent::Message {
                server_received_ts, ..
            } = &got
            {
                timestamps.push(*server_received_ts);
            }
            seen.push(got.clone());
            assert_eq!(
                chan::untimed(&got),
                chan::untimed(want),
                "channel {channel}: unexpected event after {seen:?}"
            );
        }
        while self.last_count(channel) != Some(count) {
            match self.next_channel_event(channel).await {
                count @ ChannelEvent::MemberCountUpdated { .. } => seen.push(count),
                other => panic!(
                    "channel {channel}: {other:?} while waiting for the count {count}; saw {seen:?}"
                ),
            }
        }
        timestamps
    }

    /// The next `AttributesUpdated` of `channel` (member counts skipped, any other channel
    /// event fails the test).
    pub async fn next_attributes_update(
        &self,
        channel: &str,
    ) -> BTreeMap<String, ChannelAttribute> {
        loop {
            match self.next_channel_event(channel).await {
                ChannelEvent::MemberCountUpdated { .. } => {}
                ChannelEvent::AttributesUpdated { attributes } => return attributes,
                other => panic!("channel {channel}: {other:?} while waiting for attributes"),
            }
        }
    }

    /// The next invitation event (local or remote), skipping other events.
    pub async fn next_invitation_event(&self) -> Event {
        self.wait_for("an invitation event", |e| {
            matches!(
                e,
                Event::LocalInvitation { .. } | Event::RemoteInvitation { .. }
            )
            .then(|| e.clone())
        })
        .await
    }

    /// The next presence change, skipping other events: `(peer, state)` pairs in peer order.
    pub async fn next_presence(&self) -> Vec<(String, PeerOnlineState)> {
        self.wait_for("a presence change", |e| match e {
            Event::PeersOnlineStatusChanged(m) => {
                Some(m.iter().map(|(p, s)| (p.to_string(), *s)).collect())
            }
            _ => None,
        })
        .await
    }
}

impl Deref for TestClient {
    type Target = RtmClient;
    fn deref(&self) -> &RtmClient {
        &self.client
    }
}

/// Logs each client out in turn; every logout must succeed (the story ends with the server
/// still answering).
pub async fn log_out<'a>(clients: impl IntoIterator<Item = &'a TestClient>) {
    for c in clients {
        c.logout().await.expect("logout");
    }
}

/// Each of `members` reads exactly `expected` on `channel`, its count settling at `count`
/// ([`TestClient::expect_channel_events`]): what "everyone in the room sees it" means.
pub async fn each_hears<'a>(
    members: impl IntoIterator<Item = &'a TestClient>,
    channel: &str,
    expected: &[ChannelEvent],
    count: u32,
) {
    for member in members {
        member.expect_channel_events(channel, expected, count).await;
    }
}

/// Channel messages as a story says them: a text the server must accept.
pub trait Say {
    /// Sends `text` to the channel's other members; the server must accept it.
    fn say(&self, text: &str) -> impl Future<Output = ()> + Send;
}

impl Say for RtmChannel {
    fn say(&self, text: &str) -> impl Future<Output = ()> + Send {
        let sent = self.send_message(Message::text(text));
        let channel = self.channel_id().clone();
        async move {
            sent.await
                .unwrap_or_else(|e| panic!("{channel}: the server refused a message: {e:?}"));
        }
    }
}
