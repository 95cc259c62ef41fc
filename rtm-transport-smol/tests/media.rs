//! File and image messages (issue #14) over real sockets: uploads and downloads through
//! `/v1/media` with [`RtmClient`], raw HTTP where the client would not send what is tested
//! (a body over the limit, no ticket), and the binaries for restarts and the CLI. Servers run
//! in-process on a free loopback port (or as `rtm-server` processes); every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::{self, Message as WsMessage};
use hyper::{Method, StatusCode};
use rtm_proto::client::SendMessageOptions;
use rtm_proto::errors::{DownloadMediaError, UploadMediaError};
use rtm_proto::media::{MediaKind, MAX_MEDIA_BYTES};
use rtm_proto::server::MediaLimits;
use rtm_proto::{Event, Message, ServerConfig};
use rtm_transport_smol::media::{media_message, MediaProgress, UploadOptions};
use rtm_transport_smol::{spawn_server, ServeOptions, ServerHandle};
use serde_json::Value;

mod common;

use common::rest::{logged_in, next_event, within, Http, APP};
use common::{Proc, WAIT};

/// A server in this process with `core`, its media in `media_dir`.
fn server(core: ServerConfig, media_dir: &Path) -> ServerHandle {
    let mut options = ServeOptions::from(core);
    options.media_dir = Some(media_dir.to_path_buf());
    spawn_server("127.0.0.1:0", options).expect("a server")
}

/// `n` bytes that are not all alike (a shifted, wrapped counter).
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

