//! File and image transfers (§4.9): uploads that make FILE and IMAGE messages, downloads by
//! media id, their progress, timeouts and cancellation.
//!
//! The bytes move over HTTP, which is the driver's job; everything else is decided here,
//! the same for every driver. A transfer first asks the server for a single-use ticket over
//! the session (`media_grant`); with it the core orders the HTTP exchange
//! ([`TransferOrder`]); the driver reports bytes moved ([`Client::transfer_progress`]) and
//! how the exchange ended ([`Client::transfer_ended`]); the application hears
//! [`Event::MediaProgress`] at most once a second while bytes flow, and one
//! [`Event::Response`] per transfer, exactly once.
//!
//! Rules (§4.9, §8.14): logged in (NOT_LOGGED_IN otherwise); 1 byte to 30 MB
//! (INVALID_ARGUMENT / SIZE_OVERFLOW); at most 9 uploads and downloads at once
//! (CONCURRENCY_LIMIT_EXCEEDED); 120 s without progress is TIMEOUT; a cancel, a logout or
//! the ABORTED state is INTERRUPTED. A download whose connection breaks after bytes arrived
//! resumes where it stopped (a new ticket, `Range`), as long as each attempt makes progress;
//! an upload that breaks fails (an upload cannot resume: its media id comes at the end).

use core::time::Duration;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::errors::{CancelMediaError, DownloadMediaError, UploadMediaError};
use crate::media::{
    image_size, is_valid_media_id, MediaKind, MediaMessage, MediaRefusal, RefusalReason, Uploaded,
    HEAD_BYTES, MAX_MEDIA_BYTES,
};
use crate::message::{Message, MAX_MESSAGE_BYTES};
use crate::time::Timestamp;
use crate::wire::ClientFrame;

use super::pending::{Failure, PendingKind};
use super::timer::Timer;
use super::{Client, ClientOutput, Event, RequestId, Response};

/// Uploads and downloads at once per client (§4.9).
pub const MAX_TRANSFERS: usize = 9;
/// A transfer with no progress for this long fails with TIMEOUT (§4.9).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// Progress is reported at most this often while bytes flow (§4.9).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What to upload: the file's size and first bytes (the driver keeps the file itself), and
/// the message's fields (§4.9 `createMediaMessageByUploading` params).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUpload {
    pub kind: MediaKind,
    /// The whole file's size in bytes.
    pub size: u64,
    /// The file's first bytes, up to [`HEAD_BYTES`]: an image's width and height are read
    /// from them unless set below. Fewer is fine (the size is then unknown, 0).
    pub head: Bytes,
    pub file_name: String,
    pub description: String,
    /// Made by the application; file name, description and thumbnail ≤ 32 KB together.
    pub thumbnail: Vec<u8>,
    /// An image's size as the application knows it; `None`: read from `head`.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

impl MediaUpload {
    /// A FILE upload of `size` bytes with no message fields.
    pub fn file(size: u64, head: Bytes) -> Self {
        MediaUpload {
            kind: MediaKind::File,
            size,
            head,
            file_name: String::new(),
            description: String::new(),
            thumbnail: Vec::new(),
            width: None,
            height: None,
            thumbnail_width: 0,
            thumbnail_height: 0,
        }
    }

    /// An IMAGE upload of `size` bytes with no message fields.
    pub fn image(size: u64, head: Bytes) -> Self {
        MediaUpload {
            kind: MediaKind::Image,
            ..MediaUpload::file(size, head)
        }
    }
}

/// A finished download ([`Response::DownloadMedia`]); the bytes are where the driver put
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDownload {
    pub media_id: String,
    pub size: u64,
    /// The type the server detected at upload (§4.9, 1.4.2).
    pub mime: String,
}

