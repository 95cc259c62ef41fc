//! Tests for the token module.
//!
//! Vector provenance:
//! * `OFFICIAL_*`: expected strings copied from Agora's own unit tests in
//!   github.com/AgoraIO/Tools (`DynamicKey/AgoraDynamicKey/python3/test/AccessToken2Test.py`
//!   and `go/src/AccessToken/AccessToken_test.go`): app id
//!   `970CA35de60c44645bbae8a215061b33`, certificate
//!   `5CFd2fd1755d40ecb72977518be15d3b`, issue ts 1111111, salt 1, expire 600.
//! * `PY_V007` / `PY_V006`: produced by Agora's Python builders with issue ts
//!   and salt pinned — `AccessToken2.py` + `RtmTokenBuilder2.build_token`
//!   (AgoraIO/Tools python3/src) for 007, and `AccessToken.py` +
//!   `RtmTokenBuilder.buildToken` from the PyPI package
//!   `agora-token-builder` 1.0.0 for 006 — on CPython 3.11 / zlib 1.2.13.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use proptest::prelude::*;

use super::packer::{put_string, put_u16, put_u32};
use super::*;

const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
const APP_CERT: &str = "5CFd2fd1755d40ecb72977518be15d3b";

// ---------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------

/// AccessToken2Test.test_service_education_room_user: services Education(7),
/// RTM(2, user "2882341273"), Chat(5) in insertion (unsorted) order.
const OFFICIAL_007_EDU_RTM_CHAT: &str = "007eJxTYPDt2Lmu+dWxJ0sv/ZP/56n/cMLkSc3XOmpZA6/NtOlbWumjwGBpbuDsaGyakmpmkGxiYmZimpSUmGqRaGRoamBmmGRs7P5FgCGCiYGBkYGBgZmBHUgzgvnMDIZGxlwMRhYWRsYmhkbmxowMTHBJZHFWuKgCg5mBmbGxhbGJkUWisVlaUqJxWpKZgbFBUmpymoWBpUkqAGF8Kv8=";
/// AccessToken2Test.test_multi_service: RTC(1) with 4 privileges, RTM(2),
/// FPA(4), Chat(5), Education(7); user "2882341273".
const OFFICIAL_007_MULTI: &str = "007eJxTYHh8IPKzTvBdf9ce8bk7G61vs06oca1e815/ot4+x7rfjDIKDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYWIEkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzYyagORCTkEVZ4KKsWOXZgWIQm1HF//8HAL01L5I=";
/// AccessToken2Test.test_service_rtc: RTC only (channel
/// 7d72365eb983485397e3e3f9d460bdda, uid 2882341273).
const OFFICIAL_007_RTC: &str = "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj";
/// AccessToken_test.go (uid 0): a 006 RTC token for channel
/// 7d72365eb983485397e3e3f9d460bdda, empty uid, kJoinChannel (1), ts 1111111.
const OFFICIAL_006_RTC_UID0: &str =
    "006970CA35de60c44645bbae8a215061b33IACw1o7htY6ISdNRtku3p9tjTPi0jCKf9t49UHJhzCmL6bdIfRAAAAAAEAABAAAAR/QQAAEAAQCvKDdW";
/// Same as above with uid 2882341273.
const OFFICIAL_006_RTC_UID: &str =
    "006970CA35de60c44645bbae8a215061b33IACV0fZUBw+72cVoL9eyGGh3Q6Poi8bgjwVLnyKSJyOXR7dIfRBXoFHlEAABAAAAR/QQAAEAAQCvKDdW";
const OFFICIAL_CHANNEL: &str = "7d72365eb983485397e3e3f9d460bdda";

const UNICODE_USER: &str = "\u{7528}\u{6237}-\u{fc}-\u{1f642}";
const LONG_USER: &str = "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu_0123456789abcdef0123456789abcdef";
const APP_ID2: &str = "0123456789abcdef0123456789abcdef";
const APP_CERT2: &str = "fedcba9876543210fedcba9876543210";

