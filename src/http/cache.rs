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
use quick_cache::{OptionsBuilder, Weighter};

use crate::metrics::Metrics;

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<String, Bytes> for ByteWeighter {
    fn weight(&self, key: &String, value: &Bytes) -> u64 {
        (key.len() + value.len() + 64) as u64
    }
}

/// The smallest budget of one shard of the cache.
///
/// quick_cache splits its budget evenly over independently locked shards and never admits an
/// entry heavier than (97% of) one shard's share. With its default of four shards per core, a
/// 64 MiB budget on a 16-core machine gives 1 MiB shards, and a 500-item page with full content
/// (a few MiB) would silently be rendered again on every request. So shards are never smaller
/// than this, at the cost of fewer locks on small budgets.
const MIN_SHARD_BYTES: u64 = 8 << 20;

/// Rendered bodies by ETag.
pub struct RenderCache {
    inner: Cache<String, Bytes, ByteWeighter>,
}

impl RenderCache {
    /// A cache holding at most about `budget_bytes` of bodies; a single body is cached when it
    /// fits in [`RenderCache::largest_body`].
    pub fn new(budget_bytes: u64) -> Self {
        let budget = budget_bytes.max(1);
        let estimated_items = (budget / 32_768).clamp(16, 1 << 20) as usize;
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let shards = ((budget / MIN_SHARD_BYTES) as usize).clamp(1, cores * 4);
        // quick_cache rounds the shard count up to a power of two; round down instead, so no
        // shard ends up below MIN_SHARD_BYTES.
        let shards = 1 << shards.ilog2();
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated_items)
            .weight_capacity(budget)
            .shards(shards)
            .build();
        let inner = match options {
            Ok(options) => Cache::with_options(options, ByteWeighter, Default::default(), Default::default()),
            // Only reachable with invalid options (none of the above); the library default still caches.
            Err(_) => Cache::with_weighter(estimated_items, budget, ByteWeighter),
        };
        RenderCache { inner }
    }

    /// About the heaviest body the cache admits (quick_cache keeps 97% of a shard for it).
    pub fn largest_body(&self) -> u64 {
        self.inner.shard_capacity() / 100 * 97
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

    /// The body for `etag` if it is cached, without waiting for a render in progress.
    pub fn peek(&self, etag: &str) -> Option<Bytes> {
        self.inner.get(etag)
    }

    /// Caches `body` under `etag` (refused silently when larger than a shard can hold).
    pub fn insert(&self, etag: String, body: Bytes) {
        self.inner.insert(etag, body);
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch(cache: &RenderCache, metrics: &Metrics, key: &str, size: usize) -> Bytes {
        cache
            .get_or_render(key, metrics, || async move {
                Ok::<_, ()>(Bytes::from(vec![b'x'; size]))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_large_page_is_cached_whatever_the_core_count() {
        // 8 MiB on a machine with many cores used to mean 1 MiB shards: a 6 MiB page never cached.
        let cache = RenderCache::new(8 << 20);
        assert!(
            cache.largest_body() >= 7 << 20,
            "largest body {}",
            cache.largest_body()
        );
        let metrics = Metrics::default();
        assert_eq!(fetch(&cache, &metrics, "big", 6 << 20).await.len(), 6 << 20);
        assert_eq!(fetch(&cache, &metrics, "big", 6 << 20).await.len(), 6 << 20);
        assert_eq!(metrics.cache_misses.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.cache_hits.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_big_budget_keeps_large_shards() {
        let cache = RenderCache::new(64 << 20);
        assert!(
            cache.largest_body() >= 7 << 20,
            "largest body {}",
            cache.largest_body()
        );
        let tiny = RenderCache::new(100_000);
        assert!(
            tiny.largest_body() >= 90_000,
            "largest body {}",
            tiny.largest_body()
        );
    }

    #[tokio::test]
    async fn a_body_over_the_budget_is_served_not_cached() {
        let cache = RenderCache::new(1 << 20);
        let metrics = Metrics::default();
        assert_eq!(fetch(&cache, &metrics, "huge", 2 << 20).await.len(), 2 << 20);
        assert_eq!(fetch(&cache, &metrics, "huge", 2 << 20).await.len(), 2 << 20);
        assert_eq!(metrics.cache_misses.load(Ordering::Relaxed), 2);
        assert!(cache.is_empty());
    }
}
