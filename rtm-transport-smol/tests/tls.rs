//! TLS, allowed origins and health probes on the server's port, end to end over loopback:
//! a self-signed certificate made here (rcgen) for `localhost` and 127.0.0.1; clients that
//! trust it log in over `wss://` and exchange a message, clients that do not fail their
//! login (no hang); `https://…/healthz` and `/readyz`; plain HTTP on the TLS port; a
//! handshake that never completes; an Origin list refusing wrong and missing origins with
//! 403. Then the same through the binaries: `rtm-server --tls-cert/--tls-key` and
//! `rtm --ca-file`. Every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use rtm_proto::client::SendMessageOptions;
use rtm_proto::errors::LoginError;
use rtm_proto::{ClientConfig, Event, Message, PeerMessageOutcome};
use rtm_transport_smol::{
    spawn_server, AllowedOrigins, ClientError, ConnectOptions, RtmClient, ServeOptions,
    ServerHandle, TlsConfig,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use smol::net::TcpStream;

mod common;

use common::{Proc, WAIT};

/// A self-signed certificate for `localhost` and 127.0.0.1, in PEM files.
struct Cert {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Cert {
    fn new() -> Cert {
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("a self-signed certificate");
        let dir = tempfile::tempdir().expect("a directory for the PEM files");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, made.cert.pem()).expect("write cert.pem");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key.pem");
        Cert {
            _dir: dir,
            cert,
            key,
        }
    }

    fn tls(&self) -> TlsConfig {
        TlsConfig::from_pem_files(&self.cert, &self.key).expect("the PEM files load")
    }

    /// A rustls client config that trusts this certificate only.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.cert).expect("cert.pem") {
            roots.add(cert.expect("a certificate")).expect("a root");
        }
        // rustls 0.23.48 deprecated ring's provider (no post-quantum key exchange); the
        // crate uses it on purpose (see `rtm_transport_smol::tls`).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

fn tls_server(cert: &Cert, tweak: impl FnOnce(&mut ServeOptions)) -> ServerHandle {
    let mut options = ServeOptions {
        tls: Some(cert.tls()),
        ..ServeOptions::default()
    };
    tweak(&mut options);
    spawn_server("127.0.0.1:0", options).expect("the server starts")
}

/// A client configuration whose failed logins give up after 2 s.
fn quick_config() -> ClientConfig {
    ClientConfig {
        login_timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    }
}

fn client(url: &str, ca_file: Option<&Path>, origin: Option<&str>) -> RtmClient {
    let options = ConnectOptions {
        tls_ca_file: ca_file.map(Path::to_path_buf),
        origin: origin.map(str::to_string),
    };
    RtmClient::with_options(url, quick_config(), options).expect("a client")
}

fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(future::or(f, async {
        smol::Timer::after(WAIT).await;
        panic!("not done within {WAIT:?}")
    }))
}

/// The login fails (it does not hang) within the client's login timeout and a margin.
fn login_fails(client: &RtmClient, uid: &str) -> LoginError {
    let start = Instant::now();
    let err = within(client.login(uid, None)).expect_err("the login must fail");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "the failed login took {:?}",
        start.elapsed()
    );
    err
}

#[test]
fn wss_login_and_a_peer_message() {
    let cert = Cert::new();
    let server = tls_server(&cert, |_| {});
    let url = server.url();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    let alice = client(&url, Some(&cert.cert), None);
    let bob = client(&url, Some(&cert.cert), None);
    let bob_events = bob.events();
    within(alice.login("alice", None)).expect("alice logs in over wss://");
    within(bob.login("bob", None)).expect("bob logs in over wss://");
    let outcome = within(alice.send_message_to_peer(
        "bob",
        Message::text("over TLS"),
        SendMessageOptions::default(),
    ))
    .expect("the message is sent");
    assert_eq!(outcome, PeerMessageOutcome::Received);
    let got = within(async {
        loop {
            if let Event::MessageFromPeer {
                peer_id, message, ..
            } = bob_events.recv().await.expect("bob's events")
            {
                return (peer_id, message);
            }
        }
    });
    assert_eq!(got.0.as_str(), "alice");
    assert_eq!(got.1, Message::text("over TLS"));

    // The host name works as well as the address (SNI and the DNS name in the certificate).
    let port = server.local_addr().port();
    let carol = client(&format!("wss://localhost:{port}"), Some(&cert.cert), None);
    within(carol.login("carol", None)).expect("carol logs in via localhost");

    within(alice.logout()).expect("logout");
    within(bob.logout()).expect("logout");
    within(carol.logout()).expect("logout");
    server.shutdown().expect("clean shutdown");
}

