//! Log upload (`enableLogUpload`, `logFilter`): the client records what happens to it — state
//! changes, failed commands, the events it delivers — as [`LogLine`]s at or above the filter's
//! level, and while uploading is on sends them to the server in `logs` frames, one frame of
//! at most [`MAX_LINES_PER_FRAME`] lines per heartbeat.
//!
//! Bounded: at most [`BUFFER_LINES`] lines and [`BUFFER_BYTES`] bytes wait; past either the
//! oldest are dropped and the next frame starts with a line saying how many. Lines are
//! sent once, without acknowledgement: a frame lost with its link is lost (this is a
//! diagnostic aid, not a record). Nothing is kept or sent while uploading is off.

use std::collections::VecDeque;

use crate::logs::{cut_line, LogLevel, LogLine, MAX_LINES_PER_FRAME};

/// Most lines waiting to be sent.
pub const BUFFER_LINES: usize = 500;

/// Most bytes of text waiting to be sent.
pub const BUFFER_BYTES: usize = 128 * 1024;

/// The lines waiting for the next `logs` frame, and the settings that decide which are kept.
#[derive(Debug, Clone)]
pub(super) struct LogUpload {
    enabled: bool,
    /// Lines above this level are not recorded; `None` records nothing (`LOG_FILTER_OFF`).
    filter: Option<LogLevel>,
    lines: VecDeque<LogLine>,
    bytes: usize,
    /// Lines dropped since the last frame because the buffer was full.
    dropped: u64,
}

impl LogUpload {
    pub(super) fn new(enabled: bool, filter: Option<LogLevel>) -> Self {
        LogUpload {
            enabled,
            filter,
            lines: VecDeque::new(),
            bytes: 0,
            dropped: 0,
        }
    }

    /// Turns uploading on or off; turning it off forgets what was waiting.
    pub(super) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.lines.clear();
            self.bytes = 0;
            self.dropped = 0;
        }
    }

    pub(super) fn set_filter(&mut self, filter: Option<LogLevel>) {
        self.filter = filter;
    }

    /// Whether a line at `level` would be recorded: lets callers skip formatting it.
    pub(super) fn wants(&self, level: LogLevel) -> bool {
        self.enabled && self.filter.is_some_and(|f| level <= f)
    }

    /// Records one line at unix ms `ts` (cut to the line bound), dropping the oldest past
    /// the buffer's bounds.
    pub(super) fn record(&mut self, ts: u64, level: LogLevel, text: &str) {
        if !self.wants(level) {
            return;
        }
        let text = cut_line(text).to_string();
        self.bytes += text.len();
        self.lines.push_back(LogLine { ts, level, text });
        while self.lines.len() > BUFFER_LINES || self.bytes > BUFFER_BYTES {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.text.len();
            self.dropped += 1;
        }
    }

    /// The next frame's lines, oldest first (`None` when nothing waits): a note of the lines
    /// dropped since the last frame, if any, then at most [`MAX_LINES_PER_FRAME`] lines.
    pub(super) fn take_batch(&mut self, ts: u64) -> Option<Vec<LogLine>> {
        if self.lines.is_empty() && self.dropped == 0 {
            return None;
        }
        let mut batch = Vec::with_capacity(MAX_LINES_PER_FRAME);
        if self.dropped > 0 {
            batch.push(LogLine {
                ts,
                level: LogLevel::Warn,
                text: format!("{} log lines dropped (upload buffer full)", self.dropped),
            });
            self.dropped = 0;
        }
        while batch.len() < MAX_LINES_PER_FRAME {
            let Some(line) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= line.text.len();
            batch.push(line);
        }
        debug_assert_eq!(
            self.bytes,
            self.lines.iter().map(|l| l.text.len()).sum::<usize>()
        );
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_while_uploading_is_off() {
        let mut logs = LogUpload::new(false, Some(LogLevel::Debug));
        logs.record(1, LogLevel::Error, "lost");
        assert_eq!(logs.take_batch(2), None);
    }

    #[test]
    fn the_filter_keeps_lines_at_or_above_its_level() {
        let mut logs = LogUpload::new(true, Some(LogLevel::Warn));
        logs.record(1, LogLevel::Error, "e");
        logs.record(2, LogLevel::Warn, "w");
        logs.record(3, LogLevel::Info, "i");
        logs.record(4, LogLevel::Debug, "d");
        let texts: Vec<_> = logs
            .take_batch(5)
            .unwrap()
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(texts, ["e", "w"]);
        logs.set_filter(None);
        logs.record(6, LogLevel::Error, "off");
        assert_eq!(logs.take_batch(7), None);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_says_so() {
        let mut logs = LogUpload::new(true, Some(LogLevel::Info));
        for i in 0..BUFFER_LINES + 3 {
            logs.record(i as u64, LogLevel::Info, &format!("line {i}"));
        }
        let first = logs.take_batch(9).unwrap();
        assert_eq!(first.len(), MAX_LINES_PER_FRAME);
        assert_eq!(first[0].text, "3 log lines dropped (upload buffer full)");
        assert_eq!(first[1].text, "line 3");
        let mut sent = first.len() - 1;
        while let Some(batch) = logs.take_batch(10) {
            assert!(batch.len() <= MAX_LINES_PER_FRAME);
            sent += batch.len();
        }
        assert_eq!(sent, BUFFER_LINES);
    }
}
