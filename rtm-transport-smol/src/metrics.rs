//! `/metrics`: the core's series ([`rtm_proto::Server::metrics`]) and the driver's own, in
//! the Prometheus text format (0.0.4), every name prefixed `rtm_`.
//!
//! The core's series are read at scrape time: the HTTP task asks the core task for a
//! [`Snapshot`] (through the same queue as REST calls, [`crate::admin`]) and encodes it with
//! a [`Collector`] of that scrape's own, so nothing about the core is kept here. The driver
//! counts what only it sees: TCP accepts, WebSocket upgrades, HTTP requests, slow-consumer
//! closes, the outbound queues (summed by the core task with the snapshot) and the storage
//! thread's work and commit latency ([`StorageMetrics`]).
//!
//! Every label value is one of a fixed few (`route`, `status` class): no user id, channel
//! name or address ever becomes a label, so the number of series is bounded.

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use rtm_proto::server::metrics::{MetricKind, MetricSample};

use crate::admin::Snapshot;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// What kind of request an HTTP request was, for the `route` label.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum RouteClass {
    WebSocket,
    Rest,
    Metrics,
    Health,
    Static,
    Media,
}

impl RouteClass {
    fn label(self) -> &'static str {
        match self {
            RouteClass::WebSocket => "websocket",
            RouteClass::Rest => "rest",
            RouteClass::Metrics => "metrics",
            RouteClass::Health => "health",
            RouteClass::Static => "static",
            RouteClass::Media => "media",
        }
    }
}

/// `1xx` … `5xx`.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

type RequestLabels = [(&'static str, &'static str); 2];

/// The driver's counters, shared by the accept loop, the HTTP tasks and the core task.
#[derive(Debug, Clone)]
pub(crate) struct DriverMetrics {
    accepted: Counter,
    upgrades: Counter,
    http_requests: Family<RequestLabels, Counter>,
    slow_consumers: Counter,
    media_uploads: Counter,
    media_downloads: Counter,
    media_bytes_received: Counter,
    media_bytes_sent: Counter,
    storage: StorageMetrics,
}

impl DriverMetrics {
    pub(crate) fn new(storage: StorageMetrics) -> Self {
        DriverMetrics {
            accepted: Counter::default(),
            upgrades: Counter::default(),
            http_requests: Family::default(),
            slow_consumers: Counter::default(),
            media_uploads: Counter::default(),
            media_downloads: Counter::default(),
            media_bytes_received: Counter::default(),
            media_bytes_sent: Counter::default(),
            storage,
        }
    }

    /// A TCP connection was accepted.
    pub(crate) fn accepted(&self) {
        self.accepted.inc();
    }

    /// A connection became a WebSocket.
    pub(crate) fn upgraded(&self) {
        self.upgrades.inc();
    }

    /// An HTTP request was answered with `status`.
    pub(crate) fn http_request(&self, route: RouteClass, status: u16) {
        self.http_requests
            .get_or_create(&[("route", route.label()), ("status", status_class(status))])
            .inc();
    }

    /// A connection was closed as a slow consumer.
    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.inc();
    }

    /// A media upload was stored (answered 201).
    pub(crate) fn media_upload(&self) {
        self.media_uploads.inc();
    }

    /// A media download began (its body is being sent).
    pub(crate) fn media_download(&self) {
        self.media_downloads.inc();
    }

    /// `n` bytes of a media upload's body were received.
    pub(crate) fn media_bytes_received(&self, n: usize) {
        self.media_bytes_received.inc_by(n as u64);
    }

    /// `n` bytes of a media file were handed to a download's connection.
    pub(crate) fn media_bytes_sent(&self, n: usize) {
        self.media_bytes_sent.inc_by(n as u64);
    }

    /// The Prometheus text of every series: the driver's now and the core's of `snapshot`.
    pub(crate) fn encode(&self, snapshot: Snapshot) -> String {
        let mut registry = Registry::with_prefix("rtm");
        registry.register(
            "accepted_connections",
            "TCP connections accepted on the server's port",
            self.accepted.clone(),
        );
        registry.register(
            "websocket_upgrades",
            "Connections upgraded to a WebSocket",
            self.upgrades.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by route (websocket, rest, metrics, health, static, media) and status class",
            self.http_requests.clone(),
        );
        registry.register(
            "slow_consumer_closes",
            "Connections closed because their outbound queue was full",
            self.slow_consumers.clone(),
        );
        registry.register(
            "media_uploads",
            "Media uploads stored (answered 201)",
            self.media_uploads.clone(),
        );
        registry.register(
            "media_downloads",
            "Media downloads begun (200 or 206 with a body)",
            self.media_downloads.clone(),
        );
        registry.register(
            "media_received_bytes",
            "Bytes of media upload bodies received",
            self.media_bytes_received.clone(),
        );
        registry.register(
            "media_sent_bytes",
            "Bytes of media files sent to downloads",
            self.media_bytes_sent.clone(),
        );
        registry.register(
            "outbound_queue_frames",
            "Frames queued for all connections and not yet handed to their sockets",
            ConstGauge::new(snapshot.queued_frames),
        );
        registry.register(
            "outbound_queue_bytes",
            "Bytes of the frames queued for all connections",
            ConstGauge::new(snapshot.queued_bytes),
        );
        self.storage.register(&mut registry);
        registry.register_collector(Box::new(CoreSeries(snapshot.core)));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// What the storage thread (or the memory store) did: counted where it happens, read at
/// scrape time.
#[derive(Debug, Clone)]
pub struct StorageMetrics {
    writes: Counter,
    deletes: Counter,
    commits: Counter,
    failures: Counter,
    commit_seconds: Histogram,
    commit_ops: Histogram,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        StorageMetrics {
            writes: Counter::default(),
            deletes: Counter::default(),
            commits: Counter::default(),
            failures: Counter::default(),
            // 0.1 ms to 6.5 s: a memory commit is nothing, an fsync a few ms, a sick disk
            // seconds.
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            // 1 to 4096 ops (`GroupCommit::max_batch`).
            commit_ops: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
        }
    }
}

