//! Story: the server's port is an HTTP/1.1 server too (PROTOCOL.md "Transport"). A browser
//! gets the demo page at `/` and the Web SDK under `/sdk/`, with validators, gzip and the
//! usual refusals; a request that asks for a WebSocket, at any path, becomes an RTM
//! connection; clients that misbehave at the HTTP level are refused or timed out.

use std::io::Read;
use std::time::Duration;

use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::WebSocketStream;
use hyper::{Method, StatusCode};
use rtm_proto::ServerConfig;
use rtm_tests::{raw_exchange, run, story, within, HttpClient, RawWs, TestServer, WAIT};
use rtm_transport_smol::{ServeOptions, MAX_REQUEST_HEAD_BYTES};
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;

/// The files the server embeds (whatever their content: placeholders or the real build).
const DEMO_INDEX: &[u8] = include_bytes!("../../rtm-transport-web/demo/index.html");
const SDK_MODULE: &[u8] = include_bytes!("../../rtm-transport-web/sdk/dist/agora-rtm.mjs");

/// The headers of a valid upgrade request, with this `Sec-WebSocket-Version`.
fn upgrade_headers(version: &'static str) -> [(&'static str, &'static str); 4] {
    [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", version),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

#[test]
fn a_browser_gets_the_demo_page_and_the_sdk() {
    story(ServerConfig::default(), |server| async move {
        let mut http = HttpClient::connect(server.addr()).await;

        // The demo page at `/` (and by its own name), all on one keep-alive connection.
        let page = http.get("/", &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.header("content-type").starts_with("text/html"));
        assert_eq!(page.body, DEMO_INDEX);
        assert_eq!(page.header("cache-control"), "no-cache");
        assert!(page.header("etag").starts_with('"'), "a strong ETag");
        let by_name = http.get("/index.html", &[]).await;
        assert_eq!(by_name.body, DEMO_INDEX);
        assert_eq!(by_name.header("etag"), page.header("etag"));

        // The SDK under `/sdk/`; a query string does not matter.
        let sdk = http.get("/sdk/agora-rtm.mjs?v=1", &[]).await;
        assert_eq!(sdk.status, StatusCode::OK);
        assert!(sdk.header("content-type").starts_with("text/javascript"));
        assert_eq!(sdk.body, SDK_MODULE);
        assert_ne!(sdk.header("etag"), page.header("etag"));
        // A page served elsewhere may import it (and it fetches its wasm) cross-origin.
        assert_eq!(sdk.header("access-control-allow-origin"), "*");

        // HEAD: the same headers, no body (the next request on the connection still works).
        let head = http.send(Method::HEAD, "/", &[], b"").await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.header("content-length"), DEMO_INDEX.len().to_string());
        assert_eq!(head.header("etag"), page.header("etag"));
        assert!(head.body.is_empty());
        assert_eq!(http.get("/", &[]).await.body, DEMO_INDEX);

        // Revalidation: the ETag gives 304 without a body; another ETag gives the file.
        let etag = page.header("etag");
        let cached = http.get("/", &[("if-none-match", etag)]).await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
        assert!(cached.body.is_empty());
        assert_eq!(cached.header("etag"), etag);
        let stale = http.get("/", &[("if-none-match", "\"0123\"")]).await;
        assert_eq!(stale.status, StatusCode::OK);
        assert_eq!(stale.body, DEMO_INDEX);

        // gzip to a client that accepts it, with its own ETag, revalidated the same way.
        for (path, file) in [("/", DEMO_INDEX), ("/sdk/agora-rtm.mjs", SDK_MODULE)] {
            let gz = http
                .get(path, &[("accept-encoding", "br, gzip;q=0.8")])
                .await;
            assert_eq!(gz.status, StatusCode::OK);
            assert_eq!(gz.header("content-encoding"), "gzip");
            assert_eq!(gz.header("vary"), "Accept-Encoding");
            assert_eq!(gunzip(&gz.body), file, "{path} decompresses to the file");
            let gz_etag = gz.header("etag");
            let again = http
                .get(
                    path,
                    &[("accept-encoding", "gzip"), ("if-none-match", gz_etag)],
                )
                .await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        }
        assert_ne!(
            http.get("/", &[("accept-encoding", "gzip")])
                .await
                .header("etag"),
            etag
        );
        // Not to one that refuses it.
        let plain = http.get("/", &[("accept-encoding", "gzip;q=0")]).await;
        assert_eq!(plain.header("content-encoding"), "");
        assert_eq!(plain.body, DEMO_INDEX);
    });
}

#[test]
fn unknown_paths_other_methods_and_bodies_are_refused() {
    story(ServerConfig::default(), |server| async move {
        let mut http = HttpClient::connect(server.addr()).await;
        // Exact lookups only: no traversal, no directory listing, no other file.
        for path in [
            "/nope",
            "/sdk/",
            "/sdk",
            "/sdk/../index.html",
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "//index.html",
            "/index.html/",
        ] {
            let reply = http.get(path, &[]).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        }
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
            let reply = http.send(method.clone(), "/", &[], b"").await;
            assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(reply.header("allow"), "GET, HEAD");
        }
        // Still served on the same connection.
        assert_eq!(http.get("/", &[]).await.status, StatusCode::OK);

        // A request with a body: refused, and the connection closed after the answer.
        let mut http = HttpClient::connect(server.addr()).await;
        let post = http.send(Method::POST, "/", &[], b"hello").await;
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.header("connection"), "close");
        assert!(http.closed().await);
        let mut http = HttpClient::connect(server.addr()).await;
        let get = http.send(Method::GET, "/", &[], b"hello").await;
        assert_eq!(get.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(http.closed().await);
    });
}

