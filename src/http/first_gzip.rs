//! Quick first gzip answers for feed pages that miss the cache, and the whole body that
//! replaces them.
//!
//! Compressing a page whole at `--gzip-level` is most of the cost of a cache-missing feed
//! request (issue 13's profiles: 35–40%). A reader waiting for a page it is the first to ask for
//! is better served by a body made faster, if larger, and the cache by the small one later. So a
//! gzip feed has up to three bodies, each its own bytes and its own strong ETag (RFC 9110 §8.8.1:
//! one tag, one byte sequence):
//!
//! - **whole** (`…-gz`): the page compressed at `--gzip-level`; served whenever it is cached.
//! - **stitched** (`…-gzs`): the page joined from its items' cached deflate segments
//!   ([`crate::feed::stitch`]); made when every item of the page had been rendered before.
//! - **fast** (`…-gzf`): the page compressed whole at level 1; made when some item was not.
//!
//! A miss answers with the stitched or fast body at once; the whole body is made afterwards, on
//! a render worker that is idle with nobody queued ([`upgrade`]), so under load the quick bodies
//! are what is served and idle moments buy the small ones. All three tags are current for
//! conditional requests ([`quick_tags`]), so a reader holding any of them gets its 304 until the
//! feed changes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::conditional::EntityTag;
use super::encoding::{self, Compression, Encoding};
use super::representation::{busy_problem, Representation, StitchedRender};
use super::response::Problem;
use crate::app::App;

/// gzip level of the fast body.
const FAST_LEVEL: u8 = 1;

/// A kind of gzip body of a feed page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Whole,
    Stitched,
    Fast,
}

impl Kind {
    /// The tag of this kind of body, given the whole body's.
    fn tag(self, whole: &EntityTag) -> EntityTag {
        match self {
            Kind::Whole => whole.clone(),
            Kind::Stitched => EntityTag::strong(format!("{}s", whole.tag)),
            Kind::Fast => EntityTag::strong(format!("{}f", whole.tag)),
        }
    }
}

/// The tags of the quick bodies of the page whose whole gzip body is tagged `whole`, current for
/// conditional requests as long as the whole tag is (the page has not changed).
///
/// They stay current after the whole body is made, so a reader that got a quick body keeps
/// getting 304s. The price: a shared cache (nginx) that stored a quick body serves it until the
/// feed changes. Expiring them instead would cost every holder one more 200; on a news feed that
/// changes within hours, the 304s are worth more.
pub fn quick_tags(whole: &EntityTag) -> [EntityTag; 2] {
    [Kind::Stitched.tag(whole), Kind::Fast.tag(whole)]
}

/// The gzip body of a feed page and its tag: a cached body (whole first), else one rendered now
/// (stitched or fast), after which the whole one is made if a worker is idle.
///
/// The tag is decided by the body made, so these misses are not merged by the cache's
/// placeholders: concurrent ones each run a job, cheap once the page's items are cached.
pub async fn serve(
    app: &Arc<App>,
    repr: &Representation,
    whole: EntityTag,
    render: StitchedRender,
) -> Result<(Bytes, EntityTag), Problem> {
    let identity_tag = repr.etag(app, Encoding::Identity).tag;
    for kind in [Kind::Whole, Kind::Stitched, Kind::Fast] {
        let tag = kind.tag(&whole);
        if let Some(body) = app.cache.peek(&tag.tag) {
            app.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
            if kind != Kind::Whole {
                upgrade(app, identity_tag, whole.tag);
            }
            return Ok((body, tag));
        }
    }
    app.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
    let job_app = Arc::clone(app);
    let (job_identity_tag, job_whole) = (identity_tag.clone(), whole.clone());
    let job = move || -> Result<(Bytes, Kind), Problem> {
        let page = render(&job_app, true)?;
        let identity = Bytes::from(page.identity);
        job_app.cache.insert(job_identity_tag, identity.clone());
        let (body, kind) = match page.gzip {
            Some(gzip) => (Bytes::from(gzip), Kind::Stitched),
            None => {
                let fast = Compression {
                    gzip_level: FAST_LEVEL,
                    ..job_app.settings.compression
                };
                let gzip = encoding::compress(Encoding::Gzip, &identity, &fast)
                    .map_err(|e| Problem::internal(format!("compression failed: {e}")))?;
                (Bytes::from(gzip), Kind::Fast)
            }
        };
        job_app.cache.insert(kind.tag(&job_whole).tag, body.clone());
        Ok((body, kind))
    };
    let (body, kind) = app
        .renders
        .run(job)
        .await
        .map_err(|busy| busy_problem(app, busy))??;
    let tag = kind.tag(&whole);
    upgrade(app, identity_tag, whole.tag);
    Ok((body, tag))
}

/// Compresses the cached identity body `identity_tag` whole into `whole_tag`, on a render
/// worker if one is idle and nobody waits for one; otherwise (or when the identity has left the
/// cache) a later request tries again.
fn upgrade(app: &Arc<App>, identity_tag: String, whole_tag: String) {
    let job_app = Arc::clone(app);
    app.renders.run_if_idle(move || {
        let Some(identity) = job_app.cache.peek(&identity_tag) else {
            return;
        };
        if job_app.cache.peek(&whole_tag).is_some() {
            return;
        }
        if let Ok(gzip) = encoding::compress(Encoding::Gzip, &identity, &job_app.settings.compression) {
            job_app.cache.insert(whole_tag, Bytes::from(gzip));
        }
    });
}
