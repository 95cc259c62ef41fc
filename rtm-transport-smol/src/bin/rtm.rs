//! `rtm`: a command-line RTM client, enough for a smoke test by hand.
//!
//! ```text
//! rtm token --app-id ID --app-cert CERT --uid UID [--expire SECS]
//! rtm [--server ws://127.0.0.1:9300] --uid bob listen [--subscribe alice,carol]
//! rtm [--server ws://127.0.0.1:9300] --uid alice send-peer bob "hello" [--offline]
//! ```
//!
//! `listen` and `send-peer` print JSON lines on stdout; diagnostics go to stderr.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use async_signal::{Signal, Signals};
use base64::Engine;
use clap::{Parser, Subcommand};
use futures_lite::{future, StreamExt};
use rtm_proto::client::SendMessageOptions;
use rtm_proto::server::DEFAULT_APP_ID;
use rtm_proto::{
    ClientConfig, ConnectionChangeReason, ConnectionState, Event, Message, PeerOnlineState,
};
use rtm_transport_smol::RtmClient;
use serde_json::{json, Value};
use tracing_subscriber::EnvFilter;

/// A command-line RTM client.
#[derive(Debug, Parser)]
#[command(name = "rtm", version, about)]
struct Cli {
    /// Server URL.
    #[arg(long, env = "RTM_SERVER", default_value = "ws://127.0.0.1:9300")]
    server: String,
    /// User id to log in as.
    #[arg(long, env = "RTM_UID")]
    uid: Option<String>,
    /// App id to log in with.
    #[arg(long, env = "RTM_APP_ID", default_value = DEFAULT_APP_ID)]
    app_id: String,
    /// Login token (certificate mode).
    #[arg(long, env = "RTM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Log filter for diagnostics on stderr.
    #[arg(long, env = "RUST_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an AccessToken2 ("007") RTM login token and print it.
    Token {
        /// App id (32 hex characters).
        #[arg(long)]
        app_id: Option<String>,
        /// App certificate (32 hex characters).
        #[arg(long, env = "RTM_APP_CERT", hide_env_values = true)]
        app_cert: String,
        /// User id the token is for.
        #[arg(long)]
        uid: Option<String>,
        /// Validity in seconds from now (at most 86400).
        #[arg(long, default_value_t = 3600)]
        expire: u32,
    },
    /// Log in and print every event as a JSON line until Ctrl-C.
    Listen {
        /// Also subscribe to the online status of these peers (comma separated).
        #[arg(long, value_delimiter = ',')]
        subscribe: Vec<String>,
    },
    /// Log in, send one text message to a peer, print the outcome as a JSON line, log out.
    SendPeer {
        /// The receiver's user id.
        peer: String,
        /// The text to send.
        text: String,
        /// Keep the message on the server if the peer is offline (offline messaging).
        #[arg(long)]
        offline: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Token {
            ref app_id,
            ref app_cert,
            ref uid,
            expire,
        } => {
            let app_id = app_id.clone().unwrap_or_else(|| cli.app_id.clone());
            let Some(uid) = uid.clone().or_else(|| cli.uid.clone()) else {
                return usage("rtm token needs --uid");
            };
            token(&app_id, app_cert, &uid, expire)
        }
        Command::Listen { ref subscribe } => {
            let Some(uid) = cli.uid.clone() else {
                return usage("rtm listen needs --uid");
            };
            smol::block_on(listen(&cli, &uid, subscribe))
        }
        Command::SendPeer {
            ref peer,
            ref text,
            offline,
        } => {
            let Some(uid) = cli.uid.clone() else {
                return usage("rtm send-peer needs --uid");
            };
            smol::block_on(send_peer(&cli, &uid, peer, text, offline))
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("rtm: {msg} (see rtm --help)");
    ExitCode::from(2)
}

/// Prints one JSON line on stdout, flushed at once (stdout may be a pipe).
fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn token(app_id: &str, app_cert: &str, uid: &str, expire: u32) -> ExitCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let issue_ts = u32::try_from(now).unwrap_or(u32::MAX);
    // Agora's builders draw the salt from 1..=99999999.
    let salt = getrandom_salt();
    let token = rtm_proto::token::build_v007(app_id, app_cert, uid, issue_ts, expire, salt);
    if token.is_empty() {
        eprintln!(
            "rtm: could not build a token (app id and certificate must be 32 hex characters)"
        );
        return ExitCode::FAILURE;
    }
    println!("{token}");
    ExitCode::SUCCESS
}

fn getrandom_salt() -> u32 {
    let x = getrandom::u32().unwrap_or_else(|_| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1)
    });
    1 + x % 99_999_999
}