/// An HTTP exchange for the driver to carry out ([`ClientOutput::Transfer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOrder {
    /// `POST` the whole file to [`crate::media::UPLOAD_PATH`] with `Content-Length: size`
    /// and `Authorization: Bearer <ticket>`.
    Upload {
        request: RequestId,
        ticket: String,
        size: u64,
    },
    /// `GET` [`crate::media::DOWNLOAD_PREFIX`]`<media_id>` with the ticket, and
    /// `Range: bytes=<from>-` when `from` > 0: keep the first `from` bytes received so
    /// far, drop any beyond, and append what comes.
    Download {
        request: RequestId,
        ticket: String,
        media_id: String,
        from: u64,
    },
    /// Abort the exchange of `request` and report nothing more of it.
    Cancel { request: RequestId },
}

/// How an exchange ended, as the driver saw it ([`Client::transfer_ended`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEnd {
    /// The server answered with a status other than 2xx, with this body.
    Refused { status: u16, body: Bytes },
    /// The upload was answered 201 with this body.
    Uploaded { body: Bytes },
    /// The download's bytes all arrived: the media's whole size and its `Content-Type`.
    Downloaded { size: u64, mime: String },
    /// The connection failed or broke before a whole answer.
    Broken,
}

/// One transfer, from its call to its response.
#[derive(Debug, Clone)]
struct Transfer {
    job: Job,
    step: Step,
    /// Bytes moved so far (a download's, across its attempts) and the whole size (0 while
    /// a download's is not known).
    current: u64,
    total: u64,
    /// When bytes last moved (or the transfer or attempt started): the 120 s count.
    active_at: Timestamp,
    /// The last progress event: when, and at how many bytes.
    reported: Option<(Timestamp, u64)>,
    /// A download's bytes when its current attempt began (a resume needs progress).
    attempt_from: u64,
}

#[derive(Debug, Clone)]
enum Job {
    /// The message to make once the upload is answered (media id and size filled in then).
    Upload {
        kind: MediaKind,
        message: MediaMessage,
    },
    Download {
        media_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for a ticket.
    Granting,
    /// The driver is carrying out the HTTP exchange.
    Moving,
}

/// The transfers under way.
#[derive(Debug, Default)]
pub(super) struct Transfers {
    running: BTreeMap<RequestId, Transfer>,
}

impl Client {
    /// `createFileMessageByUploading` / `createImageMessageByUploading`
    /// (`createMediaMessageByUploading` on the Web): uploads a file and answers
    /// [`Response::UploadMedia`] with the FILE or IMAGE message to send. The driver keeps
    /// the file and sends it when the core orders [`TransferOrder::Upload`].
    pub fn upload_media(
        &mut self,
        now: Timestamp,
        upload: MediaUpload,
    ) -> Result<RequestId, UploadMediaError> {
        self.enter(now, UploadMediaError::NotLoggedIn)?;
        if upload.size == 0 {
            return Err(UploadMediaError::InvalidArgument);
        }
        if upload.size > MAX_MEDIA_BYTES {
            return Err(UploadMediaError::SizeOverflow);
        }
        let image_fields = upload.width.is_some()
            || upload.height.is_some()
            || upload.thumbnail_width != 0
            || upload.thumbnail_height != 0;
        if upload.kind == MediaKind::File && image_fields {
            return Err(UploadMediaError::InvalidArgument);
        }
        let (width, height) = match upload.kind {
            MediaKind::File => (0, 0),
            MediaKind::Image => {
                let head = &upload.head[..upload.head.len().min(HEAD_BYTES)];
                let read = image_size(head).unwrap_or((0, 0));
                (
                    upload.width.unwrap_or(read.0),
                    upload.height.unwrap_or(read.1),
                )
            }
        };
        let message = MediaMessage {
            media_id: String::new(),
            size: upload.size,
            file_name: upload.file_name,
            description: upload.description,
            thumbnail: upload.thumbnail,
            width,
            height,
            thumbnail_width: upload.thumbnail_width,
            thumbnail_height: upload.thumbnail_height,
        };
        if message.counted_len() > MAX_MESSAGE_BYTES {
            return Err(UploadMediaError::InvalidArgument);
        }
        if self.transfers.running.len() >= MAX_TRANSFERS {
            return Err(UploadMediaError::ConcurrencyLimitExceeded);
        }
        let job = Job::Upload {
            kind: upload.kind,
            message,
        };
        Ok(self.start_transfer(job, upload.size))
    }

