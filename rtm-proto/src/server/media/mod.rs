//! File and image media on the server (§4.9): transfer tickets, the uploads and downloads
//! under way, and the media kept for 7 days.
//!
//! The bytes never pass through the core. A driver serves `POST /v1/media` and
//! `GET /v1/media/{id}` on the server's port, streams bodies to and from files, and asks
//! the core at each step what to do ([`MediaCall`] in, [`MediaOp`] out): whether a ticket
//! is good, whether the user may upload this much, which media id the file gets, whether a
//! media id exists, and when a file is to be removed. So every limit, id and error is
//! decided here, the same for every driver, and fuzzed with the rest of the server.
//!
//! # Driver contract
//!
//! * Upload: [`MediaCall::BeginUpload`] → [`MediaOp::UploadAccepted`] (store the body as
//!   that media's file) or [`MediaOp::Answer`] (a refusal: answer it, store nothing). Read
//!   exactly the declared length into a temporary file, never more; sniff the MIME type
//!   from its first bytes ([`crate::media::sniff_mime`]); sync it, move it to the media's
//!   file, then [`MediaCall::Uploaded`]. The core writes the media's record and answers
//!   ([`MediaOp::Answer`], 201) once it has committed, or 503 `not_stored` with a
//!   [`MediaOp::Remove`].
//! * Download: [`MediaCall::BeginDownload`] → [`MediaOp::DownloadAccepted`] (serve the
//!   file; ranges are the driver's HTTP business) or [`MediaOp::Answer`].
//! * Every `Begin*` is followed by exactly one [`MediaCall::Ended`] once the exchange is
//!   over, however it ended (answered, cut, cancelled): it frees the user's transfer slot,
//!   and for an upload that never reached `Uploaded` the reservation (delete your temporary
//!   file yourself). `Ended` for a transfer the core refused or does not know is ignored.
//! * [`MediaOp::Remove`]: delete the media's file (it expired, or its record was not
//!   stored). A download in progress may finish from its open file.
//! * At start, after [`super::Server::restore`]: delete every file of the media directory
//!   for which [`super::Server::media_is_live`] is false (a crash between the file and its
//!   record).

mod library;
mod tickets;

use std::collections::BTreeMap;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::ids::UserId;
use crate::media::{MediaRefusal, RefusalReason, Uploaded, MAX_MEDIA_BYTES};
use crate::wire::Reply;

use super::storage::{RecordId, StorageOp};
use super::timer::ServerTimer;
use super::{ConnId, Server, ServerOutput};

pub(crate) use library::media_of;
use library::{Library, Media, QuotaRefusal};
use tickets::{GrantRefusal, Ticket, Tickets};

/// Longest MIME type kept for a media (ours are at most 24 bytes).
pub(crate) const MAX_MIME_BYTES: usize = 64;

/// One HTTP exchange of the media endpoints, named by the driver; unique while the core
/// knows it (from its `Begin*` to its `Ended`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u64);

/// What a driver tells the core about the media endpoints ([`super::ServerInput::Media`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCall {
    /// `POST /v1/media` arrived: the ticket of its `Authorization: Bearer` header (empty if
    /// none) and its `Content-Length` (`None` if absent or unreadable).
    BeginUpload {
        transfer: TransferId,
        ticket: String,
        size: Option<u64>,
    },
    /// The accepted upload's body is stored whole, `size` bytes, and moved to the media's
    /// file; `mime` is what [`crate::media::sniff_mime`] said of its first bytes.
    Uploaded {
        transfer: TransferId,
        size: u64,
        mime: String,
    },
    /// `GET` or `HEAD /v1/media/{media_id}` arrived, with its ticket.
    BeginDownload {
        transfer: TransferId,
        ticket: String,
        media_id: String,
    },
    /// The exchange is over (answered, cut or cancelled): exactly once after each `Begin*`.
    Ended { transfer: TransferId },
}

