//! Where the simulator's choices come from.
//!
//! Normally every choice is drawn from a [`rtm_proto::rng::Rng`] (SplitMix64, a stream that is
//! stable across versions) derived from the master seed. Under the `sim` fuzz target the
//! workload and fault choices are read from the fuzzer's bytes instead, so that libFuzzer can
//! steer them; when the bytes run out the seeded generator takes over.

use rtm_proto::rng::Rng;

/// A source of choices.
#[derive(Debug, Clone)]
pub enum Source {
    /// A seeded generator.
    Rng(Rng),
    /// Fuzzer bytes, then `fallback`.
    Bytes {
        data: Vec<u8>,
        pos: usize,
        fallback: Rng,
    },
}

impl Source {
    /// A seeded source.
    pub fn seeded(seed: u64) -> Self {
        Source::Rng(Rng::new(seed))
    }

    /// A source that reads `data` first and then falls back to a generator seeded `seed`.
    pub fn bytes(data: Vec<u8>, seed: u64) -> Self {
        Source::Bytes {
            data,
            pos: 0,
            fallback: Rng::new(seed),
        }
    }

    fn take_bytes(&mut self, n: usize) -> Option<u64> {
        match self {
            Source::Rng(_) => None,
            Source::Bytes { data, pos, .. } => {
                if *pos >= data.len() {
                    return None;
                }
                let mut v = 0u64;
                for i in 0..n {
                    let b = data.get(*pos + i).copied().unwrap_or(0);
                    v |= u64::from(b) << (8 * i);
                }
                *pos = (*pos + n).min(data.len());
                Some(v)
            }
        }
    }

    fn rng(&mut self) -> &mut Rng {
        match self {
            Source::Rng(r) => r,
            Source::Bytes { fallback, .. } => fallback,
        }
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        match self.take_bytes(8) {
            Some(v) => v,
            None => self.rng().next_u64(),
        }
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let width = ((64 - (n - 1).leading_zeros()) as usize).div_ceil(8);
        match self.take_bytes(width) {
            Some(v) => v % n,
            None => self.rng().below(n),
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        match self.take_bytes(2) {
            Some(v) => (v as f64) / 65536.0 < p,
            None => self.rng().chance(p),
        }
    }

    /// An index drawn with the given weights (all zero: index 0).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// An exponentially distributed delay with mean `mean_ms`, capped at 20 × the mean.
    pub fn exp_ms(&mut self, mean_ms: u64) -> u64 {
        // Inverse CDF on a 16-bit uniform keeps fuzz byte consumption small.
        let u = (self.below(65536) as f64 + 0.5) / 65536.0;
        let v = -(u.ln()) * mean_ms as f64;
        (v as u64).clamp(1, mean_ms.saturating_mul(20).max(1))
    }
}

/// Derives the `n`th sub-seed of `master` (independent streams per component).
pub fn derive(master: u64, n: u64) -> u64 {
    let mut r = Rng::new(master ^ n.wrapping_mul(0xA076_1D64_78BD_642F));
    r.next_u64();
    r.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_then_fallback() {
        let mut s = Source::bytes(vec![3, 0, 0, 0, 0, 0, 0, 0], 1);
        assert_eq!(s.next_u64(), 3);
        let mut r = Rng::new(1);
        assert_eq!(s.next_u64(), r.next_u64());
    }

    #[test]
    fn below_in_range() {
        let mut s = Source::bytes((0..=255u8).collect(), 9);
        for n in [1u64, 2, 7, 255, 256, 257, 100_000] {
            for _ in 0..50 {
                assert!(s.below(n) < n);
            }
        }
    }
}
