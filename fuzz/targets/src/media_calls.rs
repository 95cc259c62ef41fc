//! Media calls for `server_inputs` (inputs that start with [`crate::MEDIA`]): the steps of
//! uploads and downloads a driver reports (`ServerInput::Media`), with tickets the server
//! issued, used ones, and garbage; declared sizes at and around the limits; media ids the
//! server issued and others. And the checks of the driver contract from the core's side:
//! every `Begin*` answered at once (accepted or refused, exactly once), an `Uploaded`
//! answered at most once, `Remove` only of media ids the server issued, and every byte and
//! slot given back once the exchanges end and the media expire.

use std::collections::{BTreeMap, BTreeSet};

use rtm_proto::media::MAX_MEDIA_BYTES;
use rtm_proto::server::media::{MediaCall, MediaOp, TransferId};

use crate::input::Input;

/// Where an exchange is, as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Begun: its first answer is due in the same input.
    Begun { upload: bool },
    /// An accepted upload receiving `size` bytes.
    Receiving { size: u64 },
    /// `Uploaded` was reported: its answer is due (after the record's commit).
    Stored,
    /// Answered, or a download being served: only `Ended` is left.
    Done,
}

/// The exchanges and what the server issued.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    next: u64,
    tickets: Vec<String>,
    used: Vec<String>,
    issued: BTreeSet<String>,
    open: BTreeMap<u64, Step>,
}

impl Transfers {
    /// Remembers a ticket the server issued (a few are kept to use).
    pub fn ticket_issued(&mut self, ticket: String) {
        if self.tickets.len() < 16 {
            self.tickets.push(ticket);
        }
    }

    /// Whether the next media step asks for a ticket: always when none is in hand.
    pub fn wants_ticket(&mut self, inp: &mut Input) -> bool {
        self.tickets.is_empty() || inp.u8() % 4 == 0
    }

    fn ticket(&mut self, inp: &mut Input) -> String {
        match inp.u8() % 8 {
            0 => String::new(),
            1 => "not-a-ticket".into(),
            // One used already: refused.
            2 => self.used.last().cloned().unwrap_or_default(),
            _ if !self.tickets.is_empty() => {
                let ticket = self.tickets.remove(0);
                if self.used.len() < 4 {
                    self.used.push(ticket.clone());
                }
                ticket
            }
            _ => String::new(),
        }
    }

    fn new_transfer(&mut self, step: Step) -> TransferId {
        self.next += 1;
        self.open.insert(self.next, step);
        TransferId(self.next)
    }

    fn pick(&self, inp: &mut Input, want: impl Fn(&Step) -> bool) -> Option<u64> {
        let fitting: Vec<u64> = self
            .open
            .iter()
            .filter(|(_, s)| want(s))
            .map(|(t, _)| *t)
            .collect();
        fitting
            .get(inp.u8() as usize % fitting.len().max(1))
            .copied()
    }

    /// The next call, or `None` when the one chosen has nothing to act on.
    pub fn make(&mut self, inp: &mut Input) -> Option<MediaCall> {
        let choice = inp.u8() % 7;
        // Without a ticket in hand a start is mostly wasted (401): only one in four goes.
        if choice < 2 && self.tickets.is_empty() && inp.u8() % 4 != 0 {
            return None;
        }
        Some(match choice {
            0 => {
                let ticket = self.ticket(inp);
                let size = match inp.u8() % 10 {
                    0 => None,
                    1 => Some(0),
                    2 => Some(MAX_MEDIA_BYTES),
                    3 => Some(MAX_MEDIA_BYTES + 1),
                    4 => Some(u64::MAX),
                    _ => Some(1 + u64::from(inp.u16())),
                };
                let transfer = self.new_transfer(Step::Begun { upload: true });
                MediaCall::BeginUpload {
                    transfer,
                    ticket,
                    size,
                }
            }
            1 => {
                let ticket = self.ticket(inp);
                let media_id = match inp.u8() % 4 {
                    0 => "../../etc/passwd".to_string(),
                    1 => String::new(),
                    _ => self
                        .issued
                        .iter()
                        .nth(inp.u8() as usize % self.issued.len().max(1))
                        .cloned()
                        .unwrap_or_else(|| "0123456789abcdef0123456789abcdef".into()),
                };
                let transfer = self.new_transfer(Step::Begun { upload: false });
                MediaCall::BeginDownload {
                    transfer,
                    ticket,
                    media_id,
                }
            }
            2..=4 => {
                let t = self.pick(inp, |s| matches!(s, Step::Receiving { .. }))?;
                let Some(Step::Receiving { size }) = self.open.get(&t).copied() else {
                    unreachable!()
                };
                // A driver is to report the declared size; one that does not gets a 400.
                let size = if inp.u8() % 8 == 0 { size + 1 } else { size };
                let mime = ["image/png", "application/octet-stream", ""][inp.u8() as usize % 3];
                self.open.insert(t, Step::Stored);
                MediaCall::Uploaded {
                    transfer: TransferId(t),
                    size,
                    mime: mime.into(),
                }
            }
            5 => {
                let t = self.pick(inp, |_| true)?;
                self.open.remove(&t);
                MediaCall::Ended {
                    transfer: TransferId(t),
                }
            }
            _ => MediaCall::Ended {
                transfer: TransferId(1_000_000 + u64::from(inp.u8())),
            },
        })
    }