    /// `downloadMediaToMemory` / `downloadMediaToFile` (`downloadMedia` on the Web):
    /// answers [`Response::DownloadMedia`]; the driver keeps the bytes it receives for
    /// [`TransferOrder::Download`].
    pub fn download_media(
        &mut self,
        now: Timestamp,
        media_id: &str,
    ) -> Result<RequestId, DownloadMediaError> {
        self.enter(now, DownloadMediaError::NotLoggedIn)?;
        if !is_valid_media_id(media_id) {
            return Err(DownloadMediaError::InvalidArgument);
        }
        if self.transfers.running.len() >= MAX_TRANSFERS {
            return Err(DownloadMediaError::ConcurrencyLimitExceeded);
        }
        let job = Job::Download {
            media_id: media_id.to_string(),
        };
        Ok(self.start_transfer(job, 0))
    }

    /// `cancelMediaUpload` / `cancelMediaDownload` (an `AbortSignal` on the Web): the
    /// transfer ends with INTERRUPTED, and its exchange is aborted.
    pub fn cancel_media(
        &mut self,
        now: Timestamp,
        request: RequestId,
    ) -> Result<(), CancelMediaError> {
        self.enter(now, CancelMediaError::NotLoggedIn)?;
        let transfer = self
            .transfers
            .running
            .remove(&request)
            .ok_or(CancelMediaError::NotExist)?;
        self.stop_transfer(request, transfer, Ending::Interrupted);
        self.arm_transfer_timer();
        Ok(())
    }

    /// The driver's report of bytes moved for `request`: `current` of `total` (the whole
    /// file; a resumed download counts from the file's start).
    pub fn transfer_progress(
        &mut self,
        now: Timestamp,
        request: RequestId,
        current: u64,
        total: u64,
    ) {
        self.advance(now);
        let Some(t) = self.transfers.running.get_mut(&request) else {
            return; // ended already: a late report
        };
        if t.step != Step::Moving {
            return;
        }
        if total > 0 {
            t.total = total;
        }
        if current <= t.current {
            return; // nothing new moved: a stall reports nothing (§4.9)
        }
        t.current = current;
        t.active_at = self.now;
        let due = t
            .reported
            .is_none_or(|(at, _)| self.now >= at.saturating_add(PROGRESS_EVERY));
        if due {
            t.reported = Some((self.now, current));
            let event = Event::MediaProgress {
                request,
                current,
                total: t.total,
            };
            self.emit(event);
        }
        self.arm_transfer_timer();
    }

    /// The driver's report of how the exchange of `request` ended.
    pub fn transfer_ended(&mut self, now: Timestamp, request: RequestId, end: TransferEnd) {
        self.advance(now);
        let moving = self
            .transfers
            .running
            .get(&request)
            .is_some_and(|t| t.step == Step::Moving);
        if !moving {
            return; // cancelled or timed out already
        }
        let mut t = self.transfers.running.remove(&request).expect("checked");
        let ending = match (&t.job, end) {
            (Job::Upload { .. }, TransferEnd::Uploaded { body }) => {
                match serde_json::from_slice::<Uploaded>(&body) {
                    Ok(done) if is_valid_media_id(&done.media_id) => Ending::Uploaded(done),
                    _ => Ending::Failed(Fault::Garbled),
                }
            }
            (Job::Download { .. }, TransferEnd::Downloaded { size, mime }) => {
                Ending::Downloaded { size, mime }
            }
            (_, TransferEnd::Refused { status, body }) => {
                Ending::Failed(Fault::Refused(MediaRefusal::parse(status, &body).error))
            }
            // Resumed while each attempt moves bytes.
            (Job::Download { .. }, TransferEnd::Broken) if t.current > t.attempt_from => {
                t.step = Step::Granting;
                t.attempt_from = t.current;
                t.active_at = self.now;
                self.request_ticket(request);
                self.transfers.running.insert(request, t);
                self.arm_transfer_timer();
                return;
            }
            (_, TransferEnd::Broken) => Ending::Failed(Fault::Broken),
            // A download answered as an upload or the reverse: the driver's mistake.
            (_, TransferEnd::Uploaded { .. } | TransferEnd::Downloaded { .. }) => {
                Ending::Failed(Fault::Garbled)
            }
        };
        self.end_transfer(request, t, ending);
        self.arm_transfer_timer();
    }

