//! What the service counts: requests and their latency per endpoint and
//! status (Prometheus text format at `GET /metrics`), refused connections,
//! model reloads, and the age of the model being served.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;

/// The endpoints, in the order `/v1/status` lists them.
pub const ENDPOINTS: [&str; 11] = [
    "predict",
    "recommend",
    "similar",
    "fold-in",
    "status",
    "reload",
    "ratings",
    "train",
    "metrics",
    "healthz",
    "other",
];

/// Labels of a request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: String,
}

/// Labels of a latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

/// Labels of a reload series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type LatencyFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    refused_connections: Counter,
    reloads: Family<OutcomeLabels, Counter>,
    model_age: Gauge<f64, AtomicU64>,
    model_epoch: Gauge,
    rounds: Family<OutcomeLabels, Counter>,
    log_bytes: Gauge,
    log_pending_ratings: Gauge,
    round_running: Gauge,
    round_epoch: Gauge,
    round_train_rmse: Gauge<f64, AtomicU64>,
    since_publish: Gauge<f64, AtomicU64>,
    generation: Gauge,
    by_endpoint: [AtomicU64; ENDPOINTS.len()],
    errors_by_endpoint: [AtomicU64; ENDPOINTS.len()],
}

/// The intake and round gauges at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundGauges {
    /// Bytes of the segments not yet applied.
    pub log_bytes: u64,
    /// Ratings not yet applied.
    pub pending_ratings: u64,
    /// Whether a round runs.
    pub running: bool,
    /// Its epochs completed.
    pub epoch: u32,
    /// Its last train RMSE.
    pub train_rmse: Option<f64>,
    /// Seconds since the served model was published.
    pub since_publish: f64,
    /// Rounds published.
    pub generation: u64,
}

/// Request counts of one endpoint, for `/v1/status`.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointCount {
    /// The endpoint.
    pub endpoint: &'static str,
    /// Requests answered.
    pub requests: u64,
    /// Of which answered with a 4xx or 5xx status.
    pub errors: u64,
}

