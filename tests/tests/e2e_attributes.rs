//! Stories of attributes (§4.5, §4.6).
//!
//! Channel attributes: Carol, who is not in the room, sets its topic with notification; Alice
//! and Bob, who are, receive `AttributesUpdated` with the complete set, saying who wrote each
//! attribute and when. A write without notification changes the set silently (the next
//! notification carries it). Anyone can read them without joining.
//!
//! User attributes: Bob reads what Alice sets on herself, all or by keys, as she changes
//! them; once she logs out they are gone (USER_NOT_FOUND).

use std::collections::BTreeMap;

use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::errors::AttributeOperationError as E;
use rtm_proto::ServerConfig;
use rtm_tests::{attrs, chan, cid, log_out, story, unix_ms};
use rtm_transport_smol::ChannelAttributeOptions;

const NOTIFY: ChannelAttributeOptions = ChannelAttributeOptions {
    enable_notification_to_channel_members: true,
};
const SILENT: ChannelAttributeOptions = ChannelAttributeOptions {
    enable_notification_to_channel_members: false,
};

/// `{key: (value, last writer)}`: the attributes without their timestamps.
fn who_wrote(a: &BTreeMap<String, ChannelAttribute>) -> BTreeMap<String, (String, String)> {
    a.iter()
        .map(|(k, a)| {
            let v = (a.value.clone(), a.last_update_user_id.to_string());
            (k.clone(), v)
        })
        .collect()
}

fn expect(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
    pairs
        .iter()
        .map(|(k, v, by)| (k.to_string(), (v.to_string(), by.to_string())))
        .collect()
}

#[test]
fn channel_attributes_notify_every_member_with_the_full_set() {
    story(ServerConfig::default(), |server| async move {
        // Carol writes and Dave reads; neither joins.
        let [alice, bob, carol, dave] = server.users(["alice", "bob", "carol", "dave"]).await;
        let room = cid("room");
        let _room_a = alice.joined("room").await;
        let _room_b = bob.joined("room").await;
        alice
            .expect_channel_events("room", &[chan::joined("bob")], 2)
            .await;
        bob.expect_channel_events("room", &[], 2).await;

        // Carol sets the topic with notification: both members get the whole set.
        let before = unix_ms();
        carol
            .set_channel_attributes(&room, attrs(&[("topic", "rust")]), NOTIFY)
            .await
            .expect("set");
        let after = unix_ms();
        for member in [&alice, &bob] {
            let got = member.next_attributes_update("room").await;
            assert_eq!(who_wrote(&got), expect(&[("topic", "rust", "carol")]));
            let ts = got["topic"].last_update_ts;
            assert!(
                (before.saturating_sub(1000)..=after + 1000).contains(&ts),
                "lastUpdateTs {ts} not within [{before}, {after}]"
            );
        }

        // Bob adds a key: the notification carries both keys, each with its own writer.
        bob.add_or_update_channel_attributes(&room, attrs(&[("mood", "calm")]), NOTIFY)
            .await
            .expect("add");
        for member in [&alice, &bob] {
            let got = member.next_attributes_update("room").await;
            assert_eq!(
                who_wrote(&got),
                expect(&[("mood", "calm", "bob"), ("topic", "rust", "carol")])
            );
        }

        // A silent change, then a notified delete: the next notification is the delete's,
        // and it carries the silent change too.
        carol
            .add_or_update_channel_attributes(&room, attrs(&[("topic", "go")]), SILENT)
            .await
            .expect("silent update");
        alice
            .delete_channel_attributes_by_keys(&room, &["mood"], NOTIFY)
            .await
            .expect("delete");
        for member in [&alice, &bob] {
            let got = member.next_attributes_update("room").await;
            assert_eq!(who_wrote(&got), expect(&[("topic", "go", "carol")]));
        }

        // Dave reads without joining: all, or by keys (unknown keys are simply absent).
        let all = dave.get_channel_attributes(&room).await.expect("get");
        assert_eq!(who_wrote(&all), expect(&[("topic", "go", "carol")]));
        let some = dave
            .get_channel_attributes_by_keys(&room, &["topic", "nothing"])
            .await
            .expect("get by keys");
        assert_eq!(some, all);
        let none = dave
            .get_channel_attributes(&cid("empty-room"))
            .await
            .expect("get");
        assert!(none.is_empty());

        // Clear with notification: the members get the (empty) complete set.
        alice
            .clear_channel_attributes(&room, NOTIFY)
            .await
            .expect("clear");
        for member in [&alice, &bob] {
            assert!(member.next_attributes_update("room").await.is_empty());
        }
        assert_eq!(
            dave.get_channel_attributes(&room).await.map(|a| a.len()),
            Ok(0)
        );

        // Misuse is refused locally with the documented codes.
        let set =
            |pairs: BTreeMap<String, String>| carol.set_channel_attributes(&room, pairs, SILENT);
        assert_eq!(set(attrs(&[("k", "")])).await, Err(E::InvalidArgument));
        assert_eq!(
            set(attrs(&[(&"k".repeat(33), "v")])).await,
            Err(E::InvalidArgument)
        );
        let big = "v".repeat(8 * 1024 + 1);
        assert_eq!(set(attrs(&[("k", &big)])).await, Err(E::SizeOverflow));
        let many: BTreeMap<String, String> = (0..33)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(set(many).await, Err(E::SizeOverflow));
        assert_eq!(
            dave.get_channel_attributes_by_keys(&room, &[]).await,
            Err(E::InvalidArgument)
        );

        log_out([&alice, &bob, &carol, &dave]).await;
        assert_eq!(
            dave.get_channel_attributes(&room).await,
            Err(E::NotLoggedIn)
        );
    });
}

