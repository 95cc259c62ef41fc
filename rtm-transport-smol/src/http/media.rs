//! `/v1/media`: uploads and downloads of the files and images of FILE/IMAGE messages
//! (issue #14; PROTOCOL.md has the contract). The core decides everything about them —
//! who may (the ticket in `Authorization: Bearer`), how much (sizes, quotas, concurrency),
//! which media id, what each refusal says — through `MediaCall`s and `MediaOp`s
//! (`transfers.rs`); this module only moves bytes between the socket and the media
//! files (`media_files.rs`) and speaks HTTP:
//!
//! * `POST /v1/media`: the body is streamed to a `*.part` file in chunks of at most
//!   [`WRITE_CHUNK`] (never whole in memory), at most the `Content-Length` hyper framed it
//!   with; its first bytes are kept to sniff the MIME type; then fsync, rename to the media
//!   id's file, `Uploaded`, and the core's answer once its record is committed. A refusal
//!   before the body (401, 411, 413, 429, 507...) is answered at once and the connection
//!   closed after it, so the refused body is never read, let alone stored.
//! * `GET` / `HEAD /v1/media/{id}`: the file is streamed from disk in chunks of
//!   [`READ_CHUNK`] as the socket takes them (`FileBody`), whole (200) or from a `Range`
//!   (206; 416 when unsatisfiable).
//! * `OPTIONS` and every answer here carry CORS headers: a web page uploads with an
//!   `Authorization` header, which makes browsers ask first.
//!
//! What the driver decides itself is only about HTTP and its own resources: a body that
//! does not match its declared length is 400, a request with no ticket queue room 503
//! `busy`, a file that cannot be written 503 `not_stored`, a file that cannot be read 404
//! `not_exist`, and a transfer with no byte moved for
//! [`crate::ServeOptions::media_stall_timeout`] is cut (its connection dropped; see
//! `Activity` in the parent module).

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_RANGES, ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH,
    CONTENT_RANGE, CONTENT_TYPE, ORIGIN, RANGE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use tracing::{debug, warn};

use super::{Busy, Moving, Routes};
use crate::admin::Unanswered;
use crate::file_chunks::FileChunks;
use crate::media_files::MediaFiles;
use crate::metrics::DriverMetrics;
use crate::transfers::{End, MediaQueue, Transfer};
use rtm_proto::media::sniff_mime;
use rtm_proto::server::media::{MediaCall, MediaOp};

/// The upload endpoint; a download is `MEDIA_PATH/{media_id}` (the core's constants).
pub const MEDIA_PATH: &str = rtm_proto::media::UPLOAD_PATH;

/// Bytes gathered from an upload's body before they are written to its file.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// Bytes read from a file per frame of a download.
pub const READ_CHUNK: usize = 64 * 1024;

/// The first bytes of an upload kept for `sniff_mime` (every signature it knows is within
/// the first few).
const SNIFF_BYTES: usize = 4096;

/// A response of this module: JSON or empty in memory, or a file streamed from disk.
pub(crate) type MediaAnswer = Response<Either<Full<Bytes>, FileBody>>;

/// What the media routes need.
#[derive(Debug)]
pub(crate) struct Media {
    pub queue: MediaQueue,
    pub files: Arc<MediaFiles>,
}

