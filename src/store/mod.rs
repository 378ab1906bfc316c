//! The article store: one sled tree of articles, indexes and region metadata, changed only by
//! atomic batches.
//!
//! The `data` tree holds one key space per kind of record ([`Space`]; all keys big-endian, see
//! [`keys`]):
//! - articles: id → article JSON
//! - by_time: (published instant, id) → ()          the all-regions feed order
//! - by_region: (region, published instant, id) → () one feed order per region
//! - region_articles: (region, published instant, id) → article JSON: a copy in that order
//!   ([`region_articles`])
//! - by_external: (publisher, external_id) → id      idempotent upserts
//! - region_meta: region (or `*` for all) → generation, last change, article count
//! - tombstones: id → deletion instant                 410 Gone for withdrawn articles
//! - counters: `next_id` → the next article id         dense ids, in the article's batch
//! - views: id → views counted by lenta                 apart from the article ([`views`])
//! - scheduled: (published instant, id) → ()         embargoed articles, in no public index
//!
//! and the `publishers` tree maps a name to its publisher record (see [`crate::auth`]).
//!
//! Every write changes the article, all of its index entries and the metadata of every region it
//! leaves or enters in one atomic sled batch, under one process-wide writer lock (so an upsert's
//! read-then-write cannot race another). Region metadata is mirrored in memory: answering a
//! conditional request needs only generations, never an article read.
//!
//! Writes are planned one by one (`Store::plan`) but share batches: a batch request's
//! chunk ([`Store::write_many`]) or a group of concurrent API writes ([`Store::submit`], see
//! [`flusher`]), each write seeing the ones planned before it. An unchanged re-send is not a
//! write at all ([`Committed::Unchanged`]).
//!
//! Scheduled publication: an article whose `published_at` is after the release mark (see
//! [`space::RELEASED_UNTIL`]) is filed under [`Space::Scheduled`] instead of the public indexes.
//! Every batch begins by moving the mark to its own `now` and releasing every article that came
//! due, in the same atomic batch, bumping its regions' generations as a write would; so readers
//! never consult the clock, and an idle server relies on a task that submits an empty batch
//! when the next article is due ([`Store::release_due`]).

mod article_cache;
mod check;
pub mod flusher;
pub mod keys;
mod region_articles;
mod scan;
pub mod search;
mod space;
pub mod views;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use sled::{Batch, IVec};

use crate::model::{Article, NewArticle};
use crate::regions::RegionCode;
use flusher::Group;
pub use flusher::{Submitted, GROUP_MAX};
use keys::Position;
pub use scan::Scan;
use space::Space;

/// The region metadata key that stands for "all regions".
pub const ALL_REGIONS: &str = "*";

/// Errors of the store itself (not of the input).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory is held by another process.
    #[error("the data directory {0} is in use by another lenta process (a running server?); stop it, or use the server's admin API")]
    Locked(String),
    /// sled reported an error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("corrupt record in tree {tree}: {reason}")]
    Corrupt {
        /// Which tree.
        tree: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The group commit this write was part of failed (see the log for the cause).
    #[error("the group commit this write was part of failed: {0}")]
    Group(String),
    /// The search index failed (see [`search`]).
    #[error(transparent)]
    Search(#[from] search::SearchError),
    /// A keyword search was asked of a store whose index is not open.
    #[error("the search index is not open")]
    SearchClosed,
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<R> {
    /// The caller's guard refused it (authorization, `If-Match`, …).
    #[error("refused")]
    Refused(R),
    /// No article has this id.
    #[error("no article with id {0}")]
    NotFound(u64),
    /// The new `external_id` already belongs to another article of the same publisher.
    #[error("external_id {0:?} already names article {1} of this publisher")]
    ExternalIdTaken(String, u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<R> From<sled::Error> for WriteError<R> {
    fn from(e: sled::Error) -> Self {
        WriteError::Store(StoreError::Sled(e))
    }
}

/// What a region's feeds depend on: bumped by every write that adds, changes or removes one of
/// its articles. Feeds derive their `ETag` and `Last-Modified` from these alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegionMeta {
    /// Increases by one per write touching the region.
    pub generation: u64,
    /// Time of the latest such write, microseconds since the epoch (0 = never written).
    pub last_modified_micros: i64,
    /// Articles currently in the region.
    pub count: u64,
}

impl RegionMeta {
    fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.generation.to_be_bytes());
        out[8..16].copy_from_slice(&self.last_modified_micros.to_be_bytes());
        out[16..].copy_from_slice(&self.count.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(RegionMeta {
            generation: u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?),
            last_modified_micros: i64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?),
            count: u64::from_be_bytes(bytes.get(16..24)?.try_into().ok()?),
        })
    }

    /// The last change as a UTC time (the Unix epoch when never written).
    pub fn last_modified(&self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.last_modified_micros)
            .single()
            .unwrap_or_default()
    }
}

