//! The store against real SQLite files in temporary directories.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rtm_proto::server::{Record, RecordId, RecordKind, StorageEvent, StorageOp};

use super::writer::{GroupCommit, Sink, Writer};
use super::{Db, DB_FILE, SCHEMA_VERSION};

fn record(id: u64) -> Record {
    Record {
        id: RecordId(id),
        kind: RecordKind::PeerMessage,
        owner: format!("user{}", id % 3),
        created_ms: 1_700_000_000_000 + id,
        body: Bytes::from(format!("{{\"n\":{id}}}")),
    }
}

fn write(id: u64) -> StorageOp {
    StorageOp::Write(record(id))
}

fn ids(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.id.0).collect()
}

/// The next completion, within 10 s.
fn next(done: &async_channel::Receiver<StorageEvent>) -> StorageEvent {
    smol::block_on(async {
        futures_lite::future::or(async { done.recv().await.expect("thread alive") }, async {
            smol::Timer::after(Duration::from_secs(10)).await;
            panic!("no completion within 10 s")
        })
        .await
    })
}

/// Committed write ids until `n` were reported (each exactly once), in report order.
fn committed(done: &async_channel::Receiver<StorageEvent>, n: usize) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < n {
        match next(done) {
            StorageEvent::Committed(ids) => got.extend(ids.iter().map(|id| id.0)),
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

#[test]
fn records_round_trip_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    {
        let mut db = Db::open(&data).expect("a new database");
        assert!(db.load().unwrap().is_empty());
        db.apply(
            &[],
            &[write(1), write(2), write(3), StorageOp::Delete(RecordId(2))],
        )
        .unwrap();
        db.apply(
            &[RecordId(3)],
            &[write(4), write(5), StorageOp::Delete(RecordId(5))],
        )
        .unwrap();
        // A write deleted in the same batch is gone; deleting twice is harmless.
        db.apply(&[], &[StorageOp::Delete(RecordId(2))]).unwrap();
        assert!(db.size_bytes() > 0);
    }
    let db = Db::open(&data).expect("the same database again");
    let records = db.load().unwrap();
    assert_eq!(ids(&records), [1, 4]);
    assert_eq!(records[0], record(1));
    assert_eq!(records[1], record(4));
    assert_eq!(db.path(), data.canonicalize().unwrap().join(DB_FILE));
}

#[test]
fn records_load_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(dir.path()).unwrap();
    db.apply(&[], &[write(30), write(2), write(17)]).unwrap();
    assert_eq!(ids(&db.load().unwrap()), [2, 17, 30]);
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Db::open(dir.path()).unwrap();
    let err = Db::open(dir.path())
        .expect_err("the file is locked")
        .to_string();
    assert!(err.contains("in use by another process"), "{err}");
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path()).unwrap());
    let path = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Db::open(dir.path()).expect_err("refused").to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("newer than this rtm-server knows"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was changed"
    );
}

#[test]
fn a_garbage_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Db::open(dir.path()).expect_err("refused").to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("not a usable RTM database"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was changed"
    );
}

#[test]
fn a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT);").unwrap();
    }
    let err = Db::open(dir.path()).expect_err("refused").to_string();
    assert!(err.contains("no `meta` table"), "{err}");

    // Ours, but with the records table gone.
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path()).unwrap());
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch("DROP TABLE records;").unwrap();
    }
    let err = Db::open(dir.path()).expect_err("refused").to_string();
    assert!(err.contains("`records` table"), "{err}");
}

#[test]
fn a_record_of_an_unknown_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = Db::open(dir.path()).unwrap();
        db.apply(&[], &[write(1)]).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO records VALUES (2, 'channel_message', 'bob', 1, x'00')",
            [],
        )
        .unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    let err = db.load().expect_err("refused").to_string();
    assert!(
        err.contains("record 2 has kind \"channel_message\""),
        "{err}"
    );
}