/// A token vector from the Python builder: app id, certificate, user, three numbers that
/// each format orders differently (see [`PY_V007`] and [`PY_V006`]), and the token.
type Vector = (
    &'static str,
    &'static str,
    &'static str,
    u32,
    u32,
    u32,
    &'static str,
);
/// (app_id, app_certificate, user_id, issue_ts, expire, salt, token)
const PY_V007: &[Vector] = &[
    (APP_ID, APP_CERT, "test_user", 1700000000, 3600, 12345678, "007eJxTYFi27sCv5vDp7iLX2HysHr5N3xfXd+/xxEWc+zyfVrWH+gkrMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbM3wMThXgY2DwS9zDwMjABMSMDCA+J0NJanFJfGlxahEA2QIgdw=="),
    (APP_ID, APP_CERT, "test_user", 1111111, 600, 1, "007eJxTYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJiBmBPM5GUpSi0viS4tTiwBZVh6A"),
    (APP_ID, APP_CERT, "", 1700000000, 600, 1, "007eJxTYHhooXP129ZtWSL/P9qsedLB8t1lToC1zMPN6q/6fdzbFm1QYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2ZvgYnBrBxMDAyADCTEDMyADiMzAAAODDHEE="),
    (APP_ID, APP_CERT, UNICODE_USER, 1111111, 86400, 99999999, "007eJxTYFjn19Ehn7pIWGTl+az802y7Fz9YX1NufvOd9BJ/mc/Rk2QUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMDQEMjL8f/CVlZGBiYERCEF8PobnU1Y869iue3iP7of5M5sAX6cmpQ=="),
    (APP_ID2, APP_CERT2, LONG_USER, 1712345678, 100000, 42, "007eJxTYPjWWiGtVuFXHH18/VdepfLNr9RsnHc1L+hZ0fztqUqb3hYFBgNDI2MTUzNzC8vEpOSU1DR0vl+QQNqCNkYGLQYGBkYGJiBmZADxHRhK8YN4QiYDAANlNDw="),
    (APP_ID2, APP_CERT2, "alice", 1712345678, 0, 7, "007eJxTYLA+ujhH+nLF/arvJlfjrt7InhwpdGL9wVDlriMrpjvsS/yiwGBgaGRsYmpmbmGZmJSckpqGzvcLEkhjAAJ2IGZkYAJiRhCXgZUhMSczORUAeh0d/A=="),
    (APP_ID2, APP_CERT2, "bob@example.com", 4000000000, 4294967295, 4294967295, "007eJxTYLD22PwjcbW3waaE2Ge72vZd4st0mlAwlX/Hw0yFpStvfZ6vwGBgaGRsYmpmbmGZmJSckpqGzmfQyH73HwoYGZgYGIEQxOZnSMpPckitSMwtyEnVS87PBQDTdy1t"),
];

/// (app_id, app_certificate, user_id, salt, ts, privilege_expire_ts, token)
const PY_V006: &[Vector] = &[
    (APP_ID, APP_CERT, "test_user", 1, 1197511, 1446455471, "006970CA35de60c44645bbae8a215061b33IAAOVUbVT0/QMlO6xZjPlQZv6Ho6jSCXbMlm+YkNXRPuLYb86ogAAAAAEAABAAAAx0USAAEA6AOvKDdW"),
    (APP_ID, APP_CERT, "test_user", 12345678, 1700086400, 0, "006970CA35de60c44645bbae8a215061b33IAA5bKin6cWyWAFlV+0+tRQfiJYNTnHe1by6CA0MkwtFiYb86ogAAAAAEABOYbwAgEJVZQEA6AMAAAAA"),
    (APP_ID, APP_CERT, UNICODE_USER, 99999999, 1700086400, 1700086400, "006970CA35de60c44645bbae8a215061b33IACu9B2uGcSTyBxkyetSnLq/ysluQfQBzV9NzMu72e4ZXCvlYh8AAAAAEAD/4PUFgEJVZQEA6AOAQlVl"),
    (APP_ID2, APP_CERT2, LONG_USER, 42, 1712431678, 0, "0060123456789abcdef0123456789abcdefIABGDpeIl5P9FtXMu/9xqCbhZ5CwA2blKvfpOK0LL0zdSFZW6B8AAAAAEAAqAAAAPqIRZgEA6AMAAAAA"),
    (APP_ID2, APP_CERT2, "", 7, 1712431678, 0, "0060123456789abcdef0123456789abcdefIAC8ciNB1g+QCXENrrWqhkspiU8L/cm4+I5Jxh37DZ5ZQwAAAAAAAAAAEAAHAAAAPqIRZgEA6AMAAAAA"),
];