fn latency_histogram() -> Histogram {
    // 25 µs to about 0.8 s.
    Histogram::new(exponential_buckets(25e-6, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("funkd");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let refused_connections = Counter::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let model_age = Gauge::<f64, AtomicU64>::default();
        let model_epoch = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by endpoint",
            latency.clone(),
        );
        registry.register(
            "refused_connections",
            "Connections refused because the connection limit was reached",
            refused_connections.clone(),
        );
        registry.register(
            "model_reloads",
            "Attempts to load a newer checkpoint, by outcome (swapped, refused)",
            reloads.clone(),
        );
        registry.register(
            "model_age_seconds",
            "Seconds since the checkpoint being served was written",
            model_age.clone(),
        );
        registry.register(
            "model_epoch",
            "Epochs completed by the checkpoint being served",
            model_epoch.clone(),
        );
        let rounds = Family::<OutcomeLabels, Counter>::default();
        let log_bytes = Gauge::default();
        let log_pending_ratings = Gauge::default();
        let round_running = Gauge::default();
        let round_epoch = Gauge::default();
        let round_train_rmse = Gauge::<f64, AtomicU64>::default();
        let since_publish = Gauge::<f64, AtomicU64>::default();
        let generation = Gauge::default();
        registry.register(
            "training_rounds",
            "Training rounds ended, by outcome (published, failed)",
            rounds.clone(),
        );
        registry.register(
            "ingest_log_bytes",
            "Bytes of the ingest log segments not yet in a published model",
            log_bytes.clone(),
        );
        registry.register(
            "ingest_pending_ratings",
            "Ratings taken in and not yet in a published model",
            log_pending_ratings.clone(),
        );
        registry.register(
            "training_round_running",
            "1 while a training round runs",
            round_running.clone(),
        );
        registry.register(
            "training_round_epoch",
            "Epochs the running training round has completed",
            round_epoch.clone(),
        );
        registry.register(
            "training_round_train_rmse",
            "Train RMSE of the running round's last epoch (NaN before its first)",
            round_train_rmse.clone(),
        );
        registry.register(
            "seconds_since_publish",
            "Seconds since the model served was published (by a round, or written by funkd train)",
            since_publish.clone(),
        );
        registry.register(
            "model_generation",
            "Training rounds published into the served directory",
            generation.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            refused_connections,
            reloads,
            model_age,
            model_epoch,
            rounds,
            log_bytes,
            log_pending_ratings,
            round_running,
            round_epoch,
            round_train_rmse,
            since_publish,
            generation,
            by_endpoint: Default::default(),
            errors_by_endpoint: Default::default(),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, endpoint: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint,
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
        if let Some(slot) = ENDPOINTS.iter().position(|e| *e == endpoint) {
            self.by_endpoint[slot].fetch_add(1, Ordering::Relaxed);
            if status >= 400 {
                self.errors_by_endpoint[slot].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records a connection turned away at the limit.
    pub fn refused_connection(&self) {
        self.refused_connections.inc();
    }

    /// How many connections were turned away.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.get()
    }

    /// Records a reload attempt: `swapped` or `refused`.
    pub fn reload(&self, outcome: &'static str) {
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Records a training round's end: `published` or `failed`.
    pub fn round_outcome(&self, outcome: &'static str) {
        self.rounds.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Sets the gauges of intake and rounds to their values now.
    pub fn set_rounds(&self, now: &RoundGauges) {
        self.log_bytes.set(now.log_bytes as i64);
        self.log_pending_ratings.set(now.pending_ratings as i64);
        self.round_running.set(i64::from(now.running));
        self.round_epoch.set(i64::from(now.epoch));
        self.round_train_rmse
            .set(now.train_rmse.unwrap_or(f64::NAN));
        self.since_publish.set(now.since_publish);
        self.generation.set(now.generation as i64);
    }

    /// Request counts per endpoint.
    pub fn counts(&self) -> Vec<EndpointCount> {
        ENDPOINTS
            .iter()
            .enumerate()
            .map(|(i, endpoint)| EndpointCount {
                endpoint,
                requests: self.by_endpoint[i].load(Ordering::Relaxed),
                errors: self.errors_by_endpoint[i].load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The Prometheus text exposition, with the model gauges as of now.
    pub fn encode(&self, model_age_seconds: f64, model_epoch: u32) -> String {
        self.model_age.set(model_age_seconds);
        self.model_epoch.set(i64::from(model_epoch));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_exposition_follow_the_requests() {
        let m = Metrics::new();
        m.observe("predict", 200, 0.0001);
        m.observe("predict", 404, 0.0002);
        m.observe("similar", 200, 0.001);
        m.reload("swapped");
        let counts = m.counts();
        assert_eq!(counts[0].endpoint, "predict");
        assert_eq!((counts[0].requests, counts[0].errors), (2, 1));
        assert_eq!(counts[2].requests, 1);
        m.round_outcome("published");
        m.set_rounds(&RoundGauges {
            log_bytes: 400,
            pending_ratings: 7,
            running: true,
            epoch: 2,
            train_rmse: Some(0.5),
            since_publish: 30.0,
            generation: 4,
        });
        let text = m.encode(12.5, 3);
        for line in [
            r#"funkd_training_rounds_total{outcome="published"} 1"#,
            "funkd_ingest_log_bytes 400",
            "funkd_ingest_pending_ratings 7",
            "funkd_training_round_running 1",
            "funkd_training_round_epoch 2",
            "funkd_training_round_train_rmse 0.5",
            "funkd_seconds_since_publish 30.0",
            "funkd_model_generation 4",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(
            text.contains(r#"funkd_http_requests_total{endpoint="predict",status="404"} 1"#),
            "{text}"
        );
        assert!(text.contains("funkd_http_request_duration_seconds_bucket"));
        assert!(text.contains("funkd_model_age_seconds 12.5"), "{text}");
        assert!(text.contains("funkd_model_epoch 3"), "{text}");
        assert!(text.contains(r#"funkd_model_reloads_total{outcome="swapped"} 1"#));
        assert!(text.ends_with("# EOF\n"));
    }
}
