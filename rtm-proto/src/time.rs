//! Time as an input: the core never reads a clock.
//!
//! [`Timestamp`] is monotonic milliseconds from an origin the driver chooses (the simulator
//! starts at zero, the smol driver at process start). Things users see — `serverReceivedTs`,
//! token expiry — need wall-clock time; the driver gives the wall clock once, at construction,
//! and the core derives it from the monotonic time afterwards ([`WallClock`]).

use core::time::Duration;

/// Monotonic time in milliseconds since a driver-chosen origin.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The origin.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the far future.
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Wall-clock time derived from monotonic time: `unix_ms(now) = unix_ms_at_origin + now`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WallClock {
    unix_ms_at_origin: u64,
}

impl WallClock {
    /// A wall clock that reads `unix_ms` at monotonic time `now`.
    pub fn new(now: Timestamp, unix_ms: u64) -> Self {
        WallClock {
            unix_ms_at_origin: unix_ms.saturating_sub(now.as_millis()),
        }
    }

    /// Unix milliseconds at `now`.
    pub fn unix_ms(&self, now: Timestamp) -> u64 {
        self.unix_ms_at_origin.saturating_add(now.as_millis())
    }

    /// Unix seconds at `now`.
    pub fn unix_secs(&self, now: Timestamp) -> u64 {
        self.unix_ms(now) / 1000
    }

    /// The monotonic time at which the wall clock reads `unix_secs` (the origin if earlier).
    pub fn at_unix_secs(&self, unix_secs: u64) -> Timestamp {
        Timestamp(
            unix_secs
                .saturating_mul(1000)
                .saturating_sub(self.unix_ms_at_origin),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_round_trips() {
        let w = WallClock::new(Timestamp::from_millis(5_000), 1_700_000_000_000);
        assert_eq!(w.unix_ms(Timestamp::from_millis(6_000)), 1_700_000_001_000);
        assert_eq!(w.at_unix_secs(1_700_000_001), Timestamp::from_millis(6_000));
        assert_eq!(w.at_unix_secs(0), Timestamp::ZERO);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(u64::MAX - 1);
        assert_eq!(
            t.saturating_add(Duration::from_secs(10)).as_millis(),
            u64::MAX
        );
        assert_eq!(Timestamp::ZERO.since(t), Duration::ZERO);
    }
}