fn expected_007_expiry(issue: u32, expire: u32) -> u64 {
    u64::from(issue) + u64::from(expire).min(MAX_VALIDITY_SECS)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Assemble and sign a 007 token from raw service bytes (which the builder would never write).
fn craft_v007(
    app_id: &str,
    cert: &str,
    issue_ts: u32,
    expire: u32,
    salt: u32,
    service_count: u16,
    services: &[u8],
) -> String {
    let mut info = Vec::new();
    put_string(&mut info, app_id.as_bytes()).unwrap();
    put_u32(&mut info, issue_ts);
    put_u32(&mut info, expire);
    put_u32(&mut info, salt);
    put_u16(&mut info, service_count);
    info.extend_from_slice(services);
    super::v007::seal(cert, issue_ts, salt, info).expect("a sealable payload")
}

/// A 007 token for [`APP_ID`] signed with [`APP_CERT`], issued at 1000 for 600 s, salt 1,
/// carrying `service_count` services from the raw `services` bytes.
fn signed(service_count: u16, services: &[u8]) -> String {
    craft_v007(APP_ID, APP_CERT, 1000, 600, 1, service_count, services)
}

/// `token` verified for "alice" against [`APP_ID`] and [`APP_CERT`] at `now`.
fn alice_at(token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
    verify(token, APP_ID, APP_CERT, "alice", now)
}

/// Raw bytes of one service: type, privilege map, then `fields`.
fn service(ty: u16, privileges: &[(u16, u32)], fields: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    put_u16(&mut s, ty);
    put_u16(&mut s, privileges.len() as u16);
    for &(k, v) in privileges {
        put_u16(&mut s, k);
        put_u32(&mut s, v);
    }
    s.extend_from_slice(fields);
    s
}

fn string_field(parts: &[&str]) -> Vec<u8> {
    let mut s = Vec::new();
    for p in parts {
        put_string(&mut s, p.as_bytes()).unwrap();
    }
    s
}

fn rtm_service(user: &str, privileges: &[(u16, u32)]) -> Vec<u8> {
    service(2, privileges, &string_field(&[user]))
}

/// Decode a 007 token to its zlib-inflated payload.
fn payload_007(token: &str) -> Vec<u8> {
    v007::inflate_for_tests(&B64.decode(&token[3..]).unwrap()).unwrap()
}

fn reencode_007(payload: &[u8]) -> String {
    format!("007{}", B64.encode(zlib(payload)))
}

const B64_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn other_b64_char(c: u8) -> u8 {
    if c == b'A' {
        b'B'
    } else {
        b'A'
    }
}

// ---------------------------------------------------------------------------
// zlib port
// ---------------------------------------------------------------------------

#[test]
fn official_007_vectors_verify() {
    let uid = "2882341273";
    for token in [OFFICIAL_007_EDU_RTM_CHAT, OFFICIAL_007_MULTI] {
        assert_eq!(
            verify(token, APP_ID, APP_CERT, uid, 1111111),
            Ok(VerifiedToken {
                version: TokenVersion::V007,
                expires_at: 1111111 + 600
            })
        );
        assert_eq!(
            verify(token, APP_ID, APP_CERT, uid, 1111711),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(token, APP_ID, APP_CERT, "2882341274", 1111111),
            Err(TokenError::WrongUser)
        );
    }
    // An RTC-only AccessToken2 is authentic but grants no RTM login.
    assert_eq!(
        verify(OFFICIAL_007_RTC, APP_ID, APP_CERT, uid, 1111111),
        Err(TokenError::NoPrivilege)
    );
}

#[test]
fn official_006_vectors_check_signature_scheme() {
    // Channel name in the user slot, empty uid: same layout as an RTM token,
    // so the signature verifies but kJoinChannel is not kRtmLogin.
    assert_eq!(
        verify(OFFICIAL_006_RTC_UID0, APP_ID, APP_CERT, OFFICIAL_CHANNEL, 0),
        Err(TokenError::NoPrivilege)
    );
    assert_eq!(
        verify(
            OFFICIAL_006_RTC_UID0,
            APP_ID,
            "5CFd2fd1755d40ecb72977518be15d3c",
            OFFICIAL_CHANNEL,
            0
        ),
        Err(TokenError::BadSignature)
    );
    // With a non-empty uid the token is not an RTM token for this user.
    assert_eq!(
        verify(OFFICIAL_006_RTC_UID, APP_ID, APP_CERT, OFFICIAL_CHANNEL, 0),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn python_007_vectors_verify_and_build_the_same_signed_payload() {
    for &(app_id, cert, user, issue, expire, salt, token) in PY_V007 {
        let ours = build_v007(app_id, cert, user, issue, expire, salt);
        assert_eq!(
            payload_007(&ours),
            payload_007(token),
            "build_v007 for {user:?}: same signature and signing info"
        );
        let expires_at = expected_007_expiry(issue, expire);
        let res = verify(token, app_id, cert, user, u64::from(issue));
        if expire == 0 {
            assert_eq!(res, Err(TokenError::Expired));
        } else {
            assert_eq!(
                res,
                Ok(VerifiedToken {
                    version: TokenVersion::V007,
                    expires_at
                }),
                "verify for {user:?}"
            );
        }
    }
}

#[test]
fn python_006_vectors_verify_and_build_identically() {
    for &(app_id, cert, user, salt, ts, priv_ts, token) in PY_V006 {
        assert_eq!(
            build_v006(app_id, cert, user, salt, ts, priv_ts),
            token,
            "build_v006 for {user:?}"
        );
        assert_eq!(
            verify(token, app_id, cert, user, u64::from(ts) - 86400),
            Ok(VerifiedToken {
                version: TokenVersion::V006,
                expires_at: u64::from(ts)
            }),
            "verify for {user:?}"
        );
    }
}

#[test]
fn builder_rejects_non_uuid_credentials_like_upstream() {
    assert_eq!(build_v007("short", APP_CERT, "u", 1, 60, 1), "");
    assert_eq!(
        build_v007(APP_ID, "zz0CA35de60c44645bbae8a215061b33", "u", 1, 60, 1),
        ""
    );
    let huge_user = "x".repeat(70_000);
    assert_eq!(build_v007(APP_ID, APP_CERT, &huge_user, 1, 60, 1), "");
}

#[test]
fn long_user_builds_but_exceeds_the_verification_bound() {
    // A 20 000-byte user id builds a token whose payload is beyond what verify inflates.
    let user = "y".repeat(20_000);
    let token = build_v007(APP_ID, APP_CERT, &user, 1000, 60, 5);
    assert!(token.starts_with("007"));
    let payload = v007::inflate_for_tests(&B64.decode(&token[3..]).unwrap());
    // The payload exceeds the 4 KiB verification bound, so verify refuses it.
    assert!(payload.is_err());
}

// ---------------------------------------------------------------------------
// Check order and individual failures
// ---------------------------------------------------------------------------

#[test]
fn wrong_user_app_id_and_certificate() {
    let t7 = build_v007(APP_ID, APP_CERT, "alice", 1000, 600, 9);
    let t6 = build_v006(APP_ID, APP_CERT, "alice", 9, 1000 + 86400, 0);
    for t in [&t7, &t6] {
        assert!(verify(t, APP_ID, APP_CERT, "alice", 1000).is_ok());
        // 006 carries only a crc32 of the user: when the signature fails and
        // the crc names another user, 006 reports WrongUser (see module docs).
        let forged_for_bob = if t.starts_with("007") {
            TokenError::BadSignature
        } else {
            TokenError::WrongUser
        };
        // The check order is app id, then signature, then user, then expiry.
        let cases = [
            (APP_ID, APP_CERT, "bob", 1000, TokenError::WrongUser),
            (APP_ID, APP_CERT, "alice ", 1000, TokenError::WrongUser),
            (APP_ID2, APP_CERT, "alice", 1000, TokenError::WrongAppId),
            (APP_ID, APP_CERT2, "alice", 1000, TokenError::BadSignature),
            (APP_ID2, APP_CERT2, "bob", u64::MAX, TokenError::WrongAppId),
            (APP_ID, APP_CERT2, "bob", u64::MAX, forged_for_bob),
            (APP_ID, APP_CERT, "bob", u64::MAX, TokenError::WrongUser),
            (APP_ID, APP_CERT, "alice", u64::MAX, TokenError::Expired),
        ];
        for (app_id, cert, user, now, want) in cases {
            assert_eq!(
                verify(t, app_id, cert, user, now),
                Err(want),
                "{app_id} {cert} {user:?} at {now}"
            );
        }
    }
}

#[test]
fn expiry_boundary_007() {
    let t = build_v007(APP_ID, APP_CERT, "alice", 1_700_000_000, 3600, 1);
    let ok = Ok(VerifiedToken {
        version: TokenVersion::V007,
        expires_at: 1_700_003_600,
    });
    assert_eq!(alice_at(&t, 0), ok);
    assert_eq!(alice_at(&t, 1_700_003_599), ok);
    assert_eq!(alice_at(&t, 1_700_003_600), Err(TokenError::Expired));
    assert_eq!(alice_at(&t, 1_700_003_601), Err(TokenError::Expired));
}

#[test]
fn expiry_boundary_006() {
    // ts = issue + 24 h is the expiry moment; the privilege value is ignored.
    let ts = 1_700_086_400;
    for privilege_ts in [0, 1, ts - 5, ts + 5, u32::MAX] {
        let t = build_v006(APP_ID, APP_CERT, "alice", 77, ts, privilege_ts);
        let ok = Ok(VerifiedToken {
            version: TokenVersion::V006,
            expires_at: u64::from(ts),
        });
        assert_eq!(alice_at(&t, u64::from(ts) - 1), ok);
        assert_eq!(alice_at(&t, u64::from(ts)), Err(TokenError::Expired));
    }
}

#[test]
fn validity_is_capped_at_24h() {
    let issue = 1_700_000_000u32;
    for expire in [86_400u32, 86_401, 100_000, u32::MAX] {
        let t = build_v007(APP_ID, APP_CERT, "alice", issue, expire, 3);
        let at = u64::from(issue) + 86_400;
        assert_eq!(
            alice_at(&t, at - 1),
            Ok(VerifiedToken {
                version: TokenVersion::V007,
                expires_at: at
            })
        );
        assert_eq!(alice_at(&t, at), Err(TokenError::Expired));
    }
    // issue_ts near u32::MAX must not overflow.
    let t = build_v007(APP_ID, APP_CERT, "alice", u32::MAX, u32::MAX, 3);
    assert_eq!(
        alice_at(&t, 0).map(|v| v.expires_at),
        Ok(u64::from(u32::MAX) + 86_400)
    );
}

#[test]
fn zero_expire_is_already_expired() {
    let t = build_v007(APP_ID, APP_CERT, "alice", 1_700_000_000, 0, 3);
    for now in [0, 1_699_999_999, 1_700_000_000, u64::MAX] {
        assert_eq!(alice_at(&t, now), Err(TokenError::Expired));
    }
    // A zero privilege expire also expires the login.
    let t = signed(1, &rtm_service("alice", &[(1, 0)]));
    assert_eq!(alice_at(&t, 0), Err(TokenError::Expired));
}

#[test]
fn privilege_expire_shorter_than_token_expire_wins() {
    let t = signed(1, &rtm_service("alice", &[(1, 60)]));
    assert_eq!(alice_at(&t, 1000).map(|v| v.expires_at), Ok(1060));
    let t = craft_v007(
        APP_ID,
        APP_CERT,
        1000,
        60,
        1,
        1,
        &rtm_service("alice", &[(1, 600)]),
    );
    assert_eq!(alice_at(&t, 1000).map(|v| v.expires_at), Ok(1060));
}

#[test]
fn rtm_service_privileges() {
    // RTM service without the login privilege.
    let t = signed(1, &rtm_service("alice", &[(2, 600)]));
    assert_eq!(alice_at(&t, 1000), Err(TokenError::NoPrivilege));
    let t = signed(1, &rtm_service("alice", &[]));
    assert_eq!(alice_at(&t, 1000), Err(TokenError::NoPrivilege));
    // User check comes before the privilege check.
    assert_eq!(
        verify(&t, APP_ID, APP_CERT, "bob", 1000),
        Err(TokenError::WrongUser)
    );
    // Extra privileges are fine.
    let t = signed(1, &rtm_service("alice", &[(1, 600), (9, 5)]));
    assert!(alice_at(&t, 1000).is_ok());
    // No RTM service: Chat service for the same user grants nothing.
    let chat = service(5, &[(1, 600)], &string_field(&["alice"]));
    let t = signed(1, &chat);
    assert_eq!(alice_at(&t, 1000), Err(TokenError::NoPrivilege));
    // Zero services.
    let t = signed(0, &[]);
    assert_eq!(alice_at(&t, 1000), Err(TokenError::NoPrivilege));
    // Duplicate privilege ids are malformed.
    let t = signed(1, &rtm_service("alice", &[(1, 600), (1, 5)]));
    assert_eq!(
        alice_at(&t, 1000),
        Err(TokenError::Malformed("duplicate privilege id"))
    );
}

#[test]
fn all_known_service_types_are_skipped() {
    let mut rtm2_fields = string_field(&["alice"]);
    put_u16(&mut rtm2_fields, 2); // two resource types
    put_u16(&mut rtm2_fields, 0); // kMessageChannels
    put_u16(&mut rtm2_fields, 1); // one permission type
    put_u16(&mut rtm2_fields, 1); // kWrite
    put_u16(&mut rtm2_fields, 2);
    rtm2_fields.extend(string_field(&["ch1", "ch2"]));
    put_u16(&mut rtm2_fields, 4); // kUsers
    put_u16(&mut rtm2_fields, 0);
    let mut apaas = string_field(&["room", "user"]);
    apaas.extend_from_slice(&(-1i16).to_le_bytes());

    let mut services = Vec::new();
    services.extend(service(
        1,
        &[(1, 600), (2, 600)],
        &string_field(&["chan", "42"]),
    ));
    services.extend(rtm_service("alice", &[(1, 600)]));
    services.extend(service(3, &[(1, 600)], &string_field(&["chan", "acct"])));
    services.extend(service(4, &[(1, 600)], &[]));
    services.extend(service(5, &[(1, 600)], &string_field(&["alice"])));
    services.extend(service(6, &[(2, 600)], &string_field(&["chan", ""])));
    services.extend(service(7, &[(1, 600)], &apaas));
    services.extend(service(8, &[(1, 600)], &rtm2_fields));
    let t = signed(8, &services);
    assert_eq!(alice_at(&t, 1000).map(|v| v.expires_at), Ok(1600));

    // RTM2 alone (type 8) does not grant RTM 1.x login.
    let t = signed(1, &service(8, &[(1, 600)], &rtm2_fields));
    assert_eq!(alice_at(&t, 1000), Err(TokenError::NoPrivilege));
}

#[test]
fn unknown_service_types() {
    let unknown = service(42, &[(1, 600)], b"opaque future fields");
    // Unknown before RTM: refused.
    let mut s = unknown.clone();
    s.extend(rtm_service("alice", &[(1, 600)]));
    let t = signed(2, &s);
    assert_eq!(
        alice_at(&t, 1000),
        Err(TokenError::Malformed("unknown 007 service type"))
    );
    // Unknown after RTM (builders sort by type): parsing stops, still signed.
    let mut s = rtm_service("alice", &[(1, 600)]);
    s.extend(unknown);
    let t = signed(2, &s);
    assert!(alice_at(&t, 1000).is_ok());
    assert_eq!(
        verify(&t, APP_ID, APP_CERT2, "alice", 1000),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn structural_errors_007() {
    let rtm = rtm_service("alice", &[(1, 600)]);
    // Duplicate RTM service.
    let mut s = rtm.clone();
    s.extend(rtm_service("bob", &[(1, 600)]));
    let t = signed(2, &s);
    assert_eq!(
        alice_at(&t, 1000),
        Err(TokenError::Malformed("duplicate RTM service"))
    );
    // Trailing bytes after the declared services.
    let mut s = rtm.clone();
    s.push(0);
    let t = signed(1, &s);
    assert!(matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))));
    // More services declared than present.
    let t = signed(2, &rtm);
    assert!(matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))));
    // Truncated payload at every length.
    let good = signed(1, &rtm);
    let payload = payload_007(&good);
    for cut in 0..payload.len() {
        let t = reencode_007(&payload[..cut]);
        assert!(
            matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))),
            "cut at {cut}"
        );
    }
    // Trailing bytes after the zlib stream.
    let mut z = B64.decode(&good[3..]).unwrap();
    z.push(0);
    let t = format!("007{}", B64.encode(&z));
    assert_eq!(
        alice_at(&t, 1000),
        Err(TokenError::Malformed("trailing bytes after zlib stream"))
    );
    // Truncated zlib stream / broken adler32.
    let z = B64.decode(&good[3..]).unwrap();
    for t in [
        format!("007{}", B64.encode(&z[..z.len() - 1])),
        format!("007{}", B64.encode(&z[..z.len() / 2])),
        format!(
            "007{}",
            B64.encode([&z[..z.len() - 1], &[z[z.len() - 1] ^ 1]].concat())
        ),
    ] {
        assert!(matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))));
    }
}

