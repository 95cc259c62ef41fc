//! One WebSocket connection: a reader and a writer that move whole frames between the socket
//! and the task that owns a core. Shared by the server and the client drivers.
//!
//! The owner of a core sees a link as three [`LinkEvent`]s (`Opened` with a [`Writer`], each
//! text `Frame`, `Closed`) and talks back through the [`Writer`]: queue a frame, or close with
//! a code. Nothing here knows anything about the RTM protocol; the only decisions taken here
//! are WebSocket ones (binary frames, oversized frames, broken framing).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_channel::Sender;
use async_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use async_tungstenite::{WebSocketReceiver, WebSocketSender, WebSocketStream};
use bytes::Bytes;
use event_listener::Event;
use futures_lite::{future, AsyncRead, AsyncWrite, StreamExt};
use futures_util::SinkExt;
use rtm_proto::wire::{close, MAX_FRAME_BYTES};
use smol::Timer;

/// Capacity of tungstenite's read buffer per connection (its default is 128 KiB). A larger
/// frame grows it for as long as that frame is being read.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Outgoing bytes tungstenite gathers before writing to the socket (its default is 128 KiB).
pub const WRITE_BUFFER_BYTES: usize = 4 * 1024;

/// Most outgoing bytes tungstenite may hold for one connection: the write buffer plus one
/// frame of the largest size the protocol allows (and its header).
pub const MAX_WRITE_BUFFER_BYTES: usize = WRITE_BUFFER_BYTES + MAX_FRAME_BYTES + 16;

/// How long a closing connection may take to finish its close handshake (or to flush what was
/// queued before the close) before the socket is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Close code for a binary frame (RFC 6455 "unsupported data"): the protocol is JSON text.
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;

/// Close code for a text frame that is not UTF-8 (RFC 6455 "invalid frame payload data").
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;

/// Close code for broken WebSocket framing (RFC 6455 "protocol error").
pub const CLOSE_WS_PROTOCOL_ERROR: u16 = 1002;

/// The tungstenite settings of every connection, server and client side: messages and
/// frames are capped at [`MAX_FRAME_BYTES`] (a larger one is refused with 1009 before its
/// payload is read), and the buffers are a few KiB instead of tungstenite's 2 × 128 KiB.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// Bounds of one connection's outbound queue. A connection whose queue would go past either
/// bound is a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Frames queued and not yet handed to the socket.
    pub frames: usize,
    /// Bytes of those frames.
    pub bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            frames: 4096,
            bytes: 16 * 1024 * 1024,
        }
    }
}

/// Frames one link may have read and not yet seen handled by the owner. The owner's inbound
/// queue is shared by every link: without this bound one flooding connection fills it and
/// everyone else's frames wait behind a thousand of its own (a bystander's ping took 0.5 s).
/// With it, a frame waits behind at most this many of each busy link, and a flooder's
/// excess stays in its own TCP buffers.
pub const READ_AHEAD_FRAMES: usize = 8;

/// A link's count of frames in the owner's hands.
#[derive(Debug, Default)]
struct ReadAhead {
    frames: AtomicUsize,
    /// Notified when a frame was handled.
    handled: Event,
}

impl ReadAhead {
    /// Waits until fewer than [`READ_AHEAD_FRAMES`] frames are in the owner's hands, and
    /// takes a place for one more.
    async fn reserve(self: &Arc<Self>) -> Handled {
        loop {
            let taken = self
                .frames
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < READ_AHEAD_FRAMES).then_some(n + 1)
                });
            if taken.is_ok() {
                return Handled(self.clone());
            }
            let listener = self.handled.listen();
            if self.frames.load(Ordering::Acquire) < READ_AHEAD_FRAMES {
                continue;
            }
            listener.await;
        }
    }
}

/// Held by the owner with a frame; dropping it (once the frame is handled) lets the link read
/// on.
#[derive(Debug)]
pub(crate) struct Handled(Arc<ReadAhead>);

impl Drop for Handled {
    fn drop(&mut self) {
        self.0.frames.fetch_sub(1, Ordering::AcqRel);
        self.0.handled.notify(1);
    }
}

/// What a link tells the task that owns the core.
#[derive(Debug)]
pub(crate) enum LinkEvent<Id> {
    /// The WebSocket handshake is done; frames for it go through the writer. With the peer's
    /// address when the owner is a server.
    Opened(Id, Writer, Option<IpAddr>),
    /// One whole text frame; drop the [`Handled`] once it is handled.
    Frame(Id, Bytes, Handled),
    /// The link is gone (or is being closed and must not be written to any more). May come
    /// more than once for one link; owners ignore links they no longer know.
    Closed(Id),
}

