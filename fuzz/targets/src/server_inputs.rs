//! `server_inputs`: a `Server` fed arbitrary inputs on a small set of connection ids.

use std::collections::BTreeMap;

use bytes::Bytes;
use rtm_proto::server::{
    ConnId, RecordId, Server, ServerConfig, ServerInput, ServerOutput, StorageEvent, StorageOp,
};
use rtm_proto::wire::Reply;
use rtm_proto::wire::{ServerFrame, MAX_FRAME_BYTES};
use rtm_proto::Timestamp;

use crate::client_frames::*;
use crate::debug;
use crate::input::Input;
use crate::values::ADMIN;
use crate::values::*;

/// A `Server` fed arbitrary inputs from a small set of connection ids.
pub fn server_inputs(data: &[u8]) {
    let mut inp = Input::new(data);
    let admin = inp.prefix(ADMIN);
    let media = !admin && inp.prefix(crate::values::MEDIA);
    let extended = admin || media || inp.prefix(EXTENDED);
    let seed = inp.u64();
    let cfg = ServerConfig {
        // Small enough for the fuzzer to reach every bound.
        media: rtm_proto::server::MediaLimits {
            user_bytes: 200_000,
            total_bytes: 300_000,
            records: 8,
            transfers_per_user: 2,
            transfers: 3,
            tickets_per_session: 3,
            tickets: 6,
            ..Default::default()
        },
        max_unacked: 1 + inp.u8() as usize % 8,
        offline_per_user: 1 + inp.u8() as usize % 8,
        offline_total: 1 + inp.u8() as usize % 32,
        dedup_bytes: 256 + inp.u8() as usize * 64,
        admin_keys: if admin {
            vec![crate::admin_calls::key()]
        } else {
            Vec::new()
        },
        ..ServerConfig::default()
    };
    let (per_user, total) = (cfg.offline_per_user, cfg.offline_total);
    let mut now = 0u64;
    let mut s = Server::new(cfg, seed, Timestamp::from_millis(now), 1_700_000_000_000);
    // Connection id -> open (the server knows it). Ids are reused only once forgotten.
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    let mut sids: Vec<String> = Vec::new();
    // Record writes not yet completed, in order, and every id ever written.
    let mut writes: Vec<RecordId> = Vec::new();
    let mut written: std::collections::BTreeSet<RecordId> = Default::default();
    // REST calls made and not yet answered.
    let mut calls = crate::admin_calls::Calls::default();
    // Media exchanges made and what the server issued.
    let mut transfers = crate::media_calls::Transfers::default();
    let mut steps = 0;
    while !inp.is_empty() && steps < 4096 {
        steps += 1;
        let conn = u64::from(inp.u8() % 4);
        let is_open = open.get(&conn).copied().unwrap_or(false);
        let ts = Timestamp::from_millis(now);
        let mut ticked = false;
        let op = inp.u8() % if admin || media { 10 } else { 9 };
        let mut began = None;
        if debug() {
            eprintln!("{now:>8} op {op} conn {conn}");
        }
        match op {
            0 => {
                if !is_open {
                    open.insert(conn, true);
                    // One source for all: the per-source login limit is on the path.
                    let source = core::net::IpAddr::from([10, 0, 0, 1]);
                    s.handle_input(ts, ServerInput::Opened(ConnId(conn), Some(source)));
                }
            }
            1 => {
                if is_open {
                    open.insert(conn, false);
                    s.handle_input(ts, ServerInput::Closed(ConnId(conn)));
                }
            }
            2 => {
                if is_open {
                    let b = Bytes::copy_from_slice(inp.bytes(256));
                    s.handle_input(ts, ServerInput::Frame(ConnId(conn), b));
                }
            }
            3..=5 => {
                if is_open {
                    let f = if extended {
                        client_frame_ext(&mut inp, &sids)
                    } else {
                        client_frame(&mut inp, &sids)
                    };
                    if debug() {
                        eprintln!("{now:>8} server <- c{conn} {}", String::from_utf8_lossy(&f));
                    }
                    s.handle_input(ts, ServerInput::Frame(ConnId(conn), f));
                }
            }
            8 => {
                // The store completes the oldest writes: commits them, or fails them.
                let n = (inp.u8() as usize % 4 + 1).min(writes.len());
                let done: Vec<RecordId> = writes.drain(..n).collect();
                let event = if inp.u8() % 4 == 0 {
                    StorageEvent::Failed(done)
                } else {
                    StorageEvent::Committed(done)
                };
                s.handle_input(ts, ServerInput::Storage(event));
            }
            6 => {
                now += match inp.u8() % 4 {
                    0 => u64::from(inp.u8()),
                    1 => u64::from(inp.u16()),
                    2 => 6_001,
                    _ => 30_001,
                };
                s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
                ticked = true;
            }
            9 if media => {
                if transfers.wants_ticket(&mut inp) {
                    if is_open {
                        let f = Bytes::from_static(br#"{"type":"media_grant","id":5}"#);
                        s.handle_input(ts, ServerInput::Frame(ConnId(conn), f));
                    }
                } else if let Some(call) = transfers.make(&mut inp) {
                    if debug() {
                        eprintln!("{now:>8} server <- {call:?}");
                    }
                    began = Some(call.clone());
                    s.handle_input(ts, ServerInput::Media(call));
                }
            }
            9 => {
                let call = calls.make(&mut inp);
                if debug() {
                    eprintln!("{now:>8} server <- {call:?}");
                }
                s.handle_input(ts, ServerInput::Admin(call));
            }
            _ => {
                if let Some(d) = s.poll_timeout() {
                    now = now.max(d.as_millis());
                }
                s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
                ticked = true;
            }
        }
        let mut outputs = 0usize;
        while let Some(out) = s.poll_output() {
            outputs += 1;
            assert!(outputs < 100_000, "server output runaway");
            if debug() {
                eprintln!("{now:>8} server -> {out:?}");
            }
            match out {
                ServerOutput::Send { conn, frame } => {
                    assert!(
                        open.get(&conn.0).copied().unwrap_or(false),
                        "server sent on c{} which it does not hold",
                        conn.0
                    );
                    assert!(
                        frame.len() <= MAX_FRAME_BYTES,
                        "server sent a {}-byte frame, over the {MAX_FRAME_BYTES}-byte limit clients enforce",
                        frame.len()
                    );
                    match ServerFrame::decode(&frame) {
                        Ok(ServerFrame::Reply(Reply::LoginOk { session, .. })) => {
                            if sids.len() < 16 {
                                sids.push(session);
                            }
                        }
                        Ok(ServerFrame::Reply(Reply::MediaTicket { ticket, .. })) => {
                            transfers.ticket_issued(ticket)
                        }
                        Ok(_) => {}
                        Err(e) => panic!("server sent a frame that does not decode: {e}"),
                    }
                }
                ServerOutput::Media(op) => transfers.on_op(&op),
                ServerOutput::Close { conn, .. } => {
                    assert!(
                        open.get(&conn.0).copied().unwrap_or(false),
                        "server closed c{} which it does not hold",
                        conn.0
                    );
                    open.insert(conn.0, false);
                }
                ServerOutput::Storage(StorageOp::Write(record)) => {
                    assert!(
                        written.insert(record.id),
                        "record id {:?} written twice",
                        record.id
                    );
                    writes.push(record.id);
                }
                ServerOutput::Storage(StorageOp::Delete(id)) => {
                    assert!(written.contains(&id), "delete of a record never written");
                }
                ServerOutput::AdminReply(reply) => calls.answered(&reply),
            }
        }
        transfers.check_answered(began.as_ref());
        let st = s.stats();
        let held = open.values().filter(|&&o| o).count();
        assert_eq!(
            st.connections, held,
            "server connection count disagrees with the driver"
        );
        assert!(st.sessions <= 4, "more sessions than user ids");
        assert!(st.channels <= 3, "more channels than channel ids");
        // 4 callers × 8 numbers: a record per (caller, number), however often resent.
        assert!(
            st.invitations <= 32,
            "invitation records beyond one per invitation"
        );
        assert!(
            st.offline_messages <= per_user * 4,
            "offline store over its per-user bound"
        );
        let _ = total;
        if let Some(d) = s.poll_timeout() {
            let d = d.as_millis();
            assert!(d >= now, "server poll_timeout {d} before now {now}");
            assert!(
                !(ticked && outputs == 0 && d == now),
                "server tick at the deadline made no progress"
            );
        }
    }
    if media {
        // Every exchange ends, the store answers the writes, then the media expire: every
        // slot, reservation and byte must be given back.
        let ts = Timestamp::from_millis(now);
        for call in transfers.end_all() {
            s.handle_input(ts, ServerInput::Media(call));
        }
        let done: Vec<RecordId> = std::mem::take(&mut writes);
        s.handle_input(ts, ServerInput::Storage(StorageEvent::Committed(done)));
        now += 8 * 24 * 3600 * 1000;
        s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
        while let Some(out) = s.poll_output() {
            if let ServerOutput::Media(op) = out {
                transfers.on_op(&op);
            }
        }
        let st = s.stats();
        assert_eq!(
            st.media_transfers, 0,
            "transfer slots left after every exchange ended"
        );
        assert_eq!(
            (st.media_files, st.media_bytes),
            (0, 0),
            "media or reserved bytes left after 8 days"
        );
    }
    if admin {
        // Every waiting call ends: the store answers the writes, then time passes every
        // deadline; each call must have been answered exactly once by then.
        let done: Vec<RecordId> = std::mem::take(&mut writes);
        let ts = Timestamp::from_millis(now);
        s.handle_input(ts, ServerInput::Storage(StorageEvent::Committed(done)));
        now += 60_000;
        s.handle_input(Timestamp::from_millis(now), ServerInput::Tick);
        while let Some(out) = s.poll_output() {
            if let ServerOutput::AdminReply(reply) = out {
                calls.answered(&reply);
            }
        }
        calls.all_answered();
    }
}
