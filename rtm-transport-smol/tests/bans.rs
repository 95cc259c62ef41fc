//! Moderation end to end: ban rules made through the REST API end live sessions (ABORTED /
//! BANNED_BY_SERVER), refuse logins (LoginError REJECTED) or joins (JoinChannelError
//! REJECTED) while they last, end when deleted or when they expire, and survive a restart of
//! `rtm-server` on its data directory. Every wait is bounded; every server is stopped.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use rtm_proto::client::ChannelEvent;
use rtm_proto::server::admin::AdminKey;
use rtm_proto::{
    ClientConfig, ConnectionChangeReason, ConnectionState, Event, JoinChannelError, LoginError,
    ServerConfig,
};
use rtm_transport_smol::{spawn_server, RtmClient};
use serde_json::{json, Value};

mod common;

use common::rest::{logged_in, next_event, within, Api, KEY};
use common::Proc;

/// A client's login attempt as `uid`: its error, if refused.
fn try_login(url: &str, uid: &str) -> Result<RtmClient, LoginError> {
    let client = RtmClient::new(url, ClientConfig::default()).expect("a client");
    smol::block_on(within("a login", client.login(uid, None)))?;
    Ok(client)
}

/// Waits until `client` hears it was banned: ABORTED / BANNED_BY_SERVER.
async fn banned(events: &rtm_transport_smol::Events) {
    next_event(events, "ABORTED / BANNED_BY_SERVER", |e| match e {
        Event::ConnectionStateChanged {
            state: ConnectionState::Aborted,
            reason: ConnectionChangeReason::BannedByServer,
        } => Some(()),
        _ => None,
    })
    .await
}

/// Makes a ban rule; its JSON.
async fn ban(api: &mut Api, rule: Value) -> Value {
    let reply = api.post("/bans", rule).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json());
    reply.json()["ban"].clone()
}

async fn unban(api: &mut Api, id: &str) {
    let reply = api.call(Method::DELETE, &format!("/bans/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
}

fn in_process_server() -> rtm_transport_smol::ServerHandle {
    let core = ServerConfig {
        admin_keys: vec![AdminKey {
            id: KEY.0.into(),
            secret: KEY.1.into(),
        }],
        ..ServerConfig::default()
    };
    spawn_server("127.0.0.1:0", core).expect("a server")
}

/// `rtm-server` on a free loopback port with the admin key and `data_dir`: the process and
/// its `ws://` URL.
fn rtm_server(data_dir: &Path) -> (Proc, String) {
    let dir = data_dir.to_str().expect("a UTF-8 path");
    let key = format!("{}:{}", KEY.0, KEY.1);
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--log",
        "info",
        "--data-dir",
        dir,
        "--admin-key",
        &key,
    ];
    let proc = Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false);
    let url = proc.listening_url();
    (proc, url)
}

fn addr_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("ws://").parse().expect("ws://ADDR")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn a_user_ban_ends_the_session_refuses_logins_survives_a_restart_and_expires() {
    let data = tempfile::tempdir().expect("a data directory");
    let (mut server, url) = rtm_server(data.path());
    let mallory = logged_in(&url, "mallory");
    let events = mallory.events();
    let bystander = logged_in(&url, "bob");
    let rule = smol::block_on(async {
        let mut api = Api::connect(addr_of(&url)).await;
        let rule = ban(
            &mut api,
            json!({"user_id": "mallory", "minutes": 1, "reason": "spam"}),
        )
        .await;
        assert_eq!(rule["user_id"], "mallory");
        assert_eq!(rule["reason"], "spam");
        banned(&events).await;
        rule
    });
    assert_eq!(try_login(&url, "mallory").err(), Some(LoginError::Rejected));
    assert!(try_login(&url, "carol").is_ok(), "others log in");
    drop((mallory, bystander));

    // A restart keeps the rule: listed, and still refusing.
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "rtm-server exited with {status}");
    let (_server, url) = rtm_server(data.path());
    let expires_ts = rule["expires_ts"].as_u64().expect("expires_ts");
    smol::block_on(async {
        let mut api = Api::connect(addr_of(&url)).await;
        let bans = api.get("/bans").await;
        assert_eq!(bans["bans"], json!([rule]), "the rule after a restart");
    });
    assert_eq!(try_login(&url, "mallory").err(), Some(LoginError::Rejected));

    // Once its minute is over the rule is gone by itself, and mallory logs in again.
    let wait = Duration::from_millis(expires_ts.saturating_sub(unix_ms()));
    assert!(wait <= Duration::from_secs(61), "expires within its minute");
    std::thread::sleep(wait);
    smol::block_on(within("the rule to expire", async {
        let mut api = Api::connect(addr_of(&url)).await;
        while api.get("/bans").await["bans"] != json!([]) {
            smol::Timer::after(Duration::from_millis(100)).await;
        }
    }));
    assert!(try_login(&url, "mallory").is_ok(), "the ban has expired");
}

