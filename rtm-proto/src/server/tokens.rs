//! Tokens (§3): the login check, `renew_token`, and the AccessToken2 expiry of a session
//! (`token_will_expire` 30 s before, then `kicked` with TOKEN_EXPIRED).

use crate::errors::{LoginError, RenewTokenError};
use crate::ids::UserId;
use crate::token::{self, TokenError, TokenVersion};
use crate::wire::{KickReason, Notice, Reply};

use super::sessions::kick_close_code;
use super::{ConnId, Server, ServerTimer};

/// Seconds before AccessToken2 expiry at which `token_will_expire` is pushed (§3.5).
const TOKEN_WARNING_SECS: u64 = 30;

impl Server {
    /// Verifies a login token; returns the AccessToken2 expiry to enforce, if any.
    pub(super) fn check_token(
        &self,
        token: Option<&str>,
        uid: &UserId,
    ) -> Result<Option<u64>, LoginError> {
        let Some(cert) = self.config.app_certificate.as_deref() else {
            // App-id-only mode: any token is ignored (§3.1, decision on §14.16).
            return Ok(None);
        };
        let token = token.ok_or(LoginError::InvalidToken)?;
        let now_secs = self.wall.unix_secs(self.now);
        match token::verify(token, &self.config.app_id, cert, uid.as_str(), now_secs) {
            Ok(v) => Ok(match v.version {
                TokenVersion::V007 => Some(v.expires_at),
                TokenVersion::V006 => None,
            }),
            Err(TokenError::Expired) => Err(LoginError::TokenExpired),
            Err(TokenError::WrongAppId) => Err(LoginError::InvalidAppId),
            Err(_) => Err(LoginError::InvalidToken),
        }
    }

    pub(super) fn on_renew(
        &mut self,
        conn: ConnId,
        uid: &UserId,
        epoch: u64,
        id: u32,
        token: &str,
    ) {
        let Some(cert) = self.config.app_certificate.clone() else {
            self.reply(conn, Reply::Ok { id });
            return;
        };
        let now_secs = self.wall.unix_secs(self.now);
        match token::verify(token, &self.config.app_id, &cert, uid.as_str(), now_secs) {
            Ok(v) => {
                if self.sessions.get(uid).is_some_and(|s| s.epoch == epoch) {
                    let expiry = matches!(v.version, TokenVersion::V007).then_some(v.expires_at);
                    self.set_token_expiry(uid, expiry);
                }
                self.reply(conn, Reply::Ok { id });
            }
            Err(TokenError::Expired) => {
                let e = RenewTokenError::TokenExpired;
                self.reply_error(conn, id, e.code(), e.to_string());
            }
            Err(_) => {
                let e = RenewTokenError::InvalidToken;
                self.reply_error(conn, id, e.code(), e.to_string());
            }
        }
    }

    pub(super) fn set_token_expiry(&mut self, uid: &UserId, expires_at: Option<u64>) {
        let now_secs = self.wall.unix_secs(self.now);
        let Some(s) = self.sessions.get_mut(uid) else {
            return;
        };
        s.token_gen += 1;
        s.token_expires_at = expires_at;
        let (epoch, gen) = (s.epoch, s.token_gen);
        if let Some(at) = expires_at {
            if at.saturating_sub(TOKEN_WARNING_SECS) > now_secs {
                let warn = self.wall.at_unix_secs(at - TOKEN_WARNING_SECS);
                self.timers.schedule(
                    warn,
                    ServerTimer::TokenWarning {
                        uid: uid.clone(),
                        epoch,
                        gen,
                    },
                );
            }
            let expiry = self.wall.at_unix_secs(at);
            self.timers.schedule(
                expiry,
                ServerTimer::TokenExpiry {
                    uid: uid.clone(),
                    epoch,
                    gen,
                },
            );
        }
    }

    pub(super) fn on_token_warning(&mut self, uid: &UserId, epoch: u64, gen: u64) {
        if let Some(s) = self.sessions.get(uid) {
            if s.epoch == epoch && s.token_gen == gen {
                if let Some(conn) = s.conn {
                    self.notice(conn, Notice::TokenWillExpire {});
                }
            }
        }
    }

    pub(super) fn on_token_expiry(&mut self, uid: &UserId, epoch: u64, gen: u64) {
        // Only an attached session is ended here (§3.5 "at expiry while CONNECTED"). A detached
        // one is left to resume: its re-login presents the expired token, is refused with
        // TOKEN_EXPIRED, and the client waits for `renewToken` (§3.5 "while RECONNECTING").
        let attached = self
            .sessions
            .get(uid)
            .is_some_and(|s| s.epoch == epoch && s.token_gen == gen && s.conn.is_some());
        if attached {
            self.kick(
                uid,
                KickReason::TokenExpired,
                kick_close_code(KickReason::TokenExpired),
                "token expired",
            );
        }
    }
}
