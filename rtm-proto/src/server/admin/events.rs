//! The event logs of the REST API: user events (a session began or ended) and channel
//! events (a member joined or left), each pulled with a cursor.
//!
//! Unlike Agora's consuming pull, reading takes nothing away: every event has a cursor
//! (increasing within a log) and a pull returns those after the cursor it is given, with
//! the cursor to pass next. Two pulls chained that way never lose or repeat an event that
//! is still kept. A log keeps its newest events within a count and a byte bound (config),
//! dropping the oldest; a pull whose cursor is older than what is kept says how many
//! events it missed (`lost`).
//!
//! The logs are soft state, like sessions: a restart starts them empty. So that a cursor
//! from before a restart is not mistaken for one from the new run, a log's cursors start
//! at the server's start time in unix ms times 1 024: a new run's cursors are above the old
//! run's unless the old one logged more than 1 024 events per millisecond on average.

use std::collections::VecDeque;

use serde_json::{json, Value};

use crate::ids::{ChannelId, UserId};

use super::super::Server;
use super::answer::{Answer, ApiError};
use super::routes::Query;

/// What happened to a user: a session began (`Login`: a login that is not a resume) or
/// ended (`Logout`: a logout, a timeout, a kick or a ban, a newer login elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserEventKind {
    Login,
    Logout,
}