/// What the core asks of a driver's media endpoints ([`super::ServerOutput::Media`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOp {
    /// Go on with the upload: store its body as the file of `media_id`.
    UploadAccepted {
        transfer: TransferId,
        media_id: String,
    },
    /// Serve the file of `media_id`: `size` bytes of `mime`.
    DownloadAccepted {
        transfer: TransferId,
        media_id: String,
        size: u64,
        mime: String,
    },
    /// Answer the exchange with this status and JSON body, and go no further with it: a
    /// refusal of a `Begin*`, or the outcome of an upload (201 with the media id).
    Answer {
        transfer: TransferId,
        status: u16,
        body: Bytes,
    },
    /// Delete the file of `media_id`.
    Remove { media_id: String },
}

/// An exchange under way, with its user (for the per-user count).
#[derive(Debug, Clone)]
struct Transfer {
    uid: UserId,
    flow: Flow,
}

/// Where an exchange is.
#[derive(Debug, Clone)]
enum Flow {
    /// An upload receiving its body into the file of `media_id`; `size` bytes reserved.
    Receiving { media_id: String, size: u64 },
    /// An upload whose record `record` is being written (see `MediaPlane::writes`).
    Storing { record: RecordId },
    /// Answered (an upload) or serving (a download): only its slot is held.
    Done,
}

/// The media plane's state (`Server::media`).
#[derive(Debug)]
pub(crate) struct MediaPlane {
    /// Keys ticket secrets and media ids: HMAC of a counter, so neither can be guessed
    /// from others (the core's PRNG is not for secrets); derived from the server's seed.
    key: [u8; 32],
    minted: u64,
    tickets: Tickets,
    library: Library,
    transfers: BTreeMap<TransferId, Transfer>,
    per_user: BTreeMap<UserId, usize>,
    /// Media records being written.
    writes: BTreeMap<RecordId, PendingMedia>,
}

/// A media whose record is being written, and the exchange to answer when it commits
/// (`None` once that exchange has ended: the media still goes live).
#[derive(Debug, Clone)]
struct PendingMedia {
    transfer: Option<TransferId>,
    media_id: String,
    media: Media,
}

impl MediaPlane {
    pub fn new(seed: u64) -> Self {
        let key: [u8; 32] = Sha256::new()
            .chain_update(b"rtm media secrets")
            .chain_update(seed.to_le_bytes())
            .finalize()
            .into();
        MediaPlane {
            key,
            minted: 0,
            tickets: Tickets::default(),
            library: Library::default(),
            transfers: BTreeMap::new(),
            per_user: BTreeMap::new(),
            writes: BTreeMap::new(),
        }
    }

    /// A fresh secret: 32 hex characters (128 bits).
    fn mint(&mut self, purpose: &[u8]) -> String {
        self.minted += 1;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(purpose);
        mac.update(&self.minted.to_le_bytes());
        let tag = mac.finalize().into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Counts for stats and metrics: live media, their bytes (with reservations), unused
    /// tickets, exchanges under way.
    pub fn counts(&self) -> (usize, u64, usize, usize) {
        (
            self.library.len(),
            self.library.bytes(),
            self.tickets.len(),
            self.transfers.len(),
        )
    }
}

fn refusal(transfer: TransferId, reason: RefusalReason, message: impl Into<String>) -> MediaOp {
    MediaOp::Answer {
        transfer,
        status: reason.status(),
        body: MediaRefusal::new(reason, message).to_json(),
    }
}

impl Server {
    /// Whether `media_id` names live media (or an upload whose record is being written):
    /// for the driver's sweep of its media directory at start.
    pub fn media_is_live(&self, media_id: &str) -> bool {
        self.media.library.get(media_id).is_some()
            || self.media.writes.values().any(|w| w.media_id == media_id)
            || self
                .media
                .transfers
                .values()
                .any(|t| matches!(&t.flow, Flow::Receiving { media_id: m, .. } if m == media_id))
    }

