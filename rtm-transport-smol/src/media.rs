//! The HTTP half of [`crate::RtmClient`]'s media transfers (issue #14): what the driver does
//! when the core orders a `TransferOrder`.
//!
//! The core (`rtm_proto::Client`) decides everything about a transfer: whether it may start
//! (logged in, sizes, 9 at once), its ticket, when it has stalled (120 s: it orders
//! `Cancel`), whether a broken download is resumed and from where, and what every HTTP
//! refusal means as an SDK error code. The driver only moves bytes and reports: each order
//! becomes one HTTP exchange on a connection of its own to the server's port (TLS for
//! `wss://`, with the WebSocket's trust), run as a task that reports its progress
//! (`transfer_progress`, at most every [`PROGRESS_EVERY`] and once at the end) and how it
//! ended (`transfer_ended`). Dropping the task (a `Cancel` order) drops the connection.
//!
//! Memory: an upload streams its source ([`READ_CHUNK`] at a time from a file); a download
//! to a file writes chunks of at most [`WRITE_CHUNK`]; a download to memory holds the
//! media, as asked.

use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use hyper::{Method, Request, StatusCode};
use rtm_proto::client::{MediaDownload, MediaUpload};
use rtm_proto::errors::{CancelMediaError, DownloadMediaError, UploadMediaError};
use rtm_proto::media::{MediaKind, HEAD_BYTES, MAX_MEDIA_BYTES};
use rtm_proto::{Client, Message, RequestId, Response, Timestamp};

type HttpResponse = hyper::Response<Incoming>;
use smol::{Executor, Task};
use smol_hyper::rt::FuturesIo;
use tracing::debug;

use crate::client::Dialer;
use crate::file_chunks::FileChunks;
use crate::{Answer, RtmClient};
use rtm_proto::client::TransferEnd;

/// The most a transfer reports its progress to the core (which tells the application at
/// most once a second).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Bytes read from a file per frame of an upload.
pub const READ_CHUNK: usize = 64 * 1024;

/// Bytes of a download gathered before they are written to its file.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// The most of a refusal's body kept (they are short JSON).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What an upload sends: a file (read when the transfer runs, never whole in memory) or
/// bytes in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    Path(PathBuf),
    Bytes(Bytes),
}

impl From<PathBuf> for MediaSource {
    fn from(path: PathBuf) -> Self {
        MediaSource::Path(path)
    }
}

impl From<&Path> for MediaSource {
    fn from(path: &Path) -> Self {
        MediaSource::Path(path.to_path_buf())
    }
}

impl From<Bytes> for MediaSource {
    fn from(bytes: Bytes) -> Self {
        MediaSource::Bytes(bytes)
    }
}

impl From<Vec<u8>> for MediaSource {
    fn from(bytes: Vec<u8>) -> Self {
        MediaSource::Bytes(bytes.into())
    }
}

impl MediaSource {
    /// Its size and its first `HEAD_BYTES` (the core reads an image's size there; blocking:
    /// reads the file's start).
    pub(crate) fn size_and_head(&self) -> io::Result<(u64, Bytes)> {
        match self {
            MediaSource::Bytes(bytes) => Ok((
                bytes.len() as u64,
                bytes.slice(..bytes.len().min(HEAD_BYTES)),
            )),
            MediaSource::Path(path) => {
                let file = File::open(path)?;
                let size = file.metadata()?.len();
                let mut head = Vec::with_capacity(HEAD_BYTES.min(size as usize));
                file.take(HEAD_BYTES as u64).read_to_end(&mut head)?;
                Ok((size, head.into()))
            }
        }
    }
}

/// How far a transfer is: `current` of `total` bytes (the SDK's `MediaOperationProgress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaProgress {
    pub current: u64,
    pub total: u64,
}

/// Where a download goes.
#[derive(Debug)]
pub(crate) enum Sink {
    Memory(Vec<u8>),
    /// Written to `part` (beside `path`), renamed to `path` once whole: a file already at
    /// `path` is untouched unless the download succeeds.
    File {
        file: Option<File>,
        part: PathBuf,
        path: PathBuf,
    },
}

