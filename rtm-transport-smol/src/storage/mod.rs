//! Durable state for the server driver: where the core's [`StorageOp`]s go (issue #12).
//!
//! The core decides what is kept (peer messages answered `cached`, see
//! `rtm_proto::server::storage`); this module keeps it:
//!
//! * [`Storage::Sqlite`]: `rtm.db` in a data directory ([`sqlite`]), written by a thread of
//!   its own with group commit ([`writer`]). A message answered `cached` survives kill -9
//!   and a power cut. A database this binary cannot trust is refused at start, never
//!   emptied or recreated.
//! * [`Storage::Memory`]: nothing on disk; every write commits at once. For tests and
//!   throwaway servers (the library default, so embedding a server writes no files).

pub mod sqlite;
pub mod writer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use rtm_proto::server::{Record, RecordId, StorageEvent, StorageOp};
use tracing::error;

use crate::metrics::StorageMetrics;

pub use sqlite::{Db, OpenError, DB_FILE, SCHEMA_VERSION};
pub use writer::GroupCommit;

use writer::Writer;

/// Where a server keeps what must survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Storage {
    /// Nothing on disk: every write commits at once, in memory; a restart loses the
    /// offline messages.
    #[default]
    Memory,
    /// `rtm.db` (SQLite, WAL, fsync'd commits) in `data_dir`, created if missing.
    Sqlite {
        data_dir: PathBuf,
        group_commit: GroupCommit,
    },
}

impl Storage {
    /// SQLite in `data_dir`, with the default group commit.
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Storage::Sqlite {
            data_dir: data_dir.into(),
            group_commit: GroupCommit::default(),
        }
    }
}

/// A store opened ([`open`]) and not yet served ([`crate::server::serve_opened`]): the
/// records to restore, and what to log about it.
#[derive(Debug)]
pub struct Opened {
    pub(crate) store: Store,
    pub(crate) records: Vec<Record>,
    /// The database file (`None` in memory).
    pub(crate) path: Option<PathBuf>,
    /// Database and log bytes on disk at start.
    pub(crate) size_bytes: u64,
}

impl Opened {
    /// Records loaded (0 in memory).
    pub fn records(&self) -> usize {
        self.records.len()
    }
}

/// Opens `storage`: checks the database, loads its records and starts the storage thread.
/// Blocking (file IO). Lets a program refuse a bad database before it announces anything;
/// [`crate::serve`] and [`crate::spawn_server`] call it themselves.
pub fn open(storage: &Storage) -> std::io::Result<Opened> {
    match storage {
        Storage::Memory => Ok(Opened {
            store: Store::Memory {
                committed: Vec::new(),
                deletes: 0,
                metrics: StorageMetrics::default(),
            },
            records: Vec::new(),
            path: None,
            size_bytes: 0,
        }),
        Storage::Sqlite {
            data_dir,
            group_commit,
        } => {
            let db = Db::open(data_dir)?;
            let records = db.load()?;
            let path = db.path().to_path_buf();
            let size_bytes = db.size_bytes();
            let writer = Writer::start(db, *group_commit)?;
            Ok(Opened {
                store: Store::Sqlite {
                    writer,
                    queued: VecDeque::new(),
                    broken: false,
                },
                records,
                path: Some(path),
                size_bytes,
            })
        }
    }
}

/// The core task's end of the store.
#[derive(Debug)]
pub(crate) enum Store {
    /// Writes (and a count of deletes) collected during a drain, reported committed at its
    /// end.
    Memory {
        committed: Vec<RecordId>,
        deletes: usize,
        metrics: StorageMetrics,
    },
    /// Ops collected during a drain, handed to the storage thread by [`Store::flush`].
    Sqlite {
        writer: Writer,
        queued: VecDeque<StorageOp>,
        /// The thread is gone; said once.
        broken: bool,
    },
}

impl Store {
    /// Takes one op of the core (in order).
    pub fn push(&mut self, op: StorageOp) {
        match self {
            Store::Memory {
                committed, deletes, ..
            } => match op {
                StorageOp::Write(r) => committed.push(r.id),
                StorageOp::Delete(_) => *deletes += 1,
            },
            Store::Sqlite { queued, .. } => queued.push_back(op),
        }
    }

    /// What the memory store has committed since the last call (nothing for SQLite: its
    /// completions come through [`Store::completions`]).
    pub fn take_committed(&mut self) -> Option<StorageEvent> {
        let Store::Memory {
            committed,
            deletes,
            metrics,
        } = self
        else {
            return None;
        };
        if committed.is_empty() && *deletes == 0 {
            return None;
        }
        metrics.transaction(committed.len(), *deletes, Duration::ZERO, true);
        *deletes = 0;
        if committed.is_empty() {
            return None;
        }
        Some(StorageEvent::Committed(std::mem::take(committed)))
    }

    /// What the store has done, for `/metrics`.
    pub fn metrics(&self) -> &StorageMetrics {
        match self {
            Store::Memory { metrics, .. } => metrics,
            Store::Sqlite { writer, .. } => writer.metrics(),
        }
    }

    /// Hands the queued ops to the storage thread, waiting while its queue is full.
    pub async fn flush(&mut self) {
        let Store::Sqlite {
            writer,
            queued,
            broken,
        } = self
        else {
            return;
        };
        while let Some(op) = queued.pop_front() {
            if !writer.send(op).await && !*broken {
                *broken = true;
                error!("the storage thread is gone: nothing more is stored");
            }
        }
    }

    /// Completions of the storage thread (never any for memory).
    pub fn completions(&self) -> Option<async_channel::Receiver<StorageEvent>> {
        match self {
            Store::Memory { .. } => None,
            Store::Sqlite { writer, .. } => Some(writer.completions()),
        }
    }

    /// At shutdown, after the last flush: waits until every queued op is carried out.
    pub async fn finish(self) {
        if let Store::Sqlite { writer, .. } = self {
            writer.finish().await;
        }
    }
}

#[cfg(test)]
mod tests;