#[test]
fn media_over_https_and_cors_for_allowed_origins() {
    use rtm_proto::media::MediaKind;
    use rtm_transport_smol::media::UploadOptions;

    let cert = Cert::new();
    let media = tempfile::tempdir().expect("a media directory");
    let server = tls_server(&cert, |options| {
        options.media_dir = Some(media.path().to_path_buf());
        options.allowed_origins =
            AllowedOrigins::new(["https://app.example"]).expect("an origin list");
    });
    let url = server.url();
    let origin = Some("https://app.example");
    let alice = client(&url, Some(&cert.cert), origin);
    within(alice.login("alice", None)).expect("alice logs in over wss://");
    // Up and down over https://, with the WebSocket's trust.
    let bytes: Vec<u8> = (0..(2 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let message =
        within(alice.upload_media(MediaKind::File, bytes.clone(), UploadOptions::default()))
            .expect("uploaded over https://");
    let Message::File(media_message) = message else {
        panic!("a FILE message");
    };
    let got = within(alice.download_media_to_memory(&media_message.media_id))
        .expect("downloaded over https://");
    assert!(got.bytes == bytes);

    // CORS answers name an allowed origin, and no other.
    let preflight = |origin: &str| {
        https(
            server.local_addr(),
            &cert,
            &format!(
                "OPTIONS /v1/media HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n\
                 Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
            ),
        )
    };
    let allowed = preflight("https://app.example");
    assert_eq!(allowed.status, 204);
    let head = allowed.head.to_ascii_lowercase();
    assert!(
        head.contains("access-control-allow-origin: https://app.example\r\n"),
        "{head}"
    );
    assert!(head.contains("vary: origin"), "{head}");
    let other = preflight("https://evil.example");
    assert!(
        !other
            .head
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{}",
        other.head
    );
    within(alice.logout()).expect("logout");
}

#[test]
fn a_certificate_the_client_does_not_trust_fails_the_login() {
    let cert = Cert::new();
    let server = tls_server(&cert, |_| {});
    // Trusting another certificate than the server's.
    let other = Cert::new();
    let client = client(&server.url(), Some(&other.cert), None);
    login_fails(&client, "mallory");

    // The system's roots do not know a self-signed certificate either (a machine with no
    // roots at all is refused when the client is made).
    let options = ConnectOptions::default();
    match RtmClient::with_options(&server.url(), quick_config(), options) {
        Ok(client) => {
            login_fails(&client, "mallory");
        }
        Err(ClientError::Tls(e)) => eprintln!("no system roots here: {e}"),
        Err(e) => panic!("unexpected error: {e}"),
    }

    // A CA file that is not there is an error at once, naming the file.
    let options = ConnectOptions {
        tls_ca_file: Some("/nonexistent/ca.pem".into()),
        origin: None,
    };
    let err = RtmClient::with_options(&server.url(), quick_config(), options).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

/// What a raw HTTP exchange got back: the status code, the head, the body.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// Sends `request` and reads the answer's head, then its body (by Content-Length) if it has
/// one; a `101` has none to read.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, request: &str) -> Reply {
    s.write_all(request.as_bytes()).await.expect("write");
    s.flush().await.expect("flush");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before a whole head: {bytes:?}");
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed before the whole body");
        bytes.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).to_string();
    Reply { status, head, body }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

/// A request over TLS, trusting `cert`.
fn https(addr: SocketAddr, cert: &Cert, request: &str) -> Reply {
    within(async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let connector = futures_rustls::TlsConnector::from(cert.client_config());
        let name = ServerName::try_from("localhost").expect("a name");
        let tls = connector.connect(name, tcp).await.expect("TLS handshake");
        exchange(tls, request).await
    })
}

/// A request in plain text.
fn plain(addr: SocketAddr, request: &str) -> Reply {
    within(async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        exchange(tcp, request).await
    })
}

#[test]
fn health_probes_over_https() {
    let cert = Cert::new();
    let server = tls_server(&cert, |_| {});
    let addr = server.local_addr();
    let health = https(addr, &cert, &get("/healthz"));
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body, "ok");
    assert!(
        health
            .head
            .to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{health:?}"
    );
    let ready = https(addr, &cert, &get("/readyz"));
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.body, "ready");
    // The static files are served over TLS too.
    let missing = https(addr, &cert, &get("/no-such-file"));
    assert_eq!(missing.status, 404, "{missing:?}");
    server.shutdown().expect("clean shutdown");
}

#[test]
fn plain_http_and_ws_on_a_tls_port_fail_cleanly() {
    let cert = Cert::new();
    let server = tls_server(&cert, |_| {});
    let addr = server.local_addr();
    // curl http://… gets a reason, not a reset.
    let reply = plain(addr, &get("/healthz"));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("TLS"), "{reply:?}");
    // A ws:// client fails its login, without hanging.
    let client = client(&format!("ws://{addr}"), None, None);
    login_fails(&client, "alice");
    // The server is still fine.
    assert_eq!(https(addr, &cert, &get("/readyz")).status, 200);
}

