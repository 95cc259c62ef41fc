//! Sending as a user through the REST API: a peer message (§13's `peer_messages`) and a
//! channel message, from a user who need not be logged in or a member.
//!
//! A peer message takes the path a client's does (`peers.rs`): the receiver's stream, the
//! offline store with its durability, the resends table, whose waiter is the REST call
//! ([`crate::server::resends::Waiter::Admin`]). Each call is a new send under a fresh
//! random `msg_id` (a REST call has no resend identity; a caller that retries sends again).
//!
//! When the answer comes:
//!
//! * without `wait_for_ack`: `message_sent` as soon as the message is pushed to an attached
//!   session; a message only the server then holds (kept offline, or for a session that is
//!   reconnecting) is answered once it is durable — `message_sent`, or 503 `not_stored` if
//!   the store failed (saying "sent" for a message that is kept nowhere would be a lie);
//!   `peer_offline` (`cached: false`) when there is nobody to give it to;
//! * with `wait_for_ack=true`: once the outcome is known — `message_delivered` (the
//!   receiver's client acknowledged it), `peer_offline` with `cached: true` (durable for a
//!   later delivery) or `cached: false` (unreachable), 503 `not_stored`;
//! * 408 `timeout` if nothing of that came within the wait timeout (10 s by default).
//!
//! A channel message is fanned out as a member's is (`channels.rs`): every member but the
//! sender (who is normally not one) gets it in order, and it joins the channel's recent
//! history; a channel nobody is in takes it and delivers it to nobody.

use serde::Deserialize;
use serde_json::json;

use crate::ids::{ChannelId, UserId};
use crate::message::{Message, MAX_MESSAGE_BYTES};
use crate::wire::PeerMessageOutcome;

use super::answer::{Answer, ApiError};
use super::pending::{PendingCall, Waiting};
use super::routes::Query;
use super::{AdminCallId, Server};
use crate::server::peers::SendAnswer;
use crate::server::resends::{Lookup, SendKey, Target, Waiter};

/// A `peer_messages` body.
#[derive(Debug, Deserialize)]
struct PeerMessageRequest {
    destination: String,
    payload: String,
    #[serde(default)]
    enable_offline_messaging: bool,
    /// Accepted for compatibility with Agora's API; ignored.
    #[serde(default)]
    #[allow(dead_code)]
    enable_historical_messaging: bool,
}

/// A `channel_messages` body.
#[derive(Debug, Deserialize)]
struct ChannelMessageRequest {
    channel_name: String,
    payload: String,
    #[serde(default)]
    #[allow(dead_code)]
    enable_historical_messaging: bool,
}

/// `user` as a user id, or `invalid_user_id`.
pub(super) fn user_id(user: &str) -> Result<UserId, ApiError> {
    UserId::new(user).map_err(|_| ApiError::InvalidUserId(super::routes::shorten(user).into()))
}

/// `channel` as a channel id, or `invalid_channel_name`.
pub(super) fn channel_id(channel: &str) -> Result<ChannelId, ApiError> {
    ChannelId::new(channel)
        .map_err(|_| ApiError::InvalidChannelName(super::routes::shorten(channel).into()))
}

/// `payload` as a text message, or `invalid_payload`.
fn text_message(payload: String) -> Result<Message, ApiError> {
    let message = Message::text(payload);
    if message.is_valid() {
        Ok(message)
    } else {
        Err(ApiError::InvalidPayload(format!(
            "payload must be 1 to {MAX_MESSAGE_BYTES} bytes of UTF-8 text"
        )))
    }
}

impl Server {
    /// `POST users/{user}/peer_messages`.
    pub(super) fn admin_send_peer_message(
        &mut self,
        call: AdminCallId,
        request: u64,
        user: &str,
        query: &Query,
        body: &[u8],
    ) -> Result<Option<Answer>, ApiError> {
        let from = user_id(user)?;
        let wait_for_ack = query.flag("wait_for_ack", false)?;
        let req: PeerMessageRequest = super::parse_body(body)?;
        let to = user_id(&req.destination)?;
        if to == from {
            return Err(ApiError::SendToSelf(to.as_str().to_string()));
        }
        let message = text_message(req.payload)?;
        if !self.admin.pending.has_room(self.config.admin.pending_calls) {
            return Err(ApiError::Busy(super::TOO_MANY_WAITING));
        }
        // A fresh name; a collision with a remembered send (2^-64) draws again.
        let key = loop {
            let key = SendKey {
                from: from.clone(),
                to: Target::Peer(to.clone()),
                msg_id: self.rng.next_u64(),
            };
            if self.resends.lookup(&key, 0) == Lookup::New {
                break key;
            }
        };
        let msg_id = key.msg_id;
        let waiter = Some(Waiter::Admin { call, msg_id });
        if !self
            .resends
            .insert(self.now, key.clone(), message.digest(), None, waiter)
        {
            return Err(ApiError::Busy(
                "too many sends are waiting for their outcome; try later",
            ));
        }
        self.admin_wait(
            call,
            PendingCall {
                request,
                waiting: Waiting::PeerMessage {
                    wait_for_ack,
                    msg_id,
                },
            },
        );
        let attached = self.sessions.get(&to).is_some_and(|s| s.conn.is_some());
        self.route_peer_message(&to, key, message, req.enable_offline_messaging);
        // Pushed to an attached session and not refused on the way: taken.
        if !wait_for_ack && attached {
            if let Some(pending) = self.admin.pending.take(call) {
                let answer = Answer::ok(json!({"code": "message_sent"}));
                self.admin_answer(call, pending.request, Ok(answer));
            }
        }
        Ok(None)
    }

    /// The peer message `msg_id` sent by call `call` has an outcome (see the module
    /// documentation); a call answered already (taken, or timed out) hears nothing more,
    /// nor does a later call the driver gave the same id.
    pub(in crate::server) fn admin_send_settled(
        &mut self,
        call: AdminCallId,
        msg_id: u64,
        answer: SendAnswer,
    ) {
        let wait_for_ack = match self.admin.pending.get(call) {
            Some(PendingCall {
                waiting:
                    Waiting::PeerMessage {
                        wait_for_ack,
                        msg_id: m,
                    },
                ..
            }) if *m == msg_id => *wait_for_ack,
            _ => return,
        };
        let Some(pending) = self.admin.pending.take(call) else {
            return;
        };
        use PeerMessageOutcome as O;
        let result = match answer {
            SendAnswer::NotStored => Err(ApiError::NotStored),
            SendAnswer::Outcome(O::Unreachable) => {
                Ok(json!({"code": "peer_offline", "cached": false}))
            }
            SendAnswer::Outcome(O::Received) if wait_for_ack => {
                Ok(json!({"code": "message_delivered"}))
            }
            SendAnswer::Outcome(O::Cached) if wait_for_ack => {
                Ok(json!({"code": "peer_offline", "cached": true}))
            }
            SendAnswer::Outcome(O::Received | O::Cached) => Ok(json!({"code": "message_sent"})),
        };
        self.admin_answer(call, pending.request, result.map(Answer::ok));
    }

    /// `POST users/{user}/channel_messages`.
    pub(super) fn admin_send_channel_message(
        &mut self,
        user: &str,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        let from = user_id(user)?;
        let req: ChannelMessageRequest = super::parse_body(body)?;
        let channel = channel_id(&req.channel_name)?;
        let message = text_message(req.payload)?;
        if self.channels.contains_key(&channel) {
            self.publish_channel_message(&channel, &from, message);
        }
        Ok(Answer::ok(json!({})))
    }
}