impl Sink {
    /// A download to `path`, written to `path.part` until it is whole.
    pub(crate) fn file(path: &Path) -> io::Result<Sink> {
        let mut part = path.as_os_str().to_owned();
        part.push(".part");
        let part = PathBuf::from(part);
        let file = File::create(&part)?;
        Ok(Sink::File {
            file: Some(file),
            part,
            path: path.to_path_buf(),
        })
    }

    /// Keeps the first `len` bytes (a resumed download goes on from there).
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        match self {
            Sink::Memory(bytes) => {
                bytes.truncate(len as usize);
                Ok(())
            }
            Sink::File { file, .. } => {
                let file = file.as_mut().ok_or_else(|| io::Error::other("closed"))?;
                file.set_len(len)?;
                file.seek(SeekFrom::Start(len))?;
                Ok(())
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::Memory(bytes) => {
                // The driver's own bound, whatever a server announces: no media is larger.
                if bytes.len() + data.len() > MAX_MEDIA_BYTES as usize {
                    return Err(io::Error::other("larger than any media"));
                }
                bytes.extend_from_slice(data);
                Ok(())
            }
            Sink::File { file, .. } => file
                .as_mut()
                .ok_or_else(|| io::Error::other("closed"))?
                .write_all(data),
        }
    }

    /// The media downloaded to memory (empty for a file).
    pub(crate) fn take_bytes(&mut self) -> Vec<u8> {
        match self {
            Sink::Memory(bytes) => std::mem::take(bytes),
            Sink::File { .. } => Vec::new(),
        }
    }

    /// A download that failed: its part file is removed (a part of a media is no use).
    pub(crate) fn discard(&mut self) {
        match self {
            Sink::Memory(bytes) => *bytes = Vec::new(),
            Sink::File { file, part, .. } => {
                if file.take().is_some() {
                    let _ = std::fs::remove_file(&*part);
                }
            }
        }
    }

    /// A download that succeeded: its file is closed and takes its name (if it cannot, the
    /// part is removed and the error returned).
    pub(crate) fn close(&mut self) -> io::Result<()> {
        if let Sink::File { file, part, path } = self {
            if file.take().is_some() {
                let renamed = std::fs::rename(&*part, &*path);
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&*part);
                }
                return renamed;
            }
        }
        Ok(())
    }
}

/// A download's sink, shared by the driver (which answers the application) and the tasks
/// that fill it (one after another when a download is resumed).
pub(crate) type SharedSink = Arc<Mutex<Sink>>;

pub(crate) fn lock(sink: &SharedSink) -> std::sync::MutexGuard<'_, Sink> {
    sink.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a transfer task tells the driver; `generation` tells a task of an order the core has
/// since replaced or cancelled from the current one.
#[derive(Debug)]
pub(crate) enum Note {
    Progress {
        request: RequestId,
        generation: u64,
        done: u64,
        total: u64,
    },
    Ended {
        request: RequestId,
        generation: u64,
        end: TransferEnd,
    },
}

/// How a task reports.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    pub request: RequestId,
    pub generation: u64,
    pub notes: Sender<Note>,
}

impl Reporter {
    fn progress(&self, done: u64, total: u64) {
        let _ = self.notes.try_send(Note::Progress {
            request: self.request,
            generation: self.generation,
            done,
            total,
        });
    }

    fn ended(&self, end: TransferEnd) {
        let _ = self.notes.try_send(Note::Ended {
            request: self.request,
            generation: self.generation,
            end,
        });
    }
}

/// Progress, reported at most every [`PROGRESS_EVERY`].
struct Throttle {
    reporter: Reporter,
    last: Instant,
    done: u64,
    /// The whole media's size, once known (a download's, from its answer).
    total: Option<u64>,
}