/// The names of the files in `dir` (uploads in progress included).
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until `dir` holds exactly `n` files, within [`WAIT`].
fn wait_for_files(dir: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let names = files_in(dir);
        if names.len() == n {
            return names;
        }
        assert!(
            Instant::now() < deadline,
            "{} should hold {n} files, holds {names:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The media of a FILE or IMAGE message.
fn media_of(message: &Message) -> &rtm_proto::media::MediaMessage {
    match message {
        Message::File(m) | Message::Image(m) => m,
        other => panic!("not a media message: {other:?}"),
    }
}

fn block<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(within(what, f))
}

/// A raw WebSocket session (no `RtmClient`): logs in as `uid` and asks for tickets, for the
/// requests an SDK would never send.
struct RawSession {
    ws: tungstenite::WebSocket<TcpStream>,
    next_id: u32,
}

impl RawSession {
    fn login(addr: SocketAddr, uid: &str) -> RawSession {
        let stream = TcpStream::connect(addr).expect("connect");
        let (ws, _) = tungstenite::client(format!("ws://{addr}/"), stream).expect("handshake");
        let mut session = RawSession { ws, next_id: 1 };
        session.send(&format!(
            r#"{{"type":"login","id":1,"version":1,"app_id":"{APP}","uid":"{uid}"}}"#
        ));
        session.until(|v| v["type"] == "login_ok");
        session
    }

    fn send(&mut self, frame: &str) {
        self.ws
            .send(WsMessage::text(frame.to_string()))
            .expect("send a frame");
    }

    /// Reads frames until `pick` takes one.
    fn until(&mut self, pick: impl Fn(&Value) -> bool) -> Value {
        self.ws
            .get_mut()
            .set_read_timeout(Some(WAIT))
            .expect("a read timeout");
        loop {
            match self.ws.read().expect("a frame") {
                WsMessage::Text(text) => {
                    let v: Value = serde_json::from_str(&text).expect("JSON");
                    if pick(&v) {
                        return v;
                    }
                }
                _ => continue,
            }
        }
    }

    /// A fresh single-use ticket.
    fn ticket(&mut self) -> String {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&format!(r#"{{"type":"media_grant","id":{id}}}"#));
        let reply = self.until(|v| v["id"] == id);
        assert_eq!(reply["type"], "media_ticket", "{reply}");
        reply["ticket"].as_str().expect("a ticket").to_string()
    }
}

/// Sends `head` (an HTTP request's head, ending with the blank line) and reads the answer's
/// status line and JSON body, without sending any body.
fn head_only(addr: SocketAddr, head: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The server closes after a refusal that leaves the body unread.
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, json)
}

#[test]
fn a_30_mib_file_goes_up_and_down_byte_identical_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let server = server(ServerConfig::default(), &media);
    let url = server.url();
    let source = dir.path().join("big.bin");
    let bytes = pattern(MAX_MEDIA_BYTES as usize);
    std::fs::write(&source, &bytes).unwrap();

    let alice = logged_in(&url, "alice");
    let upload = alice.upload_media(
        MediaKind::File,
        source.clone(),
        UploadOptions {
            file_name: "big.bin".into(),
            description: "thirty".into(),
            ..UploadOptions::default()
        },
    );
    assert!(upload.request_id().is_some());
    let progress = upload.progress();
    let message = block("the upload", upload).expect("uploaded");
    let m = media_of(&message).clone();
    assert!(matches!(message, Message::File(_)));
    assert_eq!(m.size, MAX_MEDIA_BYTES);
    assert_eq!(m.file_name, "big.bin");
    assert_eq!(m.description, "thirty");
    let reports: Vec<MediaProgress> = std::iter::from_fn(|| progress.try_recv().ok()).collect();
    // Progress is reported at most once a second: a loopback upload may take less.
    for p in &reports {
        assert_eq!(p.total, MAX_MEDIA_BYTES);
        assert!(p.current <= p.total);
    }
    // One media file, no parts left.
    assert_eq!(wait_for_files(&media, 1), vec![m.media_id.clone()]);

    // Bob gets the message, downloads the media to memory and to a file.
    let bob = logged_in(&url, "bob");
    let events = bob.events();
    block(
        "the send",
        alice.send_message_to_peer("bob", message.clone(), SendMessageOptions::default()),
    )
    .expect("sent");
    let received = block("bob's message", async {
        next_event(&events, "MessageFromPeer", |e| match e {
            Event::MessageFromPeer { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await
    });
    assert_eq!(received, message);
    let download = bob.download_media_to_memory(&m.media_id);
    let progress = download.progress();
    let got = block("the download to memory", download).expect("downloaded");
    assert_eq!(got.mime, "application/octet-stream");
    assert!(got.bytes == bytes, "the bytes are the same");
    for p in std::iter::from_fn(|| progress.try_recv().ok()) {
        assert_eq!(p.total, MAX_MEDIA_BYTES);
    }
    let target = dir.path().join("copy.bin");
    let done = block(
        "the download to a file",
        bob.download_media_to_file(&m.media_id, &target),
    )
    .expect("downloaded");
    assert_eq!(done.size, MAX_MEDIA_BYTES);
    assert!(
        std::fs::read(&target).unwrap() == bytes,
        "the file is the same"
    );
}

#[test]
fn a_message_made_from_a_media_id_sends_that_media_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let url = server.url();
    let alice = logged_in(&url, "alice");
    let bytes = pattern(5000);
    let first = block(
        "the upload",
        alice.upload_media(MediaKind::Image, bytes.clone(), UploadOptions::default()),
    )
    .expect("uploaded");
    let m = media_of(&first).clone();
    // Later: the same media to carol, from its id and size only, with a caption.
    let again = media_message(
        MediaKind::Image,
        &m.media_id,
        m.size,
        UploadOptions {
            description: "again".into(),
            width: Some(3),
            height: Some(2),
            ..UploadOptions::default()
        },
    );
    let carol = logged_in(&url, "carol");
    let events = carol.events();
    block(
        "the send",
        alice.send_message_to_peer("carol", again, SendMessageOptions::default()),
    )
    .expect("sent");
    let received = block("carol's message", async {
        next_event(&events, "MessageFromPeer", |e| match e {
            Event::MessageFromPeer { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await
    });
    let Message::Image(got) = received else {
        panic!("an IMAGE message");
    };
    assert_eq!(
        (
            got.media_id.as_str(),
            got.size,
            got.description.as_str(),
            got.width,
            got.height
        ),
        (m.media_id.as_str(), 5000, "again", 3, 2)
    );
    let downloaded = block(
        "carol's download",
        carol.download_media_to_memory(&got.media_id),
    )
    .expect("downloaded");
    assert!(downloaded.bytes == bytes);
}

#[test]
fn progress_is_reported_while_bytes_flow() {
    // A slow link: a proxy that passes 2 MiB/s, so a 5 MiB upload takes 2.5 s.
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let proxy = Proxy::start(server.local_addr(), Shape::Slow(2 << 20));
    let url = format!("ws://{}", proxy.addr);
    let alice = logged_in(&url, "alice");
    let events = alice.events();
    let bytes = pattern(5 << 20);
    let upload = alice.upload_media(MediaKind::File, bytes, UploadOptions::default());
    let request = upload.request_id().expect("started");
    let progress = upload.progress();
    let started = Instant::now();
    block("the upload", upload).expect("uploaded");
    let took = started.elapsed();
    let reports: Vec<MediaProgress> = std::iter::from_fn(|| progress.try_recv().ok()).collect();
    // At least 2.5 s at 2 MiB/s: a report a second, never more.
    assert!(
        reports.len() >= 2 && reports.len() as f64 <= took.as_secs_f64() + 1.0,
        "about one report a second over {took:?}: {reports:?}"
    );
    assert!(reports.windows(2).all(|w| w[0].current < w[1].current));
    assert!(reports.iter().all(|p| p.total == 5 << 20));
    // The same reports reach the event stream.
    let first = block("a MediaProgress event", async {
        next_event(&events, "MediaProgress", |e| match e {
            Event::MediaProgress {
                request: r,
                current,
                total,
            } if *r == request => Some((*current, *total)),
            _ => None,
        })
        .await
    });
    assert_eq!(first, (reports[0].current, reports[0].total));
}

#[test]
fn one_byte_over_30_mib_is_refused_before_the_body_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let server = server(ServerConfig::default(), &media);
    let addr = server.local_addr();

    // The client refuses it itself.
    let alice = logged_in(&server.url(), "alice");
    let over = pattern(MAX_MEDIA_BYTES as usize + 1);
    let refused = block(
        "a local refusal",
        alice.upload_media(MediaKind::File, over, UploadOptions::default()),
    );
    assert_eq!(refused.unwrap_err(), UploadMediaError::SizeOverflow);

    // Raw HTTP with a valid ticket: 413 on the head alone, nothing stored.
    let mut session = RawSession::login(addr, "carol");
    let ticket = session.ticket();
    let (status, body) = head_only(
        addr,
        &format!(
            "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
             Content-Length: {}\r\n\r\n",
            MAX_MEDIA_BYTES + 1
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("size_overflow"))
    );
    assert_eq!(files_in(&media), Vec::<String>::new());
    // The refused request used its ticket; a new one uploads exactly 30 MiB.
    let ticket = session.ticket();
    let reply = smol::block_on(async {
        let mut http = Http::connect(addr).await;
        let auth = format!("Bearer {ticket}");
        http.send(
            Method::POST,
            "/v1/media",
            &[("authorization", &auth)],
            pattern(MAX_MEDIA_BYTES as usize),
        )
        .await
    });
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.json()["size"], MAX_MEDIA_BYTES);
}

#[test]
fn a_cancel_mid_upload_leaves_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let server = server(ServerConfig::default(), &media);
    // Slow enough to cancel in the middle.
    let proxy = Proxy::start(server.local_addr(), Shape::Slow(4 << 20));
    let alice = logged_in(&format!("ws://{}", proxy.addr), "alice");
    let upload = alice.upload_media(
        MediaKind::File,
        pattern(MAX_MEDIA_BYTES as usize),
        UploadOptions::default(),
    );
    let request = upload.request_id().expect("started");
    let progress = upload.progress();
    let first = block("a first progress report", progress.recv()).expect("progress");
    assert!(first.current > 0 && first.current < first.total);
    // The upload's part file is there meanwhile.
    assert_eq!(files_in(&media).len(), 1);
    alice.cancel_media(request).expect("cancelled");
    assert_eq!(
        block("the cancelled upload", upload).unwrap_err(),
        UploadMediaError::Interrupted
    );
    // Its part file goes once the server sees the connection dropped.
    wait_for_files(&media, 0);
    // Nothing of it counts against alice: her 9 transfers and her quota are all hers
    // (proved with an upload of the whole 30 MiB at once, straight to the server).
    let alice_direct = {
        drop(alice);
        logged_in(&server.url(), "alice")
    };
    block(
        "an upload after the cancel",
        alice_direct.upload_media(
            MediaKind::File,
            pattern(MAX_MEDIA_BYTES as usize),
            UploadOptions::default(),
        ),
    )
    .expect("uploaded");
    wait_for_files(&media, 1);
}

#[test]
fn a_cancelled_download_to_a_file_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let alice = logged_in(&server.url(), "alice");
    let message = block(
        "the upload",
        alice.upload_media(MediaKind::File, pattern(8 << 20), UploadOptions::default()),
    )
    .expect("uploaded");
    let id = media_of(&message).media_id.clone();
    // Bob downloads over a slow link and cancels after the first progress report.
    let proxy = Proxy::start(server.local_addr(), Shape::Slow(2 << 20));
    let bob = logged_in(&format!("ws://{}", proxy.addr), "bob");
    let target = dir.path().join("copy.bin");
    let download = bob.download_media_to_file(&id, &target);
    let request = download.request_id().expect("started");
    let first = block("a first progress report", download.progress().recv()).expect("progress");
    assert!(first.current > 0 && first.current < first.total);
    assert!(dir.path().join("copy.bin.part").exists());
    bob.cancel_media(request).expect("cancelled");
    assert_eq!(
        block("the cancelled download", download).unwrap_err(),
        DownloadMediaError::Interrupted
    );
    assert!(!target.exists());
    assert!(!dir.path().join("copy.bin.part").exists());
    // Cancelling again: it has ended.
    assert_eq!(
        bob.cancel_media(request).unwrap_err(),
        rtm_proto::errors::CancelMediaError::NotExist
    );
}

#[test]
fn a_tenth_concurrent_transfer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let addr = server.local_addr();
    // A slow link keeps nine uploads on their way: the tenth call is refused by the client
    // at once.
    let proxy = Proxy::start(addr, Shape::Slow(1 << 20));
    let alice = logged_in(&format!("ws://{}", proxy.addr), "alice");
    let data = bytes::Bytes::from(pattern(4 << 20));
    let nine: Vec<_> = (0..9)
        .map(|_| alice.upload_media(MediaKind::File, data.clone(), UploadOptions::default()))
        .collect();
    let tenth = block(
        "the tenth",
        alice.upload_media(MediaKind::File, pattern(10), UploadOptions::default()),
    );
    assert_eq!(
        tenth.unwrap_err(),
        UploadMediaError::ConcurrencyLimitExceeded
    );
    let download = block(
        "a download beside them",
        alice.download_media_to_memory("x1"),
    );
    assert_eq!(
        download.unwrap_err(),
        DownloadMediaError::ConcurrencyLimitExceeded
    );
    for upload in nine {
        alice
            .cancel_media(upload.request_id().expect("started"))
            .expect("cancelled");
        assert_eq!(
            block("one of the nine", upload).unwrap_err(),
            UploadMediaError::Interrupted
        );
    }
    // Their slots are free again: at once in the client, and in the server once it has
    // seen their connections close (until then it answers 429). Through this proxy that
    // takes seconds: it goes on passing what the client had already written into its socket
    // buffers at 1 MiB/s before it reads the close. Tried every 250 ms: each try takes a
    // ticket, and tickets are budgeted (120 per 10 s).
    let deadline = Instant::now() + WAIT;
    loop {
        let again = block(
            "an upload after them",
            alice.upload_media(MediaKind::File, pattern(10), UploadOptions::default()),
        );
        match again {
            Ok(_) => break,
            Err(UploadMediaError::ConcurrencyLimitExceeded) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250))
            }
            Err(e) => panic!("the slots did not come back: {e:?}"),
        }
    }

    // The server counts too: nine uploads of one user in flight (heads sent, bodies not),
    // the tenth is answered 429.
    let mut session = RawSession::login(addr, "dave");
    let mut open = Vec::new();
    for _ in 0..9 {
        let ticket = session.ticket();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                format!(
                    "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
                     Content-Length: 1000\r\n\r\nabc"
                )
                .as_bytes(),
            )
            .unwrap();
        open.push(stream);
    }
    let ticket = session.ticket();
    // The nine heads may still be on their way to the core: the tenth is tried until the
    // core has seen them all.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = head_only(
            addr,
            &format!(
                "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
                 Content-Length: 10\r\n\r\n"
            ),
        );
        if status == 429 {
            assert_eq!(body["error"], "concurrency_limit_exceeded");
            break;
        }
        assert!(Instant::now() < deadline, "no 429: {status} {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(open);
}

