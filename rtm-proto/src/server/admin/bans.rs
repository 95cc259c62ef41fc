//! Ban rules (Agora's kicking rules): a user, a source address, or a user in one channel,
//! banned for some minutes.
//!
//! A rule is made by `POST bans` and exists once its record has committed (it is durable
//! policy: a rule the store could not keep is refused 503 `not_stored` and never applied).
//! Then it takes effect at once — a user ban kicks the user's session (`kicked`
//! `banned_by_server`, close 4005), an address ban every session whose current connection
//! comes from the address, a channel ban takes the user out of the channel (a `removed`
//! push, `member_left` for the others) — and, while it lasts, refuses logins and resumes
//! (LoginError REJECTED) or joins of the channel (JoinChannelError REJECTED). It ends by a
//! timer at its expiry, or by `DELETE bans/{id}`; either deletes its record. A restart
//! restores the rules still in force and deletes the records of expired ones.
//!
//! Bounded in count and bytes ([`super::super::AdminLimits::ban_rules`], `ban_bytes`): a
//! new rule past either is refused 503 `full`. Restored rules are all kept, even past a
//! bound lowered since; new ones are refused until enough have ended.

use core::net::IpAddr;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ids::{ChannelId, UserId};
use crate::wire::{close, KickReason, Push, RemovedReason};

use super::answer::{Answer, ApiError};
use super::pending::{PendingCall, Waiting};
use super::{AdminCallId, Server};
use crate::server::storage::{Record, RecordId, RecordKind};
use crate::server::timer::ServerTimer;
use crate::server::ConnState;

/// Longest ban, in minutes (30 days).
pub(crate) const MAX_MINUTES: u64 = 43_200;
/// Longest reason, in bytes.
pub(crate) const MAX_REASON_BYTES: usize = 256;
/// Bytes counted per rule beside its ids and reason.
const RULE_OVERHEAD: usize = 160;

/// Whom a rule bans.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum BanScope {
    User(UserId),
    /// A source address, canonical (an IPv4-mapped IPv6 address is its IPv4 address).
    Ip(IpAddr),
    /// A user in one channel.
    Channel {
        user: UserId,
        channel: ChannelId,
    },
}

impl BanScope {
    /// The scope's name in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            BanScope::User(_) => "user",
            BanScope::Ip(_) => "ip",
            BanScope::Channel { .. } => "channel",
        }
    }
}

/// `ip` as rules compare it: an IPv4-mapped IPv6 address is its IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One rule. Its id is its record's id (ascending, never reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BanRule {
    pub id: u64,
    pub scope: BanScope,
    pub minutes: u32,
    pub reason: Option<String>,
    pub created_ts: u64,
    pub expires_ts: u64,
    /// In force: its record has committed. Until then it is counted, not applied.
    pub committed: bool,
    /// The `POST bans` call waiting for the commit.
    pub call: Option<AdminCallId>,
}

impl BanRule {
    fn weight(&self) -> usize {
        let ids = match &self.scope {
            BanScope::User(u) => u.as_str().len(),
            BanScope::Ip(_) => 0,
            BanScope::Channel { user, channel } => user.as_str().len() + channel.as_str().len(),
        };
        RULE_OVERHEAD + ids + self.reason.as_ref().map_or(0, String::len)
    }

    /// The rule as the REST API shows it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "minutes": self.minutes,
            "created_ts": self.created_ts,
            "expires_ts": self.expires_ts,
        });
        match &self.scope {
            BanScope::User(u) => v["user_id"] = u.as_str().into(),
            BanScope::Ip(ip) => v["ip"] = ip.to_string().into(),
            BanScope::Channel { user, channel } => {
                v["user_id"] = user.as_str().into();
                v["channel_name"] = channel.as_str().into();
            }
        }
        if let Some(r) = &self.reason {
            v["reason"] = r.as_str().into();
        }
        v
    }
}