    /// Checks one op against the exchanges.
    pub fn on_op(&mut self, op: &MediaOp) {
        match op {
            MediaOp::UploadAccepted { transfer, media_id } => {
                let step = self.open.get_mut(&transfer.0);
                let Some(step @ Step::Begun { upload: true }) = step else {
                    panic!("UploadAccepted for {transfer:?} in {step:?}");
                };
                assert!(
                    rtm_proto::media::is_valid_media_id(media_id),
                    "media id {media_id:?} would not round-trip through a URL"
                );
                assert!(
                    self.issued.insert(media_id.clone()),
                    "media id issued twice"
                );
                // The size is not in the op: the fuzzer's declared sizes are all it knows.
                *step = Step::Receiving { size: 0 };
            }
            MediaOp::DownloadAccepted { transfer, size, .. } => {
                let step = self.open.get_mut(&transfer.0);
                let Some(step @ Step::Begun { upload: false }) = step else {
                    panic!("DownloadAccepted for {transfer:?} in {step:?}");
                };
                assert!((1..=MAX_MEDIA_BYTES).contains(size));
                *step = Step::Done;
            }
            MediaOp::Answer {
                transfer,
                status,
                body,
            } => {
                assert!((200..600).contains(status), "status {status}");
                assert!(
                    serde_json::from_slice::<serde_json::Value>(body).is_ok(),
                    "an answer that is not JSON"
                );
                // Its exchange may have ended already (an upload cut while its record was
                // written is not answered; anything else must be one waiting for this).
                if let Some(step) = self.open.get_mut(&transfer.0) {
                    assert!(
                        matches!(
                            step,
                            Step::Begun { .. } | Step::Stored | Step::Receiving { .. }
                        ),
                        "a second answer to {transfer:?} ({step:?})"
                    );
                    *step = Step::Done;
                } else {
                    panic!("an answer to {transfer:?}, which has ended");
                }
            }
            MediaOp::Remove { media_id } => {
                assert!(
                    self.issued.contains(media_id),
                    "Remove of {media_id:?}, which the server never issued"
                );
            }
        }
    }

    /// After an input: no `Begin*` is left without its first answer. Accepted uploads
    /// learn their declared size from the call that began them.
    pub fn check_answered(&mut self, began: Option<&MediaCall>) {
        if let Some(MediaCall::BeginUpload {
            transfer,
            size: Some(size),
            ..
        }) = began
        {
            if let Some(step @ Step::Receiving { .. }) = self.open.get_mut(&transfer.0) {
                *step = Step::Receiving { size: *size };
            }
        }
        if let Some((t, step)) = self
            .open
            .iter()
            .find(|(_, s)| matches!(s, Step::Begun { .. }))
        {
            panic!("transfer {t} not answered at its start ({step:?})");
        }
    }

    /// Every exchange still open, ended (what a driver does when it stops).
    pub fn end_all(&mut self) -> Vec<MediaCall> {
        std::mem::take(&mut self.open)
            .into_keys()
            .map(|t| MediaCall::Ended {
                transfer: TransferId(t),
            })
            .collect()
    }
}