#[test]
fn user_attributes_are_readable_by_others_until_logout() {
    story(ServerConfig::default(), |server| async move {
        let [alice, bob] = server.users(["alice", "bob"]).await;
        // Alice's attributes as Bob reads them from the server.
        let alices = || bob.get_user_attributes("alice");

        alice
            .set_local_user_attributes(attrs(&[("mood", "happy"), ("lang", "en")]))
            .await
            .expect("set");
        assert_eq!(
            alice.local_user_attributes(),
            attrs(&[("mood", "happy"), ("lang", "en")])
        );
        assert_eq!(
            alices().await,
            Ok(attrs(&[("mood", "happy"), ("lang", "en")]))
        );
        assert_eq!(
            bob.get_user_attributes_by_keys("alice", &["mood", "nothing"])
                .await,
            Ok(attrs(&[("mood", "happy")]))
        );

        alice
            .add_or_update_local_user_attributes(attrs(&[("mood", "busy")]))
            .await
            .expect("update");
        assert_eq!(
            alices().await,
            Ok(attrs(&[("mood", "busy"), ("lang", "en")]))
        );
        alice
            .delete_local_user_attributes_by_keys(&["lang"])
            .await
            .expect("delete");
        assert_eq!(alices().await, Ok(attrs(&[("mood", "busy")])));
        alice.clear_local_user_attributes().await.expect("clear");
        assert!(alice.local_user_attributes().is_empty());
        assert_eq!(alices().await, Ok(attrs(&[])));

        // Misuse is refused locally.
        assert_eq!(
            alice.set_local_user_attributes(attrs(&[("k", "")])).await,
            Err(E::InvalidArgument)
        );
        assert_eq!(
            bob.get_user_attributes("no/slash").await,
            Err(E::InvalidArgument)
        );

        // Someone who is not online: USER_NOT_FOUND.
        assert_eq!(
            bob.get_user_attributes("nobody").await,
            Err(E::UserNotFound)
        );

        // Attributes end with the session.
        alice
            .set_local_user_attributes(attrs(&[("mood", "leaving")]))
            .await
            .expect("set");
        assert_eq!(alices().await, Ok(attrs(&[("mood", "leaving")])));
        alice.logout().await.expect("logout");
        assert_eq!(alices().await, Err(E::UserNotFound));
        assert!(alice.local_user_attributes().is_empty());
        assert_eq!(
            alice
                .set_local_user_attributes(attrs(&[("mood", "x")]))
                .await,
            Err(E::NotLoggedIn)
        );
        bob.logout().await.expect("logout");
    });
}
