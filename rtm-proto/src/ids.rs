//! Validated identifiers (§1.3, §1.4).
//!
//! User and channel ids share one rule: 1..=64 bytes (the inclusive reading of §14.2), not the
//! literal `"null"`, drawn from `a-z A-Z 0-9`, space and `! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _
//! { } | ~ ,`. A value of these types is valid by construction, also when it came off the wire:
//! deserialisation validates.

use core::fmt;
use std::sync::Arc;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest user or channel id, in bytes (§1.3).
pub const MAX_ID_BYTES: usize = 64;

/// Why an id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than 64 bytes")]
    TooLong,
    #[error("id must not be the literal \"null\"")]
    Null,
    #[error("id contains a character outside the allowed set")]
    BadCharacter,
}

/// Whether each byte may appear in an id: one table lookup per byte, as every id of every
/// frame is checked.
const ALLOWED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let others = b" !#$%&()+-:;<=.>?@[]^_{}|~,";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

fn allowed(b: u8) -> bool {
    ALLOWED[b as usize]
}

/// Checks the id rule of §1.3 / §1.4.
pub fn validate_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong);
    }
    if s == "null" {
        return Err(IdError::Null);
    }
    if !s.bytes().all(allowed) {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared, not copied: an id is cloned into every table that names the user or
        /// channel (sessions, channel members, resend keys, stream entries), and a clone is
        /// a reference-count bump, not an allocation.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate_id(&s)?;
                Ok($name(Arc::from(s)))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            /// Validates `s` and copies it into its shared allocation (one allocation, where
            /// `new` would make a `String` first).
            fn try_from(s: &str) -> Result<Self, IdError> {
                validate_id(s)?;
                Ok($name(Arc::from(s)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(IdVisitor).map($name)
            }
        }
    };
}

/// Reads an id from a JSON string straight into its shared allocation (no `String` on the
/// way), validating it first.
struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id: 1 to 64 bytes of the allowed characters")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Arc<str>, E> {
        validate_id(s).map_err(E::custom)?;
        Ok(Arc::from(s))
    }
}

id_type!(
    /// A user id (§1.3): `uid`, `peerId`, `calleeId`, `memberId`.
    UserId
);
id_type!(
    /// A channel id (§1.4).
    ChannelId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_charset() {
        assert!(UserId::new("alice").is_ok());
        assert!(UserId::new(" leading space").is_ok());
        assert!(UserId::new("!#$%&()+-:;<=.>?@[]^_{}|~,").is_ok());
        assert!(UserId::new("a".repeat(64)).is_ok());
    }

    #[test]
    fn refuses_the_rest() {
        assert_eq!(UserId::new(""), Err(IdError::Empty));
        assert_eq!(UserId::new("a".repeat(65)), Err(IdError::TooLong));
        assert_eq!(UserId::new("null"), Err(IdError::Null));
        assert_eq!(UserId::new("a/b"), Err(IdError::BadCharacter));
        assert_eq!(UserId::new("é"), Err(IdError::BadCharacter));
        assert_eq!(ChannelId::new("a*b"), Err(IdError::BadCharacter));
    }

    #[test]
    fn deserialisation_validates() {
        assert!(serde_json::from_str::<UserId>("\"bob\"").is_ok());
        assert!(serde_json::from_str::<UserId>("\"null\"").is_err());
        assert!(serde_json::from_str::<UserId>("\"\"").is_err());
    }
}
