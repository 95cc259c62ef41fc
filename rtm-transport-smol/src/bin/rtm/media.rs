//! `rtm send-file` and `rtm download`: file and image messages (issue #14).
//!
//! ```text
//! rtm --uid alice send-file bob ./cat.png --image      # upload, then send to a peer
//! rtm --uid alice send-file --channel room ./notes.pdf  # upload, then send to a channel
//! rtm --uid bob download MEDIA_ID -o ./cat.png          # the bytes of a received media
//! ```
//!
//! Progress: a bar redrawn in place when stdout is a terminal, else one JSON line per report
//! (`{"event":"MediaProgress","request_id":N,"current":BYTES,"total":BYTES}`, at most once a
//! second while bytes flow). Ctrl-C cancels the transfer (it then fails with INTERRUPTED,
//! code 6). Results are JSON lines like every other command's (`{"op": ..., "code": N}`).

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use async_signal::Signals;
use futures_lite::future;
use rtm_proto::client::SendMessageOptions;
use rtm_proto::media::MediaKind;
use rtm_proto::{Event, Message};
use rtm_transport_smol::media::{MediaProgress, MediaTransfer, UploadOptions};
use rtm_transport_smol::RtmClient;
use serde_json::{json, Value};

use crate::json::{event_json, op_err, op_ok, print_json, report};
use crate::{interrupted, session, Cli, EventLog};

/// Where `rtm send-file` sends the message.
#[derive(Debug)]
pub enum Destination<'a> {
    Peer { peer: &'a str, offline: bool },
    Channel(&'a str),
}

/// `rtm send-file`: uploads `path`, then sends the FILE (IMAGE with `image`) message.
pub async fn send_file(
    cli: &Cli,
    uid: &str,
    to: Destination<'_>,
    path: &Path,
    image: bool,
) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    quiet_progress(&log);
    let kind = if image {
        MediaKind::Image
    } else {
        MediaKind::File
    };
    let options = UploadOptions {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..UploadOptions::default()
    };
    let transfer = client.upload_media(kind, path.to_path_buf(), options);
    let fields = json!({ "path": path.display().to_string() });
    let uploaded = carry(&client, &log, &mut signals, transfer, "upload").await;
    let message = match uploaded {
        Ok(message) => {
            let mut line = op_ok("upload_media", fields);
            crate::json::merge(&mut line, message_fields(&message));
            log.print(&line);
            message
        }
        Err(e) => {
            log.print(&op_err("upload_media", e.code(), &e, fields));
            log.logout(&client).await;
            return ExitCode::FAILURE;
        }
    };
    let code = match to {
        Destination::Peer { peer, offline } => {
            let options = SendMessageOptions {
                enable_offline_messaging: offline,
            };
            let sent = client.send_message_to_peer(peer, message, options).await;
            let print = |v: &Value| log.print(v);
            report(
                &print,
                "send_message_to_peer",
                json!({ "peer_id": peer }),
                sent,
                |outcome| {
                    json!({
                        "outcome": match outcome {
                            rtm_proto::PeerMessageOutcome::Received => "received",
                            rtm_proto::PeerMessageOutcome::Cached => "cached",
                            rtm_proto::PeerMessageOutcome::Unreachable => "unreachable",
                        },
                        "has_peer_received": outcome.has_peer_received(),
                    })
                },
            )
        }
        Destination::Channel(channel) => send_to_channel(&client, &log, channel, message).await,
    };
    log.logout(&client).await;
    code
}

