//! File and image message stories (§4.9, §8.14): the client core and the server core, with
//! the test playing the HTTP driver between them (what `rtm-transport-smol` does with real
//! requests and files).

mod common;

use bytes::Bytes;
use common::{raw_login, say_raw, StoreMode, World};
use rtm_proto::client::{
    Event, MediaDownload, MediaUpload, RequestId, Response, TransferEnd, TransferOrder,
};
use rtm_proto::media::{sniff_mime, MediaKind, MediaMessage, MAX_MEDIA_BYTES};
use rtm_proto::server::media::{MediaCall, MediaOp, TransferId};
use rtm_proto::server::{MediaLimits, ServerConfig, ServerInput};
use rtm_proto::{
    CancelMediaError, ClientConfig, DownloadMediaError, Message, PeerMessageOutcome,
    UploadMediaError,
};

/// A PNG of `width` × `height` (its header; the rest is padding) of `size` bytes.
fn png(width: u32, height: u32, size: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.resize(size, 7);
    v
}

/// The media call's outcome: the ops the server emitted for it.
fn call(w: &mut World, call: MediaCall) -> Vec<MediaOp> {
    w.server.handle_input(w.now, ServerInput::Media(call));
    w.settle();
    w.media_ops.drain(..).collect()
}

/// Client `c`'s next transfer order.
fn order(w: &mut World, c: usize) -> TransferOrder {
    w.settle();
    w.transfers[c]
        .pop_front()
        .unwrap_or_else(|| panic!("client {c} ordered no transfer: {:?}", w.events[c]))
}

