//! Logins are limited per source address and per user, and logging in again refills none of
//! a user's budgets (issue #9, finding 7).

mod common;

use common::{close_code, say_raw, World, APP, RAW_ADDRESS};
use rtm_proto::client::ClientConfig;
use rtm_proto::ratelimit::Rate;
use rtm_proto::server::{ConnId, ServerConfig, ServerOutput};
use rtm_proto::wire::close;
use std::net::IpAddr;
use std::time::Duration;

/// LoginError TOO_OFTEN.
const LOGIN_TOO_OFTEN: u32 = 10;
/// GetChannelMemberCountError TOO_OFTEN.
const COUNT_TOO_OFTEN: u32 = 3;

fn login_frame(uid: &str) -> String {
    format!(r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"{uid}"}}"#)
}

/// What a login from `source` as `uid` got: the frames and the close code.
fn try_login(w: &mut World, source: IpAddr, uid: &str) -> (ConnId, Vec<String>, Option<u16>) {
    let conn = w.raw_connect_from(source);
    let out = w.raw_frame(conn, login_frame(uid).as_bytes());
    let code = close_code(&out);
    let frames = out
        .into_iter()
        .filter_map(|o| match o {
            ServerOutput::Send { frame, .. } => Some(String::from_utf8(frame.to_vec()).unwrap()),
            _ => None,
        })
        .collect();
    (conn, frames, code)
}

fn logged_in(frames: &[String]) -> bool {
    frames
        .iter()
        .any(|f| f.starts_with(r#"{"type":"login_ok""#))
}

fn error_code(frames: &[String], id: u32) -> Option<u32> {
    let tag = format!(r#"{{"type":"error","id":{id},"code":"#);
    frames
        .iter()
        .find_map(|f| f.strip_prefix(&tag))
        .and_then(|rest| rest.split(',').next())
        .and_then(|c| c.parse().ok())
}

#[test]
fn logins_from_one_source_are_limited_and_other_sources_are_not() {
    let mut w = World::with_config(
        0,
        ServerConfig {
            logins_per_source: Rate::new(5, Duration::from_secs(10)),
            ..Default::default()
        },
        ClientConfig::default(),
    );
    for i in 0..5 {
        let (_, frames, code) = try_login(&mut w, RAW_ADDRESS, &format!("u{i}"));
        assert!(logged_in(&frames), "{frames:?}");
        assert_eq!(code, None);
    }
    // The sixth from the same address is refused with TOO_OFTEN, and its connection closed.
    let (_, frames, code) = try_login(&mut w, RAW_ADDRESS, "u5");
    assert_eq!(error_code(&frames, 1), Some(LOGIN_TOO_OFTEN), "{frames:?}");
    assert_eq!(code, Some(close::LOGIN_FAILED));
    // Another address is not affected; neither is another host of the same IPv6 /64's
    // neighbour block.
    let (_, frames, _) = try_login(&mut w, "10.9.9.9".parse().unwrap(), "u5");
    assert!(logged_in(&frames), "{frames:?}");
    // The bucket refills at 5 per 10 s: one more after 2 s.
    w.advance(2_000);
    let (_, frames, _) = try_login(&mut w, RAW_ADDRESS, "u6");
    assert!(logged_in(&frames), "{frames:?}");
    let (_, frames, _) = try_login(&mut w, RAW_ADDRESS, "u7");
    assert_eq!(error_code(&frames, 1), Some(LOGIN_TOO_OFTEN), "{frames:?}");
}

#[test]
fn ipv6_hosts_of_one_64_share_a_login_limit() {
    let mut w = World::with_config(
        0,
        ServerConfig {
            logins_per_source: Rate::new(2, Duration::from_secs(10)),
            ..Default::default()
        },
        ClientConfig::default(),
    );
    let host = |n: u16| IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, n]);
    assert!(logged_in(&try_login(&mut w, host(1), "a").1));
    assert!(logged_in(&try_login(&mut w, host(2), "b").1));
    let (_, frames, _) = try_login(&mut w, host(3), "c");
    assert_eq!(error_code(&frames, 1), Some(LOGIN_TOO_OFTEN), "{frames:?}");
    let other_64 = IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]);
    assert!(logged_in(&try_login(&mut w, other_64, "c").1));
}

#[test]
fn a_user_that_logs_in_again_and_again_is_limited_and_keeps_its_budgets() {
    let mut w = World::new(0);
    let source = |i: u32| IpAddr::from([10, 2, (i >> 8) as u8, i as u8]);
    let (mut conn, frames, _) = try_login(&mut w, source(0), "mallory");
    assert!(logged_in(&frames));
    // Use up the member-count budget (20 per 10 s).
    let count =
        |id: u32| format!(r#"{{"type":"get_member_count","id":{id},"channels":["lobby"]}}"#);
    for id in 2..22 {
        let out = say_raw(&mut w, conn, &count(id));
        assert_eq!(error_code(&out, id), None, "{out:?}");
    }
    let out = say_raw(&mut w, conn, &count(22));
    assert_eq!(error_code(&out, 22), Some(COUNT_TOO_OFTEN), "{out:?}");

    // A fresh login (no resume, from new addresses each time) replaces the session but not
    // its budgets.
    let mut replaced = 0;
    let mut refused = None;
    for i in 1..=50 {
        let (c, frames, _) = try_login(&mut w, source(i), "mallory");
        if logged_in(&frames) {
            replaced += 1;
            conn = c;
            let out = say_raw(&mut w, conn, &count(100 + i));
            assert_eq!(
                error_code(&out, 100 + i),
                Some(COUNT_TOO_OFTEN),
                "the new session kept the budget: {out:?}"
            );
        } else {
            assert_eq!(error_code(&frames, 1), Some(LOGIN_TOO_OFTEN), "{frames:?}");
            refused = Some(i);
            break;
        }
    }
    // §9.2's 2 logins per second, twice, over 10 s: 40 logins of the user.
    assert_eq!(replaced, 40);
    assert_eq!(refused, Some(41));
    // Once the window has passed, the user logs in again, and the budgets have refilled too.
    w.advance(10_000);
    let (conn, frames, _) = try_login(&mut w, source(99), "mallory");
    assert!(logged_in(&frames), "{frames:?}");
    let out = say_raw(&mut w, conn, &count(500));
    assert_eq!(error_code(&out, 500), None, "{out:?}");
}
