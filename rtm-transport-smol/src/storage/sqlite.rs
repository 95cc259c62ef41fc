//! The SQLite file: opening it (and refusing what it cannot trust), its schema and
//! migrations, loading the records at start, and applying one batch of ops as one
//! transaction.
//!
//! Why SQLite: one file, crash-safe transactions, and readable by an operator with the
//! `sqlite3` shell (bodies are JSON). Why these settings:
//!
//! * `journal_mode=WAL`: a commit appends to the log instead of rewriting pages in place,
//!   so a group commit is one sequential write and one fsync.
//! * `synchronous=FULL`: the log is fsync'd at every commit, so what was reported committed
//!   survives a power cut, not only a process crash (`NORMAL` would only survive the latter).
//! * `locking_mode=EXCLUSIVE`: the server holds the file's lock as long as it runs, so a
//!   second `rtm-server` on the same data directory is refused at start instead of
//!   interleaving writes (and WAL needs no shared-memory `-shm` file). The OS releases the
//!   lock when the process dies, kill -9 included.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rtm_proto::server::{Record, RecordId, RecordKind, StorageOp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// The database's file name in the data directory.
pub const DB_FILE: &str = "rtm.db";

/// The schema, as the ordered list of steps that build it: step `i` takes a database from
/// version `i` to `i + 1`. A new version appends a step; a step is never edited once
/// released (databases in the field went through it as it was).
const MIGRATIONS: &[&str] = &[
    // 1: the records the core asks to keep.
    "CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        body BLOB NOT NULL
    );",
];

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a database was refused at start. The message names the file and says what to do;
/// the file itself has not been changed.
#[derive(Debug)]
pub struct OpenError {
    path: PathBuf,
    what: String,
}