/// Progress and response events of `request`, rendered.
fn transfer_story(w: &mut World, c: usize, request: RequestId) -> Vec<String> {
    let events = std::mem::take(&mut w.events[c]);
    let (mine, rest): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| match e {
        Event::MediaProgress { request: r, .. } | Event::Response { request: r, .. } => {
            *r == request
        }
        _ => false,
    });
    w.events[c] = rest;
    mine.iter()
        .map(|e| match e {
            Event::MediaProgress { current, total, .. } => format!("{current}/{total}"),
            Event::Response { response, .. } => format!("{response:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Plays the HTTP driver for an accepted upload of `body`: progress in two halves one
/// second apart, the body stored, the answer handed to the client. Returns the media id.
fn serve_upload(w: &mut World, c: usize, transfer: u64, body: &[u8]) -> String {
    let TransferOrder::Upload {
        request,
        ticket,
        size,
    } = order(w, c)
    else {
        panic!("not an upload")
    };
    assert_eq!(size, body.len() as u64);
    let transfer = TransferId(transfer);
    let ops = call(
        w,
        MediaCall::BeginUpload {
            transfer,
            ticket,
            size: Some(size),
        },
    );
    let [MediaOp::UploadAccepted { media_id, .. }] = &ops[..] else {
        panic!("upload refused: {ops:?}")
    };
    let now = w.now;
    w.clients[c].transfer_progress(now, request, size / 2, size);
    w.advance(1000);
    let now = w.now;
    w.clients[c].transfer_progress(now, request, size, size);
    let ops = call(
        w,
        MediaCall::Uploaded {
            transfer,
            size,
            mime: sniff_mime(body).to_string(),
        },
    );
    let [MediaOp::Answer {
        status: 201, body, ..
    }] = &ops[..]
    else {
        panic!("upload not answered 201: {ops:?}")
    };
    let now = w.now;
    w.clients[c].transfer_ended(now, request, TransferEnd::Uploaded { body: body.clone() });
    assert!(call(w, MediaCall::Ended { transfer }).is_empty());
    media_id.clone()
}

/// The response to `request` of client `c`, once everything queued has been delivered.
fn response(w: &mut World, c: usize, request: RequestId) -> Option<Response> {
    w.settle();
    w.response(c, request)
}

#[test]
fn an_image_is_uploaded_sent_to_a_peer_and_downloaded() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let body = png(640, 480, 3000);
    let upload = MediaUpload {
        file_name: "cat.png".into(),
        thumbnail: vec![1, 2, 3],
        thumbnail_width: 8,
        thumbnail_height: 6,
        ..MediaUpload::image(3000, Bytes::from(body[..100].to_vec()))
    };
    let now = w.now;
    let up = w.clients[0].upload_media(now, upload).expect("accepted");
    let media_id = serve_upload(&mut w, 0, 1, &body);
    // Progress: the first report at once, the second a second later; no extra final one,
    // since the last report was already at the total.
    let story = transfer_story(&mut w, 0, up);
    assert_eq!(story[..2], ["1500/3000", "3000/3000"]);
    let image = MediaMessage {
        media_id: media_id.clone(),
        size: 3000,
        file_name: "cat.png".into(),
        thumbnail: vec![1, 2, 3],
        width: 640,
        height: 480,
        thumbnail_width: 8,
        thumbnail_height: 6,
        ..Default::default()
    };
    assert_eq!(
        story[2],
        format!(
            "{:?}",
            Response::UploadMedia(Ok(Message::Image(Box::new(image.clone()))))
        )
    );

    // Sent like any message; bob sees an IMAGE.
    let now = w.now;
    let send = w.clients[0]
        .send_message_to_peer(
            now,
            "bob",
            Message::Image(Box::new(image.clone())),
            Default::default(),
        )
        .expect("a valid message");
    w.settle();
    assert_eq!(
        response(&mut w, 0, send),
        Some(Response::SendMessageToPeer(Ok(
            PeerMessageOutcome::Received
        )))
    );
    let got: Vec<Message> = w
        .take_events(1)
        .into_iter()
        .filter_map(|e| match e {
            Event::MessageFromPeer { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(got, [Message::Image(Box::new(image))]);

    // Bob downloads it.
    let now = w.now;
    let down = w.clients[1]
        .download_media(now, &media_id)
        .expect("accepted");
    let TransferOrder::Download {
        request,
        ticket,
        media_id: asked,
        from: 0,
    } = order(&mut w, 1)
    else {
        panic!("not a download from 0")
    };
    assert_eq!((request, asked.as_str()), (down, media_id.as_str()));
    let ops = call(
        &mut w,
        MediaCall::BeginDownload {
            transfer: TransferId(2),
            ticket,
            media_id: media_id.clone(),
        },
    );
    assert_eq!(
        ops,
        [MediaOp::DownloadAccepted {
            transfer: TransferId(2),
            media_id: media_id.clone(),
            size: 3000,
            mime: "image/png".into(),
        }]
    );
    let now = w.now;
    w.clients[1].transfer_progress(now, down, 1000, 3000);
    w.clients[1].transfer_progress(now, down, 2000, 3000); // within the second: not reported
    w.clients[1].transfer_ended(
        now,
        down,
        TransferEnd::Downloaded {
            size: 3000,
            mime: "image/png".into(),
        },
    );
    call(
        &mut w,
        MediaCall::Ended {
            transfer: TransferId(2),
        },
    );
    w.settle();
    assert_eq!(
        transfer_story(&mut w, 1, down),
        [
            "1000/3000".to_string(),
            "3000/3000".to_string(),
            format!(
                "{:?}",
                Response::DownloadMedia(Ok(MediaDownload {
                    media_id,
                    size: 3000,
                    mime: "image/png".into()
                }))
            )
        ]
    );
    assert_eq!(w.server.stats().media_transfers, 0);
}

#[test]
fn a_download_that_breaks_resumes_where_it_stopped_with_a_new_ticket() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let now = w.now;
    w.clients[0]
        .upload_media(now, MediaUpload::file(5000, Bytes::new()))
        .unwrap();
    let media_id = serve_upload(&mut w, 0, 1, &[9; 5000]);
    let now = w.now;
    let down = w.clients[1].download_media(now, &media_id).unwrap();
    let TransferOrder::Download { ticket, .. } = order(&mut w, 1) else {
        panic!()
    };
    call(
        &mut w,
        MediaCall::BeginDownload {
            transfer: TransferId(2),
            ticket: ticket.clone(),
            media_id: media_id.clone(),
        },
    );
    let now = w.now;
    w.clients[1].transfer_progress(now, down, 2000, 5000);
    w.clients[1].transfer_ended(now, down, TransferEnd::Broken);
    call(
        &mut w,
        MediaCall::Ended {
            transfer: TransferId(2),
        },
    );
    // A new ticket, and the rest from byte 2000.
    let TransferOrder::Download {
        ticket: second,
        from,
        ..
    } = order(&mut w, 1)
    else {
        panic!()
    };
    assert_eq!(from, 2000);
    assert_ne!(second, ticket, "tickets are single-use");
    let ops = call(
        &mut w,
        MediaCall::BeginDownload {
            transfer: TransferId(3),
            ticket: ticket.clone(),
            media_id: media_id.clone(),
        },
    );
    assert!(
        matches!(&ops[..], [MediaOp::Answer { status: 401, .. }]),
        "a used ticket: {ops:?}"
    );
    // The second attempt breaks without a byte: no progress, no more resumes.
    call(
        &mut w,
        MediaCall::BeginDownload {
            transfer: TransferId(4),
            ticket: second,
            media_id,
        },
    );
    let now = w.now;
    w.clients[1].transfer_ended(now, down, TransferEnd::Broken);
    assert_eq!(
        response(&mut w, 1, down),
        Some(Response::DownloadMedia(Err(DownloadMediaError::Failure)))
    );
    assert!(w.transfers[1].is_empty());
}

#[test]
fn tickets_are_single_use_expire_and_die_with_their_session() {
    let mut w = World::new(0);
    let conn = raw_login(&mut w, "carol");
    let ticket = |w: &mut World| -> String {
        let frames = say_raw(w, conn, r#"{"type":"media_grant","id":7}"#);
        let v: serde_json::Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!(v["type"], "media_ticket", "{frames:?}");
        v["ticket"].as_str().unwrap().to_string()
    };
    let begin = |ticket: String, transfer: u64| MediaCall::BeginUpload {
        transfer: TransferId(transfer),
        ticket,
        size: Some(10),
    };
    let status = |ops: Vec<MediaOp>| match &ops[..] {
        [MediaOp::Answer { status, .. }] => *status,
        [MediaOp::UploadAccepted { .. }] => 100,
        other => panic!("{other:?}"),
    };
    let t1 = ticket(&mut w);
    assert_eq!(status(call(&mut w, begin(t1.clone(), 1))), 100);
    assert_eq!(status(call(&mut w, begin(t1, 2))), 401, "used");
    let t2 = ticket(&mut w);
    for _ in 0..12 {
        w.advance(5_000);
        say_raw(&mut w, conn, r#"{"type":"ping"}"#); // the session stays alive
    }
    assert_eq!(
        status(call(&mut w, begin(t2, 3))),
        401,
        "expired after 60 s"
    );
    assert_eq!(status(call(&mut w, begin(String::new(), 4))), 401, "none");
    let t3 = ticket(&mut w);
    say_raw(&mut w, conn, r#"{"type":"logout","id":8}"#);
    assert_eq!(status(call(&mut w, begin(t3, 5))), 401, "the session ended");
    // A session holds at most 32 unused tickets.
    let conn = raw_login(&mut w, "dave");
    for _ in 0..MediaLimits::default().tickets_per_session {
        let frames = say_raw(&mut w, conn, r#"{"type":"media_grant","id":9}"#);
        assert!(frames[0].contains("media_ticket"), "{frames:?}");
    }
    let frames = say_raw(&mut w, conn, r#"{"type":"media_grant","id":10}"#);
    assert!(
        frames[0].starts_with(r#"{"type":"error","id":10,"code":1,"#),
        "{frames:?}"
    );
}

#[test]
fn sizes_lengths_and_quotas_are_refused_before_the_body() {
    let config = ServerConfig {
        media: MediaLimits {
            user_bytes: 1000,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut w = World::with_config(0, config, ClientConfig::default());
    let conn = raw_login(&mut w, "erin");
    let refusal = |w: &mut World, size: Option<u64>| -> (u16, String) {
        let frames = say_raw(w, conn, r#"{"type":"media_grant","id":7}"#);
        let v: serde_json::Value = serde_json::from_str(&frames[0]).unwrap();
        let ticket = v["ticket"].as_str().unwrap().to_string();
        let ops = call(
            w,
            MediaCall::BeginUpload {
                transfer: TransferId(1),
                ticket,
                size,
            },
        );
        match &ops[..] {
            [MediaOp::Answer { status, body, .. }] => {
                let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                (*status, v["error"].as_str().unwrap().to_string())
            }
            other => panic!("{other:?}"),
        }
    };
    let r = |s: u16, e: &str| (s, e.to_string());
    assert_eq!(
        refusal(&mut w, Some(MAX_MEDIA_BYTES + 1)),
        r(413, "size_overflow")
    );
    assert_eq!(refusal(&mut w, None), r(411, "length_required"));
    assert_eq!(refusal(&mut w, Some(0)), r(400, "bad_request"));
    assert_eq!(refusal(&mut w, Some(1001)), r(507, "quota_exceeded"));
    assert_eq!(w.server.stats().media_bytes, 0, "refusals reserve nothing");
}

#[test]
fn the_client_refuses_what_it_can_tell_locally() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let c = &mut w.clients[0];
    let file = |size| MediaUpload::file(size, Bytes::new());
    assert_eq!(
        c.upload_media(now, file(0)),
        Err(UploadMediaError::InvalidArgument)
    );
    assert_eq!(
        c.upload_media(now, file(MAX_MEDIA_BYTES + 1)),
        Err(UploadMediaError::SizeOverflow)
    );
    let sized_file = MediaUpload {
        width: Some(10),
        ..file(10)
    };
    assert_eq!(
        c.upload_media(now, sized_file),
        Err(UploadMediaError::InvalidArgument)
    );
    let fat = MediaUpload {
        thumbnail: vec![0; 32 * 1024],
        file_name: "x".into(),
        ..file(10)
    };
    assert_eq!(
        c.upload_media(now, fat),
        Err(UploadMediaError::InvalidArgument)
    );
    assert_eq!(
        c.download_media(now, "../etc/passwd"),
        Err(DownloadMediaError::InvalidArgument)
    );
    for _ in 0..9 {
        c.upload_media(now, file(10)).unwrap();
    }
    assert_eq!(
        c.upload_media(now, file(10)),
        Err(UploadMediaError::ConcurrencyLimitExceeded)
    );
    assert_eq!(
        c.download_media(now, "abc"),
        Err(DownloadMediaError::ConcurrencyLimitExceeded)
    );
    assert_eq!(
        c.cancel_media(now, RequestId(9999)),
        Err(CancelMediaError::NotExist)
    );
    let mut fresh = rtm_proto::Client::new(ClientConfig::default(), 1, now, 0);
    assert_eq!(
        fresh.upload_media(now, file(10)),
        Err(UploadMediaError::NotLoggedIn)
    );
}

#[test]
fn the_server_counts_transfers_per_user_and_in_all() {
    // Limits below the client's 9, so the server's own check shows.
    let config = ServerConfig {
        media: MediaLimits {
            transfers_per_user: 2,
            transfers: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut w = World::with_config(2, config, ClientConfig::default());
    w.login(0, "alice");
    w.login(1, "bob");
    let now = w.now;
    w.clients[0]
        .upload_media(now, MediaUpload::file(10, Bytes::new()))
        .unwrap();
    let media_id = serve_upload(&mut w, 0, 1, &[1; 10]);
    let begin = |w: &mut World, c: usize, transfer: u64| -> (RequestId, Vec<MediaOp>) {
        let now = w.now;
        let request = w.clients[c].download_media(now, &media_id).unwrap();
        let TransferOrder::Download { ticket, .. } = order(w, c) else {
            panic!()
        };
        let call_ = MediaCall::BeginDownload {
            transfer: TransferId(transfer),
            ticket,
            media_id: media_id.clone(),
        };
        (request, call(w, call_))
    };
    assert!(matches!(
        begin(&mut w, 0, 10).1[..],
        [MediaOp::DownloadAccepted { .. }]
    ));
    assert!(matches!(
        begin(&mut w, 0, 11).1[..],
        [MediaOp::DownloadAccepted { .. }]
    ));
    let (third, ops) = begin(&mut w, 0, 12);
    let [MediaOp::Answer {
        status: 429, body, ..
    }] = &ops[..]
    else {
        panic!("{ops:?}")
    };
    let now = w.now;
    w.clients[0].transfer_ended(
        now,
        third,
        TransferEnd::Refused {
            status: 429,
            body: body.clone(),
        },
    );
    assert_eq!(
        response(&mut w, 0, third),
        Some(Response::DownloadMedia(Err(
            DownloadMediaError::ConcurrencyLimitExceeded
        )))
    );
    assert!(matches!(
        begin(&mut w, 1, 13).1[..],
        [MediaOp::DownloadAccepted { .. }]
    ));
    assert!(
        matches!(
            begin(&mut w, 1, 14).1[..],
            [MediaOp::Answer { status: 503, .. }]
        ),
        "the server's three are running"
    );
    // One ends: its slot is free again.
    call(
        &mut w,
        MediaCall::Ended {
            transfer: TransferId(10),
        },
    );
    assert!(matches!(
        begin(&mut w, 0, 15).1[..],
        [MediaOp::DownloadAccepted { .. }]
    ));
    assert_eq!(w.server.stats().media_transfers, 3);
}

#[test]
fn a_cancelled_upload_leaves_nothing_stored() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let up = w.clients[0]
        .upload_media(now, MediaUpload::file(4000, Bytes::new()))
        .unwrap();
    let TransferOrder::Upload { ticket, .. } = order(&mut w, 0) else {
        panic!()
    };
    let ops = call(
        &mut w,
        MediaCall::BeginUpload {
            transfer: TransferId(1),
            ticket,
            size: Some(4000),
        },
    );
    let [MediaOp::UploadAccepted { media_id, .. }] = &ops[..] else {
        panic!("{ops:?}")
    };
    let media_id = media_id.clone();
    assert_eq!(w.server.stats().media_bytes, 4000, "reserved");
    let now = w.now;
    w.clients[0].transfer_progress(now, up, 1000, 4000);
    w.clients[0].cancel_media(now, up).unwrap();
    w.settle();
    assert_eq!(
        w.transfers[0].pop_front(),
        Some(TransferOrder::Cancel { request: up })
    );
    assert_eq!(
        response(&mut w, 0, up),
        Some(Response::UploadMedia(Err(UploadMediaError::Interrupted)))
    );
    // The driver aborts the request; the server drops the reservation and the file.
    let ops = call(
        &mut w,
        MediaCall::Ended {
            transfer: TransferId(1),
        },
    );
    assert_eq!(
        ops,
        [MediaOp::Remove {
            media_id: media_id.clone()
        }]
    );
    assert_eq!(w.server.stats().media_bytes, 0);
    assert!(!w.server.media_is_live(&media_id));
    assert_eq!(w.disk.writes, 0, "no record was written");
    // A report that comes after the cancel is ignored.
    let now = w.now;
    w.clients[0].transfer_ended(now, up, TransferEnd::Broken);
    w.settle();
    assert!(response(&mut w, 0, up).is_none());
}

#[test]
fn two_minutes_without_progress_is_a_timeout() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let up = w.clients[0]
        .upload_media(now, MediaUpload::file(4000, Bytes::new()))
        .unwrap();
    let _ = order(&mut w, 0);
    w.advance(100_000);
    let now = w.now;
    w.clients[0].transfer_progress(now, up, 10, 4000);
    w.advance(119_000);
    assert!(
        response(&mut w, 0, up).is_none(),
        "progress restarts the count"
    );
    w.advance(1_000);
    assert_eq!(
        w.transfers[0].pop_front(),
        Some(TransferOrder::Cancel { request: up })
    );
    assert_eq!(
        response(&mut w, 0, up),
        Some(Response::UploadMedia(Err(UploadMediaError::Timeout)))
    );
}

#[test]
fn a_logout_interrupts_every_transfer() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let a = w.clients[0]
        .upload_media(now, MediaUpload::file(10, Bytes::new()))
        .unwrap();
    let _ = order(&mut w, 0); // under way
    let b = w.clients[0].download_media(now, "abc").unwrap(); // still waiting for a ticket
    w.clients[0].logout(now).unwrap();
    w.settle();
    assert_eq!(
        w.transfers[0].pop_front(),
        Some(TransferOrder::Cancel { request: a })
    );
    assert!(w.transfers[0].is_empty(), "b never started");
    assert_eq!(
        response(&mut w, 0, a),
        Some(Response::UploadMedia(Err(UploadMediaError::Interrupted)))
    );
    assert_eq!(
        response(&mut w, 0, b),
        Some(Response::DownloadMedia(Err(
            DownloadMediaError::Interrupted
        )))
    );
}

#[test]
fn refusals_reach_the_application_as_their_codes() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let down = w.clients[0].download_media(now, "nosuchmedia").unwrap();
    let TransferOrder::Download { ticket, .. } = order(&mut w, 0) else {
        panic!()
    };
    let ops = call(
        &mut w,
        MediaCall::BeginDownload {
            transfer: TransferId(1),
            ticket,
            media_id: "nosuchmedia".into(),
        },
    );
    let [MediaOp::Answer { status, body, .. }] = &ops[..] else {
        panic!("{ops:?}")
    };
    assert_eq!(*status, 404);
    let now = w.now;
    w.clients[0].transfer_ended(
        now,
        down,
        TransferEnd::Refused {
            status: *status,
            body: body.clone(),
        },
    );
    assert_eq!(
        response(&mut w, 0, down),
        Some(Response::DownloadMedia(Err(DownloadMediaError::NotExist)))
    );
    // An upload refused 413 (a server with a lower limit than the client's) and 507.
    for (status, error, expected) in [
        (413, "size_overflow", UploadMediaError::SizeOverflow),
        (507, "quota_exceeded", UploadMediaError::Failure),
        (
            429,
            "concurrency_limit_exceeded",
            UploadMediaError::ConcurrencyLimitExceeded,
        ),
        (502, "<html>", UploadMediaError::Failure),
    ] {
        let now = w.now;
        let up = w.clients[0]
            .upload_media(now, MediaUpload::file(10, Bytes::new()))
            .unwrap();
        let _ = order(&mut w, 0);
        let body = format!(r#"{{"error":"{error}","message":"m"}}"#);
        w.clients[0].transfer_ended(
            now,
            up,
            TransferEnd::Refused {
                status,
                body: body.into(),
            },
        );
        assert_eq!(
            response(&mut w, 0, up),
            Some(Response::UploadMedia(Err(expected))),
            "{status}"
        );
    }
}

#[test]
fn media_live_seven_days_also_across_restarts() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    w.clients[0]
        .upload_media(now, MediaUpload::file(10, Bytes::new()))
        .unwrap();
    let media_id = serve_upload(&mut w, 0, 1, b"%PDF-1.7\n1");
    assert_eq!(w.disk.records.len(), 1);
    // A restart within the 7 days keeps it.
    w.advance(6 * 24 * 3600 * 1000);
    let report = w.restart_server();
    assert_eq!((report.media, report.dropped), (1, 0));
    assert!(w.server.media_is_live(&media_id));
    assert_eq!(w.server.stats().media_bytes, 10);
    // Its expiry timer came back with it: a day later the record and the file go.
    w.media_ops.clear();
    w.advance(24 * 3600 * 1000);
    assert!(!w.server.media_is_live(&media_id));
    assert_eq!(
        w.media_ops.drain(..).collect::<Vec<_>>(),
        [MediaOp::Remove {
            media_id: media_id.clone()
        }]
    );
    assert!(w.disk.records.is_empty());
    assert_eq!(w.server.stats().media_bytes, 0);
}

#[test]
fn media_that_expired_while_the_server_was_down_are_dropped_at_restore() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    w.clients[0]
        .upload_media(now, MediaUpload::file(3, Bytes::new()))
        .unwrap();
    let media_id = serve_upload(&mut w, 0, 1, b"abc");
    w.now = rtm_proto::Timestamp::from_millis(w.now.as_millis() + 7 * 24 * 3600 * 1000);
    let report = w.restart_server();
    assert_eq!((report.media, report.dropped), (0, 1));
    assert!(w.media_ops.contains(&MediaOp::Remove { media_id }));
    assert!(w.disk.records.is_empty());
}

#[test]
fn an_upload_whose_record_is_not_stored_is_refused_and_its_file_removed() {
    let mut w = World::logged_in(&["alice"]);
    w.disk.mode = StoreMode::Held;
    let now = w.now;
    let up = w.clients[0]
        .upload_media(now, MediaUpload::file(3, Bytes::new()))
        .unwrap();
    let TransferOrder::Upload { ticket, .. } = order(&mut w, 0) else {
        panic!()
    };
    let ops = call(
        &mut w,
        MediaCall::BeginUpload {
            transfer: TransferId(1),
            ticket,
            size: Some(3),
        },
    );
    let [MediaOp::UploadAccepted { media_id, .. }] = &ops[..] else {
        panic!("{ops:?}")
    };
    let media_id = media_id.clone();
    let ops = call(
        &mut w,
        MediaCall::Uploaded {
            transfer: TransferId(1),
            size: 3,
            mime: "application/octet-stream".into(),
        },
    );
    assert!(ops.is_empty(), "answered only once stored: {ops:?}");
    w.fail_writes();
    let ops: Vec<MediaOp> = w.media_ops.drain(..).collect();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(
        ops[0],
        MediaOp::Remove {
            media_id: media_id.clone()
        }
    );
    let MediaOp::Answer { status, body, .. } = &ops[1] else {
        panic!("{ops:?}")
    };
    assert_eq!(*status, 503);
    let now = w.now;
    w.clients[0].transfer_ended(
        now,
        up,
        TransferEnd::Refused {
            status: *status,
            body: body.clone(),
        },
    );
    assert_eq!(
        response(&mut w, 0, up),
        Some(Response::UploadMedia(Err(UploadMediaError::Failure)))
    );
    assert_eq!(w.server.stats().media_bytes, 0);
    assert!(!w.server.media_is_live(&media_id));
}

#[test]
fn a_media_message_is_checked_like_any_other() {
    let mut w = World::logged_in(&["alice", "bob"]);
    let now = w.now;
    let bad = MediaMessage {
        media_id: "m1".into(),
        size: 0,
        ..Default::default()
    };
    assert_eq!(
        w.clients[0].send_message_to_peer(
            now,
            "bob",
            Message::File(Box::new(bad)),
            Default::default()
        ),
        Err(rtm_proto::PeerMessageError::InvalidMessage)
    );
    // A FILE from an existing media id (`createMessage`) goes as is; the server does not
    // look the id up.
    let file = MediaMessage {
        media_id: "m1".into(),
        size: 12,
        file_name: "notes.txt".into(),
        ..Default::default()
    };
    assert_eq!(
        Message::File(Box::new(file.clone())).media(),
        Some((MediaKind::File, &file))
    );
    w.clients[0]
        .send_message_to_peer(
            now,
            "bob",
            Message::File(Box::new(file)),
            Default::default(),
        )
        .unwrap();
    w.settle();
    assert!(w.take_events(1).iter().any(|e| matches!(
        e,
        Event::MessageFromPeer {
            message: Message::File(_),
            ..
        }
    )));
}

/// An image message of a media id (what `createMessage` makes).
fn image_message() -> Message {
    Message::Image(Box::new(MediaMessage {
        media_id: "m1".into(),
        size: 12,
        width: 2,
        height: 3,
        ..Default::default()
    }))
}

#[test]
fn a_version_1_client_is_never_sent_a_media_message() {
    let mut w = World::logged_in(&["alice"]);
    // Bob's client speaks version 1 (it predates FILE and IMAGE): it is served, but a
    // peer message of media to it is refused INCOMPATIBLE_MESSAGE (8), as Agora's server
    // refuses media to SDKs before 1.3.0.
    let bob = raw_login(&mut w, "bob");
    let now = w.now;
    let send = w.clients[0]
        .send_message_to_peer(now, "bob", image_message(), Default::default())
        .unwrap();
    assert_eq!(
        response(&mut w, 0, send),
        Some(Response::SendMessageToPeer(Err(
            rtm_proto::PeerMessageError::IncompatibleMessage
        )))
    );
    assert!(common::drain_raw(&mut w, bob).is_empty());

    // In a channel, the media message skips him; the text after it does not.
    common::join(&mut w, 0, "room");
    let joined = say_raw(&mut w, bob, r#"{"type":"join","id":2,"channel":"room"}"#);
    assert!(
        joined.iter().any(|f| f.contains(r#""type":"joined""#)),
        "{joined:?}"
    );
    let now = w.now;
    w.clients[0]
        .send_channel_message(now, &common::ch("room"), image_message())
        .unwrap();
    common::say(&mut w, 0, "room", "after the image");
    let frames = common::drain_raw(&mut w, bob);
    let messages: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains(r#""type":"channel_message""#))
        .collect();
    assert_eq!(messages.len(), 1, "{frames:?}");
    assert!(messages[0].contains("after the image"));
}

#[test]
fn a_media_message_kept_offline_is_dropped_for_a_version_1_login() {
    let mut w = World::logged_in(&["alice"]);
    let now = w.now;
    let send = w.clients[0]
        .send_message_to_peer(
            now,
            "carol",
            image_message(),
            rtm_proto::client::SendMessageOptions {
                enable_offline_messaging: true,
            },
        )
        .unwrap();
    assert_eq!(
        response(&mut w, 0, send),
        Some(Response::SendMessageToPeer(Ok(PeerMessageOutcome::Cached)))
    );
    assert_eq!(w.disk.records.len(), 1);
    let carol = raw_login(&mut w, "carol");
    let frames = common::drain_raw(&mut w, carol);
    assert!(
        !frames.iter().any(|f| f.contains(r#""type":"message""#)),
        "{frames:?}"
    );
    assert!(w.disk.records.is_empty(), "its record is deleted");
}

#[test]
fn a_client_of_another_version_does_not_resume_a_session() {
    let mut w = World::new(0);
    // The session id of a version-1 login, resumed by a version-2 client.
    let login = w.raw_connect();
    let out = w.raw_frame(
        login,
        br#"{"type":"login","id":1,"version":1,"app_id":"00000000000000000000000000000000","uid":"erin"}"#,
    );
    let sid = out
        .iter()
        .find_map(|o| match o {
            rtm_proto::server::ServerOutput::Send { frame, .. } => {
                let v: serde_json::Value = serde_json::from_slice(frame).ok()?;
                v["session"].as_str().map(str::to_string)
            }
            _ => None,
        })
        .expect("login_ok");
    let again = w.raw_connect();
    let resume = format!(
        r#"{{"type":"login","id":1,"version":2,"app_id":"00000000000000000000000000000000","uid":"erin","resume":"{sid}"}}"#
    );
    let out = w.raw_frame(again, resume.as_bytes());
    let ok = out
        .iter()
        .find_map(|o| match o {
            rtm_proto::server::ServerOutput::Send { frame, .. } => {
                serde_json::from_slice::<serde_json::Value>(frame).ok()
            }
            _ => None,
        })
        .expect("an answer");
    assert_eq!(ok["type"], "login_ok");
    assert_eq!(ok["resumed"], false, "a new session for the new version");
    assert_eq!(ok["version"], 2);
}
