//! Serving a cacheable representation: negotiation, validators, 304s, the render cache.
//!
//! Feeds and the public read API share this path. The order matters for cost: content coding
//! is negotiated and the strong ETag computed from generations alone, then preconditions are
//! evaluated; only a request that needs a body reaches the render cache, and only a cache miss
//! reads articles.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;

use super::conditional::{self, EntityTag, Outcome, Validators};
use super::encoding::{self, Encoding};
use super::first_gzip;
use super::pool::Busy;
use super::response::{self, Body, Problem};
use crate::app::{App, Visible};
use crate::feed::stitch::Stitched;

/// What a cacheable response is made of, before any article is read.
pub struct Representation {
    /// Kind of document (`rss`, `atom`, `json`, `api`): part of the ETag.
    pub kind: &'static str,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// Canonical form of the query it answers.
    pub canonical: String,
    /// The change state it shows.
    pub visible: Visible,
}

/// A renderer of the identity body, run on a blocking thread on a cache miss.
pub type Render = Box<dyn FnOnce(&App) -> Result<Vec<u8>, Problem> + Send>;

/// A renderer of the identity body and, when its flag asks, a stitched gzip body at once (feeds:
/// [`crate::feed::stitch`]), run on a blocking thread on a cache miss.
pub type StitchedRender = Box<dyn FnOnce(&App, bool) -> Result<Stitched, Problem> + Send>;

/// How a miss makes its body.
enum Renderer {
    /// Renders the identity body; a coded body is compressed from it.
    Whole(Render),
    /// Renders identity and, when it can, a stitched gzip body together: a gzip answer is a
    /// quick first body, later the whole one ([`super::first_gzip`]); brotli is compressed from
    /// the identity.
    Stitched(StitchedRender),
}

impl Representation {
    /// The representation of `kind` answering `canonical` over `regions` (empty = all), with the
    /// change state those regions have now.
    pub fn new(
        app: &App,
        kind: &'static str,
        content_type: &'static str,
        canonical: String,
        regions: &[crate::regions::RegionCode],
    ) -> Self {
        Representation {
            kind,
            content_type,
            canonical,
            visible: app.visible(regions),
        }
    }

    /// The representation of `kind` answering `query`, with the change state it can see
    /// ([`App::visible_to`]: a keyword query's as the search index last committed it).
    pub fn of_query(
        app: &App,
        kind: &'static str,
        content_type: &'static str,
        query: &crate::query::FeedQuery,
    ) -> Self {
        Representation {
            kind,
            content_type,
            canonical: query.canonical(),
            visible: app.visible_to(query),
        }
    }

    /// The strong ETag of this representation in `encoding`.
    ///
    /// A digest of everything the bytes depend on; different encodings get different tags, as
    /// RFC 9110 §8.8.3 requires of strong validators for different content codings.
    pub fn etag(&self, app: &App, encoding: Encoding) -> EntityTag {
        let mut h = blake3::Hasher::new();
        for part in [
            app.render_fingerprint.as_str(),
            self.kind,
            encoding.tag(),
            self.canonical.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update(b"\0");
        }
        for (code, generation) in &self.visible.generations {
            h.update(code.as_bytes());
            h.update(&generation.to_be_bytes());
        }
        EntityTag::strong(format!("{}-{}", &h.finalize().to_hex()[..32], encoding.tag()))
    }

    /// `Last-Modified`: the latest change the representation can show.
    pub fn last_modified(&self) -> SystemTime {
        let micros = self.visible.last_modified.timestamp_micros().max(0) as u64;
        UNIX_EPOCH + std::time::Duration::from_micros(micros)
    }
}

/// Answers `method` with `headers` for `repr`, rendering with `render` only when needed.
pub async fn serve(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repr: Representation,
    render: Render,
) -> Response<Body> {
    respond(app, method, headers, repr, Renderer::Whole(render)).await
}

/// [`serve`] for a representation whose gzip body is stitched rather than compressed whole.
pub async fn serve_stitched(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repr: Representation,
    render: StitchedRender,
) -> Response<Body> {
    respond(app, method, headers, repr, Renderer::Stitched(render)).await
}

async fn respond(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    repr: Representation,
    render: Renderer,
) -> Response<Body> {
    let accept = joined(headers, header::ACCEPT_ENCODING);
    let Some(encoding) = encoding::negotiate(accept.as_deref()) else {
        return Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "No acceptable content coding",
            "Accept-Encoding excludes every coding lenta offers; accept br, gzip or identity",
        )
        // The answer depends on Accept-Encoding like the 200 would (RFC 9110 §12.5.5).
        .with_header(header::VARY, "Accept-Encoding")
        .into_response();
    };
    let etag = repr.etag(app, encoding);
    let last_modified = repr.last_modified();
    let quick = (matches!(render, Renderer::Stitched(_))
        && encoding == Encoding::Gzip
        && app.settings.quick_first_gzip)
        .then(|| first_gzip::quick_tags(&etag));
    let (outcome, matched) = evaluate(
        method,
        headers,
        &etag,
        quick.as_ref().map_or(&[], |t| &t[..]),
        last_modified,
    );
    match outcome {
        Outcome::NotModified => {
            app.metrics
                .not_modified
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            cache_headers(app, res.headers_mut(), matched, last_modified);
            return res;
        }
        Outcome::PreconditionFailed => {
            return Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
                "If-Match or If-Unmodified-Since does not hold for the current representation",
            )
            .into_response();
        }
        Outcome::Proceed => {}
    }
    let served = match (render, quick) {
        (Renderer::Stitched(render), Some(_)) => first_gzip::serve(app, &repr, etag, render).await,
        (render, _) => body(app, &repr, encoding, &etag, render)
            .await
            .map(|body| (body, etag)),
    };
    let (body, etag) = match served {
        Ok(served) => served,
        Err(problem) => return problem.into_response(),
    };
    let length = body.len();
    let mut res = response::bytes(
        StatusCode::OK,
        repr.content_type,
        if method == Method::HEAD {
            Bytes::new()
        } else {
            body
        },
    );
    let h = res.headers_mut();
    cache_headers(app, h, &etag, last_modified);
    if let Some(coding) = encoding.content_encoding() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    res
}

