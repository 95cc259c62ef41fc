//! Client frames built from fuzz bytes, for the `server_inputs` target.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::input::Input;
use crate::values::*;

/// A client frame, as JSON built from fuzz bytes (see [`server_frame`]).
pub fn client_frame(inp: &mut Input, sids: &[String]) -> Bytes {
    client_frame_sel(inp, sids, false)
}

/// [`client_frame`] including the frames of channels, attributes and invitations.
pub fn client_frame_ext(inp: &mut Input, sids: &[String]) -> Bytes {
    client_frame_sel(inp, sids, true)
}

pub(crate) fn client_frame_sel(inp: &mut Input, sids: &[String], extended: bool) -> Bytes {
    let id = inp.u8() % 16;
    let peers = |inp: &mut Input| -> Vec<String> {
        uids(inp)
            .into_iter()
            .map(|u| u.as_str().to_string())
            .collect()
    };
    let sel = inp.u8();
    if extended && sel % 26 >= 12 {
        let v = channel_or_invitation_request(inp, id, sel % 26 - 12);
        return Bytes::from(serde_json::to_vec(&v).expect("json"));
    }
    let v = match sel % 12 {
        0..=2 => {
            let mut v = json!({
                "type": "login", "id": id,
                "version": if inp.u8() % 16 == 0 { 3 } else { 1 },
                "app_id": if inp.u8() % 16 == 0 { "other" } else { rtm_proto::server::DEFAULT_APP_ID },
                "uid": uid(inp).as_str(),
            });
            if inp.bool() {
                v["token"] = json!("t");
            }
            match inp.u8() % 3 {
                0 => {}
                1 => {
                    if let Some(s) = sids.get(inp.u8() as usize % sids.len().max(1)) {
                        v["resume"] = json!(s);
                    }
                }
                _ => v["resume"] = json!(format!("{:032x}", inp.u8())),
            }
            v
        }
        3 => json!({"type": "logout", "id": id}),
        4 => json!({"type": "ping"}),
        5 => json!({"type": "renew_token", "id": id, "token": "t"}),
        6 | 7 => json!({
            "type": "peer_message", "id": id, "to": uid(inp).as_str(),
            "msg_id": inp.u8() % 8, "message": message_json(inp), "offline": inp.bool(),
        }),
        8 => json!({"type": "ack", "seq": inp.u8() % 16}),
        9 => json!({"type": "query_online", "id": id, "peers": peers(inp)}),
        10 => json!({"type": "subscribe", "id": id, "peers": peers(inp)}),
        _ => json!({"type": "unsubscribe", "id": id, "peers": peers(inp)}),
    };
    Bytes::from(serde_json::to_vec(&v).expect("json"))
}

/// The client frames of channels, attributes and invitations.
pub(crate) fn channel_or_invitation_request(inp: &mut Input, id: u8, sel: u8) -> Value {
    let channel_field = |inp: &mut Input| json!(channel(inp));
    match sel % 14 {
        0 => {
            let mut v = json!({"type": "join", "id": id, "channel": channel_field(inp)});
            if inp.bool() {
                v["resume"] =
                    json!({"epoch": u64::from(inp.u8() % 3), "cseq": u64::from(inp.u8() % 8)});
            }
            v
        }
        1 => json!({"type": "leave", "id": id, "channel": channel_field(inp)}),
        2 => json!({"type": "channel_message", "id": id, "channel": channel_field(inp),
                    "msg_id": inp.u8() % 8, "message": message_json(inp)}),
        3 => json!({"type": "get_members", "id": id, "channel": channel_field(inp)}),
        4 => {
            let n = match inp.u8() % 8 {
                0 => 33,
                n => usize::from(n % 4),
            };
            let channels: Vec<Value> = (0..n).map(|_| channel_field(inp)).collect();
            json!({"type": "get_member_count", "id": id, "channels": channels})
        }
        5 => json!({"type": "user_attrs", "id": id, "op": attr_op(inp),
                    "attributes": attr_map(inp), "keys": attr_keys(inp)}),
        6 => {
            let mut v = json!({"type": "get_user_attrs", "id": id, "user": uid(inp).as_str()});
            if inp.bool() {
                v["keys"] = json!(attr_keys(inp));
            }
            v
        }
        7 => json!({"type": "channel_attrs", "id": id, "channel": channel_field(inp),
                    "op": attr_op(inp), "attributes": attr_map(inp), "keys": attr_keys(inp),
                    "notify": inp.bool()}),
        8 => {
            let mut v =
                json!({"type": "get_channel_attrs", "id": id, "channel": channel_field(inp)});
            if inp.bool() {
                v["keys"] = json!(attr_keys(inp));
            }
            v
        }
        9 => {
            let content = match inp.u8() % 4 {
                0 => "x".repeat(rtm_proto::invitation::MAX_CONTENT_BYTES + 1),
                _ => String::from_utf8_lossy(inp.bytes(16)).into_owned(),
            };
            json!({"type": "invite", "id": id, "invitation": u64::from(inp.u8() % 8),
                   "callee": uid(inp).as_str(), "content": content,
                   "channel_id": String::from_utf8_lossy(inp.bytes(8)).into_owned()})
        }
        10 => json!({"type": "invitation_ack", "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 8)}),
        11 => json!({"type": "invitation_answer", "id": id, "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 8), "accept": inp.bool(),
                     "response": String::from_utf8_lossy(inp.bytes(16)).into_owned()}),
        12 => json!({"type": "invitation_cancel", "id": id, "invitation": u64::from(inp.u8() % 8)}),
        _ => {
            let local: Vec<u64> = (0..inp.u8() % 3).map(|_| u64::from(inp.u8() % 8)).collect();
            let remote: Vec<Value> = (0..inp.u8() % 3)
                .map(
                    |_| json!({"caller": uid(inp).as_str(), "invitation": u64::from(inp.u8() % 8)}),
                )
                .collect();
            json!({"type": "invitation_sync", "id": id, "local": local, "remote": remote})
        }
    }
}
