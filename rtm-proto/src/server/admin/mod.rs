//! The operator's plane: the REST API under `/v1` (see `rtm-transport-smol/openapi.yaml`),
//! answered by the core so that its rules (authentication, rate limits, bans, the event log,
//! sending as a user) are the same in every driver and in the simulator.
//!
//! A driver hands each HTTP request under `/v1` in whole as an [`AdminCall`]
//! ([`super::ServerInput::Admin`]) and writes out the [`AdminReply`] the core emits for it
//! ([`super::ServerOutput::AdminReply`]), possibly later (a `wait_for_ack` send waits for the
//! receiver's acknowledgement). It parses no JSON and decides nothing: status, headers and
//! body are the core's.
//!
//! # How a call is answered
//!
//! In this order: no key configured → 404 `api_disabled`; a missing or wrong key → 401
//! (`auth`); a path the API does not have → 404 `not_found`, one it has with another
//! method → 405 (`routes`); another app id → 404 `unknown_app`; past the key's rate for the
//! call's kind → 429 (`rates`); then the call itself (`send`, `reads`, `events`, `bans`),
//! whose bad input gets 400 with a `code` naming what is wrong (`answer`). Every call is
//! answered exactly once: at once, or — a send waiting for its outcome, a ban waiting for
//! its write — from the bounded table of waiting calls (`pending`), by the outcome or by
//! the call's deadline.
//!
//! Key ids need not be user ids; a channel attribute write made with a key whose id is not
//! one (and without a body `user_id`) is written by `admin`.

pub(crate) mod answer;
mod auth;
pub(crate) mod bans;
pub(crate) mod client_logs;
pub(crate) mod events;
mod pending;
mod rates;
mod reads;
mod routes;
mod send;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use self::answer::{Answer, ApiError};
use self::pending::{PendingCall, PendingCalls, Waiting};
use self::rates::KeyRates;
use self::routes::{Call, Query};
use super::timer::ServerTimer;
use super::Server;

/// Names one admin call, chosen by the driver; unique among the calls not yet answered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdminCallId(pub u64);

/// The HTTP method of an [`AdminCall`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    /// Any other method: answered 405.
    Other,
}

/// One HTTP request under `/v1`, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCall {
    pub id: AdminCallId,
    pub method: Method,
    /// The path, still percent-encoded (`/v1/project/APP/rtm/users/u%201/attributes`).
    pub path: String,
    /// The query string without its `?` (empty when there is none).
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The whole body (the driver refuses bodies over [`MAX_BODY_BYTES`] itself, with 413).
    pub body: Bytes,
}

/// Most bytes a request body under `/v1` may have; a driver answers a longer one 413
/// without reading it further.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The answer to one [`AdminCall`]: a JSON body with this status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminReply {
    pub id: AdminCallId,
    pub status: u16,
    /// JSON (`application/json`).
    pub body: Bytes,
    /// `Retry-After` in seconds (429).
    pub retry_after_secs: Option<u32>,
    /// Whether to send `WWW-Authenticate: Basic realm="rtm"` (401).
    pub challenge: bool,
}

/// One admin key: HTTP Basic user name `id`, password `secret` (Agora's customer id and
/// secret).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminKey {
    pub id: String,
    pub secret: String,
}

impl core::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AdminKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The answer when the table of waiting calls is full.
pub(crate) const TOO_MANY_WAITING: &str = "too many calls are waiting for an outcome; try later";

/// The REST API's own state: the request counter, the rates, the waiting calls.
#[derive(Debug, Default)]
pub(crate) struct AdminPlane {
    /// The `request_id` of the last call.
    last_request: u64,
    rates: KeyRates,
    pending: PendingCalls,
}

impl AdminPlane {
    /// Calls waiting for an outcome.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// A JSON body as `T`, or 400 `bad_request` saying what is wrong with it.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let mut text = e.to_string();
        text.truncate(200);
        ApiError::BadRequest(format!("bad JSON body: {text}"))
    })
}

