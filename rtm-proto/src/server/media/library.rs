//! The media the server keeps: one entry per media id, with its owner, size, MIME type and
//! expiry, and the byte counts the quotas are checked against.
//!
//! An upload reserves its declared size against the uploader's quota and the server's
//! budget when it starts (`reserve`), so nine parallel uploads cannot together pass a
//! quota; the reservation becomes the entry when its record commits (`insert`), or is
//! released (`release`). The entry's file is the driver's (`<data dir>/media/<media id>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::server::storage::{Record, RecordId, RecordKind};
use crate::server::MediaLimits;

/// One live media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    pub owner: UserId,
    pub size: u64,
    pub mime: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub record: RecordId,
}

/// Why an upload may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotaRefusal {
    User,
    Server,
    Records,
}

/// Live media and reservations.
#[derive(Debug, Default)]
pub(crate) struct Library {
    media: BTreeMap<String, Media>,
    /// Live and reserved bytes per user, and in all.
    user_bytes: BTreeMap<UserId, u64>,
    total_bytes: u64,
    /// Uploads started and not yet live or released (they count against `records`).
    reserved: usize,
}

impl Library {
    pub fn len(&self) -> usize {
        self.media.len()
    }

    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn get(&self, media_id: &str) -> Option<&Media> {
        self.media.get(media_id)
    }

    /// Reserves `size` bytes for an upload by `uid`, within the limits.
    pub fn reserve(
        &mut self,
        uid: &UserId,
        size: u64,
        limits: &MediaLimits,
    ) -> Result<(), QuotaRefusal> {
        let user = self.user_bytes.get(uid).copied().unwrap_or(0);
        if user.saturating_add(size) > limits.user_bytes {
            return Err(QuotaRefusal::User);
        }
        if self.total_bytes.saturating_add(size) > limits.total_bytes {
            return Err(QuotaRefusal::Server);
        }
        if self.media.len() + self.reserved >= limits.records {
            return Err(QuotaRefusal::Records);
        }
        self.add(uid, size);
        self.reserved += 1;
        Ok(())
    }

    /// Gives back a reservation that did not become media.
    pub fn release(&mut self, uid: &UserId, size: u64) {
        self.reserved -= 1;
        self.sub(uid, size);
    }

    /// A reservation became `media` (its record committed).
    pub fn commit(&mut self, media_id: String, media: Media) {
        self.reserved -= 1;
        self.media.insert(media_id, media);
    }

    /// A restored entry (its bytes were not reserved in this run).
    pub fn restore(&mut self, media_id: String, media: Media) {
        self.add(&media.owner, media.size);
        if let Some(old) = self.media.insert(media_id, media) {
            self.sub(&old.owner, old.size); // the same id twice in a store: keep one
        }
    }

    /// Removes an entry (expired).
    pub fn remove(&mut self, media_id: &str) -> Option<Media> {
        let media = self.media.remove(media_id)?;
        self.sub(&media.owner, media.size);
        Some(media)
    }

    fn add(&mut self, uid: &UserId, size: u64) {
        *self.user_bytes.entry(uid.clone()).or_default() += size;
        self.total_bytes += size;
    }

    fn sub(&mut self, uid: &UserId, size: u64) {
        if let Some(n) = self.user_bytes.get_mut(uid) {
            *n -= size;
            if *n == 0 {
                self.user_bytes.remove(uid);
            }
        }
        self.total_bytes -= size;
    }
}

/// A media record's body (JSON, versioned like the other records).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaBody {
    v: u32,
    media_id: String,
    owner: UserId,
    size: u64,
    mime: String,
    created_ms: u64,
    expires_ms: u64,
}

const BODY_VERSION: u32 = 1;

/// The record of `media` under its id.
pub(crate) fn media_record(media_id: &str, media: &Media) -> Record {
    let body = MediaBody {
        v: BODY_VERSION,
        media_id: media_id.to_string(),
        owner: media.owner.clone(),
        size: media.size,
        mime: media.mime.clone(),
        created_ms: media.created_ms,
        expires_ms: media.expires_ms,
    };
    Record {
        id: media.record,
        kind: RecordKind::Media,
        owner: media.owner.as_str().to_string(),
        created_ms: media.created_ms,
        body: serde_json::to_vec(&body)
            .expect("a media body always serialises")
            .into(),
    }
}

/// The media a record holds; `None` if unreadable.
pub(crate) fn media_of(record: &Record) -> Option<(String, Media)> {
    if record.kind != RecordKind::Media {
        return None;
    }
    let body: MediaBody = serde_json::from_slice(&record.body).ok()?;
    let sane = body.v == BODY_VERSION
        && crate::media::is_valid_media_id(&body.media_id)
        && (1..=crate::media::MAX_MEDIA_BYTES).contains(&body.size)
        && body.mime.len() <= super::MAX_MIME_BYTES;
    sane.then_some({
        (
            body.media_id,
            Media {
                owner: body.owner,
                size: body.size,
                mime: body.mime,
                created_ms: body.created_ms,
                expires_ms: body.expires_ms,
                record: record.id,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> MediaLimits {
        MediaLimits {
            user_bytes: 100,
            total_bytes: 150,
            records: 3,
            ..Default::default()
        }
    }

    #[test]
    fn quotas_count_reservations() {
        let alice = UserId::new("alice").unwrap();
        let bob = UserId::new("bob").unwrap();
        let mut lib = Library::default();
        lib.reserve(&alice, 60, &limits()).unwrap();
        assert_eq!(lib.reserve(&alice, 41, &limits()), Err(QuotaRefusal::User));
        lib.reserve(&bob, 90, &limits()).unwrap();
        assert_eq!(lib.reserve(&bob, 1, &limits()), Err(QuotaRefusal::Server));
        lib.release(&bob, 90);
        lib.reserve(&bob, 10, &limits()).unwrap();
        lib.reserve(&bob, 10, &limits()).unwrap();
        assert_eq!(lib.reserve(&bob, 1, &limits()), Err(QuotaRefusal::Records));
        assert_eq!(lib.bytes(), 80);
    }

    #[test]
    fn a_record_reads_back() {
        let media = Media {
            owner: UserId::new("alice").unwrap(),
            size: 5,
            mime: "image/png".into(),
            created_ms: 1,
            expires_ms: 2,
            record: RecordId(9),
        };
        let record = media_record("abc", &media);
        assert_eq!(media_of(&record), Some(("abc".to_string(), media)));
        let garbled = Record {
            body: bytes::Bytes::from_static(b"{\"v\":1}"),
            ..record
        };
        assert_eq!(media_of(&garbled), None);
    }
}