fn client(cli: &Cli) -> Result<RtmClient, ExitCode> {
    let config = ClientConfig {
        app_id: cli.app_id.clone(),
        ..ClientConfig::default()
    };
    RtmClient::new(&cli.server, config).map_err(|e| {
        print_json(&json!({ "error": e.to_string() }));
        ExitCode::from(2)
    })
}

async fn login(client: &RtmClient, cli: &Cli, uid: &str) -> Result<(), ExitCode> {
    client.login(uid, cli.token.as_deref()).await.map_err(|e| {
        print_json(&json!({
            "error": "login failed",
            "code": e.code(),
            "reason": e.to_string(),
        }));
        ExitCode::FAILURE
    })
}

async fn listen(cli: &Cli, uid: &str, subscribe: &[String]) -> ExitCode {
    let client = match client(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let events = client.events();
    let mut signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtm: cannot watch for Ctrl-C: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Events are printed as they come, also while logging in, so state changes show in order.
    let printer = async {
        while let Ok(event) = events.recv().await {
            print_json(&event_json(&event));
            if let Event::ConnectionStateChanged {
                state: ConnectionState::Aborted,
                ..
            } = event
            {
                return ExitCode::FAILURE; // kicked: nothing more will come
            }
        }
        ExitCode::FAILURE
    };
    let session = async {
        if let Err(code) = login(&client, cli, uid).await {
            return code;
        }
        if !subscribe.is_empty() {
            let peers: Vec<&str> = subscribe.iter().map(String::as_str).collect();
            if let Err(e) = client.subscribe_peers_online_status(&peers).await {
                print_json(&json!({
                    "error": "subscribe failed",
                    "code": e.code(),
                    "reason": e.to_string(),
                }));
            }
        }
        future::pending().await
    };
    let interrupted = async {
        if let Some(Ok(signal)) = signals.next().await {
            tracing::info!(?signal, "signal received");
        }
        ExitCode::SUCCESS
    };
    let code = future::or(interrupted, future::or(session, printer)).await;
    let _ = client.logout().await;
    while let Ok(event) = events.try_recv() {
        print_json(&event_json(&event));
    }
    code
}

async fn send_peer(cli: &Cli, uid: &str, peer: &str, text: &str, offline: bool) -> ExitCode {
    let client = match client(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = login(&client, cli, uid).await {
        return code;
    }
    let options = SendMessageOptions {
        enable_offline_messaging: offline,
    };
    let result = client
        .send_message_to_peer(peer, Message::text(text), options)
        .await;
    let code = match result {
        Ok(outcome) => {
            let name = match outcome {
                rtm_proto::PeerMessageOutcome::Received => "received",
                rtm_proto::PeerMessageOutcome::Cached => "cached",
                rtm_proto::PeerMessageOutcome::Unreachable => "unreachable",
            };
            print_json(&json!({
                "peer_id": peer,
                "outcome": name,
                "code": outcome.code(),
                "has_peer_received": outcome.has_peer_received(),
            }));
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_json(&json!({
                "peer_id": peer,
                "error": e.to_string(),
                "code": e.code(),
            }));
            ExitCode::FAILURE
        }
    };
    let _ = client.logout().await;
    code
}

fn state_name(s: ConnectionState) -> &'static str {
    match s {
        ConnectionState::Disconnected => "DISCONNECTED",
        ConnectionState::Connecting => "CONNECTING",
        ConnectionState::Connected => "CONNECTED",
        ConnectionState::Reconnecting => "RECONNECTING",
        ConnectionState::Aborted => "ABORTED",
    }
}

fn reason_name(r: ConnectionChangeReason) -> &'static str {
    match r {
        ConnectionChangeReason::Login => "LOGIN",
        ConnectionChangeReason::LoginSuccess => "LOGIN_SUCCESS",
        ConnectionChangeReason::LoginFailure => "LOGIN_FAILURE",
        ConnectionChangeReason::LoginTimeout => "LOGIN_TIMEOUT",
        ConnectionChangeReason::Interrupted => "INTERRUPTED",
        ConnectionChangeReason::Logout => "LOGOUT",
        ConnectionChangeReason::BannedByServer => "BANNED_BY_SERVER",
        ConnectionChangeReason::RemoteLogin => "REMOTE_LOGIN",
        ConnectionChangeReason::TokenExpired => "TOKEN_EXPIRED",
    }
}