/// A write to perform.
#[derive(Debug)]
pub enum WriteOp {
    /// Create, or update the publisher's article with the same `external_id`.
    Upsert {
        /// Owner.
        publisher: String,
        /// Validated content.
        article: NewArticle,
    },
    /// Replace article `id` (an empty `external_id` keeps the stored one).
    Replace {
        /// Target.
        id: u64,
        /// Validated content.
        article: NewArticle,
    },
    /// Delete article `id`.
    Delete {
        /// Target.
        id: u64,
    },
}

/// What a committed write did.
// Returned once per write and consumed at once; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// A new article.
    Created(Article),
    /// An existing article changed; the previous version is kept for callers that need to know
    /// which regions it left.
    Updated {
        /// Before.
        old: Article,
        /// After.
        new: Article,
    },
    /// Removed.
    Deleted(Article),
    /// The request repeated the stored article exactly; nothing was written (not even
    /// `updated_at`), so no validator changes.
    Unchanged(Article),
}

impl Committed {
    /// The regions whose feeds this write changed, or `None` when it changed no feed at all: an
    /// unchanged re-send, or a write to an article that is scheduled before and after it (such a
    /// write touches no region, see [`Store::is_scheduled`], passed as `scheduled`).
    pub fn touched_regions(&self, scheduled: impl Fn(&Article) -> bool) -> Option<BTreeSet<RegionCode>> {
        let versions = match self {
            Committed::Unchanged(_) => vec![],
            Committed::Created(a) | Committed::Deleted(a) => vec![a],
            Committed::Updated { old, new } => vec![old, new],
        };
        let public: Vec<&Article> = versions.into_iter().filter(|a| !scheduled(a)).collect();
        if public.is_empty() {
            return None;
        }
        Some(public.iter().flat_map(|a| a.regions.iter()).cloned().collect())
    }
}

/// The article store.
pub struct Store {
    db: sled::Db,
    data: sled::Tree,
    publishers: sled::Tree,
    meta: RwLock<HashMap<String, RegionMeta>>,
    writer: Mutex<()>,
    group: Mutex<Group>,
    /// The id the next new article gets, as committed (see [`Space::Counters`]).
    next_id: AtomicU64,
    /// The release mark as committed (see [`space::RELEASED_UNTIL`]), microseconds.
    released_until: AtomicI64,
    /// Articles released by committed batches and not yet announced ([`Store::take_released`]).
    released: Mutex<Vec<Article>>,
    /// Woken when a batch files a scheduled article, which may be due before the one the
    /// release task sleeps for.
    scheduled: tokio::sync::Notify,
    /// The keyword index, once opened ([`Store::open_search`]): every later batch updates it.
    search: OnceLock<search::SearchIndex>,
    /// Decoded articles, for readers ([`Store::get_shared`]); dropped by the writes that change
    /// them.
    decoded: article_cache::ArticleCache,
}