#[test]
fn a_tls_handshake_is_bounded_by_the_handshake_timeout() {
    let cert = Cert::new();
    let server = tls_server(&cert, |o| o.handshake_timeout = Duration::from_millis(500));
    let addr = server.local_addr();
    for sent in [&b""[..], &[0x16][..], &[0x16, 0x03, 0x01, 0x02, 0x00][..]] {
        let start = Instant::now();
        within(async {
            let mut tcp = TcpStream::connect(addr).await.expect("connect");
            tcp.write_all(sent).await.expect("write");
            let mut buf = [0u8; 64];
            // EOF or a reset, once the handshake's time is up.
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(3),
            "closed after {took:?} with {sent:?} sent"
        );
    }
}

fn upgrade(origin: Option<&str>) -> String {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         {origin}\r\n"
    )
}

#[test]
fn an_origin_list_refuses_other_and_missing_origins() {
    let cert = Cert::new();
    let app = "https://app.example.com";
    let server = tls_server(&cert, |o| {
        o.allowed_origins = AllowedOrigins::new([app, "http://localhost:3000"]).unwrap();
    });
    let addr = server.local_addr();
    for origin in [
        Some("https://evil.example.com"),
        Some("http://app.example.com"),
        None,
    ] {
        let reply = https(addr, &cert, &upgrade(origin));
        assert_eq!(reply.status, 403, "{origin:?}: {reply:?}");
        assert!(reply.body.contains("Origin"), "{reply:?}");
    }
    let reply = https(addr, &cert, &upgrade(Some(app)));
    assert_eq!(reply.status, 101, "{reply:?}");
    // Other routes do not look at Origin.
    assert_eq!(https(addr, &cert, &get("/healthz")).status, 200);

    // The Rust client sends the Origin it is given; without one it is refused.
    let url = server.url();
    let with = client(&url, Some(&cert.cert), Some(app));
    within(with.login("alice", None)).expect("a client with an allowed Origin logs in");
    let without = client(&url, Some(&cert.cert), None);
    login_fails(&without, "bob");
    within(with.logout()).expect("logout");
}

#[test]
fn without_an_origin_list_every_upgrade_is_accepted() {
    let server = spawn_server("127.0.0.1:0", ServeOptions::default()).expect("a server");
    assert!(server.url().starts_with("ws://"));
    let addr = server.local_addr();
    for origin in [Some("https://anything.example"), None] {
        let reply = plain(addr, &upgrade(origin));
        assert_eq!(reply.status, 101, "{origin:?}: {reply:?}");
    }
    let ready = plain(addr, &get("/readyz"));
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
}

fn json(line: &str) -> Option<Value> {
    serde_json::from_str(line).ok()
}

#[test]
fn the_binaries_over_tls() {
    let cert = Cert::new();
    let (cert_path, key_path) = (cert.cert.to_str().unwrap(), cert.key.to_str().unwrap());

    // Both files or neither: one alone is a usage error that says what is missing.
    let out = Command::new(env!("CARGO_BIN_EXE_rtm-server"))
        .args(["--listen", "127.0.0.1:0", "--storage", "memory"])
        .args(["--tls-cert", cert_path])
        .env_remove("RTM_TLS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run rtm-server");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
    // A key that is not a key: a clear error, non-zero exit.
    let out = Command::new(env!("CARGO_BIN_EXE_rtm-server"))
        .args(["--listen", "127.0.0.1:0", "--storage", "memory"])
        .args(["--tls-cert", cert_path, "--tls-key", cert_path])
        .stdin(Stdio::null())
        .output()
        .expect("run rtm-server");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("private key"), "{stderr}");

    let server = Proc::spawn(
        "rtm-server",
        env!("CARGO_BIN_EXE_rtm-server"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--storage",
            "memory",
            "--tls-cert",
            cert_path,
            "--tls-key",
            key_path,
        ],
        false,
    );
    let url = server.wait_for("the listening address", |line| {
        let i = line.find("listening on wss://")?;
        assert!(line.contains("TLS on"), "{line}");
        let url = line[i + "listening on ".len()..]
            .split_whitespace()
            .next()?;
        Some(url.to_string())
    });
    let url = url.replace("127.0.0.1", "localhost");

    let rtm = env!("CARGO_BIN_EXE_rtm");
    let common = ["--server", url.as_str(), "--ca-file", cert_path];
    let mut args = common.to_vec();
    args.extend(["--uid", "bob", "listen"]);
    let mut bob = Proc::spawn("rtm listen", rtm, &args, true);
    bob.wait_for("CONNECTED", |l| {
        json(l).filter(|v| v["event"] == "ConnectionStateChanged" && v["state"] == "CONNECTED")
    });

    let out = Command::new(rtm)
        .args(common)
        .args(["--uid", "alice", "send-peer", "bob", "hello over TLS"])
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("run rtm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout
        .lines()
        .filter_map(json)
        .next_back()
        .unwrap_or_default();
    assert!(out.status.success(), "{stdout} {out:?}");
    assert_eq!(result["outcome"], "received", "{result}");
    let message = bob.wait_for("the message", |l| {
        json(l).filter(|v| v["event"] == "MessageFromPeer")
    });
    assert_eq!(message["text"], "hello over TLS");
    let status = bob.signal_and_wait("INT");
    assert!(status.success(), "rtm listen exited with {status}");
}
