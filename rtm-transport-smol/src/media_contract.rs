//! TEMPORARY stand-in for the core's media contract (rtm_proto), removed at the merge.
#![allow(dead_code)]
use bytes::Bytes;
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u64);
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCall {
    BeginUpload {
        transfer: TransferId,
        ticket: String,
        size: Option<u64>,
    },
    Uploaded {
        transfer: TransferId,
        size: u64,
        mime: String,
    },
    BeginDownload {
        transfer: TransferId,
        ticket: String,
        media_id: String,
    },
    Ended {
        transfer: TransferId,
    },
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOp {
    UploadAccepted {
        transfer: TransferId,
        media_id: String,
    },
    DownloadAccepted {
        transfer: TransferId,
        media_id: String,
        size: u64,
        mime: String,
    },
    Answer {
        transfer: TransferId,
        status: u16,
        body: Bytes,
    },
    Remove {
        media_id: String,
    },
}
pub fn sniff_mime(_head: &[u8]) -> &'static str {
    "application/octet-stream"
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEnd {
    Refused { status: u16, body: Bytes },
    Uploaded { body: Bytes },
    Downloaded { size: u64, mime: String },
    Broken,
}