/// A [`Db`] that counts its transactions and fails them while `fail` is set.
struct Flaky {
    db: Db,
    fail: Arc<AtomicBool>,
    transactions: Arc<AtomicUsize>,
}

impl Sink for Flaky {
    fn apply(&mut self, deletes: &[RecordId], ops: &[StorageOp]) -> Result<(), String> {
        self.transactions.fetch_add(1, Ordering::SeqCst);
        self.db.fail_writes(self.fail.load(Ordering::SeqCst));
        Sink::apply(&mut self.db, deletes, ops)
    }
}

fn flaky(
    dir: &std::path::Path,
    tuning: GroupCommit,
) -> (Writer, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let fail = Arc::new(AtomicBool::new(false));
    let transactions = Arc::new(AtomicUsize::new(0));
    let sink = Flaky {
        db: Db::open(dir).unwrap(),
        fail: fail.clone(),
        transactions: transactions.clone(),
    };
    (Writer::start(sink, tuning).unwrap(), fail, transactions)
}

#[test]
fn group_commit_puts_many_writes_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let tuning = GroupCommit {
        window: Duration::from_millis(50),
        max_batch: 400,
        queue: 100,
    };
    let (writer, _, transactions) = flaky(dir.path(), tuning);
    let done = writer.completions();
    smol::block_on(async {
        for id in 1..=1000 {
            assert!(writer.send(write(id)).await);
        }
    });
    // Every write reported once, in order; far fewer transactions than writes (the queue
    // of 100 filling up makes the sender wait: that is the backpressure).
    assert_eq!(committed(&done, 1000), (1..=1000).collect::<Vec<_>>());
    let n = transactions.load(Ordering::SeqCst);
    assert!((3..=20).contains(&n), "{n} transactions for 1000 writes");
    smol::block_on(writer.finish());
    assert_eq!(Db::open(dir.path()).unwrap().load().unwrap().len(), 1000);
}

#[test]
fn failed_writes_are_reported_and_deletes_retried_until_done() {
    let dir = tempfile::tempdir().unwrap();
    let tuning = GroupCommit {
        window: Duration::from_millis(1),
        ..GroupCommit::default()
    };
    let (writer, fail, _) = flaky(dir.path(), tuning);
    let done = writer.completions();
    smol::block_on(async {
        assert!(writer.send(write(1)).await);
        assert!(writer.send(write(2)).await);
    });
    assert_eq!(committed(&done, 2), [1, 2]);

    // The disk fails: the write is reported failed, exactly once; the delete is kept.
    fail.store(true, Ordering::SeqCst);
    smol::block_on(async {
        assert!(writer.send(StorageOp::Delete(RecordId(1))).await);
        assert!(writer.send(write(3)).await);
    });
    let mut failed = Vec::new();
    while failed.is_empty() || failed.last() != Some(&3) {
        match next(&done) {
            StorageEvent::Failed(ids) => failed.extend(ids.iter().map(|id| id.0)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(failed, [3]);

    // The disk comes back; no new op: the thread retries the delete by itself.
    fail.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    smol::block_on(async {
        assert!(writer.send(write(4)).await);
    });
    assert_eq!(committed(&done, 1), [4]);
    smol::block_on(writer.finish());
    assert!(done.try_recv().is_err(), "a write was reported twice");
    let left = Db::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(ids(&left), [2, 4]);
}

#[test]
fn finish_carries_out_every_queued_op() {
    let dir = tempfile::tempdir().unwrap();
    let tuning = GroupCommit {
        window: Duration::from_millis(20),
        max_batch: 7,
        queue: 1000,
    };
    let (writer, _, _) = flaky(dir.path(), tuning);
    smol::block_on(async {
        for id in 1..=100 {
            assert!(writer.send(write(id)).await);
            if id % 2 == 0 {
                assert!(writer.send(StorageOp::Delete(RecordId(id))).await);
            }
        }
        writer.finish().await;
    });
    let left = Db::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(ids(&left), (1..=100).step_by(2).collect::<Vec<_>>());
}
