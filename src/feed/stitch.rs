//! Feed pages stitched from items rendered and compressed once.
//!
//! A feed page that misses the render cache (a reader's own date range, a crawler paging back,
//! a partner's region) used to render every item and compress the whole body: profiles of
//! distinct queries put about 40% of the time in deflate and 20% in rendering items, items that
//! the neighbouring pages and ranges list too. An item does not depend on the query: it is a
//! function of its article and of settings fixed for the process (base URL, region names, the
//! render fingerprint). So each item is rendered once per format, compressed once as a deflate
//! segment ([`super::segment`]), and cached by (format, id, `updated_at`), which every change of
//! the article moves (the store guarantees it). A page is its frame (title, links, dates:
//! everything but the items, rendered per request) around the cached items.
//!
//! The identity bytes are exactly those of rendering the whole document (the tests compare),
//! because every writer emits the items last, one after the other, without indentation: the
//! frame rendered with no items splits before its closing tag, and an item's bytes are those of
//! [`super::item_bytes`]. The gzip bytes differ from compressing the whole
//! body: an item compressed alone cannot refer back to the items before it, so a stitched body
//! is larger; it is deterministic all the same (same items, same bytes), as a strong ETag needs.

use std::sync::{Arc, OnceLock};

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::segment::{self, gzip_member};
use super::{FeedContext, FeedDoc, Format, RenderError};
use crate::model::Article;

/// A page as identity and, when every item could be reused, a stitched gzip body.
pub struct Stitched {
    /// The document.
    pub identity: Vec<u8>,
    /// The document as one gzip member of reused segments; `None` when not asked for, or when
    /// some item was rendered for this page (the caller compresses the identity whole instead).
    pub gzip: Option<Vec<u8>>,
}

/// Which rendering of which version of an article.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ItemKey {
    format: Format,
    id: u64,
    updated_micros: i64,
}

/// One item's bytes, and once it has been listed twice, its deflate segment.
struct Fragment {
    text: Box<[u8]>,
    /// Made on the item's second use: an item listed once (a crawler's one visit to an old day)
    /// is not worth compressing on its own, since its page is compressed whole anyway.
    deflated: OnceLock<Box<[u8]>>,
}

impl Fragment {
    /// The segment, made now if this is its first use in a stitched page.
    fn deflated(&self, level: u8) -> Result<&[u8], RenderError> {
        if let Some(done) = self.deflated.get() {
            return Ok(done);
        }
        let made = segment::segment(&self.text, level).map_err(compress_error)?;
        Ok(self.deflated.get_or_init(|| made.into()))
    }
}

#[derive(Clone)]
struct FragmentWeighter;

impl Weighter<ItemKey, Arc<Fragment>> for FragmentWeighter {
    /// The text, the segment it will get, and their headers and allocator rounding: twice the
    /// text. Measured on the 100k bench store, 419 MB of `text x 1.5` weight held 527 MB of RSS
    /// (a level-1 segment of one item alone is about 55% of its text).
    fn weight(&self, _key: &ItemKey, value: &Arc<Fragment>) -> u64 {
        (value.text.len() * 2 + 128) as u64
    }
}

/// Rendered items by format and article version, budgeted in bytes (0 = render every time).
pub struct ItemCache {
    inner: Option<Cache<ItemKey, Arc<Fragment>, FragmentWeighter>>,
    /// JSON's comma between two items as a segment, made once.
    separator: OnceLock<Vec<u8>>,
}

/// gzip level of the item segments. A stitched body is a first answer, replaced by the page
/// compressed whole at `--gzip-level` once a worker is idle (`http::representation`), so its
/// segments favour speed.
const SEGMENT_LEVEL: u8 = 1;

impl ItemCache {
    /// A cache of about `budget_bytes`.
    pub fn new(budget_bytes: u64) -> Self {
        let inner = (budget_bytes > 0).then(|| {
            let estimated_items = (budget_bytes / 4_096).clamp(16, 1 << 20) as usize;
            Cache::with_weighter(estimated_items, budget_bytes, FragmentWeighter)
        });
        ItemCache {
            inner,
            separator: OnceLock::new(),
        }
    }

    /// Bytes held now.
    pub fn weight(&self) -> u64 {
        self.inner.as_ref().map_or(0, |c| c.weight())
    }

