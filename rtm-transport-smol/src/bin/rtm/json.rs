//! The JSON lines `rtm` prints: events as `{"event": NAME, ...}` with the SDK's event names
//! and enum names, and results of calls as `{"op": METHOD, "code": N, ...}` (`code` 0 on
//! success; on failure also `"error"`, the error's description).

use rtm_proto::{ChannelEvent, LocalInvitationEvent, RemoteInvitationEvent};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use base64::Engine;
use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::{Event, Message, PeerOnlineState};
use serde::Serialize;
use serde_json::{json, Value};

/// Prints one JSON line on stdout, flushed at once (stdout may be a pipe).
pub fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// An error a call can end with: its description and its documented code (§8).
pub trait Coded: std::fmt::Display {
    fn code(&self) -> u32;
}

macro_rules! coded {
    ($($family:ty),* $(,)?) => {
        $(impl Coded for $family {
            fn code(&self) -> u32 {
                <$family>::code(*self)
            }
        })*
    };
}

coded!(
    rtm_proto::errors::AttributeOperationError,
    rtm_proto::errors::ChannelMessageError,
    rtm_proto::errors::InvitationApiCallError,
    rtm_proto::errors::LeaveChannelError,
    rtm_proto::errors::UploadMediaError,
    rtm_proto::errors::DownloadMediaError,
    rtm_proto::errors::PeerMessageError,
);

/// Prints the result of the call `op` as one JSON line with `print`: on success
/// `{"op", "code": 0, ...fields}` plus what `details` makes of the value, on failure the
/// error's code and description with `fields`. Returns the exit status that result means, so
/// every command reports its calls the same way.
pub fn report<T, E: Coded>(
    print: &dyn Fn(&Value),
    op: &str,
    fields: Value,
    result: Result<T, E>,
    details: impl FnOnce(T) -> Value,
) -> ExitCode {
    match result {
        Ok(value) => {
            let mut v = op_ok(op, fields);
            merge(&mut v, details(value));
            print(&v);
            ExitCode::SUCCESS
        }
        Err(e) => {
            print(&op_err(op, e.code(), &e, fields));
            ExitCode::FAILURE
        }
    }
}

/// `{"op": op, "code": 0, ...fields}`.
pub fn op_ok(op: &str, fields: Value) -> Value {
    let mut v = json!({ "op": op, "code": 0 });
    merge(&mut v, fields);
    v
}

/// `{"op": op, "code": N, "error": "...", ...fields}`.
pub fn op_err(op: &str, code: u32, error: &dyn std::fmt::Display, fields: Value) -> Value {
    let mut v = json!({ "op": op, "code": code, "error": error.to_string() });
    merge(&mut v, fields);
    v
}

/// Adds the fields of the object `extra` to the object `v`.
pub fn merge(v: &mut Value, extra: Value) {
    if let (Value::Object(v), Value::Object(extra)) = (v, extra) {
        v.extend(extra);
    }
}

/// The SDK's name of an enum value, from its serde form (SCREAMING_SNAKE_CASE in the core).
fn sdk_name(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn peer_state_name(s: PeerOnlineState) -> &'static str {
    match s {
        PeerOnlineState::Online => "ONLINE",
        PeerOnlineState::Unreachable => "UNREACHABLE",
        PeerOnlineState::Offline => "OFFLINE",
    }
}

/// Channel attributes as `{key: {value, last_update_user_id, last_update_ts}}`.
pub fn channel_attributes_json(attributes: &BTreeMap<String, ChannelAttribute>) -> Value {
    let map: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|(k, a)| {
            let v = json!({
                "value": a.value,
                "last_update_user_id": a.last_update_user_id.as_str(),
                "last_update_ts": a.last_update_ts,
            });
            (k.clone(), v)
        })
        .collect();
    Value::Object(map)
}

/// User attributes as `{key: value}`.
pub fn user_attributes_json(attributes: &BTreeMap<String, String>) -> Value {
    json!(attributes)
}