fn peer_state_name(s: PeerOnlineState) -> &'static str {
    match s {
        PeerOnlineState::Online => "ONLINE",
        PeerOnlineState::Unreachable => "UNREACHABLE",
        PeerOnlineState::Offline => "OFFLINE",
    }
}

/// One event as a JSON object: `{"event": NAME, ...fields}` with the SDK's names.
fn event_json(event: &Event) -> Value {
    match event {
        Event::ConnectionStateChanged { state, reason } => json!({
            "event": "ConnectionStateChanged",
            "state": state_name(*state),
            "reason": reason_name(*reason),
        }),
        Event::MessageFromPeer {
            peer_id,
            message,
            server_received_ts,
            is_offline_message,
        } => {
            let mut v = json!({
                "event": "MessageFromPeer",
                "peer_id": peer_id.as_str(),
                "server_received_ts": server_received_ts,
                "is_offline_message": is_offline_message,
            });
            add_message(&mut v, message);
            v
        }
        Event::PeersOnlineStatusChanged(peers) => {
            let peers: serde_json::Map<String, Value> = peers
                .iter()
                .map(|(p, s)| (p.to_string(), json!(peer_state_name(*s))))
                .collect();
            json!({ "event": "PeersOnlineStatusChanged", "peers": peers })
        }
        Event::ChannelMessage {
            channel,
            member_id,
            message,
            server_received_ts,
        } => {
            let mut v = json!({
                "event": "ChannelMessage",
                "channel_id": channel.as_str(),
                "member_id": member_id.as_str(),
                "server_received_ts": server_received_ts,
            });
            add_message(&mut v, message);
            v
        }
        Event::MemberJoined { channel, member_id } => json!({
            "event": "MemberJoined",
            "channel_id": channel.as_str(),
            "member_id": member_id.as_str(),
        }),
        Event::MemberLeft { channel, member_id } => json!({
            "event": "MemberLeft",
            "channel_id": channel.as_str(),
            "member_id": member_id.as_str(),
        }),
        Event::MemberCountUpdated { channel, count } => json!({
            "event": "MemberCountUpdated",
            "channel_id": channel.as_str(),
            "member_count": count,
        }),
        Event::AttributesUpdated {
            channel,
            attributes,
        } => {
            let attributes: serde_json::Map<String, Value> = attributes
                .iter()
                .map(|(k, a)| {
                    let v = json!({
                        "value": a.value,
                        "last_update_user_id": a.last_update_user_id.as_str(),
                        "last_update_ts": a.last_update_ts,
                    });
                    (k.clone(), v)
                })
                .collect();
            json!({
                "event": "AttributesUpdated",
                "channel_id": channel.as_str(),
                "attributes": attributes,
            })
        }
        Event::TokenExpired => json!({ "event": "TokenExpired" }),
        Event::TokenPrivilegeWillExpire => json!({ "event": "TokenPrivilegeWillExpire" }),
        // Events the CLI has no special format for (invitations...): their name and Debug.
        other => {
            let debug = format!("{other:?}");
            let name: String = debug
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            json!({ "event": name, "debug": debug })
        }
    }
}

/// Adds a message body's fields: `message_type` and `text`, or `raw_message` (base64) and
/// `description`.
fn add_message(v: &mut Value, message: &Message) {
    match message {
        Message::Text { text } => {
            v["message_type"] = json!("TEXT");
            v["text"] = json!(text);
        }
        Message::Raw { data, description } => {
            v["message_type"] = json!("RAW");
            v["raw_message"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
            v["description"] = json!(description);
        }
    }
}
