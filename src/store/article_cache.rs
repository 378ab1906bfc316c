//! Decoded articles kept in memory, so that a cache-missing feed page does not parse JSON.
//!
//! A profile of distinct feed queries (issue 13) spent a fifth of the time in `Store::get`:
//! sled's lookup is cheap, but decoding each stored article (serde_json, UTF-8 checks, a dozen
//! string allocations) is not, and the same recent articles appear on most pages. Entries are
//! shared (`Arc`), budgeted in bytes (see [`weight`]), and dropped by every write
//! that changes their article.
//!
//! The one subtlety is a reader racing a writer: a reader that read version 1 from sled could
//! insert it after the writer, having stored version 2, dropped the entry, which would then stay
//! stale. So every committed batch moves an epoch *before* it drops its entries, and a reader
//! that sees the epoch moved between its read and its insert drops what it inserted. Either the
//! writer's drop comes after the insert, or the reader sees the new epoch: no interleaving leaves
//! a stale entry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::model::Article;

/// The memory a decoded article takes, from the length of its stored JSON: its strings take
/// about what their JSON took (keys and quotes make up for the allocator's rounding), plus the
/// struct and the `Arc`/allocation headers. Measured on the 100k bench store (1,541 stored bytes
/// on average): 100k cached articles added 209 MB of RSS, 2,090 bytes each, and this gives about
/// 2,150. Overestimating wastes the budget: the earlier `2 x stored + 512` held 40% fewer
/// articles than the budget had room for.
fn weight(stored_len: usize) -> usize {
    stored_len + std::mem::size_of::<Article>() + 256
}

/// A decoded article and the weight it was admitted with.
#[derive(Clone)]
struct Entry {
    article: Arc<Article>,
    weight: u32,
}

#[derive(Clone)]
struct EntryWeighter;

impl Weighter<u64, Entry> for EntryWeighter {
    fn weight(&self, _key: &u64, value: &Entry) -> u64 {
        u64::from(value.weight)
    }
}

/// Decoded articles by id, budgeted in bytes; a budget of 0 caches nothing.
pub struct ArticleCache {
    inner: Option<Cache<u64, Entry, EntryWeighter>>,
    /// Moved by every committed batch before it drops its articles (see the module doc).
    epoch: AtomicU64,
}

/// What [`ArticleCache::epoch`] returned, to hand back to [`ArticleCache::insert`].
#[derive(Clone, Copy)]
pub struct Epoch(u64);

impl ArticleCache {
    /// A cache of about `budget_bytes`.
    pub fn new(budget_bytes: u64) -> Self {
        let inner = (budget_bytes > 0).then(|| {
            let estimated_items = (budget_bytes / 8_192).clamp(16, 1 << 20) as usize;
            Cache::with_weighter(estimated_items, budget_bytes, EntryWeighter)
        });
        ArticleCache {
            inner,
            epoch: AtomicU64::new(0),
        }
    }

    /// The epoch before a read from sled.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    /// The cached article `id`.
    pub fn get(&self, id: u64) -> Option<Arc<Article>> {
        Some(self.inner.as_ref()?.get(&id)?.article)
    }

    /// Caches `article`, decoded from `stored_len` bytes read at `read_at`, unless a write
    /// committed since may have changed it.
    pub fn insert(&self, article: Arc<Article>, stored_len: usize, read_at: Epoch) {
        let Some(inner) = &self.inner else { return };
        let id = article.id;
        let weight = weight(stored_len).min(u32::MAX as usize) as u32;
        inner.insert(id, Entry { article, weight });
        if self.epoch.load(Ordering::SeqCst) != read_at.0 {
            inner.remove(&id);
        }
    }

    /// Forgets `ids` after a batch that changed them has been committed.
    pub fn committed(&self, ids: impl Iterator<Item = u64>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(inner) = &self.inner {
            for id in ids {
                inner.remove(&id);
            }
        }
    }

    /// Bytes held now (the budget's measure).
    pub fn weight(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| c.weight())
    }
}
