//! Story: an application listens to one client in several places (§5.1's `on`): every
//! listener hears every event, each channel and invitation has listeners of its own that hear
//! only their object, and a listener that stops reading loses its oldest events and is told
//! how many, without holding anyone else up.

use rtm_proto::ChannelEvent;
use rtm_proto::{Event, Message, ServerConfig};
use rtm_tests::{cid, story, uid, within, Say, WAIT};
use rtm_transport_smol::RecvError;

/// The next channel message a listener hears, skipping other events.
async fn next_text(events: &rtm_transport_smol::Events) -> (String, String) {
    within(WAIT, "a channel message", async {
        loop {
            match events.recv().await {
                Ok(Event::Channel {
                    channel,
                    event:
                        ChannelEvent::Message {
                            message: Message::Text { text },
                            ..
                        },
                }) => return (channel.to_string(), text),
                Ok(_) => {}
                Err(e) => panic!("listener failed: {e}"),
            }
        }
    })
    .await
}

#[test]
fn every_listener_hears_every_event_and_a_channel_listener_only_its_channel() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;
        let room_b = bob.joined("room").await;
        let _hall_b = bob.joined("hall").await;
        let first = bob.events();
        let second = bob.events();
        let room_only = room_b.events();

        let room_a = alice.joined("room").await;
        let hall_a = alice.joined("hall").await;
        hall_a.say("in the hall").await;
        room_a.say("in the room").await;

        for listener in [&first, &second] {
            assert_eq!(
                next_text(listener).await,
                ("hall".into(), "in the hall".into())
            );
            assert_eq!(
                next_text(listener).await,
                ("room".into(), "in the room".into())
            );
        }
        // The room's listener hears alice join the room, then the room's message; nothing of
        // the hall. (Read by waiting: the driver may still be handing the message to it.)
        let heard = within(WAIT, "the room's message", async {
            let mut heard = Vec::new();
            loop {
                let event = room_only.recv().await.expect("listening");
                assert_eq!(event.channel(), Some(&cid("room")), "{event:?}");
                let done = matches!(
                    event,
                    Event::Channel {
                        event: ChannelEvent::Message { .. },
                        ..
                    }
                );
                heard.push(event);
                if done {
                    return heard;
                }
            }
        })
        .await;
        assert!(heard.contains(&Event::Channel {
            channel: cid("room"),
            event: ChannelEvent::MemberJoined {
                member_id: uid("alice")
            }
        }));
    });
}

#[test]
fn a_listener_that_stops_reading_is_told_what_it_lost_and_others_are_not_held_up() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;
        // A listener that keeps at most 8 events waiting, and never reads while 28 come.
        let asleep = bob.events_with_capacity(8);
        let awake = bob.events();
        let _room_b = bob.joined("room").await;
        let room_a = alice.joined("room").await;
        let total = 20;
        for i in 0..total {
            room_a.say(&format!("m{i}")).await;
            let (_, text) = next_text(&awake).await;
            assert_eq!(text, format!("m{i}"), "the awake listener keeps up");
        }
        // The sleeping one lost its oldest events and is told so, then reads on in order.
        let lost = match asleep.try_recv() {
            Err(RecvError::Lagged(n)) => n,
            other => panic!("expected Lagged, got {other:?}"),
        };
        // At least 12 of the 20 messages are beyond its 8 (and the join's events before them).
        assert!(lost >= 12, "{lost}");
        let mut last = None;
        while let Ok(Some(event)) = asleep.try_recv() {
            if let Event::Channel {
                event:
                    ChannelEvent::Message {
                        message: Message::Text { text },
                        ..
                    },
                ..
            } = event
            {
                last = Some(text);
            }
        }
        assert_eq!(last, Some(format!("m{}", total - 1)));
    });
}