#[test]
fn a_download_resumes_with_range_after_the_connection_drops() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let alice = logged_in(&server.url(), "alice");
    let bytes = pattern(8 << 20);
    let message = block(
        "the upload",
        alice.upload_media(MediaKind::File, bytes.clone(), UploadOptions::default()),
    )
    .expect("uploaded");
    let media_id = media_of(&message).media_id.clone();

    // Bob downloads through a proxy that cuts the first download after 3 MiB (slowly
    // enough for a progress report to say how far it got).
    let proxy = Proxy::start(server.local_addr(), Shape::CutFirstDownload(3 << 20));
    let bob = logged_in(&format!("ws://{}", proxy.addr), "bob");
    let got = block("the download", bob.download_media_to_memory(&media_id)).expect("resumed");
    assert!(got.bytes == bytes, "the resumed download is the same bytes");
    let heads = proxy.heads();
    let gets: Vec<&String> = heads
        .iter()
        .filter(|h| h.starts_with("GET /v1/media/"))
        .collect();
    assert_eq!(gets.len(), 2, "{heads:?}");
    assert!(!gets[0].to_ascii_lowercase().contains("range:"));
    let range = gets[1]
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("range: bytes=")
                .map(String::from)
        })
        .expect("the second GET has a Range");
    let from: u64 = range.trim_end_matches('-').parse().expect("bytes=N-");
    assert!(from > 0 && from <= 3 << 20, "resumed from {from}");
}