impl Throttle {
    fn new(reporter: Reporter, done: u64, total: Option<u64>) -> Self {
        Throttle {
            reporter,
            last: Instant::now(),
            done,
            total,
        }
    }

    fn moved(&mut self, n: usize) {
        self.done += n as u64;
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            self.flush();
        }
    }

    /// The exact count, whatever the throttle says (before the end is reported).
    fn flush(&self) {
        if let Some(total) = self.total {
            self.reporter.progress(self.done, total);
        }
    }
}

/// `POST /v1/media` of `size` bytes of `source` with `ticket`; reports as it goes and how
/// it ended.
pub(crate) async fn upload(
    ex: Arc<Executor<'static>>,
    dialer: Arc<Dialer>,
    ticket: String,
    size: u64,
    source: MediaSource,
    reporter: Reporter,
) {
    let progress = Arc::new(Mutex::new(Throttle::new(reporter.clone(), 0, Some(size))));
    let body = SourceBody::open(source, size, progress.clone()).await;
    let end = match body {
        Ok(body) => {
            let request = dialer
                .media_request(Method::POST, "")
                .header(AUTHORIZATION, bearer(&ticket))
                .header(CONTENT_LENGTH, size)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(body);
            match request {
                Ok(request) => match exchange(&ex, &dialer, request).await {
                    Ok((response, _connection)) => answered(response).await,
                    Err(e) => {
                        debug!(error = %e, "media upload failed");
                        TransferEnd::Broken
                    }
                },
                Err(_) => TransferEnd::Broken,
            }
        }
        Err(e) => {
            debug!(error = %e, "media upload: the source cannot be read");
            TransferEnd::Broken
        }
    };
    lock_throttle(&progress).flush();
    reporter.ended(end);
}

/// How an upload ended, from its answer.
async fn answered(response: HttpResponse) -> TransferEnd {
    let status = response.status();
    match read_answer(response).await {
        Some(body) if status == StatusCode::CREATED => TransferEnd::Uploaded { body },
        Some(body) => TransferEnd::Refused {
            status: status.as_u16(),
            body,
        },
        None => TransferEnd::Broken,
    }
}

fn lock_throttle(t: &Arc<Mutex<Throttle>>) -> std::sync::MutexGuard<'_, Throttle> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// `GET /v1/media/{media_id}` with `ticket`, from byte `from` on (`Range`), into `sink`
/// (whose bytes past `from` are dropped first).
pub(crate) async fn download(
    ex: Arc<Executor<'static>>,
    dialer: Arc<Dialer>,
    ticket: String,
    media_id: String,
    from: u64,
    sink: SharedSink,
    reporter: Reporter,
) {
    let mut throttle = Throttle::new(reporter.clone(), from, None);
    let end = download_into(&ex, &dialer, &ticket, &media_id, from, &sink, &mut throttle).await;
    throttle.flush();
    reporter.ended(end);
}

async fn download_into(
    ex: &Executor<'static>,
    dialer: &Dialer,
    ticket: &str,
    media_id: &str,
    from: u64,
    sink: &SharedSink,
    throttle: &mut Throttle,
) -> TransferEnd {
    let mut request = dialer
        .media_request(Method::GET, &format!("/{media_id}"))
        .header(AUTHORIZATION, bearer(ticket));
    if from > 0 {
        request = request.header(RANGE, format!("bytes={from}-"));
    }
    let Ok(request) = request.body(Empty::<Bytes>::new()) else {
        return TransferEnd::Broken;
    };
    match exchange(ex, dialer, request).await {
        Ok((response, _connection)) => receive(response, from, sink, throttle).await,
        Err(e) => {
            debug!(error = %e, "media download failed");
            TransferEnd::Broken
        }
    }
}

