//! The core's events as the JSON the JavaScript SDK dispatches.
//!
//! Every event is one object with a `target` — the SDK object that hears it — and, for
//! events, the SDK's `name` and listener `args` exactly as Agora's listeners take them, so
//! the JavaScript side is one `emit(name, ...args)`:
//!
//! * `{"target":"client","name":"MessageFromPeer","args":[message, peerId, props]}`
//! * `{"target":"channel","id":"room","name":"MemberJoined","args":["bob"]}`
//! * `{"target":"local","id":3,"name":"LocalInvitationAccepted","args":["on my way"]}`
//! * `{"target":"remote","id":"7:alice","name":"RemoteInvitationReceived","args":[],
//!   "callerId":"alice","content":"...","channelId":""}`
//! * `{"target":"response","request":12,"ok":value}` or
//!   `{"target":"response","request":12,"error":{"code":5,"name":"PeerMessageError","message":"..."}}`
//!
//! Messages are `{"messageType":"TEXT","text":...}`,
//! `{"messageType":"RAW","rawMessage":[bytes],"description":...}` (the SDK turns the byte
//! array into a `Uint8Array`), or `{"messageType":"FILE"|"IMAGE","mediaId":...,"size":...,
//! "fileName":...,"description":...,"thumbnail":[bytes]}` with, on an IMAGE, `width`,
//! `height`, `thumbnailWidth` and `thumbnailHeight` (the SDK makes the thumbnail a `Blob`).
//!
//! Media transfers add two targets, both for the SDK's transfer of that request:
//!
//! * `{"target":"transfer","request":7,"order":"upload","ticket":"...","size":N}`,
//!   `{..."order":"download","ticket":"...","mediaId":"...","from":N}` or
//!   `{..."order":"cancel"}`: the core's [`TransferOrder`]s, in order with the events;
//! * `{"target":"progress","request":7,"current":N,"total":N}`: `onOperationProgress`.

use std::collections::BTreeMap;

use rtm_proto::attributes::ChannelAttribute;
use rtm_proto::client::TransferOrder;
use rtm_proto::client::{ChannelEvent, LocalInvitationEvent, RemoteInvitationEvent};
use rtm_proto::errors::ErrorFamily;
use rtm_proto::media::MediaMessage;
use rtm_proto::{Event, InvitationKey, Message, PeerMessageOutcome, Response};
use serde_json::{json, Map, Value};

/// A remote invitation's id for JavaScript: `"<number>:<caller>"` (the number has no `:`).
pub(crate) fn remote_id(key: &InvitationKey) -> String {
    format!("{}:{}", key.invitation, key.caller.as_str())
}

/// The inverse of [`remote_id`].
pub(crate) fn parse_remote_id(id: &str) -> Option<InvitationKey> {
    let (number, caller) = id.split_once(':')?;
    Some(InvitationKey {
        caller: rtm_proto::UserId::new(caller).ok()?,
        invitation: number.parse().ok()?,
    })
}

pub(crate) fn message(m: &Message) -> Value {
    match m {
        Message::Text { text } => json!({ "messageType": "TEXT", "text": text }),
        Message::Raw { data, description } => {
            json!({ "messageType": "RAW", "rawMessage": data, "description": description })
        }
        Message::File(media) => media_message("FILE", media, false),
        Message::Image(media) => media_message("IMAGE", media, true),
    }
}

/// A FILE or IMAGE message as the 1.4.x SDK shapes it (the SDK turns `thumbnail`'s bytes
/// into a `Blob`); the image fields only on an IMAGE.
fn media_message(kind: &str, media: &MediaMessage, image: bool) -> Value {
    let mut m = json!({
        "messageType": kind,
        "mediaId": media.media_id,
        "size": media.size,
        "fileName": media.file_name,
        "description": media.description,
        "thumbnail": media.thumbnail,
    });
    if image {
        m["width"] = media.width.into();
        m["height"] = media.height.into();
        m["thumbnailWidth"] = media.thumbnail_width.into();
        m["thumbnailHeight"] = media.thumbnail_height.into();
    }
    m
}

/// A serde value as JSON (for the core's enums that serialize to the SDK's strings).
fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A transfer order as the SDK's JSON text (see the module's documentation). One struct
/// for the three orders keeps the code small: the module is shipped to every browser.
pub(crate) fn transfer_json(order: &TransferOrder) -> String {
    #[derive(serde::Serialize)]
    struct Order<'a> {
        target: &'static str,
        request: u32,
        order: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        ticket: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(rename = "mediaId", skip_serializing_if = "Option::is_none")]
        media_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<u64>,
    }
    let mut o = Order {
        target: "transfer",
        request: 0,
        order: "cancel",
        ticket: None,
        size: None,
        media_id: None,
        from: None,
    };
    match order {
        TransferOrder::Upload {
            request,
            ticket,
            size,
        } => {
            o.request = request.0;
            o.order = "upload";
            o.ticket = Some(ticket);
            o.size = Some(*size);
        }
        TransferOrder::Download {
            request,
            ticket,
            media_id,
            from,
        } => {
            o.request = request.0;
            o.order = "download";
            o.ticket = Some(ticket);
            o.media_id = Some(media_id);
            o.from = Some(*from);
        }
        TransferOrder::Cancel { request } => o.request = request.0,
    }
    serde_json::to_string(&o).unwrap_or_default()
}