#[test]
fn ranges_heads_and_cors_over_raw_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(ServerConfig::default(), &dir.path().join("media"));
    let addr = server.local_addr();
    let mut session = RawSession::login(addr, "erin");
    // A PNG signature: the type is read from the content.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(pattern(1000));
    let ticket = session.ticket();
    let reply = smol::block_on(async {
        let mut http = Http::connect(addr).await;
        let auth = format!("Bearer {ticket}");
        let reply = http
            .send(
                Method::POST,
                "/v1/media",
                &[("authorization", &auth)],
                png.clone(),
            )
            .await;
        assert_eq!(reply.header("access-control-allow-origin"), "*");
        reply
    });
    assert_eq!(reply.status, StatusCode::CREATED);
    let uploaded = reply.json();
    assert_eq!(uploaded["mime"], "image/png");
    assert_eq!(uploaded["size"], png.len());
    let id = uploaded["media_id"].as_str().unwrap().to_string();
    let path = format!("/v1/media/{id}");
    smol::block_on(async {
        let mut http = Http::connect(addr).await;
        // Each request with a ticket of its own.
        macro_rules! get {
            ($method:expr, $range:expr) => {{
                let auth = format!("Bearer {}", session.ticket());
                let mut headers = vec![("authorization", auth.as_str())];
                if let Some(range) = $range {
                    headers.push(("range", range));
                }
                http.send($method, &path, &headers, vec![]).await
            }};
        }
        let r = get!(Method::GET, None::<&str>);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), "image/png");
        assert_eq!(r.header("accept-ranges"), "bytes");
        assert_eq!(r.body, png);
        let r = get!(Method::GET, Some("bytes=1000-"));
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.header("content-range"), "bytes 1000-1007/1008");
        assert_eq!(r.body, png[1000..]);
        let r = get!(Method::GET, Some("bytes=2-5"));
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.body, png[2..=5]);
        let r = get!(Method::GET, Some("bytes=5-2"));
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"], "bad_request");
        let r = get!(Method::GET, Some("bytes=1008-"));
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.header("content-range"), "bytes */1008");
        assert_eq!(r.json()["error"], "range_not_satisfiable");
        let r = get!(Method::HEAD, None::<&str>);
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-length"), "1008");
        assert!(r.body.is_empty());
        // A browser's preflight.
        let r = http
            .send(
                Method::OPTIONS,
                "/v1/media",
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "authorization"),
                ],
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(r.header("access-control-allow-origin"), "*");
        assert!(r
            .header("access-control-allow-headers")
            .contains("Authorization"));
        // The driver's counters.
        let metrics = String::from_utf8_lossy(&http.get("/metrics").await.body).into_owned();
        for line in [
            "rtm_media_uploads_total 1",
            "rtm_media_downloads_total 3",
            "rtm_media_sent_bytes_total 1020",
            "rtm_media_received_bytes_total 1008",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
        }
    });
}

