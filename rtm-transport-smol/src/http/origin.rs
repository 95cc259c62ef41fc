//! Which web pages may open a WebSocket to the server ([`AllowedOrigins`]).
//!
//! A browser lets any page open a WebSocket to any server and says which page it was in the
//! `Origin` header (RFC 6454); the server is the one to refuse. When a list is set, an
//! upgrade whose `Origin` is missing or not in it is answered 403 before it is upgraded, so
//! nothing of it reaches the core. A missing `Origin` is refused too: browsers always send
//! one, so only non-browser clients lack it, and they can send one
//! ([`crate::client::ConnectOptions::origin`], `rtm --origin`). With no list, every upgrade
//! is accepted, with or without `Origin`, as before.
//!
//! Origins match exactly on scheme, host and port (RFC 6454 §5), compared in the form a
//! browser serialises them: lower case, no path, and the scheme's default port left out
//! (`https://app.example.com:443` is `https://app.example.com`).

use std::collections::BTreeSet;

use hyper::header::{HeaderMap, ORIGIN};

/// The origins whose pages may open a WebSocket to the server
/// ([`crate::ServeOptions::allowed_origins`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigins {
    origins: BTreeSet<String>,
}

/// An allowed origin that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid allowed origin {origin:?}: {why} (expected scheme://host[:port], \
     e.g. https://app.example.com)"
)]
pub struct OriginError {
    pub origin: String,
    pub why: &'static str,
}

/// Why an upgrade was refused: the 403's body.
pub(super) const MISSING: &str =
    "missing Origin header: this server only accepts WebSocket connections from its allowed origins";
/// Why an upgrade was refused: the 403's body.
pub(super) const NOT_ALLOWED: &str =
    "this Origin may not open WebSocket connections to this server";

impl AllowedOrigins {
    /// The list, each entry `scheme://host[:port]` (a trailing `/` is ignored). Empty entries
    /// are skipped; `None` if none is left (every origin is then accepted).
    pub fn new<I, S>(origins: I) -> Result<Option<AllowedOrigins>, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for origin in origins {
            let origin = origin.as_ref().trim();
            if origin.is_empty() {
                continue;
            }
            let normal = normalize(origin).map_err(|why| OriginError {
                origin: origin.to_string(),
                why,
            })?;
            set.insert(normal);
        }
        Ok((!set.is_empty()).then_some(AllowedOrigins { origins: set }))
    }

    /// The origins, as they are compared.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.origins.iter().map(String::as_str)
    }

    /// Whether a request with these headers may upgrade; if not, why (the 403's body).
    pub(super) fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let mut values = headers.get_all(ORIGIN).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Err(MISSING),
            (Some(value), None) => value,
            (Some(_), Some(_)) => return Err(NOT_ALLOWED), // no single origin to check
        };
        let allowed = value
            .to_str()
            .ok()
            .and_then(|v| normalize(v).ok())
            .is_some_and(|origin| self.origins.contains(&origin));
        if allowed {
            Ok(())
        } else {
            Err(NOT_ALLOWED)
        }
    }
}

/// `scheme://host[:port]` as a browser serialises it: lower case, the default port left out.
fn normalize(origin: &str) -> Result<String, &'static str> {
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or("no scheme (such as https://)")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("bad scheme");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) || authority.chars().any(char::is_whitespace) {
        return Err("an origin has no path, query, user or spaces");
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed [ in the host")?;
        match after.strip_prefix(':') {
            Some(port) => (format!("[{host}]"), Some(port)),
            None if after.is_empty() => (format!("[{host}]"), None),
            None => return Err("unexpected text after the host"),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("no host");
    }
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let port = match port {
        None => None,
        Some(p) => {
            let p: u16 = p.parse().map_err(|_| "bad port")?;
            let default = match scheme.as_str() {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                _ => None,
            };
            (Some(p) != default).then_some(p)
        }
    };
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(origins: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for o in origins {
            h.append(ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn origins_are_compared_as_browsers_send_them() {
        assert_eq!(
            normalize("https://App.Example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            normalize("https://a.example:443/").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            normalize("http://a.example:80").unwrap(),
            "http://a.example"
        );
        assert_eq!(
            normalize("http://a.example:8080").unwrap(),
            "http://a.example:8080"
        );
        assert_eq!(normalize("http://[::1]:3000").unwrap(), "http://[::1]:3000");
        for bad in [
            "a.example",
            "https://",
            "https://a.example/app",
            "https://a.example?x",
            "https://u@a.example",
            "https://a.example:x",
            "https://a.example:99999",
            "https://[::1",
            "1http://a.example",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_list_allows_everything() {
        assert_eq!(AllowedOrigins::new(["", " "]).unwrap(), None);
        assert_eq!(AllowedOrigins::new(Vec::<String>::new()).unwrap(), None);
        let err = AllowedOrigins::new(["https://ok.example", "nope"]).unwrap_err();
        assert_eq!(err.origin, "nope");
    }

    #[test]
    fn only_listed_origins_pass_and_one_is_needed() {
        let list = AllowedOrigins::new(["https://app.example.com", "http://localhost:3000"])
            .unwrap()
            .unwrap();
        assert_eq!(list.check(&headers(&["https://app.example.com"])), Ok(()));
        assert_eq!(
            list.check(&headers(&["https://APP.example.com:443"])),
            Ok(())
        );
        assert_eq!(list.check(&headers(&["http://localhost:3000"])), Ok(()));
        assert_eq!(list.check(&headers(&[])), Err(MISSING));
        assert_eq!(
            list.check(&headers(&[
                "https://app.example.com",
                "https://app.example.com"
            ])),
            Err(NOT_ALLOWED)
        );
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.example",
            "http://localhost",
            "null",
        ] {
            assert_eq!(list.check(&headers(&[other])), Err(NOT_ALLOWED), "{other}");
        }
    }
}