    /// `media_grant`: a ticket for one HTTP request of this session.
    pub(super) fn on_media_grant(&mut self, conn: ConnId, uid: &UserId, epoch: u64, id: u32) {
        self.media.tickets.expire(self.now);
        let limits = &self.config.media;
        let ticket = Ticket {
            uid: uid.clone(),
            epoch,
            expires: self.now.saturating_add(limits.ticket_ttl),
        };
        let (per_session, total) = (limits.tickets_per_session, limits.tickets);
        let secret = self.media.mint(b"ticket");
        match self
            .media
            .tickets
            .issue(secret.clone(), ticket, per_session, total)
        {
            Ok(()) => self.reply(conn, Reply::MediaTicket { id, ticket: secret }),
            Err(GrantRefusal::SessionFull) => self.reply_error(
                conn,
                id,
                crate::UploadMediaError::Failure.code(),
                format!("this session holds {per_session} unused media tickets; use them first"),
            ),
            Err(GrantRefusal::Full) => self.reply_error(
                conn,
                id,
                crate::UploadMediaError::Failure.code(),
                "the server holds too many media tickets; try again shortly",
            ),
        }
    }

    pub(super) fn on_media(&mut self, call: MediaCall) {
        match call {
            MediaCall::BeginUpload {
                transfer,
                ticket,
                size,
            } => self.begin_upload(transfer, &ticket, size),
            MediaCall::Uploaded {
                transfer,
                size,
                mime,
            } => self.uploaded(transfer, size, mime),
            MediaCall::BeginDownload {
                transfer,
                ticket,
                media_id,
            } => self.begin_download(transfer, &ticket, &media_id),
            MediaCall::Ended { transfer } => self.transfer_ended(transfer),
        }
    }

    fn media_out(&mut self, op: MediaOp) {
        self.out.push_back(ServerOutput::Media(op));
    }

    /// The user of a ticket, if it is good: unused, unexpired, of a live session.
    fn redeem(&mut self, secret: &str) -> Option<UserId> {
        let ticket = self.media.tickets.take(secret, self.now)?;
        let live = self
            .sessions
            .get(&ticket.uid)
            .is_some_and(|s| s.epoch == ticket.epoch);
        live.then_some(ticket.uid)
    }

    /// Checks what every exchange needs (a new transfer id, a good ticket, a free slot) and
    /// takes the slot; otherwise answers the refusal.
    fn admit_transfer(&mut self, transfer: TransferId, ticket: &str) -> Option<UserId> {
        if self.media.transfers.contains_key(&transfer) {
            debug_assert!(false, "transfer id {transfer:?} reused while known");
            self.media_out(refusal(
                transfer,
                RefusalReason::BadRequest,
                "transfer id in use",
            ));
            return None;
        }
        let Some(uid) = self.redeem(ticket) else {
            self.media_out(refusal(
                transfer,
                RefusalReason::Unauthorized,
                "no valid media ticket: ask for one over the session (media_grant) for each \
                 request; tickets are single-use and last 60 s",
            ));
            return None;
        };
        let limits = &self.config.media;
        let running = self.media.per_user.get(&uid).copied().unwrap_or(0);
        if running >= limits.transfers_per_user {
            let text = format!(
                "{uid} already has {} uploads and downloads running",
                limits.transfers_per_user
            );
            self.media_out(refusal(
                transfer,
                RefusalReason::ConcurrencyLimitExceeded,
                text,
            ));
            return None;
        }
        if self.media.transfers.len() >= limits.transfers {
            self.media_out(refusal(
                transfer,
                RefusalReason::Busy,
                "the server has too many transfers running; try again shortly",
            ));
            return None;
        }
        Some(uid)
    }

    fn start_transfer(&mut self, transfer: TransferId, uid: UserId, flow: Flow) {
        *self.media.per_user.entry(uid.clone()).or_default() += 1;
        self.media
            .transfers
            .insert(transfer, Transfer { uid, flow });
    }

