//! `rtm admin`: the REST API (`openapi.yaml`) from the command line, so an operator needs no
//! curl: send as a user, read presence, members, attributes and events, ban and unban.
//!
//! ```text
//! rtm [--ca-file CA.pem] admin [--url http://127.0.0.1:9300] [--key ID:SECRET] [--app-id ID]
//!     [--pretty] COMMAND
//!   send-peer --from U --to V [--offline] [--wait] TEXT
//!   send-channel --from U --channel C TEXT
//!   online U...
//!   members C [--limit N]
//!   count C
//!   user-attrs U [KEY...]
//!   channel-attrs C [KEY...]
//!   set-channel-attrs C KEY=VALUE... [--notify]
//!   events users|channels [--cursor N] [--limit N] [--follow]
//!   ban (--user U [--channel C] | --ip IP) --minutes N [--reason TEXT]
//!   unban ID
//!   bans
//!   logs U
//! ```
//!
//! Prints the server's JSON answer on stdout (one line, or indented with `--pretty`); with
//! `events --follow`, one line per event as they come. A failure exits 1 with the server's
//! `code` and `message` on stderr (2 for bad usage, as every `rtm` command).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use hyper::Method;
use serde_json::{json, Value};

use crate::http::{Endpoint, HttpClient, HttpError, Reply};