impl Store {
    /// Opens (or creates) the store in `dir`, with a sled page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(dir.display().to_string())
                }
                _ => StoreError::Sled(e),
            })?;
        let data = db.open_tree(space::DATA_TREE)?;
        space::migrate_from_trees(&db, &data)?;
        let mut meta = HashMap::new();
        for entry in Space::RegionMeta.iter(&data) {
            let (k, v) = entry?;
            let code = String::from_utf8_lossy(&k).into_owned();
            let m = RegionMeta::decode(&v).ok_or_else(|| StoreError::Corrupt {
                tree: Space::RegionMeta.name(),
                reason: format!("bad value for {code}"),
            })?;
            meta.insert(code, m);
        }
        region_articles::fill(
            &data,
            meta.get(ALL_REGIONS).map_or(0, |m: &RegionMeta| m.generation),
        )?;
        let next_id = next_id(&data)?;
        let released_until = released_until(&data)?;
        Ok(Store {
            released_until: AtomicI64::new(released_until),
            released: Mutex::new(Vec::new()),
            scheduled: tokio::sync::Notify::new(),
            publishers: db.open_tree("publishers")?,
            next_id: AtomicU64::new(next_id),
            data,
            meta: RwLock::new(meta),
            writer: Mutex::new(()),
            group: Mutex::new(Group::default()),
            search: OnceLock::new(),
            decoded: article_cache::ArticleCache::new(0),
            db,
        })
    }

    /// Keeps up to about `budget_bytes` of decoded articles in memory for readers (none by
    /// default: the command-line tools read each article once).
    pub fn with_article_cache(mut self, budget_bytes: u64) -> Self {
        self.decoded = article_cache::ArticleCache::new(budget_bytes);
        self
    }

    /// Bytes of decoded articles held for readers.
    pub fn article_cache_bytes(&self) -> u64 {
        self.decoded.weight()
    }

    /// The publishers tree, owned by [`crate::auth`].
    pub fn publishers_tree(&self) -> &sled::Tree {
        &self.publishers
    }

    /// Metadata of a region (`*` for all), as of the last committed write.
    pub fn region_meta(&self, code: &str) -> RegionMeta {
        self.meta
            .read()
            .map(|m| m.get(code).copied().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Total number of stored articles.
    pub fn article_count(&self) -> u64 {
        self.region_meta(ALL_REGIONS).count
    }

    /// One article by id.
    pub fn get(&self, id: u64) -> Result<Option<Article>, StoreError> {
        match self.data.get(Space::article(id))? {
            None => Ok(None),
            Some(bytes) => decode_article(&bytes).map(Some),
        }
    }

    /// One article by id, shared with other readers: decoded once and then served from memory
    /// until a write changes it (see [`article_cache`]).
    pub fn get_shared(&self, id: u64) -> Result<Option<Arc<Article>>, StoreError> {
        if let Some(article) = self.decoded.get(id) {
            return Ok(Some(article));
        }
        let read_at = self.decoded.epoch();
        let Some(bytes) = self.data.get(Space::article(id))? else {
            return Ok(None);
        };
        self.decode_shared(&bytes, read_at).map(Some)
    }

    /// Decodes an article read as `bytes` after `read_at` and keeps it for later readers.
    fn decode_shared(&self, bytes: &[u8], read_at: article_cache::Epoch) -> Result<Arc<Article>, StoreError> {
        let article = Arc::new(decode_article(bytes)?);
        self.decoded.insert(Arc::clone(&article), bytes.len(), read_at);
        Ok(article)
    }

    /// When article `id` was withdrawn, if it was (a deleted article leaves a tombstone).
    pub fn tombstone(&self, id: u64) -> Result<Option<DateTime<Utc>>, StoreError> {
        let key = Space::Tombstones.key(&keys::id_key(id));
        Ok(self
            .data
            .get(key)?
            .and_then(|v| decode_id(&v))
            .and_then(|micros| Utc.timestamp_micros(micros as i64).single()))
    }

    /// Whether `article` is scheduled (embargoed) as of the last committed batch: its
    /// `published_at` is after the release mark. Readers use this, never the clock.
    pub fn is_scheduled(&self, article: &Article) -> bool {
        article.published_at.timestamp_micros() > self.released_until.load(Ordering::Acquire)
    }

    /// One article by id as the public sees it: `None` while it is scheduled.
    pub fn get_public(&self, id: u64) -> Result<Option<Article>, StoreError> {
        Ok(self.get(id)?.filter(|a| !self.is_scheduled(a)))
    }

    /// When the earliest scheduled article is due, if any is scheduled.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(Space::Scheduled
            .iter(&self.data)
            .next()
            .transpose()?
            .and_then(|(key, _)| Position::from_key_suffix(&key))
            .and_then(|pos| Utc.timestamp_micros(pos.micros).single()))
    }

    /// Notified whenever a batch files a scheduled article (the next due instant may be earlier).
    pub fn schedule_changed(&self) -> &tokio::sync::Notify {
        &self.scheduled
    }

    /// The articles released since the last call, to announce (WebSub); see [`Store::release_due`].
    pub fn take_released(&self) -> Vec<Article> {
        std::mem::take(&mut *self.released.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Releases every scheduled article that is due, in one batch with no other write, and
    /// flushes it; does nothing when none is due. Blocking. The released articles are then
    /// waiting in [`Store::take_released`].
    pub fn release_due(&self) -> Result<(), StoreError> {
        if self.next_due()?.is_none_or(|due| due > Utc::now()) {
            return Ok(());
        }
        type NoGuard = fn(Option<&Article>) -> Result<(), ()>;
        self.write_many::<(), NoGuard>(std::iter::empty())?;
        self.flush_blocking()
    }

    /// The id the next new article will get.
    pub fn next_id(&self) -> u64 {
        self.next_id.load(Ordering::Acquire)
    }

    /// The id of a publisher's article by its `external_id`.
    pub fn id_by_external(&self, publisher: &str, external_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .data
            .get(Space::ByExternal.key(&keys::external_key(publisher, external_id)))?
            .and_then(|v| decode_id(&v)))
    }

    /// Starts a scan in feed order (newest first); see [`Scan`].
    pub fn scan<'a>(&'a self, regions: &'a [RegionCode]) -> Scan<'a> {
        Scan::new(self, regions)
    }

    /// Performs many writes in one atomic batch, each decided on its own: an op happens only if
    /// its `guard` accepts the current version of its target (a refused or failed op leaves the
    /// others alone), and the writes are committed but not yet durable — call
    /// [`Store::flush_blocking`] before acknowledging them. Later ops see the
    /// effect of earlier ones, so two lines of a batch with the same `external_id` make one
    /// article.
    ///
    /// This is what makes batches fast: one sled batch (and, after it, one flush) for many
    /// articles instead of one per article. Keep `ops` to a few hundred: applying a batch
    /// holds sled's global lock, and readers wait for it. The outer error means the batch failed
    /// and nothing was written.
    pub fn write_many<R, G>(
        &self,
        ops: impl IntoIterator<Item = (WriteOp, G)>,
    ) -> Result<Vec<Result<Committed, WriteError<R>>>, StoreError>
    where
        G: FnOnce(Option<&Article>) -> Result<(), R>,
    {
        let _lock = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Utc::now();
        let mut pending = self.begin(now);
        let mut results = Vec::new();
        for (op, guard) in ops {
            let result = self.plan(&mut pending, op, guard, now);
            if let Err(WriteError::Store(e)) = result {
                return Err(e);
            }
            results.push(result);
        }
        self.apply(pending, now)?;
        Ok(results)
    }

    /// Flushes: everything committed so far is on disk when it returns. Blocking (an fsync);
    /// the API's single writes share flushes through [`Store::submit`] instead.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The pending changes a batch at `now` starts from: the release mark moved to `now` (never
    /// back) and every scheduled article due by then released, so that each batch, whatever
    /// else it writes, leaves no due article hidden. If the due articles cannot be read, the
    /// mark stays where it is (and they stay scheduled) rather than pass articles it did not move.
    fn begin(&self, now: DateTime<Utc>) -> Pending {
        let stored = self.released_until.load(Ordering::Acquire);
        let mark = now.timestamp_micros().max(stored);
        let search = self.search.get().map(|s| search::Changes::new(s.fields()));
        match self.due(mark) {
            Ok(due) => {
                let mut pending = Pending {
                    mark,
                    search,
                    ..Pending::default()
                };
                for article in due {
                    pending.release(article);
                }
                pending
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the scheduled articles; releasing none");
                Pending {
                    mark: stored,
                    search,
                    ..Pending::default()
                }
            }
        }
    }

    /// The scheduled articles published at or before `mark`, earliest first, each with its
    /// stored bytes.
    fn due(&self, mark: i64) -> Result<Vec<(Article, IVec)>, StoreError> {
        let until = Space::Scheduled.key(
            &Position {
                micros: mark,
                id: u64::MAX,
            }
            .to_bytes(),
        );
        let mut due = Vec::new();
        for entry in self.data.range(Space::Scheduled.key(&[])..=until) {
            let (key, _) = entry?;
            let Some(pos) = Position::from_key_suffix(&key) else {
                continue;
            };
            if let Some(bytes) = self.data.get(Space::article(pos.id))? {
                due.push((decode_article(&bytes)?, bytes));
            }
        }
        Ok(due)
    }

    /// Decides one write against the store as `pending` leaves it, and records it there.
    ///
    /// The single place where an operation becomes a change: [`Store::write_many`] and the
    /// group commit of [`Store::submit`] differ only in how many of these share a batch.
    fn plan<R>(
        &self,
        pending: &mut Pending,
        op: WriteOp,
        guard: impl FnOnce(Option<&Article>) -> Result<(), R>,
        now: DateTime<Utc>,
    ) -> Result<Committed, WriteError<R>> {
        match op {
            WriteOp::Upsert { publisher, article } => {
                let existing = match pending.id_by_external(self, &publisher, &article.external_id)? {
                    Some(id) => pending.get(self, id)?,
                    None => None,
                };
                guard(existing.as_ref()).map_err(WriteError::Refused)?;
                let Some(old) = existing else {
                    let id = pending.take_id(self);
                    let new = Article::from_new(id, &publisher, article, now);
                    pending.record(None, Some(&new))?;
                    return Ok(Committed::Created(new));
                };
                let supplied = article.modified_at;
                let new = Article::from_new(0, &publisher, article, now);
                Ok(pending.update(old, new, supplied)?)
            }
            WriteOp::Replace { id, mut article } => {
                let old = pending.get(self, id)?.ok_or(WriteError::NotFound(id))?;
                guard(Some(&old)).map_err(WriteError::Refused)?;
                if article.external_id.is_empty() {
                    article.external_id = old.external_id.clone();
                } else if article.external_id != old.external_id {
                    if let Some(other) = pending.id_by_external(self, &old.publisher, &article.external_id)? {
                        return Err(WriteError::ExternalIdTaken(article.external_id, other));
                    }
                }
                let publisher = old.publisher.clone();
                let supplied = article.modified_at;
                let new = Article::from_new(id, &publisher, article, now);
                Ok(pending.update(old, new, supplied)?)
            }
            WriteOp::Delete { id } => {
                let old = pending.get(self, id)?.ok_or(WriteError::NotFound(id))?;
                guard(Some(&old)).map_err(WriteError::Refused)?;
                pending.record(Some(&old), None)?;
                pending.forget_views(old.id);
                pending.batch.insert(
                    Space::Tombstones.key(&keys::id_key(old.id)),
                    &(now.timestamp_micros() as u64).to_be_bytes()[..],
                );
                Ok(Committed::Deleted(old))
            }
        }
    }

    /// Commits every change in `pending`, with the region metadata it implies, in one atomic
    /// batch (nothing to do when it is empty).
    fn apply(&self, pending: Pending, now: DateTime<Utc>) -> Result<(), StoreError> {
        if pending.changes == 0 && pending.views.is_empty() {
            return Ok(());
        }
        let meta_changes = self.meta_changes(&pending.deltas, now.timestamp_micros());
        let mut batch = pending.batch;
        for (code, m) in &meta_changes {
            batch.insert(Space::RegionMeta.key(code.as_bytes()), &m.encode()[..]);
        }
        // Every batch that changes a public article changes `*`, and keeps the copies current.
        if let Some(all) = meta_changes.get(ALL_REGIONS) {
            region_articles::mark(&mut batch, all.generation);
        }
        if let Some(next) = pending.next_id {
            batch.insert(Space::Counters.key(space::NEXT_ID), &next.to_be_bytes()[..]);
        }
        // Only a batch that files or releases articles needs its mark kept; a batch of view
        // counts alone stays 8 bytes per article.
        let mark_moved = pending.changes > 0 && pending.mark > self.released_until.load(Ordering::Acquire);
        if mark_moved {
            batch.insert(
                Space::Counters.key(space::RELEASED_UNTIL),
                &pending.mark.to_be_bytes()[..],
            );
        }
        views::write(&pending.views, &mut batch);
        self.data.apply_batch(batch)?;
        // Into the index writer with the generations it produced; the next index commit
        // publishes both together (keyword feeds' validators, see `search`).
        self.index_changes(pending.search, &meta_changes);
        self.decoded.committed(pending.articles.keys().copied());
        if let Some(next) = pending.next_id {
            self.next_id.store(next, Ordering::Release);
        }
        if mark_moved {
            self.released_until.store(pending.mark, Ordering::Release);
        }
        if !pending.released.is_empty() {
            let mut released = self.released.lock().unwrap_or_else(|p| p.into_inner());
            released.extend(pending.released);
        }
        if pending.scheduled {
            self.scheduled.notify_one();
        }
        let mut meta = self.meta.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        meta.extend(meta_changes);
        Ok(())
    }

    /// The new metadata of every region with a change in article count `deltas` (a region whose
    /// articles changed but not in number has delta 0), and of `*`: one generation step per
    /// batch is enough, since validators only need to differ after any change.
    fn meta_changes(&self, deltas: &BTreeMap<String, i64>, now: i64) -> BTreeMap<String, RegionMeta> {
        deltas
            .iter()
            .map(|(code, delta)| {
                let prev = self.region_meta(code);
                let next = RegionMeta {
                    generation: prev.generation + 1,
                    // Never move backwards, even if the clock does: validators must not repeat.
                    last_modified_micros: now.max(prev.last_modified_micros),
                    count: prev.count.saturating_add_signed(*delta),
                };
                (code.clone(), next)
            })
            .collect()
    }
}

