//! "Most read" (`sort=popular&period=…`): rankings by views, taken as snapshots at a bounded rate.
//!
//! A timeline changes only with writes, so its validators are region generations. A ranking
//! changes with views, which are not writes (see [`crate::store::views`]): deriving its
//! validators from generations would serve a stale order forever, and deriving them from live
//! counts would change them on every page view, so no reader or cache could ever get a 304. So a
//! ranking is a *snapshot*: computed at most once per refresh interval (`--popular-refresh-secs`)
//! for each canonical query, holding the ranked articles themselves, with validators derived
//! from the ranked ids and their versions (`updated_at`). Between refreshes every request sees
//! the same snapshot (same `ETag`, so polling readers get 304); a refresh that finds the same
//! ranking keeps the same validators; the period's window ends at the snapshot's time, so it
//! moves at the refresh rate, not per request.
//!
//! Holding the articles, not just their ids, is what lets the render cache key bodies by the
//! snapshot's `ETag`: a body is a function of the snapshot alone, so an edit between refreshes
//! cannot put new bytes under an old validator. It shows at the next refresh, like a change of
//! order. The cost is memory, bounded by `--popular-cache-entries` snapshots of at most
//! `limit` (≤ 500) articles each.
//!
//! Cost of one ranking: a walk of the time index over the window (no article read), capped at
//! `--popular-candidates` newest candidates, then for each its views and categories
//! ([`Store::popularity`], which skips the article's text), a sort, and a full read of the top
//! `limit` only. It runs in the render pool like any other cache miss.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use crate::model::Article;
use crate::query::{FeedQuery, Period};
use crate::store::keys::Position;
use crate::store::{Store, StoreError};

/// One ranking as served until the next refresh.
#[derive(Debug)]
pub struct Snapshot {
    /// The instant the ranking's window ends at ("now" of the snapshot).
    pub taken_at: DateTime<Utc>,
    /// The ranked articles, most read first, at most `limit`.
    pub articles: Vec<Arc<Article>>,
    /// Digest of the ranked ids and their versions: what the validators derive from.
    pub digest: u64,
    /// When this ranking (its digest) first appeared: `Last-Modified` and the feed's date.
    pub changed_at: DateTime<Utc>,
}

impl Snapshot {
    /// The snapshot of `articles` ranked at `taken_at`, after `previous` (digest and
    /// `changed_at` of the snapshot it replaces, if known): an unchanged ranking keeps its date.
    pub fn new(
        taken_at: DateTime<Utc>,
        articles: Vec<Arc<Article>>,
        previous: Option<(u64, DateTime<Utc>)>,
    ) -> Self {
        let digest = digest(&articles);
        let changed_at = match previous {
            Some((d, at)) if d == digest => at,
            _ => taken_at,
        };
        Snapshot {
            taken_at,
            articles,
            digest,
            changed_at,
        }
    }
}

/// Digest of the ranking: each article's id and version, in order.
fn digest(articles: &[Arc<Article>]) -> u64 {
    let mut h = blake3::Hasher::new();
    for a in articles {
        h.update(&a.id.to_be_bytes());
        h.update(&a.updated_at.timestamp_micros().to_be_bytes());
    }
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_be_bytes(first)
}

/// One refresh interval of one query: the ranking is computed once in it, however many ask.
struct Slot {
    started: Instant,
    taken_at: DateTime<Utc>,
    previous: Option<(u64, DateTime<Utc>)>,
    snapshot: OnceCell<Arc<Snapshot>>,
}

/// The current snapshot of each recently asked ranking, at most `entries` of them.
pub struct PopularCache {
    refresh: Duration,
    slots: Mutex<quick_cache::unsync::Cache<String, Arc<Slot>>>,
}

impl PopularCache {
    /// A cache refreshing each ranking at most once per `refresh`, holding at most `entries`.
    pub fn new(refresh: Duration, entries: usize) -> Self {
        PopularCache {
            refresh,
            slots: Mutex::new(quick_cache::unsync::Cache::new(entries.max(1))),
        }
    }

