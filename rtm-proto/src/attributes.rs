//! User (§4.5) and channel (§4.6) attributes: limits, validation, and the four write
//! operations, shared by the client (local checks) and the server (authoritative checks).
//!
//! A write is all-or-nothing: the result is computed on a copy and committed only if it
//! stays within the limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::AttributeOperationError as E;
use crate::ids::UserId;

/// Longest key, bytes (§1.5).
pub const MAX_KEY_BYTES: usize = 32;
/// Longest value, bytes (§1.5).
pub const MAX_VALUE_BYTES: usize = 8 * 1024;
/// Most attributes per user or channel.
pub const MAX_ATTRIBUTES: usize = 32;
/// Largest total (keys + values) of one user's attributes, and of one operation on them.
pub const MAX_USER_BYTES: usize = 16 * 1024;
/// Largest total (keys + values) of one channel's attributes, and of one operation on them.
pub const MAX_CHANNEL_BYTES: usize = 32 * 1024;

/// The four write operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrOp {
    /// Replace the whole set.
    Set,
    /// Upsert the given keys.
    AddOrUpdate,
    /// Remove the given keys.
    Delete,
    /// Remove everything.
    Clear,
}

/// A stored channel attribute (§4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelAttribute {
    pub value: String,
    pub last_update_user_id: UserId,
    /// Unix ms of the last write.
    pub last_update_ts: u64,
}

/// Visible ASCII, 1..=32 bytes.
pub fn validate_key(key: &str) -> Result<(), E> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(E::InvalidArgument);
    }
    Ok(())
}

/// Checks the arguments of a write before it touches any store: keys valid, values
/// non-empty and ≤ 8 KB, ≤ 32 entries and ≤ `total_limit` bytes in the operation.
pub fn validate_write(
    op: AttrOp,
    attributes: &BTreeMap<String, String>,
    keys: &[String],
    total_limit: usize,
) -> Result<(), E> {
    match op {
        AttrOp::Set | AttrOp::AddOrUpdate => {
            if op == AttrOp::AddOrUpdate && attributes.is_empty() {
                return Err(E::InvalidArgument);
            }
            for (k, v) in attributes {
                validate_key(k)?;
                if v.is_empty() {
                    return Err(E::InvalidArgument);
                }
                if v.len() > MAX_VALUE_BYTES {
                    return Err(E::SizeOverflow);
                }
            }
            let total: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
            if attributes.len() > MAX_ATTRIBUTES || total > total_limit {
                return Err(E::SizeOverflow);
            }
        }
        AttrOp::Delete => {
            if keys.is_empty() || keys.len() > MAX_ATTRIBUTES * 4 {
                return Err(E::InvalidArgument);
            }
            keys.iter().try_for_each(|k| validate_key(k))?;
        }
        AttrOp::Clear => {}
    }
    Ok(())
}

/// Applies a validated write to `store`, all or nothing. `make` builds a stored value and
/// `size` measures one entry (key + value bytes).
pub fn apply<V: Clone>(
    store: &mut BTreeMap<String, V>,
    op: AttrOp,
    attributes: BTreeMap<String, String>,
    keys: &[String],
    total_limit: usize,
    make: impl Fn(String) -> V,
    size: impl Fn(&str, &V) -> usize,
) -> Result<(), E> {
    validate_write(op, &attributes, keys, total_limit)?;
    let mut next = match op {
        AttrOp::Set | AttrOp::Clear => BTreeMap::new(),
        AttrOp::AddOrUpdate | AttrOp::Delete => store.clone(),
    };
    match op {
        AttrOp::Set | AttrOp::AddOrUpdate => {
            for (k, v) in attributes {
                next.insert(k, make(v));
            }
        }
        AttrOp::Delete => {
            for k in keys {
                next.remove(k);
            }
        }
        AttrOp::Clear => {}
    }
    let total: usize = next.iter().map(|(k, v)| size(k, v)).sum();
    if next.len() > MAX_ATTRIBUTES || total > total_limit {
        return Err(E::SizeOverflow);
    }
    *store = next;
    Ok(())
}

/// The entries of `store` named by `keys`, or all of them.
pub fn select<V: Clone>(
    store: &BTreeMap<String, V>,
    keys: Option<&[String]>,
) -> BTreeMap<String, V> {
    match keys {
        None => store.clone(),
        Some(keys) => keys
            .iter()
            .filter_map(|k| store.get(k).map(|v| (k.clone(), v.clone())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(
        store: &mut BTreeMap<String, String>,
        op: AttrOp,
        a: &[(&str, &str)],
        keys: &[&str],
    ) -> Result<(), E> {
        let keys: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        apply(
            store,
            op,
            m(a),
            &keys,
            MAX_USER_BYTES,
            |v| v,
            |k, v| k.len() + v.len(),
        )
    }

    #[test]
    fn the_four_operations() {
        let mut s = BTreeMap::new();
        run(&mut s, AttrOp::Set, &[("a", "1"), ("b", "2")], &[]).unwrap();
        run(&mut s, AttrOp::AddOrUpdate, &[("b", "3"), ("c", "4")], &[]).unwrap();
        assert_eq!(s, m(&[("a", "1"), ("b", "3"), ("c", "4")]));
        run(&mut s, AttrOp::Delete, &[], &["a", "zz"]).unwrap();
        assert_eq!(s, m(&[("b", "3"), ("c", "4")]));
        run(&mut s, AttrOp::Clear, &[], &[]).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn limits_are_enforced_all_or_nothing() {
        let mut s = BTreeMap::new();
        assert_eq!(
            run(&mut s, AttrOp::Set, &[("a", "")], &[]),
            Err(E::InvalidArgument)
        );
        assert_eq!(
            run(&mut s, AttrOp::Set, &[("", "x")], &[]),
            Err(E::InvalidArgument)
        );
        assert_eq!(
            run(&mut s, AttrOp::Set, &[("a b", "x")], &[]),
            Err(E::InvalidArgument)
        );
        let long_key = "k".repeat(33);
        assert_eq!(
            run(&mut s, AttrOp::Set, &[(&long_key, "x")], &[]),
            Err(E::InvalidArgument)
        );
        let big = "v".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(
            run(&mut s, AttrOp::Set, &[("a", &big)], &[]),
            Err(E::SizeOverflow)
        );
        // 33 keys in one go, or by adding to 32.
        let keys: Vec<String> = (0..33).map(|i| format!("k{i}")).collect();
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        assert_eq!(run(&mut s, AttrOp::Set, &pairs, &[]), Err(E::SizeOverflow));
        run(&mut s, AttrOp::Set, &pairs[..32], &[]).unwrap();
        assert_eq!(
            run(&mut s, AttrOp::AddOrUpdate, &[("new", "v")], &[]),
            Err(E::SizeOverflow)
        );
        assert_eq!(s.len(), 32, "the failed write changed nothing");
        // 16 KB total across operations.
        let mut s = BTreeMap::new();
        let v = "v".repeat(MAX_VALUE_BYTES - 1);
        run(&mut s, AttrOp::Set, &[("a", &v)], &[]).unwrap();
        assert_eq!(
            run(&mut s, AttrOp::AddOrUpdate, &[("b", &v), ("c", "x")], &[]),
            Err(E::SizeOverflow)
        );
    }
}