async fn send_to_channel(
    client: &RtmClient,
    log: &EventLog,
    channel: &str,
    message: Message,
) -> ExitCode {
    let fields = json!({ "channel_id": channel });
    let channel = match client.create_channel(channel) {
        Ok(c) => c,
        Err(e) => {
            log.print(&op_err("create_channel", e.code(), &e, fields));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = channel.join().await {
        log.print(&op_err("join", e.code(), &e, fields));
        return ExitCode::FAILURE;
    }
    let sent = channel.send_message(message).await;
    let print = |v: &Value| log.print(v);
    let code = report(&print, "send_channel_message", fields, sent, |()| json!({}));
    let _ = channel.leave().await;
    code
}

/// `rtm download MEDIA_ID -o PATH`.
pub async fn download(cli: &Cli, uid: &str, media_id: &str, output: &PathBuf) -> ExitCode {
    let (client, log, mut signals) = match session(cli, uid).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    quiet_progress(&log);
    let transfer = client.download_media_to_file(media_id, output);
    let result = carry(&client, &log, &mut signals, transfer, "download").await;
    let fields = json!({ "media_id": media_id, "path": output.display().to_string() });
    let print = |v: &Value| log.print(v);
    let code = report(
        &print,
        "download_media",
        fields,
        result,
        |done| json!({ "size": done.size, "mime": done.mime }),
    );
    log.logout(&client).await;
    code
}

/// Progress is drawn by [`carry`], not printed as an event line.
fn quiet_progress(log: &EventLog) {
    log.set_format(|event| match event {
        Event::MediaProgress { .. } => Value::Null,
        other => event_json(other),
    });
}

/// A FILE or IMAGE message's fields, for the upload's result line.
fn message_fields(message: &Message) -> Value {
    match message {
        Message::File(m) => json!({
            "message_type": "FILE", "media_id": m.media_id, "size": m.size,
            "file_name": m.file_name,
        }),
        Message::Image(m) => json!({
            "message_type": "IMAGE", "media_id": m.media_id, "size": m.size,
            "file_name": m.file_name, "width": m.width, "height": m.height,
        }),
        _ => json!({}),
    }
}

/// Waits for `transfer`, showing its progress and printing the client's events meanwhile;
/// Ctrl-C cancels it (its result then says INTERRUPTED).
async fn carry<T, E>(
    client: &RtmClient,
    log: &EventLog,
    signals: &mut Signals,
    transfer: MediaTransfer<T, E>,
    what: &str,
) -> Result<T, E> {
    let request = transfer.request_id();
    let progress = transfer.progress();
    let bar = Bar::new(what);
    let show = async {
        while let Ok(p) = progress.recv().await {
            bar.show(request.map_or(0, |r| u64::from(r.0)), p);
        }
        future::pending().await
    };
    let events = async {
        while log.next().await.is_some() {}
        future::pending().await
    };
    let cancel = async {
        interrupted(signals).await;
        if let Some(request) = request {
            let _ = client.cancel_media(request);
        }
        future::pending().await
    };
    let result = future::or(transfer, future::or(show, future::or(events, cancel))).await;
    bar.end();
    result
}

/// One state of the bar: `upload [#########---------------------]  30% 9.4/31.5 MB`.
fn bar_line(what: &str, p: MediaProgress) -> String {
    const WIDTH: u64 = 30;
    let total = p.total.max(1);
    let current = p.current.min(total);
    let filled = (current * WIDTH / total) as usize;
    let mb = |n: u64| n as f64 / 1_000_000.0;
    format!(
        "{what} [{}{}] {:3}% {:.1}/{:.1} MB",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled),
        current * 100 / total,
        mb(p.current),
        mb(p.total),
    )
}

/// A progress bar on a terminal, JSON lines elsewhere.
struct Bar {
    what: String,
    tty: bool,
    drawn: Cell<bool>,
}

impl Bar {
    fn new(what: &str) -> Self {
        Bar {
            what: what.to_string(),
            tty: std::io::stdout().is_terminal(),
            drawn: Cell::new(false),
        }
    }

    fn show(&self, request: u64, p: MediaProgress) {
        if !self.tty {
            print_json(&json!({
                "event": "MediaProgress",
                "request_id": request,
                "current": p.current,
                "total": p.total,
            }));
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r{}", bar_line(&self.what, p));
        let _ = out.flush();
        self.drawn.set(true);
    }

    /// Ends the bar's line (on a terminal).
    fn end(&self) {
        if self.drawn.get() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out);
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_progress() {
        let line = |current, total| bar_line("upload", MediaProgress { current, total });
        assert_eq!(
            line(0, 31_457_280),
            format!("upload [{}]   0% 0.0/31.5 MB", "-".repeat(30))
        );
        assert_eq!(
            line(9_437_184, 31_457_280),
            format!(
                "upload [{}{}]  30% 9.4/31.5 MB",
                "#".repeat(9),
                "-".repeat(21)
            )
        );
        assert_eq!(
            line(31_457_280, 31_457_280),
            format!("upload [{}] 100% 31.5/31.5 MB", "#".repeat(30))
        );
        // Never past full, whatever it is told.
        assert!(line(5, 0).contains("100%"));
        assert!(line(10, 5).starts_with(&format!("upload [{}]", "#".repeat(30))));
    }
}
