//! AccessToken2 "007" (§3.3), as produced by Agora's `RtmTokenBuilder2`
//! (`AccessToken2.py` in AgoraIO/Tools, same layout in the C++/Go builders):
//!
//! ```text
//! token       = "007" + base64(zlib(string(signature) + signingInfo))
//! signingInfo = string(appId) + u32 issueTs + u32 expire + u32 salt + u16 serviceCount + services
//! service     = u16 type + map<u16 privilege, u32 expire> + type-specific fields
//! signingKey  = HMAC-SHA256(key = u32le(issueTs), data = appCertificate)
//! signingKey' = HMAC-SHA256(key = u32le(salt),    data = signingKey)
//! signature   = HMAC-SHA256(key = signingKey',    data = signingInfo)
//! ```
//!
//! The signature covers the raw `signingInfo` bytes, so verification does not
//! depend on re-serialising what was parsed (this is also how the current
//! upstream `verify_signature` works).

use std::io::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use flate2::{Decompress, FlushDecompress, Status};
use hmac::Mac;

use super::packer::{put_string, put_u16, put_u32, Reader};
use super::{mac, Expected, TokenError, TokenVersion, VerifiedToken, MAX_VALIDITY_SECS};

pub(crate) const VERSION: &str = "007";
const SIGNATURE_LEN: usize = 32;
/// Upper bound for the decompressed payload. A legitimate RTM token is a few
/// hundred bytes; the bound keeps a zip bomb from allocating more than this.
pub(crate) const MAX_DECOMPRESSED_LEN: usize = 4096;

pub(crate) const SERVICE_RTC: u16 = 1;
pub(crate) const SERVICE_RTM: u16 = 2;
pub(crate) const SERVICE_STREAMING: u16 = 3;
pub(crate) const SERVICE_FPA: u16 = 4;
pub(crate) const SERVICE_CHAT: u16 = 5;
pub(crate) const SERVICE_FCDN: u16 = 6;
pub(crate) const SERVICE_APAAS: u16 = 7;
pub(crate) const SERVICE_RTM2: u16 = 8;
/// `ServiceRtm::kPrivilegeLogin`.
pub(crate) const PRIVILEGE_LOGIN: u16 = 1;

/// Agora's `is_uuid`: exactly 32 hexadecimal ASCII characters.
fn is_uuid(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn signing_key(app_certificate: &[u8], issue_ts: u32, salt: u32) -> Option<[u8; 32]> {
    let k1 = mac(&issue_ts.to_le_bytes(), &[app_certificate])?
        .finalize()
        .into_bytes();
    let k2 = mac(&salt.to_le_bytes(), &[&k1])?.finalize().into_bytes();
    Some(k2.into())
}

/// Build an AccessToken2 RTM token exactly as Agora's
/// `RtmTokenBuilder2.build_token(app_id, app_certificate, user_id, expire)`
/// does when its clock reads `issue_ts` and its random salt is `salt`: one RTM
/// service (type 2) for `user_id` with `kPrivilegeLogin`, token expire and
/// privilege expire both `expire_secs` (relative to `issue_ts`, §3.3).
///
/// Like the upstream builder, returns an empty string if `app_id` or
/// `app_certificate` is not 32 hexadecimal characters (and, where Python
/// would raise, if `user_id` exceeds 65535 bytes). Upstream draws the salt
/// from 1..=99999999; any `u32` is accepted here. Output is byte-identical to
/// the Python builder (zlib default compression) for user ids of practical
/// size (payload up to 16 000 bytes).
pub fn build(
    app_id: &str,
    app_certificate: &str,
    user_id: &str,
    issue_ts: u32,
    expire_secs: u32,
    salt: u32,
) -> String {
    // AccessToken.__build_check: returns '' for a non-uuid app id/certificate.
    if !is_uuid(app_id) || !is_uuid(app_certificate) {
        return String::new();
    }
    signing_info(app_id, user_id, issue_ts, expire_secs, salt)
        .and_then(|info| seal(app_certificate, issue_ts, salt, info))
        .unwrap_or_default()
}

/// The signed part of a token: the app id, the times and salt, and one RTM service for
/// `user_id` with the login privilege. `None` when a string is too long for its length prefix.
fn signing_info(
    app_id: &str,
    user_id: &str,
    issue_ts: u32,
    expire_secs: u32,
    salt: u32,
) -> Option<Vec<u8>> {
    let mut info = Vec::with_capacity(64 + user_id.len());
    put_string(&mut info, app_id.as_bytes())?;
    put_u32(&mut info, issue_ts);
    put_u32(&mut info, expire_secs);
    put_u32(&mut info, salt);
    put_u16(&mut info, 1); // one service
    put_u16(&mut info, SERVICE_RTM);
    put_u16(&mut info, 1); // one privilege
    put_u16(&mut info, PRIVILEGE_LOGIN);
    put_u32(&mut info, expire_secs);
    put_string(&mut info, user_id.as_bytes())?;
    Some(info)
}

/// `info` signed with the key derived from the certificate, issue time and salt, then
/// compressed and encoded as a "007" token. The tests seal hand-made service bytes with it;
/// the Python vectors check it byte for byte.
pub(super) fn seal(
    app_certificate: &str,
    issue_ts: u32,
    salt: u32,
    info: Vec<u8>,
) -> Option<String> {
    let key = signing_key(app_certificate.as_bytes(), issue_ts, salt)?;
    let signature = mac(&key, &[&info])?.finalize().into_bytes();

    let mut payload = Vec::with_capacity(2 + SIGNATURE_LEN + info.len());
    put_string(&mut payload, &signature)?;
    payload.extend_from_slice(&info);

    // Any zlib stream will do: verifiers (ours and Agora's) sign and check the
    // decompressed payload, so the compressor's exact choice of blocks does not
    // matter and is not reproduced (Python's zlib and miniz_oxide differ).
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&payload).ok()?;
    let compressed = enc.finish().ok()?;
    let mut out = String::from(VERSION);
    out.push_str(&B64.encode(compressed));
    Some(out)
}

