//! The REST API under `/v1` (`openapi.yaml`): each request is read whole and handed to the
//! core, whose answer is written out as it is. Nothing here looks inside a body or a path:
//! authentication, routing, validation and rate limits are the core's
//! (`rtm_proto::server::admin`).
//!
//! What the driver decides is only about HTTP and its own resources:
//!
//! * A body may have [`MAX_BODY_BYTES`]: a longer one is answered 413 `too_large` as soon as
//!   that is known (from `Content-Length` before reading anything, else once the bound is
//!   passed), without buffering more, and the connection is closed after the answer (the
//!   rest of the body is never read).
//! * A body must arrive within the HTTP phase's timeout (408 `timeout` otherwise), so a slow
//!   sender cannot hold a connection busy for ever.
//! * The queue to the core task is bounded (`admin.rs`): past it, 503 `busy` (with
//!   `Retry-After: 1`); a core task that has stopped gives 503 `stopping`.
//!
//! Every answer is JSON with `Cache-Control: no-store` (answers carry user data and admin
//! state that must not be cached by a proxy).

use std::time::Duration;

use bytes::Bytes;
use futures_lite::future;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE,
    RETRY_AFTER, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Request, Response, StatusCode};
use rtm_proto::server::admin::{AdminCallId, AdminReply, Method, MAX_BODY_BYTES};
use smol::Timer;

use super::Answer;
use crate::admin::{self, AdminQueue, Call, Unanswered};

/// Whether `path` belongs to the REST API.
pub(super) fn is_rest(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Reads `req` whole, hands it to the core and answers what the core says; `timeout` bounds
/// the wait for the body.
pub(super) async fn respond(
    req: Request<Incoming>,
    core: &AdminQueue,
    timeout: Duration,
) -> Answer {
    let (parts, body) = req.into_parts();
    let announced = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return closing(too_large());
    }
    let body = match read_body(body, timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return closing(too_large()),
        Err(BodyError::TimedOut) => {
            return closing(failure(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the request body did not arrive in time",
            ))
        }
        Err(BodyError::Broken) => {
            return closing(failure(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
            ))
        }
    };
    let call = Call {
        method: method(&parts.method),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        authorization: authorization(&parts.headers),
        body,
    };
    match core.call(call).await {
        Ok(reply) => answer(reply),
        Err(Unanswered::Busy) => answer(admin::busy(AdminCallId(0))),
        Err(why @ Unanswered::Stopped) => failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            &why.to_string(),
        ),
    }
}

#[derive(Debug)]
enum BodyError {
    TooLarge,
    TimedOut,
    /// The client went away or broke the chunked framing.
    Broken,
}

/// The whole body, at most [`MAX_BODY_BYTES`] of it, within `timeout`.
async fn read_body(body: Incoming, timeout: Duration) -> Result<Bytes, BodyError> {
    let read = async {
        match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
            Err(_) => Err(BodyError::Broken),
        }
    };
    future::or(read, async {
        Timer::after(timeout).await;
        Err(BodyError::TimedOut)
    })
    .await
}

fn method(method: &hyper::Method) -> Method {
    match *method {
        hyper::Method::GET => Method::Get,
        hyper::Method::POST => Method::Post,
        hyper::Method::PUT => Method::Put,
        hyper::Method::PATCH => Method::Patch,
        hyper::Method::DELETE => Method::Delete,
        _ => Method::Other,
    }
}

/// The `Authorization` header as text (bytes that are not UTF-8 replaced: the core then
/// refuses it as it would any wrong key).
fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The core's answer as an HTTP response.
fn answer(reply: AdminReply) -> Answer {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, reply.body);
    let h = response.headers_mut();
    if let Some(secs) = reply.retry_after_secs {
        h.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if reply.challenge {
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rtm\""),
        );
    }
    response
}

fn json(status: StatusCode, body: Bytes) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A failure the driver answers itself, in the core's shape (`openapi.yaml`, `Failure`).
fn failure(status: StatusCode, code: &str, message: &str) -> Answer {
    let body = format!(
        r#"{{"result":"failed","request_id":"0","code":{},"message":{}}}"#,
        serde_json::Value::from(code),
        serde_json::Value::from(message),
    );
    json(status, Bytes::from(body))
}

fn too_large() -> Answer {
    failure(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("the request body is over {MAX_BODY_BYTES} bytes"),
    )
}

/// The body was not read to its end: the connection cannot carry another request.
fn closing(mut response: Answer) -> Answer {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_v1_is_rest() {
        assert!(is_rest("/v1/project/x/rtm/bans"));
        assert!(is_rest("/v1"));
        assert!(!is_rest("/v10/x"));
        assert!(!is_rest("/sdk/v1/x"));
        assert!(!is_rest("/"));
    }

    #[test]
    fn replies_carry_the_core_s_headers() {
        let reply = answer(AdminReply {
            id: rtm_proto::server::admin::AdminCallId(1),
            status: 429,
            body: Bytes::from_static(b"{}"),
            retry_after_secs: Some(2),
            challenge: true,
        });
        assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = reply.headers();
        assert_eq!(h[RETRY_AFTER], "2");
        assert_eq!(h[WWW_AUTHENTICATE], "Basic realm=\"rtm\"");
        assert_eq!(h[CONTENT_TYPE], "application/json");
        assert_eq!(h[CACHE_CONTROL], "no-store");
    }
}
