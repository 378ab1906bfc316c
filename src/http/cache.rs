//! The rendered-response cache.
//!
//! Entries are keyed by their strong ETag, which is a digest of everything the bytes depend on
//! (canonical query, format, encoding, the generations of the regions the query can see, the
//! render settings). So an entry can never be stale: a write changes the generations, the next
//! request computes a new ETag and misses, and the old entry simply ages out. Budgeted in bytes;
//! concurrent misses for one key wait for a single render (quick_cache placeholders).

use std::future::Future;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::metrics::Metrics;

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Bytes> for ByteWeighter {
    fn weight(&self, key: &String, value: &Bytes) -> u64 {
        (key.len() + value.len() + 64) as u64
    }
}

/// Rendered bodies by ETag.
pub struct RenderCache {
    inner: Cache<String, Bytes, ByteWeighter>,
}

impl RenderCache {
    /// A cache holding at most about `budget_bytes` of bodies.
    pub fn new(budget_bytes: u64) -> Self {
        let estimated_items = (budget_bytes / 32_768).clamp(16, 1 << 20) as usize;
        RenderCache { inner: Cache::with_weighter(estimated_items, budget_bytes.max(1), ByteWeighter) }
    }

    /// The body for `etag`, rendering it with `render` on a miss (once, however many ask).
    pub async fn get_or_render<F, Fut, E>(&self, etag: &str, metrics: &Metrics, render: F) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        match self.inner.get_value_or_guard_async(etag).await {
            Ok(body) => {
                metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                Ok(body)
            }
            Err(guard) => {
                metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                let body = render().await?;
                // A body larger than the whole budget is refused by the cache; it is still served.
                let _ = guard.insert(body.clone());
                Ok(body)
            }
        }
    }

    /// Bytes held.
    pub fn weight(&self) -> u64 {
        self.inner.weight()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}