/// Changes decided under the writer lock but not yet committed, and the view of the store they
/// imply, so that later operations of a batch see earlier ones.
///
/// Changes are kept as the finished key-value writes (the article already encoded), not as
/// article copies: in a batch, cloning and dropping articles cost as much as sled's inserts.
#[derive(Default)]
struct Pending {
    /// Number of recorded changes.
    changes: usize,
    /// The data-tree writes; a later write of a key replaces an earlier one (an article that
    /// changed twice, or a removal and re-insert of an index entry that kept its place).
    batch: Batch,
    /// Change in article count per region (and `*`); every region touched has an entry.
    deltas: BTreeMap<String, i64>,
    /// Planned state by id: the encoded article, or `None` when deleted.
    articles: HashMap<u64, Option<IVec>>,
    /// Planned `(publisher, external_id)` map (`None` = no longer mapped).
    external: HashMap<Vec<u8>, Option<u64>>,
    /// The next id after the articles this batch creates (None = it creates none).
    next_id: Option<u64>,
    /// New counted views by article id ([`views`]): written with the batch, never an article.
    views: HashMap<u64, u64>,
    /// The release mark of this batch (see [`Store::begin`]): an article published after it is
    /// filed as scheduled, any other as public.
    mark: i64,
    /// Articles this batch releases.
    released: Vec<Article>,
    /// Whether this batch files any article as scheduled.
    scheduled: bool,
    /// What the batch does to the keyword index, when one is open.
    search: Option<search::Changes>,
}

