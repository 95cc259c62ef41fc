//! Server frames built from fuzz bytes, for the `client_inputs` target.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::input::Input;
use crate::values::*;

pub(crate) fn statuses(inp: &mut Input) -> Value {
    let peers: Vec<Value> = uids(inp)
        .into_iter()
        .map(|p| {
            let state = ["ONLINE", "UNREACHABLE", "OFFLINE"][inp.u8() as usize % 3];
            json!({"peer": p.as_str(), "state": state})
        })
        .collect();
    Value::Array(peers)
}

/// A server frame, as JSON built from fuzz bytes (kept as text so that the generator keeps
/// compiling while the wire format evolves; `generators_track_the_wire_format` in the
/// corpus-replay test notices when it drifts).
pub fn server_frame(inp: &mut Input, sid: &str) -> Bytes {
    server_frame_sel(inp, sid, None)
}

/// [`server_frame`] including the frames of channels, attributes and invitations; `local`
/// are the numbers of invitations the client made (so that `local_invitation` updates can
/// name them).
pub fn server_frame_ext(inp: &mut Input, sid: &str, local: &[u64]) -> Bytes {
    server_frame_sel(inp, sid, Some(local))
}

pub(crate) fn server_frame_sel(inp: &mut Input, sid: &str, ext: Option<&[u64]>) -> Bytes {
    let id = inp.u8() % 16;
    let sel = inp.u8();
    if let Some(local) = ext {
        if sel % 26 >= 12 {
            let v = channel_or_invitation_frame(inp, id, sel % 26 - 12, local);
            return Bytes::from(serde_json::to_vec(&v).expect("json"));
        }
    }
    let v = match sel % 12 {
        0 => json!({
            "type": "login_ok", "id": id, "version": 1,
            "session": if inp.bool() { sid.to_string() } else { format!("s{}", inp.u8()) },
            "resumed": inp.bool(), "server_ts": inp.u64(), "heartbeat_ms": inp.u16(),
            "resend_from": inp.u8() % 8,
        }),
        1 => json!({"type": "error", "id": id, "code": inp.u8(), "message": "e"}),
        2 => json!({"type": "ok", "id": id}),
        3 => json!({"type": "pong"}),
        4 => {
            let outcome = ["received", "cached", "unreachable"][inp.u8() as usize % 3];
            json!({"type": "peer_message_result", "id": id, "outcome": outcome})
        }
        5 | 6 => {
            // Input consumed in the same order as before `msg_id` existed, so committed
            // corpus files keep their meaning; the id is derived, not drawn.
            let from = uid(inp);
            let message = message_json(inp);
            let server_ts = inp.u64();
            let offline = inp.bool();
            json!({
                "type": "message", "from": from.as_str(), "msg_id": server_ts % 8,
                "message": message, "server_ts": server_ts, "offline": offline,
            })
        }
        7 => {
            let peers: Vec<Value> = uids(inp)
                .into_iter()
                .map(|p| json!({"peer": p.as_str(), "online": inp.bool()}))
                .collect();
            json!({"type": "online_status", "id": id, "peers": peers})
        }
        8 => json!({"type": "subscribed", "id": id, "peers": statuses(inp)}),
        9 => json!({"type": "presence", "peers": statuses(inp)}),
        10 => json!({"type": "token_will_expire"}),
        _ => {
            let reason =
                ["remote_login", "banned_by_server", "token_expired"][inp.u8() as usize % 3];
            json!({"type": "kicked", "reason": reason})
        }
    };
    Bytes::from(serde_json::to_vec(&v).expect("json"))
}

/// pushed to it collide with later updates).
pub(crate) fn invitation_number(inp: &mut Input, local: &[u64]) -> u64 {
    match inp.u8() % 4 {
        0 | 1 if !local.is_empty() => local[inp.u8() as usize % local.len()],
        _ => u64::from(inp.u8() % 4),
    }
}

