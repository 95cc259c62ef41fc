//! HTTP Basic authentication with an admin key: `Authorization: Basic base64(id:secret)`.
//!
//! Secrets are compared through their SHA-256 digests, byte by byte without an early exit,
//! so neither the time taken nor its dependence on the length tells how much of a guess
//! was right. Every key is compared, found or not, for the same reason.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::AdminKey;

/// The index in `keys` of the key the `Authorization` header names with its right secret.
pub(crate) fn authenticate(keys: &[AdminKey], authorization: Option<&str>) -> Option<usize> {
    let (id, secret) = credentials(authorization?)?;
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        let id_ok = same(key.id.as_bytes(), id.as_bytes());
        let secret_ok = same(key.secret.as_bytes(), secret.as_bytes());
        if id_ok & secret_ok && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// The key id and secret of a Basic `Authorization` header.
fn credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Equality of `a` and `b` in time that depends on neither.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn only_a_configured_id_with_its_secret_passes() {
        let keys = vec![
            AdminKey {
                id: "ops".into(),
                secret: "s3cret".into(),
            },
            AdminKey {
                id: "backend".into(),
                secret: "pa:ss".into(),
            },
        ];
        assert_eq!(authenticate(&keys, Some(&basic("ops:s3cret"))), Some(0));
        assert_eq!(authenticate(&keys, Some(&basic("backend:pa:ss"))), Some(1));
        assert_eq!(authenticate(&keys, Some(&basic("ops:s3cre"))), None);
        assert_eq!(authenticate(&keys, Some(&basic("ops:pa:ss"))), None);
        assert_eq!(authenticate(&keys, Some("Bearer x")), None);
        assert_eq!(authenticate(&keys, Some("Basic !!!")), None);
        assert_eq!(authenticate(&keys, None), None);
        assert_eq!(
            authenticate(&keys, Some(&basic("ops:s3cret").to_lowercase())),
            None
        );
        let lower = format!("basic {}", &basic("ops:s3cret")[6..]);
        assert_eq!(authenticate(&keys, Some(&lower)), Some(0));
    }
}