/// Every rule, made or in force, and an index by scope.
#[derive(Debug, Default)]
pub(crate) struct Bans {
    rules: BTreeMap<u64, BanRule>,
    by_scope: BTreeMap<BanScope, BTreeSet<u64>>,
    bytes: usize,
}

impl Bans {
    /// Rules in force.
    pub fn in_force(&self) -> usize {
        self.rules.values().filter(|r| r.committed).count()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `rule` fits under `max_rules` and `max_bytes`.
    fn has_room(&self, rule: &BanRule, max_rules: usize, max_bytes: usize) -> bool {
        self.rules.len() < max_rules && self.bytes + rule.weight() <= max_bytes
    }

    fn insert(&mut self, rule: BanRule) {
        self.bytes += rule.weight();
        self.by_scope
            .entry(rule.scope.clone())
            .or_default()
            .insert(rule.id);
        self.rules.insert(rule.id, rule);
    }

    fn remove(&mut self, id: u64) -> Option<BanRule> {
        let rule = self.rules.remove(&id)?;
        self.bytes -= rule.weight();
        if let Some(ids) = self.by_scope.get_mut(&rule.scope) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_scope.remove(&rule.scope);
            }
        }
        Some(rule)
    }

    /// The latest expiry of the rules in force on `scope` at `now_ms`, if any.
    fn until(&self, scope: &BanScope, now_ms: u64) -> Option<u64> {
        self.by_scope
            .get(scope)?
            .iter()
            .filter_map(|id| self.rules.get(id))
            .filter(|r| r.committed && r.expires_ts > now_ms)
            .map(|r| r.expires_ts)
            .max()
    }

    /// Until when a login of `user` from `source` is refused, if it is.
    pub fn login_refused(&self, user: &UserId, source: Option<IpAddr>, now_ms: u64) -> Option<u64> {
        let by_user = self.until(&BanScope::User(user.clone()), now_ms);
        let by_ip = source.and_then(|ip| self.until(&BanScope::Ip(canonical(ip)), now_ms));
        by_user.max(by_ip)
    }

    /// Until when a join of `channel` by `user` is refused, if it is.
    pub fn join_refused(&self, user: &UserId, channel: &ChannelId, now_ms: u64) -> Option<u64> {
        let scope = BanScope::Channel {
            user: user.clone(),
            channel: channel.clone(),
        };
        self.until(&scope, now_ms)
    }
}

/// A `POST bans` body.
#[derive(Debug, Deserialize)]
struct BanRequest {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    channel_name: Option<String>,
    minutes: u64,
    #[serde(default)]
    reason: Option<String>,
}

/// A ban record's body.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BanBody {
    v: u32,
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel_name: Option<ChannelId>,
    minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    created_ts: u64,
    expires_ts: u64,
}

const BODY_VERSION: u32 = 1;

/// The record of `rule`.
pub(crate) fn ban_record(rule: &BanRule) -> Record {
    let (user_id, ip, channel_name) = match &rule.scope {
        BanScope::User(u) => (Some(u.clone()), None, None),
        BanScope::Ip(ip) => (None, Some(*ip), None),
        BanScope::Channel { user, channel } => (Some(user.clone()), None, Some(channel.clone())),
    };
    let owner = match (&user_id, ip) {
        (Some(u), _) => u.as_str().to_string(),
        (None, Some(ip)) => ip.to_string(),
        (None, None) => String::new(),
    };
    let body = BanBody {
        v: BODY_VERSION,
        id: rule.id,
        user_id,
        ip,
        channel_name,
        minutes: rule.minutes,
        reason: rule.reason.clone(),
        created_ts: rule.created_ts,
        expires_ts: rule.expires_ts,
    };
    Record {
        id: RecordId(rule.id),
        kind: RecordKind::Ban,
        owner,
        created_ms: rule.created_ts,
        body: Bytes::from(serde_json::to_vec(&body).expect("a ban body always serializes")),
    }
}

