//! `rtm`: a command-line RTM client, enough for a smoke test by hand.
//!
//! ```text
//! rtm token --app-id ID --app-cert CERT --uid UID [--expire SECS]
//! rtm [--server ws://127.0.0.1:9300] --uid bob listen [--subscribe alice,carol]
//! rtm --server wss://rtm.example.com [--ca-file ca.pem] [--origin URL] --uid bob listen
//! rtm [--server URL] --uid alice send-peer bob "hello" [--offline]
//! rtm [--server URL] --uid bob join room [--say TEXT]... [--stdin]
//! rtm [--server URL] --uid alice send-channel room "hi all"
//! rtm [--server URL] --uid alice attrs user set|update KEY=VALUE... [--exit]
//! rtm [--server URL] --uid alice attrs user delete KEY... [--exit]
//! rtm [--server URL] --uid alice attrs user clear [--exit]
//! rtm [--server URL] --uid alice attrs user get UID [KEY...]
//! rtm [--server URL] --uid alice attrs channel room set|update KEY=VALUE... [--notify]
//! rtm [--server URL] --uid alice attrs channel room delete KEY... [--notify]
//! rtm [--server URL] --uid alice attrs channel room clear [--notify]
//! rtm [--server URL] --uid alice attrs channel room get [KEY...]
//! rtm [--server URL] --uid alice call bob [--content TEXT] [--channel-id ID] [--timeout SECS]
//! rtm [--server URL] --uid bob answer [--accept | --refuse] [--response TEXT] [--timeout SECS]
//! rtm [--server URL] --uid alice send-file bob ./cat.png [--image] [--offline]
//! rtm [--server URL] --uid alice send-file --channel room ./cat.png [--image]
//! rtm [--server URL] --uid bob download MEDIA_ID -o ./cat.png
//! rtm admin [--url http://127.0.0.1:9300] [--key ID:SECRET] COMMAND ...   (see admin.rs)
//! ```
//!
//! Everything is printed as JSON lines on stdout (see `json.rs`): events as
//! `{"event": NAME, ...}` with the SDK's names, results of calls as `{"op": METHOD, "code": N,
//! ...}`. Diagnostics go to stderr. Exit status: 0 success, 1 failure, 2 bad usage; `call`
//! exits 0 when accepted, 3 refused, 4 canceled, 5 failed.

mod admin;
mod calls;
mod channels;
mod http;
mod json;
mod media;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use async_signal::{Signal, Signals};
use clap::{Parser, Subcommand};
use futures_lite::{future, StreamExt};
use rtm_proto::client::SendMessageOptions;
use rtm_proto::logs::LogLevel;
use rtm_proto::server::DEFAULT_APP_ID;
use rtm_proto::{ClientConfig, ConnectionState, Event, Message};
use rtm_transport_smol::{ConnectOptions, RtmClient};
use serde_json::{json, Value};
use tracing_subscriber::EnvFilter;

use json::{event_json, print_json};