#[test]
fn zip_bomb_is_bounded() {
    // ~1 MiB of zeros compresses to ~1 KiB: under the size limit, but the
    // inflater stops at 4 KiB.
    let bomb = {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    let t = format!("007{}", B64.encode(&bomb));
    assert!(t.len() <= MAX_TOKEN_LEN, "bomb token is {} bytes", t.len());
    assert_eq!(
        alice_at(&t, 0),
        Err(TokenError::Malformed("007 payload too large"))
    );
}

// ---------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------

fn assert_tamper_rejected(res: Result<VerifiedToken, TokenError>, what: &str) {
    assert!(
        matches!(
            res,
            Err(TokenError::BadSignature) | Err(TokenError::Malformed(_))
        ),
        "{what}: {res:?}"
    );
}

#[test]
fn flipping_any_body_char_is_rejected() {
    let t7 = build_v007(APP_ID, APP_CERT, "alice", 1000, 600, 9);
    let t6 = build_v006(APP_ID, APP_CERT, "alice", 9, 1000 + 86400, 0);
    // 007: the whole body after "007"; 006: the base64 content after the app id.
    for (t, start) in [(&t7, 3), (&t6, 35)] {
        for i in start..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = other_b64_char(b[i]);
            let tampered = String::from_utf8(b).unwrap();
            let res = verify(&tampered, APP_ID, APP_CERT, "alice", 1000);
            if res.is_ok() && t.starts_with("007") {
                // Only the padding bits after the deflate end-of-block code
                // changed: the signed payload is bit-for-bit the original.
                // (Tokens cannot be required to be canonical zlib: Agora's Go
                // builder uses a different compressor.)
                assert_eq!(payload_007(&tampered), payload_007(t), "flip at {i}");
                continue;
            }
            if res == Err(TokenError::WrongUser) && t.starts_with("006") {
                // One base64 char spans two bytes: this flip hit both the last
                // signature byte and the crc32(user) field, so the token now
                // names another user and cannot be verified for "alice".
                let orig = B64.decode(&t[35..]).unwrap();
                let now = B64.decode(&tampered[35..]).unwrap();
                assert_ne!(orig[34..38], now[34..38], "flip at {i}");
                continue;
            }
            assert_tamper_rejected(res, &format!("{} flip at {i}", &t[..3]));
        }
    }
}