/// The rule a ban record holds (in force); `None` if unreadable.
pub(crate) fn ban_of(record: &Record) -> Option<BanRule> {
    if record.kind != RecordKind::Ban {
        return None;
    }
    let b: BanBody = serde_json::from_slice(&record.body).ok()?;
    if b.v != BODY_VERSION || b.id != record.id.0 {
        return None;
    }
    let scope = match (b.user_id, b.ip, b.channel_name) {
        (Some(u), None, None) => BanScope::User(u),
        (None, Some(ip), None) => BanScope::Ip(canonical(ip)),
        (Some(user), None, Some(channel)) => BanScope::Channel { user, channel },
        _ => return None,
    };
    let reason = b.reason.filter(|r| r.len() <= MAX_REASON_BYTES);
    Some(BanRule {
        id: b.id,
        scope,
        minutes: b.minutes,
        reason,
        created_ts: b.created_ts,
        expires_ts: b.expires_ts,
        committed: true,
        call: None,
    })
}

/// The scope a request asks for, or why it is refused.
fn scope_of(req: &BanRequest) -> Result<BanScope, ApiError> {
    let user = |s: &String| UserId::new(s.clone()).map_err(|_| ApiError::InvalidUserId(s.clone()));
    match (&req.user_id, &req.ip, &req.channel_name) {
        (Some(u), None, None) => Ok(BanScope::User(user(u)?)),
        (None, Some(ip), None) => {
            let ip: IpAddr = ip.trim().parse().map_err(|_| {
                ApiError::BadRequest(format!("ip {:?} is not an IPv4 or IPv6 address", ip))
            })?;
            Ok(BanScope::Ip(canonical(ip)))
        }
        (Some(u), None, Some(c)) => Ok(BanScope::Channel {
            user: user(u)?,
            channel: ChannelId::new(c.clone())
                .map_err(|_| ApiError::InvalidChannelName(c.clone()))?,
        }),
        _ => Err(ApiError::BadRequest(
            "a ban names user_id alone, ip alone, or user_id with channel_name".into(),
        )),
    }
}

impl Server {
    /// `POST bans`: makes the rule and writes its record; answered 201 once it commits.
    pub(super) fn admin_create_ban(
        &mut self,
        call: AdminCallId,
        request: u64,
        body: &[u8],
    ) -> Result<Option<Answer>, ApiError> {
        let req: BanRequest = super::parse_body(body)?;
        let scope = scope_of(&req)?;
        if !(1..=MAX_MINUTES).contains(&req.minutes) {
            return Err(ApiError::BadRequest(format!(
                "minutes must be from 1 to {MAX_MINUTES}, not {}",
                req.minutes
            )));
        }
        if req
            .reason
            .as_ref()
            .is_some_and(|r| r.len() > MAX_REASON_BYTES)
        {
            return Err(ApiError::BadRequest(format!(
                "reason is over {MAX_REASON_BYTES} bytes"
            )));
        }
        let limits = &self.config.admin;
        if !self.admin.pending.has_room(limits.pending_calls) {
            return Err(ApiError::Busy(super::TOO_MANY_WAITING));
        }
        let created_ts = self.unix_ms();
        let minutes = req.minutes as u32;
        let mut rule = BanRule {
            id: 0,
            scope,
            minutes,
            reason: req.reason,
            created_ts,
            expires_ts: created_ts + u64::from(minutes) * 60_000,
            committed: false,
            call: Some(call),
        };
        if !self
            .bans
            .has_room(&rule, limits.ban_rules, limits.ban_bytes)
        {
            return Err(ApiError::Full(
                "the server holds as many ban rules as it may; delete some first",
            ));
        }
        rule.id = self.durable.new_id().0;
        let record = ban_record(&rule);
        let id = rule.id;
        self.bans.insert(rule);
        let deadline = self.now.saturating_add(self.config.storage_write_timeout);
        self.durable
            .write_rule_or_media(record, deadline, &mut self.out, &mut self.timers);
        self.admin_wait(
            call,
            PendingCall {
                request,
                waiting: Waiting::BanWrite { ban: id },
            },
        );
        Ok(None)
    }

