//! Bounded reverse range scans, merged across regions.
//!
//! A feed page is read by walking one index backwards from the newest allowed position: the
//! all-regions index for an unfiltered feed, or one per-region index per requested region, merged
//! k-way (an article in two requested regions is seen twice, adjacent, and kept once). The walk
//! stops after `limit` hits, so its cost follows `limit`, not the size of the store.

use std::iter::Peekable;
use std::sync::Arc;

use crate::model::Article;
use crate::regions::RegionCode;

use super::keys::{self, Position, POSITION_LEN};
use super::space::Space;
use super::{Store, StoreError};

type KeyIter = Box<dyn Iterator<Item = Result<Position, StoreError>> + Send>;

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
        let (lo, hi) = self.bounds();
        let ascending = self.after.is_some();
        let index = |prefix: Vec<u8>| index_iter(&self.store.data, prefix, lo, hi, ascending).peekable();
        let sources: Vec<Peekable<KeyIter>> = if self.regions.is_empty() {
            vec![index(Space::ByTime.key(&[]))]
        } else {
            self.regions
                .iter()
                .map(|r| index(Space::ByRegion.key(&keys::region_prefix(r.as_str()))))
                .collect()
        };
        Merge {
            sources,
            last: None,
            ascending,
        }
    }

    /// Up to `limit` articles in scan order that pass `keep` (shared: see [`Store::get_shared`]).
    pub fn articles(
        self,
        limit: usize,
        keep: impl Fn(&Article) -> bool,
    ) -> Result<Vec<Arc<Article>>, StoreError> {
        let store = self.store;
        let mut out = Vec::with_capacity(limit.min(512));
        for position in self.positions() {
            if out.len() >= limit {
                break;
            }
            let position = position?;
            // An index entry without its article would be a broken invariant; `lenta check`
            // reports it. A feed skips it rather than failing every reader.
            if let Some(article) = store.get_shared(position.id)? {
                if keep(&article) {
                    out.push(article);
                }
            }
        }
        Ok(out)
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

fn index_iter(tree: &sled::Tree, prefix: Vec<u8>, lo: Position, hi: Position, ascending: bool) -> KeyIter {
    let mut start = prefix.clone();
    start.extend_from_slice(&lo.to_bytes());
    let mut end = prefix;
    end.extend_from_slice(&hi.to_bytes());
    if start >= end {
        return Box::new(std::iter::empty());
    }
    let decode = |entry: sled::Result<(sled::IVec, sled::IVec)>| {
        let (key, _) = entry?;
        Position::from_key_suffix(&key).ok_or_else(|| StoreError::Corrupt {
            tree: "index",
            reason: format!("key of {} bytes, expected at least {POSITION_LEN}", key.len()),
        })
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
    sources: Vec<Peekable<KeyIter>>,
    last: Option<Position>,
    ascending: bool,
}

impl Iterator for Merge {
    type Item = Result<Position, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // k is the number of requested regions (small), so a linear pick beats a heap.
            let mut best: Option<(usize, Position)> = None;
            for (i, source) in self.sources.iter_mut().enumerate() {
                match source.peek() {
                    Some(Ok(p)) if best.is_none_or(|(_, b)| (*p > b) != self.ascending) => {
                        best = Some((i, *p))
                    }
                    Some(Ok(_)) | None => {}
                    Some(Err(_)) => return source.next(),
                }
            }
            let (i, position) = best?;
            self.sources[i].next();
            if self.last != Some(position) {
                self.last = Some(position);
                return Some(Ok(position));
            }
        }
    }
}