#[test]
fn flipping_a_signature_byte_is_bad_signature() {
    // 007: inflate, flip each signature byte, re-deflate.
    let t7 = build_v007(APP_ID, APP_CERT, "alice", 1000, 600, 9);
    let payload = payload_007(&t7);
    assert_eq!(&payload[..2], &[32, 0]);
    for i in 2..34 {
        let mut p = payload.clone();
        p[i] ^= 0x01;
        assert_eq!(
            verify(&reencode_007(&p), APP_ID, APP_CERT, "alice", 1000),
            Err(TokenError::BadSignature)
        );
    }
    // Any byte of the signed info too (all fields are signed).
    for i in 34..payload.len() {
        let mut p = payload.clone();
        p[i] ^= 0x80;
        let res = verify(&reencode_007(&p), APP_ID, APP_CERT, "alice", 1000);
        assert!(res.is_err(), "flip at {i} accepted");
        assert_ne!(res, Err(TokenError::Expired));
        assert_ne!(res, Err(TokenError::NoPrivilege));
    }

    // 006: base64-decode the content, flip each signature byte.
    let t6 = build_v006(APP_ID, APP_CERT, "alice", 9, 1000 + 86400, 0);
    let content = B64.decode(&t6[35..]).unwrap();
    assert_eq!(&content[..2], &[32, 0]);
    for i in 2..34 {
        let mut c = content.clone();
        c[i] ^= 0x01;
        let tampered = format!("006{APP_ID}{}", B64.encode(&c));
        assert_eq!(
            verify(&tampered, APP_ID, APP_CERT, "alice", 1000),
            Err(TokenError::BadSignature)
        );
    }
    // Altered crc fields (outside the signed data) are caught as well.
    for i in 34..42 {
        let mut c = content.clone();
        c[i] ^= 0x01;
        let tampered = format!("006{APP_ID}{}", B64.encode(&c));
        assert_eq!(
            verify(&tampered, APP_ID, APP_CERT, "alice", 1000),
            Err(TokenError::BadSignature),
            "crc byte {i}"
        );
    }
}

