//! What the server counts for monitoring: monotonic counters kept as things happen, and
//! gauges read off the tables at scrape time. A driver exports [`Server::metrics`] in its
//! monitoring format (the smol server: Prometheus text at `/metrics`); the names and help
//! texts are the core's, so every driver exports the same series.

use std::collections::BTreeMap;

use crate::errors::LoginError;

use super::Server;

/// Monotonic counters, bumped where things happen. Each labelled family is a map keyed by
/// `&'static str` labels the code names, so its size is bounded by the code, not by input.
#[derive(Debug, Default)]
pub(super) struct Counters {
    logins: BTreeMap<&'static str, u64>,
    messages: BTreeMap<(&'static str, &'static str), u64>,
    /// Channel messages pushed to members (one per member reached).
    pub fanout_deliveries: u64,
    rate_limited: BTreeMap<&'static str, u64>,
    bans_applied: BTreeMap<&'static str, u64>,
    rest_calls: BTreeMap<&'static str, u64>,
    kicks: BTreeMap<&'static str, u64>,
}

impl Counters {
    /// A login succeeded (`"ok"`, `"resumed"`) or was refused with `e`.
    pub fn login(&mut self, outcome: Result<bool, LoginError>) {
        let label = match outcome {
            Ok(false) => "ok",
            Ok(true) => "resumed",
            Err(e) => login_error_label(e),
        };
        *self.logins.entry(label).or_default() += 1;
    }

    /// A message of `kind` (`peer`, `channel`) reached `outcome` (`received`, `cached`,
    /// `unreachable`, `refused`).
    pub fn message(&mut self, kind: &'static str, outcome: &'static str) {
        *self.messages.entry((kind, outcome)).or_default() += 1;
    }

    /// A request of `kind` was refused for its rate.
    pub fn rate_limited(&mut self, kind: &'static str) {
        *self.rate_limited.entry(kind).or_default() += 1;
    }

    /// A ban rule of `scope` came in force.
    pub fn ban_applied(&mut self, scope: &'static str) {
        *self.bans_applied.entry(scope).or_default() += 1;
    }

    /// A REST call was answered with `status`.
    pub fn rest_call(&mut self, status: u16) {
        let class = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "other",
        };
        *self.rest_calls.entry(class).or_default() += 1;
    }

    /// The server ended a session with `kicked` `reason`.
    pub fn kick(&mut self, reason: &'static str) {
        *self.kicks.entry(reason).or_default() += 1;
    }
}

/// A login refusal's label (`"too_often"`).
fn login_error_label(e: LoginError) -> &'static str {
    match e {
        LoginError::Unknown => "unknown",
        LoginError::Rejected => "rejected",
        LoginError::InvalidArgument => "invalid_argument",
        LoginError::InvalidAppId => "invalid_app_id",
        LoginError::InvalidToken => "invalid_token",
        LoginError::TokenExpired => "token_expired",
        LoginError::NotAuthorized => "not_authorized",
        LoginError::AlreadyLogin => "already_login",
        LoginError::Timeout => "timeout",
        LoginError::TooOften => "too_often",
    }
}

/// A counter only goes up; a gauge is a current level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// One series at scrape time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSample {
    /// The metric's name without a prefix or a `_total` suffix (`logins`).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    /// Label pairs (`[("outcome", "ok")]`); series of one name share the label names.
    pub labels: Vec<(&'static str, &'static str)>,
    pub value: u64,
}

