//! Counters for `/metrics`, in Prometheus text format.
//!
//! Plain atomics and one small mutex-guarded map: no metrics framework is needed for a handful of
//! series, and the exposition format is simple and stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// All counters of one server.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    /// Conditional requests answered 304.
    pub not_modified: AtomicU64,
    /// Rendered-feed cache hits.
    pub cache_hits: AtomicU64,
    /// Rendered-feed cache misses (renders).
    pub cache_misses: AtomicU64,
    /// Articles created, updated, deleted through the API.
    pub writes: [AtomicU64; 3],
    /// Write requests refused (4xx).
    pub writes_refused: AtomicU64,
    /// WebSub notifications delivered / failed after retries.
    pub websub: [AtomicU64; 2],
    /// Cache-missing requests refused with 503 because the render pool was saturated.
    pub renders_refused: AtomicU64,
    /// Cache-missing requests that left the render queue because their client closed its side
    /// of the connection while they waited ([`crate::http::client`]).
    pub renders_abandoned: AtomicU64,
    /// Most-read rankings computed ([`crate::popular`]): at most one per canonical query per
    /// refresh interval, however many requests ask.
    pub popular_rankings: AtomicU64,
}

/// Kinds of write, indexing [`Metrics::writes`].
#[derive(Clone, Copy, Debug)]
pub enum WriteKind {
    /// A new article.
    Created = 0,
    /// A changed article.
    Updated = 1,
    /// A removed article.
    Deleted = 2,
}

/// Values read from elsewhere when `/metrics` is rendered.
pub struct Gauges {
    /// Stored articles.
    pub articles: u64,
    /// Bytes held by the rendered-feed cache.
    pub cache_bytes: u64,
    /// Entries in the rendered-feed cache.
    pub cache_entries: u64,
    /// Renders running now.
    pub renders_running: u64,
    /// Renders waiting for a worker now.
    pub renders_waiting: u64,
    /// Bytes held by the decoded-article cache.
    pub article_cache_bytes: u64,
    /// Bytes held by the rendered-item cache.
    pub item_cache_bytes: u64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((route, status)).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts a committed write.
    pub fn write(&self, kind: WriteKind) {
        self.writes[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str("# HELP lenta_http_requests_total HTTP requests answered, by route and status.\n");
        out.push_str("# TYPE lenta_http_requests_total counter\n");
        if let Ok(map) = self.requests.lock() {
            for ((route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "lenta_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP lenta_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE lenta_http_request_duration_seconds histogram\n");
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "lenta_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let count = load(&self.latency_count);
        let _ = writeln!(
            out,
            "lenta_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = load(&self.latency_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "lenta_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "lenta_http_request_duration_seconds_count {count}");
        let counters: [(&str, &str, u64); 8] = [
            (
                "lenta_not_modified_total",
                "Conditional requests answered 304.",
                load(&self.not_modified),
            ),
            (
                "lenta_render_cache_hits_total",
                "Rendered-feed cache hits.",
                load(&self.cache_hits),
            ),
            (
                "lenta_render_cache_misses_total",
                "Rendered-feed cache misses (renders).",
                load(&self.cache_misses),
            ),
            (
                "lenta_renders_refused_total",
                "Cache-missing requests answered 503 because every render worker was busy and the queue full (or the wait too long).",
                load(&self.renders_refused),
            ),
            (
                "lenta_renders_abandoned_total",
                "Cache-missing requests not rendered because their client closed the connection while they waited for a render worker.",
                load(&self.renders_abandoned),
            ),
            (
                "lenta_popular_rankings_total",
                "Most-read rankings computed (at most one per query per --popular-refresh-secs).",
                load(&self.popular_rankings),
            ),
            (
                "lenta_writes_refused_total",
                "Write requests refused.",
                load(&self.writes_refused),
            ),
            (
                "lenta_websub_failures_total",
                "WebSub notifications given up on.",
                load(&self.websub[1]),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let _ = writeln!(out, "# HELP lenta_websub_notifications_total WebSub notifications delivered.\n# TYPE lenta_websub_notifications_total counter\nlenta_websub_notifications_total {}", load(&self.websub[0]));
        out.push_str("# HELP lenta_writes_total Articles written through the API, by kind.\n# TYPE lenta_writes_total counter\n");
        for (kind, i) in [("created", 0), ("updated", 1), ("deleted", 2)] {
            let _ = writeln!(
                out,
                "lenta_writes_total{{kind=\"{kind}\"}} {}",
                load(&self.writes[i])
            );
        }
        let gauges: [(&str, &str, u64); 7] = [
            ("lenta_articles", "Articles stored.", gauges.articles),
            (
                "lenta_render_cache_bytes",
                "Bytes held by the rendered-feed cache.",
                gauges.cache_bytes,
            ),
            (
                "lenta_article_cache_bytes",
                "Bytes held by the decoded-article cache (--article-cache-mb).",
                gauges.article_cache_bytes,
            ),
            (
                "lenta_item_cache_bytes",
                "Bytes held by the rendered feed-item cache (--item-cache-mb).",
                gauges.item_cache_bytes,
            ),
            (
                "lenta_render_cache_entries",
                "Responses held by the rendered-feed cache.",
                gauges.cache_entries,
            ),
            (
                "lenta_renders_running",
                "Cache-missing renders running now (at most --render-workers).",
                gauges.renders_running,
            ),
            (
                "lenta_renders_waiting",
                "Cache-missing renders waiting for a worker (at most --render-queue).",
                gauges.renders_waiting,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}