/// Whether `path` is one of the media endpoints (checked before the REST API's `/v1`).
pub(super) fn is_media(path: &str) -> bool {
    path == MEDIA_PATH
        || path
            .strip_prefix(MEDIA_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Answers a request under [`MEDIA_PATH`]. `busy` keeps the connection's HTTP phase from
/// ending while a download's body is still being written.
pub(super) async fn respond(req: Request<Incoming>, routes: &Routes, busy: Busy) -> MediaAnswer {
    let origin = cors_origin(req.headers(), routes);
    let mut response = answer(req, routes, busy).await;
    let h = response.headers_mut();
    if let Some(origin) = origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Range, Content-Length, Content-Type"),
        );
    }
    if routes.origins.is_some() {
        h.insert(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn answer(req: Request<Incoming>, routes: &Routes, busy: Busy) -> MediaAnswer {
    let Some(media) = &routes.media else {
        return failure(StatusCode::NOT_FOUND, "not_exist", "media is off");
    };
    let has_body = !req.body().is_end_stream();
    let method = req.method().clone();
    let path = req.uri().path();
    if method == Method::OPTIONS {
        return closing_if(has_body, preflight());
    }
    if path == MEDIA_PATH {
        if method != Method::POST {
            return not_allowed("POST, OPTIONS");
        }
        return upload(req, media, &routes.metrics, &busy).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return not_allowed("GET, HEAD, OPTIONS");
    }
    if has_body {
        return closing(failure(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a download has no request body",
        ));
    }
    download(req, media, &routes.metrics, busy).await
}

/// The ticket of `Authorization: Bearer <ticket>` (empty if there is none: the core then
/// refuses it as it would any unknown ticket).
fn ticket(headers: &HeaderMap) -> String {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    match value.split_once(' ') {
        Some((scheme, ticket)) if scheme.eq_ignore_ascii_case("bearer") => {
            ticket.trim().to_string()
        }
        _ => String::new(),
    }
}

/// The HTTP task's view of a core that could not be asked.
fn unanswered(why: Unanswered) -> MediaAnswer {
    let mut response = failure(StatusCode::SERVICE_UNAVAILABLE, "busy", &why.to_string());
    response
        .headers_mut()
        .insert(hyper::header::RETRY_AFTER, HeaderValue::from(1));
    response
}

async fn upload(
    req: Request<Incoming>,
    media: &Media,
    metrics: &DriverMetrics,
    busy: &Busy,
) -> MediaAnswer {
    let (parts, mut body) = req.into_parts();
    // hyper's framing: exact for a `Content-Length` body, unknown for a chunked one.
    let declared = body.size_hint().exact();
    let id = media.queue.next_id();
    let begin = MediaCall::BeginUpload {
        transfer: id,
        ticket: ticket(&parts.headers),
        size: declared,
    };
    let mut transfer = match media.queue.begin(id, begin) {
        Ok(transfer) => transfer,
        Err(why) => return closing(unanswered(why)),
    };
    let media_id = match transfer.next_op().await {
        Some(MediaOp::UploadAccepted { media_id, .. }) => media_id,
        // Refused before a byte of the body was read: the connection cannot carry another
        // request after it.
        other => return closing(final_answer(other)),
    };
    let limit = declared.unwrap_or(0);
    let moving = busy.moving();
    let files = media.files.clone();
    let created = smol::unblock(move || files.create_part()).await;
    let (file, part) = match created {
        Ok(created) => created,
        Err(e) => {
            warn!(error = %e, "media: cannot create an upload's file");
            return closing(not_stored());
        }
    };
    let mut part = PartFile {
        path: Some(part),
        writer: Some(ChunkWriter::new(file)),
    };
    let mut head = Vec::with_capacity(SNIFF_BYTES.min(limit as usize));
    let mut received = 0u64;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                debug!(transfer = id.0, error = %e, "media: upload body broken");
                return closing(failure(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body could not be read to its end",
                ));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        received += data.len() as u64;
        if received > limit {
            return closing(failure(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body is longer than its Content-Length",
            ));
        }
        moving.touch();
        metrics.media_bytes_received(data.len());
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
        }
        if let Err(e) = part.write(data).await {
            warn!(error = %e, "media: cannot write an upload's file");
            return closing(not_stored());
        }
    }
    if received != limit {
        return closing(failure(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body is shorter than its Content-Length",
        ));
    }
    let uploaded = MediaCall::Uploaded {
        transfer: transfer.id(),
        size: received,
        mime: sniff_mime(&head).to_string(),
    };
    let end = transfer.take_end();
    let (committed, end) = part.commit(&media.files, &media_id, end, uploaded).await;
    transfer.put_end(end);
    if let Err(e) = committed {
        warn!(error = %e, "media: cannot store an upload's file");
        return closing(not_stored());
    }
    let answer = transfer.next_op().await;
    if matches!(answer, Some(MediaOp::Answer { status: 201, .. })) {
        metrics.media_upload();
    }
    final_answer(answer)
}

/// The core's last word on a transfer, as an HTTP answer.
fn final_answer(op: Option<MediaOp>) -> MediaAnswer {
    match op {
        Some(MediaOp::Answer { status, body, .. }) => core_answer(status, body),
        None => unanswered(Unanswered::Stopped),
        Some(other) => {
            warn!(?other, "media: the core answered a transfer out of turn");
            failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "unexpected answer",
            )
        }
    }
}