/// zlib-inflate `input`, refusing output larger than [`MAX_DECOMPRESSED_LEN`],
/// truncated streams and trailing bytes after the stream.
fn inflate_bounded(input: &[u8]) -> Result<Vec<u8>, TokenError> {
    let mut d = Decompress::new(true);
    let mut out = vec![0u8; MAX_DECOMPRESSED_LEN + 1];
    loop {
        let in_pos = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let out_pos = usize::try_from(d.total_out()).unwrap_or(usize::MAX);
        let src = input
            .get(in_pos..)
            .ok_or(TokenError::Malformed("bad zlib stream"))?;
        let dst = match out.get_mut(out_pos..) {
            Some(d) if !d.is_empty() => d,
            _ => return Err(TokenError::Malformed("007 payload too large")),
        };
        let status = d
            .decompress(src, dst, FlushDecompress::Finish)
            .map_err(|_| TokenError::Malformed("bad zlib stream"))?;
        let progressed = usize::try_from(d.total_in()).unwrap_or(usize::MAX) != in_pos
            || usize::try_from(d.total_out()).unwrap_or(usize::MAX) != out_pos;
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError if progressed => continue,
            _ => return Err(TokenError::Malformed("truncated zlib stream")),
        }
    }
    let total_out = usize::try_from(d.total_out()).unwrap_or(usize::MAX);
    if total_out > MAX_DECOMPRESSED_LEN {
        return Err(TokenError::Malformed("007 payload too large"));
    }
    if usize::try_from(d.total_in()).ok() != Some(input.len()) {
        return Err(TokenError::Malformed("trailing bytes after zlib stream"));
    }
    out.truncate(total_out);
    Ok(out)
}

/// The RTM service (type 2) of a parsed token.
struct RtmService<'a> {
    privileges: Vec<(u16, u32)>,
    user_id: &'a [u8],
}

struct Parsed<'a> {
    signature: &'a [u8],
    signing_info: &'a [u8],
    app_id: &'a [u8],
    issue_ts: u32,
    expire: u32,
    salt: u32,
    rtm: Option<RtmService<'a>>,
}

