//! `GET /metrics`: the Prometheus text of the core's and the driver's series
//! (`metrics.rs`), read at the time of the scrape. No key needed: like every
//! Prometheus endpoint it is meant for a scraper on a trusted network, and it holds counts
//! only (no user ids, no addresses).

use hyper::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE};
use hyper::{Method, StatusCode};

use super::{text, Answer};
use crate::admin::AdminQueue;
use crate::metrics::{DriverMetrics, CONTENT_TYPE as METRICS_CONTENT_TYPE};

/// The path of the endpoint.
pub const METRICS_PATH: &str = "/metrics";

/// Answers a request for [`METRICS_PATH`]; `has_body`: it came with a body (never read).
pub(super) async fn respond(
    method: &Method,
    has_body: bool,
    core: &AdminQueue,
    metrics: &DriverMetrics,
) -> Answer {
    let mut response = if method != Method::GET && method != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        response
    } else if has_body {
        text(StatusCode::PAYLOAD_TOO_LARGE, "no body expected\n")
    } else {
        match core.snapshot().await {
            Ok(snapshot) => {
                let mut response = text(StatusCode::OK, metrics.encode(snapshot));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
                response
            }
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        }
    };
    if has_body {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