    fn start_transfer(&mut self, job: Job, total: u64) -> RequestId {
        let request = RequestId(self.requests.alloc());
        let transfer = Transfer {
            job,
            step: Step::Granting,
            current: 0,
            total,
            active_at: self.now,
            reported: None,
            attempt_from: 0,
        };
        self.transfers.running.insert(request, transfer);
        self.request_ticket(request);
        self.arm_transfer_timer();
        request
    }

    /// Asks the server for a ticket for `request`'s next exchange.
    fn request_ticket(&mut self, request: RequestId) {
        self.start_request(
            PendingKind::MediaGrant(request),
            self.config.request_timeout,
            |id| ClientFrame::MediaGrant { id },
        );
    }

    /// The ticket for `request` arrived: order its exchange.
    pub(super) fn on_media_ticket(&mut self, request: RequestId, ticket: String) {
        let Some(t) = self.transfers.running.get_mut(&request) else {
            return; // cancelled meanwhile: the ticket expires unused
        };
        if t.step != Step::Granting {
            return;
        }
        t.step = Step::Moving;
        t.active_at = self.now;
        let order = match &t.job {
            Job::Upload { .. } => TransferOrder::Upload {
                request,
                ticket,
                size: t.total,
            },
            Job::Download { media_id } => TransferOrder::Download {
                request,
                ticket,
                media_id: media_id.clone(),
                from: t.current,
            },
        };
        self.out.push_back(ClientOutput::Transfer(order));
        self.arm_transfer_timer();
    }

    /// No ticket for `request`: the server refused (FAILURE, its only code for a grant) or
    /// did not answer in time.
    pub(super) fn media_grant_failed(&mut self, request: RequestId, why: Failure) {
        let Some(t) = self.transfers.running.remove(&request) else {
            return;
        };
        let fault = match why {
            Failure::Timeout => Fault::Timeout,
            Failure::NotLoggedIn => Fault::NotLoggedIn,
            Failure::Code(_) => Fault::Refused(RefusalReason::Other),
        };
        self.end_transfer(request, t, Ending::Failed(fault));
        self.arm_transfer_timer();
    }

    /// The session ended (logout, ABORTED): every transfer is INTERRUPTED.
    pub(super) fn interrupt_transfers(&mut self) {
        for (request, t) in std::mem::take(&mut self.transfers.running) {
            self.stop_transfer(request, t, Ending::Interrupted);
        }
        self.arm_transfer_timer();
    }

    /// `Timer::Media`: transfers without progress for 120 s fail with TIMEOUT.
    pub(super) fn on_transfer_timeout(&mut self) {
        let stalled: Vec<RequestId> = self
            .transfers
            .running
            .iter()
            .filter(|(_, t)| self.now >= t.active_at.saturating_add(TRANSFER_TIMEOUT))
            .map(|(r, _)| *r)
            .collect();
        for request in stalled {
            let t = self.transfers.running.remove(&request).expect("listed");
            self.stop_transfer(request, t, Ending::Failed(Fault::Timeout));
        }
        self.arm_transfer_timer();
    }