    fn begin_upload(&mut self, transfer: TransferId, ticket: &str, size: Option<u64>) {
        let Some(uid) = self.admit_transfer(transfer, ticket) else {
            return;
        };
        let refused = match size {
            None => Some((
                RefusalReason::LengthRequired,
                "an upload needs a Content-Length".to_string(),
            )),
            Some(0) => Some((RefusalReason::BadRequest, "the file is empty".to_string())),
            Some(n) if n > MAX_MEDIA_BYTES => Some((
                RefusalReason::SizeOverflow,
                format!("{n} bytes is over the {MAX_MEDIA_BYTES}-byte limit (30 MB)"),
            )),
            Some(n) => match self.media.library.reserve(&uid, n, &self.config.media) {
                Ok(()) => None,
                Err(QuotaRefusal::User) => Some((
                    RefusalReason::QuotaExceeded,
                    format!(
                        "{uid}'s media quota ({} bytes) has no room for {n} more bytes",
                        self.config.media.user_bytes
                    ),
                )),
                Err(QuotaRefusal::Server | QuotaRefusal::Records) => Some((
                    RefusalReason::QuotaExceeded,
                    "the server's media storage is full".to_string(),
                )),
            },
        };
        if let Some((reason, text)) = refused {
            return self.media_out(refusal(transfer, reason, text));
        }
        let size = size.expect("checked above");
        let media_id = self.media.mint(b"media");
        self.start_transfer(
            transfer,
            uid,
            Flow::Receiving {
                media_id: media_id.clone(),
                size,
            },
        );
        self.media_out(MediaOp::UploadAccepted { transfer, media_id });
    }

    fn uploaded(&mut self, transfer: TransferId, size: u64, mime: String) {
        // Only an upload receiving its body can be `Uploaded` (once); anything else is a
        // driver's mistake, ignored.
        let Some(t) = self.media.transfers.get_mut(&transfer) else {
            return;
        };
        let Flow::Receiving {
            media_id,
            size: reserved,
        } = core::mem::replace(&mut t.flow, Flow::Done)
        else {
            return;
        };
        let uid = t.uid.clone();
        if size != reserved {
            // The driver is to read exactly the declared length.
            self.media.library.release(&uid, reserved);
            self.media_out(MediaOp::Remove {
                media_id: media_id.clone(),
            });
            return self.media_out(refusal(
                transfer,
                RefusalReason::BadRequest,
                "the body's length differs from its Content-Length",
            ));
        }
        let mime = if mime.len() <= MAX_MIME_BYTES && !mime.is_empty() {
            mime
        } else {
            "application/octet-stream".to_string()
        };
        let created_ms = self.unix_ms();
        let retention = self.config.media.retention.as_millis() as u64;
        let media = Media {
            owner: uid,
            size,
            mime,
            created_ms,
            expires_ms: created_ms.saturating_add(retention),
            record: self.durable.new_id(),
        };
        let record = library::media_record(&media_id, &media);
        let id = media.record;
        if let Some(t) = self.media.transfers.get_mut(&transfer) {
            t.flow = Flow::Storing { record: id };
        }
        self.media.writes.insert(
            id,
            PendingMedia {
                transfer: Some(transfer),
                media_id,
                media,
            },
        );
        let deadline = self.now.saturating_add(self.config.storage_write_timeout);
        self.durable
            .write_rule_or_media(record, deadline, &mut self.out, &mut self.timers);
    }

    /// A media record committed: the media is live, its uploader answered 201.
    pub(super) fn media_committed(&mut self, record: RecordId) {
        let Some(PendingMedia {
            transfer,
            media_id,
            media,
        }) = self.media.writes.remove(&record)
        else {
            return;
        };
        let uploaded = Uploaded {
            media_id: media_id.clone(),
            size: media.size,
            mime: media.mime.clone(),
        };
        self.media_live(media_id, media, false);
        if let Some(transfer) = transfer.filter(|t| self.end_storing(*t)) {
            self.media_out(MediaOp::Answer {
                transfer,
                status: 201,
                body: serde_json::to_vec(&uploaded).expect("json").into(),
            });
        }
    }

