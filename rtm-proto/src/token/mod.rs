//! Agora-compatible RTM tokens (spec §3): AccessToken2 ("007") and the legacy
//! AccessToken ("006").
//!
//! This module is pure: no IO, no clock, no randomness. Callers pass the
//! current time (`now_unix_secs`) to [`verify`] and the issue time / salt to
//! the builders.
//!
//! # Verification contract ([`verify`])
//!
//! Tokens are hostile peer input. [`verify`] never panics, refuses tokens
//! longer than [`MAX_TOKEN_LEN`] bytes before decoding anything, bounds the
//! zlib output of 007 tokens to 4 KiB, and performs the checks of §3.4 in this
//! order, returning the first failure:
//!
//! 1. version prefix `006` / `007` — else [`TokenError::UnknownVersion`];
//! 2. structure (base64, zlib, lengths, no trailing bytes) — else
//!    [`TokenError::Malformed`];
//! 3. the App ID inside the token equals `app_id` — else [`TokenError::WrongAppId`];
//! 4. the HMAC-SHA256 signature verifies with `app_certificate` (constant-time
//!    comparison) — else [`TokenError::BadSignature`];
//! 5. the user id bound in the token equals `user_id` (byte-wise, UTF-8) —
//!    else [`TokenError::WrongUser`];
//! 6. the token grants the RTM login privilege — else [`TokenError::NoPrivilege`];
//! 7. it has not expired: valid while `now_unix_secs < expires_at` — else
//!    [`TokenError::Expired`].
//!
//! Mapping to SDK errors (§3.4): `Malformed`/`BadSignature`/`WrongUser`/
//! `NoPrivilege` → `LOGIN_ERR_INVALID_TOKEN`, `Expired` →
//! `LOGIN_ERR_TOKEN_EXPIRED`, `WrongAppId` → `LOGIN_ERR_INVALID_APP_ID`.
//!
//! ## 007 (AccessToken2, §3.3)
//!
//! * Only the RTM service (type 2) carrying `kPrivilegeLogin` (1) grants
//!   login; RTC (1), Streaming (3), FPA (4), Chat (5), FCDN (6), APaaS (7) and
//!   RTM2 (8) services are parsed and skipped. A service type unknown to this
//!   module is refused as `Malformed` — unless the RTM service has already been
//!   read, in which case parsing stops there (its length is unknowable; the
//!   signature covers the raw bytes anyway). Upstream builders sort services by
//!   type, older ones keep insertion order; both are accepted. A token without
//!   an RTM service yields `NoPrivilege`.
//! * `expires_at = issueTs + min(expire, loginPrivilegeExpire, 24 h)`; all
//!   three are seconds relative to `issueTs`. A validity of 0 is expired at any
//!   `now` (§3.3 "0 means already expired"), even if `now < issueTs`. An
//!   `issueTs` in the future is otherwise accepted (clock skew is the caller's
//!   business).
//! * The zlib layer is not required to be canonical (Agora's Go builder uses
//!   a different compressor than the Python/C++ ones), so any zlib encoding of
//!   a correctly signed payload verifies; only the decompressed bytes matter.
//!
//! ## 006 (AccessToken, §3.2)
//!
//! * The user id is only signed (HMAC over `appId ‖ userId ‖ "" ‖ message`)
//!   and crc32'd, not carried in clear. If the signature does not verify for
//!   `user_id` and the token's crc32 names another user, the result is
//!   `WrongUser`; otherwise `BadSignature`. A verified message with altered
//!   crc fields is `BadSignature`.
//! * Privilege `kRtmLogin` (1000) must be present. Its expireTs value is
//!   **ignored**: §3.2 records that Agora's RTM docs ignore the per-privilege
//!   expiry of RTM 006 tokens (callers of the builder commonly pass 0).
//! * **Expiry decision:** `expires_at = ts`. Agora's builders never let callers
//!   choose `ts`: `AccessToken.__init__` sets `ts = int(time.time()) + 24*3600`
//!   and `RtmTokenBuilder.buildToken` keeps it, so `ts` *is* the moment the
//!   24 h validity of §3.2 ends ("every RTM 006 token is valid for 24 h after
//!   issue"). The token is valid while `now_unix_secs < ts`.
//!
//! # Building
//!
//! [`build_v006`] reproduces Agora's public builder byte for byte.
//! [`build_v007`] produces the same *signed payload* as Agora's builders for the
//! same inputs (checked against vectors from the Python builders, see the
//! tests); only the zlib framing around it may differ, because our compressor
//! (miniz_oxide) picks other deflate blocks than C zlib. Verifiers — ours and
//! Agora's — inflate before checking, so both are equally valid tokens.

