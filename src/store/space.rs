//! The key spaces of the data tree, and the move from the older one-tree-per-space layout.
//!
//! Articles, their indexes and the region metadata live in one sled tree, `data`, each kind of
//! record under its own one-byte key prefix. One tree because sled applies a [`sled::Batch`] to
//! a single tree atomically — recovery after a crash sees all of it or none of it (sled 0.34
//! seals the batch in its log) — and blindly, whereas a transaction over several trees first
//! reads every key it writes. In a batch import that read was a fifth of the server's CPU.
//! View counters ([`Space::Views`]) are a space of their own so that counting a view writes
//! 8 bytes and never the article, its indexes or a region's generation.
//! Scheduled articles ([`Space::Scheduled`]) are an index of their own so that every public
//! index holds only what readers may see: feeds, pages and counts need no clock check on reads.

use sled::{Batch, IVec};

use super::{keys, StoreError};

/// Name of the sled tree holding every [`Space`].
pub const DATA_TREE: &str = "data";

/// One kind of record in the data tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// id → article JSON.
    Articles,
    /// (published instant, id) → (): the all-regions feed order.
    ByTime,
    /// (region, published instant, id) → (): one feed order per region.
    ByRegion,
    /// (region, published instant, id) → article JSON: a copy of every public article in each
    /// of its regions' feed order, so that a region's page is read from a few adjacent leaves
    /// instead of one leaf per article (see [`super::region_articles`]).
    RegionArticles,
    /// (publisher, external_id) → id: idempotent upserts.
    ByExternal,
    /// Region code (or `*` for all) → generation, last change, article count.
    RegionMeta,
    /// id → when it was deleted (microseconds, big-endian): a withdrawn article's page answers
    /// 410 Gone rather than 404, for good (its id is never reused). Written in the batch that
    /// deletes the article.
    Tombstones,
    /// Counters of the store; one key, [`NEXT_ID`] → the id the next new article gets. Written in
    /// the batch that creates an article, so ids are dense (1, 2, 3, …) and survive crashes
    /// exactly as the articles do. sled's own `generate_id` skips a million ids at every open.
    Counters,
    /// id → views counted by lenta (`POST /api/articles/{id}/views`), u64 big-endian. Apart from
    /// the article because a view is not a content change: an 8-byte counter merged in the group
    /// commit instead of a re-encoded article and its index entries, and no region generation
    /// stepped, so feed validators and the article's ETag stay as they are (see [`super::views`]).
    Views,
    /// (published instant, id) → (): articles whose `published_at` is after the release mark
    /// ([`RELEASED_UNTIL`]), i.e. embargoed. Such an article is in [`Space::Articles`] and
    /// [`Space::ByExternal`] (its publisher reads and edits it) but in no public index
    /// ([`Space::ByTime`], [`Space::ByRegion`]) nor any region count, so that no feed, page,
    /// calendar or count shows it, without a clock check on any read. Ordered by time so the
    /// earliest due article is the first key; a batch that finds it due moves it into the public
    /// indexes (see `Pending::release`).
    Scheduled,
}

/// The [`Space::Counters`] key of the next article id.
pub const NEXT_ID: &[u8] = b"next_id";

/// The [`Space::Counters`] key of the release mark (microseconds, big-endian): every article
/// published at or before it is public, every later one scheduled. Monotone, and moved only by
/// a write batch (which releases what became due in that same batch), so validators depend on
/// the clock only through such a write, and a clock that steps back never hides an article again.
pub const RELEASED_UNTIL: &[u8] = b"released_until";

impl Space {
    /// Every space.
    pub const ALL: [Space; 10] = [
        Space::Articles,
        Space::ByTime,
        Space::ByRegion,
        Space::RegionArticles,
        Space::ByExternal,
        Space::RegionMeta,
        Space::Tombstones,
        Space::Counters,
        Space::Views,
        Space::Scheduled,
    ];

    fn prefix(self) -> u8 {
        match self {
            Space::Articles => b'a',
            Space::ByTime => b't',
            Space::ByRegion => b'r',
            Space::RegionArticles => b'f',
            Space::ByExternal => b'x',
            Space::RegionMeta => b'm',
            Space::Tombstones => b'd',
            Space::Counters => b'c',
            Space::Views => b'v',
            Space::Scheduled => b's',
        }
    }

