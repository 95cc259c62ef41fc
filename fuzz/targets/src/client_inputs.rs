//! `client_inputs`: a `Client` fed arbitrary transport events, frames, ticks and commands.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rtm_proto::client::{ClientConfig, ClientInput, SendMessageOptions, TransportId};
use rtm_proto::wire::Reply;
use rtm_proto::wire::{InvitationKey, ServerFrame};
use rtm_proto::{Client, ConnectionState as State, Timestamp};

use crate::client_check::*;
use rtm_transport_sim::attr_writes::{write_channel_attributes, write_user_attributes};

use crate::input::Input;
use crate::server_frames::*;
use crate::values::*;
use crate::{debug, relaxations};

/// A `Client` fed an arbitrary sequence of transport events, frames, ticks and commands.
pub fn client_inputs(data: &[u8]) {
    let mut inp = Input::new(data);
    let media = inp.prefix(MEDIA);
    let extended = media || inp.prefix(EXTENDED);
    let seed = inp.u64();
    let mut now = u64::from(inp.u16());
    let mut c = Client::new(
        ClientConfig::default(),
        seed,
        Timestamp::from_millis(now),
        1_700_000_000_000,
    );
    let mut chk = ClientCheck {
        relax: relaxations(),
        now,
        state: State::Disconnected,
        outstanding: BTreeMap::new(),
        mismatched: BTreeSet::new(),
        connected: BTreeSet::new(),
        opened: BTreeSet::new(),
        last_transport: 0,
        sid: "s0".into(),
        local: BTreeMap::new(),
        remote: BTreeMap::new(),
        running: BTreeSet::new(),
        grants: Vec::new(),
    };
    if media {
        // Transfers need a session: start logged in, as a driver would after `login`.
        log_in(&mut c, &mut chk, Timestamp::from_millis(now));
    }
    let mut steps = 0;
    while !inp.is_empty() && steps < 4096 {
        steps += 1;
        let ts = Timestamp::from_millis(now);
        // Transports: usually the newest one, sometimes an old or unknown one.
        let t = match inp.u8() % 4 {
            0 => u64::from(inp.u8() % 8),
            _ => chk.last_transport,
        };
        let mut ticked = false;
        let op = if media {
            inp.u8() % 36
        } else if extended {
            inp.u8() % 32
        } else {
            inp.u8() % 16
        };
        if debug() {
            eprintln!("{now:>8} op {op} transport {t}");
        }
        match op {
            0 => {
                // Time passes; like any driver, tick at every deadline on the way.
                let target = now + u64::from(inp.u16());
                let mut guard = 0;
                while let Some(d) = c.poll_timeout() {
                    let d = d.as_millis();
                    if d > target || guard > 10_000 {
                        break;
                    }
                    guard += 1;
                    now = now.max(d);
                    chk.now = now;
                    c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                    chk.drain(&mut c, true);
                }
                now = target;
                c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                ticked = true;
            }
            1 => {
                if let Some(d) = c.poll_timeout() {
                    now = now.max(d.as_millis());
                }
                c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
                ticked = true;
            }
            2 => {
                if chk.connected.contains(&t) {
                    chk.opened.insert(t);
                }
                c.handle_input(ts, ClientInput::Opened(TransportId(t)));
            }
            3 => {
                chk.opened.remove(&t);
                c.handle_input(ts, ClientInput::Closed(TransportId(t)));
            }
            4 => {
                let b = Bytes::copy_from_slice(inp.bytes(256));
                c.handle_input(ts, ClientInput::Frame(TransportId(t), b));
            }
            5..=7 => {
                let f = if extended {
                    let local: Vec<u64> = chk.local.keys().copied().collect();
                    server_frame_ext(&mut inp, &chk.sid, &local)
                } else {
                    server_frame(&mut inp, &chk.sid)
                };
                if debug() {
                    eprintln!("{now:>8} client <- {}", String::from_utf8_lossy(&f));
                }
                if let Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) =
                    ServerFrame::decode(&f)
                {
                    chk.sid = session;
                }
                chk.saw_answer(&f);
                c.handle_input(ts, ClientInput::Frame(TransportId(t), f));
            }
            8 => {
                let token = if inp.bool() { Some("tok") } else { None };
                let n = name(&mut inp);
                let r = c.login(ts, n, token);
                chk.track(Kind::Login, r);
            }
            9 => {
                let _ = c.logout(ts);
            }
            10 => {
                let n = name(&mut inp);
                let m = message(&mut inp);
                let o = SendMessageOptions {
                    enable_offline_messaging: inp.bool(),
                };
                let r = c.send_message_to_peer(ts, n, m, o);
                chk.track(Kind::Send, r);
            }
            11 => chk.track(
                Kind::Query,
                c.query_peers_online_status(ts, &names(&mut inp)),
            ),
            12 => chk.track(
                Kind::Subscribe,
                c.subscribe_peers_online_status(ts, &names(&mut inp)),
            ),
            13 => chk.track(
                Kind::Unsubscribe,
                c.unsubscribe_peers_online_status(ts, &names(&mut inp)),
            ),
            14 => {
                let token = if inp.bool() { "" } else { "tok2" };
                let r = c.renew_token(ts, token);
                chk.track(Kind::Renew, r);
            }
            15 => {
                let _ = c.query_peers_by_subscription_option(ts);
            }
            32..=35 => media_command(&mut c, &mut chk, &mut inp, ts, op - 32, t),
            op => channel_command(&mut c, &mut chk, &mut inp, ts, op - 16),
        }
        chk.now = now;
        chk.drain(&mut c, ticked);
    }
    // Every request carries a deadline: after enough time, every one has been answered.
    let end = now + 120_000;
    let mut guard = 0;
    while let Some(d) = c.poll_timeout() {
        guard += 1;
        assert!(guard < 200_000, "client never settles (tick loop)");
        let d = d.as_millis().max(now + 1);
        if d > end {
            break;
        }
        now = d;
        chk.now = now;
        c.handle_input(Timestamp::from_millis(now), ClientInput::Tick);
        chk.drain(&mut c, true);
    }
    if chk.relax.mismatched_answer_drops_request {
        for id in &chk.mismatched {
            chk.outstanding.remove(id);
        }
    }
    assert!(
        chk.outstanding.is_empty(),
        "requests never answered after 120 s: {:?}",
        chk.outstanding
    );
}