/// One event as a JSON object: `{"event": NAME, ...fields}` with the SDK's names
/// ([`Event::sdk_name`]); a channel's or an invitation's events carry its id.
pub fn event_json(event: &Event) -> Value {
    let mut v = json!({ "event": event.sdk_name() });
    let fields = match event {
        Event::ConnectionStateChanged { state, reason } => json!({
            "state": state.sdk_name(),
            "reason": reason.sdk_name(),
        }),
        Event::MessageFromPeer {
            peer_id,
            message,
            server_received_ts,
            is_offline_message,
        } => {
            let mut f = json!({
                "peer_id": peer_id.as_str(),
                "server_received_ts": server_received_ts,
                "is_offline_message": is_offline_message,
            });
            add_message(&mut f, message);
            f
        }
        Event::PeersOnlineStatusChanged(peers) => {
            let peers: serde_json::Map<String, Value> = peers
                .iter()
                .map(|(p, s)| (p.to_string(), json!(peer_state_name(*s))))
                .collect();
            json!({ "peers": peers })
        }
        Event::Channel { channel, event } => {
            let mut f = channel_event_json(event);
            merge(&mut f, json!({ "channel_id": channel.as_str() }));
            f
        }
        Event::LocalInvitation { invitation, event } => {
            let mut f = local_invitation_event_json(event);
            merge(&mut f, json!({ "invitation": invitation.0 }));
            f
        }
        Event::RemoteInvitation { invitation, event } => {
            let mut f = remote_invitation_event_json(event);
            merge(
                &mut f,
                json!({ "caller_id": invitation.caller.as_str(), "invitation": invitation.invitation }),
            );
            f
        }
        Event::TokenExpired | Event::TokenPrivilegeWillExpire => json!({}),
        // Results go to the call that asked, never to the event stream; and events the CLI
        // has no format for yet: their Debug.
        other => json!({ "debug": format!("{other:?}") }),
    };
    merge(&mut v, fields);
    v
}

fn channel_event_json(event: &ChannelEvent) -> Value {
    match event {
        ChannelEvent::Message {
            member_id,
            message,
            server_received_ts,
        } => {
            let mut f = json!({
                "member_id": member_id.as_str(),
                "server_received_ts": server_received_ts,
            });
            add_message(&mut f, message);
            f
        }
        ChannelEvent::MemberJoined { member_id } | ChannelEvent::MemberLeft { member_id } => {
            json!({ "member_id": member_id.as_str() })
        }
        ChannelEvent::MemberCountUpdated { count } => json!({ "member_count": count }),
        ChannelEvent::AttributesUpdated { attributes } => {
            json!({ "attributes": channel_attributes_json(attributes) })
        }
        other => json!({ "debug": format!("{other:?}") }),
    }
}

fn local_invitation_event_json(event: &LocalInvitationEvent) -> Value {
    match event {
        LocalInvitationEvent::Accepted { response }
        | LocalInvitationEvent::Refused { response } => {
            json!({ "response": response })
        }
        LocalInvitationEvent::Failure { reason } => json!({ "reason": sdk_name(reason) }),
        LocalInvitationEvent::ReceivedByPeer | LocalInvitationEvent::Canceled => json!({}),
        other => json!({ "debug": format!("{other:?}") }),
    }
}

fn remote_invitation_event_json(event: &RemoteInvitationEvent) -> Value {
    match event {
        RemoteInvitationEvent::Received {
            content,
            channel_id,
            ..
        } => json!({ "content": content, "channel_id": channel_id }),
        RemoteInvitationEvent::Canceled { content } => json!({ "content": content }),
        RemoteInvitationEvent::Failure { reason } => json!({ "reason": sdk_name(reason) }),
        RemoteInvitationEvent::Accepted | RemoteInvitationEvent::Refused => json!({}),
        other => json!({ "debug": format!("{other:?}") }),
    }
}

/// Adds a message body's fields: `message_type` and `text`, or `raw_message` (base64) and
/// `description`, or a FILE's or IMAGE's media fields (thumbnail in base64).
fn add_message(v: &mut Value, message: &Message) {
    match message {
        Message::Text { text } => {
            v["message_type"] = json!("TEXT");
            v["text"] = json!(text);
        }
        Message::Raw { data, description } => {
            v["message_type"] = json!("RAW");
            v["raw_message"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
            v["description"] = json!(description);
        }
        Message::File(media) | Message::Image(media) => {
            let kind = if matches!(message, Message::File(_)) {
                "FILE"
            } else {
                "IMAGE"
            };
            v["message_type"] = json!(kind);
            v["media_id"] = json!(media.media_id);
            v["size"] = json!(media.size);
            v["file_name"] = json!(media.file_name);
            v["description"] = json!(media.description);
            v["thumbnail"] =
                json!(base64::engine::general_purpose::STANDARD.encode(&media.thumbnail));
            v["width"] = json!(media.width);
            v["height"] = json!(media.height);
            v["thumbnail_width"] = json!(media.thumbnail_width);
            v["thumbnail_height"] = json!(media.thumbnail_height);
        }
    }
}
