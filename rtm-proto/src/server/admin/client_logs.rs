//! The client log window: the recent log lines each user's SDK uploaded (`logs` frames,
//! sent when the application turned log upload on), for support to read through
//! `GET users/{uid}/logs`.
//!
//! Bounded three ways (config, [`super::super::AdminLimits`]): per user in bytes (its
//! oldest lines are dropped), in age (lines received longer ago than `client_log_age` are
//! never shown, and are dropped whenever their user's window is touched or space is needed),
//! and in total bytes: past it the oldest lines of the user who holds the most are dropped,
//! so one chatty client cannot push everyone else's lines out. Soft state: a restart starts
//! empty. A line's age is counted from when the server received it, not from the client's
//! `ts` (a client's clock may be anything).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{json, Value};

use crate::ids::UserId;
use crate::logs::LogLine;

/// Bytes counted per line beside its text.
const LINE_OVERHEAD: usize = 48;

fn weight(line: &LogLine) -> usize {
    line.text.len() + LINE_OVERHEAD
}

/// One user's window: lines with the unix ms the server received them, oldest first.
#[derive(Debug, Default)]
struct Window {
    lines: VecDeque<(u64, LogLine)>,
    bytes: usize,
}

/// Every user's window, and an index by size for the total bound.
#[derive(Debug, Default)]
pub(crate) struct ClientLogs {
    users: BTreeMap<UserId, Window>,
    /// `(bytes, user)` of every window, to find the biggest.
    by_size: BTreeSet<(usize, UserId)>,
    bytes: usize,
}

/// The bounds of [`ClientLogs`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBounds {
    pub user_bytes: usize,
    pub age_ms: u64,
    pub total_bytes: usize,
}

impl ClientLogs {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// Keeps `lines` of `user`, received at `now_ms`, within `bounds`.
    pub fn append(&mut self, user: &UserId, lines: Vec<LogLine>, now_ms: u64, bounds: LogBounds) {
        let mut w = self.take(user);
        for line in lines {
            w.bytes += weight(&line);
            w.lines.push_back((now_ms, line));
        }
        let cutoff = now_ms.saturating_sub(bounds.age_ms);
        while w.bytes > bounds.user_bytes || w.lines.front().is_some_and(|(t, _)| *t < cutoff) {
            let Some((_, old)) = w.lines.pop_front() else {
                break;
            };
            w.bytes -= weight(&old);
        }
        self.put(user.clone(), w);
        while self.bytes > bounds.total_bytes {
            let Some((_, biggest)) = self.by_size.last().cloned() else {
                break;
            };
            let mut w = self.take(&biggest);
            if let Some((_, old)) = w.lines.pop_front() {
                w.bytes -= weight(&old);
            }
            self.put(biggest, w);
        }
        debug_assert_eq!(
            self.bytes,
            self.users.values().map(|w| w.bytes).sum::<usize>()
        );
    }

    /// `user`'s lines not older than `age_ms` at `now_ms`, oldest first, as the REST API
    /// shows them.
    pub fn lines(&self, user: &UserId, now_ms: u64, age_ms: u64) -> Vec<Value> {
        let cutoff = now_ms.saturating_sub(age_ms);
        self.users
            .get(user)
            .map(|w| {
                w.lines
                    .iter()
                    .filter(|(t, _)| *t >= cutoff)
                    .map(|(_, l)| json!({"ts": l.ts, "level": l.level.as_str(), "text": l.text}))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes `user`'s window out of the table (empty if none), uncounted.
    fn take(&mut self, user: &UserId) -> Window {
        match self.users.remove(user) {
            Some(w) => {
                self.by_size.remove(&(w.bytes, user.clone()));
                self.bytes -= w.bytes;
                w
            }
            None => Window::default(),
        }
    }

    /// Puts a window back, counted; an empty one is forgotten.
    fn put(&mut self, user: UserId, w: Window) {
        if w.lines.is_empty() {
            return;
        }
        self.bytes += w.bytes;
        self.by_size.insert((w.bytes, user.clone()));
        self.users.insert(user, w);
    }
}

impl crate::server::Server {
    /// A `logs` frame of `user`'s session on `conn`: kept, or the connection closed with
    /// PROTOCOL_ERROR if it is over the frame's limits (more than
    /// [`crate::logs::MAX_LINES_PER_FRAME`] lines, a text over
    /// [`crate::logs::MAX_LINE_BYTES`]).
    pub(in crate::server) fn on_client_logs(
        &mut self,
        conn: crate::server::ConnId,
        user: &UserId,
        lines: Vec<LogLine>,
    ) {
        use crate::logs::{MAX_LINES_PER_FRAME, MAX_LINE_BYTES};
        if lines.len() > MAX_LINES_PER_FRAME || lines.iter().any(|l| l.text.len() > MAX_LINE_BYTES)
        {
            return self.close(
                conn,
                crate::wire::close::PROTOCOL_ERROR,
                "logs frame over its limits (50 lines, 1 KB of text each)",
            );
        }
        let limits = &self.config.admin;
        let bounds = LogBounds {
            user_bytes: limits.client_log_user_bytes,
            age_ms: limits.client_log_age.as_millis() as u64,
            total_bytes: limits.client_log_total_bytes,
        };
        let now_ms = self.unix_ms();
        self.client_logs.append(user, lines, now_ms, bounds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogLevel;

    fn line(text: &str) -> LogLine {
        LogLine {
            ts: 1,
            level: LogLevel::Info,
            text: text.into(),
        }
    }

    fn uid(s: &str) -> UserId {
        UserId::new(s).expect("valid")
    }

    const BOUNDS: LogBounds = LogBounds {
        user_bytes: 3 * (LINE_OVERHEAD + 1),
        age_ms: 1000,
        total_bytes: 4 * (LINE_OVERHEAD + 1),
    };

    #[test]
    fn a_user_keeps_its_newest_lines_within_bytes_and_age() {
        let mut logs = ClientLogs::default();
        let a = uid("a");
        logs.append(&a, ["1", "2", "3", "4"].map(line).to_vec(), 0, BOUNDS);
        let texts: Vec<Value> = logs.lines(&a, 0, 1000);
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0]["text"], "2");
        assert!(logs.lines(&a, 1001, 1000).is_empty(), "too old to show");
        logs.append(&a, vec![line("5")], 2000, BOUNDS);
        assert_eq!(logs.lines(&a, 2000, 1000).len(), 1, "old lines dropped");
        assert_eq!(logs.bytes(), LINE_OVERHEAD + 1);
    }

    #[test]
    fn past_the_total_the_biggest_user_loses_its_oldest() {
        let mut logs = ClientLogs::default();
        let (a, b) = (uid("a"), uid("b"));
        logs.append(&a, ["1", "2", "3"].map(line).to_vec(), 0, BOUNDS);
        logs.append(&b, ["x", "y"].map(line).to_vec(), 0, BOUNDS);
        assert_eq!(logs.lines(&a, 0, 1000).len(), 2);
        assert_eq!(logs.lines(&b, 0, 1000).len(), 2);
        assert_eq!(logs.bytes(), BOUNDS.total_bytes);
    }
}
