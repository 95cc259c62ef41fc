//! The static files: the Web SDK (`rtm-transport-web/sdk/dist/`, served under `/sdk/`) and the
//! demo page (`rtm-transport-web/demo/`, served at `/`), embedded at compile time.
//!
//! A request path is looked up exactly in a table built once from the embedded files: no path
//! is ever joined, normalised or read from disk, so there is nothing to traverse. A path
//! ending in `/` means its `index.html`. Files and directories whose name starts with `.`
//! are left out.
//!
//! Files may be loaded from any origin (`Access-Control-Allow-Origin: *`): a page served
//! elsewhere can import the SDK from its RTM server.
//!
//! Every file has a strong ETag (a hash of its bytes, computed once when the table is built)
//! and `Cache-Control: no-cache`: browsers revalidate each time and get 304 while the file is
//! unchanged. Text types and wasm go out gzip-compressed to clients that accept it; each
//! file is compressed once, on its first such request, on a blocking thread (not on the
//! server's executor, which also runs the core), and kept.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::Full;
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CACHE_CONTROL,
    CONNECTION, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Response, StatusCode};
use include_dir::Dir;
use sha2::{Digest, Sha256};

use super::Answer;

/// `rtm-transport-web/sdk/dist/`, served under [`SDK_PREFIX`].
#[cfg(rtm_web_sdk)]
static SDK: Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../rtm-transport-web/sdk/dist");
#[cfg(not(rtm_web_sdk))]
static SDK: Dir<'static> = Dir::new("", &[]);

/// `rtm-transport-web/demo/`, served at `/`.
#[cfg(rtm_web_demo)]
static DEMO: Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/../rtm-transport-web/demo");
#[cfg(not(rtm_web_demo))]
static DEMO: Dir<'static> = Dir::new("", &[]);

/// The URL prefix of the Web SDK's files. The demo's own files never shadow it.
pub const SDK_PREFIX: &str = "/sdk/";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// Whether it is sent gzip-compressed to clients that accept gzip.
    compressible: bool,
    etag: HeaderValue,
    gzip: OnceLock<Gzipped>,
}

/// The gzip-compressed form of an asset.
#[derive(Debug)]
struct Gzipped {
    body: Bytes,
    etag: HeaderValue,
}

impl Asset {
    fn new(path: &str, body: &'static [u8]) -> Asset {
        let (content_type, compressible) = content_type(path);
        let hash = Sha256::digest(body);
        let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            body,
            content_type,
            compressible,
            etag: HeaderValue::try_from(format!("\"{hex}\"")).expect("hex is a valid header"),
            gzip: OnceLock::new(),
        }
    }

    /// The compressed form, made on the first call.
    fn gzipped(&self) -> &Gzipped {
        self.gzip.get_or_init(|| {
            use std::io::Write;
            let mut encoder = GzEncoder::new(
                Vec::with_capacity(self.body.len() / 3 + 64),
                Compression::best(),
            );
            let body = encoder
                .write_all(self.body)
                .and_then(|()| encoder.finish())
                .expect("compressing into memory cannot fail");
            let tag = self.etag.to_str().unwrap_or_default().trim_end_matches('"');
            Gzipped {
                body: Bytes::from(body),
                etag: HeaderValue::try_from(format!("{tag}-gzip\"")).expect("a valid header"),
            }
        })
    }
}

/// The table of every embedded file by URL path, built on first use.
fn table() -> &'static BTreeMap<String, Asset> {
    static TABLE: OnceLock<BTreeMap<String, Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = BTreeMap::new();
        add_dir(&mut table, &DEMO, "/");
        table.retain(|path, _| !path.starts_with(SDK_PREFIX));
        add_dir(&mut table, &SDK, SDK_PREFIX);
        table
    })
}

fn add_dir(table: &mut BTreeMap<String, Asset>, dir: &'static Dir<'static>, prefix: &str) {
    for file in dir.files() {
        let Some(path) = file.path().to_str() else {
            continue; // not UTF-8: no URL names it
        };
        if path.split('/').any(|part| part.starts_with('.')) {
            continue;
        }
        let url = format!("{prefix}{path}");
        table.insert(url.clone(), Asset::new(&url, file.contents()));
    }
    for sub in dir.dirs() {
        add_dir(table, sub, prefix);
    }
}

/// Builds the table (hashing every file) if it is not built yet. The server calls it on a
/// blocking thread at start, so the first request does not pay for it on the executor.
pub(crate) fn init() {
    table();
}

/// The URL paths served, in order (for logs and tests).
pub fn paths() -> impl Iterator<Item = &'static str> {
    table().keys().map(String::as_str)
}