/// Skip the type-specific fields of a known non-RTM service.
/// Returns `Ok(false)` for an unknown service type (nothing consumed).
fn skip_service_fields(r: &mut Reader<'_>, service_type: u16) -> Result<bool, TokenError> {
    match service_type {
        // channel name + uid/account
        SERVICE_RTC | SERVICE_STREAMING | SERVICE_FCDN => {
            r.string()?;
            r.string()?;
        }
        SERVICE_FPA => {}
        // user id
        SERVICE_CHAT => {
            r.string()?;
        }
        // room uuid + user uuid + i16 role
        SERVICE_APAAS => {
            r.string()?;
            r.string()?;
            r.i16()?;
        }
        // user id + resource permissions:
        // u16 n × (u16 resourceType, u16 m × (u16 permissionType, u16 k × string))
        SERVICE_RTM2 => {
            r.string()?;
            let resources = r.u16()?;
            for _ in 0..resources {
                r.u16()?;
                let permissions = r.u16()?;
                for _ in 0..permissions {
                    r.u16()?;
                    let names = r.u16()?;
                    for _ in 0..names {
                        r.string()?;
                    }
                }
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse(payload: &[u8]) -> Result<Parsed<'_>, TokenError> {
    let mut r = Reader::new(payload);
    let signature = r.string()?;
    if signature.len() != SIGNATURE_LEN {
        return Err(TokenError::Malformed("007 signature is not 32 bytes"));
    }
    let signing_info = r.rest();
    let app_id = r.string()?;
    let issue_ts = r.u32()?;
    let expire = r.u32()?;
    let salt = r.u32()?;
    let service_count = r.u16()?;

    let mut rtm: Option<RtmService<'_>> = None;
    let mut stopped_early = false;
    for _ in 0..service_count {
        let service_type = r.u16()?;
        if service_type == SERVICE_RTM {
            let privileges = r.map_u32()?;
            let user_id = r.string()?;
            if rtm.is_some() {
                return Err(TokenError::Malformed("duplicate RTM service"));
            }
            rtm = Some(RtmService {
                privileges,
                user_id,
            });
            continue;
        }
        // An unknown service's length cannot be known, so parsing must stop.
        // Builders order services by type, so later (newer, higher-numbered)
        // services may follow the RTM one; the signature still covers them.
        // Before the RTM service is found, an unknown type is refused.
        let known = matches!(
            service_type,
            SERVICE_RTC
                | SERVICE_STREAMING
                | SERVICE_FPA
                | SERVICE_CHAT
                | SERVICE_FCDN
                | SERVICE_APAAS
                | SERVICE_RTM2
        );
        if !known {
            if rtm.is_some() {
                stopped_early = true;
                break;
            }
            return Err(TokenError::Malformed("unknown 007 service type"));
        }
        r.map_u32()?;
        skip_service_fields(&mut r, service_type)?;
    }
    if !stopped_early && !r.is_empty() {
        return Err(TokenError::Malformed("trailing bytes after 007 services"));
    }
    Ok(Parsed {
        signature,
        signing_info,
        app_id,
        issue_ts,
        expire,
        salt,
        rtm,
    })
}

/// `body` is the token without its "007" prefix.
pub(super) fn verify(body: &[u8], expected: &Expected<'_>) -> Result<VerifiedToken, TokenError> {
    // --- parse ---
    let compressed = B64
        .decode(body)
        .map_err(|_| TokenError::Malformed("007 body is not valid base64"))?;
    let payload = inflate_bounded(&compressed)?;
    let t = parse(&payload)?;

    // --- app id ---
    if t.app_id != expected.app_id.as_bytes() {
        return Err(TokenError::WrongAppId);
    }

    // --- signature ---
    let sig_ok = signing_key(expected.app_certificate.as_bytes(), t.issue_ts, t.salt)
        .and_then(|key| mac(&key, &[t.signing_info]))
        .is_some_and(|m| m.verify_slice(t.signature).is_ok());
    if !sig_ok {
        return Err(TokenError::BadSignature);
    }

    // --- user ---
    let Some(rtm) = t.rtm else {
        // No RTM service at all (e.g. an RTC-only token): nothing to log in with.
        return Err(TokenError::NoPrivilege);
    };
    if rtm.user_id != expected.user_id.as_bytes() {
        return Err(TokenError::WrongUser);
    }

    // --- privilege ---
    let Some(&(_, privilege_expire)) = rtm.privileges.iter().find(|&&(k, _)| k == PRIVILEGE_LOGIN)
    else {
        return Err(TokenError::NoPrivilege);
    };

    // --- expiry: relative seconds, capped at 24 h, 0 = already expired ---
    let validity = u64::from(t.expire)
        .min(u64::from(privilege_expire))
        .min(MAX_VALIDITY_SECS);
    let expires_at = u64::from(t.issue_ts) + validity;
    if validity == 0 || expected.now_unix_secs >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(VerifiedToken {
        version: TokenVersion::V007,
        expires_at,
    })
}

#[cfg(test)]
pub(crate) fn inflate_for_tests(input: &[u8]) -> Result<Vec<u8>, TokenError> {
    inflate_bounded(input)
}
