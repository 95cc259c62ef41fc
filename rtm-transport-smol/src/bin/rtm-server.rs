//! `rtm-server`: the RTM server on one port: WebSocket for clients (`ws://ADDR`, any path),
//! HTTP for the demo page (`http://ADDR/`) and the Web SDK (`http://ADDR/sdk/…`).
//!
//! Runs with no flags at all: listens on 127.0.0.1:9300 in app-id-only mode with the default
//! app id. `--app-cert` (or `RTM_APP_CERT`) switches to certificate mode, where every login
//! needs an AccessToken2 / AccessToken signed with that certificate. SIGINT and SIGTERM shut
//! it down gracefully: every client is closed with GOING_AWAY (1001), and every stored
//! message is on disk before the process exits.
//!
//! Offline messages the server answered `cached` survive a restart (kill -9 and power cuts
//! included): they are kept in `rtm.db` (SQLite) in the data directory, `./rtm-data` unless
//! `--data-dir` (or `RTM_DATA_DIR`) says otherwise; the directory is created if missing.
//! `--storage memory` keeps nothing on disk (tests, throwaway servers). A database the server
//! cannot trust (damaged, not its own, written by a newer release) is refused at start with
//! a message saying what to do; the server exits non-zero and leaves the file as it was.
//!
//! The REST API under `/v1` (`openapi.yaml`) is on once an admin key is given:
//! `--admin-key ID:SECRET` (repeatable) or `RTM_ADMIN_KEYS=ID:SECRET,ID2:SECRET2`; callers
//! authenticate with HTTP Basic, the id as user name and the secret as password. Prometheus
//! metrics are at `/metrics` either way.
//!
//! Files and images (FILE and IMAGE messages) are uploaded and downloaded over HTTP on the
//! same port (`/v1/media`) and kept in `media/` in the data directory (`--media-dir`
//! elsewhere) for `--media-retention` (7 days); `--media-quota-user` and
//! `--media-quota-total` bound the bytes kept per user and in all.
//!
//! `--tls-cert` and `--tls-key` (PEM files; `RTM_TLS_CERT`, `RTM_TLS_KEY`) make the port
//! speak TLS: `wss://ADDR` for clients, `https://ADDR/` for the demo, the SDK and the health
//! probes (`/healthz`, `/readyz`). `--allowed-origin` limits which web pages may open a
//! WebSocket.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use async_signal::{Signal, Signals};
use clap::{Parser, ValueEnum};
use futures_lite::StreamExt;
use rtm_proto::server::admin::AdminKey;
use rtm_proto::server::MediaLimits;
use rtm_proto::server::DEFAULT_APP_ID;
use rtm_proto::ServerConfig;
use rtm_transport_smol::{storage, AllowedOrigins, ServeOptions, Storage, TlsConfig};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