#[test]
fn structural_errors_006() {
    let t6 = build_v006(APP_ID, APP_CERT, "alice", 9, 1000 + 86400, 0);
    let content = B64.decode(&t6[35..]).unwrap();
    for cut in 0..content.len() {
        let t = format!("006{APP_ID}{}", B64.encode(&content[..cut]));
        assert!(
            matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))),
            "cut at {cut}"
        );
    }
    let t = format!("006{APP_ID}{}", B64.encode([&content[..], &[0]].concat()));
    assert!(matches!(alice_at(&t, 1000), Err(TokenError::Malformed(_))));
    // App id shorter than 32 bytes.
    assert!(matches!(
        verify("006970CA35de60c4", APP_ID, APP_CERT, "alice", 1000),
        Err(TokenError::Malformed(_))
    ));
    // A 006 token for another user (crc names someone else) → WrongUser.
    let bob = build_v006(APP_ID, APP_CERT, "bob", 9, 1000 + 86400, 0);
    assert_eq!(
        verify(&bob, APP_ID, APP_CERT, "alice", 1000),
        Err(TokenError::WrongUser)
    );
    // A token with only other privileges (e.g. kJoinChannel) → NoPrivilege is
    // covered by `official_006_vectors_check_signature_scheme`.
}

// ---------------------------------------------------------------------------
// Garbage never panics
// ---------------------------------------------------------------------------

