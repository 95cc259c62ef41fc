//! Login limits: per connection, per source address, per user.
//!
//! * **Per connection**: one `login`. A refused one closes the connection (4003) and a second
//!   one on a logged-in connection closes it too (4002), so a client that wants to try again
//!   opens a new connection.
//! * **Per source** ([`LoginSources`]): new connections log in at most
//!   [`super::ServerConfig::logins_per_source`] per address. IPv6 addresses count per /64,
//!   the block one host is usually given.
//! * **Per user**: §11.1's "login 2/s per client", twice over a 10 s window like the other
//!   request budgets (`limits.rs`), counted in the user's session. A new session of the same
//!   user inherits the limiter and the request budgets of the one it replaces: logging in
//!   again refills nothing.
//!
//! A login over a limit is refused with LoginError TOO_OFTEN (10); the reference client
//! retries an automatic re-login with its backoff.

use core::net::{IpAddr, Ipv6Addr};
use core::time::Duration;
use std::collections::BTreeMap;

use crate::ratelimit::{Rate, TokenBucket};
use crate::time::Timestamp;

/// A user's logins: §9.2's 2 per second, twice over 10 s.
pub(super) const USER_LOGINS: Rate = Rate::new(40, Duration::from_secs(10));

/// How often a full table may be swept for sources that are idle again.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A bucket per recent source address.
///
/// Bounded by `capacity` entries (about 64 bytes each). A source whose bucket is full again
/// is worth nothing to remember, so a full table first forgets those (at most once a second).
/// If every entry is still busy, a login from a new source is admitted untracked: the table
/// fails open rather than locking out every new address while it is full; the per-user
/// limit and the request budgets still hold.
#[derive(Debug)]
pub(super) struct LoginSources {
    rate: Rate,
    capacity: usize,
    buckets: BTreeMap<IpAddr, TokenBucket>,
    swept: Option<Timestamp>,
}

impl LoginSources {
    pub fn new(rate: Rate, capacity: usize) -> Self {
        LoginSources {
            rate,
            capacity,
            buckets: BTreeMap::new(),
            swept: None,
        }
    }

    /// Counts a login from `source` at `now`; false if the source is over its rate.
    pub fn admit(&mut self, source: IpAddr, now: Timestamp) -> bool {
        let key = source_key(source);
        let rate = self.rate;
        if let Some(bucket) = self.buckets.get_mut(&key) {
            return bucket.try_acquire(rate, now);
        }
        if self.buckets.len() >= self.capacity {
            self.sweep(now);
            if self.buckets.len() >= self.capacity {
                return true;
            }
        }
        let mut bucket = TokenBucket::new(rate, now);
        let admitted = bucket.try_acquire(rate, now);
        self.buckets.insert(key, bucket);
        admitted
    }

    fn sweep(&mut self, now: Timestamp) {
        if self.swept.is_some_and(|t| now.since(t) < SWEEP_EVERY) {
            return;
        }
        self.swept = Some(now);
        let rate = self.rate;
        self.buckets.retain(|_, b| !b.is_full(rate, now));
    }

    /// Sources remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}

/// What a source counts as: an IPv4 address, or an IPv6 address's /64 (an IPv4-mapped IPv6
/// address counts as its IPv4 address).
fn source_key(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_source_is_limited_and_others_are_not() {
        let mut s = LoginSources::new(Rate::new(3, Duration::from_secs(3)), 16);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| s.admit(a, at(0))));
        assert!(!s.admit(a, at(0)));
        assert!(s.admit(b, at(0)));
        assert!(s.admit(a, at(1000)), "refilled one per second");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let mut s = LoginSources::new(Rate::new(1, Duration::from_secs(60)), 16);
        assert!(s.admit("2001:db8:1:2::1".parse().unwrap(), at(0)));
        assert!(!s.admit("2001:db8:1:2:ffff::9".parse().unwrap(), at(0)));
        assert!(s.admit("2001:db8:1:3::1".parse().unwrap(), at(0)));
        assert!(s.admit("192.0.2.7".parse().unwrap(), at(0)));
        assert!(!s.admit("::ffff:192.0.2.7".parse().unwrap(), at(0)));
    }

    #[test]
    fn a_full_table_forgets_idle_sources_then_fails_open() {
        let rate = Rate::new(1, Duration::from_secs(10));
        let mut s = LoginSources::new(rate, 2);
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        assert!(s.admit(ip(1), at(0)));
        assert!(s.admit(ip(2), at(0)));
        // Both busy: a third source is admitted but not remembered.
        assert!(s.admit(ip(3), at(1)));
        assert!(s.admit(ip(3), at(2)));
        assert_eq!(s.len(), 2);
        assert!(!s.admit(ip(1), at(3)), "the busy ones are still limited");
        // Once they are idle again, the next new source sweeps them out.
        assert!(s.admit(ip(4), at(20_000)));
        assert!(!s.admit(ip(4), at(20_001)));
        assert_eq!(s.len(), 1);
    }
}
