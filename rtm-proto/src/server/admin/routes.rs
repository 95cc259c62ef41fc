//! Which call a request is: its path (percent-decoded segment by segment) and method as one
//! [`Call`], and its query string as a [`Query`]. Ids stay strings here; the handlers
//! validate them, so that each bad one gets its own documented `code`.

use super::answer::ApiError;
use super::rates::RateKind;
use super::Method;

/// One REST call, by path and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    SendPeerMessage { user: String },
    SendChannelMessage { user: String },
    OnlineStatus,
    UserAttributes { user: String },
    UserLogs { user: String },
    MemberCount { channel: String },
    Members { channel: String },
    ChannelAttributes { channel: String },
    WriteChannelAttributes { channel: String, write: AttrWrite },
    UserEvents,
    ChannelEvents,
    ListBans,
    CreateBan,
    DeleteBan { id: String },
}

/// A write to a channel's attributes, by method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrWrite {
    /// `PUT`: replace the set.
    Replace,
    /// `PATCH`: add or update keys.
    Update,
    /// `DELETE`: the `keys`, or all.
    Delete,
}

impl Call {
    /// The rate this call counts against.
    pub fn rate_kind(&self) -> RateKind {
        match self {
            Call::SendPeerMessage { .. } => RateKind::PeerMessages,
            Call::SendChannelMessage { .. } => RateKind::ChannelMessages,
            Call::UserEvents | Call::ChannelEvents => RateKind::EventPulls,
            Call::OnlineStatus
            | Call::UserAttributes { .. }
            | Call::UserLogs { .. }
            | Call::MemberCount { .. }
            | Call::Members { .. }
            | Call::ChannelAttributes { .. }
            | Call::ListBans => RateKind::Reads,
            Call::WriteChannelAttributes { .. } | Call::CreateBan | Call::DeleteBan { .. } => {
                RateKind::Writes
            }
        }
    }
}

/// The path prefix of every call.
const PREFIX: &str = "/v1/project/";

/// The app id and call of `method` on `path`: `not_found` for a path the API does not
/// have, `method_not_allowed` for one it has with other methods.
pub(crate) fn route(method: Method, path: &str) -> Result<(String, Call), ApiError> {
    let not_found = || ApiError::NotFound(format!("no such path: {}", shorten(path)));
    let rest = path.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let segments: Vec<String> = rest
        .split('/')
        .map(percent_decode)
        .collect::<Option<_>>()
        .ok_or_else(not_found)?;
    let [app, rtm, rest @ ..] = segments.as_slice() else {
        return Err(not_found());
    };
    if rtm != "rtm" {
        return Err(not_found());
    }
    let parts: Vec<&str> = rest.iter().map(String::as_str).collect();
    use Method::*;
    let call = match (parts.as_slice(), method) {
        (["users", "online_status"], Post) => Call::OnlineStatus,
        (["users", "online_status"], _) => return Err(ApiError::MethodNotAllowed),
        (["users", user, "peer_messages"], Post) => Call::SendPeerMessage {
            user: user.to_string(),
        },
        (["users", user, "channel_messages"], Post) => Call::SendChannelMessage {
            user: user.to_string(),
        },
        (["users", user, "attributes"], Get) => Call::UserAttributes {
            user: user.to_string(),
        },
        (["users", user, "logs"], Get) => Call::UserLogs {
            user: user.to_string(),
        },
        (["users", _, "peer_messages" | "channel_messages" | "attributes" | "logs"], _) => {
            return Err(ApiError::MethodNotAllowed)
        }
        (["channels", channel, "member_count"], Get) => Call::MemberCount {
            channel: channel.to_string(),
        },
        (["channels", channel, "members"], Get) => Call::Members {
            channel: channel.to_string(),
        },
        (["channels", channel, "attributes"], m) => {
            let channel = channel.to_string();
            match m {
                Get => Call::ChannelAttributes { channel },
                Put => Call::WriteChannelAttributes {
                    channel,
                    write: AttrWrite::Replace,
                },
                Patch => Call::WriteChannelAttributes {
                    channel,
                    write: AttrWrite::Update,
                },
                Delete => Call::WriteChannelAttributes {
                    channel,
                    write: AttrWrite::Delete,
                },
                _ => return Err(ApiError::MethodNotAllowed),
            }
        }
        (["channels", _, "member_count" | "members"], _) => return Err(ApiError::MethodNotAllowed),
        (["vendor", "user_events"], Get) => Call::UserEvents,
        (["vendor", "channel_events"], Get) => Call::ChannelEvents,
        (["vendor", "user_events" | "channel_events"], _) => {
            return Err(ApiError::MethodNotAllowed)
        }
        (["bans"], Get) => Call::ListBans,
        (["bans"], Post) => Call::CreateBan,
        (["bans"], _) => return Err(ApiError::MethodNotAllowed),
        (["bans", id], Delete) => Call::DeleteBan { id: id.to_string() },
        (["bans", _], _) => return Err(ApiError::MethodNotAllowed),
        _ => return Err(not_found()),
    };
    Ok((app.clone(), call))
}