impl Server {
    /// Answers one REST call, now or (for a call that waits for an outcome) later.
    pub(super) fn on_admin(&mut self, call: AdminCall) {
        self.admin.last_request += 1;
        let request = self.admin.last_request;
        if self.admin.pending.contains(call.id) {
            // The driver reused the id of a call still waiting: answered at once, so the
            // waiting one keeps its own single answer.
            let e = ApiError::BadRequest("this call id is taken by a call still waiting".into());
            return self.emit_admin_reply(answer::reply(call.id, request, Err(e)));
        }
        match self.admin_call(&call, request) {
            Ok(Some(answer)) => self.admin_answer(call.id, request, Ok(answer)),
            Ok(None) => debug_assert!(
                self.admin.pending.contains(call.id)
                    || self.out.iter().any(
                        |o| matches!(o, super::ServerOutput::AdminReply(r) if r.id == call.id)
                    ),
                "a call not answered now must wait in the table"
            ),
            Err(e) => self.admin_answer(call.id, request, Err(e)),
        }
    }

    /// Authenticates, routes, rates and runs one call; `Ok(None)` when it waits.
    fn admin_call(&mut self, call: &AdminCall, request: u64) -> Result<Option<Answer>, ApiError> {
        if self.config.admin_keys.is_empty() {
            return Err(ApiError::ApiDisabled);
        }
        let key = auth::authenticate(&self.config.admin_keys, call.authorization.as_deref())
            .ok_or(ApiError::Unauthorized)?;
        let (app, route) = routes::route(call.method, &call.path)?;
        if app != self.config.app_id {
            return Err(ApiError::UnknownApp);
        }
        let kind = route.rate_kind();
        if let Err(retry_after_secs) =
            self.admin
                .rates
                .take(key, kind, &self.config.admin, self.now)
        {
            self.counters.rate_limited(kind.label());
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
        let query = Query::parse(&call.query)?;
        let body = &call.body[..];
        let now = |r: Result<Answer, ApiError>| r.map(Some);
        match route {
            Call::SendPeerMessage { user } => {
                self.admin_send_peer_message(call.id, request, &user, &query, body)
            }
            Call::SendChannelMessage { user } => now(self.admin_send_channel_message(&user, body)),
            Call::OnlineStatus => now(self.admin_online_status(body)),
            Call::UserAttributes { user } => now(self.admin_user_attributes(&user, &query)),
            Call::UserLogs { user } => now(self.admin_user_logs(&user)),
            Call::MemberCount { channel } => now(self.admin_member_count(&channel)),
            Call::Members { channel } => now(self.admin_members(&channel, &query)),
            Call::ChannelAttributes { channel } => {
                now(self.admin_channel_attributes(&channel, &query))
            }
            Call::WriteChannelAttributes { channel, write } => {
                now(self.admin_write_channel_attributes(key, &channel, write, &query, body))
            }
            Call::UserEvents => now(self.admin_pull_events(&query, true)),
            Call::ChannelEvents => now(self.admin_pull_events(&query, false)),
            Call::ListBans => now(self.admin_list_bans()),
            Call::CreateBan => self.admin_create_ban(call.id, request, body),
            Call::DeleteBan { id } => now(self.admin_delete_ban(&id)),
        }
    }

    /// Makes call `id` wait (the caller checked there is room), with its deadline.
    fn admin_wait(&mut self, id: AdminCallId, call: PendingCall) {
        let request = call.request;
        self.admin.pending.insert(id, call);
        self.timers.schedule(
            self.now.saturating_add(self.config.admin.wait_timeout),
            ServerTimer::AdminDeadline { call: id, request },
        );
    }

    /// A waiting call's deadline: answered 408 unless its outcome came first.
    pub(super) fn on_admin_deadline(&mut self, id: AdminCallId, request: u64) {
        if self.admin.pending.get(id).map(|p| p.request) != Some(request) {
            return; // answered already; the id may name a later call
        }
        if let Some(pending) = self.admin.pending.take(id) {
            match pending.waiting {
                Waiting::PeerMessage { .. } | Waiting::BanWrite { .. } => {
                    self.admin_answer(id, pending.request, Err(ApiError::Timeout))
                }
            }
        }
    }

    /// Emits the answer to call `id`; it must no longer wait (exactly one answer each).
    fn admin_answer(&mut self, id: AdminCallId, request: u64, result: Result<Answer, ApiError>) {
        debug_assert!(
            !self.admin.pending.contains(id),
            "call {id:?} answered while it still waits"
        );
        self.emit_admin_reply(answer::reply(id, request, result));
    }

    fn emit_admin_reply(&mut self, reply: AdminReply) {
        self.counters.rest_call(reply.status);
        self.out.push_back(super::ServerOutput::AdminReply(reply));
    }
}