/// Reads a download's answer into `sink`.
async fn receive(
    response: HttpResponse,
    from: u64,
    sink: &SharedSink,
    throttle: &mut Throttle,
) -> TransferEnd {
    let status = response.status();
    // Where the server's bytes start: 200 is the whole media (a resume the server did not
    // take as one starts over), 206 says in `Content-Range`.
    let start = match status {
        StatusCode::OK => 0,
        StatusCode::PARTIAL_CONTENT => match content_range_start(&response) {
            Some(start) if start <= from => start,
            _ => return TransferEnd::Broken,
        },
        _ => {
            return match read_answer(response).await {
                Some(body) => TransferEnd::Refused {
                    status: status.as_u16(),
                    body,
                },
                None => TransferEnd::Broken,
            }
        }
    };
    let mime = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let Some(length) = response.body().size_hint().exact() else {
        return TransferEnd::Broken;
    };
    let Some(size) = start.checked_add(length) else {
        return TransferEnd::Broken;
    };
    if let Err(e) = blocking_sink(sink, move |s| s.truncate(start)).await {
        debug!(error = %e, "media download: cannot write");
        return TransferEnd::Broken;
    }
    throttle.done = start;
    throttle.total = Some(size);
    let mut body = response.into_body();
    let mut buf = BytesMut::new();
    let mut ok = true;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                if buf.len() >= WRITE_CHUNK {
                    let n = buf.len();
                    if flush(sink, &mut buf).await.is_err() {
                        ok = false;
                        break;
                    }
                    throttle.moved(n);
                }
            }
            Some(Err(e)) => {
                debug!(error = %e, "media download broken");
                ok = false;
                break;
            }
        }
    }
    // What arrived whole is kept, for a resume.
    let n = buf.len();
    if flush(sink, &mut buf).await.is_err() {
        return TransferEnd::Broken;
    }
    throttle.moved(n);
    if ok && throttle.done == size {
        TransferEnd::Downloaded { size, mime }
    } else {
        TransferEnd::Broken
    }
}

async fn flush(sink: &SharedSink, buf: &mut BytesMut) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let chunk = buf.split().freeze();
    blocking_sink(sink, move |s| s.write(&chunk)).await
}

/// Runs `f` on the sink on the blocking pool (a file's writes block).
async fn blocking_sink(
    sink: &SharedSink,
    f: impl FnOnce(&mut Sink) -> io::Result<()> + Send + 'static,
) -> io::Result<()> {
    let sink = sink.clone();
    smol::unblock(move || f(&mut lock(&sink))).await
}

/// The first byte of a 206's `Content-Range: bytes START-END/SIZE`.
fn content_range_start(response: &HttpResponse) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split_once('-')?.0.trim().parse().ok()
}

fn bearer(ticket: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {ticket}"))
        .unwrap_or(HeaderValue::from_static("Bearer"));
    value.set_sensitive(true);
    value
}

/// An answer's body (at most [`MAX_ANSWER_BYTES`]); `None` if it did not arrive whole.
async fn read_answer(response: HttpResponse) -> Option<Bytes> {
    Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .ok()
        .map(|c| c.to_bytes())
}

/// Sends `request` on a connection of its own: the answer, and the task that drives the
/// connection (on the client's executor), to keep while the answer's body is read. Dropping that task (the transfer's
/// future dropped on a `Cancel` order) drops the connection, and the request's body with it.
async fn exchange<B>(
    ex: &Executor<'static>,
    dialer: &Dialer,
    request: Request<B>,
) -> io::Result<(HttpResponse, Task<()>)>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = dialer.stream().await.map_err(io::Error::other)?;
    let (mut sender, connection) = http1::handshake(FuturesIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    let driver = ex.spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    Ok((response, driver))
}

/// An upload's body: the source, [`READ_CHUNK`] at a time, exactly `size` bytes.
pub(crate) struct SourceBody {
    source: BodySource,
    remaining: u64,
    progress: Arc<Mutex<Throttle>>,
}

enum BodySource {
    File(FileChunks),
    Bytes(Bytes),
}

