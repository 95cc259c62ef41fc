//! [`RtmCore`]: the core's commands for JavaScript.
//!
//! One method per core command, named as the SDK names it. A command the core refuses at
//! once throws an `Error` carrying the §8 `code` and the family's `name`; one that goes to the
//! server returns its request id, and its result arrives as a `response` event.

use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use rtm_proto::client::InvitationId;
use rtm_proto::client::{ChannelAttributeOptions, SendMessageOptions, TransferEnd};
use rtm_proto::errors::{ErrorFamily, InvitationApiCallError};
use rtm_proto::logs::LogLevel;
use rtm_proto::{ChannelId, Message, RequestId};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::driver::Shared;
use crate::events::parse_remote_id;
use crate::media;

/// The client core with its browser driver. Created by the SDK's `createInstance`.
#[wasm_bindgen]
pub struct RtmCore {
    shared: Rc<Shared>,
}

/// A thrown SDK error: `Error(message)` with the family's `code` and `name`.
fn thrown(e: impl ErrorFamily) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(e.family());
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from(e.code()));
    error.into()
}

/// The ids of a JavaScript string array, as the core takes them.
fn strs(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

/// A message from the SDK's pieces: text, raw bytes with a description, or a FILE / IMAGE
/// message's object.
fn message(
    text: Option<String>,
    raw: Option<Vec<u8>>,
    description: String,
    media: JsValue,
) -> Option<Message> {
    match (text, raw, media.is_undefined() || media.is_null()) {
        (Some(text), None, true) => Some(Message::text(text)),
        (None, Some(raw), true) => Some(Message::raw(raw, description)),
        (None, None, false) => media::message(&media),
        _ => None,
    }
}

/// A plain object of string values (an `AttributesMap`); `None` if it is anything else.
fn string_map(value: &JsValue) -> Option<BTreeMap<String, String>> {
    if !value.is_object() || js_sys::Array::is_array(value) {
        return None;
    }
    let mut map = BTreeMap::new();
    for entry in js_sys::Object::entries(value.unchecked_ref()).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        map.insert(pair.get(0).as_string()?, pair.get(1).as_string()?);
    }
    Some(map)
}

fn attr_options(notify: bool) -> ChannelAttributeOptions {
    ChannelAttributeOptions {
        enable_notification_to_channel_members: notify,
    }
}

fn invalid_attributes() -> JsValue {
    thrown(rtm_proto::AttributeOperationError::InvalidArgument)
}

impl RtmCore {
    /// Runs one command against the client, then carries out what it produced.
    fn run<T>(&self, command: impl FnOnce(&mut rtm_proto::Client, rtm_proto::Timestamp) -> T) -> T {
        let now = self.shared.now();
        let result = command(&mut self.shared.driver.borrow_mut().client, now);
        self.shared.after_command();
        result
    }

    fn ended(&self, request: u32, end: TransferEnd) {
        self.run(|c, now| c.transfer_ended(now, RequestId(request), end));
    }

    fn channel(&self, channel_id: &str) -> Result<ChannelId, JsValue> {
        self.shared
            .driver
            .borrow()
            .client
            .create_channel(channel_id)
            .map_err(thrown)
    }
}

fn id(r: RequestId) -> u32 {
    r.0
}