#[test]
fn garbage_inputs() {
    let huge = format!("007{}", "A".repeat(100_000));
    let cases: Vec<(&str, TokenError)> = vec![
        ("", TokenError::UnknownVersion),
        ("0", TokenError::UnknownVersion),
        ("00", TokenError::UnknownVersion),
        ("005abc", TokenError::UnknownVersion),
        ("008", TokenError::UnknownVersion),
        ("\u{fc}07", TokenError::UnknownVersion),
        ("007", TokenError::Malformed("truncated zlib stream")),
        (
            "007!!!",
            TokenError::Malformed("007 body is not valid base64"),
        ),
        (
            "006",
            TokenError::Malformed("006 token shorter than its app id"),
        ),
        (
            "006!!!",
            TokenError::Malformed("006 token shorter than its app id"),
        ),
        (&huge, TokenError::Malformed("token longer than 2048 bytes")),
    ];
    for (t, want) in cases {
        assert_eq!(
            verify(t, APP_ID, APP_CERT, "alice", 0),
            Err(want),
            "{t:.20?}"
        );
    }
    // Whitespace / URL-safe alphabet / missing padding are not accepted.
    let t7 = build_v007(APP_ID, APP_CERT, "alice", 1000, 600, 9);
    for bad in [
        format!("{t7}\n"),
        format!("{} {}", &t7[..20], &t7[20..]),
        t7.replace('+', "-").replace('/', "_"),
        t7.trim_end_matches('=').to_string(),
    ] {
        if bad != t7 {
            assert!(matches!(
                verify(&bad, APP_ID, APP_CERT, "alice", 1000),
                Err(TokenError::Malformed(_))
            ));
        }
    }
    // Random bytes behind valid prefixes.
    let mut x: u32 = 0x1234_5678;
    for len in 0..400usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let b64 = B64.encode(&bytes);
        let _ = verify(&format!("007{b64}"), APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("006{APP_ID}{b64}"), APP_ID, APP_CERT, "alice", 0);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = verify(&format!("007{lossy}"), APP_ID, APP_CERT, "alice", 0);
    }
}