impl std::fmt::Debug for SourceBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl SourceBody {
    async fn open(
        source: MediaSource,
        size: u64,
        progress: Arc<Mutex<Throttle>>,
    ) -> io::Result<SourceBody> {
        let source = match source {
            MediaSource::Bytes(bytes) => {
                BodySource::Bytes(bytes.slice(..(size as usize).min(bytes.len())))
            }
            MediaSource::Path(path) => BodySource::File(FileChunks::new(
                smol::unblock(move || File::open(path)).await?,
            )),
        };
        Ok(SourceBody {
            source,
            remaining: size,
            progress,
        })
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = self.remaining.min(READ_CHUNK as u64) as usize;
        match &mut self.source {
            BodySource::Bytes(bytes) => {
                if bytes.is_empty() {
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                Poll::Ready(Some(Ok(bytes.split_to(want.min(bytes.len())))))
            }
            // A file shorter than when the upload began fails with UnexpectedEof.
            BodySource::File(chunks) => chunks.poll_next(cx, want).map(Some),
        }
    }
}

impl Body for SourceBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        match ready!(this.poll_chunk(cx)) {
            Some(Ok(chunk)) => {
                this.remaining -= chunk.len() as u64;
                lock_throttle(&this.progress).moved(chunk.len());
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A media transfer on its way ([`RtmClient::upload_media`],
/// [`RtmClient::download_media_to_memory`], [`RtmClient::download_media_to_file`]): a
/// future of its result, its request id (to cancel it with [`RtmClient::cancel_media`]) and
/// its progress.
///
/// Like an [`crate::Answer`], the transfer was handed to the client when the method
/// returned: dropping this does not cancel it.
#[must_use = "the transfer is already on its way; await it to learn how it ended"]
pub struct MediaTransfer<T, E> {
    request: Receiver<Option<RequestId>>,
    known: OnceLock<Option<RequestId>>,
    progress: Receiver<MediaProgress>,
    answer: Answer<T, E>,
}

impl<T, E> std::fmt::Debug for MediaTransfer<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaTransfer")
            .field("request", &self.known.get())
            .finish_non_exhaustive()
    }
}

impl<T, E> MediaTransfer<T, E> {
    /// The transfer's request id (the native SDK's `requestId`), for
    /// [`RtmClient::cancel_media`]; `None` if the core refused the call at once (the
    /// result says why). Waits for the client thread to have taken the call (no network:
    /// microseconds).
    pub fn request_id(&self) -> Option<RequestId> {
        *self
            .known
            .get_or_init(|| self.request.recv_blocking().ok().flatten())
    }

    /// The transfer's progress (`onOperationProgress`): at most once a second while bytes
    /// flow, nothing while stalled. The stream ends with the transfer; reports not read in
    /// time are dropped past the 16 waiting. The same reports arrive on
    /// [`RtmClient::events`] as `Event::MediaProgress`.
    pub fn progress(&self) -> Receiver<MediaProgress> {
        self.progress.clone()
    }
}

// Nothing in it is ever pinned: only the boxed answer is polled.
impl<T, E> Unpin for MediaTransfer<T, E> {}

impl<T, E> Future for MediaTransfer<T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().answer).poll(cx)
    }
}

/// A media downloaded to memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    pub bytes: Bytes,
    /// The MIME type the server detected at upload (png, gif, pdf, jpeg, zip; else
    /// `application/octet-stream`).
    pub mime: String,
}

/// The fields of a FILE or IMAGE message made by uploading (`createMediaMessageByUploading`'s
/// `params`); the size and, for images of known formats, the width and height come from the
/// file itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    pub file_name: String,
    pub description: String,
    /// Made by the application (the SDK never makes one): file name, description and
    /// thumbnail at most 32 KB together.
    pub thumbnail: Vec<u8>,
    /// An image's size as the application knows it; `None`: read from the file (JPEG, PNG,
    /// BMP, GIF), else 0.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