    /// `GET bans`: the rules in force, oldest first.
    pub(super) fn admin_list_bans(&self) -> Result<Answer, ApiError> {
        let now_ms = self.unix_ms();
        let bans: Vec<Value> = self
            .bans
            .rules
            .values()
            .filter(|r| r.committed && r.expires_ts > now_ms)
            .map(BanRule::to_json)
            .collect();
        Ok(Answer::ok(json!({ "bans": bans })))
    }

    /// `DELETE bans/{id}`.
    pub(super) fn admin_delete_ban(&mut self, id: &str) -> Result<Answer, ApiError> {
        let valid = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
        let parsed = id.parse::<u64>().ok().filter(|_| valid);
        let Some(n) = parsed else {
            return Err(ApiError::BadRequest(format!(
                "ban id {:?} is not a number",
                super::routes::shorten(id)
            )));
        };
        if !self.bans.rules.get(&n).is_some_and(|r| r.committed) {
            return Err(ApiError::NotFound(format!("no ban rule {n}")));
        }
        self.end_ban(n);
        Ok(Answer::ok(json!({})))
    }

    /// A ban's record committed: the rule is in force.
    pub(in crate::server) fn ban_committed(&mut self, id: u64) {
        let Some(rule) = self.bans.rules.get_mut(&id) else {
            return; // deleted meanwhile (its delete follows the write)
        };
        rule.committed = true;
        let rule = rule.clone();
        let now_ms = self.unix_ms();
        let left = rule.expires_ts.saturating_sub(now_ms);
        self.timers.schedule(
            self.now
                .saturating_add(core::time::Duration::from_millis(left)),
            ServerTimer::BanExpiry(id),
        );
        self.counters.ban_applied(rule.scope.label());
        self.enforce_ban(&rule);
        if let Some((call, request)) = self.take_ban_call(&rule) {
            let answer = Answer::with_status(201, json!({ "ban": rule.to_json() }));
            self.admin_answer(call, request, Ok(answer));
        }
    }

    /// A ban's record could not be written: the rule is dropped, its call answered 503.
    pub(in crate::server) fn ban_not_stored(&mut self, id: u64) {
        let Some(rule) = self.bans.remove(id) else {
            return;
        };
        if let Some((call, request)) = self.take_ban_call(&rule) {
            self.admin_answer(call, request, Err(ApiError::NotStored));
        }
    }

    /// The call waiting for `rule`'s write, taken to be answered, with its request id: none
    /// if it timed out (a later call may have the same id; it waits for something else).
    fn take_ban_call(&mut self, rule: &BanRule) -> Option<(AdminCallId, u64)> {
        let call = rule.call?;
        let ours = matches!(
            self.admin.pending.get(call),
            Some(PendingCall { waiting: Waiting::BanWrite { ban }, .. }) if *ban == rule.id
        );
        if !ours {
            return None;
        }
        let pending = self.admin.pending.take(call)?;
        Some((call, pending.request))
    }

    /// A rule's expiry timer.
    pub(in crate::server) fn on_ban_expiry(&mut self, id: u64) {
        let due = self
            .bans
            .rules
            .get(&id)
            .is_some_and(|r| r.committed && r.expires_ts <= self.unix_ms());
        if due {
            self.end_ban(id);
        }
    }

    /// Ends rule `id` and deletes its record.
    fn end_ban(&mut self, id: u64) {
        if self.bans.remove(id).is_some() {
            self.delete_record(Some(RecordId(id)));
        }
    }

