//! Hash maps for keys a client chooses, hashed with a secret key drawn from the server's
//! seed.
//!
//! The session table is looked up about ten times per routed message (sender, receiver,
//! stream, receipt); as a `BTreeMap` of user ids each lookup was a dozen string compares, a
//! fifth of the core's cost of a message (callgrind, `rtm-bench core`). A hash map does one
//! hash and one compare. The hash is aHash (built for hash tables facing chosen keys, and a
//! fifth of SipHash-1-3's cost on short ids here), keyed by HMAC-SHA256 of the seed rather
//! than by ambient randomness, which the core may not read: a client cannot choose user ids
//! that collide without the key, and the key cannot be recovered from the seed's other
//! outputs (SplitMix64's can). Iteration order is the hash's, so these maps are only for
//! tables the core never walks in an order that shows (counts and sums only).
//!
//! A hash map grows by moving every entry at once. The session table grows with the
//! number of users, a doubling at a time, each a pause of one copy of the table (not
//! measured: it happens only as the user count first passes each power of two); the resend
//! table, which grows and shrinks with the message rate, orders its B-tree by
//! these hashes instead (`resends.rs`), as its doubling stalled the core for tens of
//! milliseconds under load.

// The one place the core uses std's HashMap: with its own hasher state, not RandomState.
#![allow(clippy::disallowed_types)]

use std::hash::BuildHasher;

use hmac::{Hmac, Mac};
use sha2::Sha256;
/// A hash map keyed by [`KeyedState`].
pub(crate) type KeyedMap<K, V> = std::collections::HashMap<K, V, KeyedState>;

/// aHash keys derived from the server's seed for one `purpose`.
#[derive(Clone, Debug)]
pub(crate) struct KeyedState(ahash::RandomState);

impl KeyedState {
    pub(crate) fn new(seed: u64, purpose: &str) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&seed.to_le_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"rtm hash key: ");
        mac.update(purpose.as_bytes());
        let digest = mac.finalize().into_bytes();
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&digest[i..i + 8]);
            u64::from_le_bytes(b)
        };
        KeyedState(ahash::RandomState::with_seeds(
            word(0),
            word(8),
            word(16),
            word(24),
        ))
    }

    /// An empty map hashed with this state's keys.
    pub(crate) fn map<K, V>(&self) -> KeyedMap<K, V> {
        KeyedMap::with_hasher(self.clone())
    }
}

impl BuildHasher for KeyedState {
    type Hasher = ahash::AHasher;

    fn build_hasher(&self) -> ahash::AHasher {
        self.0.build_hasher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_seed_and_the_purpose() {
        let hash = |s: &KeyedState| s.hash_one("alice");
        let a = KeyedState::new(1, "sessions");
        assert_eq!(
            hash(&a),
            hash(&KeyedState::new(1, "sessions")),
            "deterministic"
        );
        assert_ne!(hash(&a), hash(&KeyedState::new(2, "sessions")), "seeded");
        assert_ne!(
            hash(&a),
            hash(&KeyedState::new(1, "channels")),
            "per purpose"
        );
    }
}