    /// Snapshots held.
    pub fn len(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.len())
    }

    /// Whether no snapshot is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The snapshot of the ranking `key` (a canonical query), computing it with `compute` (given
    /// the snapshot's "now") when the held one is older than the refresh interval or missing.
    /// Concurrent requests in one interval wait for one computation; a failed one (a busy
    /// render pool) is retried by the next request of the interval.
    pub async fn get<F, Fut, E>(&self, key: &str, compute: F) -> Result<Arc<Snapshot>, E>
    where
        F: FnOnce(DateTime<Utc>) -> Fut,
        Fut: Future<Output = Result<Vec<Arc<Article>>, E>>,
    {
        let slot = self.slot(key);
        slot.snapshot
            .get_or_try_init(|| async {
                let articles = compute(slot.taken_at).await?;
                Ok(Arc::new(Snapshot::new(slot.taken_at, articles, slot.previous)))
            })
            .await
            .cloned()
    }

    /// The slot of the current interval of `key`, opening a new one when the held one expired.
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let held = slots.get(key).cloned();
        if let Some(slot) = &held {
            if slot.started.elapsed() < self.refresh {
                return Arc::clone(slot);
            }
        }
        let slot = Arc::new(Slot {
            started: Instant::now(),
            taken_at: Utc::now(),
            previous: held.and_then(|s| s.snapshot.get().map(|snap| (snap.digest, snap.changed_at))),
            snapshot: OnceCell::new(),
        });
        slots.insert(key.to_string(), Arc::clone(&slot));
        slot
    }
}

/// Ranks the articles of `query`'s regions and categories published within `period` before
/// `now` (and within its `from`/`to`, if given) by total views, most first; ties newest first,
/// then by id. At most `candidates` of the newest articles in the window are considered.
pub fn rank(
    store: &Store,
    query: &FeedQuery,
    period: Period,
    now: DateTime<Utc>,
    candidates: usize,
) -> Result<Vec<Arc<Article>>, StoreError> {
    let start = (now - period.duration()).timestamp_micros();
    let oldest = query.from.as_ref().map_or(start, |b| b.micros.max(start));
    let newest = query
        .to
        .as_ref()
        .map_or(now.timestamp_micros(), |b| b.micros.min(now.timestamp_micros()));
    let mut ranked: Vec<(u64, Position)> = Vec::new();
    for position in store
        .scan(&query.regions)
        .oldest(Some(oldest))
        .newest(Some(newest))
        .positions()
        .take(candidates)
    {
        let position = position?;
        if let Some(p) = store.popularity(position.id)? {
            if query.matches_category(&p.categories) {
                ranked.push((p.views, position));
            }
        }
    }
    // Most views first; then newest first (positions order by time, then id).
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    let mut articles = Vec::with_capacity(query.limit.min(ranked.len()));
    for (_, position) in ranked {
        if articles.len() >= query.limit {
            break;
        }
        if let Some(article) = store.get_shared(position.id)?.filter(|a| !store.is_scheduled(a)) {
            articles.push(article);
        }
    }
    Ok(articles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_computation_per_interval_and_a_bounded_number_of_rankings() {
        let cache = PopularCache::new(Duration::from_secs(3600), 2);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let counter = &calls;
        let compute = move |_: DateTime<Utc>| async move {
            let calls = counter;
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(Vec::new())
        };
        let a = cache.get("a", compute).await.unwrap();
        let again = cache.get("a", compute).await.unwrap();
        assert!(Arc::ptr_eq(&a, &again), "the same snapshot within the interval");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        for key in ["b", "c", "d"] {
            cache.get(key, compute).await.unwrap();
        }
        assert!(cache.len() <= 2, "held {}", cache.len());
    }

    #[tokio::test]
    async fn an_unchanged_ranking_keeps_its_date_after_a_refresh() {
        let cache = PopularCache::new(Duration::ZERO, 4);
        let first = cache
            .get("a", |_| async { Ok::<_, ()>(Vec::new()) })
            .await
            .unwrap();
        let second = cache
            .get("a", |_| async { Ok::<_, ()>(Vec::new()) })
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "a new interval computes again");
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.changed_at, second.changed_at);
        assert!(second.taken_at >= first.taken_at);
    }
}