    fn arm_transfer_timer(&mut self) {
        let next = self
            .transfers
            .running
            .values()
            .map(|t| t.active_at.saturating_add(TRANSFER_TIMEOUT))
            .min();
        self.timers.set_or_stop(Timer::Media, next);
    }

    /// Ends `request` (taken out of the table) on the core's own decision: its exchange,
    /// if one runs, is aborted first.
    fn stop_transfer(&mut self, request: RequestId, t: Transfer, ending: Ending) {
        if t.step == Step::Moving {
            self.out
                .push_back(ClientOutput::Transfer(TransferOrder::Cancel { request }));
        }
        self.end_transfer(request, t, ending);
    }

    /// Answers `request` (taken out of the table; no exchange of it runs).
    fn end_transfer(&mut self, request: RequestId, t: Transfer, ending: Ending) {
        let finished = matches!(ending, Ending::Uploaded(_) | Ending::Downloaded { .. });
        let total = match &ending {
            Ending::Uploaded(done) => done.size,
            Ending::Downloaded { size, .. } => *size,
            _ => t.total,
        };
        // The last progress event says the transfer is whole.
        if finished && t.reported.is_none_or(|(_, at)| at < total) {
            self.emit(Event::MediaProgress {
                request,
                current: total,
                total,
            });
        }
        let response = match (t.job, ending) {
            (Job::Upload { kind, mut message }, Ending::Uploaded(done)) => {
                message.media_id = done.media_id;
                message.size = done.size;
                let message = match kind {
                    MediaKind::File => Message::File(Box::new(message)),
                    MediaKind::Image => Message::Image(Box::new(message)),
                };
                Response::UploadMedia(Ok(message))
            }
            (Job::Download { media_id }, Ending::Downloaded { size, mime }) => {
                Response::DownloadMedia(Ok(MediaDownload {
                    media_id,
                    size,
                    mime,
                }))
            }
            (Job::Upload { .. }, ending) => Response::UploadMedia(Err(ending.upload_error())),
            (Job::Download { .. }, ending) => Response::DownloadMedia(Err(ending.download_error())),
        };
        self.respond(request, response);
    }
}

/// How a transfer ends.
#[derive(Debug)]
enum Ending {
    Uploaded(Uploaded),
    Downloaded { size: u64, mime: String },
    Interrupted,
    Failed(Fault),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Refused(RefusalReason),
    Timeout,
    NotLoggedIn,
    Broken,
    /// An answer that is not what the request asked for.
    Garbled,
}

impl Ending {
    fn upload_error(self) -> UploadMediaError {
        use RefusalReason as R;
        use UploadMediaError as E;
        match self {
            Ending::Interrupted => E::Interrupted,
            Ending::Failed(Fault::Timeout) => E::Timeout,
            Ending::Failed(Fault::NotLoggedIn) => E::NotLoggedIn,
            Ending::Failed(Fault::Refused(R::SizeOverflow)) => E::SizeOverflow,
            Ending::Failed(Fault::Refused(R::ConcurrencyLimitExceeded)) => {
                E::ConcurrencyLimitExceeded
            }
            Ending::Failed(Fault::Refused(R::BadRequest | R::LengthRequired)) => E::InvalidArgument,
            _ => E::Failure,
        }
    }

    fn download_error(self) -> DownloadMediaError {
        use DownloadMediaError as E;
        use RefusalReason as R;
        match self {
            Ending::Interrupted => E::Interrupted,
            Ending::Failed(Fault::Timeout) => E::Timeout,
            Ending::Failed(Fault::NotLoggedIn) => E::NotLoggedIn,
            Ending::Failed(Fault::Refused(R::NotExist)) => E::NotExist,
            Ending::Failed(Fault::Refused(R::ConcurrencyLimitExceeded)) => {
                E::ConcurrencyLimitExceeded
            }
            Ending::Failed(Fault::Refused(R::BadRequest)) => E::InvalidArgument,
            _ => E::Failure,
        }
    }
}