/// `s` percent-decoded; `None` for a bad escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = core::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `s` cut to 100 bytes at a character boundary, for messages.
pub(crate) fn shorten(s: &str) -> &str {
    let mut end = s.len().min(100);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A query string's parameters, decoded (`+` is a space, as in a form).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

/// Most attribute keys a `keys` parameter may name.
pub(crate) const MAX_QUERY_KEYS: usize = 100;

impl Query {
    pub fn parse(query: &str) -> Result<Query, ApiError> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                percent_decode(&s.replace('+', " ")).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "bad percent-encoding in the query: {}",
                        shorten(s)
                    ))
                })
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Query { pairs })
    }

    /// The first value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`, `1`/`0`), `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ApiError::BadRequest(format!(
                "{name} must be true or false, not {:?}",
                shorten(other)
            ))),
        }
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn number(&self, name: &str, min: u64, max: u64, default: u64) -> Result<u64, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "{name} must be an integer from {min} to {max}, not {:?}",
                shorten(text)
            ))),
        }
    }

    /// The `keys` parameter: comma-separated attribute keys (at most
    /// [`MAX_QUERY_KEYS`]); `None` when absent.
    pub fn keys(&self) -> Result<Option<Vec<String>>, ApiError> {
        let Some(text) = self.get("keys") else {
            return Ok(None);
        };
        let keys: Vec<String> = text
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        if keys.len() > MAX_QUERY_KEYS {
            return Err(ApiError::BadRequest(format!(
                "{} keys asked for; at most {MAX_QUERY_KEYS}",
                keys.len()
            )));
        }
        Ok(Some(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_calls_with_decoded_ids() {
        let (app, call) = route(
            Method::Post,
            "/v1/project/APP/rtm/users/u%201/peer_messages",
        )
        .expect("a call");
        assert_eq!(app, "APP");
        assert_eq!(call, Call::SendPeerMessage { user: "u 1".into() });
        assert_eq!(
            route(Method::Get, "/v1/project/A/rtm/users/u/peer_messages"),
            Err(ApiError::MethodNotAllowed)
        );
        assert!(matches!(
            route(Method::Get, "/v1/project/A/rtm/nothing"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            route(Method::Get, "/v1/project/A/rtm/users/%zz/logs"),
            Err(ApiError::NotFound(_))
        ));
        assert_eq!(
            route(Method::Delete, "/v1/project/A/rtm/bans/12").map(|r| r.1),
            Ok(Call::DeleteBan { id: "12".into() })
        );
    }

    #[test]
    fn queries_decode_and_check_their_values() {
        let q = Query::parse("keys=a,b%2Cc&wait_for_ack=true&limit=5&x=a+b").expect("parses");
        assert_eq!(
            q.keys().expect("ok"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(q.flag("wait_for_ack", false), Ok(true));
        assert_eq!(q.number("limit", 1, 10, 3), Ok(5));
        assert_eq!(q.get("x"), Some("a b"));
        assert!(q.number("limit", 6, 10, 7).is_err());
        assert!(Query::parse("a=%").is_err());
    }
}
