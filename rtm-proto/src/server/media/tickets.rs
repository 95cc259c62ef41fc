//! Transfer tickets: what a session hands to its one HTTP request (PROTOCOL.md, "Media over
//! HTTP").
//!
//! A ticket is single-use, lives [`MediaLimits::ticket_ttl`](crate::server::MediaLimits)
//! unless used, and belongs to one session (`uid`, `epoch`): a ticket of a session that has
//! ended (logout, kick, ban, expiry) is refused when it is used, without a sweep. Not the
//! session's token: app-id-only logins have none, a token is a login credential that lives
//! for hours (and would end up in proxies' logs), and a ticket dies with its session.
//!
//! Bounds: per session and in all (`tickets_per_session`, `tickets`); the oldest tickets
//! expire first, so expiry is a pop from the front of one queue.

use std::collections::{BTreeMap, VecDeque};

use crate::ids::UserId;
use crate::time::Timestamp;

/// One unused ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub uid: UserId,
    pub epoch: u64,
    pub expires: Timestamp,
}

/// Unused tickets, by their secret.
#[derive(Debug, Default)]
pub(crate) struct Tickets {
    by_secret: BTreeMap<String, Ticket>,
    /// Secrets in issue order (= expiry order: one TTL for all); used ones are skipped.
    order: VecDeque<String>,
    /// Unused tickets per session `(uid, epoch)`.
    per_session: BTreeMap<(UserId, u64), usize>,
}

/// Why no ticket was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantRefusal {
    /// The session holds its share of unused tickets.
    SessionFull,
    /// The table is full.
    Full,
}

impl Tickets {
    /// Unused tickets.
    pub fn len(&self) -> usize {
        self.by_secret.len()
    }

    /// Drops the tickets expired at `now`.
    pub fn expire(&mut self, now: Timestamp) {
        while let Some(secret) = self.order.front() {
            match self.by_secret.get(secret) {
                Some(t) if t.expires > now => break,
                Some(_) => {
                    let secret = self.order.pop_front().expect("a front");
                    self.remove(&secret);
                }
                None => {
                    self.order.pop_front(); // used already
                }
            }
        }
    }

    /// Issues `secret` to session (`uid`, `epoch`) until `expires`.
    pub fn issue(
        &mut self,
        secret: String,
        ticket: Ticket,
        per_session: usize,
        total: usize,
    ) -> Result<(), GrantRefusal> {
        let key = (ticket.uid.clone(), ticket.epoch);
        let held = self.per_session.get(&key).copied().unwrap_or(0);
        if held >= per_session {
            return Err(GrantRefusal::SessionFull);
        }
        if self.by_secret.len() >= total {
            return Err(GrantRefusal::Full);
        }
        *self.per_session.entry(key).or_default() += 1;
        self.order.push_back(secret.clone());
        // The order queue holds used secrets until they reach its front; bound it too.
        if self.order.len() > 2 * total {
            self.order
                .retain(|s| self.by_secret.contains_key(s) || *s == secret);
        }
        self.by_secret.insert(secret, ticket);
        Ok(())
    }

    /// Takes (uses up) the ticket `secret`, if it exists and has not expired at `now`.
    pub fn take(&mut self, secret: &str, now: Timestamp) -> Option<Ticket> {
        let ticket = self.remove(secret)?;
        (ticket.expires > now).then_some(ticket)
    }

    fn remove(&mut self, secret: &str) -> Option<Ticket> {
        let ticket = self.by_secret.remove(secret)?;
        let key = (ticket.uid.clone(), ticket.epoch);
        if let Some(n) = self.per_session.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_session.remove(&key);
            }
        }
        Some(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn ticket(uid: &str, expires_s: u64) -> Ticket {
        Ticket {
            uid: UserId::new(uid).unwrap(),
            epoch: 1,
            expires: Timestamp::ZERO.saturating_add(Duration::from_secs(expires_s)),
        }
    }

    #[test]
    fn single_use_bounded_and_expiring() {
        let mut t = Tickets::default();
        t.issue("a".into(), ticket("alice", 60), 2, 3).unwrap();
        t.issue("b".into(), ticket("alice", 60), 2, 3).unwrap();
        assert_eq!(
            t.issue("c".into(), ticket("alice", 60), 2, 3),
            Err(GrantRefusal::SessionFull)
        );
        t.issue("d".into(), ticket("bob", 61), 2, 3).unwrap();
        assert_eq!(
            t.issue("e".into(), ticket("carol", 61), 2, 3),
            Err(GrantRefusal::Full)
        );
        let at = |s| Timestamp::ZERO.saturating_add(Duration::from_secs(s));
        assert!(t.take("a", at(1)).is_some());
        assert!(t.take("a", at(1)).is_none(), "single use");
        t.expire(at(60));
        assert!(t.take("b", at(1)).is_none(), "expired and dropped");
        assert_eq!(t.len(), 1);
        assert!(t.take("d", at(61)).is_none(), "expired when used");
        assert_eq!(t.len(), 0);
        t.issue("f".into(), ticket("alice", 200), 2, 3).unwrap();
    }
}