#[test]
fn bad_websocket_upgrades_get_400() {
    story(ServerConfig::default(), |server| async move {
        let mut http = HttpClient::connect(server.addr()).await;
        let old = http.get("/", &upgrade_headers("8")).await;
        assert_eq!(old.status, StatusCode::BAD_REQUEST);
        assert_eq!(old.header("sec-websocket-version"), "13");

        let mut bad_key = upgrade_headers("13");
        bad_key[3].1 = "c2hvcnQ=";
        let reply = http.get("/", &bad_key).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        let no_connection = &upgrade_headers("13")[1..];
        let reply = http.get("/", no_connection).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        // The refusals left the connection usable, and no RTM connection was opened.
        assert_eq!(http.get("/", &[]).await.status, StatusCode::OK);
    });
}

#[test]
fn a_websocket_opens_at_any_path_and_after_http_requests() {
    story(ServerConfig::default(), |server| async move {
        // Any path: the SDK may connect to `ws://host:port/` or to a path of its own.
        let mut raw = RawWs::connect(&format!("{}/rtm/v1?app=demo", server.url())).await;
        raw.login("alice").await;

        // On a connection that first fetched the page, upgraded through hyper's client.
        let mut http = HttpClient::connect(server.addr()).await;
        assert_eq!(http.get("/", &[]).await.status, StatusCode::OK);
        let response = http.send_upgrade("/", &upgrade_headers("13")).await;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "RFC 6455's example key and answer"
        );
        let upgraded = within(WAIT, "the upgrade", hyper::upgrade::on(response))
            .await
            .expect("upgraded");
        let parts = upgraded
            .downcast::<FuturesIo<TcpStream>>()
            .expect("the client's own socket");
        assert!(parts.read_buf.is_empty());
        let ws = WebSocketStream::from_raw_socket(parts.io.into_inner(), Role::Client, None).await;
        let mut bob = RawWs::from_stream(ws);
        bob.login("bob").await;
    });
}

#[test]
fn oversized_heads_and_stalled_requests_are_cut_off() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::start_with(ServeOptions {
        handshake_timeout: timeout,
        ..ServerConfig::default().into()
    });
    let addr = server.addr();
    run(async {
        // A head larger than the bound: 431 (or a close before all of it was read).
        let big = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(MAX_REQUEST_HEAD_BYTES + 1)
        );
        let (reply, _) = raw_exchange(addr, big.as_bytes()).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
            "refused: {reply:?}"
        );

        // Half a request, then nothing: closed once the timeout passes, nothing answered.
        let (reply, lasted) = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        assert!(reply.is_empty(), "{:?}", String::from_utf8_lossy(&reply));
        assert!(lasted >= timeout, "closed after {lasted:?}");
        // Nothing at all: the same.
        let (reply, lasted) = raw_exchange(addr, b"").await;
        assert!(reply.is_empty() && lasted >= timeout);

        // A keep-alive connection that fetched a file and went idle: closed too.
        let (reply, lasted) = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 200 OK"));
        assert!(lasted >= timeout, "closed after {lasted:?}");

        // HEAD sends no body bytes at all.
        let (reply, _) = raw_exchange(
            addr,
            b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(reply.ends_with(b"\r\n\r\n"), "no body after the head");

        // A WebSocket that upgraded in time is not cut off by the timeout.
        let mut raw = RawWs::connect(server.url()).await;
        smol::Timer::after(timeout * 2).await;
        raw.login("carol").await;
    });
    server.stop();
}

#[test]
fn shutdown_closes_idle_http_connections_at_once() {
    let server = TestServer::start(ServerConfig::default());
    let http = run(async {
        let mut http = HttpClient::connect(server.addr()).await;
        assert_eq!(http.get("/", &[]).await.status, StatusCode::OK);
        http
    });
    let stopper = std::thread::spawn(move || server.stop());
    run(async { assert!(http.closed().await) });
    stopper.join().expect("the server stopped");
}
