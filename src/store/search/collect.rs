//! Collecting matches in feed order, not by relevance.
//!
//! A keyword feed is a timeline like every other feed: newest first, ties broken by id, paged by
//! the same cursors. tantivy's top-docs collectors order by score or by one fast field; this
//! one keeps the `limit` best `(published, id)` positions read from the two fast fields, so the
//! order and the cursor comparisons are exactly the store's [`Position`] order and a cursor from
//! a keyword feed means what it means in any feed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::store::keys::Position;

/// The `limit` positions of the matches nearest to a cursor: below `before` newest first, or,
/// with `after`, above it oldest first (the scan of an RFC 5005 `previous` page), within the
/// exact date bounds (the query bounds them only to whole days).
#[derive(Clone, Copy)]
pub struct InFeedOrder {
    /// Most positions kept.
    pub limit: usize,
    /// Only positions strictly older than this.
    pub before: Option<Position>,
    /// Only positions strictly newer than this; then the walk is oldest first.
    pub after: Option<Position>,
    /// Only articles published at or after this instant (microseconds).
    pub oldest: Option<i64>,
    /// Only articles published at or before this instant (microseconds).
    pub newest: Option<i64>,
}

impl InFeedOrder {
    /// A sortable key where a larger key comes earlier in the walk.
    fn key(&self, p: Position) -> u128 {
        let k = (u128::from((p.micros as u64) ^ (1 << 63)) << 64) | u128::from(p.id);
        if self.after.is_some() {
            u128::MAX - k
        } else {
            k
        }
    }

    fn admits(&self, p: Position) -> bool {
        self.before.is_none_or(|b| p < b)
            && self.after.is_none_or(|a| p > a)
            && self.oldest.is_none_or(|o| p.micros >= o)
            && self.newest.is_none_or(|n| p.micros <= n)
    }
}

impl Collector for InFeedOrder {
    type Fruit = Vec<(u128, Position)>;
    type Child = SegmentInFeedOrder;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<Self::Child> {
        let fast = segment.fast_fields();
        Ok(SegmentInFeedOrder {
            published: fast.i64("published")?,
            id: fast.u64("id")?,
            order: InFeedOrder { ..*self },
            best: BinaryHeap::with_capacity(self.limit.min(1024) + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(u128, Position)> = fruits.into_iter().flatten().collect();
        all.sort_unstable_by_key(|(k, _)| Reverse(*k));
        all.dedup_by_key(|(k, _)| *k);
        all.truncate(self.limit);
        Ok(all)
    }
}

/// [`InFeedOrder`] within one segment.
pub struct SegmentInFeedOrder {
    published: Column<i64>,
    id: Column<u64>,
    order: InFeedOrder,
    /// The best keys so far, the worst of them on top.
    best: BinaryHeap<Reverse<(u128, Position)>>,
}

impl SegmentCollector for SegmentInFeedOrder {
    type Fruit = Vec<(u128, Position)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let (Some(micros), Some(id)) = (self.published.first(doc), self.id.first(doc)) else {
            return;
        };
        let position = Position { micros, id };
        if !self.order.admits(position) {
            return;
        }
        let key = self.order.key(position);
        if self.best.len() >= self.order.limit {
            match self.best.peek() {
                Some(Reverse((worst, _))) if key > *worst => {
                    self.best.pop();
                }
                _ => return,
            }
        }
        self.best.push(Reverse((key, position)));
    }

    fn harvest(self) -> Self::Fruit {
        self.best.into_iter().map(|Reverse(kp)| kp).collect()
    }
}