async fn download(
    req: Request<Incoming>,
    media: &Media,
    metrics: &DriverMetrics,
    busy: Busy,
) -> MediaAnswer {
    let requested = req.uri().path()[MEDIA_PATH.len() + 1..].to_string();
    let id = media.queue.next_id();
    let begin = MediaCall::BeginDownload {
        transfer: id,
        ticket: ticket(req.headers()),
        media_id: requested,
    };
    let transfer = match media.queue.begin(id, begin) {
        Ok(transfer) => transfer,
        Err(why) => return unanswered(why),
    };
    let (media_id, size, mime) = match transfer.next_op().await {
        Some(MediaOp::DownloadAccepted {
            media_id,
            size,
            mime,
            ..
        }) => (media_id, size, mime),
        other => return final_answer(other),
    };
    let (start, end, partial) = match byte_range(req.headers(), size) {
        Range::Whole => (0, size.saturating_sub(1), false),
        Range::Part(start, end) => (start, end, true),
        Range::Malformed => {
            return failure(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "malformed Range (expected bytes=N-, bytes=N-M or bytes=-N)",
            )
        }
        Range::Unsatisfiable => {
            let mut response = failure(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                &format!("the media has {size} bytes"),
            );
            response.headers_mut().insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII"),
            );
            return response;
        }
    };
    let length = end + 1 - start;
    let files = media.files.clone();
    let opened = {
        let media_id = media_id.clone();
        smol::unblock(move || files.open_at(&media_id, start)).await
    };
    let file = match opened {
        Ok((file, on_disk)) if on_disk >= size => file,
        Ok((_, on_disk)) => {
            warn!(%media_id, size, on_disk, "media: a file is shorter than its record");
            return gone();
        }
        Err(e) => {
            warn!(%media_id, error = %e, "media: a recorded file cannot be read");
            return gone();
        }
    };
    let mut response = if req.method() == Method::HEAD {
        Response::new(Either::Left(Full::new(Bytes::new())))
    } else {
        metrics.media_download();
        Response::new(Either::Right(FileBody {
            chunks: FileChunks::new(file),
            remaining: length,
            held: Box::new((transfer, busy.moving(), busy)),
            metrics: metrics.clone(),
        }))
    };
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&mime)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if partial {
        h.insert(
            CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).expect("ASCII"),
        );
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// What a `Range` header asks of a media of `size` bytes (RFC 9110 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// No range, or one this server ignores (several ranges, a unit other than bytes):
    /// the whole media, 200.
    Whole,
    /// `bytes=` followed by something that is not one range (PROTOCOL.md: 400
    /// `bad_request`, where RFC 9110 would let a server ignore it: a client that asks for a
    /// resume must not silently get the whole file again).
    Malformed,
    /// Bytes `start..=end`, 206.
    Part(u64, u64),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

fn byte_range(headers: &HeaderMap, size: u64) -> Range {
    let Some(value) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return Range::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    if size == 0 {
        return Range::Unsatisfiable; // no byte to start from (no media is empty)
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Malformed;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(n)) => match n {
            0 => Range::Unsatisfiable,
            n => Range::Part(size.saturating_sub(n), size - 1),
        },
        (false, Some(start), None) if last.trim().is_empty() => {
            if start >= size {
                Range::Unsatisfiable
            } else {
                Range::Part(start, size - 1)
            }
        }
        (false, Some(start), Some(end)) if start <= end => {
            if start >= size {
                Range::Unsatisfiable
            } else {
                Range::Part(start, end.min(size - 1))
            }
        }
        _ => Range::Malformed,
    }
}