/// Logs the client in as `alice`: the transport opens and the server's `login_ok` answers
/// the client's `login` frame. The checker sees every output on the way.
fn log_in(c: &mut Client, chk: &mut ClientCheck, ts: Timestamp) {
    use rtm_proto::client::ClientOutput;
    use rtm_proto::wire::ClientFrame;
    let login = c.login(ts, "alice", None);
    chk.track(Kind::Login, login);
    let mut login_id = None;
    for _ in 0..3 {
        while let Some(out) = c.poll_output() {
            match out {
                ClientOutput::Connect(t) => {
                    chk.connected.insert(t.0);
                    chk.opened.insert(t.0);
                    chk.last_transport = t.0;
                    c.handle_input(ts, ClientInput::Opened(t));
                }
                ClientOutput::Send(_, frame) => {
                    if let Ok(ClientFrame::Login(l)) = ClientFrame::decode(&frame) {
                        login_id = Some(l.id);
                    }
                }
                ClientOutput::Event(e) => chk.event(e),
                other => panic!("unexpected while logging in: {other:?}"),
            }
        }
        if let Some(id) = login_id.take() {
            let ok = format!(
                r#"{{"type":"login_ok","id":{id},"version":1,"session":"s0","resumed":false,"server_ts":1700000000000,"heartbeat_ms":2000,"resend_from":1}}"#
            );
            let t = TransportId(chk.last_transport);
            c.handle_input(ts, ClientInput::Frame(t, Bytes::from(ok)));
        }
    }
    assert_eq!(chk.state, State::Connected, "the media preamble logs in");
}