/// What happened in a channel: a member joined, or left (a leave, or the end of its
/// session, or a channel ban).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelEventKind {
    Join,
    Leave,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserEvent {
    pub user: UserId,
    pub kind: UserEventKind,
    pub ts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelEvent {
    pub channel: ChannelId,
    pub user: UserId,
    pub kind: ChannelEventKind,
    pub ts: u64,
}

/// An event as the REST API shows it.
pub(crate) trait LogEvent {
    /// Bytes counted against the log's byte bound.
    fn weight(&self) -> usize;
    /// Its JSON with `cursor`.
    fn to_json(&self, cursor: u64) -> Value;
}

/// Bytes counted per event beside its ids.
const EVENT_OVERHEAD: usize = 64;

impl LogEvent for UserEvent {
    fn weight(&self) -> usize {
        self.user.as_str().len() + EVENT_OVERHEAD
    }

    fn to_json(&self, cursor: u64) -> Value {
        let kind = match self.kind {
            UserEventKind::Login => "Login",
            UserEventKind::Logout => "Logout",
        };
        json!({"cursor": cursor, "user_id": self.user.as_str(), "type": kind, "ts": self.ts})
    }
}

impl LogEvent for ChannelEvent {
    fn weight(&self) -> usize {
        self.user.as_str().len() + self.channel.as_str().len() + EVENT_OVERHEAD
    }

    fn to_json(&self, cursor: u64) -> Value {
        let kind = match self.kind {
            ChannelEventKind::Join => "Join",
            ChannelEventKind::Leave => "Leave",
        };
        json!({
            "cursor": cursor,
            "channel_id": self.channel.as_str(),
            "user_id": self.user.as_str(),
            "type": kind,
            "ts": self.ts,
        })
    }
}

/// One log: its newest events, bounded in count and bytes.
#[derive(Debug)]
pub(crate) struct EventLog<E> {
    /// Kept events with their cursors, oldest first; cursors are consecutive.
    events: VecDeque<(u64, E)>,
    bytes: usize,
    /// The cursor the next event gets.
    next: u64,
    /// This run's first cursor.
    first: u64,
    max_events: usize,
    max_bytes: usize,
}

/// One page of a pull.
#[derive(Debug, PartialEq)]
pub(crate) struct Page<'a, E> {
    pub events: Vec<(u64, &'a E)>,
    /// The cursor to pass next.
    pub next_cursor: u64,
    /// Events after the given cursor that were dropped before this pull.
    pub lost: u64,
}

/// Most events one pull returns.
pub(crate) const MAX_PULL: u64 = 1000;

impl<E: LogEvent> EventLog<E> {
    /// An empty log whose first cursor is `first` (see the module documentation).
    pub fn new(first: u64, max_events: usize, max_bytes: usize) -> Self {
        EventLog {
            events: VecDeque::new(),
            bytes: 0,
            next: first,
            first,
            max_events,
            max_bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends `event`, dropping the oldest past the bounds (an event alone over the byte
    /// bound is dropped at once: it is counted, and a pull past it reports it lost).
    pub fn push(&mut self, event: E) {
        let cursor = self.next;
        self.next += 1;
        self.bytes += event.weight();
        self.events.push_back((cursor, event));
        while self.events.len() > self.max_events || self.bytes > self.max_bytes {
            let Some((_, old)) = self.events.pop_front() else {
                break;
            };
            self.bytes -= old.weight();
        }
    }

    /// The events after `after` (from the oldest kept without it), at most `limit`.
    pub fn pull(&self, after: Option<u64>, limit: usize) -> Page<'_, E> {
        let newest = self.next.saturating_sub(1);
        let oldest_kept = self.events.front().map_or(self.next, |(c, _)| *c);
        // Events of this run after `after` that are no longer kept.
        let lost = match after {
            None => 0,
            Some(a) => oldest_kept.saturating_sub(a.saturating_add(1).max(self.first)),
        };
        let from = after.map_or(0, |a| a.saturating_add(1));
        let skip = from.saturating_sub(oldest_kept) as usize;
        let events: Vec<(u64, &E)> = self
            .events
            .iter()
            .skip(skip)
            .take(limit)
            .map(|(c, e)| (*c, e))
            .collect();
        // Nothing returned: everything up to the newest is read (or lost, and said so now).
        let next_cursor = events
            .last()
            .map_or_else(|| after.unwrap_or(newest).max(newest), |(c, _)| *c);
        Page {
            events,
            next_cursor,
            lost,
        }
    }
}

impl Server {
    /// `GET vendor/user_events` and `vendor/channel_events`.
    pub(super) fn admin_pull_events(&self, query: &Query, users: bool) -> Result<Answer, ApiError> {
        let after = match query.get("cursor") {
            None => None,
            Some(_) => Some(query.number("cursor", 0, u64::MAX, 0)?),
        };
        let limit = query.number("limit", 1, MAX_PULL, MAX_PULL)? as usize;
        let (events, next_cursor, lost) = if users {
            page_json(self.user_events.pull(after, limit))
        } else {
            page_json(self.channel_events.pull(after, limit))
        };
        Ok(Answer::ok(json!({
            "events": events,
            "next_cursor": next_cursor,
            "lost": lost,
        })))
    }

    /// Logs a user event now.
    pub(in crate::server) fn log_user_event(&mut self, user: &UserId, kind: UserEventKind) {
        let ts = self.unix_ms();
        self.user_events.push(UserEvent {
            user: user.clone(),
            kind,
            ts,
        });
    }

    /// Logs a channel event now.
    pub(in crate::server) fn log_channel_event(
        &mut self,
        channel: &ChannelId,
        user: &UserId,
        kind: ChannelEventKind,
    ) {
        let ts = self.unix_ms();
        self.channel_events.push(ChannelEvent {
            channel: channel.clone(),
            user: user.clone(),
            kind,
            ts,
        });
    }
}

fn page_json<E: LogEvent>(page: Page<'_, E>) -> (Vec<Value>, u64, u64) {
    let events = page.events.iter().map(|(c, e)| e.to_json(*c)).collect();
    (events, page.next_cursor, page.lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(n: u64) -> UserEvent {
        UserEvent {
            user: UserId::new(format!("u{n}")).expect("valid"),
            kind: UserEventKind::Login,
            ts: n,
        }
    }

    fn cursors(p: &Page<'_, UserEvent>) -> Vec<u64> {
        p.events.iter().map(|(c, _)| *c).collect()
    }

    #[test]
    fn chained_pulls_never_lose_or_repeat() {
        let mut log = EventLog::new(100, 10, usize::MAX);
        let empty = log.pull(None, 5);
        assert_eq!(
            (empty.events.len(), empty.next_cursor, empty.lost),
            (0, 99, 0)
        );
        let first = empty.next_cursor;
        for n in 0..7 {
            log.push(login(n));
        }
        let p = log.pull(Some(first), 5);
        assert_eq!(cursors(&p), vec![100, 101, 102, 103, 104]);
        let next = p.next_cursor;
        log.push(login(7));
        let p = log.pull(Some(next), 5);
        assert_eq!(cursors(&p), vec![105, 106, 107]);
        let after = p.next_cursor;
        let p2 = log.pull(Some(after), 5);
        assert!(p2.events.is_empty());
        assert_eq!(p2.next_cursor, 107);
        assert_eq!(p2.lost, 0);
    }

    #[test]
    fn a_cursor_older_than_the_log_reports_what_was_lost() {
        let mut log = EventLog::new(1, 3, usize::MAX);
        for n in 0..10 {
            log.push(login(n));
        }
        // Kept: 8, 9, 10. Lost after cursor 2: 3..=7.
        let p = log.pull(Some(2), 10);
        assert_eq!(cursors(&p), vec![8, 9, 10]);
        assert_eq!(p.lost, 5);
        assert_eq!(p.next_cursor, 10);
        // A pull from before this run counts only this run's losses.
        let p = log.pull(Some(0), 1);
        assert_eq!((cursors(&p), p.lost), (vec![8], 7));
    }

    #[test]
    fn the_byte_bound_drops_the_oldest() {
        let one = login(1).weight();
        let mut log = EventLog::new(1, 100, 3 * one);
        for n in 0..5 {
            log.push(login(n));
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.bytes(), 3 * one);
        let mut tiny = EventLog::new(1, 100, 1);
        tiny.push(login(1));
        assert_eq!(tiny.len(), 0);
        let p = tiny.pull(Some(0), 10);
        assert_eq!((p.events.len(), p.lost, p.next_cursor), (0, 1, 1));
    }
}
