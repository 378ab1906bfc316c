//! Copies of the articles in their regions' feed order ([`Space::RegionArticles`]).
//!
//! A region's feed page used to be read as its index entries ([`Space::ByRegion`], keys only)
//! and then one [`Space::Articles`] lookup per item. Articles are keyed by id, and ids follow
//! filing order, not publication order nor region, so the 33 items of an average page lie in 33
//! leaves spread over the whole store: on the 1M-article bench store a cache-missing page read
//! 478 KB from the store file in 154 `pread`s, and two thirds of the server's time went to
//! pulling those leaves (issue 13). With a copy of each article stored under its region's
//! index key, the same page is a range scan over a few adjacent leaves.
//!
//! The price is the space of a second copy of every public article per region it is in (the
//! bench corpus: 1.3 regions per article), written in the same batch as the article, so the
//! copies are exactly as durable and as current as the articles. The keys-only region index
//! stays, because counting and paging walks ([`super::Scan::positions`]: calendars, popular
//! lists, aggregator feeds) need positions only and would otherwise pull the copies too.
//!
//! Stores written before this space existed get their copies once, when they are opened
//! ([`fill`]), before any reader can scan them. A region page is read from the copies alone, so
//! a missing copy would drop its article from that region's feeds: `lenta check` compares every
//! copy with its article (and the keys with the region index).
//!
//! An earlier build knows nothing of the copies: run on a filled store (an operator rolling back
//! a release), its writes would leave copies stale, or of articles it deleted or moved to other
//! regions. So the mark that says the copies are made holds the generation of all regions (`*`)
//! as of the last batch that wrote them, and every batch that changes a public article moves
//! both in one commit; an earlier build moves only the generation, and the next open makes the
//! copies again.

use sled::{Batch, IVec};

use super::keys::Position;
use super::space::{Chunked, Space};
use super::StoreError;

/// The [`Space::Counters`] key of the copies' mark: the generation of all regions when the copies
/// were last written, 8 bytes big-endian (see the module doc).
pub const MARK: &[u8] = b"region_articles";

/// Records in `batch` that it leaves the copies current as of all regions' `generation`.
pub fn mark(batch: &mut Batch, generation: u64) {
    batch.insert(Space::Counters.key(MARK), &generation.to_be_bytes()[..]);
}

/// Makes the copies unless the mark says they are current as of all regions' `generation`:
/// removes any copies there are, writes one for every region index entry, then the mark.
///
/// Walks the region index in key order so that the copies are written leaf after leaf (the
/// articles are read by id, which sled's cache and the OS serve). Safe to interrupt: the mark
/// is written last, and filling again writes the same copies.
pub fn fill(data: &sled::Tree, generation: u64) -> Result<(), StoreError> {
    let stored = data.get(Space::Counters.key(MARK))?;
    if stored.as_deref() == Some(&generation.to_be_bytes()[..]) {
        return Ok(());
    }
    let mut writes = Chunked::new(data);
    let mut removed = 0u64;
    for entry in Space::RegionArticles.iter(data) {
        writes.remove(Space::RegionArticles.key(&entry?.0))?;
        removed += 1;
    }
    if stored.is_some() {
        tracing::warn!(
            copies = removed,
            "the region copies are older than the last write (an earlier build wrote to this \
             store): making them again"
        );
    }
    let mut copied = 0u64;
    for entry in Space::ByRegion.iter(data) {
        let (key, _) = entry?;
        if let Some(article) = copy_of(data, &key)? {
            writes.insert(Space::RegionArticles.key(&key), article)?;
            copied += 1;
            if copied.is_multiple_of(100_000) {
                tracing::info!(copied, "copying articles into their regions' feed order");
            }
        }
    }
    writes.finish_with(|batch| mark(batch, generation))?;
    if copied > 0 {
        tracing::info!(copied, "copied articles into their regions' feed order");
    }
    Ok(())
}

/// The stored article a region index entry (its key within [`Space::ByRegion`]) points at; none
/// for a malformed or dangling entry, which `lenta check` reports.
fn copy_of(data: &sled::Tree, key: &[u8]) -> Result<Option<IVec>, StoreError> {
    match Position::from_key_suffix(key) {
        Some(pos) => Ok(data.get(Space::article(pos.id))?),
        None => Ok(None),
    }
}