/// A command-line RTM client.
#[derive(Debug, Parser)]
#[command(name = "rtm", version, about)]
struct Cli {
    /// Server URL: ws://HOST[:PORT] or, over TLS, wss://HOST[:PORT].
    #[arg(long, env = "RTM_SERVER", default_value = "ws://127.0.0.1:9300")]
    server: String,
    /// For wss://: trust only the CA certificate(s) in this PEM file (a private CA, or a
    /// self-signed server certificate) instead of the system's roots.
    #[arg(long, env = "RTM_CA_FILE", value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Send this Origin header (scheme://host[:port]) with the WebSocket upgrade: needed by
    /// a server started with --allowed-origin, which refuses upgrades without one.
    #[arg(long, env = "RTM_ORIGIN", value_name = "ORIGIN")]
    origin: Option<String>,
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
    /// Upload the client's log lines (state changes, failures, events) at or above this
    /// level to the server, where support can read them (`enableLogUpload`): error, warn,
    /// info or debug.
    #[arg(long, env = "RTM_LOG_UPLOAD", value_name = "LEVEL", value_parser = parse_log_level)]
    log_upload: Option<LogLevel>,
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
    /// Log in, join a channel and print every event as a JSON line until Ctrl-C; then leave.
    Join {
        /// The channel id.
        channel: String,
        /// Send this text to the channel once joined (repeatable).
        #[arg(long, value_name = "TEXT")]
        say: Vec<String>,
        /// Send every line read from stdin to the channel.
        #[arg(long)]
        stdin: bool,
    },
    /// Log in, join a channel, send one text message, print the result, leave, log out.
    SendChannel {
        /// The channel id.
        channel: String,
        /// The text to send.
        text: String,
    },
    /// User and channel attributes.
    Attrs {
        #[command(subcommand)]
        target: channels::AttrsTarget,
    },
    /// The server's REST API (needs an admin key): send as a user, presence, members,
    /// attributes, events, bans. Prints the server's JSON answers.
    Admin(admin::AdminArgs),
    /// Invite a user to a call; print the invitation's events as JSON lines until it ends.
    /// Ctrl-C (or --timeout) cancels it. Exit 0 accepted, 3 refused, 4 canceled, 5 failed.
    Call {
        /// The callee's user id.
        callee: String,
        /// The invitation's content (at most 8 KB).
        #[arg(long, default_value = "")]
        content: String,
        /// The invitation's channel id (legacy interop, at most 64 bytes).
        #[arg(long, default_value = "")]
        channel_id: String,
        /// Cancel the invitation if it is still open after this many seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
    },
    /// Log in, upload a file (an image with --image), send it as a FILE (IMAGE) message to a
    /// peer or, with --channel, to a channel, print the results, log out. Progress is a bar
    /// on a terminal, JSON lines otherwise; Ctrl-C cancels the upload.
    SendFile {
        /// PEER PATH, or PATH with --channel.
        #[arg(value_name = "PEER PATH", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Send to this channel (joined, then left) instead of a peer.
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<String>,
        /// An IMAGE message (its width and height read from the file: JPEG, PNG, BMP, GIF).
        #[arg(long)]
        image: bool,
        /// Keep the message on the server if the peer is offline (offline messaging).
        #[arg(long, conflicts_with = "channel")]
        offline: bool,
    },
    /// Log in, download a media (the media id of a FILE or IMAGE message) to a file, print
    /// the result, log out. Progress as for send-file; Ctrl-C cancels.
    Download {
        /// The media id.
        media_id: String,
        /// Where to write it (created or overwritten; removed if the download fails).
        #[arg(short = 'o', long, value_name = "PATH")]
        output: PathBuf,
    },
    /// Wait for the next call invitation, print it, accept (default) or refuse it, print the
    /// outcome and exit (0 if the answer took effect).
    Answer {
        /// Accept the invitation (the default).
        #[arg(long, conflicts_with = "refuse")]
        accept: bool,
        /// Refuse the invitation.
        #[arg(long)]
        refuse: bool,
        /// The response sent with the answer (at most 8 KB).
        #[arg(long, default_value = "")]
        response: String,
        /// Give up (exit 1) if no invitation arrives within this many seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
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
    if let Command::Token {
        ref app_id,
        ref app_cert,
        ref uid,
        expire,
    } = cli.command
    {
        let app_id = app_id.clone().unwrap_or_else(|| cli.app_id.clone());
        let Some(uid) = uid.clone().or_else(|| cli.uid.clone()) else {
            return usage("rtm token needs --uid");
        };
        return token(&app_id, app_cert, &uid, expire);
    }
    if let Command::Admin(args) = &cli.command {
        return smol::block_on(admin::run(args, &cli.app_id, cli.ca_file.clone()));
    }
    let Some(uid) = cli.uid.clone() else {
        return usage("this command needs --uid (or RTM_UID)");
    };
    smol::block_on(async {
        match &cli.command {
            Command::Token { .. } | Command::Admin(_) => ExitCode::SUCCESS, // handled above
            Command::Listen { subscribe } => listen(&cli, &uid, subscribe).await,
            Command::SendPeer {
                peer,
                text,
                offline,
            } => send_peer(&cli, &uid, peer, text, *offline).await,
            Command::Join {
                channel,
                say,
                stdin,
            } => channels::join(&cli, &uid, channel, say, *stdin).await,
            Command::SendChannel { channel, text } => {
                channels::send_channel(&cli, &uid, channel, text).await
            }
            Command::Attrs { target } => channels::attrs(&cli, &uid, target).await,
            Command::Call {
                callee,
                content,
                channel_id,
                timeout,
            } => calls::call(&cli, &uid, callee, content, channel_id, *timeout).await,
            Command::Answer {
                accept: _,
                refuse,
                response,
                timeout,
            } => calls::answer(&cli, &uid, !*refuse, response, *timeout).await,
            Command::SendFile {
                args,
                channel,
                image,
                offline,
            } => {
                let (to, path) = match (channel, args.as_slice()) {
                    (Some(channel), [path]) => (media::Destination::Channel(channel), path),
                    (None, [peer, path]) => (
                        media::Destination::Peer {
                            peer,
                            offline: *offline,
                        },
                        path,
                    ),
                    (Some(_), _) => return usage("send-file --channel CHANNEL takes one PATH"),
                    (None, _) => {
                        return usage("send-file takes PEER PATH (or --channel CHANNEL PATH)")
                    }
                };
                media::send_file(&cli, &uid, to, std::path::Path::new(path), *image).await
            }
            Command::Download { media_id, output } => {
                media::download(&cli, &uid, media_id, output).await
            }
        }
    })
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("rtm: {msg} (see rtm --help)");
    ExitCode::from(2)
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

fn parse_log_level(name: &str) -> Result<LogLevel, String> {
    LogLevel::from_name(name)
        .ok_or_else(|| format!("{name:?} is not one of error, warn, info, debug"))
}

fn client(cli: &Cli) -> Result<RtmClient, ExitCode> {
    let config = ClientConfig {
        app_id: cli.app_id.clone(),
        log_upload: cli.log_upload.is_some(),
        log_filter: cli.log_upload.or(ClientConfig::default().log_filter),
        ..ClientConfig::default()
    };
    let options = ConnectOptions {
        tls_ca_file: cli.ca_file.clone(),
        origin: cli.origin.clone(),
    };
    RtmClient::with_options(&cli.server, config, options).map_err(|e| {
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

/// A client for `cli`, logged in as `uid`, its event log (listening from before the login,
/// so its connection events are in it), and Ctrl-C / SIGTERM watched.
async fn session(cli: &Cli, uid: &str) -> Result<(RtmClient, EventLog, Signals), ExitCode> {
    let signals = Signals::new([Signal::Int, Signal::Term]).map_err(|e| {
        eprintln!("rtm: cannot watch for Ctrl-C: {e}");
        ExitCode::FAILURE
    })?;
    let client = client(cli)?;
    let log = EventLog::new(&client);
    login(&client, cli, uid).await?;
    Ok((client, log, signals))
}

/// Resolves at the next SIGINT / SIGTERM.
async fn interrupted(signals: &mut Signals) {
    if let Some(Ok(signal)) = signals.next().await {
        tracing::info!(?signal, "signal received");
    }
}

/// The client's events, printed as JSON lines in the order they happened: when the program
/// reads them ([`EventLog::next`]), or before the result of a call is printed
/// ([`EventLog::print`]), whichever comes first.
struct EventLog {
    rx: rtm_transport_smol::Events,
    /// Printed, not read yet.
    printed: RefCell<VecDeque<Event>>,
    format: RefCell<Format>,
}

/// How an event is printed.
type Format = Box<dyn Fn(&Event) -> Value>;

impl EventLog {
    fn new(client: &RtmClient) -> Self {
        EventLog {
            rx: client.events(),
            printed: RefCell::default(),
            format: RefCell::new(Box::new(event_json)),
        }
    }

    /// Prints events from now on with `format`.
    fn set_format(&self, format: impl Fn(&Event) -> Value + 'static) {
        *self.format.borrow_mut() = Box::new(format);
    }

    /// Prints the events that have come so far (keeping them for [`EventLog::next`]).
    fn catch_up(&self) {
        while let Ok(Some(event)) = self.rx.try_recv() {
            print_line(&(self.format.borrow())(&event));
            self.printed.borrow_mut().push_back(event);
        }
    }

    /// Prints `line` (the result of a call) after the events that came before it.
    fn print(&self, line: &Value) {
        self.catch_up();
        print_json(line);
    }

    /// The next event, printed; `None` when the stream ended.
    async fn next(&self) -> Option<Event> {
        if let Some(event) = self.printed.borrow_mut().pop_front() {
            return Some(event);
        }
        loop {
            match self.rx.recv().await {
                Ok(event) => {
                    print_line(&(self.format.borrow())(&event));
                    return Some(event);
                }
                // Never silently: the reader fell behind and events were dropped.
                Err(rtm_transport_smol::RecvError::Lagged(missed)) => {
                    print_json(&serde_json::json!({ "event": "lagged", "missed": missed }))
                }
                Err(rtm_transport_smol::RecvError::Closed) => return None,
            }
        }
    }

    /// Prints every event until the stream ends or the client is kicked (`ABORTED`).
    async fn print_all(&self) -> ExitCode {
        while let Some(event) = self.next().await {
            if is_aborted(&event) {
                return ExitCode::FAILURE; // kicked: nothing more will come
            }
        }
        ExitCode::FAILURE
    }

    /// Logs out and prints the events that came before the end.
    async fn logout(&self, client: &RtmClient) {
        let _ = client.logout().await;
        self.catch_up();
    }
}

/// Prints an event's line, unless its format left it out (`null`).
fn print_line(line: &Value) {
    if !line.is_null() {
        print_json(line);
    }
}

/// `ConnectionStateChanged(ABORTED)`: kicked, nothing more will come.
fn is_aborted(event: &Event) -> bool {
    matches!(
        event,
        Event::ConnectionStateChanged {
            state: ConnectionState::Aborted,
            ..
        }
    )
}

async fn listen(cli: &Cli, uid: &str, subscribe: &[String]) -> ExitCode {
    let client = match client(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let log = EventLog::new(&client);
    let mut signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtm: cannot watch for Ctrl-C: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Events are printed as they come, also while logging in, so state changes show in order.
    let session = async {
        if let Err(code) = login(&client, cli, uid).await {
            return code;
        }
        if !subscribe.is_empty() {
            let peers: Vec<&str> = subscribe.iter().map(String::as_str).collect();
            if let Err(e) = client.subscribe_peers_online_status(&peers).await {
                log.print(&json!({
                    "error": "subscribe failed",
                    "code": e.code(),
                    "reason": e.to_string(),
                }));
            }
        }
        future::pending().await
    };
    let interrupted = async {
        interrupted(&mut signals).await;
        ExitCode::SUCCESS
    };
    let code = future::or(interrupted, future::or(session, log.print_all())).await;
    log.logout(&client).await;
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
