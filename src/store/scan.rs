//! Bounded reverse range scans, merged across regions.
//!
//! A feed page is read by walking one index backwards from the newest allowed position: the
//! all-regions index for an unfiltered feed, or one per-region index per requested region, merged
//! k-way (an article in two requested regions is seen twice, adjacent, and kept once). The walk
//! stops after `limit` hits, so its cost follows `limit`, not the size of the store.
//!
//! A walk that only needs positions reads the keys-only region index; one that reads articles
//! walks the regions' copies of them instead ([`super::region_articles`]), whose keys are the
//! same, so that a page's articles come with its index entries from adjacent leaves.

use std::iter::Peekable;
use std::sync::Arc;

use sled::IVec;

use crate::model::Article;
use crate::regions::RegionCode;

use super::keys::{self, Position, POSITION_LEN};
use super::space::Space;
use super::{Store, StoreError};

/// Index entries: a position, and the entry's value (empty but in [`Space::RegionArticles`]).
type EntryIter = Box<dyn Iterator<Item = Result<(Position, IVec), StoreError>> + Send>;

/// A scan in feed order (newest first) over some regions (none = all), within optional bounds.
pub struct Scan<'a> {
    store: &'a Store,
    regions: &'a [RegionCode],
    oldest: Option<i64>,
    newest: Option<i64>,
    before: Option<Position>,
    after: Option<Position>,
}

impl<'a> Scan<'a> {
    pub(super) fn new(store: &'a Store, regions: &'a [RegionCode]) -> Self {
        Scan {
            store,
            regions,
            oldest: None,
            newest: None,
            before: None,
            after: None,
        }
    }

    /// Only articles published at or after this instant (microseconds).
    pub fn oldest(mut self, micros: Option<i64>) -> Self {
        self.oldest = micros;
        self
    }

    /// Only articles published at or before this instant (microseconds).
    pub fn newest(mut self, micros: Option<i64>) -> Self {
        self.newest = micros;
        self
    }

    /// Only articles strictly after this position in feed order (a paging cursor).
    pub fn before(mut self, position: Option<Position>) -> Self {
        self.before = position;
        self
    }

    /// Only articles strictly before this position in feed order (newer), walked oldest first:
    /// the scan of an RFC 5005 `previous` page.
    pub fn after(mut self, position: Option<Position>) -> Self {
        self.after = position;
        self
    }

    /// Positions, each article once, without reading any article: newest first, or oldest first
    /// when [`Scan::after`] is set.
    pub fn positions(self) -> impl Iterator<Item = Result<Position, StoreError>> + 'a {
        self.entries(Space::ByRegion)
            .map(|entry| entry.map(|(position, _)| position))
    }

    /// Up to `limit` articles in scan order that pass `keep` (shared: see [`Store::get_shared`]).
    ///
    /// A region's articles are read from their copies in its feed order
    /// ([`Space::RegionArticles`]), the all-regions feed's by id.
    pub fn articles(
        self,
        limit: usize,
        keep: impl Fn(&Article) -> bool,
    ) -> Result<Vec<Arc<Article>>, StoreError> {
        let store = self.store;
        // Before the first read, so that a write committed during the walk keeps what it
        // changed out of the article cache (see `article_cache`).
        let read_at = store.decoded.epoch();
        let mut out = Vec::with_capacity(limit.min(512));
        for entry in self.entries(Space::RegionArticles) {
            if out.len() >= limit {
                break;
            }
            let (position, copy) = entry?;
            // The all-regions index holds no copies: its articles are read by id (which looks
            // in the article cache itself).
            let article = if copy.is_empty() {
                store.get_shared(position.id)?
            } else {
                match store.decoded.get(position.id) {
                    Some(cached) => Some(cached),
                    None => Some(store.decode_shared(&copy, read_at)?),
                }
            };
            // An index entry without its article would be a broken invariant; `lenta check`
            // reports it. A feed skips it rather than failing every reader.
            if let Some(article) = article.filter(|a| keep(a)) {
                out.push(article);
            }
        }
        Ok(out)
    }

    /// The index entries in scan order, each article once: the all-regions index, or the
    /// per-region space `by_region` of each requested region, merged.
    fn entries(self, by_region: Space) -> Merge {
        let (lo, hi) = self.bounds();
        let ascending = self.after.is_some();
        let index = |prefix: Vec<u8>| index_iter(&self.store.data, prefix, lo, hi, ascending).peekable();
        let sources: Vec<Peekable<EntryIter>> = if self.regions.is_empty() {
            vec![index(Space::ByTime.key(&[]))]
        } else {
            self.regions
                .iter()
                .map(|r| index(by_region.key(&keys::region_prefix(r.as_str()))))
                .collect()
        };
        Merge {
            sources,
            last: None,
            ascending,
        }
    }

    /// The inclusive lower and exclusive upper position bounds of this scan.
    fn bounds(&self) -> (Position, Position) {
        let oldest = Position {
            micros: self.oldest.unwrap_or(i64::MIN),
            id: 0,
        };
        // `after` is exclusive: start just past it.
        let lo = match self.after {
            Some(a) => oldest.max(Position {
                micros: a.micros,
                id: a.id.saturating_add(1),
            }),
            None => oldest,
        };
        let newest_excl = match self.newest {
            Some(m) if m < i64::MAX => Position { micros: m + 1, id: 0 },
            _ => Position {
                micros: i64::MAX,
                id: u64::MAX,
            },
        };
        let hi = match self.before {
            Some(b) if b < newest_excl => b,
            _ => newest_excl,
        };
        (lo, hi)
    }
}

fn index_iter(tree: &sled::Tree, prefix: Vec<u8>, lo: Position, hi: Position, ascending: bool) -> EntryIter {
    let mut start = prefix.clone();
    start.extend_from_slice(&lo.to_bytes());
    let mut end = prefix;
    end.extend_from_slice(&hi.to_bytes());
    if start >= end {
        return Box::new(std::iter::empty());
    }
    let decode = |entry: sled::Result<(sled::IVec, sled::IVec)>| {
        let (key, value) = entry?;
        let position = Position::from_key_suffix(&key).ok_or_else(|| StoreError::Corrupt {
            tree: "index",
            reason: format!("key of {} bytes, expected at least {POSITION_LEN}", key.len()),
        })?;
        Ok((position, value))
    };
    let range = tree.range(start..end);
    if ascending {
        Box::new(range.map(decode))
    } else {
        Box::new(range.rev().map(decode))
    }
}

/// k-way merge of sorted position streams (descending, or ascending), dropping adjacent duplicates.
struct Merge {
    sources: Vec<Peekable<EntryIter>>,
    last: Option<Position>,
    ascending: bool,
}

impl Iterator for Merge {
    type Item = Result<(Position, IVec), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // k is the number of requested regions (small), so a linear pick beats a heap.
            let mut best: Option<(usize, Position)> = None;
            for (i, source) in self.sources.iter_mut().enumerate() {
                match source.peek() {
                    Some(Ok((p, _))) if best.is_none_or(|(_, b)| (*p > b) != self.ascending) => {
                        best = Some((i, *p))
                    }
                    Some(Ok(_)) | None => {}
                    Some(Err(_)) => return source.next(),
                }
            }
            let (i, position) = best?;
            let entry = self.sources[i].next();
            if self.last != Some(position) {
                self.last = Some(position);
                return entry;
            }
        }
    }
}