impl Server {
    /// Every series the core exports: the counters, then the gauges of [`Server::stats`]
    /// and of the operator's plane.
    pub fn metrics(&self) -> Vec<MetricSample> {
        let c = &self.counters;
        let mut out = Vec::new();
        let counter = |name, help, labels, value| MetricSample {
            name,
            help,
            kind: MetricKind::Counter,
            labels,
            value,
        };
        let family = |out: &mut Vec<MetricSample>,
                      name: &'static str,
                      help: &'static str,
                      label: &'static str,
                      map: &BTreeMap<&'static str, u64>| {
            for (l, v) in map {
                out.push(counter(name, help, vec![(label, *l)], *v));
            }
        };
        family(
            &mut out,
            "logins",
            "Logins by outcome",
            "outcome",
            &c.logins,
        );
        for ((kind, outcome), v) in &c.messages {
            out.push(counter(
                "messages",
                "Peer and channel messages by kind and outcome",
                vec![("kind", *kind), ("outcome", *outcome)],
                *v,
            ));
        }
        out.push(counter(
            "fanout_deliveries",
            "Channel messages pushed to members",
            Vec::new(),
            c.fanout_deliveries,
        ));
        family(
            &mut out,
            "rate_limited",
            "Requests refused for their rate, by kind",
            "kind",
            &c.rate_limited,
        );
        family(
            &mut out,
            "bans_applied",
            "Ban rules that came in force, by scope",
            "scope",
            &c.bans_applied,
        );
        family(
            &mut out,
            "rest_calls",
            "REST calls answered, by status class",
            "status",
            &c.rest_calls,
        );
        family(
            &mut out,
            "kicks",
            "Sessions ended by the server, by reason",
            "reason",
            &c.kicks,
        );

        let stats = self.stats();
        let gauge = |name, help, value: usize| MetricSample {
            name,
            help,
            kind: MetricKind::Gauge,
            labels: Vec::new(),
            value: value as u64,
        };
        let stream_bytes: usize = self.sessions.values().map(|s| s.stream.bytes()).sum();
        out.extend([
            gauge(
                "connections",
                "WebSocket connections the core knows",
                stats.connections,
            ),
            gauge(
                "sessions",
                "Sessions, attached or reconnecting",
                stats.sessions,
            ),
            gauge(
                "stream_bytes",
                "Encoded bytes of pushes not yet acknowledged, over all sessions",
                stream_bytes,
            ),
            gauge(
                "offline_messages",
                "Offline messages kept",
                stats.offline_messages,
            ),
            gauge(
                "offline_bytes",
                "Bytes the offline messages count",
                stats.offline_bytes,
            ),
            gauge(
                "subscriptions",
                "Presence subscriptions",
                stats.subscriptions,
            ),
            gauge("channels", "Channels held", stats.channels),
            gauge("invitations", "Invitation records", stats.invitations),
            gauge(
                "pending_writes",
                "Record writes not yet committed",
                stats.pending_writes,
            ),
            gauge("bans", "Ban rules in force", self.bans.in_force()),
            gauge(
                "ban_bytes",
                "Bytes the ban rules count (in force or being written)",
                self.bans.bytes(),
            ),
            gauge(
                "user_events",
                "Events kept in the user event log",
                self.user_events.len(),
            ),
            gauge(
                "channel_events",
                "Events kept in the channel event log",
                self.channel_events.len(),
            ),
            gauge(
                "event_log_bytes",
                "Bytes both event logs count",
                self.user_events.bytes() + self.channel_events.bytes(),
            ),
            gauge(
                "client_log_bytes",
                "Bytes of uploaded client log lines kept",
                self.client_logs.bytes(),
            ),
            gauge(
                "client_log_users",
                "Users with uploaded client log lines kept",
                self.client_logs.users(),
            ),
            gauge(
                "admin_pending_calls",
                "REST calls waiting for an outcome",
                self.admin.pending(),
            ),
            gauge("media_files", "Uploaded media kept", stats.media_files),
            gauge(
                "media_bytes",
                "Bytes of media kept, with those reserved by uploads under way",
                stats.media_bytes as usize,
            ),
            gauge(
                "media_tickets",
                "Media tickets issued and not yet used",
                stats.media_tickets,
            ),
            gauge(
                "media_transfers",
                "Media uploads and downloads under way",
                stats.media_transfers,
            ),
        ]);
        out
    }
}