pub(crate) fn local_update(inp: &mut Input, local: &[u64]) -> Value {
    const STATES: [&str; 7] = [
        "IDLE",
        "SENT_TO_REMOTE",
        "RECEIVED_BY_REMOTE",
        "ACCEPTED_BY_REMOTE",
        "REFUSED_BY_REMOTE",
        "CANCELED",
        "FAILURE",
    ];
    const WHY: [&str; 4] = [
        "PEER_OFFLINE",
        "PEER_NO_RESPONSE",
        "INVITATION_EXPIRE",
        "NOT_LOGGEDIN",
    ];
    let mut v = json!({
        "invitation": invitation_number(inp, local),
        "state": STATES[inp.u8() as usize % STATES.len()],
        "response": String::from_utf8_lossy(inp.bytes(16)).into_owned(),
    });
    if inp.bool() {
        v["reason"] = json!(WHY[inp.u8() as usize % WHY.len()]);
    }
    v
}

pub(crate) fn remote_update(inp: &mut Input) -> Value {
    const STATES: [&str; 7] = [
        "IDLE",
        "INVITATION_RECEIVED",
        "ACCEPT_SENT_TO_LOCAL",
        "REFUSED",
        "ACCEPTED",
        "CANCELED",
        "FAILURE",
    ];
    const WHY: [&str; 3] = ["PEER_OFFLINE", "ACCEPT_FAILURE", "INVITATION_EXPIRE"];
    let mut v = json!({
        "caller": uid(inp).as_str(),
        "invitation": u64::from(inp.u8() % 4),
        "state": STATES[inp.u8() as usize % STATES.len()],
        "content": "c",
    });
    if inp.bool() {
        v["reason"] = json!(WHY[inp.u8() as usize % WHY.len()]);
    }
    v
}

/// The server frames of channels, attributes and invitations.
pub(crate) fn channel_or_invitation_frame(
    inp: &mut Input,
    id: u8,
    sel: u8,
    local: &[u64],
) -> Value {
    match sel % 14 {
        0 => json!({"type": "joined", "id": id, "channel": channel(inp),
                    "epoch": u64::from(inp.u8() % 3), "cseq": u64::from(inp.u8() % 8)}),
        1 => {
            let channel = channel(inp);
            let (epoch, cseq) = (u64::from(inp.u8() % 3), u64::from(inp.u8() % 8));
            let from = uid(inp);
            json!({"type": "channel_message", "channel": channel, "epoch": epoch, "cseq": cseq,
                   "from": from.as_str(), "message": message_json(inp), "server_ts": inp.u64()})
        }
        2 => json!({"type": "member_joined", "channel": channel(inp), "member": uid(inp).as_str()}),
        3 => json!({"type": "member_left", "channel": channel(inp), "member": uid(inp).as_str()}),
        4 => json!({"type": "member_count", "channel": channel(inp), "count": inp.u16()}),
        5 => {
            let members: Vec<String> = uids(inp).iter().map(|u| u.as_str().to_string()).collect();
            json!({"type": "members", "id": id, "members": members})
        }
        6 => {
            let counts: Vec<Value> = (0..inp.u8() % 4)
                .map(|_| json!({"channel": channel(inp), "count": inp.u8()}))
                .collect();
            json!({"type": "member_counts", "id": id, "counts": counts})
        }
        7 => json!({"type": "user_attributes", "id": id, "user": uid(inp).as_str(),
                    "attributes": attr_map(inp)}),
        8 => json!({"type": "channel_attributes", "id": id, "channel": channel(inp),
                    "attributes": channel_attrs_json(inp)}),
        9 => json!({"type": "attributes_updated", "channel": channel(inp),
                    "attributes": channel_attrs_json(inp)}),
        10 => json!({"type": "invitation", "caller": uid(inp).as_str(),
                     "invitation": u64::from(inp.u8() % 4), "content": "c",
                     "channel_id": String::from_utf8_lossy(inp.bytes(8)).into_owned()}),
        11 => {
            let mut v = local_update(inp, local);
            v["type"] = json!("local_invitation");
            v
        }
        12 => {
            let mut v = remote_update(inp);
            v["type"] = json!("remote_invitation");
            v
        }
        _ => {
            let local: Vec<Value> = (0..inp.u8() % 3)
                .map(|_| local_update(inp, local))
                .collect();
            let remote: Vec<Value> = (0..inp.u8() % 3).map(|_| remote_update(inp)).collect();
            json!({"type": "invitation_states", "id": id, "local": local, "remote": remote})
        }
    }
}