/// `createMessage({ mediaId, messageType, ... })` (Web) / `createFileMessageByMediaId` and
/// `createImageMessageByMediaId` (native): a FILE or IMAGE message for a media already
/// uploaded, e.g. to send it again to someone else while its id lives (7 days). `size` is
/// the media's (from the message it came in); an image's width and height are taken from
/// `fields` (0 when `None`: nothing is read here). Sending it is checked like any message
/// (a well-formed id, 1 byte to 30 MB, fields within 32 KB).
pub fn media_message(kind: MediaKind, media_id: &str, size: u64, fields: UploadOptions) -> Message {
    let media = Box::new(rtm_proto::media::MediaMessage {
        media_id: media_id.to_string(),
        size,
        file_name: fields.file_name,
        description: fields.description,
        thumbnail: fields.thumbnail,
        width: fields.width.unwrap_or(0),
        height: fields.height.unwrap_or(0),
        thumbnail_width: fields.thumbnail_width,
        thumbnail_height: fields.thumbnail_height,
    });
    match kind {
        MediaKind::File => Message::File(media),
        MediaKind::Image => Message::Image(media),
    }
}

/// What the driver keeps of a transfer besides the core's state: its source or sink.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    Upload(MediaSource),
    Download(SharedSink),
}

impl RtmClient {
    /// `createMediaMessageByUploading(blob, params)` (§4.9): uploads `source` (a file, read
    /// as it is sent, or bytes) and resolves with a `Message::File` or `Message::Image` ready
    /// to send to a peer or a channel. The file's size and first 64 KiB (the core reads an
    /// image's width and height there) are read on the calling thread; a file that cannot be
    /// read fails at once with INVALID_ARGUMENT. Every other check (logged in, 1 byte to 30 MB, 9 transfers at once)
    /// is the core's, and so is every error code.
    pub fn upload_media(
        &self,
        kind: MediaKind,
        source: impl Into<MediaSource>,
        options: UploadOptions,
    ) -> MediaTransfer<Message, UploadMediaError> {
        let source = source.into();
        let (size, head) = match source.size_and_head() {
            Ok(read) => read,
            Err(e) => {
                debug!(error = %e, "media upload: the source cannot be read");
                return MediaTransfer::refused(Err(UploadMediaError::InvalidArgument));
            }
        };
        let upload = MediaUpload {
            kind,
            size,
            head,
            file_name: options.file_name,
            description: options.description,
            thumbnail: options.thumbnail,
            width: options.width,
            height: options.height,
            thumbnail_width: options.thumbnail_width,
            thumbnail_height: options.thumbnail_height,
        };
        let (transfer, start) = self.start_media(
            move |c, now| {
                c.upload_media(now, upload)
                    .map_err(|e| Response::UploadMedia(Err(e)))
            },
            Job::Upload(source),
        );
        let answer = Answer::new(async move {
            match start.recv().await {
                Ok(Response::UploadMedia(r)) => r,
                _ => Err(UploadMediaError::Failure),
            }
        });
        transfer.with(answer)
    }

    /// `downloadMediaToMemory(mediaId)` / `downloadMedia(mediaId)` (§4.9): the media's
    /// bytes and MIME type. A download that breaks is resumed where it stopped.
    pub fn download_media_to_memory(
        &self,
        media_id: &str,
    ) -> MediaTransfer<DownloadedMedia, DownloadMediaError> {
        let sink: SharedSink = Arc::new(Mutex::new(Sink::Memory(Vec::new())));
        let media_id = media_id.to_string();
        let (transfer, start) = self.start_media(
            move |c, now| {
                c.download_media(now, &media_id)
                    .map_err(|e| Response::DownloadMedia(Err(e)))
            },
            Job::Download(sink.clone()),
        );
        let answer = Answer::new(async move {
            match start.recv().await {
                Ok(Response::DownloadMedia(Ok(done))) => Ok(DownloadedMedia {
                    bytes: lock(&sink).take_bytes().into(),
                    mime: done.mime,
                }),
                Ok(Response::DownloadMedia(Err(e))) => Err(e),
                _ => Err(DownloadMediaError::Failure),
            }
        });
        transfer.with(answer)
    }

