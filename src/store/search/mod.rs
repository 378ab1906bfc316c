//! Keyword search over the public articles: a tantivy index in `<data>/search/`, derived from
//! the store.
//!
//! Why tantivy: an embedded, pure-Rust inverted index with positions (phrases), Snowball
//! stemmers for Russian and English, fast fields for ordering by date, and crash-safe commits
//! that carry a payload. sled can keep sorted keys but not postings intersected word by word;
//! a scan that reads every article of a region per query would cost what the store holds.
//!
//! Why derived: sled is the truth. The index holds only what a query needs (the analyzed text,
//! the region and category terms, `published` and `id`), never an article; a search gives ids in
//! feed order and sled gives the articles, so renderers take a page as for any feed. Every
//! commit of the index carries, as its payload, the store's all-regions generation it reflects
//! (the watermark, bumped by exactly the batches that change a public article). On open, an
//! index that is missing or whose watermark differs from the store's is rebuilt from sled
//! ([`crate::store::Store::open_search`]), which is also how the index catches up after a crash.
//!
//! Why committed on a timer: a tantivy commit (segment files and an fsync) costs far more than
//! the write batch it follows; one per batch cut single API writes to a sixteenth of their rate.
//! So a batch only adds and deletes its documents in the writer ([`SearchIndex::apply`], cheap)
//! and records the region metadata it produced; a background task commits every
//! `--search-commit-ms` ([`SearchIndex::commit`], see `crate::http::search_commit`), a write
//! commits itself when [`SERVE_COMMIT_CHANGES`] changes are pending, and a graceful stop commits
//! once more. Each commit publishes its searcher together with the region generations of the
//! batches it contains ([`Published`]); a keyword feed takes its validators from those, not from
//! the live generations, so it never caches or validates a body under generations claiming a
//! write the index does not show yet, and its `ETag` changes when a commit makes a matching write
//! visible. Writes acknowledged but not yet committed when the process dies leave the index's
//! watermark behind the store's, and the next start rebuilds it. If a commit fails, the index is
//! marked broken and searches fail (503) until a restart rebuilds it, rather than serve results
//! that disagree with their validators.
//!
//! Parts: [`analyzer`] (schema and the Russian/English analyzer), [`terms`] (the reader's
//! query syntax), [`query`] (terms and filters to a tantivy query), [`collect`] (feed order),
//! [`indexer`] (articles to documents, batches to changes).

pub mod analyzer;
mod collect;
pub mod indexer;
pub mod query;
mod sync;
pub mod terms;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::store::keys::Position;
use crate::store::RegionMeta;
use analyzer::Fields;
use collect::InFeedOrder;
pub use indexer::Changes;
pub use query::Filters;
pub use terms::{SearchTerms, TermsError};

/// Name of the index directory inside the data directory.
pub const DIR_NAME: &str = "search";

/// Smallest indexing memory budget tantivy accepts for its one indexing thread, in MiB.
pub const MIN_BUDGET_MB: u64 = 15;

/// Errors of the search index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed.
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory could not be created or opened.
    #[error("search index directory {0}: {1}")]
    Dir(PathBuf, String),
    /// An earlier commit failed, so the index no longer matches the store.
    #[error("the search index fell behind the store after a failed commit; restart lenta to rebuild it")]
    Broken,
    /// The memory budget is below tantivy's minimum.
    #[error("--search-index-mb {0} is too small; at least {MIN_BUDGET_MB} MiB")]
    Budget(u64),
}

/// The search index: one writer (batches add to it under the store's writer lock, commits take
/// it from the commit task) and what the last commit published.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
    broken: AtomicBool,
    /// The last commit's searcher and generations, swapped whole by the next commit.
    published: RwLock<Arc<Published>>,
    /// Pending changes at which a batch commits itself ([`SERVE_COMMIT_CHANGES`], or
    /// [`BULK_COMMIT_CHANGES`] in bulk mode).
    commit_at: AtomicU64,
}

/// The tantivy writer and what it holds beyond the last commit.
struct Writer {
    writer: IndexWriter,
    /// Documents added or deleted since the last commit.
    changes: u64,
    /// Region metadata the batches since the last commit produced (last one wins).
    meta: BTreeMap<String, RegionMeta>,
    /// The store's all-regions generation the next commit reflects, when it moved.
    watermark: Option<u64>,
}

/// What one commit made searchable: its searcher, and the region metadata of the store as of
/// the last batch it contains. A keyword feed's validators come from here (see the module doc).
pub struct Published {
    searcher: Searcher,
    meta: HashMap<String, RegionMeta>,
}