/// `rtm admin`'s own options and its command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's HTTP URL (the port of its WebSocket; https:// when it has --tls-cert,
    /// trusting `rtm --ca-file` or the system's roots).
    #[arg(long, env = "RTM_ADMIN_URL", default_value = "http://127.0.0.1:9300")]
    url: String,
    /// The admin key, ID:SECRET (one of the server's --admin-key).
    #[arg(
        long,
        env = "RTM_ADMIN_KEY",
        value_name = "ID:SECRET",
        hide_env_values = true
    )]
    key: Option<String>,
    /// The app id (the server's); `rtm --app-id` when not given.
    #[arg(long = "app-id", value_name = "ID")]
    app_id: Option<String>,
    /// Indent the JSON printed.
    #[arg(long)]
    pretty: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Send a peer message as a user (who need not be logged in).
    SendPeer {
        /// The sender.
        #[arg(long)]
        from: String,
        /// The receiver.
        #[arg(long)]
        to: String,
        /// Keep the message for the receiver's next login if it is offline.
        #[arg(long)]
        offline: bool,
        /// Answer once the receiver's client acknowledged the message (or it is known
        /// offline), not once the server took it.
        #[arg(long)]
        wait: bool,
        /// The text.
        text: String,
    },
    /// Send a channel message as a user (who need not have joined).
    SendChannel {
        /// The sender.
        #[arg(long)]
        from: String,
        /// The channel.
        #[arg(long)]
        channel: String,
        /// The text.
        text: String,
    },
    /// Which of these users are online.
    Online {
        /// User ids (at most 256).
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// A channel's members (a sample of --limit when it has more).
    Members {
        channel: String,
        /// At most this many (1 to 512).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// How many members a channel has.
    Count { channel: String },
    /// A logged-in user's attributes (all, or these keys).
    UserAttrs { user: String, keys: Vec<String> },
    /// A channel's attributes (all, or these keys).
    ChannelAttrs { channel: String, keys: Vec<String> },
    /// Replace a channel's attributes with these.
    SetChannelAttrs {
        channel: String,
        /// KEY=VALUE pairs.
        #[arg(value_parser = crate::channels::key_value, required = true)]
        attributes: Vec<(String, String)>,
        /// Tell the channel's members.
        #[arg(long)]
        notify: bool,
    },
    /// Login/Logout (users) or Join/Leave (channels) events after a cursor.
    Events {
        #[arg(value_enum)]
        kind: EventKind,
        /// The `next_cursor` of the previous pull (from the oldest kept event without it).
        #[arg(long)]
        cursor: Option<u64>,
        /// At most this many events per pull (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Keep pulling and print each event as a JSON line until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Ban a user, a user in one channel, or a source IP address, for some minutes.
    Ban {
        /// The user to ban (everywhere, or in --channel only).
        #[arg(long, required_unless_present = "ip", conflicts_with = "ip")]
        user: Option<String>,
        /// Ban the user from this channel only.
        #[arg(long, requires = "user")]
        channel: Option<String>,
        /// The source address to ban.
        #[arg(long)]
        ip: Option<String>,
        /// How long (1 to 43200).
        #[arg(long)]
        minutes: u32,
        /// Why (kept with the rule, at most 256 bytes).
        #[arg(long)]
        reason: Option<String>,
    },
    /// End a ban rule now.
    Unban {
        /// The rule's id (`rtm admin bans`).
        id: String,
    },
    /// The ban rules in force.
    Bans,
    /// The log lines a user's SDK uploaded.
    Logs { user: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EventKind {
    Users,
    Channels,
}

/// How long `--follow` waits between pulls that found nothing (the server allows 10 pulls a
/// second per key; one a second leaves room for others).
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

/// Runs `rtm admin`; `default_app_id` is `rtm --app-id`'s, `ca_file` `rtm --ca-file`'s.
pub async fn run(args: &AdminArgs, default_app_id: &str, ca_file: Option<PathBuf>) -> ExitCode {
    let endpoint = match Endpoint::parse(&args.url) {
        Ok(endpoint) => endpoint,
        Err(e) => return crate::usage(&e.to_string()),
    };
    let mut client = HttpClient::new(endpoint, args.key.as_deref(), ca_file);
    let app = args.app_id.as_deref().unwrap_or(default_app_id);
    let base = format!("/v1/project/{}/rtm", segment(app));
    let print = |v: &Value| {
        if args.pretty {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            println!("{v}");
        }
    };
    if let AdminCommand::Events {
        kind,
        cursor,
        limit,
        follow: true,
    } = &args.command
    {
        return follow(&mut client, &base, *kind, *cursor, *limit).await;
    }
    let (method, path, body) = request(&args.command, &base);
    match client.request(method, &path, body.as_ref()).await {
        Ok(reply) => answer(reply, print),
        Err(e) => failed(&e),
    }
}

/// The request a command makes: method, path and query, JSON body.
fn request(command: &AdminCommand, base: &str) -> (Method, String, Option<Value>) {
    match command {
        AdminCommand::SendPeer {
            from,
            to,
            offline,
            wait,
            text,
        } => {
            let query = if *wait { "?wait_for_ack=true" } else { "" };
            (
                Method::POST,
                format!("{base}/users/{}/peer_messages{query}", segment(from)),
                Some(json!({
                    "destination": to,
                    "payload": text,
                    "enable_offline_messaging": offline,
                })),
            )
        }
        AdminCommand::SendChannel {
            from,
            channel,
            text,
        } => (
            Method::POST,
            format!("{base}/users/{}/channel_messages", segment(from)),
            Some(json!({ "channel_name": channel, "payload": text })),
        ),
        AdminCommand::Online { users } => (
            Method::POST,
            format!("{base}/users/online_status"),
            Some(json!({ "user_ids": users })),
        ),
        AdminCommand::Members { channel, limit } => (
            Method::GET,
            format!(
                "{base}/channels/{}/members{}",
                segment(channel),
                query(&[("limit", limit.map(|n| n.to_string()))])
            ),
            None,
        ),
        AdminCommand::Count { channel } => (
            Method::GET,
            format!("{base}/channels/{}/member_count", segment(channel)),
            None,
        ),
        AdminCommand::UserAttrs { user, keys } => (
            Method::GET,
            format!(
                "{base}/users/{}/attributes{}",
                segment(user),
                query(&[("keys", joined(keys))])
            ),
            None,
        ),
        AdminCommand::ChannelAttrs { channel, keys } => (
            Method::GET,
            format!(
                "{base}/channels/{}/attributes{}",
                segment(channel),
                query(&[("keys", joined(keys))])
            ),
            None,
        ),
        AdminCommand::SetChannelAttrs {
            channel,
            attributes,
            notify,
        } => {
            let attributes: serde_json::Map<String, Value> = attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            (
                Method::PUT,
                format!("{base}/channels/{}/attributes", segment(channel)),
                Some(json!({
                    "attributes": attributes,
                    "enable_notification_to_channel_members": notify,
                })),
            )
        }
        AdminCommand::Events {
            kind,
            cursor,
            limit,
            follow: _,
        } => (Method::GET, events_path(base, *kind, *cursor, *limit), None),
        AdminCommand::Ban {
            user,
            channel,
            ip,
            minutes,
            reason,
        } => {
            let mut rule = json!({ "minutes": minutes });
            for (name, value) in [
                ("user_id", user),
                ("channel_name", channel),
                ("ip", ip),
                ("reason", reason),
            ] {
                if let Some(value) = value {
                    rule[name] = Value::from(value.as_str());
                }
            }
            (Method::POST, format!("{base}/bans"), Some(rule))
        }
        AdminCommand::Unban { id } => {
            (Method::DELETE, format!("{base}/bans/{}", segment(id)), None)
        }
        AdminCommand::Bans => (Method::GET, format!("{base}/bans"), None),
        AdminCommand::Logs { user } => (
            Method::GET,
            format!("{base}/users/{}/logs", segment(user)),
            None,
        ),
    }
}

fn events_path(base: &str, kind: EventKind, cursor: Option<u64>, limit: Option<u32>) -> String {
    let which = match kind {
        EventKind::Users => "user_events",
        EventKind::Channels => "channel_events",
    };
    format!(
        "{base}/vendor/{which}{}",
        query(&[
            ("cursor", cursor.map(|c| c.to_string())),
            ("limit", limit.map(|n| n.to_string())),
        ])
    )
}

/// Prints a success, or reports a failure; the exit status.
fn answer(reply: Reply, print: impl Fn(&Value)) -> ExitCode {
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(v) if (200..300).contains(&reply.status) => {
            print(&v);
            ExitCode::SUCCESS
        }
        Ok(v) => {
            eprintln!(
                "rtm admin: {} {}: {}",
                reply.status,
                v["code"].as_str().unwrap_or("failed"),
                v["message"].as_str().unwrap_or("(no message)")
            );
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "rtm admin: {} (not JSON): {}",
                reply.status,
                String::from_utf8_lossy(&reply.body).trim()
            );
            ExitCode::FAILURE
        }
    }
}

fn failed(e: &HttpError) -> ExitCode {
    eprintln!("rtm admin: {e}");
    ExitCode::FAILURE
}

/// `events --follow`: pulls from `cursor` on, printing each event as a line, waiting between
/// empty pulls and as long as a 429 says; until interrupted or a failure.
async fn follow(
    client: &mut HttpClient,
    base: &str,
    kind: EventKind,
    mut cursor: Option<u64>,
    limit: Option<u32>,
) -> ExitCode {
    loop {
        let path = events_path(base, kind, cursor, limit);
        let reply = match client.request(Method::GET, &path, None).await {
            Ok(reply) => reply,
            Err(e) => return failed(&e),
        };
        if reply.status == 429 {
            let wait = Duration::from_secs(reply.retry_after.unwrap_or(1).clamp(1, 60));
            smol::Timer::after(wait).await;
            continue;
        }
        let page: Value = match serde_json::from_slice(&reply.body) {
            Ok(page) if reply.status == 200 => page,
            _ => return answer(reply, |_| {}),
        };
        if page["lost"].as_u64().unwrap_or(0) > 0 {
            println!("{}", json!({ "lost": page["lost"] }));
        }
        let events = page["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for event in events {
            println!("{event}");
        }
        if let Some(next) = page["next_cursor"].as_u64() {
            cursor = Some(next);
        }
        if events.is_empty() {
            smol::Timer::after(FOLLOW_INTERVAL).await;
        }
    }
}

/// `?name=value&…` of the parameters that have a value ("" when none has).
fn query(params: &[(&str, Option<String>)]) -> String {
    let mut q = String::new();
    for (name, value) in params {
        if let Some(value) = value {
            q.push(if q.is_empty() { '?' } else { '&' });
            q.push_str(name);
            q.push('=');
            q.push_str(&segment(value));
        }
    }
    q
}

fn joined(keys: &[String]) -> Option<String> {
    (!keys.is_empty()).then(|| keys.join(","))
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and `,`, which the
/// `keys` parameter separates with): safe as a path segment and as a query value.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_encoded() {
        assert_eq!(segment("a b/ü"), "a%20b%2F%C3%BC");
        assert_eq!(query(&[("limit", None)]), "");
        assert_eq!(
            query(&[("cursor", Some("3".into())), ("keys", Some("a,b c".into()))]),
            "?cursor=3&keys=a,b%20c"
        );
        let (method, path, body) = request(
            &AdminCommand::SendPeer {
                from: "a b".into(),
                to: "c".into(),
                offline: true,
                wait: true,
                text: "hi".into(),
            },
            "/v1/project/x/rtm",
        );
        assert_eq!(method, Method::POST);
        assert_eq!(
            path,
            "/v1/project/x/rtm/users/a%20b/peer_messages?wait_for_ack=true"
        );
        assert_eq!(
            body.unwrap(),
            json!({"destination": "c", "payload": "hi", "enable_offline_messaging": true})
        );
        let (_, _, body) = request(
            &AdminCommand::Ban {
                user: Some("u".into()),
                channel: Some("c".into()),
                ip: None,
                minutes: 5,
                reason: None,
            },
            "",
        );
        assert_eq!(
            body.unwrap(),
            json!({"user_id": "u", "channel_name": "c", "minutes": 5})
        );
    }
}