#[test]
fn stalled_transfers_are_cut_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let mut options = ServeOptions::from(ServerConfig::default());
    options.media_dir = Some(media.clone());
    options.media_stall_timeout = Duration::from_millis(500);
    let server = spawn_server("127.0.0.1:0", options).expect("a server");
    let addr = server.local_addr();
    let mut session = RawSession::login(addr, "gina");
    // Nine uploads that send a few bytes, then nothing: each holds a transfer slot.
    let mut stalled = Vec::new();
    for _ in 0..9 {
        let ticket = session.ticket();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                format!(
                    "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
                     Content-Length: 100000\r\n\r\nsome bytes"
                )
                .as_bytes(),
            )
            .unwrap();
        stalled.push(stream);
    }
    wait_for_files(&media, 9);
    // Cut after the stall timeout: the server closes each connection without an answer.
    for mut stream in stalled {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(
            rest.is_empty(),
            "no answer: {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert!(started.elapsed() < WAIT);
    }
    // Their part files are gone, and their slots free again: a whole upload goes through.
    wait_for_files(&media, 0);
    let ticket = session.ticket();
    let reply = smol::block_on(async {
        let mut http = Http::connect(addr).await;
        let auth = format!("Bearer {ticket}");
        http.send(
            Method::POST,
            "/v1/media",
            &[("authorization", &auth)],
            pattern(8 << 20),
        )
        .await
    });
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()["media_id"].as_str().unwrap().to_string();

    // Nine downloads whose clients stop reading: cut too, once the socket buffers are full
    // and nothing has moved for the timeout.
    let mut stalled = Vec::new();
    for _ in 0..9 {
        let ticket = session.ticket();
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                format!(
                    "GET /v1/media/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        stalled.push(stream);
    }
    std::thread::sleep(Duration::from_secs(2));
    for mut stream in stalled {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        assert!(got.starts_with(b"HTTP/1.1 200"));
        assert!(
            got.len() < 8 << 20,
            "cut before the end: {} bytes",
            got.len()
        );
    }
    let ticket = session.ticket();
    let reply = smol::block_on(async {
        let mut http = Http::connect(addr).await;
        let auth = format!("Bearer {ticket}");
        http.send(
            Method::POST,
            "/v1/media",
            &[("authorization", &auth)],
            pattern(10),
        )
        .await
    });
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[test]
fn a_server_without_a_data_directory_keeps_media_in_a_temporary_one_removed_at_stop() {
    let ours = || -> Vec<PathBuf> {
        let prefix = format!("rtm-media-{}-", std::process::id());
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    };
    assert_eq!(ours(), Vec::<PathBuf>::new());
    // Memory storage and no media_dir (the library's defaults).
    let server = spawn_server("127.0.0.1:0", ServerConfig::default()).expect("a server");
    let alice = logged_in(&server.url(), "alice");
    block(
        "an upload",
        alice.upload_media(MediaKind::File, pattern(1000), UploadOptions::default()),
    )
    .expect("uploaded");
    let dirs = ours();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert_eq!(files_in(&dirs[0]).len(), 1);
    drop(alice);
    server.shutdown().expect("a clean stop");
    assert!(!dirs[0].exists(), "removed at stop");
}

#[test]
fn lengths_the_server_cannot_trust_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let server = server(ServerConfig::default(), &media);
    let addr = server.local_addr();
    let mut session = RawSession::login(addr, "hal");
    // No Content-Length (a chunked body): 411.
    let ticket = session.ticket();
    let (status, body) = head_only(
        addr,
        &format!(
            "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
             Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (411, Some("length_required"))
    );
    // Empty: 400.
    let ticket = session.ticket();
    let (status, body) = head_only(
        addr,
        &format!(
            "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
             Content-Length: 0\r\n\r\n"
        ),
    );
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    // A body shorter than announced, then the client gone: nothing stored.
    let ticket = session.ticket();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
                 Content-Length: 1000\r\n\r\nonly this"
            )
            .as_bytes(),
        )
        .unwrap();
    wait_for_files(&media, 1);
    drop(stream);
    wait_for_files(&media, 0);
    // A download with a body: 400, closed.
    let (status, _) = head_only(
        addr,
        "GET /v1/media/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(status, 400);
}

#[test]
fn a_request_without_a_valid_ticket_is_refused_401() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let server = server(ServerConfig::default(), &media);
    let addr = server.local_addr();
    let head = |auth: &str| {
        format!("POST /v1/media HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n\r\n")
    };
    for auth in [
        "",
        "Authorization: Bearer not-a-ticket\r\n",
        "Authorization: Basic b3BzOnMzY3JldA==\r\n",
    ] {
        let (status, body) = head_only(addr, &head(auth));
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized")),
            "{auth:?}"
        );
    }
    // A ticket is good for one request only.
    let mut session = RawSession::login(addr, "frank");
    let ticket = session.ticket();
    let used = smol::block_on(async {
        let mut http = Http::connect(addr).await;
        let auth = format!("Bearer {ticket}");
        let first = http
            .send(
                Method::POST,
                "/v1/media",
                &[("authorization", &auth)],
                b"hello".to_vec(),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let id = first.json()["media_id"].as_str().unwrap().to_string();
        http.send(
            Method::GET,
            &format!("/v1/media/{id}"),
            &[("authorization", &auth)],
            vec![],
        )
        .await
    });
    assert_eq!(used.status, StatusCode::UNAUTHORIZED);
    assert_eq!(used.json()["error"], "unauthorized");
    // A download without one.
    let (status, _) = head_only(addr, "GET /v1/media/abc HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 401);
}

#[test]
fn an_expired_media_id_is_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let core = ServerConfig {
        media: MediaLimits {
            retention: Duration::from_millis(800),
            ..MediaLimits::default()
        },
        ..ServerConfig::default()
    };
    let server = server(core, &media);
    let alice = logged_in(&server.url(), "alice");
    let message = block(
        "the upload",
        alice.upload_media(MediaKind::File, pattern(1000), UploadOptions::default()),
    )
    .expect("uploaded");
    let id = media_of(&message).media_id.clone();
    block("a download in time", alice.download_media_to_memory(&id)).expect("still there");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        block("a download too late", alice.download_media_to_memory(&id)).unwrap_err(),
        DownloadMediaError::NotExist
    );
    // Its file went with its record.
    wait_for_files(&media, 0);
    // A download to a file that fails leaves what was at its path as it was, and no part.
    let kept = dir.path().join("kept.txt");
    std::fs::write(&kept, "mine").unwrap();
    assert_eq!(
        block(
            "a download to a file, too late",
            alice.download_media_to_file(&id, &kept)
        )
        .unwrap_err(),
        DownloadMediaError::NotExist
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "mine");
    assert!(!dir.path().join("kept.txt.part").exists());
    // An id that never was, too.
    assert_eq!(
        block(
            "an unknown id",
            alice.download_media_to_memory("nosuchmedia")
        )
        .unwrap_err(),
        DownloadMediaError::NotExist
    );
}