    /// The item of `article` in `format`, and whether it was rendered for this call.
    fn fragment(
        &self,
        ctx: &FeedContext,
        format: Format,
        article: &Article,
    ) -> Result<(Arc<Fragment>, bool), RenderError> {
        let key = ItemKey {
            format,
            id: article.id,
            updated_micros: article.updated_at.timestamp_micros(),
        };
        let fresh = std::cell::Cell::new(false);
        let make = || -> Result<Arc<Fragment>, RenderError> {
            fresh.set(true);
            Ok(Arc::new(Fragment {
                text: super::item_bytes(ctx, format, article)?.into(),
                deflated: OnceLock::new(),
            }))
        };
        let fragment = match &self.inner {
            Some(cache) => cache.get_or_insert_with(&key, make)?,
            None => make()?,
        };
        Ok((fragment, fresh.get()))
    }

    /// `separator` as a segment: nothing for none, else JSON's comma (the only one), made once.
    fn separator(&self, separator: &[u8]) -> Result<&[u8], RenderError> {
        if separator.is_empty() {
            return Ok(&[]);
        }
        debug_assert_eq!(separator, b",");
        if let Some(done) = self.separator.get() {
            return Ok(done);
        }
        let made = segment::segment(separator, SEGMENT_LEVEL).map_err(compress_error)?;
        Ok(self.separator.get_or_init(|| made))
    }
}

/// How a format's document ends and separates its items.
struct Syntax {
    /// What follows the last item.
    tail: &'static [u8],
    /// What goes between two items.
    separator: &'static [u8],
}

fn syntax(format: Format) -> Syntax {
    match format {
        Format::Rss => Syntax {
            tail: super::rss::TAIL,
            separator: b"",
        },
        Format::Atom => Syntax {
            tail: b"</feed>",
            separator: b"",
        },
        Format::Json => Syntax {
            tail: b"]}",
            separator: b",",
        },
    }
}

/// Renders `frame` (a document without items) in `format` around `articles`, items taken from
/// `cache` or rendered into it; stitches the gzip body too when `with_gzip` asks for it and no
/// item was rendered now.
pub fn render(
    format: Format,
    ctx: &FeedContext,
    frame: &FeedDoc,
    articles: &[Arc<Article>],
    cache: &ItemCache,
    with_gzip: bool,
) -> Result<Stitched, RenderError> {
    debug_assert!(frame.items.is_empty());
    let Syntax { tail, separator } = syntax(format);
    let whole = super::render(format, frame)?;
    let head = whole
        .strip_suffix(tail)
        .ok_or_else(|| unexpected(format, "frame"))?;
    let mut all_reused = true;
    let mut fragments = Vec::with_capacity(articles.len());
    for article in articles {
        let (fragment, fresh) = cache.fragment(ctx, format, article)?;
        all_reused &= !fresh;
        fragments.push(fragment);
    }
    let texts: usize = fragments.iter().map(|f| f.text.len() + separator.len()).sum();
    let mut identity = Vec::with_capacity(head.len() + texts + tail.len());
    identity.extend_from_slice(head);
    for (i, fragment) in fragments.iter().enumerate() {
        if i > 0 {
            identity.extend_from_slice(separator);
        }
        identity.extend_from_slice(&fragment.text);
    }
    identity.extend_from_slice(tail);
    let gzip = match all_reused && with_gzip {
        true => Some(stitch_gzip(head, &fragments, separator, tail, &identity, cache)?),
        false => None,
    };
    Ok(Stitched { identity, gzip })
}

/// The gzip member of `identity` from the segments of its parts.
fn stitch_gzip(
    head: &[u8],
    fragments: &[Arc<Fragment>],
    separator: &[u8],
    tail: &[u8],
    identity: &[u8],
    cache: &ItemCache,
) -> Result<Vec<u8>, RenderError> {
    let head_segment = segment::segment(head, SEGMENT_LEVEL).map_err(compress_error)?;
    let tail_segment = segment::last_segment(tail, SEGMENT_LEVEL).map_err(compress_error)?;
    let separator_segment = cache.separator(separator)?;
    let mut segments: Vec<&[u8]> = Vec::with_capacity(fragments.len() * 2 + 2);
    segments.push(&head_segment);
    for (i, fragment) in fragments.iter().enumerate() {
        if i > 0 {
            segments.push(separator_segment);
        }
        segments.push(fragment.deflated(SEGMENT_LEVEL)?);
    }
    segments.push(&tail_segment);
    Ok(gzip_member(segments, identity))
}

fn unexpected(format: Format, what: &str) -> RenderError {
    RenderError {
        format: format.extension(),
        reason: format!("the {what} does not have the shape stitching relies on (items last)"),
    }
}

fn compress_error(e: flate2::CompressError) -> RenderError {
    RenderError {
        format: "gzip",
        reason: e.to_string(),
    }
}
