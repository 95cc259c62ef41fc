//! User and channel attribute stories (§4.5, §4.6).

mod common;

use rtm_proto::ChannelEvent;
use std::collections::BTreeMap;

use common::{ch, LinkMode, World};
use rtm_proto::client::{ChannelAttributeOptions, Event, Response};
use rtm_proto::{AttributeOperationError as E, ServerConfig};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const NOTIFY: ChannelAttributeOptions = ChannelAttributeOptions {
    enable_notification_to_channel_members: true,
};

#[test]
fn user_attributes_are_readable_by_others_and_gone_at_logout() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let req = w.clients[0]
        .set_local_user_attributes(w.now, attrs(&[("mood", "happy"), ("lang", "en")]))
        .unwrap();
    w.settle();
    assert_eq!(w.response(0, req), Some(Response::AttributeWrite(Ok(()))));
    w.clients[0]
        .delete_local_user_attributes_by_keys(w.now, vec!["lang".into()])
        .unwrap();
    w.settle();
    let req = w.clients[1].get_user_attributes(w.now, "alice").unwrap();
    w.settle();
    assert_eq!(
        w.response(1, req),
        Some(Response::GetUserAttributes(Ok(attrs(&[("mood", "happy")]))))
    );
    w.clients[0].logout(w.now).unwrap();
    w.settle();
    let req = w.clients[1].get_user_attributes(w.now, "alice").unwrap();
    w.settle();
    assert_eq!(
        w.response(1, req),
        Some(Response::GetUserAttributes(Err(E::UserNotFound)))
    );
}

#[test]
fn user_attributes_survive_a_reconnect_that_lost_the_session() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.clients[0]
        .set_local_user_attributes(w.now, attrs(&[("k", "v")]))
        .unwrap();
    w.settle();
    w.set_mode(0, LinkMode::Refuse);
    w.reset_link(0);
    w.advance(31_000); // the server ends the session
    w.set_mode(0, LinkMode::Up);
    w.advance(15_000);
    w.advance(6_000); // bob's attribute read budget
    let req = w.clients[1]
        .get_user_attributes_by_keys(w.now, "alice", vec!["k".into()])
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(1, req),
        Some(Response::GetUserAttributes(Ok(attrs(&[("k", "v")]))))
    );
}

#[test]
fn user_attribute_limits() {
    let mut w = World::new(1);
    assert_eq!(
        w.clients[0].clear_local_user_attributes(w.now),
        Err(E::NotLoggedIn)
    );
    w.login(0, "alice");
    assert_eq!(
        w.clients[0].set_local_user_attributes(w.now, attrs(&[("k", "")])),
        Err(E::InvalidArgument)
    );
    let big = "v".repeat(8 * 1024 + 1);
    assert_eq!(
        w.clients[0].set_local_user_attributes(w.now, attrs(&[("k", &big)])),
        Err(E::SizeOverflow)
    );
    let v = "v".repeat(8 * 1024 - 1);
    w.clients[0]
        .set_local_user_attributes(w.now, attrs(&[("a", &v)]))
        .unwrap();
    w.settle();
    assert_eq!(
        w.clients[0].add_or_update_local_user_attributes(w.now, attrs(&[("b", &v), ("c", "x")])),
        Err(E::SizeOverflow),
        "16 KB in total"
    );
}

#[test]
fn channel_attributes_with_notification_reach_every_member_with_the_full_set() {
    let mut w = World::logged_in(&["alice", "bob", "carol"]);
    for c in 0..2 {
        w.clients[c].join(w.now, &ch("room")).unwrap();
    }
    w.settle();
    // Carol writes without being a member.
    w.clients[2]
        .set_channel_attributes(w.now, &ch("room"), attrs(&[("topic", "rust")]), NOTIFY)
        .unwrap();
    w.advance(10);
    let req = w.clients[2]
        .add_or_update_channel_attributes(w.now, &ch("room"), attrs(&[("mode", "quiet")]), NOTIFY)
        .unwrap();
    w.settle();
    assert_eq!(w.response(2, req), Some(Response::AttributeWrite(Ok(()))));
    for c in 0..2 {
        let updates: Vec<BTreeMap<String, String>> = w
            .take_events(c)
            .into_iter()
            .filter_map(|e| match e {
                Event::Channel {
                    event: ChannelEvent::AttributesUpdated { attributes, .. },
                    ..
                } => Some(attributes.into_iter().map(|(k, a)| (k, a.value)).collect()),
                _ => None,
            })
            .collect();
        assert_eq!(
            updates,
            vec![
                attrs(&[("topic", "rust")]),
                attrs(&[("mode", "quiet"), ("topic", "rust")])
            ]
        );
    }
    let req = w.clients[0]
        .get_channel_attributes(w.now, &ch("room"))
        .unwrap();
    w.settle();
    let Some(Response::GetChannelAttributes(Ok(all))) = w.response(0, req) else {
        panic!()
    };
    assert_eq!(all["topic"].last_update_user_id.as_str(), "carol");
    assert_eq!(all["mode"].last_update_ts, common::T0_UNIX_MS + 10);
}

#[test]
fn writes_without_notification_are_silent() {
    let mut w = World::logged_in(&["alice", "bob"]);
    w.clients[0].join(w.now, &ch("room")).unwrap();
    w.settle();
    w.take_events(0);
    w.clients[1]
        .set_channel_attributes(w.now, &ch("room"), attrs(&[("a", "1")]), Default::default())
        .unwrap();
    w.settle();
    assert!(!w.take_events(0).iter().any(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::AttributesUpdated { .. },
            ..
        }
    )));
}

#[test]
fn attributes_of_an_empty_channel_are_cleared_after_the_grace_period() {
    let sc = ServerConfig {
        channel_attributes_grace: std::time::Duration::from_secs(60),
        ..Default::default()
    };
    let mut w = World::with_config(1, sc, Default::default());
    w.login(0, "alice");
    w.clients[0]
        .set_channel_attributes(
            w.now,
            &ch("lobby"),
            attrs(&[("a", "1")]),
            Default::default(),
        )
        .unwrap();
    w.settle();
    w.advance(59_000);
    let req = w.clients[0]
        .get_channel_attributes(w.now, &ch("lobby"))
        .unwrap();
    w.settle();
    let Some(Response::GetChannelAttributes(Ok(kept))) = w.response(0, req) else {
        panic!()
    };
    assert_eq!(kept.len(), 1, "kept during the grace period");
    w.advance(1_000);
    let req = w.clients[0]
        .get_channel_attributes(w.now, &ch("lobby"))
        .unwrap();
    w.settle();
    assert_eq!(
        w.response(0, req),
        Some(Response::GetChannelAttributes(Ok(BTreeMap::new())))
    );
    assert_eq!(w.server.stats().channels, 0);
}