/// The `Content-Type` of a file by its extension, and whether it is worth compressing.
fn content_type(path: &str) -> (&'static str, bool) {
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "js" | "mjs" | "cjs" => ("text/javascript; charset=utf-8", true),
        "wasm" => ("application/wasm", true),
        // `.d.ts` too.
        "ts" | "mts" | "cts" => ("application/typescript; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "css" => ("text/css; charset=utf-8", true),
        "svg" => ("image/svg+xml", true),
        "txt" | "md" => ("text/plain; charset=utf-8", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "ico" => ("image/x-icon", false),
        "webp" => ("image/webp", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

/// An empty response with this status.
pub(super) fn status(code: StatusCode) -> Answer {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// The answer to a request that is not a WebSocket upgrade. `has_body`: the request carries
/// a body, which no route takes.
pub(super) async fn respond(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    has_body: bool,
) -> Answer {
    let mut response = answer(method, path, headers, has_body).await;
    if has_body {
        // The body is never read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn answer(method: &Method, path: &str, headers: &HeaderMap, has_body: bool) -> Answer {
    let key;
    let path = if path.ends_with('/') {
        key = format!("{path}index.html");
        key.as_str()
    } else {
        path
    };
    let Some(asset) = table().get(path) else {
        return status(StatusCode::NOT_FOUND);
    };
    if method != Method::GET && method != Method::HEAD {
        let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if has_body {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let gzip = asset.compressible && accepts_gzip(headers);
    let (body, etag) = match gzip {
        false => (Bytes::from_static(asset.body), &asset.etag),
        true => {
            let gzipped = match asset.gzip.get() {
                Some(gzipped) => gzipped,
                None => smol::unblock(move || asset.gzipped()).await,
            };
            (gzipped.body.clone(), &gzipped.etag)
        }
    };
    let not_modified = matches_none_of(headers, etag);
    let mut response = if not_modified {
        status(StatusCode::NOT_MODIFIED)
    } else {
        Response::new(Full::new(body))
    };
    let h = response.headers_mut();
    h.insert(ETAG, etag.clone());
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // An app served from elsewhere may import the SDK from its RTM server, and the module
    // then fetches its wasm from there: both are cross-origin loads that need CORS. The
    // files are public and no credentials are involved.
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if asset.compressible {
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if !not_modified {
        h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

/// Whether `Accept-Encoding` accepts gzip: `gzip` (or `x-gzip`) with a non-zero q-value, or
/// else `*` with one.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    let items = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut params = item.split(';');
        let coding = params.next().unwrap_or_default().trim();
        let q = params
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("q")
                    .then_some(value.trim())
            })
            .next_back()
            .map_or(Some(1.0), |q| q.parse::<f32>().ok());
        let accepted = q.is_some_and(|q| q > 0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(accepted);
        } else if coding == "*" {
            any = Some(accepted);
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 §13.1.2 asks) or is
/// `*`.
fn matches_none_of(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| {
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag.as_bytes()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn gzip_is_accepted_by_name_or_wildcard_unless_q_is_zero() {
        let accepts = |v| accepts_gzip(&headers(&[("accept-encoding", v)]));
        assert!(accepts("gzip"));
        assert!(accepts("deflate, gzip;q=0.5, br"));
        assert!(accepts("GZIP"));
        assert!(accepts("x-gzip"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip; q=0.000, *"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let matches = |v| matches_none_of(&headers(&[("if-none-match", v)]), &etag);
        assert!(matches("\"abc\""));
        assert!(matches("W/\"abc\""));
        assert!(matches("\"x\", \"abc\""));
        assert!(matches("*"));
        assert!(!matches("\"abcd\""));
        assert!(!matches("abc"));
        assert!(!matches_none_of(&HeaderMap::new(), &etag));
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("/index.html").0, "text/html; charset=utf-8");
        assert_eq!(
            content_type("/sdk/agora-rtm.mjs").0,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/sdk/rtm_bg.wasm"), ("application/wasm", true));
        assert_eq!(
            content_type("/sdk/agora-rtm.d.ts").0,
            "application/typescript; charset=utf-8"
        );
        assert_eq!(content_type("/sdk/agora-rtm.mjs.map").0, "application/json");
        assert_eq!(content_type("/logo.png"), ("image/png", false));
        assert_eq!(content_type("/LICENSE").0, "application/octet-stream");
    }

    #[test]
    fn gzip_round_trips_and_has_its_own_etag() {
        use std::io::Read;
        let asset = Asset::new("/a.js", b"console.log('hello'); console.log('hello');");
        let gz = asset.gzipped();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut out)
            .expect("valid gzip");
        assert_eq!(out, asset.body);
        assert_ne!(gz.etag, asset.etag);
        assert!(gz.etag.to_str().is_ok_and(|t| t.ends_with("-gzip\"")));
    }

    #[test]
    fn the_table_has_the_demo_index_and_no_hidden_files() {
        assert!(paths().all(|p| p.starts_with('/') && !p.contains("/.")));
        #[cfg(rtm_web_demo)]
        assert!(paths().any(|p| p == "/index.html"));
    }
}
