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

use sled::Batch;

use super::keys::Position;
use super::space::Space;
use super::StoreError;

/// The [`Space::Counters`] key present once every public article has its copies ([`fill`]).
pub const FILLED: &[u8] = b"region_articles";

/// Writes a copy for every region index entry of a store written before
/// [`Space::RegionArticles`] existed, then marks the store as filled; does nothing once marked.
///
/// Walks the region index in key order so that the copies are written leaf after leaf (the
/// articles are read by id, which sled's cache and the OS serve). Safe to interrupt: the mark
/// is written last, and filling again writes the same copies.
pub fn fill(data: &sled::Tree) -> Result<(), StoreError> {
    let mark = Space::Counters.key(FILLED);
    if data.contains_key(&mark)? {
        return Ok(());
    }
    let mut batch = Batch::default();
    let mut copied = 0u64;
    for entry in Space::ByRegion.iter(data) {
        let (key, _) = entry?;
        let Some(pos) = Position::from_key_suffix(&key) else {
            continue; // malformed: `lenta check` reports it
        };
        let Some(article) = data.get(Space::article(pos.id))? else {
            continue; // dangling: `lenta check` reports it
        };
        batch.insert(Space::RegionArticles.key(&key), article);
        copied += 1;
        if copied.is_multiple_of(10_000) {
            data.apply_batch(std::mem::take(&mut batch))?;
            tracing::info!(copied, "copying articles into their regions' feed order");
        }
    }
    batch.insert(mark, &[][..]);
    data.apply_batch(batch)?;
    if copied > 0 {
        tracing::info!(copied, "copied articles into their regions' feed order");
    }
    Ok(())
}