/// Evaluates the preconditions against the current tag `whole` and the other current tags
/// `quick` (a gzip feed's quick first bodies, see [`super::first_gzip`]): 304 when any matches
/// If-None-Match, 412 only when none satisfies If-Match. Returns the outcome and the tag a 304
/// names (the one that matched).
fn evaluate<'a>(
    method: &Method,
    headers: &HeaderMap,
    whole: &'a EntityTag,
    quick: &'a [EntityTag],
    last_modified: SystemTime,
) -> (Outcome, &'a EntityTag) {
    let outcome = |etag: &EntityTag| {
        let current = Validators {
            etag: Some(etag),
            last_modified: Some(last_modified),
        };
        conditional::evaluate(method, headers, true, &current)
    };
    let mut first = outcome(whole);
    if first == Outcome::NotModified {
        return (first, whole);
    }
    for tag in quick {
        match outcome(tag) {
            Outcome::NotModified => return (Outcome::NotModified, tag),
            Outcome::Proceed => first = Outcome::Proceed,
            Outcome::PreconditionFailed => {}
        }
    }
    (first, whole)
}

/// The body in `encoding`, from the cache or rendered (identity first, then compressed).
///
/// The coded body is looked up first: a repeated request for a compressed feed, the common case,
/// is one cache lookup. On a miss, one job in the render pool ([`super::pool`]) takes the
/// identity body from the cache or renders it, and compresses it, so a miss costs one queue
/// place and one thread hand-off however it is coded. Concurrent requests for the same body wait
/// for that one job (the cache's placeholders) instead of queueing their own.
async fn body(
    app: &Arc<App>,
    repr: &Representation,
    encoding: Encoding,
    etag: &EntityTag,
    render: Renderer,
) -> Result<Bytes, Problem> {
    app.cache
        .get_or_render(&etag.tag, &app.metrics, || async {
            // Only a miss needs the identity body's tag: a cached coded body, the common case,
            // costs no second digest.
            let identity_tag = match encoding {
                Encoding::Identity => None,
                _ => Some(repr.etag(app, Encoding::Identity).tag),
            };
            let job_app = Arc::clone(app);
            let job = move || -> Result<Bytes, Problem> {
                let Some(identity_tag) = identity_tag else {
                    return match render {
                        Renderer::Whole(render) => render(&job_app).map(Bytes::from),
                        Renderer::Stitched(render) => {
                            render(&job_app, false).map(|s| Bytes::from(s.identity))
                        }
                    };
                };
                let identity = match (job_app.cache.peek(&identity_tag), render) {
                    // Identity, brotli, or (quick first answers off) gzip at --gzip-level.
                    (_, Renderer::Stitched(render)) => {
                        let identity = Bytes::from(render(&job_app, false)?.identity);
                        job_app.cache.insert(identity_tag, identity.clone());
                        identity
                    }
                    (Some(identity), Renderer::Whole(_)) => identity,
                    (None, Renderer::Whole(render)) => {
                        let identity = Bytes::from(render(&job_app)?);
                        job_app.cache.insert(identity_tag, identity.clone());
                        identity
                    }
                };
                encoding::compress(encoding, &identity, &job_app.settings.compression)
                    .map(Bytes::from)
                    .map_err(|e| Problem::internal(format!("compression failed: {e}")))
            };
            app.renders
                .run(job)
                .await
                .map_err(|busy| busy_problem(app, busy))?
        })
        .await
}

/// 503 with `Retry-After` for a miss the render pool could not take (RFC 9110 §15.6.4); a
/// panicked render is a 500.
pub(super) fn busy_problem(app: &App, busy: Busy) -> Problem {
    let counter = match &busy {
        Busy::Panicked(detail) => return Problem::internal(format!("rendering failed: {detail}")),
        Busy::ClientGone => &app.metrics.renders_abandoned,
        Busy::QueueFull { .. } | Busy::Timeout(_) => &app.metrics.renders_refused,
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Busy",
        format!(
            "{busy}; this page is not cached yet and the server is rendering others; retry in a \
             second (cached feeds and 304s are still served at once)"
        ),
    )
    .with_header(header::RETRY_AFTER, "1")
}

/// Validators and caching headers shared by 200 and 304 (RFC 9110 §15.4.5: a 304 carries the
/// headers a 200 would have had for caching).
fn cache_headers(app: &App, h: &mut HeaderMap, etag: &EntityTag, last_modified: SystemTime) {
    if let Ok(v) = HeaderValue::from_str(&etag.to_string()) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&conditional::http_date(last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    let max_age = app.settings.max_age;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "public, max-age={max_age}, stale-while-revalidate={}",
        max_age.min(60)
    )) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    // Cross-origin scripts see only safelisted headers unless told; these two let them revalidate.
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Last-Modified"),
    );
}

/// All values of a header joined with ", " (RFC 9110 §5.3), or None when absent.
pub fn joined(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}