/// File and image transfers (`op` 0..4): uploads, downloads, cancels, and the driver's
/// side — tickets for the grants sent, progress and ends of the exchanges ordered.
fn media_command(
    c: &mut Client,
    chk: &mut ClientCheck,
    inp: &mut Input,
    ts: Timestamp,
    op: u8,
    t: u64,
) {
    use rtm_proto::client::{MediaUpload, RequestId, TransferEnd};
    use rtm_proto::media::MAX_MEDIA_BYTES;
    match op {
        0 => {
            let size = match inp.u8() % 4 {
                0 => 0,
                1 => MAX_MEDIA_BYTES + 1,
                _ => 1 + u64::from(inp.u16()),
            };
            let head = Bytes::copy_from_slice(inp.bytes(64));
            let mut upload = if inp.bool() {
                MediaUpload::image(size, head)
            } else {
                MediaUpload::file(size, head)
            };
            if inp.u8() % 8 == 0 {
                upload.width = Some(u32::from(inp.u16()));
            }
            chk.track(Kind::Upload, c.upload_media(ts, upload));
        }
        1 => {
            let id = ["m1", "", "../x", "abc_DEF-1"][inp.u8() as usize % 4];
            chk.track(Kind::Download, c.download_media(ts, id));
        }
        2 => {
            // The core orders the exchange's cancel itself (checked in `drain`).
            let request = any_of(inp, chk.outstanding.keys().copied());
            let _ = c.cancel_media(ts, RequestId(request));
        }
        _ => {
            if inp.bool() && !chk.grants.is_empty() {
                // The server answers a grant (on the current transport, or another).
                let id = chk.grants.remove(inp.u8() as usize % chk.grants.len());
                let f = format!(r#"{{"type":"media_ticket","id":{id},"ticket":"t{id}"}}"#);
                c.handle_input(ts, ClientInput::Frame(TransportId(t), Bytes::from(f)));
                return;
            }
            let request = any_of(inp, chk.running.iter().copied());
            let r = RequestId(request);
            match inp.u8() % 6 {
                0 | 1 => {
                    let total = u64::from(inp.u16());
                    c.transfer_progress(ts, r, u64::from(inp.u16()), total)
                }
                2 => {
                    chk.running.remove(&request);
                    let body = [
                        &br#"{"media_id":"m2","size":10,"mime":"image/png"}"#[..],
                        br#"{"media_id":"../","size":1,"mime":""}"#,
                        b"garbage",
                    ][inp.u8() as usize % 3];
                    c.transfer_ended(
                        ts,
                        r,
                        TransferEnd::Uploaded {
                            body: Bytes::from_static(body),
                        },
                    );
                }
                3 => {
                    chk.running.remove(&request);
                    let end = TransferEnd::Downloaded {
                        size: u64::from(inp.u16()),
                        mime: "image/gif".into(),
                    };
                    c.transfer_ended(ts, r, end);
                }
                4 => {
                    chk.running.remove(&request);
                    let status = [401, 404, 413, 429, 503, 507, 200][inp.u8() as usize % 7];
                    let body = Bytes::from(format!(r#"{{"error":"x","message":"{status}"}}"#));
                    c.transfer_ended(ts, r, TransferEnd::Refused { status, body });
                }
                _ => {
                    chk.running.remove(&request);
                    c.transfer_ended(ts, r, TransferEnd::Broken);
                }
            }
        }
    }
}

/// One of `ids` chosen by the input (0 if there is none: an unknown id).
fn any_of(inp: &mut Input, ids: impl Iterator<Item = u32>) -> u32 {
    let ids: Vec<u32> = ids.collect();
    ids.get(inp.u8() as usize % ids.len().max(1))
        .copied()
        .unwrap_or(0)
}

/// The commands of channels, attributes and invitations (`op` 0..16).
fn channel_command(c: &mut Client, chk: &mut ClientCheck, inp: &mut Input, ts: Timestamp, op: u8) {
    use rtm_proto::client::ChannelAttributeOptions;
    let chan = |inp: &mut Input| {
        rtm_proto::ChannelId::new(["room", "lobby", "<c>|~"][inp.u8() as usize % 3]).expect("valid")
    };
    match op {
        0 => chk.track(Kind::Join, c.join(ts, &chan(inp))),
        1 => chk.track(Kind::Leave, c.leave(ts, &chan(inp))),
        2 => {
            let ch = chan(inp);
            chk.track(
                Kind::ChannelMessage,
                c.send_channel_message(ts, &ch, message(inp)),
            );
        }
        3 => chk.track(Kind::GetMembers, c.get_members(ts, &chan(inp))),
        4 => {
            let n = match inp.u8() % 8 {
                0 => 33,
                n => usize::from(n % 4),
            };
            let ids: Vec<&str> = (0..n).map(|_| channel(inp)).collect();
            let r = c.get_channel_member_count(ts, &ids);
            chk.track(Kind::MemberCount, r);
        }
        5 => {
            let ch = chan(inp);
            let (op, attrs, keys) = (attr_op(inp), attr_map(inp), attr_keys(inp));
            let o = ChannelAttributeOptions {
                enable_notification_to_channel_members: inp.bool(),
            };
            let r = write_channel_attributes(c, ts, &ch, op, attrs, keys, o);
            chk.track(Kind::AttrWrite, r);
        }
        6 => {
            let ch = chan(inp);
            let r = if inp.bool() {
                c.get_channel_attributes(ts, &ch)
            } else {
                let keys = attr_keys(inp);
                c.get_channel_attributes_by_keys(ts, &ch, keys)
            };
            chk.track(Kind::GetChannelAttrs, r);
        }
        7 => {
            let (op, attrs, keys) = (attr_op(inp), attr_map(inp), attr_keys(inp));
            let r = write_user_attributes(c, ts, op, attrs, keys);
            chk.track(Kind::AttrWrite, r);
        }
        8 => {
            let n = name(inp);
            let r = if inp.bool() {
                c.get_user_attributes(ts, n)
            } else {
                let keys = attr_keys(inp);
                c.get_user_attributes_by_keys(ts, n, keys)
            };
            chk.track(Kind::GetUserAttrs, r);
        }
        9 | 10 => {
            // Create (and usually send) a call invitation.
            let n = name(inp);
            let Ok(id) = c.create_local_invitation(n) else {
                return;
            };
            let content = match inp.u8() % 4 {
                0 => "x".repeat(rtm_proto::invitation::MAX_CONTENT_BYTES + 1),
                _ => String::from_utf8_lossy(inp.bytes(32)).into_owned(),
            };
            let _ = c.set_local_invitation_content(id, &content);
            let _ = c.set_local_invitation_channel_id(id, channel(inp));
            if (op == 9 || inp.bool()) && c.send_local_invitation(ts, id).is_ok() {
                chk.local.insert(id.0, false);
            }
        }
        11 => {
            let known: Vec<u64> = chk.local.keys().copied().collect();
            let n = match known.len() {
                0 => u64::from(inp.u8()),
                k => known[inp.u8() as usize % k],
            };
            let _ = c.cancel_local_invitation(ts, rtm_proto::client::InvitationId(n));
        }
        12..=14 => {
            let known: Vec<InvitationKey> = chk.remote.keys().cloned().collect();
            let key = match known.len() {
                0 => InvitationKey {
                    caller: uid(inp),
                    invitation: u64::from(inp.u8() % 4),
                },
                k => known[inp.u8() as usize % k].clone(),
            };
            let response = String::from_utf8_lossy(inp.bytes(16)).into_owned();
            let _ = c.set_remote_invitation_response(&key, &response);
            let _ = match op {
                12 => c.accept_remote_invitation(ts, &key),
                13 => c.refuse_remote_invitation(ts, &key),
                _ => c.set_remote_invitation_response(&key, &"r".repeat(8 * 1024 + 1)),
            };
        }
        _ => {
            let _ = c.create_channel(channel(inp));
            let _ = c.joined_channels();
            let _ = c.local_user_attributes();
        }
    }
}