#[test]
fn quota_exhaustion_has_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let core = ServerConfig {
        media: MediaLimits {
            user_bytes: 100_000,
            ..MediaLimits::default()
        },
        ..ServerConfig::default()
    };
    let server = server(core, &media);
    let alice = logged_in(&server.url(), "alice");
    let upload = |n: usize| {
        block(
            "an upload",
            alice.upload_media(MediaKind::File, pattern(n), UploadOptions::default()),
        )
    };
    upload(60_000).expect("within the quota");
    assert_eq!(upload(60_000).unwrap_err(), UploadMediaError::Failure);
    upload(40_000).expect("what is left of the quota");
    assert_eq!(wait_for_files(&media, 2).len(), 2);
    // Raw: the refusal's status and name.
    let addr = server.local_addr();
    let mut session = RawSession::login(addr, "alice2");
    drop(session.ticket());
    let mut alice_raw = {
        drop(alice);
        RawSession::login(addr, "alice")
    };
    let ticket = alice_raw.ticket();
    let (status, body) = head_only(
        addr,
        &format!(
            "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
             Content-Length: 10\r\n\r\n"
        ),
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (507, Some("quota_exceeded"))
    );
}

// ---- the binaries ----

/// `rtm-server` on a free loopback port with `extra` flags; its URL.
fn rtm_server(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--listen", "127.0.0.1:0", "--log", "info"];
    args.extend_from_slice(extra);
    let server = Proc::spawn("rtm-server", env!("CARGO_BIN_EXE_rtm-server"), &args, false);
    let url = server.listening_url();
    (server, url)
}