    /// `downloadMediaToFile(mediaId, filePath)` (§4.9): the media written to `path`. It is
    /// written to `path.part` and renamed to `path` once whole, so a file already at `path`
    /// is replaced only by a whole download; the part is removed if the download fails. A download that breaks is
    /// resumed where it stopped. A path that cannot be created fails at once with
    /// INVALID_ARGUMENT.
    pub fn download_media_to_file(
        &self,
        media_id: &str,
        path: impl AsRef<Path>,
    ) -> MediaTransfer<MediaDownload, DownloadMediaError> {
        let sink = match Sink::file(path.as_ref()) {
            Ok(sink) => Arc::new(Mutex::new(sink)),
            Err(e) => {
                debug!(error = %e, "media download: the file cannot be created");
                return MediaTransfer::refused(Err(DownloadMediaError::InvalidArgument));
            }
        };
        let media_id = media_id.to_string();
        let (transfer, start) = self.start_media(
            move |c, now| {
                c.download_media(now, &media_id)
                    .map_err(|e| Response::DownloadMedia(Err(e)))
            },
            Job::Download(sink),
        );
        let answer = Answer::new(async move {
            match start.recv().await {
                Ok(Response::DownloadMedia(r)) => r,
                _ => Err(DownloadMediaError::Failure),
            }
        });
        transfer.with(answer)
    }

    /// `cancelMediaUpload(requestId)` / `cancelMediaDownload(requestId)` (native, and the
    /// Web SDK's `cancelSignal`): the transfer then fails with INTERRUPTED. NOT_EXIST for a
    /// transfer that has already ended.
    pub fn cancel_media(&self, request: RequestId) -> Result<(), CancelMediaError> {
        self.local(move |c, now| c.cancel_media(now, request))
            .unwrap_or(Err(CancelMediaError::Failure))
    }

    /// Hands a transfer's start to the client thread: the handle (without its answer yet)
    /// and where the core's `Response` will arrive.
    fn start_media(
        &self,
        start: impl FnOnce(&mut Client, Timestamp) -> Result<RequestId, Response> + Send + 'static,
        job: Job,
    ) -> (MediaTransfer<(), ()>, Receiver<Response>) {
        let (reply, answer) = async_channel::bounded(1);
        let (request_tx, request) = async_channel::bounded(1);
        let (progress_tx, progress) = async_channel::bounded(PROGRESS_QUEUE);
        self.send_media_command(MediaCommand {
            start: Box::new(start),
            reply,
            request: request_tx,
            progress: progress_tx,
            job,
        });
        let transfer = MediaTransfer {
            request,
            known: OnceLock::new(),
            progress,
            answer: Answer::new(async { Ok(()) }),
        };
        (transfer, answer)
    }
}

/// Progress reports kept for a handle that does not read them (later ones are dropped).
const PROGRESS_QUEUE: usize = 16;

impl MediaTransfer<(), ()> {
    fn with<T, E>(self, answer: Answer<T, E>) -> MediaTransfer<T, E> {
        MediaTransfer {
            request: self.request,
            known: self.known,
            progress: self.progress,
            answer,
        }
    }
}

impl<T: Send + 'static, E: Send + 'static> MediaTransfer<T, E> {
    /// A transfer refused before it reached the core.
    fn refused(result: Result<T, E>) -> Self {
        let (_, request) = async_channel::bounded(1);
        let (_, progress) = async_channel::bounded(1);
        MediaTransfer {
            request,
            known: OnceLock::from(None),
            progress,
            answer: Answer::new(async move { result }),
        }
    }
}

/// A transfer's start, for the client thread.
pub(crate) struct MediaCommand {
    pub start: crate::client::Start,
    pub reply: Sender<Response>,
    pub request: Sender<Option<RequestId>>,
    pub progress: Sender<MediaProgress>,
    pub job: Job,
}

impl std::fmt::Debug for MediaCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaCommand").finish_non_exhaustive()
    }
}