impl StorageMetrics {
    /// One transaction of `writes` and `deletes` took `took` and committed (or failed and
    /// was rolled back).
    pub(crate) fn transaction(&self, writes: usize, deletes: usize, took: Duration, ok: bool) {
        if ok {
            self.writes.inc_by(writes as u64);
            self.deletes.inc_by(deletes as u64);
            self.commits.inc();
            self.commit_ops.observe((writes + deletes) as f64);
        } else {
            self.failures.inc();
        }
        self.commit_seconds.observe(took.as_secs_f64());
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "storage_writes",
            "Records written in committed transactions",
            self.writes.clone(),
        );
        registry.register(
            "storage_deletes",
            "Records deleted in committed transactions",
            self.deletes.clone(),
        );
        registry.register(
            "storage_commits",
            "Storage transactions committed",
            self.commits.clone(),
        );
        registry.register(
            "storage_commit_failures",
            "Storage transactions that failed and were rolled back",
            self.failures.clone(),
        );
        registry.register(
            "storage_commit_seconds",
            "Time one storage transaction took, fsync included",
            self.commit_seconds.clone(),
        );
        registry.register(
            "storage_commit_ops",
            "Writes and deletes per committed transaction (group commit)",
            self.commit_ops.clone(),
        );
    }
}

/// The core's series of one scrape.
#[derive(Debug)]
struct CoreSeries(Vec<MetricSample>);

impl Collector for CoreSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let samples = &self.0;
        let mut done = vec![false; samples.len()];
        for (i, first) in samples.iter().enumerate() {
            if done[i] {
                continue;
            }
            // One descriptor per name, with every series of that name under it.
            let kind = first.kind;
            let metric_type = match kind {
                MetricKind::Counter => ConstCounter::new(0u64).metric_type(),
                MetricKind::Gauge => ConstGauge::new(0u64).metric_type(),
            };
            let mut metric =
                encoder.encode_descriptor(first.name, first.help, None, metric_type)?;
            for (j, sample) in samples.iter().enumerate().skip(i) {
                if done[j] || sample.name != first.name || sample.kind != kind {
                    continue;
                }
                done[j] = true;
                let series = metric.encode_family(&sample.labels)?;
                match kind {
                    MetricKind::Counter => ConstCounter::new(sample.value).encode(series)?,
                    MetricKind::Gauge => ConstGauge::new(sample.value).encode(series)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        name: &'static str,
        kind: MetricKind,
        labels: Vec<(&'static str, &'static str)>,
        value: u64,
    ) -> MetricSample {
        MetricSample {
            name,
            help: "help",
            kind,
            labels,
            value,
        }
    }

    #[test]
    fn core_series_are_grouped_under_one_descriptor_each() {
        let metrics = DriverMetrics::new(StorageMetrics::default());
        metrics.accepted();
        metrics.http_request(RouteClass::Rest, 503);
        let text = metrics.encode(Snapshot {
            core: vec![
                sample("logins", MetricKind::Counter, vec![("outcome", "ok")], 3),
                sample("sessions", MetricKind::Gauge, vec![], 2),
                sample(
                    "logins",
                    MetricKind::Counter,
                    vec![("outcome", "refused")],
                    1,
                ),
            ],
            queued_frames: 5,
            queued_bytes: 70,
        });
        for line in [
            "# TYPE rtm_logins_total counter",
            "rtm_logins_total{outcome=\"ok\"} 3",
            "rtm_logins_total{outcome=\"refused\"} 1",
            "# TYPE rtm_sessions gauge",
            "rtm_sessions 2",
            "rtm_accepted_connections_total 1",
            "rtm_http_requests_total{route=\"rest\",status=\"5xx\"} 1",
            "rtm_outbound_queue_bytes 70",
            "# TYPE rtm_storage_commit_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE rtm_logins_total").count(), 1);
    }
}