/// Gives the heap that glibc's malloc keeps after a burst back to the system, every 10 s.
///
/// After 1 000 members that never read were each holding a full stream and then left, the
/// live heap was back to 0.4 MiB but RSS stayed at 90 MiB (heaptrack over `benches/abuse.rs`):
/// glibc only returns the top of its heap by itself, not the free pages in the middle.
/// `malloc_trim` returns those too (1–8 ms per call measured there, on this thread). mimalloc
/// was tried instead and held more (137 MiB after).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn start_heap_trimmer() {
    extern "C" {
        /// glibc: releases free memory at the top of the heap and free whole pages within it.
        fn malloc_trim(pad: usize) -> i32;
    }
    let spawned = std::thread::Builder::new()
        .name("heap-trim".into())
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(10));
            // SAFETY: malloc_trim takes no pointers and is thread-safe (it locks each arena).
            unsafe {
                malloc_trim(0);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the heap trimmer");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn start_heap_trimmer() {}

/// The RTM server: Agora RTM 1.x compatible real-time messaging over WebSockets.
#[derive(Debug, Parser)]
#[command(name = "rtm-server", version, about)]
struct Args {
    /// Address to listen on (use port 0 for any free port; the address is logged).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9300")]
    listen: String,
    /// App id clients must log in with (32 hex characters in Agora's format).
    #[arg(long, env = "RTM_APP_ID", default_value = DEFAULT_APP_ID)]
    app_id: String,
    /// App certificate: enables certificate mode (logins need a valid 006/007 token).
    #[arg(long, env = "RTM_APP_CERT", hide_env_values = true)]
    app_cert: Option<String>,
    /// Directory of the database (`rtm.db`) that keeps offline messages across restarts;
    /// created if missing.
    #[arg(
        long,
        env = "RTM_DATA_DIR",
        value_name = "PATH",
        default_value = "./rtm-data"
    )]
    data_dir: PathBuf,
    /// Where offline messages are kept: `sqlite` (in --data-dir, survives restarts and
    /// crashes) or `memory` (nothing on disk; lost at exit).
    #[arg(long, value_enum, default_value_t = StorageKind::Sqlite)]
    storage: StorageKind,
    /// A key of the REST API, as ID:SECRET (repeatable; the env var takes a comma-separated
    /// list). Without any the REST API is off.
    #[arg(
        long = "admin-key",
        env = "RTM_ADMIN_KEYS",
        value_name = "ID:SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    admin_keys: Vec<String>,
    /// PEM certificate chain (the server's certificate first, then intermediates): the port
    /// then speaks only TLS (`wss://`, `https://`). Needs --tls-key.
    #[arg(long, env = "RTM_TLS_CERT", value_name = "PATH")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 RSA or SEC1 EC). Needs --tls-cert.
    #[arg(long, env = "RTM_TLS_KEY", value_name = "PATH")]
    tls_key: Option<PathBuf>,
    /// Only web pages of this origin (`scheme://host[:port]`, e.g. https://app.example.com)
    /// may open a WebSocket; repeatable or comma-separated. When set, an upgrade whose Origin
    /// header is missing (non-browser clients: `rtm --origin`) or not listed is refused with
    /// 403; the media endpoints answer only these pages (CORS). Unset: every origin is
    /// accepted.
    #[arg(
        long = "allowed-origin",
        env = "RTM_ALLOWED_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Where uploaded files and images are kept: `media/` in --data-dir unless set (with
    /// `--storage memory`, a temporary directory removed at exit).
    #[arg(long, env = "RTM_MEDIA_DIR", value_name = "PATH")]
    media_dir: Option<PathBuf>,
    /// How long an uploaded file or image (and its media id) is kept, e.g. 7d, 12h, 30m.
    #[arg(long, env = "RTM_MEDIA_RETENTION", value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    media_retention: Duration,
    /// Bytes of files and images one user may have stored at once, e.g. 1G, 500M (K, M,
    /// G, T are powers of 1024); past it uploads fail (HTTP 507 quota_exceeded).
    #[arg(long, env = "RTM_MEDIA_QUOTA_USER", value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    media_quota_user: u64,
    /// Bytes of files and images the server keeps in all (the media directory's budget).
    #[arg(long, env = "RTM_MEDIA_QUOTA_TOTAL", value_name = "SIZE", default_value = "10G", value_parser = parse_size)]
    media_quota_total: u64,
    /// Connections the kernel may queue completed but not yet accepted (Linux caps it at
    /// net.core.somaxconn): a short queue drops clients' SYNs in a reconnect storm.
    #[arg(long, env = "RTM_LISTEN_BACKLOG", value_name = "N", default_value_t = rtm_transport_smol::server::DEFAULT_LISTEN_BACKLOG)]
    listen_backlog: u32,
    /// Log filter, e.g. `info`, `debug`, `rtm_transport_smol=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StorageKind {
    Sqlite,
    Memory,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Checked before anything starts; the message never repeats the value (a secret).
    let admin_keys = match admin_keys(&args.admin_keys) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("rtm-server: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&args.log).unwrap_or_else(|e| {
        eprintln!(
            "rtm-server: bad --log filter {:?} ({e}); using info",
            args.log
        );
        EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    start_heap_trimmer();

    let config = ServerConfig {
        app_id: args.app_id,
        app_certificate: args.app_cert.filter(|c| !c.is_empty()),
        admin_keys,
        media: MediaLimits {
            retention: args.media_retention,
            user_bytes: args.media_quota_user,
            total_bytes: args.media_quota_total,
            ..MediaLimits::default()
        },
        ..ServerConfig::default()
    };
    let storage = match args.storage {
        StorageKind::Sqlite => Storage::sqlite(args.data_dir),
        StorageKind::Memory => Storage::Memory,
    };
    let mut options = ServeOptions::from(config);
    options.storage = storage;
    options.media_dir = args.media_dir.clone();
    options.listen_backlog = args.listen_backlog;
    options.tls = match (&args.tls_cert, &args.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => match TlsConfig::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                error!(error = %e, "rtm-server: cannot use --tls-cert / --tls-key");
                return ExitCode::FAILURE;
            }
        },
        (Some(_), None) => return usage("--tls-cert needs --tls-key (or RTM_TLS_KEY) too"),
        (None, Some(_)) => return usage("--tls-key needs --tls-cert (or RTM_TLS_CERT) too"),
    };
    options.allowed_origins = match AllowedOrigins::new(&args.allowed_origins) {
        Ok(origins) => origins,
        Err(e) => return usage(&e.to_string()),
    };
    match smol::block_on(run(&args.listen, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "rtm-server failed");
            ExitCode::FAILURE
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("rtm-server: {msg} (see rtm-server --help)");
    ExitCode::from(2)
}