impl Pending {
    /// A new article's id: the next one after the committed ones and those planned before it.
    fn take_id(&mut self, store: &Store) -> u64 {
        let id = self.next_id.unwrap_or_else(|| store.next_id());
        self.next_id = Some(id + 1);
        id
    }

    fn get(&self, store: &Store, id: u64) -> Result<Option<Article>, StoreError> {
        match self.articles.get(&id) {
            Some(planned) => planned.as_deref().map(decode_article).transpose(),
            None => store.get(id),
        }
    }

    fn id_by_external(
        &self,
        store: &Store,
        publisher: &str,
        external_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        match self.external.get(&keys::external_key(publisher, external_id)) {
            Some(planned) => Ok(*planned),
            None => store.id_by_external(publisher, external_id),
        }
    }

    /// Records `old` becoming `new`, unless nothing but `updated_at` would change: re-sending
    /// an article as it is must not move its `updated_at`, its `modified_at`, its ETag or any
    /// feed's validators. `new.id` is taken from `old`; `new.modified_at` is decided by
    /// [`Article::modified_after`] from the publisher's `supplied` one.
    fn update(
        &mut self,
        old: Article,
        mut new: Article,
        supplied: Option<DateTime<FixedOffset>>,
    ) -> Result<Committed, StoreError> {
        new.id = old.id;
        // Every change moves `updated_at` forward, even two within one clock tick: rendered
        // items are cached by (id, updated_at) (see `feed::stitch`), so it must name the content.
        let now = new
            .updated_at
            .max(old.updated_at + chrono::Duration::microseconds(1));
        new.modified_at = new.modified_after(&old, supplied, now);
        new.updated_at = old.updated_at;
        if new == old {
            return Ok(Committed::Unchanged(old));
        }
        new.updated_at = now;
        self.record(Some(&old), Some(&new))?;
        Ok(Committed::Updated { old, new })
    }