/// The event as the SDK's JSON.
pub(crate) fn to_json(event: &Event) -> Value {
    let client =
        |name: &str, args: Value| json!({ "target": "client", "name": name, "args": args });
    match event {
        Event::ConnectionStateChanged { state, reason } => client(
            event.sdk_name(),
            json!([state.sdk_name(), reason.sdk_name()]),
        ),
        Event::MessageFromPeer {
            peer_id,
            message: m,
            server_received_ts,
            is_offline_message,
        } => client(
            event.sdk_name(),
            json!([
                message(m),
                peer_id.as_str(),
                { "serverReceivedTs": server_received_ts, "isOfflineMessage": is_offline_message }
            ]),
        ),
        Event::PeersOnlineStatusChanged(status) => {
            let map: Map<String, Value> = status
                .iter()
                .map(|(peer, s)| (peer.as_str().to_string(), to_value(s)))
                .collect();
            client(event.sdk_name(), json!([map]))
        }
        Event::TokenExpired | Event::TokenPrivilegeWillExpire => {
            client(event.sdk_name(), json!([]))
        }
        Event::MediaProgress {
            request,
            current,
            total,
        } => json!({
            "target": "progress",
            "request": request.0,
            "current": current,
            "total": total,
        }),
        Event::Response { request, response } => {
            let mut out = response_json(response);
            out.insert("target".into(), "response".into());
            out.insert("request".into(), request.0.into());
            Value::Object(out)
        }
        Event::Channel { channel, event: e } => json!({
            "target": "channel",
            "id": channel.as_str(),
            "name": event.sdk_name(),
            "args": channel_args(e),
        }),
        Event::LocalInvitation {
            invitation,
            event: e,
        } => json!({
            "target": "local",
            "id": invitation.0,
            "name": event.sdk_name(),
            "args": match e {
                LocalInvitationEvent::Accepted { response }
                | LocalInvitationEvent::Refused { response } => json!([response]),
                LocalInvitationEvent::Failure { reason } => json!([to_value(reason)]),
                _ => json!([]),
            },
        }),
        Event::RemoteInvitation {
            invitation,
            event: e,
        } => {
            let mut out = json!({
                "target": "remote",
                "id": remote_id(invitation),
                "name": event.sdk_name(),
                "args": match e {
                    RemoteInvitationEvent::Canceled { content } => json!([content]),
                    RemoteInvitationEvent::Failure { reason } => json!([to_value(reason)]),
                    _ => json!([]),
                },
            });
            if let RemoteInvitationEvent::Received {
                caller_id,
                content,
                channel_id,
            } = e
            {
                out["callerId"] = caller_id.as_str().into();
                out["content"] = content.as_str().into();
                out["channelId"] = channel_id.as_str().into();
            }
            out
        }
        // A new event kind reaches the SDK by name, without arguments.
        _ => client(event.sdk_name(), json!([])),
    }
}

fn channel_args(e: &ChannelEvent) -> Value {
    match e {
        ChannelEvent::Message {
            member_id,
            message: m,
            server_received_ts,
        } => json!([
            message(m),
            member_id.as_str(),
            { "serverReceivedTs": server_received_ts }
        ]),
        ChannelEvent::MemberJoined { member_id } | ChannelEvent::MemberLeft { member_id } => {
            json!([member_id.as_str()])
        }
        ChannelEvent::MemberCountUpdated { count } => json!([count]),
        ChannelEvent::AttributesUpdated { attributes } => json!([channel_attributes(attributes)]),
        _ => json!([]),
    }
}

/// `{key: {value, lastUpdateUserId, lastUpdateTs}}`, the SDK's `ChannelAttributes`.
fn channel_attributes(attributes: &BTreeMap<String, ChannelAttribute>) -> Value {
    attributes
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                json!({
                    "value": a.value,
                    "lastUpdateUserId": a.last_update_user_id.as_str(),
                    "lastUpdateTs": a.last_update_ts,
                }),
            )
        })
        .collect::<Map<String, Value>>()
        .into()
}

/// `{"code", "name", "message"}` of a §8 error: what the SDK rejects a promise with.
fn error_json(e: impl ErrorFamily) -> Value {
    json!({ "code": e.code(), "name": e.family(), "message": e.to_string() })
}