/// Runs `then` when dropped: after a close frame was flushed, or when the link ends anyway.
pub(crate) struct OnClosed(Option<Box<dyn FnOnce() + Send>>);

impl OnClosed {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        OnClosed(Some(Box::new(f)))
    }
}

impl Drop for OnClosed {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

impl std::fmt::Debug for OnClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnClosed")
    }
}

/// The core's frames as WebSocket text, each encoding checked as UTF-8 once.
///
/// The core encodes a channel message once and sends the same `Bytes` to every member, so
/// the check of the first send serves the rest (the writer used to check every frame it
/// wrote: a 10 000-member fan-out checked one frame 10 000 times). The last frame is kept
/// with its check; a send of the same allocation reuses it.
#[derive(Debug, Default)]
pub(crate) struct TextFrames {
    last: Option<Utf8Bytes>,
}

impl TextFrames {
    /// `frame` as text, or `None` if it is not UTF-8 (never, from the core: JSON it wrote).
    pub(crate) fn text(&mut self, frame: Bytes) -> Option<Utf8Bytes> {
        if let Some(last) = &self.last {
            // The same bytes of the same allocation, which `last` keeps alive.
            if last.as_ptr() == frame.as_ptr() && last.len() == frame.len() {
                return Some(last.clone());
            }
        }
        let text = Utf8Bytes::try_from(frame).ok()?;
        self.last = Some(text.clone());
        Some(text)
    }
}

/// One connection's outbound queue, shared by the owner's [`Writer`] and the writer task.
///
/// A `VecDeque` behind a mutex with one wake-up event: it allocates nothing until a frame is
/// queued, and an idle connection keeps only a small buffer (an `async_channel` would cost
/// ~0.8 KiB per channel plus ~2 KiB per 31-slot block).
#[derive(Debug, Default)]
struct Outbox {
    state: Mutex<OutboxState>,
    /// Notified when a frame or a close is queued, or the owner lets go.
    ready: Event,
}

#[derive(Debug, Default)]
struct OutboxState {
    frames: VecDeque<Utf8Bytes>,
    bytes: usize,
    /// A close was asked for: no more frames are taken.
    closing: bool,
    /// The close to send once `frames` is empty.
    close: Option<(u16, String, Option<OnClosed>)>,
    /// The owner dropped its writer without closing.
    orphaned: bool,
    /// The writer task is gone: nothing will be sent any more.
    ended: bool,
}

/// What the writer task does next.
enum Next {
    Frame(Utf8Bytes),
    Close(u16, String, Option<OnClosed>),
    /// The owner is gone without closing (it is shutting down): close with GOING_AWAY.
    Orphaned,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_next(&self) -> Option<Next> {
        let mut s = self.lock();
        if let Some(frame) = s.frames.pop_front() {
            s.bytes -= frame.len();
            if s.frames.is_empty() && s.frames.capacity() > 16 {
                s.frames.shrink_to(4); // a burst is over: give its memory back
            }
            return Some(Next::Frame(frame));
        }
        if let Some((code, reason, then)) = s.close.take() {
            return Some(Next::Close(code, reason, then));
        }
        if s.orphaned && !s.closing {
            s.closing = true;
            return Some(Next::Orphaned);
        }
        None
    }

    async fn next(&self) -> Next {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            let listener = self.ready.listen();
            if let Some(next) = self.try_next() {
                return next;
            }
            listener.await;
        }
    }

    fn is_empty(&self) -> bool {
        self.lock().frames.is_empty()
    }

    fn closing(&self) -> bool {
        let s = self.lock();
        s.closing || s.ended
    }

    /// Resolves once a close was asked for (or the owner is gone).
    async fn wait_closing(&self) {
        loop {
            if self.closing() {
                return;
            }
            let listener = self.ready.listen();
            if self.closing() {
                return;
            }
            listener.await;
        }
    }

    fn notify(&self) {
        self.ready.notify(usize::MAX);
    }
}

/// The sending half of a link, held by the task that owns the core.
#[derive(Debug)]
pub(crate) struct Writer {
    outbox: Arc<Outbox>,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The queue is at its bound: the peer does not keep up.
    Full,
    /// The link is already closing or gone.
    Gone,
}

