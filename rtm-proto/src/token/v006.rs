//! AccessToken "006" (§3.2), as produced by Agora's `RtmTokenBuilder`
//! (`AccessToken.py` in the `agora-token-builder` PyPI package, identical in
//! AgoraIO/Tools for C++/Go/Node):
//!
//! ```text
//! token     = "006" + appId (32 chars) + base64(content)
//! content   = string(signature) + u32 crc32(channelName) + u32 crc32(uid) + string(message)
//! message   = u32 salt + u32 ts + u16 n + n × (u16 privilegeId, u32 expireTs)
//! signature = HMAC-SHA256(key = appCertificate, data = appId ‖ channelName ‖ uid ‖ message)
//! ```
//!
//! For RTM the user id sits in the `channelName` slot, `uid` is empty and the
//! only privilege is `kRtmLogin = 1000`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::Mac;

use super::packer::{put_string, put_u16, put_u32, Reader};
use super::{mac, Expected, TokenError, TokenVersion, VerifiedToken};

pub(crate) const VERSION: &str = "006";
const APP_ID_LEN: usize = 32;
/// `kRtmLogin`.
pub(crate) const PRIVILEGE_RTM_LOGIN: u16 = 1000;
const SIGNATURE_LEN: usize = 32;

/// Build a 006 RTM token exactly as Agora's
/// `RtmTokenBuilder.buildToken(appId, appCertificate, userAccount, Role_Rtm_User,
/// privilegeExpiredTs)` does when its random salt is `salt` and its `ts` is
/// `ts` (upstream: `ts = now + 24 h`, which [`verify`](super::verify) treats as the expiry
/// moment). The user id goes in the channel-name slot, the uid slot is empty,
/// and the only privilege is `kRtmLogin` (1000) → `privilege_expire_ts`.
///
/// Like upstream, `app_id` is copied verbatim (it should be 32 characters for
/// the token to be parseable).
pub fn build(
    app_id: &str,
    app_certificate: &str,
    user_id: &str,
    salt: u32,
    ts: u32,
    privilege_expire_ts: u32,
) -> String {
    let mut message = Vec::with_capacity(16);
    put_u32(&mut message, salt);
    put_u32(&mut message, ts);
    put_u16(&mut message, 1);
    put_u16(&mut message, PRIVILEGE_RTM_LOGIN);
    put_u32(&mut message, privilege_expire_ts);

    let Some(signer) = mac(
        app_certificate.as_bytes(),
        &[app_id.as_bytes(), user_id.as_bytes(), b"", &message],
    ) else {
        return String::new();
    };
    let signature = signer.finalize().into_bytes();

    let mut content = Vec::with_capacity(2 + SIGNATURE_LEN + 8 + 2 + message.len());
    // Both strings are far below u16::MAX bytes, so these cannot fail.
    let _ = put_string(&mut content, &signature);
    put_u32(&mut content, crc32fast::hash(user_id.as_bytes()));
    put_u32(&mut content, crc32fast::hash(b""));
    let _ = put_string(&mut content, &message);

    let mut out = String::with_capacity(3 + app_id.len() + content.len() * 4 / 3 + 4);
    out.push_str(VERSION);
    out.push_str(app_id);
    out.push_str(&B64.encode(&content));
    out
}

/// `body` is the token without its "006" prefix.
pub(super) fn verify(body: &[u8], expected: &Expected<'_>) -> Result<VerifiedToken, TokenError> {
    // --- parse ---
    let token_app_id = body
        .get(..APP_ID_LEN)
        .ok_or(TokenError::Malformed("006 token shorter than its app id"))?;
    let content_b64 = body.get(APP_ID_LEN..).unwrap_or_default();
    let content = B64
        .decode(content_b64)
        .map_err(|_| TokenError::Malformed("006 content is not valid base64"))?;

    let mut r = Reader::new(&content);
    let signature = r.string()?;
    if signature.len() != SIGNATURE_LEN {
        return Err(TokenError::Malformed("006 signature is not 32 bytes"));
    }
    let crc_channel_name = r.u32()?;
    let crc_uid = r.u32()?;
    let message = r.string()?;
    if !r.is_empty() {
        return Err(TokenError::Malformed("trailing bytes after 006 content"));
    }

    let mut m = Reader::new(message);
    let _salt = m.u32()?;
    let ts = m.u32()?;
    let privileges = m.map_u32()?;
    if !m.is_empty() {
        return Err(TokenError::Malformed("trailing bytes after 006 message"));
    }

    // --- app id ---
    if token_app_id != expected.app_id.as_bytes() {
        return Err(TokenError::WrongAppId);
    }

    // --- signature (and user binding) ---
    // The user id is not carried in clear, only signed and crc'd, so the
    // signature can only be recomputed for the user id we are asked about.
    let sig_ok = mac(
        expected.app_certificate.as_bytes(),
        &[token_app_id, expected.user_id.as_bytes(), b"", message],
    )
    .is_some_and(|m| m.verify_slice(signature).is_ok());
    let crc_user_ok = crc_channel_name == crc32fast::hash(expected.user_id.as_bytes());
    if !sig_ok {
        // A token whose (unauthenticated) crc names a different user is
        // reported as issued for another user; either way it is refused.
        return Err(if crc_user_ok {
            TokenError::BadSignature
        } else {
            TokenError::WrongUser
        });
    }
    // The signature covers the message but not the crc fields; a genuine
    // message with altered crcs has been tampered with.
    if !crc_user_ok || crc_uid != crc32fast::hash(b"") {
        return Err(TokenError::BadSignature);
    }

    // --- privilege ---
    if !privileges.iter().any(|&(k, _)| k == PRIVILEGE_RTM_LOGIN) {
        return Err(TokenError::NoPrivilege);
    }

    // --- expiry: `ts` is the end of the 24 h validity (see module docs of
    // `token`); the per-privilege expireTs is ignored for RTM 006 tokens. ---
    let expires_at = u64::from(ts);
    if expected.now_unix_secs >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(VerifiedToken {
        version: TokenVersion::V006,
        expires_at,
    })
}
