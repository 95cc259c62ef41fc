//! What the REST API answers: the JSON envelope every answer shares (`result`,
//! `request_id`; a failure's `code` and `message`) and the documented failures, one variant
//! each, with their status and `code` (see `rtm-transport-smol/openapi.yaml`).

use bytes::Bytes;
use serde_json::{Map, Value};

use super::{AdminCallId, AdminReply};

/// The fields of a successful answer besides `result` and `request_id`, with its status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub status: u16,
    pub fields: Map<String, Value>,
}

impl Answer {
    /// A 200 with `fields`.
    pub fn ok(fields: Value) -> Answer {
        Answer::with_status(200, fields)
    }

    /// An answer with `status` and `fields` (an object; anything else adds nothing).
    pub fn with_status(status: u16, fields: Value) -> Answer {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Answer { status, fields }
    }
}

/// A documented failure of a REST call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("the REST API is off: the server has no admin key")]
    ApiDisabled,
    #[error("missing or wrong admin key (HTTP Basic: key id and secret)")]
    Unauthorized,
    #[error("this server serves another app id")]
    UnknownApp,
    #[error("{0}")]
    NotFound(String),
    #[error("this path does not take that method")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid user id {0:?}: 1 to 64 characters of the set in §1.3, not \"null\"")]
    InvalidUserId(String),
    #[error("the destination {0:?} is the sender itself")]
    SendToSelf(String),
    #[error("invalid channel name {0:?}: 1 to 64 characters of the set in §1.3, not \"null\"")]
    InvalidChannelName(String),
    #[error("{0}")]
    InvalidPayload(String),
    #[error("{0} users asked for; at most 256")]
    TooManyUsers(usize),
    #[error("{0}")]
    InvalidAttributes(String),
    #[error("the attributes would pass their size limit (32 keys, 32 KB per channel, or the server's budget)")]
    SizeOverflow,
    #[error("over this key's rate for this kind of call; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u32 },
    #[error("no outcome within the wait timeout")]
    Timeout,
    #[error("{0}")]
    Busy(&'static str),
    #[error("the store failed to keep it; nothing was done")]
    NotStored,
    #[error("{0}")]
    Full(&'static str),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_)
            | ApiError::InvalidUserId(_)
            | ApiError::SendToSelf(_)
            | ApiError::InvalidChannelName(_)
            | ApiError::InvalidPayload(_)
            | ApiError::TooManyUsers(_)
            | ApiError::InvalidAttributes(_)
            | ApiError::SizeOverflow => 400,
            ApiError::Unauthorized => 401,
            ApiError::ApiDisabled | ApiError::UnknownApp | ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Timeout => 408,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Busy(_) | ApiError::NotStored | ApiError::Full(_) => 503,
        }
    }

    /// The machine-readable `code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::ApiDisabled => "api_disabled",
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnknownApp => "unknown_app",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidUserId(_) | ApiError::SendToSelf(_) => "invalid_user_id",
            ApiError::InvalidChannelName(_) => "invalid_channel_name",
            ApiError::InvalidPayload(_) => "invalid_payload",
            ApiError::TooManyUsers(_) => "too_many_users",
            ApiError::InvalidAttributes(_) => "invalid_attributes",
            ApiError::SizeOverflow => "size_overflow",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Timeout => "timeout",
            ApiError::Busy(_) => "busy",
            ApiError::NotStored => "not_stored",
            ApiError::Full(_) => "full",
        }
    }
}

/// The reply to call `id` (the `request_id` its answer names is `request`).
pub(crate) fn reply(id: AdminCallId, request: u64, result: Result<Answer, ApiError>) -> AdminReply {
    let mut body = Map::new();
    let (status, retry_after_secs, challenge) = match result {
        Ok(answer) => {
            body.insert("result".into(), "success".into());
            body.insert("request_id".into(), request.to_string().into());
            body.extend(answer.fields);
            (answer.status, None, false)
        }
        Err(e) => {
            body.insert("result".into(), "failed".into());
            body.insert("request_id".into(), request.to_string().into());
            body.insert("code".into(), e.code().into());
            body.insert("message".into(), e.to_string().into());
            let retry = match e {
                ApiError::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
                _ => None,
            };
            (e.status(), retry, e == ApiError::Unauthorized)
        }
    };
    let body = serde_json::to_vec(&Value::Object(body)).expect("a JSON value always serializes");
    AdminReply {
        id,
        status,
        body: Bytes::from(body),
        retry_after_secs,
        challenge,
    }
}