impl Writer {
    /// Queues one text frame (the core's frames are JSON, hence UTF-8).
    pub(crate) fn send(&self, frame: Utf8Bytes, limits: QueueLimits) -> Result<(), QueueError> {
        let mut s = self.outbox.lock();
        if s.closing || s.ended {
            return Err(QueueError::Gone);
        }
        if s.frames.len() >= limits.frames || s.bytes.saturating_add(frame.len()) > limits.bytes {
            return Err(QueueError::Full);
        }
        s.bytes += frame.len();
        s.frames.push_back(frame);
        drop(s);
        self.outbox.notify();
        Ok(())
    }

    /// Frames and bytes queued and not yet handed to the socket (for `/metrics`).
    pub(crate) fn queued(&self) -> (usize, usize) {
        let s = self.outbox.lock();
        (s.frames.len(), s.bytes)
    }

    /// Flushes what is queued, then closes with `code`; the socket is dropped at the latest
    /// [`CLOSE_GRACE`] later. `then` runs once the close frame is out (or the link is gone).
    pub(crate) fn close(&self, code: u16, reason: &str, then: Option<OnClosed>) {
        close_outbox(&self.outbox, code, reason, then);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.outbox.lock().orphaned = true;
        self.outbox.notify();
    }
}

fn close_outbox(outbox: &Outbox, code: u16, reason: &str, then: Option<OnClosed>) {
    let mut s = outbox.lock();
    if s.closing {
        return; // the first close wins; `then` runs as it is dropped
    }
    s.closing = true;
    s.close = Some((code, close_reason(reason), then));
    drop(s);
    outbox.notify();
}

/// The close of a link whose owner went away without closing it (shutdown).
fn going_away() -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(close::GOING_AWAY),
        reason: Utf8Bytes::from_static("going away"),
    }
}