/// `{"ok": value}` or `{"error": {...}}`: what the SDK's promise resolves or rejects with.
fn response_json(response: &Response) -> Map<String, Value> {
    fn answer<T, E: ErrorFamily>(
        r: &Result<T, E>,
        ok: impl FnOnce(&T) -> Value,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        match r {
            Ok(v) => m.insert("ok".into(), ok(v)),
            Err(e) => m.insert("error".into(), error_json(*e)),
        };
        m
    }
    let unit = |_: &()| Value::Null;
    match response {
        Response::Login(r) => answer(r, unit),
        Response::RenewToken(r) => answer(r, unit),
        Response::SendMessageToPeer(r) => answer(
            r,
            |o: &PeerMessageOutcome| json!({ "hasPeerReceived": o.has_peer_received(), "outcome": to_value(o) }),
        ),
        Response::QueryPeersOnlineStatus(r) => answer(r, |peers| {
            peers
                .iter()
                .map(|(p, online)| (p.as_str().to_string(), Value::Bool(*online)))
                .collect::<Map<String, Value>>()
                .into()
        }),
        Response::SubscribePeersOnlineStatus(r) | Response::UnsubscribePeersOnlineStatus(r) => {
            answer(r, unit)
        }
        Response::Join(r) => answer(r, unit),
        Response::Leave(r) => answer(r, unit),
        Response::SendChannelMessage(r) => answer(r, unit),
        Response::GetMembers(r) => answer(r, |members| {
            members
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .into()
        }),
        Response::GetChannelMemberCount(r) => answer(r, |counts| {
            counts
                .iter()
                .map(|(c, n)| (c.as_str().to_string(), Value::from(*n)))
                .collect::<Map<String, Value>>()
                .into()
        }),
        Response::AttributeWrite(r) => answer(r, unit),
        Response::GetUserAttributes(r) => answer(r, |attrs| to_value(attrs)),
        Response::GetChannelAttributes(r) => answer(r, channel_attributes),
        Response::UploadMedia(r) => answer(r, message),
        Response::DownloadMedia(r) => answer(
            r,
            |d| json!({ "mediaId": d.media_id, "size": d.size, "mime": d.mime }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtm_proto::{ChannelId, ConnectionChangeReason, ConnectionState, RequestId, UserId};

    fn uid(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    #[test]
    fn a_peer_message_carries_the_sdk_listener_arguments() {
        let e = Event::MessageFromPeer {
            peer_id: uid("alice"),
            message: Message::raw(vec![1, 2, 255], "bin"),
            server_received_ts: 1_700_000_000_000,
            is_offline_message: true,
        };
        assert_eq!(
            to_json(&e),
            json!({
                "target": "client",
                "name": "MessageFromPeer",
                "args": [
                    { "messageType": "RAW", "rawMessage": [1, 2, 255], "description": "bin" },
                    "alice",
                    { "serverReceivedTs": 1_700_000_000_000u64, "isOfflineMessage": true }
                ]
            })
        );
    }

    #[test]
    fn connection_changes_use_the_sdk_strings() {
        let e = Event::ConnectionStateChanged {
            state: ConnectionState::Aborted,
            reason: ConnectionChangeReason::RemoteLogin,
        };
        assert_eq!(to_json(&e)["args"], json!(["ABORTED", "REMOTE_LOGIN"]));
    }

    #[test]
    fn responses_resolve_with_the_sdk_shape_or_reject_with_the_code() {
        let ok = Event::Response {
            request: RequestId(4),
            response: Response::SendMessageToPeer(Ok(PeerMessageOutcome::Cached)),
        };
        assert_eq!(
            to_json(&ok),
            json!({ "target": "response", "request": 4,
                    "ok": { "hasPeerReceived": false, "outcome": "cached" } })
        );
        let err = Event::Response {
            request: RequestId(5),
            response: Response::Join(Err(rtm_proto::JoinChannelError::Timeout)),
        };
        let v = to_json(&err);
        assert_eq!(
            v["error"]["code"],
            json!(rtm_proto::JoinChannelError::Timeout.code())
        );
        assert_eq!(v["error"]["name"], json!("JoinChannelError"));
        let counts = Event::Response {
            request: RequestId(6),
            response: Response::GetChannelMemberCount(Ok(vec![
                (ChannelId::new("b").unwrap(), 2),
                (ChannelId::new("a").unwrap(), 0),
            ])),
        };
        assert_eq!(to_json(&counts)["ok"], json!({ "a": 0, "b": 2 }));
    }

    fn media() -> MediaMessage {
        MediaMessage {
            media_id: "0123456789abcdef0123456789abcdef".into(),
            size: 1234,
            file_name: "cat.png".into(),
            description: "a cat".into(),
            thumbnail: vec![137, 80],
            width: 640,
            height: 480,
            thumbnail_width: 2,
            thumbnail_height: 1,
        }
    }

    #[test]
    fn file_and_image_messages_have_the_1_4_sdk_fields() {
        let file = MediaMessage {
            width: 0,
            height: 0,
            thumbnail_width: 0,
            thumbnail_height: 0,
            ..media()
        };
        assert_eq!(
            message(&Message::File(Box::new(file))),
            json!({
                "messageType": "FILE",
                "mediaId": "0123456789abcdef0123456789abcdef",
                "size": 1234,
                "fileName": "cat.png",
                "description": "a cat",
                "thumbnail": [137, 80],
            })
        );
        let e = Event::Channel {
            channel: ChannelId::new("lobby").unwrap(),
            event: ChannelEvent::Message {
                member_id: uid("bob"),
                message: Message::Image(Box::new(media())),
                server_received_ts: 5,
            },
        };
        assert_eq!(
            to_json(&e)["args"],
            json!([
                {
                    "messageType": "IMAGE",
                    "mediaId": "0123456789abcdef0123456789abcdef",
                    "size": 1234,
                    "fileName": "cat.png",
                    "description": "a cat",
                    "thumbnail": [137, 80],
                    "width": 640,
                    "height": 480,
                    "thumbnailWidth": 2,
                    "thumbnailHeight": 1,
                },
                "bob",
                { "serverReceivedTs": 5 }
            ])
        );
    }

    #[test]
    fn transfer_orders_and_progress_go_to_the_request_s_transfer() {
        let upload = TransferOrder::Upload {
            request: RequestId(7),
            ticket: "t1".into(),
            size: 99,
        };
        let transfer_json = |o| serde_json::from_str::<Value>(&transfer_json(o)).unwrap();
        assert_eq!(
            transfer_json(&upload),
            json!({ "target": "transfer", "request": 7, "order": "upload", "ticket": "t1", "size": 99 })
        );
        let download = TransferOrder::Download {
            request: RequestId(8),
            ticket: "t2".into(),
            media_id: "m".into(),
            from: 4096,
        };
        assert_eq!(
            transfer_json(&download),
            json!({ "target": "transfer", "request": 8, "order": "download", "ticket": "t2",
                    "mediaId": "m", "from": 4096 })
        );
        let cancel = TransferOrder::Cancel {
            request: RequestId(9),
        };
        assert_eq!(
            transfer_json(&cancel),
            json!({ "target": "transfer", "request": 9, "order": "cancel" })
        );
        let progress = Event::MediaProgress {
            request: RequestId(7),
            current: 10,
            total: 99,
        };
        assert_eq!(
            to_json(&progress),
            json!({ "target": "progress", "request": 7, "current": 10, "total": 99 })
        );
    }

    #[test]
    fn media_responses_resolve_with_the_message_or_the_download_or_reject_with_8_14_codes() {
        let uploaded = Event::Response {
            request: RequestId(3),
            response: Response::UploadMedia(Ok(Message::Image(Box::new(media())))),
        };
        assert_eq!(to_json(&uploaded)["ok"]["messageType"], json!("IMAGE"));
        assert_eq!(to_json(&uploaded)["ok"]["width"], json!(640));
        let downloaded = Event::Response {
            request: RequestId(4),
            response: Response::DownloadMedia(Ok(rtm_proto::client::MediaDownload {
                media_id: "m".into(),
                size: 3,
                mime: "image/png".into(),
            })),
        };
        assert_eq!(
            to_json(&downloaded)["ok"],
            json!({ "mediaId": "m", "size": 3, "mime": "image/png" })
        );
        let refused = Event::Response {
            request: RequestId(5),
            response: Response::DownloadMedia(Err(rtm_proto::DownloadMediaError::NotExist)),
        };
        let v = to_json(&refused);
        assert_eq!(
            (&v["error"]["code"], &v["error"]["name"]),
            (&json!(4), &json!("DownloadMediaError"))
        );
        let cancelled = Event::Response {
            request: RequestId(6),
            response: Response::UploadMedia(Err(rtm_proto::UploadMediaError::Interrupted)),
        };
        let v = to_json(&cancelled);
        assert_eq!(
            (&v["error"]["code"], &v["error"]["name"]),
            (&json!(6), &json!("UploadMediaError"))
        );
    }

    #[test]
    fn remote_invitation_ids_round_trip_even_with_colons_in_the_caller() {
        let key = InvitationKey {
            caller: uid("a:b"),
            invitation: 17,
        };
        assert_eq!(remote_id(&key), "17:a:b");
        assert_eq!(parse_remote_id("17:a:b"), Some(key));
        assert_eq!(parse_remote_id("x:a"), None);
        assert_eq!(parse_remote_id("17"), None);
    }
}