    /// Plans the writes that replace `old` by `new` (either may be absent): the article, its
    /// time and region index entries, its external id, and the region counts.
    fn record(&mut self, old: Option<&Article>, new: Option<&Article>) -> Result<(), StoreError> {
        // Encode first: a failure must leave nothing of this change recorded.
        let bytes = match new {
            Some(new) => Some(IVec::from(serde_json::to_vec(new).map_err(|e| {
                StoreError::Corrupt {
                    tree: "articles",
                    reason: format!("cannot encode article: {e}"),
                }
            })?)),
            None => None,
        };
        if let Some(old) = old {
            let external = keys::external_key(&old.publisher, &old.external_id);
            self.batch.remove(&Space::article(old.id)[..]);
            self.batch.remove(Space::ByExternal.key(&external));
            self.unindex(old);
            self.articles.insert(old.id, None);
            self.external.insert(external, None);
        }
        if let (Some(new), Some(bytes)) = (new, bytes) {
            let external = keys::external_key(&new.publisher, &new.external_id);
            let id = keys::id_key(new.id);
            self.batch.insert(&Space::article(new.id)[..], bytes.clone());
            self.batch.insert(Space::ByExternal.key(&external), &id[..]);
            self.index(new, &bytes);
            self.articles.insert(new.id, Some(bytes));
            self.external.insert(external, Some(new.id));
        }
        self.changes += 1;
        Ok(())
    }