#[test]
fn media_survives_a_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let media = dir.path().join("media");
    let (mut server, url) = rtm_server(&["--data-dir", &data]);
    let alice = logged_in(&url, "alice");
    let bytes = pattern(3 << 20);
    let message = block(
        "the upload",
        alice.upload_media(MediaKind::File, bytes.clone(), UploadOptions::default()),
    )
    .expect("uploaded");
    let id = media_of(&message).media_id.clone();
    drop(alice);
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "rtm-server exited with {status}");
    assert_eq!(files_in(&media), vec![id.clone()]);

    let (mut server, url) = rtm_server(&["--data-dir", &data]);
    let bob = logged_in(&url, "bob");
    let got = block(
        "the download after the restart",
        bob.download_media_to_memory(&id),
    )
    .expect("still there");
    assert!(got.bytes == bytes);

    // A crash: kill -9 in the middle of an upload (its part file stays), and a file whose
    // record was never committed (a crash between the rename and the commit).
    let addr: SocketAddr = url.trim_start_matches("ws://").parse().unwrap();
    let mut session = RawSession::login(addr, "carol");
    let ticket = session.ticket();
    let mut cut = TcpStream::connect(addr).unwrap();
    cut.write_all(
        format!(
            "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ticket}\r\n\
             Content-Length: 100000\r\n\r\nthe first bytes"
        )
        .as_bytes(),
    )
    .unwrap();
    wait_for_files(&media, 2);
    std::fs::write(media.join("0123456789abcdef0123456789abcdef"), "no record").unwrap();
    server.kill9();
    drop(cut);
    assert_eq!(files_in(&media).len(), 3);
    // The next start keeps the media with a record, and only it (swept once the records are
    // restored, before any transfer is taken).
    let (_server, url) = rtm_server(&["--data-dir", &data]);
    assert_eq!(wait_for_files(&media, 1), vec![id.clone()]);
    let got = block(
        "the download after the crash",
        logged_in(&url, "dave").download_media_to_memory(&id),
    )
    .expect("still there");
    assert!(got.bytes == bytes);
}

