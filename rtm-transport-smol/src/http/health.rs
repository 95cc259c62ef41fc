//! Probes for load balancers and orchestrators, in plain text and never cached:
//!
//! * `GET /healthz`: `200 ok` while the process answers at all (liveness).
//! * `GET /readyz`: `200 ready` while the server is serving, `503 stopping` once its shutdown
//!   has begun (readiness), so a balancer stops sending new clients to a server that is
//!   closing its connections. The store is always open by then: the server does not start
//!   serving until it is ([`crate::storage::open`]).
//!
//! Neither reaches the core: they are answered on the connection's own task.

use std::sync::atomic::{AtomicBool, Ordering};

use hyper::header::{HeaderValue, ALLOW, CONNECTION};
use hyper::{Method, StatusCode};

use super::{text, Answer};

/// The liveness probe's path.
pub(super) const HEALTHZ: &str = "/healthz";
/// The readiness probe's path.
pub(super) const READYZ: &str = "/readyz";

/// Whether the server still takes new clients: shared by the server driver, which marks the
/// start of its shutdown, and the probes.
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    stopping: AtomicBool,
}

impl Readiness {
    /// The shutdown has begun: `/readyz` answers 503 from now on.
    pub(crate) fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// The answer to a request for [`HEALTHZ`] or [`READYZ`] (`path`).
pub(super) fn respond(
    readiness: &Readiness,
    method: &Method,
    path: &str,
    has_body: bool,
) -> Answer {
    if method != Method::GET && method != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if has_body {
        // The body is never read: the connection cannot carry another request.
        let mut response = text(StatusCode::PAYLOAD_TOO_LARGE, "a probe has no body");
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    match path {
        READYZ if readiness.is_stopping() => text(StatusCode::SERVICE_UNAVAILABLE, "stopping"),
        READYZ => text(StatusCode::OK, "ready"),
        _ => text(StatusCode::OK, "ok"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::header::CACHE_CONTROL;

    fn body(answer: Answer) -> String {
        let bytes = smol::block_on(answer.into_body().collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn ready_until_stopping_and_alive_throughout() {
        let readiness = Readiness::default();
        let get = |path| respond(&readiness, &Method::GET, path, false);
        let ready = get(READYZ);
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(body(ready), "ready");
        assert_eq!(body(get(HEALTHZ)), "ok");
        readiness.stopping();
        let stopping = get(READYZ);
        assert_eq!(stopping.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(stopping), "stopping");
        assert_eq!(get(HEALTHZ).status(), StatusCode::OK);
    }

    #[test]
    fn probes_are_get_or_head_without_a_body() {
        let readiness = Readiness::default();
        let post = respond(&readiness, &Method::POST, HEALTHZ, false);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
        let head = respond(&readiness, &Method::HEAD, READYZ, false);
        assert_eq!(head.status(), StatusCode::OK);
        let with_body = respond(&readiness, &Method::GET, HEALTHZ, true);
        assert_eq!(with_body.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(with_body.headers()[CONNECTION], "close");
    }
}