fn arb_b64_body() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(B64_ALPHABET.to_vec()), 0..300)
        .prop_map(|v| String::from_utf8(v).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verify_never_panics_on_strings(s in ".{0,400}") {
        let _ = verify(&s, APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("007{s}"), APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("006{s}"), APP_ID, APP_CERT, "alice", 0);
    }

    #[test]
    fn verify_never_panics_on_base64_bodies(bytes in prop::collection::vec(any::<u8>(), 0..600), body in arb_b64_body()) {
        let b64 = B64.encode(&bytes);
        let _ = verify(&format!("007{b64}"), APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("006{APP_ID}{b64}"), APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("007{body}"), APP_ID, APP_CERT, "alice", 0);
        let _ = verify(&format!("006{APP_ID}{body}"), APP_ID, APP_CERT, "alice", 0);
    }

    #[test]
    fn verify_never_panics_on_compressed_garbage(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        // Past base64 and zlib, straight into the packer.
        let t = reencode_007(&bytes);
        prop_assert!(alice_at(&t, 0).is_err());
        // Same, but with a plausible prefix (signature + app id).
        let mut p = vec![32, 0];
        p.extend_from_slice(&[7u8; 32]);
        put_string(&mut p, APP_ID.as_bytes()).unwrap();
        p.extend_from_slice(&bytes);
        let _ = verify(&reencode_007(&p), APP_ID, APP_CERT, "alice", 0);
    }

    #[test]
    fn build_verify_roundtrip(
        user in "\\PC{0,64}",
        issue in any::<u32>(),
        expire in 1u32..200_000,
        salt in any::<u32>(),
        now_off in 0u64..86_400,
    ) {
        let t = build_v007(APP_ID, APP_CERT, &user, issue, expire, salt);
        let at = expected_007_expiry(issue, expire);
        let now = (u64::from(issue) + now_off).min(at - 1);
        prop_assert_eq!(
            verify(&t, APP_ID, APP_CERT, &user, now),
            Ok(VerifiedToken { version: TokenVersion::V007, expires_at: at })
        );
        prop_assert_eq!(verify(&t, APP_ID, APP_CERT, &user, at), Err(TokenError::Expired));

        let t6 = build_v006(APP_ID, APP_CERT, &user, salt, issue, 0);
        let res6 = verify(&t6, APP_ID, APP_CERT, &user, 0);
        if issue == 0 {
            prop_assert_eq!(res6, Err(TokenError::Expired));
        } else {
            prop_assert_eq!(res6, Ok(VerifiedToken { version: TokenVersion::V006, expires_at: u64::from(issue) }));
        }
    }
}