    /// The space's name in messages; also the name of the sled tree it had to itself before
    /// the one-tree layout (see [`migrate_from_trees`]).
    pub fn name(self) -> &'static str {
        match self {
            Space::Articles => "articles",
            Space::ByTime => "by_time",
            Space::ByRegion => "by_region",
            Space::RegionArticles => "region_articles",
            Space::ByExternal => "by_external",
            Space::RegionMeta => "region_meta",
            Space::Tombstones => "tombstones",
            Space::Counters => "counters",
            Space::Views => "views",
            Space::Scheduled => "scheduled",
        }
    }

    /// The data-tree key of `suffix` in this space.
    pub fn key(self, suffix: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(1 + suffix.len());
        key.push(self.prefix());
        key.extend_from_slice(suffix);
        key
    }

    /// The data-tree key of article `id`, on the stack: reading an article is on every feed's
    /// path, so it allocates nothing.
    pub fn article(id: u64) -> [u8; 9] {
        let mut key = [0u8; 9];
        key[0] = Space::Articles.prefix();
        key[1..].copy_from_slice(&keys::id_key(id));
        key
    }

    /// Every record of this space in key order, keys without the prefix.
    pub fn iter(self, data: &sled::Tree) -> impl DoubleEndedIterator<Item = sled::Result<(IVec, IVec)>> {
        data.scan_prefix([self.prefix()])
            .map(|entry| entry.map(|(key, value)| (key.subslice(1, key.len() - 1), value)))
    }
}

/// Moves the records of a data directory written in the older layout (one sled tree per space)
/// into the data tree, then drops the old trees; does nothing in a directory without them.
///
/// Safe to interrupt: an old tree is dropped only after its records are flushed in the data
/// tree, and copying it again on the next start writes the same values.
pub fn migrate_from_trees(db: &sled::Db, data: &sled::Tree) -> Result<(), StoreError> {
    let names = db.tree_names();
    for space in Space::ALL {
        if !names.iter().any(|n| n.as_ref() == space.name().as_bytes()) {
            continue;
        }
        let old = db.open_tree(space.name())?;
        let mut writes = Chunked::new(data);
        let mut moved = 0u64;
        for entry in old.iter() {
            let (key, value) = entry?;
            writes.insert(space.key(&key), value)?;
            moved += 1;
        }
        writes.finish()?;
        db.flush()?;
        drop(old);
        db.drop_tree(space.name())?;
        tracing::info!(
            space = space.name(),
            records = moved,
            "moved into the one-tree layout"
        );
    }
    Ok(())
}

/// Writes to a tree in batches of [`Chunked::OPS`] operations, so that a store-wide rewrite (a
/// layout migration, filling a million region copies) holds one batch in memory at a time.
/// Not atomic as a whole: its users write a mark last, or can redo what an interruption left.
pub struct Chunked<'a> {
    data: &'a sled::Tree,
    batch: Batch,
    ops: usize,
}

impl<'a> Chunked<'a> {
    const OPS: usize = 10_000;

    /// Nothing written yet to `data`.
    pub fn new(data: &'a sled::Tree) -> Self {
        Chunked {
            data,
            batch: Batch::default(),
            ops: 0,
        }
    }

    /// Inserts `key` → `value`, applying the batch when it is full.
    pub fn insert(&mut self, key: Vec<u8>, value: IVec) -> Result<(), StoreError> {
        self.batch.insert(key, value);
        self.counted()
    }

    /// Removes `key`, applying the batch when it is full.
    pub fn remove(&mut self, key: Vec<u8>) -> Result<(), StoreError> {
        self.batch.remove(key);
        self.counted()
    }

    fn counted(&mut self) -> Result<(), StoreError> {
        self.ops += 1;
        if self.ops.is_multiple_of(Self::OPS) {
            self.data.apply_batch(std::mem::take(&mut self.batch))?;
        }
        Ok(())
    }

    /// Applies what is left.
    pub fn finish(self) -> Result<(), StoreError> {
        self.finish_with(|_| {})
    }

    /// Applies what is left together with what `last` adds to it (a mark that the whole
    /// rewrite is done, atomic with its last writes).
    pub fn finish_with(mut self, last: impl FnOnce(&mut Batch)) -> Result<(), StoreError> {
        last(&mut self.batch);
        Ok(self.data.apply_batch(self.batch)?)
    }
}
