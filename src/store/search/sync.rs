//! Keeping the keyword index in step with the store: opening it (rebuilt when missing or
//! behind), a batch's changes, a full rebuild, and the search a feed page runs.

use std::collections::BTreeMap;
use std::path::Path;

use super::{indexer, Filters, SearchIndex, SearchTerms};
use crate::store::keys::Position;
use crate::store::space::Space;
use crate::store::{RegionMeta, Store, StoreError, ALL_REGIONS};

impl Store {
    /// Opens the keyword index in `data_dir` (the store's own directory) with an indexing memory
    /// budget of `budget_mb` MiB, and rebuilds it from the store when it is missing or its
    /// watermark is not the store's (behind after a crash, or ahead of a store restored from a
    /// backup); `progress` is told `(done, total)` articles of a rebuild. From then on every
    /// batch keeps it current. Returns whether it rebuilt. Call once, before serving.
    pub fn open_search(
        &self,
        data_dir: &Path,
        budget_mb: u64,
        progress: impl FnMut(u64, u64),
    ) -> Result<bool, StoreError> {
        let index = SearchIndex::open(data_dir, budget_mb)?;
        let _lock = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.region_meta(ALL_REGIONS).generation;
        let stale = index.watermark() != Some(current);
        if stale {
            tracing::info!(
                index = ?index.watermark(),
                store = current,
                "the search index is missing or behind the store; rebuilding it"
            );
            self.rebuild_into(&index, progress)?;
        } else {
            index.set_published_meta(self.meta_snapshot());
        }
        // A second call keeps the first index; the writes already update that one.
        let _ = self.search.set(index);
        Ok(stale)
    }

    /// Rebuilds the open keyword index from the store (`lenta reindex`); returns the number of
    /// articles indexed.
    pub fn reindex(&self, progress: impl FnMut(u64, u64)) -> Result<u64, StoreError> {
        let index = self.search.get().ok_or(StoreError::SearchClosed)?;
        let _lock = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.rebuild_into(index, progress)
    }

    /// Indexes every public article (the all-regions feed index) into `index`, replacing what it
    /// held, under the writer lock so that no batch lands meanwhile.
    fn rebuild_into(
        &self,
        index: &SearchIndex,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64, StoreError> {
        let total = self.region_meta(ALL_REGIONS).count;
        let watermark = self.region_meta(ALL_REGIONS).generation;
        let fields = index.fields();
        let docs = Space::ByTime.iter(&self.data).filter_map(move |entry| {
            let id = match entry {
                Ok((key, _)) => Position::from_key_suffix(&key)?.id,
                Err(e) => return Some(Err(StoreError::from(e))),
            };
            self.get(id)
                .transpose()
                .map(|a| a.map(|a| indexer::document(&fields, &a)))
        });
        let added = index.rebuild(docs, watermark, |done| progress(done, total))?;
        index.set_published_meta(self.meta_snapshot());
        Ok(added)
    }

    /// Every region's metadata as it stands.
    fn meta_snapshot(&self) -> std::collections::HashMap<String, RegionMeta> {
        self.meta.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Adds a batch's index changes and the region metadata it produced to the index writer;
    /// the next commit ([`Store::commit_search`]) publishes them. A failure is logged and leaves
    /// the index marked broken (searches answer 503 until a restart rebuilds it); the write
    /// itself stands, as sled already holds it.
    pub(in crate::store) fn index_changes(
        &self,
        changes: Option<super::Changes>,
        meta_changes: &BTreeMap<String, RegionMeta>,
    ) {
        let (Some(index), Some(changes)) = (self.search.get(), changes) else {
            return;
        };
        if changes.is_empty() && meta_changes.is_empty() {
            return;
        }
        if let Err(e) = index.apply(changes, meta_changes) {
            tracing::error!(error = %e, "search index update failed; searches answer 503 until a restart rebuilds it");
        }
    }

    /// Commits the keyword index: the writes since its last commit become findable, and keyword
    /// feeds' validators move to their generations. Returns whether there was anything to
    /// commit; nothing to do when the index is not open. Called by the commit task on a timer
    /// and once more on a graceful stop.
    pub fn commit_search(&self) -> Result<bool, StoreError> {
        match self.search.get() {
            Some(index) => Ok(index.commit()?),
            None => Ok(false),
        }
    }

    /// What the keyword index's last commit published (its searcher and the region metadata
    /// it reflects): keyword feeds' validators (see [`super`]); None when the index is not open.
    pub fn search_published(&self) -> Option<std::sync::Arc<super::Published>> {
        self.search.get().map(SearchIndex::published)
    }

    /// Bulk mode of the keyword index for an offline load (see [`SearchIndex::set_bulk`]);
    /// turning it off commits what is pending. Nothing to do when the index is not open.
    pub fn set_search_bulk(&self, on: bool) -> Result<(), StoreError> {
        match self.search.get() {
            Some(index) => Ok(index.set_bulk(on)?),
            None => Ok(()),
        }
    }

    /// The positions of up to `limit` public articles matching `terms` within `filters`, in
    /// feed order; see [`SearchIndex::search`].
    pub fn search(
        &self,
        terms: &SearchTerms,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<Position>, StoreError> {
        let index = self.search.get().ok_or(StoreError::SearchClosed)?;
        Ok(index.search(terms, filters, limit)?)
    }

    /// Whether the keyword index is open (`q=` is answered).
    pub fn search_open(&self) -> bool {
        self.search.get().is_some()
    }
}