#[wasm_bindgen]
impl RtmCore {
    /// A client of `url` (`ws://` or `wss://`) with `app_id`; every event goes to
    /// `on_event(json)`.
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, app_id: String, on_event: js_sys::Function) -> RtmCore {
        RtmCore {
            shared: Shared::new(url, app_id, on_event),
        }
    }

    /// `AgoraRTM.ConnectionState` of the client.
    #[wasm_bindgen(js_name = connectionState)]
    pub fn connection_state(&self) -> String {
        let state = self.shared.driver.borrow().client.connection_state();
        state.sdk_name().to_string()
    }

    pub fn login(&self, uid: &str, token: Option<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.login(now, uid, token.as_deref()))
            .map(id)
            .map_err(thrown)
    }

    /// Starts the logout; it ends with `ConnectionStateChanged(DISCONNECTED, LOGOUT)`.
    pub fn logout(&self) -> Result<(), JsValue> {
        self.run(|c, now| c.logout(now)).map_err(thrown)
    }

    /// `enableLogUpload` and `logFilter` (its level as `"error"`, `"warn"`, `"info"`,
    /// `"debug"`, or `"off"`): the core records its lines at or above that level and, while
    /// uploading is on, sends them to the server.
    #[wasm_bindgen(js_name = setLogUpload)]
    pub fn set_log_upload(&self, enabled: bool, level: &str) {
        let filter = LogLevel::from_name(level);
        self.run(|c, _| {
            c.set_log_upload(enabled);
            c.set_log_filter(filter);
        });
    }

    /// Records one line of the SDK's JavaScript part for upload (`level` as for
    /// `setLogUpload`; anything else is `info`).
    pub fn log(&self, level: &str, text: &str) {
        let level = LogLevel::from_name(level).unwrap_or(LogLevel::Info);
        self.run(|c, now| c.log(now, level, text));
    }

    /// The page is going away: log out at once (the logout frame goes out before the page
    /// unloads, so the server ends the session now rather than holding it for a resume),
    /// then close everything.
    #[wasm_bindgen(js_name = pageHide)]
    pub fn page_hide(&self) {
        let _ = self.run(|c, now| c.logout(now));
        self.shared.shut_down();
    }

    #[wasm_bindgen(js_name = renewToken)]
    pub fn renew_token(&self, token: &str) -> Result<u32, JsValue> {
        self.run(|c, now| c.renew_token(now, token))
            .map(id)
            .map_err(thrown)
    }

    /// `sendMessageToPeer`: `text`, `raw` with `description`, or a `media` message.
    #[wasm_bindgen(js_name = sendMessageToPeer)]
    pub fn send_message_to_peer(
        &self,
        peer_id: &str,
        text: Option<String>,
        raw: Option<Vec<u8>>,
        description: String,
        media: JsValue,
        offline: bool,
    ) -> Result<u32, JsValue> {
        let Some(m) = message(text, raw, description, media) else {
            return Err(thrown(rtm_proto::PeerMessageError::InvalidMessage));
        };
        let options = SendMessageOptions {
            enable_offline_messaging: offline,
        };
        self.run(|c, now| c.send_message_to_peer(now, peer_id, m, options))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = queryPeersOnlineStatus)]
    pub fn query_peers_online_status(&self, peer_ids: Vec<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.query_peers_online_status(now, &strs(&peer_ids)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = subscribePeersOnlineStatus)]
    pub fn subscribe_peers_online_status(&self, peer_ids: Vec<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.subscribe_peers_online_status(now, &strs(&peer_ids)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = unsubscribePeersOnlineStatus)]
    pub fn unsubscribe_peers_online_status(&self, peer_ids: Vec<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.unsubscribe_peers_online_status(now, &strs(&peer_ids)))
            .map(id)
            .map_err(thrown)
    }

    /// The subscribed peers (answered locally).
    #[wasm_bindgen(js_name = queryPeersBySubscriptionOption)]
    pub fn query_peers_by_subscription_option(&self) -> Result<Vec<String>, JsValue> {
        self.run(|c, now| c.query_peers_by_subscription_option(now))
            .map(|peers| peers.iter().map(|p| p.as_str().to_string()).collect())
            .map_err(thrown)
    }

    /// Checks a channel id (`createChannel` throws what this throws).
    #[wasm_bindgen(js_name = createChannel)]
    pub fn create_channel(&self, channel_id: &str) -> Result<(), JsValue> {
        self.channel(channel_id).map(|_| ())
    }

    pub fn join(&self, channel_id: &str) -> Result<u32, JsValue> {
        let ch = ChannelId::new(channel_id)
            .map_err(|_| thrown(rtm_proto::JoinChannelError::InvalidArgument))?;
        self.run(|c, now| c.join(now, &ch)).map(id).map_err(thrown)
    }

    pub fn leave(&self, channel_id: &str) -> Result<u32, JsValue> {
        let ch = self.channel(channel_id)?;
        self.run(|c, now| c.leave(now, &ch)).map(id).map_err(thrown)
    }

    #[wasm_bindgen(js_name = sendChannelMessage)]
    pub fn send_channel_message(
        &self,
        channel_id: &str,
        text: Option<String>,
        raw: Option<Vec<u8>>,
        description: String,
        media: JsValue,
    ) -> Result<u32, JsValue> {
        let ch = self.channel(channel_id)?;
        let Some(m) = message(text, raw, description, media) else {
            return Err(thrown(rtm_proto::ChannelMessageError::InvalidMessage));
        };
        self.run(|c, now| c.send_channel_message(now, &ch, m))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getMembers)]
    pub fn get_members(&self, channel_id: &str) -> Result<u32, JsValue> {
        let ch = self.channel(channel_id)?;
        self.run(|c, now| c.get_members(now, &ch))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getChannelMemberCount)]
    pub fn get_channel_member_count(&self, channel_ids: Vec<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.get_channel_member_count(now, &strs(&channel_ids)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = setLocalUserAttributes)]
    pub fn set_local_user_attributes(&self, attributes: JsValue) -> Result<u32, JsValue> {
        let attrs = string_map(&attributes).ok_or_else(invalid_attributes)?;
        self.run(|c, now| c.set_local_user_attributes(now, attrs))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = addOrUpdateLocalUserAttributes)]
    pub fn add_or_update_local_user_attributes(&self, attributes: JsValue) -> Result<u32, JsValue> {
        let attrs = string_map(&attributes).ok_or_else(invalid_attributes)?;
        self.run(|c, now| c.add_or_update_local_user_attributes(now, attrs))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = deleteLocalUserAttributesByKeys)]
    pub fn delete_local_user_attributes_by_keys(&self, keys: Vec<String>) -> Result<u32, JsValue> {
        self.run(|c, now| c.delete_local_user_attributes_by_keys(now, keys))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = clearLocalUserAttributes)]
    pub fn clear_local_user_attributes(&self) -> Result<u32, JsValue> {
        self.run(|c, now| c.clear_local_user_attributes(now))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getUserAttributes)]
    pub fn get_user_attributes(&self, user_id: &str) -> Result<u32, JsValue> {
        self.run(|c, now| c.get_user_attributes(now, user_id))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getUserAttributesByKeys)]
    pub fn get_user_attributes_by_keys(
        &self,
        user_id: &str,
        keys: Vec<String>,
    ) -> Result<u32, JsValue> {
        self.run(|c, now| c.get_user_attributes_by_keys(now, user_id, keys))
            .map(id)
            .map_err(thrown)
    }

    /// A channel id the attribute calls accept, or the attribute family's error.
    fn attr_channel(&self, channel_id: &str) -> Result<ChannelId, JsValue> {
        ChannelId::new(channel_id).map_err(|_| invalid_attributes())
    }

    #[wasm_bindgen(js_name = setChannelAttributes)]
    pub fn set_channel_attributes(
        &self,
        channel_id: &str,
        attributes: JsValue,
        notify: bool,
    ) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        let attrs = string_map(&attributes).ok_or_else(invalid_attributes)?;
        self.run(|c, now| c.set_channel_attributes(now, &ch, attrs, attr_options(notify)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = addOrUpdateChannelAttributes)]
    pub fn add_or_update_channel_attributes(
        &self,
        channel_id: &str,
        attributes: JsValue,
        notify: bool,
    ) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        let attrs = string_map(&attributes).ok_or_else(invalid_attributes)?;
        self.run(|c, now| c.add_or_update_channel_attributes(now, &ch, attrs, attr_options(notify)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = deleteChannelAttributesByKeys)]
    pub fn delete_channel_attributes_by_keys(
        &self,
        channel_id: &str,
        keys: Vec<String>,
        notify: bool,
    ) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        self.run(|c, now| c.delete_channel_attributes_by_keys(now, &ch, keys, attr_options(notify)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = clearChannelAttributes)]
    pub fn clear_channel_attributes(&self, channel_id: &str, notify: bool) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        self.run(|c, now| c.clear_channel_attributes(now, &ch, attr_options(notify)))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getChannelAttributes)]
    pub fn get_channel_attributes(&self, channel_id: &str) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        self.run(|c, now| c.get_channel_attributes(now, &ch))
            .map(id)
            .map_err(thrown)
    }

    #[wasm_bindgen(js_name = getChannelAttributesByKeys)]
    pub fn get_channel_attributes_by_keys(
        &self,
        channel_id: &str,
        keys: Vec<String>,
    ) -> Result<u32, JsValue> {
        let ch = self.attr_channel(channel_id)?;
        self.run(|c, now| c.get_channel_attributes_by_keys(now, &ch, keys))
            .map(id)
            .map_err(thrown)
    }

    /// `createMediaMessageByUploading`: `params` are the app's parameters with the source's
    /// `size` and `head` (its first bytes, for an image's width and height). The FILE or
    /// IMAGE message arrives as the response; the upload itself is a `transfer` order.
    #[wasm_bindgen(js_name = uploadMedia)]
    pub fn upload_media(&self, params: JsValue) -> Result<u32, JsValue> {
        let upload = media::upload(&params)
            .ok_or_else(|| thrown(rtm_proto::errors::UploadMediaError::InvalidArgument))?;
        self.run(|c, now| c.upload_media(now, upload))
            .map(id)
            .map_err(thrown)
    }

    /// `downloadMedia`: the response is `{mediaId, size, mime}`; the bytes come from the
    /// `transfer` orders the SDK carries out.
    #[wasm_bindgen(js_name = downloadMedia)]
    pub fn download_media(&self, media_id: &str) -> Result<u32, JsValue> {
        self.run(|c, now| c.download_media(now, media_id))
            .map(id)
            .map_err(thrown)
    }

    /// The app's `cancelSignal` aborted: the request ends with INTERRUPTED.
    #[wasm_bindgen(js_name = cancelMedia)]
    pub fn cancel_media(&self, request: u32) -> Result<(), JsValue> {
        self.run(|c, now| c.cancel_media(now, RequestId(request)))
            .map_err(thrown)
    }

    /// Bytes of `request`'s file moved so far (`current`, from the file's start) of `total`
    /// (0 while unknown).
    #[wasm_bindgen(js_name = transferProgress)]
    pub fn transfer_progress(&self, request: u32, current: f64, total: f64) {
        let (current, total) = (count(current), count(total));
        self.run(|c, now| c.transfer_progress(now, RequestId(request), current, total));
    }

    /// `request`'s exchange was answered with a status other than 2xx, with `body`.
    #[wasm_bindgen(js_name = transferRefused)]
    pub fn transfer_refused(&self, request: u32, status: u16, body: Vec<u8>) {
        let body = Bytes::from(body);
        self.ended(request, TransferEnd::Refused { status, body });
    }

    /// `request`'s upload was answered 2xx with `body`.
    #[wasm_bindgen(js_name = transferUploaded)]
    pub fn transfer_uploaded(&self, request: u32, body: Vec<u8>) {
        let body = Bytes::from(body);
        self.ended(request, TransferEnd::Uploaded { body });
    }

    /// `request`'s download received all its bytes: `size` of them, of `Content-Type` `mime`.
    #[wasm_bindgen(js_name = transferDownloaded)]
    pub fn transfer_downloaded(&self, request: u32, size: f64, mime: String) {
        let size = count(size);
        self.ended(request, TransferEnd::Downloaded { size, mime });
    }

    /// `request`'s exchange failed or broke before a whole answer.
    #[wasm_bindgen(js_name = transferBroken)]
    pub fn transfer_broken(&self, request: u32) {
        self.ended(request, TransferEnd::Broken);
    }

    /// `createLocalInvitation(calleeId)`: the invitation's number.
    #[wasm_bindgen(js_name = createLocalInvitation)]
    pub fn create_local_invitation(&self, callee_id: &str) -> Result<f64, JsValue> {
        self.run(|c, _| c.create_local_invitation(callee_id))
            .map(|i| i.0 as f64)
            .map_err(thrown)
    }

    /// Sets content and channel id, then sends (the SDK's properties are plain fields until
    /// `send`).
    #[wasm_bindgen(js_name = sendLocalInvitation)]
    pub fn send_local_invitation(
        &self,
        invitation: f64,
        content: &str,
        channel_id: &str,
    ) -> Result<(), JsValue> {
        let inv = InvitationId(invitation as u64);
        self.run(|c, now| {
            c.set_local_invitation_content(inv, content)?;
            c.set_local_invitation_channel_id(inv, channel_id)?;
            c.send_local_invitation(now, inv)
        })
        .map_err(thrown)
    }

    #[wasm_bindgen(js_name = cancelLocalInvitation)]
    pub fn cancel_local_invitation(&self, invitation: f64) -> Result<(), JsValue> {
        let inv = InvitationId(invitation as u64);
        self.run(|c, now| c.cancel_local_invitation(now, inv))
            .map_err(thrown)
    }

    /// `{state, response}` of a local invitation, as JSON (`null` once forgotten).
    #[wasm_bindgen(js_name = localInvitation)]
    pub fn local_invitation(&self, invitation: f64) -> String {
        let d = self.shared.driver.borrow();
        match d.client.local_invitation(InvitationId(invitation as u64)) {
            Some(inv) => json!({ "state": inv.state, "response": inv.response }).to_string(),
            None => "null".to_string(),
        }
    }

    /// Sets the response, then accepts.
    #[wasm_bindgen(js_name = acceptRemoteInvitation)]
    pub fn accept_remote_invitation(&self, id: &str, response: &str) -> Result<(), JsValue> {
        let key = remote_key(id)?;
        self.run(|c, now| {
            c.set_remote_invitation_response(&key, response)?;
            c.accept_remote_invitation(now, &key)
        })
        .map_err(thrown)
    }

    /// Sets the response, then refuses.
    #[wasm_bindgen(js_name = refuseRemoteInvitation)]
    pub fn refuse_remote_invitation(&self, id: &str, response: &str) -> Result<(), JsValue> {
        let key = remote_key(id)?;
        self.run(|c, now| {
            c.set_remote_invitation_response(&key, response)?;
            c.refuse_remote_invitation(now, &key)
        })
        .map_err(thrown)
    }

    /// `{state}` of a remote invitation, as JSON (`null` once forgotten).
    #[wasm_bindgen(js_name = remoteInvitation)]
    pub fn remote_invitation(&self, id: &str) -> String {
        let d = self.shared.driver.borrow();
        let inv = parse_remote_id(id).and_then(|key| d.client.remote_invitation(&key).cloned());
        match inv {
            Some(inv) => json!({ "state": inv.state }).to_string(),
            None => "null".to_string(),
        }
    }
}

/// A byte count from JavaScript (always a whole number there; anything else counts 0).
fn count(n: f64) -> u64 {
    media::whole(n).unwrap_or(0)
}

fn remote_key(id: &str) -> Result<rtm_proto::InvitationKey, JsValue> {
    parse_remote_id(id).ok_or_else(|| thrown(InvitationApiCallError::InvalidArgument))
}

impl Drop for RtmCore {
    fn drop(&mut self) {
        self.shared.shut_down();
    }
}