#[test]
fn an_ip_ban_ends_every_session_from_the_address_until_deleted() {
    let server = in_process_server();
    let url = server.url();
    let alice = logged_in(&url, "alice");
    let bob = logged_in(&url, "bob");
    let (alice_events, bob_events) = (alice.events(), bob.events());
    smol::block_on(async {
        let mut api = Api::connect(server.local_addr()).await;
        let rule = ban(&mut api, json!({"ip": "127.0.0.1", "minutes": 5})).await;
        assert_eq!(rule["ip"], "127.0.0.1");
        banned(&alice_events).await;
        banned(&bob_events).await;
        assert_eq!(try_login(&url, "carol").err(), Some(LoginError::Rejected));
        // The REST API itself is not behind the ban: the operator lifts it.
        unban(&mut api, rule["id"].as_str().expect("an id")).await;
        assert_eq!(api.get("/bans").await["bans"], json!([]));
    });
    assert!(try_login(&url, "carol").is_ok(), "the ban was deleted");
    drop((alice, bob));
    server.shutdown().expect("stopped");
}

#[test]
fn a_channel_ban_removes_the_user_from_that_channel_only() {
    let server = in_process_server();
    let url = server.url();
    let alice = logged_in(&url, "alice");
    let bob = logged_in(&url, "bob");
    let alice_lobby = alice.create_channel("lobby").expect("a channel");
    let bob_lobby = bob.create_channel("lobby").expect("a channel");
    let bob_events = bob.events();
    let alice_events = alice.events();
    smol::block_on(async {
        within("alice joins", alice_lobby.join())
            .await
            .expect("joined");
        within("bob joins", bob_lobby.join()).await.expect("joined");
        let mut api = Api::connect(server.local_addr()).await;
        let rule = ban(
            &mut api,
            json!({"user_id": "bob", "channel_name": "lobby", "minutes": 5}),
        )
        .await;
        next_event(&bob_events, "bob removed from lobby", |e| match e {
            Event::Channel {
                channel,
                event: ChannelEvent::Removed { .. },
            } if channel.as_str() == "lobby" => Some(()),
            _ => None,
        })
        .await;
        next_event(&alice_events, "alice sees bob leave", |e| match e {
            Event::Channel {
                event: ChannelEvent::MemberLeft { member_id },
                ..
            } if member_id.as_str() == "bob" => Some(()),
            _ => None,
        })
        .await;
        assert_eq!(
            api.get("/channels/lobby/members").await["members"],
            json!(["alice"])
        );
        // Still logged in, kept out of lobby alone.
        assert_eq!(bob.connection_state(), ConnectionState::Connected);
        let again = within("bob's rejoin", bob_lobby.join()).await;
        assert_eq!(again.err(), Some(JoinChannelError::Rejected));
        let other = bob.create_channel("elsewhere").expect("a channel");
        within("bob joins another", other.join())
            .await
            .expect("other channels are open to bob");

        unban(&mut api, rule["id"].as_str().expect("an id")).await;
        // Two joins of one channel within 5 s are too often (§4.8): wait out the window.
        smol::Timer::after(Duration::from_secs(5)).await;
        within("bob's join after the unban", bob_lobby.join())
            .await
            .expect("the ban was deleted");
    });
    drop((alice, bob));
    server.shutdown().expect("stopped");
}