/// A close reason must fit a control frame (125 bytes, 2 of them for the code).
fn close_reason(reason: &str) -> String {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason.to_string();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

enum ReadEnd {
    /// The peer closed, the socket broke, or the owner went away.
    Gone,
    /// The peer broke a WebSocket rule: close with this code.
    Refuse(u16, &'static str),
}

/// Drives one WebSocket until it is closed. Reports `Opened` first, then every text frame,
/// then `Closed`.
pub(crate) async fn run<S, Id>(
    id: Id,
    ws: WebSocketStream<S>,
    peer: Option<IpAddr>,
    events: Sender<LinkEvent<Id>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Id: Copy + std::fmt::Debug + Send + 'static,
{
    let (sink, mut stream) = ws.split();
    let outbox = Arc::new(Outbox::default());
    let writer = Writer {
        outbox: outbox.clone(),
    };
    if let Err(refused) = events.send(LinkEvent::Opened(id, writer, peer)).await {
        // The owner is gone (shutting down): the writer task is not running, say goodbye here.
        drop(refused);
        let mut sink = sink;
        let bye = async {
            let _ = sink.close(Some(going_away())).await;
        };
        let timeout = async {
            Timer::after(CLOSE_GRACE).await;
        };
        future::or(bye, timeout).await;
        return;
    }
    let reader = async {
        match read_loop(id, &mut stream, &events).await {
            ReadEnd::Gone => {}
            ReadEnd::Refuse(code, reason) => {
                tracing::info!(link = ?id, code, reason, "closing a link that broke a WebSocket rule");
                let (flushed, sent) = async_channel::bounded::<()>(1);
                let then = OnClosed::new(move || {
                    let _ = flushed.try_send(());
                });
                close_outbox(&outbox, code, reason, Some(then));
                let _ = events.send(LinkEvent::Closed(id)).await;
                // Never read again: after an oversized header the stream is out of step, so
                // the peer's closing reply could not be read either. Once the writer has sent
                // the close frame, end the link (the server closes TCP first, RFC 6455
                // §7.1.1); `killed` bounds the wait for a peer that does not read.
                let _ = sent.recv().await;
            }
        }
    };
    let writer = async {
        write_loop(sink, &outbox).await;
        Timer::after(CLOSE_GRACE).await;
    };
    // A close must not wait forever behind frames a peer does not read.
    let killed = async {
        outbox.wait_closing().await;
        Timer::after(CLOSE_GRACE).await;
    };
    future::or(reader, future::or(writer, killed)).await;
    let unsent_close = {
        let mut s = outbox.lock();
        s.ended = true;
        s.frames.clear();
        s.close.take()
    };
    drop(unsent_close); // runs a waiting `then`
    let _ = events.send(LinkEvent::Closed(id)).await;
}

async fn read_loop<S, Id>(
    id: Id,
    stream: &mut WebSocketReceiver<S>,
    events: &Sender<LinkEvent<Id>>,
) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
    Id: Copy,
{
    let read_ahead = Arc::new(ReadAhead::default());
    loop {
        let handled = read_ahead.reserve().await;
        let Some(message) = stream.next().await else {
            break;
        };
        match message {
            Ok(Message::Text(text)) => {
                if events
                    .send(LinkEvent::Frame(id, Bytes::from(text), handled))
                    .await
                    .is_err()
                {
                    return ReadEnd::Gone;
                }
            }
            Ok(Message::Binary(_)) => {
                return ReadEnd::Refuse(
                    CLOSE_UNSUPPORTED_DATA,
                    "binary frames are not supported: send JSON text frames",
                )
            }
            // Pings are answered by tungstenite; a close is answered by it too, and the
            // stream ends once the handshake is done.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_)) => {}
            Err(WsError::Capacity(_)) => {
                return ReadEnd::Refuse(close::TOO_BIG, "frame larger than the protocol allows")
            }
            Err(WsError::Utf8(_)) => {
                return ReadEnd::Refuse(CLOSE_INVALID_PAYLOAD, "text frame is not valid UTF-8")
            }
            Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                return ReadEnd::Gone
            }
            Err(WsError::Protocol(_)) => {
                return ReadEnd::Refuse(CLOSE_WS_PROTOCOL_ERROR, "WebSocket protocol violation")
            }
            Err(_) => return ReadEnd::Gone,
        }
    }
    ReadEnd::Gone
}

/// Bytes a writer hands to its socket before it lets the other tasks of its executor run.
/// Without it, one poll writes a connection's whole queue (up to a send window, 1 MiB): a
/// fan-out to a thousand members made everyone else wait for a gigabyte of copies.
pub const WRITE_TURN_BYTES: usize = 64 * 1024;

async fn write_loop<S>(mut sink: WebSocketSender<S>, outbox: &Outbox)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut turn = 0usize;
    loop {
        match outbox.next().await {
            Next::Frame(frame) => {
                turn += frame.len();
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
                if turn >= WRITE_TURN_BYTES {
                    turn = 0;
                    future::yield_now().await;
                }
                if outbox.is_empty() && sink.flush().await.is_err() {
                    return;
                }
            }
            Next::Close(code, reason, then) => {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: Utf8Bytes::from(reason),
                };
                let _ = sink.close(Some(frame)).await;
                drop(then);
                return;
            }
            Next::Orphaned => {
                let _ = sink.close(Some(going_away())).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let r = close_reason(&long);
        assert!(r.len() <= 123);
        assert!(long.starts_with(&r));
    }

    #[test]
    fn a_fan_out_frame_is_checked_once_and_shared() {
        let mut text = TextFrames::default();
        let frame = Bytes::from_static(br#"{"type":"channel_message"}"#);
        let first = text.text(frame.clone()).unwrap();
        let again = text.text(frame.clone()).unwrap();
        assert_eq!(first.as_ptr(), frame.as_ptr(), "no copy");
        assert_eq!(again.as_ptr(), frame.as_ptr());
        // Equal bytes elsewhere are another frame, checked on their own.
        let other = Bytes::copy_from_slice(&frame);
        assert_eq!(text.text(other.clone()).unwrap().as_ptr(), other.as_ptr());
        assert!(text.text(Bytes::from_static(b"\xff\xfe")).is_none());
        // A shorter frame at the same address (a slice of the cached one) is not the cached one.
        text.text(frame.clone()).unwrap();
        assert_eq!(&*text.text(frame.slice(..8)).unwrap(), r#"{"type":"#);
    }

    #[test]
    fn buffers_are_small_and_frames_capped() {
        let c = websocket_config();
        assert_eq!(c.read_buffer_size, 4096);
        assert_eq!(c.max_message_size, Some(MAX_FRAME_BYTES));
        assert_eq!(c.max_frame_size, Some(MAX_FRAME_BYTES));
        assert!(c.max_write_buffer_size > c.write_buffer_size + MAX_FRAME_BYTES);
    }
}
