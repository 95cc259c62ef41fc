//! The operator's plane: the REST API under `/v1` (see `rtm-transport-smol/openapi.yaml`),
//! answered by the core so that its rules (authentication, rate limits, bans, the event log,
//! sending as a user) are the same in every driver and in the simulator.
//!
//! A driver hands each HTTP request under `/v1` in whole as an [`AdminCall`]
//! ([`super::ServerInput::Admin`]) and writes out the [`AdminReply`] the core emits for it
//! ([`super::ServerOutput::AdminReply`]), possibly later (a `wait_for_ack` send waits for the
//! receiver's acknowledgement). It parses no JSON and decides nothing: status, headers and
//! body are the core's.

use bytes::Bytes;

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

impl super::Server {
    /// Answers one REST call (the routes are being built: every call is 501 for now).
    pub(super) fn on_admin(&mut self, call: AdminCall) {
        self.out
            .push_back(super::ServerOutput::AdminReply(AdminReply {
                id: call.id,
                status: 501,
                body: Bytes::from_static(
                    br#"{"result":"failed","request_id":"0","code":"not_implemented","message":"not implemented yet"}"#,
                ),
                retry_after_secs: None,
                challenge: false,
            }));
    }
}