    /// A media record was not stored (failed, or past its deadline): the upload is refused
    /// 503 and its file removed.
    pub(super) fn media_not_stored(&mut self, record: RecordId) {
        let Some(PendingMedia {
            transfer,
            media_id,
            media,
        }) = self.media.writes.remove(&record)
        else {
            return;
        };
        self.media.library.release(&media.owner, media.size);
        self.media_out(MediaOp::Remove { media_id });
        if let Some(transfer) = transfer.filter(|t| self.end_storing(*t)) {
            self.media_out(refusal(
                transfer,
                RefusalReason::NotStored,
                "the server could not store the media's record; upload it again later",
            ));
        }
    }

    /// Marks an upload whose record was written (or not) as answered; false if it is not
    /// waiting for that any more.
    fn end_storing(&mut self, transfer: TransferId) -> bool {
        match self.media.transfers.get_mut(&transfer) {
            Some(t) if matches!(t.flow, Flow::Storing { .. }) => {
                t.flow = Flow::Done;
                true
            }
            _ => false,
        }
    }

    /// `media_id` is live from now until it expires.
    fn media_live(&mut self, media_id: String, media: Media, restored: bool) {
        let left = media.expires_ms.saturating_sub(self.unix_ms());
        self.timers.schedule(
            self.now
                .saturating_add(core::time::Duration::from_millis(left)),
            ServerTimer::MediaExpiry(media_id.clone()),
        );
        if restored {
            self.media.library.restore(media_id, media);
        } else {
            self.media.library.commit(media_id, media);
        }
    }

    /// A restored media record: live again, or deleted (with its file) if it expired.
    /// Returns whether it is live.
    pub(super) fn restore_media(&mut self, media_id: String, media: Media) -> bool {
        if media.expires_ms <= self.unix_ms() {
            self.out
                .push_back(ServerOutput::Storage(StorageOp::Delete(media.record)));
            self.media_out(MediaOp::Remove { media_id });
            return false;
        }
        self.media_live(media_id, media, true);
        true
    }

    /// A media's expiry timer.
    pub(super) fn on_media_expiry(&mut self, media_id: &str) {
        let due = self
            .media
            .library
            .get(media_id)
            .is_some_and(|m| m.expires_ms <= self.unix_ms());
        if !due {
            return;
        }
        let media = self.media.library.remove(media_id).expect("checked");
        self.out
            .push_back(ServerOutput::Storage(StorageOp::Delete(media.record)));
        self.media_out(MediaOp::Remove {
            media_id: media_id.to_string(),
        });
    }

    fn begin_download(&mut self, transfer: TransferId, ticket: &str, media_id: &str) {
        let Some(uid) = self.admit_transfer(transfer, ticket) else {
            return;
        };
        let now_ms = self.unix_ms();
        let Some(media) = self
            .media
            .library
            .get(media_id)
            .filter(|m| m.expires_ms > now_ms)
        else {
            return self.media_out(refusal(
                transfer,
                RefusalReason::NotExist,
                "no such media: the id is wrong or has expired (media live 7 days)",
            ));
        };
        let op = MediaOp::DownloadAccepted {
            transfer,
            media_id: media_id.to_string(),
            size: media.size,
            mime: media.mime.clone(),
        };
        self.start_transfer(transfer, uid, Flow::Done);
        self.media_out(op);
    }

    fn transfer_ended(&mut self, transfer: TransferId) {
        let Some(t) = self.media.transfers.remove(&transfer) else {
            return; // refused at its start, or unknown
        };
        if let Some(n) = self.media.per_user.get_mut(&t.uid) {
            *n -= 1;
            if *n == 0 {
                self.media.per_user.remove(&t.uid);
            }
        }
        match t.flow {
            // Cut before its body was stored: nothing is kept.
            Flow::Receiving { media_id, size } => {
                self.media.library.release(&t.uid, size);
                self.media_out(MediaOp::Remove { media_id });
            }
            // Its record is being written: the media goes live when it commits (its
            // uploader may ask for it again), but nobody is left to answer.
            Flow::Storing { record } => {
                if let Some(w) = self.media.writes.get_mut(&record) {
                    w.transfer = None;
                }
            }
            Flow::Done => {}
        }
    }
}