    /// Whether `article` is public in this batch: published at or before its mark.
    fn is_public(&self, article: &Article) -> bool {
        article.published_at.timestamp_micros() <= self.mark
    }

    /// Files `article`, stored as `bytes`, in the public indexes (and its regions' counts), or
    /// under [`Space::Scheduled`] only, which changes no region.
    fn index(&mut self, article: &Article, bytes: &IVec) {
        let pos = Position::of(&article.published_at, article.id);
        if !self.is_public(article) {
            self.batch
                .insert(Space::Scheduled.key(&pos.to_bytes()), IVec::default());
            self.scheduled = true;
            return;
        }
        if let Some(changes) = &mut self.search {
            changes.put(article);
        }
        self.batch
            .insert(Space::ByTime.key(&pos.to_bytes()), IVec::default());
        for region in &article.regions {
            let key = keys::region_key(region.as_str(), pos);
            self.batch.insert(Space::ByRegion.key(&key), IVec::default());
            self.batch.insert(Space::RegionArticles.key(&key), bytes.clone());
            *self.deltas.entry(region.to_string()).or_default() += 1;
        }
        *self.deltas.entry(ALL_REGIONS.to_string()).or_default() += 1;
    }

    /// Undoes [`Pending::index`] for the stored `article`.
    fn unindex(&mut self, article: &Article) {
        let pos = Position::of(&article.published_at, article.id);
        if !self.is_public(article) {
            self.batch.remove(Space::Scheduled.key(&pos.to_bytes()));
            return;
        }
        if let Some(changes) = &mut self.search {
            changes.remove(article.id);
        }
        self.batch.remove(Space::ByTime.key(&pos.to_bytes()));
        for region in &article.regions {
            let key = keys::region_key(region.as_str(), pos);
            self.batch.remove(Space::ByRegion.key(&key));
            self.batch.remove(Space::RegionArticles.key(&key));
            *self.deltas.entry(region.to_string()).or_default() -= 1;
        }
        *self.deltas.entry(ALL_REGIONS.to_string()).or_default() -= 1;
    }