async fn run(listen: &str, options: ServeOptions) -> std::io::Result<()> {
    // Watch for the signals before announcing the address: whoever reads it may stop us.
    let mut signals = Signals::new([Signal::Int, Signal::Term])?;
    // The store first: a database refused at start stops the server before it announces
    // anything.
    let storage = options.storage.clone();
    let opened = smol::unblock(move || storage::open(&storage)).await?;
    let config = &options.core;
    let backlog = options.listen_backlog;
    let listener = smol::unblock({
        let listen = listen.to_string();
        move || rtm_transport_smol::server::bind_listener(listen, backlog)
    })
    .await?;
    let listener = smol::net::TcpListener::try_from(listener)?;
    let addr = listener.local_addr()?;
    let mode = if config.app_certificate.is_some() {
        "certificate mode"
    } else {
        "app-id-only mode"
    };
    let (ws, http, tls) = match options.tls {
        Some(_) => ("wss", "https", "TLS on"),
        None => ("ws", "http", "TLS off"),
    };
    info!(
        "rtm-server listening on {ws}://{addr} ({mode}, {tls}, app id {}); demo page at \
         {http}://{addr}/",
        config.app_id
    );
    match config.admin_keys.len() {
        0 => info!("REST API: off (no --admin-key)"),
        n => info!(
            "REST API: on ({n} key{}) at {http}://{addr}/v1/",
            if n == 1 { "" } else { "s" }
        ),
    }
    info!("metrics at {http}://{addr}/metrics");
    match &options.allowed_origins {
        Some(origins) => info!(
            "WebSocket upgrades accepted only from these origins: {}",
            origins.iter().collect::<Vec<_>>().join(", ")
        ),
        None => info!("WebSocket upgrades accepted from any origin"),
    }
    rtm_transport_smol::serve_opened(listener, options, opened, async move {
        if let Some(Ok(signal)) = signals.next().await {
            info!(?signal, "signal received: shutting down");
        }
    })
    .await
}

/// A size in bytes: a number, optionally followed by K, M, G or T (powers of 1024; a
/// trailing B or iB is allowed: `500MB`, `1GiB`).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("{text:?}: the unit must be K, M, G or T")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 1G or 500M"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A duration: a number followed by s, m, h or d.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is not a duration such as 7d, 12h, 30m or 90s");
    let unit = t.chars().last().ok_or_else(bad)?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = t[..t.len() - 1].trim().parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(format!("{text:?}: must be more than 0"));
    }
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

/// Why an `--admin-key` value was refused.
#[derive(Debug, thiserror::Error)]
enum AdminKeyError {
    #[error("--admin-key (or RTM_ADMIN_KEYS) value {0} is not ID:SECRET (no colon)")]
    NoColon(usize),
    #[error("--admin-key (or RTM_ADMIN_KEYS) value {0} has an empty key id")]
    EmptyId(usize),
    #[error("--admin-key (or RTM_ADMIN_KEYS) value {0} has an empty secret")]
    EmptySecret(usize),
    #[error("--admin-key (or RTM_ADMIN_KEYS): key id {0:?} is given twice")]
    Duplicate(String),
}

/// The admin keys of `--admin-key` values (`ID:SECRET`; the id ends at the first colon, the
/// secret may hold more). Values are numbered from 1 in errors.
fn admin_keys(values: &[String]) -> Result<Vec<AdminKey>, AdminKeyError> {
    let mut keys: Vec<AdminKey> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let n = i + 1;
        let (id, secret) = value.split_once(':').ok_or(AdminKeyError::NoColon(n))?;
        if id.trim().is_empty() {
            return Err(AdminKeyError::EmptyId(n));
        }
        if secret.is_empty() {
            return Err(AdminKeyError::EmptySecret(n));
        }
        if keys.iter().any(|k| k.id == id) {
            return Err(AdminKeyError::Duplicate(id.to_string()));
        }
        keys.push(AdminKey {
            id: id.to_string(),
            secret: secret.to_string(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Vec<AdminKey>, AdminKeyError> {
        admin_keys(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64KB"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn admin_keys_are_id_colon_secret() {
        let keys = parse(&["ci:secret", "ops:a:b"]).unwrap();
        assert_eq!(
            (keys[0].id.as_str(), keys[0].secret.as_str()),
            ("ci", "secret")
        );
        assert_eq!(
            (keys[1].id.as_str(), keys[1].secret.as_str()),
            ("ops", "a:b")
        );
        assert!(parse(&[]).unwrap().is_empty());
        assert!(matches!(parse(&["ci"]), Err(AdminKeyError::NoColon(1))));
        assert!(matches!(
            parse(&["ci:x", ":x"]),
            Err(AdminKeyError::EmptyId(2))
        ));
        assert!(matches!(
            parse(&["ci:"]),
            Err(AdminKeyError::EmptySecret(1))
        ));
        assert!(matches!(
            parse(&["ci:x", "ci:y"]),
            Err(AdminKeyError::Duplicate(_))
        ));
        let shown = parse(&["ci-s3cret"]).unwrap_err().to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