/// A download's body: the file read [`READ_CHUNK`] at a time on the blocking pool, each
/// chunk handed to hyper once it asks for more (so at most one chunk per download is in
/// memory, however slow the reader). Holds the transfer (its end is reported when the body
/// is dropped: written out, or the connection gone) and the connection's busy and moving
/// marks.
pub(crate) struct FileBody {
    chunks: FileChunks,
    remaining: u64,
    /// Boxed: keeps the body `Unpin`.
    held: Box<(Transfer, Moving, Busy)>,
    metrics: DriverMetrics,
}

impl std::fmt::Debug for FileBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        this.poll_chunk(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

impl FileBody {
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = self.remaining.min(READ_CHUNK as u64) as usize;
        match ready!(self.chunks.poll_next(cx, want)) {
            Ok(chunk) => {
                self.remaining -= chunk.len() as u64;
                self.held.1.touch();
                self.metrics.media_bytes_sent(chunk.len());
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// An upload's `*.part` file: removed when dropped unless committed (the upload failed,
/// was refused, or its client went away).
struct PartFile {
    path: Option<PathBuf>,
    writer: Option<ChunkWriter>,
}

impl PartFile {
    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.write(data).await,
            None => Err(io::Error::other("the upload's file failed before")),
        }
    }

    /// Writes what is left, then fsyncs and renames the file to `media_id`'s and reports
    /// `uploaded` to the core. That last step runs as one job on the blocking pool holding
    /// the transfer's `end`: if this task is dropped meanwhile (the client went away), the
    /// core still hears `Uploaded` before `Ended` (and commits a record for the file), or, if
    /// the file could not be stored, its part is removed; no file is left without a record.
    /// Gives the `end` back.
    async fn commit(
        &mut self,
        files: &Arc<MediaFiles>,
        media_id: &str,
        end: Option<End>,
        uploaded: MediaCall,
    ) -> (io::Result<()>, Option<End>) {
        let Some(writer) = self.writer.take() else {
            return (
                Err(io::Error::other("the upload's file failed before")),
                end,
            );
        };
        let file = match writer.finish().await {
            Ok(file) => file,
            Err(e) => return (Err(e), end),
        };
        // From here the job owns the part file.
        let part = self.path.take().expect("not committed yet");
        let (files, media_id) = (files.clone(), media_id.to_string());
        smol::unblock(move || {
            let committed = files.commit(file, &part, &media_id);
            match (&committed, &end) {
                (Ok(()), Some(end)) => end.report(uploaded),
                (Ok(()), None) => {}
                (Err(_), _) => MediaFiles::remove_part(&part),
            }
            (committed, end)
        })
        .await
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            drop(self.writer.take());
            MediaFiles::remove_part(&path);
        }
    }
}

/// Gathers data into chunks of [`WRITE_CHUNK`] and writes each on the blocking pool.
struct ChunkWriter {
    file: Option<File>,
    buf: BytesMut,
}

impl ChunkWriter {
    fn new(file: File) -> Self {
        ChunkWriter {
            file: Some(file),
            buf: BytesMut::with_capacity(WRITE_CHUNK),
        }
    }

    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        // Written before it would grow past a chunk: the buffer is never reallocated.
        if self.buf.len() + data.len() > WRITE_CHUNK {
            self.flush().await?;
        }
        if data.len() >= WRITE_CHUNK {
            return self.write_chunk(data).await;
        }
        self.buf.extend_from_slice(&data);
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // The full buffer goes to the blocking pool; a fresh one takes its place.
        let chunk = std::mem::replace(&mut self.buf, BytesMut::with_capacity(WRITE_CHUNK));
        self.write_chunk(chunk.freeze()).await
    }

    async fn write_chunk(&mut self, chunk: Bytes) -> io::Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("failed before"))?;
        let (file, written) = smol::unblock(move || {
            let written = file.write_all(&chunk);
            (file, written)
        })
        .await;
        written?;
        self.file = Some(file);
        Ok(())
    }

    async fn finish(mut self) -> io::Result<File> {
        self.flush().await?;
        self.file
            .take()
            .ok_or_else(|| io::Error::other("failed before"))
    }
}