impl Published {
    /// Region `code`'s (or `*`'s) metadata as this commit shows it.
    pub fn region_meta(&self, code: &str) -> RegionMeta {
        self.meta.get(code).copied().unwrap_or_default()
    }
}

impl SearchIndex {
    /// Opens the index in `<data_dir>/search/`, creating an empty one when it is missing or
    /// unreadable (it is rebuilt from the store then), with an indexing memory budget of
    /// `budget_mb` MiB.
    pub fn open(data_dir: &Path, budget_mb: u64) -> Result<Self, SearchError> {
        if budget_mb < MIN_BUDGET_MB {
            return Err(SearchError::Budget(budget_mb));
        }
        let dir = data_dir.join(DIR_NAME);
        let index = match open_existing(&dir) {
            Some(index) => index,
            None => create(&dir)?,
        };
        let (_, fields) = analyzer::schema();
        index
            .tokenizers()
            .register(analyzer::ANALYZER, analyzer::analyzer());
        let writer = index.writer_with_num_threads(1, (budget_mb << 20) as usize)?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let published = Published {
            searcher: reader.searcher(),
            meta: HashMap::new(),
        };
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(Writer {
                writer,
                changes: 0,
                meta: BTreeMap::new(),
                watermark: None,
            }),
            fields,
            broken: AtomicBool::new(false),
            published: RwLock::new(Arc::new(published)),
            commit_at: AtomicU64::new(SERVE_COMMIT_CHANGES),
        })
    }

    /// What the last commit published.
    pub fn published(&self) -> Arc<Published> {
        Arc::clone(&self.published.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Declares that the committed index reflects the store whose region metadata is `meta`
    /// (after opening or rebuilding it, under the store's writer lock).
    pub fn set_published_meta(&self, meta: HashMap<String, RegionMeta>) {
        let searcher = self.reader.searcher();
        *self.published.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Published { searcher, meta });
    }

    /// The store generation the last commit reflects (None for a new or foreign index).
    pub fn watermark(&self) -> Option<u64> {
        self.index
            .load_metas()
            .ok()?
            .payload
            .and_then(|p| p.strip_prefix("generation:")?.parse().ok())
    }

    /// The fields, for building [`Changes`].
    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// Adds one batch's changes to the writer, with the region metadata `meta` the batch
    /// produced, without committing them (see the module doc) unless the pending changes reach
    /// the commit threshold. On failure the index is marked broken.
    pub fn apply(&self, changes: Changes, meta: &BTreeMap<String, RegionMeta>) -> Result<(), SearchError> {
        self.unless_broken(|| {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            for (id, delete, doc) in changes.into_docs() {
                if delete {
                    w.writer.delete_term(Term::from_field_u64(self.fields.id, id));
                }
                if let Some(doc) = doc {
                    w.writer.add_document(doc)?;
                }
                w.changes += 1;
            }
            if let Some(all) = meta.get(crate::store::ALL_REGIONS) {
                w.watermark = Some(all.generation);
            }
            w.meta.extend(meta.iter().map(|(code, m)| (code.clone(), *m)));
            if w.changes >= self.commit_at.load(Ordering::Relaxed) {
                self.commit_locked(&mut w)?;
            }
            Ok(())
        })
    }

    /// Commits what the batches since the last commit added (nothing to do when none moved the
    /// store), publishing it to searches and keyword feeds' validators together. Returns
    /// whether it committed. On failure the index is marked broken.
    pub fn commit(&self) -> Result<bool, SearchError> {
        self.unless_broken(|| {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            self.commit_locked(&mut w)
        })
    }

    /// Runs `work` unless the index is broken, and marks it broken when `work` fails.
    fn unless_broken<T>(&self, work: impl FnOnce() -> Result<T, SearchError>) -> Result<T, SearchError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SearchError::Broken);
        }
        let result = work();
        if result.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        result
    }

    fn commit_locked(&self, w: &mut Writer) -> Result<bool, SearchError> {
        let watermark = match w.watermark.take() {
            Some(watermark) => watermark,
            // Changes without an all-regions step (none are expected) keep the old watermark.
            None if w.changes > 0 => self.watermark().unwrap_or_default(),
            None => return Ok(false),
        };
        commit(&mut w.writer, watermark)?;
        self.reader.reload()?;
        w.changes = 0;
        let mut meta = self.published().meta.clone();
        meta.extend(std::mem::take(&mut w.meta));
        let searcher = self.reader.searcher();
        *self.published.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Published { searcher, meta });
        Ok(true)
    }

    /// Turns bulk mode on or off. In bulk mode a batch commits itself only at
    /// [`BULK_COMMIT_CHANGES`] pending changes, not [`SERVE_COMMIT_CHANGES`], and turning it off
    /// commits what is pending: for offline loads that nobody reads meanwhile (`lenta import`,
    /// which holds the data directory and runs no commit task). A crash before the last commit
    /// leaves the index behind its store, which the next open rebuilds.
    pub fn set_bulk(&self, on: bool) -> Result<(), SearchError> {
        let at = if on {
            BULK_COMMIT_CHANGES
        } else {
            SERVE_COMMIT_CHANGES
        };
        self.commit_at.store(at, Ordering::Relaxed);
        if !on {
            self.commit()?;
        }
        Ok(())
    }

    /// Replaces the whole index by `docs` and commits it with `watermark`; `progress` is told
    /// how many documents were added so far. Until that commit, searches see the old index and a
    /// crash leaves it (with its old watermark, so the next open rebuilds again).
    pub fn rebuild(
        &self,
        docs: impl Iterator<Item = Result<TantivyDocument, crate::store::StoreError>>,
        watermark: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, crate::store::StoreError> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.writer.delete_all_documents().map_err(SearchError::from)?;
        let mut added = 0u64;
        for doc in docs {
            w.writer.add_document(doc?).map_err(SearchError::from)?;
            added += 1;
            if added.is_multiple_of(1000) {
                progress(added);
            }
        }
        commit(&mut w.writer, watermark)?;
        self.reader.reload().map_err(SearchError::from)?;
        w.changes = 0;
        w.meta.clear();
        w.watermark = None;
        self.broken.store(false, Ordering::Release);
        progress(added);
        Ok(added)
    }

    /// The positions of up to `limit` matches of `terms` within `filters`, in feed order
    /// (newest first; oldest first after an `after` cursor).
    pub fn search(
        &self,
        terms: &SearchTerms,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Position>, SearchError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(SearchError::Broken);
        }
        let published = self.published();
        let searcher = &published.searcher;
        let (oldest, newest) = filters.instants();
        let collector = InFeedOrder {
            limit,
            before: filters.before,
            after: filters.after,
            oldest,
            newest,
        };
        let run = |window: Option<(i64, i64)>| -> Result<Vec<Position>, SearchError> {
            let query = query::build(&self.fields, terms, filters, window);
            let found = searcher.search(query.as_ref(), &collector)?;
            Ok(found.into_iter().map(|(_, p)| p).collect())
        };
        let Some(plan) = self.windows(searcher, terms, filters, limit)? else {
            return run(None);
        };
        // The newest `days` days first, eight times as many after each short page: a window
        // holds every match newer than its first day, so a full page from it is the page.
        let mut days = plan.first_days;
        while days < plan.span_days {
            let found = run(Some((plan.last_day - days + 1, plan.last_day)))?;
            if found.len() >= limit {
                return Ok(found);
            }
            days = days.saturating_mul(8);
        }
        run(None)
    }

    /// How to walk a newest-first search back in day windows, or None to search all at once:
    /// when walking oldest first (an `after` cursor), when the words are rare enough that
    /// visiting every match is cheap, or when the index is empty.
    ///
    /// Without this, a common word («работы», in most articles) costs a visit to every match to
    /// keep the newest 50. Only words in at least one article in [`WINDOW_MIN_SHARE_INVERSE`]
    /// walk in windows. The first window expects twice `limit` matches, from the rarest word's
    /// document frequency times the share of the requested regions and categories, spread
    /// evenly over the days the index covers.
    fn windows(
        &self,
        searcher: &tantivy::Searcher,
        terms: &SearchTerms,
        filters: &Filters,
        limit: usize,
    ) -> Result<Option<Windows>, SearchError> {
        if filters.after.is_some() {
            return Ok(None);
        }
        let Some((first, last)) = self.published_span(searcher)? else {
            return Ok(None);
        };
        let docs = searcher.num_docs().max(1);
        let word_matches = self.expected_matches(searcher, terms)?;
        // A rare word's matches are cheap to visit all, and its windows would have to be wide.
        if word_matches <= (WINDOW_MIN_MATCHES_PER_ITEM * limit) as u64
            || word_matches * WINDOW_MIN_SHARE_INVERSE < docs
        {
            return Ok(None);
        }
        let share = |field: tantivy::schema::Field,
                     values: &mut dyn Iterator<Item = &str>|
         -> Result<f64, SearchError> {
            let mut freq = 0;
            for value in values {
                freq += searcher.doc_freq(&Term::from_field_text(field, value))?;
            }
            Ok((freq as f64 / docs as f64).min(1.0))
        };
        let mut expected = word_matches as f64;
        if !filters.regions.is_empty() {
            expected *= share(
                self.fields.region,
                &mut filters.regions.iter().map(|r| r.as_str()),
            )?;
        }
        if !filters.categories.is_empty() {
            expected *= share(
                self.fields.category,
                &mut filters.categories.iter().map(String::as_str),
            )?;
        }
        let (_, newest) = filters.instants();
        let last_day = day_of(newest.map_or(last, |n| n.min(last)));
        let span_days = last_day - day_of(first) + 1;
        let index_days = (day_of(last) - day_of(first) + 1).max(1);
        let per_day = (expected / index_days as f64).max(f64::MIN_POSITIVE);
        let first_days = ((2 * limit) as f64 / per_day).ceil().clamp(1.0, i64::MAX as f64) as i64;
        Ok(Some(Windows {
            last_day,
            span_days,
            first_days,
        }))
    }

    /// The fewest articles the words can match: the smallest document frequency of a word to
    /// find (summed over the text fields), or of a phrase's rarest word.
    fn expected_matches(
        &self,
        searcher: &tantivy::Searcher,
        terms: &SearchTerms,
    ) -> Result<u64, SearchError> {
        let mut fewest = searcher.num_docs();
        let words = terms
            .all
            .iter()
            .map(String::as_str)
            .chain(terms.phrases.iter().flatten().map(String::as_str));
        for word in words {
            for (_, token) in analyzer::tokens(word) {
                let mut freq = 0;
                for field in self.fields.text() {
                    freq += searcher.doc_freq(&Term::from_field_text(field, &token))?;
                }
                fewest = fewest.min(freq);
            }
        }
        Ok(fewest)
    }

    /// The oldest and newest `published` instant in the index, None when it is empty.
    fn published_span(&self, searcher: &tantivy::Searcher) -> Result<Option<(i64, i64)>, SearchError> {
        let mut span: Option<(i64, i64)> = None;
        for segment in searcher.segment_readers() {
            if segment.num_docs() == 0 {
                continue;
            }
            let column = segment.fast_fields().i64("published")?;
            let (lo, hi) = (column.min_value(), column.max_value());
            span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        Ok(span)
    }

    /// Bytes the index takes on disk.
    pub fn disk_bytes(data_dir: &Path) -> u64 {
        std::fs::read_dir(data_dir.join(DIR_NAME))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Changes an offline bulk load commits at once (see [`SearchIndex::set_bulk`]).
pub const BULK_COMMIT_CHANGES: u64 = 100_000;

/// Pending changes at which a serving write commits the index itself rather than wait for the
/// commit task: bounds how far searches lag during a burst of writes (an import over the API).
pub const SERVE_COMMIT_CHANGES: u64 = 50_000;

/// Below this many expected matches per requested item, a search visits every match at once.
const WINDOW_MIN_MATCHES_PER_ITEM: usize = 20;

/// Words in fewer than one article in this many are searched at once, never in day windows.
const WINDOW_MIN_SHARE_INVERSE: u64 = 20;

/// Day windows of a newest-first search (see [`SearchIndex::windows`]).
struct Windows {
    /// The newest day a match can be on.
    last_day: i64,
    /// Days from the oldest article in the index to `last_day`.
    span_days: i64,
    /// Days in the first window.
    first_days: i64,
}

/// The UTC day (days since the epoch) of an instant in microseconds: the `day` field.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000)
}

/// Commits everything added and deleted so far, with the watermark as the payload.
fn commit(writer: &mut IndexWriter, watermark: u64) -> Result<(), SearchError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&format!("generation:{watermark}"));
    prepared.commit()?;
    Ok(())
}

/// The index in `dir` if it opens with lenta's schema; None otherwise (missing, damaged, or of
/// another schema: all are rebuilt).
fn open_existing(dir: &Path) -> Option<Index> {
    let index = Index::open_in_dir(dir).ok()?;
    (index.schema() == analyzer::schema().0).then_some(index)
}

/// A new, empty index in `dir`, replacing whatever was there.
fn create(dir: &Path) -> Result<Index, SearchError> {
    let fail = |e: std::io::Error| SearchError::Dir(dir.to_path_buf(), e.to_string());
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(fail)?;
    }
    std::fs::create_dir_all(dir).map_err(fail)?;
    let directory =
        MmapDirectory::open(dir).map_err(|e| SearchError::Dir(dir.to_path_buf(), e.to_string()))?;
    Ok(Index::create(
        directory,
        analyzer::schema().0,
        Default::default(),
    )?)
}