    /// Puts a restored rule back in force (or deletes its record if it has expired);
    /// whether it was kept.
    pub(in crate::server) fn restore_ban(&mut self, rule: BanRule) -> bool {
        let now_ms = self.unix_ms();
        if rule.expires_ts <= now_ms {
            self.delete_record(Some(RecordId(rule.id)));
            return false;
        }
        let left = rule.expires_ts - now_ms;
        self.timers.schedule(
            self.now
                .saturating_add(core::time::Duration::from_millis(left)),
            ServerTimer::BanExpiry(rule.id),
        );
        self.bans.insert(rule);
        true
    }

    /// What a rule does when it comes in force: ends the sessions or the membership it bans.
    fn enforce_ban(&mut self, rule: &BanRule) {
        let text = format!("banned by the server until {} (unix ms)", rule.expires_ts);
        match &rule.scope {
            BanScope::User(user) => {
                if self.sessions.contains_key(user) {
                    self.kick(user, KickReason::BannedByServer, close::BANNED, &text);
                }
            }
            BanScope::Ip(ip) => {
                let users: BTreeSet<UserId> = self
                    .conns
                    .values()
                    .filter_map(|c| match c {
                        ConnState::Bound {
                            uid,
                            source: Some(s),
                            ..
                        } if canonical(*s) == *ip => Some(uid.clone()),
                        _ => None,
                    })
                    .collect();
                for user in users {
                    self.kick(&user, KickReason::BannedByServer, close::BANNED, &text);
                }
            }
            BanScope::Channel { user, channel } => {
                let member = self
                    .sessions
                    .get(user)
                    .is_some_and(|s| s.channels.contains_key(channel));
                if member {
                    self.remove_from_channel(user, channel, RemovedReason::BannedByServer);
                }
            }
        }
    }

    /// Takes `user` out of `channel` on the server's initiative: a `removed` push to it (in
    /// its stream, after the channel's messages it was sent), then the leave everyone else
    /// sees (`member_left`, the count, the event log).
    fn remove_from_channel(&mut self, user: &UserId, channel: &ChannelId, reason: RemovedReason) {
        if let Some(s) = self.sessions.get_mut(user) {
            s.channels.remove(channel);
            s.lagging.remove(channel);
            s.stale_counts.remove(channel);
        }
        let frame = Push::Removed {
            channel: channel.clone(),
            reason,
        }
        .encode();
        self.push_kept(user, frame);
        self.remove_member(channel, user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: u64, scope: BanScope) -> BanRule {
        BanRule {
            id,
            scope,
            minutes: 1,
            reason: Some("spam".into()),
            created_ts: 1_000,
            expires_ts: 61_000,
            committed: true,
            call: None,
        }
    }

    #[test]
    fn a_rule_reads_back_from_its_record() {
        let scopes = [
            BanScope::User(UserId::new("bob").expect("valid")),
            BanScope::Ip("10.0.0.1".parse().expect("ip")),
            BanScope::Channel {
                user: UserId::new("bob").expect("valid"),
                channel: ChannelId::new("lobby").expect("valid"),
            },
        ];
        for (i, scope) in scopes.into_iter().enumerate() {
            let r = rule(i as u64 + 1, scope);
            assert_eq!(ban_of(&ban_record(&r)), Some(r));
        }
        let mut garbled = ban_record(&rule(1, BanScope::User(UserId::new("a").expect("v"))));
        garbled.body = Bytes::from_static(b"{\"v\":1}");
        assert_eq!(ban_of(&garbled), None);
    }

    #[test]
    fn ipv4_mapped_addresses_match_their_ipv4_rule() {
        let mut bans = Bans::default();
        bans.insert(rule(1, BanScope::Ip("10.0.0.1".parse().expect("ip"))));
        let user = UserId::new("x").expect("valid");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(bans.login_refused(&user, Some(mapped), 0), Some(61_000));
        assert_eq!(bans.login_refused(&user, Some(mapped), 61_000), None);
        assert_eq!(bans.login_refused(&user, None, 0), None);
        assert!(bans.remove(1).is_some());
        assert_eq!(bans.bytes(), 0);
        assert!(bans.by_scope.is_empty());
    }
}
