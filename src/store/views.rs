//! View counts: the views lenta counted for an article (`POST /api/articles/{id}/views`), kept in
//! their own key space ([`Space::Views`], id → u64 big-endian), never in the article.
//!
//! A view is not a content change. Counting one by rewriting the article would re-encode a
//! record of kilobytes and re-insert its index entries for an 8-byte number, and step its
//! regions' generations, so every feed's validators would change on every page view. Here an
//! increment is planned in the store's group commit ([`super::flusher`]): increments of one group
//! are merged per article (one 8-byte insert however many views it got) into the group's atomic
//! batch, whose single flush makes them durable before any is acknowledged. Only group commits
//! write this space, under the writer lock, so read-add-insert cannot lose an increment.
//!
//! Region metadata is untouched: feeds and the article API keep their validators. A withdrawn
//! article's counter is removed in its delete batch (its id is never reused).

use std::collections::HashMap;

use sled::Batch;
use tokio::sync::oneshot;

use super::flusher::{Completion, Job, Submitted};
use super::space::Space;
use super::{decode_id, keys, Pending, Store, StoreError, WriteError};
use crate::model::Article;

impl Store {
    /// The views counted for article `id` (0 when none were, or for an unknown id).
    pub fn views(&self, id: u64) -> Result<u64, StoreError> {
        match self.data.get(key(id))? {
            None => Ok(0),
            Some(v) => decode_id(&v).ok_or_else(|| StoreError::Corrupt {
                tree: Space::Views.name(),
                reason: format!("views of article {id} are not 8 bytes"),
            }),
        }
    }

    /// Queues `add` views of article `id` for the next group commit, if `guard` accepts the
    /// article (authorization); the outcome, once on disk, is the article's new counted views.
    /// As with [`Store::submit`], the caller runs [`Store::lead`] when [`Submitted::lead`] says.
    pub fn submit_views<R, G>(&self, id: u64, add: u64, guard: G) -> Submitted<R, u64>
    where
        R: Send + 'static,
        G: FnOnce(&Article) -> Result<(), R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store, pending, _now| {
            let planned = pending.add_views(store, id, add, guard);
            let complete: Completion = Box::new(move |outcome| {
                let result = match (planned, outcome) {
                    (Ok(count), Ok(())) => Ok(count),
                    (Ok(_), Err(e)) => Err(WriteError::Store(StoreError::Group(e.to_string()))),
                    (Err(e), _) => Err(e),
                };
                // The requester may have gone; the counted views stand regardless.
                let _ = tx.send(result);
            });
            complete
        });
        Submitted {
            result: rx,
            lead: self.enqueue(job),
        }
    }
}

impl Pending {
    /// Plans `add` more views of live article `id`; returns its counted views after them.
    fn add_views<R>(
        &mut self,
        store: &Store,
        id: u64,
        add: u64,
        guard: impl FnOnce(&Article) -> Result<(), R>,
    ) -> Result<u64, WriteError<R>> {
        let article = self.get(store, id)?.ok_or(WriteError::NotFound(id))?;
        guard(&article).map_err(WriteError::Refused)?;
        let current = match self.views.get(&id) {
            Some(planned) => *planned,
            None => store.views(id)?,
        };
        let count = current.saturating_add(add);
        self.views.insert(id, count);
        Ok(count)
    }

    /// Drops the counter of an article deleted in this batch, planned increments included.
    pub(super) fn forget_views(&mut self, id: u64) {
        self.views.remove(&id);
        self.batch.remove(key(id));
    }
}

/// Adds the planned counters to the group's batch.
pub(super) fn write(views: &HashMap<u64, u64>, batch: &mut Batch) {
    for (id, count) in views {
        batch.insert(key(*id), &count.to_be_bytes()[..]);
    }
}

/// The data-tree key of article `id`'s counter.
fn key(id: u64) -> Vec<u8> {
    Space::Views.key(&keys::id_key(id))
}

impl Store {
    /// `lenta check`: every counter is 8 bytes and belongs to a live article (`ids`, sorted).
    pub(super) fn check_views(&self, ids: &[u64], problems: &mut Vec<String>) -> Result<(), StoreError> {
        for entry in Space::Views.iter(&self.data) {
            let (k, v) = entry?;
            match (decode_id(&k), v.len()) {
                (None, _) => problems.push("views: key is not an id".to_string()),
                (Some(id), 8) if ids.binary_search(&id).is_ok() => {}
                (Some(id), 8) => {
                    problems.push(format!("views: counter of article {id}, which does not exist"))
                }
                (Some(id), n) => problems.push(format!("views of article {id}: {n} bytes, not 8")),
            }
        }
        Ok(())
    }
}

/// What ranking an article by views needs of it ([`crate::popular`]): its total views and its
/// categories (for the category filter), read without building the rest of the article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Popularity {
    /// The publisher's `views` plus the views counted by lenta: the total the views endpoint
    /// answers and the article page shows.
    pub views: u64,
    /// The article's categories, as stored.
    pub categories: Vec<String>,
}

/// The two stored fields [`Popularity`] needs; serde skips the others (title, body, …) without
/// allocating them, which is most of a ranking's cost over tens of thousands of candidates.
#[derive(serde::Deserialize)]
struct StoredStats {
    #[serde(default)]
    views: Option<u64>,
    #[serde(default)]
    categories: Vec<String>,
}

impl Store {
    /// The [`Popularity`] of article `id`, or `None` when it does not exist.
    pub fn popularity(&self, id: u64) -> Result<Option<Popularity>, StoreError> {
        let Some(bytes) = self.data.get(Space::article(id))? else {
            return Ok(None);
        };
        let stats: StoredStats = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            tree: Space::Articles.name(),
            reason: format!("article {id}: {e}"),
        })?;
        Ok(Some(Popularity {
            views: stats.views.unwrap_or(0).saturating_add(self.views(id)?),
            categories: stats.categories,
        }))
    }
}