    /// Moves a scheduled `article` that came due (its time is at or before the mark) from
    /// [`Space::Scheduled`] into the public indexes: to its feeds, a new article.
    fn release(&mut self, (article, bytes): (Article, IVec)) {
        let pos = Position::of(&article.published_at, article.id);
        self.batch.remove(Space::Scheduled.key(&pos.to_bytes()));
        self.index(&article, &bytes);
        self.changes += 1;
        self.released.push(article);
    }
}

/// Decodes a stored article.
///
/// The bytes are checked as UTF-8 once, with SIMD, and parsed as a `str`: `from_slice` checks
/// every string on its own with the standard library's scalar check, which made decoding half
/// again as slow (3.4 against 2.2 µs per article over 3,000 articles of the 100k bench store,
/// 1.5 KB of mostly Cyrillic JSON each). A page that misses every cache decodes each of its
/// items; `cargo bench --bench feeds -- render/decode` follows this.
pub fn decode_article(bytes: &[u8]) -> Result<Article, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: "articles",
        reason,
    };
    let text = simdutf8::compat::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))
}

/// The stored next id, or, in a store written before the counter existed, one more than the
/// highest id ever used (live or withdrawn), so that every existing id is kept and none reused.
fn next_id(data: &sled::Tree) -> Result<u64, StoreError> {
    if let Some(v) = data.get(Space::Counters.key(space::NEXT_ID))? {
        return decode_id(&v).ok_or_else(|| StoreError::Corrupt {
            tree: Space::Counters.name(),
            reason: "next_id is not 8 bytes".to_string(),
        });
    }
    let mut highest = 0;
    for space in [Space::Articles, Space::Tombstones] {
        if let Some(entry) = space.iter(data).next_back() {
            highest = highest.max(decode_id(&entry?.0).unwrap_or(0));
        }
    }
    Ok(highest + 1)
}

/// The stored release mark. A store written before scheduling existed has every article in the
/// public indexes, so its mark starts at the latest of now and its newest article, written at
/// once so that it never depends on when the store is opened.
fn released_until(data: &sled::Tree) -> Result<i64, StoreError> {
    let key = Space::Counters.key(space::RELEASED_UNTIL);
    if let Some(v) = data.get(&key)? {
        return decode_id(&v)
            .map(|m| m as i64)
            .ok_or_else(|| StoreError::Corrupt {
                tree: Space::Counters.name(),
                reason: "released_until is not 8 bytes".to_string(),
            });
    }
    let newest = match Space::ByTime.iter(data).next_back() {
        Some(entry) => Position::from_key_suffix(&entry?.0).map_or(i64::MIN, |pos| pos.micros),
        None => i64::MIN,
    };
    let mark = newest.max(Utc::now().timestamp_micros());
    data.insert(key, &mark.to_be_bytes()[..])?;
    Ok(mark)
}

fn decode_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_article_that_is_not_utf8_is_named_corrupt_not_decoded() {
        let mut bytes = r#"{"id":1,"title":"Нижний"#.as_bytes().to_vec();
        bytes.extend_from_slice(&[0xd0, 0x22, b'}']);
        match decode_article(&bytes) {
            Err(StoreError::Corrupt { tree, reason }) => {
                assert_eq!(tree, "articles");
                assert!(reason.contains("utf-8") || reason.contains("UTF-8"), "{reason}");
                assert!(reason.contains("29"), "names where the bad byte is: {reason}");
            }
            other => panic!("expected a corrupt record, got {other:?}"),
        }
        assert!(matches!(
            decode_article(br#"{"id":1,"title":"ok"}"#),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