mod packer;
mod v006;
mod v007;

pub use v006::build as build_v006;
pub use v007::build as build_v007;

#[cfg(test)]
mod tests;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Seconds before the RTM login privilege expires at which the SDK raises
/// `TokenPrivilegeWillExpire` (§3.5).
pub const PRIVILEGE_EXPIRE_WARNING_SECS: u64 = 30;

/// Tokens longer than this many bytes are refused as [`TokenError::Malformed`]
/// before any decoding. Real RTM tokens are 100–300 bytes.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Maximum validity of an AccessToken2 (§3.3): larger `expire` values are
/// capped to 24 h.
pub const MAX_VALIDITY_SECS: u64 = 24 * 60 * 60;

/// Token format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// AccessToken, `"006"` prefix (§3.2).
    V006,
    /// AccessToken2, `"007"` prefix (§3.3).
    V007,
}

/// Result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub version: TokenVersion,
    /// Unix seconds at which the RTM login privilege expires (for 007:
    /// `issueTs + min(token expire, privilege expire, 24 h)`; for 006: the
    /// token's `ts`, i.e. issue time + 24 h). The token is valid while
    /// `now < expires_at`.
    pub expires_at: u64,
}

/// Why a token was refused. See the module docs for the order of checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    #[error("token version is not 006 or 007")]
    UnknownVersion,
    #[error("token was issued for another app id")]
    WrongAppId,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token was issued for another user id")]
    WrongUser,
    #[error("token grants no RTM login privilege")]
    NoPrivilege,
    #[error("token has expired")]
    Expired,
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with `key` over the concatenation of `parts`.
/// (`Hmac::new_from_slice` accepts any key length, so this is always `Some`.)
fn mac(key: &[u8], parts: &[&[u8]]) -> Option<HmacSha256> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).ok()?;
    for p in parts {
        m.update(p);
    }
    Some(m)
}

/// Verify `token` for `app_id`/`app_certificate`/`user_id` at `now_unix_secs`.
///
/// Accepts AccessToken ("006", §3.2) and AccessToken2 ("007", §3.3) RTM
/// tokens as issued by Agora's builders. The checks and their order are
/// described in the [module docs](self): version → structure → app id →
/// signature → user → privilege → expiry. On success returns the version and
/// the Unix second at which the login privilege expires; the token is valid
/// while `now_unix_secs < expires_at`. Never panics, whatever `token` holds.
pub fn verify(
    token: &str,
    app_id: &str,
    app_certificate: &str,
    user_id: &str,
    now_unix_secs: u64,
) -> Result<VerifiedToken, TokenError> {
    let bytes = token.as_bytes();
    let version = match bytes.get(..3) {
        Some(v) if v == v007::VERSION.as_bytes() => TokenVersion::V007,
        Some(v) if v == v006::VERSION.as_bytes() => TokenVersion::V006,
        _ => return Err(TokenError::UnknownVersion),
    };
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("token longer than 2048 bytes"));
    }
    let body = bytes.get(3..).unwrap_or_default();
    let expected = Expected {
        app_id,
        app_certificate,
        user_id,
        now_unix_secs,
    };
    match version {
        TokenVersion::V007 => v007::verify(body, &expected),
        TokenVersion::V006 => v006::verify(body, &expected),
    }
}

/// What a token must match to log `user_id` in to `app_id` at `now_unix_secs`: the
/// arguments of [`verify`], handed to the verifier of the token's version.
struct Expected<'a> {
    app_id: &'a str,
    app_certificate: &'a str,
    user_id: &'a str,
    now_unix_secs: u64,
}