#[test]
fn an_image_message_between_two_cli_users() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = rtm_server(&["--storage", "memory"]);
    // A PNG of 640x480 (its header is what the size is read from), 2 MB long.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x02\x80\0\0\x01\xe0\x08\x06\0\0\0".to_vec();
    png.extend(pattern(2_000_000));
    let image = dir.path().join("cat.png");
    std::fs::write(&image, &png).unwrap();

    let bob = Proc::spawn(
        "rtm listen",
        env!("CARGO_BIN_EXE_rtm"),
        &["--server", &url, "--uid", "bob", "listen"],
        true,
    );
    bob.wait_for("CONNECTED", |l| l.contains("\"CONNECTED\"").then_some(()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtm"))
        .args([
            "--server",
            &url,
            "--uid",
            "alice",
            "send-file",
            "bob",
            image.to_str().unwrap(),
            "--image",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("run rtm send-file");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "send-file failed: {stdout}");
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let uploaded = lines
        .iter()
        .find(|v| v["op"] == "upload_media")
        .unwrap_or_else(|| panic!("no upload line in {stdout}"));
    assert_eq!(uploaded["code"], 0);
    assert_eq!(uploaded["message_type"], "IMAGE");
    assert_eq!(
        (uploaded["width"].as_u64(), uploaded["height"].as_u64()),
        (Some(640), Some(480))
    );
    let sent = lines
        .iter()
        .find(|v| v["op"] == "send_message_to_peer")
        .unwrap_or_else(|| panic!("no send line in {stdout}"));
    assert_eq!(
        (sent["code"].as_u64(), sent["outcome"].as_str()),
        (Some(0), Some("received"))
    );
    // Progress, when there was any, as JSON lines (stdout is not a terminal here).
    for p in lines.iter().filter(|v| v["event"] == "MediaProgress") {
        assert_eq!(p["total"].as_u64(), Some(png.len() as u64));
    }

    let received = bob.wait_for("bob's IMAGE message", |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["event"] == "MessageFromPeer").then_some(v)
    });
    assert_eq!(received["message_type"], "IMAGE");
    assert_eq!(received["peer_id"], "alice");
    assert_eq!(received["width"], 640);
    assert_eq!(received["size"].as_u64(), Some(png.len() as u64));
    let media_id = received["media_id"]
        .as_str()
        .expect("a media id")
        .to_string();
    assert_eq!(media_id, uploaded["media_id"].as_str().unwrap());

    let copy = dir.path().join("copy.png");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rtm"))
        .args([
            "--server",
            &url,
            "--uid",
            "bob2",
            "download",
            &media_id,
            "-o",
            copy.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("run rtm download");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "download failed: {stdout}");
    let done: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["op"] == "download_media")
        .unwrap_or_else(|| panic!("no download line in {stdout}"));
    assert_eq!(
        (done["code"].as_u64(), done["mime"].as_str()),
        (Some(0), Some("image/png"))
    );
    assert!(
        std::fs::read(&copy).unwrap() == png,
        "the downloaded image is the same"
    );
}

// ---- a TCP proxy that shapes the media transfers ----

/// What the proxy does to the connections it carries.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Every connection at most this many bytes per second each way.
    Slow(usize),
    /// The first `GET /v1/media/...` answer is cut after this many bytes (sent at 4 MiB/s);
    /// everything else passes.
    CutFirstDownload(usize),
}

/// A loopback proxy in front of a server: WebSocket and HTTP pass through; it remembers the
/// head of every HTTP request it carried.
struct Proxy {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(server: SocketAddr, shape: Shape) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let downloads = Arc::new(AtomicUsize::new(0));
        let seen = heads.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let (seen, downloads) = (seen.clone(), downloads.clone());
                std::thread::spawn(move || carry(client, server, shape, seen, downloads));
            }
        });
        Proxy { addr, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn carry(
    client: TcpStream,
    server: SocketAddr,
    shape: Shape,
    heads: Arc<Mutex<Vec<String>>>,
    downloads: Arc<AtomicUsize>,
) {
    let Ok(upstream) = TcpStream::connect(server) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    // The request's head, peeked (the proxy carries one request per connection, as the
    // client's transfers do; the WebSocket's is its upgrade).
    let mut peek = [0u8; 4096];
    let n = client.peek(&mut peek).unwrap_or(0);
    let head = String::from_utf8_lossy(&peek[..n]).into_owned();
    let head = head
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    let is_download = head.starts_with("GET /v1/media/");
    heads.lock().unwrap().push(head);
    let (rate, cut) = match shape {
        Shape::Slow(rate) => (Some(rate), None),
        Shape::CutFirstDownload(after) => {
            if is_download && downloads.fetch_add(1, Ordering::SeqCst) == 0 {
                (Some(4 << 20), Some(after))
            } else {
                (None, None)
            }
        }
    };
    let up = {
        let (from, to) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        std::thread::spawn(move || pipe(from, to, rate, None))
    };
    pipe(upstream, client, rate, cut);
    let _ = up.join();
}

/// Copies `from` to `to` (at most `rate` bytes a second; closing both after `cut` bytes).
fn pipe(mut from: TcpStream, mut to: TcpStream, rate: Option<usize>, cut: Option<usize>) {
    let start = Instant::now();
    let mut moved = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut want = buf.len();
        if let Some(cut) = cut {
            want = want.min(cut - moved);
            if want == 0 {
                break;
            }
        }
        let n = match from.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        moved += n;
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(moved as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}