impl OpenError {
    fn new(path: &Path, what: impl Into<String>) -> Self {
        OpenError {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// The file is not a database this binary can trust (not SQLite, damaged, not ours).
    fn damaged(path: &Path, detail: impl fmt::Display) -> Self {
        OpenError::new(
            path,
            format!(
                "not a usable RTM database ({detail}). The server refuses to start on it and \
                 has not changed it: restore it from a backup, or move it away to start with \
                 no stored messages, or point --data-dir elsewhere"
            ),
        )
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage {}: {}", self.path.display(), self.what)
    }
}

impl std::error::Error for OpenError {}

impl From<OpenError> for std::io::Error {
    fn from(e: OpenError) -> Self {
        std::io::Error::other(e.to_string())
    }
}

/// An open, checked database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if missing) `rtm.db` in `data_dir` (created if missing), checks it and
    /// brings its schema up to date. Refuses a file that is not an SQLite database, fails
    /// `PRAGMA quick_check`, lacks the schema's tables, or has a newer schema than this
    /// binary knows.
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            OpenError::new(data_dir, format!("cannot create the data directory: {e}"))
        })?;
        // Absolute, so the logs and error messages name the file wherever the server ran.
        let data_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let path = data_dir.join(DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| OpenError::new(&path, format!("cannot open: {e}")))?;
        let mut db = Db { conn, path };
        db.check_and_migrate()?;
        Ok(db)
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk: the database file and its write-ahead log.
    pub fn size_bytes(&self) -> u64 {
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        len(&self.path) + len(Path::new(&wal))
    }

    fn check_and_migrate(&mut self) -> Result<(), OpenError> {
        let path = self.path.clone();
        let busy = |e: &rusqlite::Error| {
            matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            )
        };
        let refuse = |e: rusqlite::Error| {
            if busy(&e) {
                OpenError::new(
                    &path,
                    "in use by another process (another rtm-server on the same data \
                     directory?); stop it or choose another --data-dir",
                )
            } else {
                OpenError::damaged(&path, e)
            }
        };
        // Exclusive before anything reads the file (see the module's doc).
        self.conn
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(refuse)?;
        // A file that is not a database fails here ("file is not a database").
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(refuse)?;
        if check != "ok" {
            return Err(OpenError::damaged(
                &path,
                format!("PRAGMA quick_check: {check}"),
            ));
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(refuse)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::new(
                &path,
                format!("cannot switch to write-ahead logging (journal mode stays {mode})"),
            ));
        }
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(refuse)?;

        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(refuse)?;
        let tables: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(refuse)?;
        let has_meta: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(refuse)?
            > 0;
        let version = if tables == 0 {
            // A new (or empty) file: ours to create.
            tx.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);")
                .map_err(refuse)?;
            0
        } else if !has_meta {
            return Err(OpenError::damaged(
                &path,
                "it holds tables but no `meta` table: not written by rtm-server",
            ));
        } else {
            let v: Option<i64> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = 'schema_version'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(refuse)?;
            v.ok_or_else(|| OpenError::damaged(&path, "no schema_version in its `meta` table"))?
        };
        if version > SCHEMA_VERSION {
            return Err(OpenError::new(
                &path,
                format!(
                    "schema version {version} is newer than this rtm-server knows (up to \
                     {SCHEMA_VERSION}): it was written by a newer release. Run that release \
                     (or a later one) on it; this one refuses to start and has not changed it"
                ),
            ));
        }
        if version < 0 {
            return Err(OpenError::damaged(
                &path,
                format!("schema version {version}"),
            ));
        }
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step).map_err(refuse)?;
        }
        if version < SCHEMA_VERSION {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(refuse)?;
        }
        // Every table and column this version reads must be there.
        tx.prepare("SELECT id, kind, owner, created_ms, body FROM records LIMIT 0")
            .map_err(|e| OpenError::damaged(&path, format!("its `records` table: {e}")))?;
        tx.commit().map_err(refuse)?;
        Ok(())
    }

    /// Every record, in ascending id order (for [`rtm_proto::Server::restore`]). A record of
    /// a kind this binary does not know, or with fields out of range, is refused: it was
    /// written by a newer release or the file was edited, and dropping it would lose data.
    pub fn load(&self) -> Result<Vec<Record>, OpenError> {
        let path = &self.path;
        let read_err =
            |e: rusqlite::Error| OpenError::damaged(path, format!("reading records: {e}"));
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, owner, created_ms, body FROM records ORDER BY id")
            .map_err(read_err)?;
        let mut rows = stmt.query([]).map_err(read_err)?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().map_err(read_err)? {
            let id: u64 = row.get(0).map_err(read_err)?;
            let kind: String = row.get(1).map_err(read_err)?;
            let Some(kind) = RecordKind::from_name(&kind) else {
                return Err(OpenError::new(
                    path,
                    format!(
                        "record {id} has kind {kind:?}, which this rtm-server does not know \
                         (written by a newer release?). It refuses to start rather than lose \
                         it: run a newer release, or delete that record yourself \
                         (sqlite3 {} \"DELETE FROM records WHERE id = {id}\")",
                        path.display()
                    ),
                ));
            };
            records.push(Record {
                id: RecordId(id),
                kind,
                owner: row.get(2).map_err(read_err)?,
                created_ms: row.get(3).map_err(read_err)?,
                body: Bytes::from(row.get::<_, Vec<u8>>(4).map_err(read_err)?),
            });
        }
        Ok(records)
    }

    /// Applies `deletes` (left over from a failed batch), then `ops` in order, as one
    /// transaction: all of it is durable once this returns `Ok`, none of it on `Err`.
    pub fn apply(&mut self, deletes: &[RecordId], ops: &[StorageOp]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO records (id, kind, owner, created_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM records WHERE id = ?1")?;
            for id in deletes {
                delete.execute([id.0])?;
            }
            for op in ops {
                match op {
                    StorageOp::Write(r) => {
                        insert.execute(params![
                            r.id.0,
                            r.kind.as_str(),
                            r.owner,
                            r.created_ms,
                            &r.body[..]
                        ])?;
                    }
                    StorageOp::Delete(id) => {
                        delete.execute([id.0])?;
                    }
                }
            }
        }
        // On error the transaction is rolled back as it is dropped.
        tx.commit()
    }

    /// Tests: makes every later write fail (SQLITE_READONLY) until turned off again, as a
    /// full or failing disk would.
    #[cfg(test)]
    pub fn fail_writes(&self, on: bool) {
        self.conn
            .pragma_update(None, "query_only", on)
            .expect("set query_only");
    }
}