/// The `Access-Control-Allow-Origin` of a media answer: `*` when every origin may open a
/// WebSocket, the request's own `Origin` when the list allows it, none otherwise (the
/// browser then keeps the answer from the page).
fn cors_origin(headers: &HeaderMap, routes: &Routes) -> Option<HeaderValue> {
    match &routes.origins {
        None => Some(HeaderValue::from_static("*")),
        Some(origins) => {
            origins.check(headers).ok()?;
            headers.get(ORIGIN).cloned()
        }
    }
}

/// The answer to a CORS preflight.
fn preflight() -> MediaAnswer {
    let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Range, Content-Type"),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
    response
}

fn not_allowed(allow: &'static str) -> MediaAnswer {
    let mut response = failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    closing(response)
}

fn not_stored() -> MediaAnswer {
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_stored",
        "the server could not store the file",
    )
}

/// A recorded media whose file is missing or short (removed by hand, a damaged disk): as
/// far as the client can tell, it does not exist.
fn gone() -> MediaAnswer {
    failure(
        StatusCode::NOT_FOUND,
        "not_exist",
        "the media's file is gone",
    )
}

/// The core's answer, as it is (JSON).
fn core_answer(status: u16, body: Bytes) -> MediaAnswer {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, body)
}

fn json(status: StatusCode, body: Bytes) -> MediaAnswer {
    let mut response = Response::new(Either::Left(Full::new(body)));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A failure the driver answers itself, in the core's shape: `{"error", "message"}`.
fn failure(status: StatusCode, error: &str, message: &str) -> MediaAnswer {
    let body = serde_json::json!({ "error": error, "message": message }).to_string();
    json(status, Bytes::from(body))
}

/// The request's body was not read to its end: the connection cannot carry another request.
fn closing(mut response: MediaAnswer) -> MediaAnswer {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn closing_if(has_body: bool, response: MediaAnswer) -> MediaAnswer {
    if has_body {
        closing(response)
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Range {
        let mut h = HeaderMap::new();
        h.insert(RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&h, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Range::Whole);
        assert_eq!(range("bytes=0-", 10), Range::Part(0, 9));
        assert_eq!(range("bytes=4-", 10), Range::Part(4, 9));
        assert_eq!(range("bytes=9-", 10), Range::Part(9, 9));
        assert_eq!(range("bytes=10-", 10), Range::Unsatisfiable);
        assert_eq!(range("bytes=2-5", 10), Range::Part(2, 5));
        assert_eq!(range("bytes=2-50", 10), Range::Part(2, 9));
        assert_eq!(range("bytes=12-50", 10), Range::Unsatisfiable);
        assert_eq!(range("bytes=-3", 10), Range::Part(7, 9));
        assert_eq!(range("bytes=-30", 10), Range::Part(0, 9));
        assert_eq!(range("bytes=-0", 10), Range::Unsatisfiable);
        // Ignored: served whole.
        for ignored in ["bytes=0-1,4-5", "items=0-1"] {
            assert_eq!(range(ignored, 10), Range::Whole, "{ignored}");
        }
        for malformed in [
            "bytes=5-2",
            "bytes=a-",
            "bytes=-",
            "bytes=",
            "bytes=7",
            "bytes=+1-",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(range(malformed, 10), Range::Malformed, "{malformed}");
        }
    }

    #[test]
    fn tickets_are_bearer_credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(ticket(&h), "");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(ticket(&h), "abc");
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  abc "));
        assert_eq!(ticket(&h), "abc");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(ticket(&h), "");
    }

    #[test]
    fn media_paths() {
        assert!(is_media("/v1/media"));
        assert!(is_media("/v1/media/abc"));
        assert!(!is_media("/v1/mediax"));
        assert!(!is_media("/v1/project/x"));
    }
}
