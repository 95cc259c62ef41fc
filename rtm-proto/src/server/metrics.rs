//! What the server counts for monitoring: monotonic counters kept as things happen, and
//! gauges read off the tables at scrape time. A driver exports [`Server::metrics`] in its
//! monitoring format (the smol server: Prometheus text at `/metrics`); the names and help
//! texts are the core's, so every driver exports the same series.

use super::Server;

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
    /// Every series the core exports, counters first, then the gauges of [`Server::stats`].
    pub fn metrics(&self) -> Vec<MetricSample> {
        let stats = self.stats();
        let gauge = |name, help, value: usize| MetricSample {
            name,
            help,
            kind: MetricKind::Gauge,
            labels: Vec::new(),
            value: value as u64,
        };
        vec![
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
        ]
    }
}
