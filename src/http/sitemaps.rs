//! `/sitemap.xml`, `/sitemap-{YYYY-MM[.N]}.xml` and `/robots.txt`: the archive for crawlers.
//!
//! Served like a feed (validators, 304s, the render cache) through [`super::representation`].
//! The sitemaps list every article, so their validators are the all-regions change generation:
//! any write renders them anew, nothing else does, and the clock plays no part. This module
//! chooses what to list (it reads the store); [`crate::feed::sitemap`] only writes it.

use std::sync::Arc;

use http::request::Parts;
use http::Response;

use super::representation::{self, Representation};
use super::response::{Body, Problem};
use crate::app::App;
use crate::feed::sitemap::{self, IndexEntry, SitemapFile, UrlEntry};
use crate::model::{Article, FieldError};
use crate::store::keys::Position;
use crate::store::StoreError;

/// Answers `/sitemap.xml`.
pub async fn index(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let repr = Representation::new(app, "sitemap-index", sitemap::CONTENT_TYPE, String::new(), &[]);
    let render = Box::new(|app: &App| {
        let entries = index_entries(app).map_err(|e| Problem::internal(e.to_string()))?;
        Ok(sitemap::index(&app.settings.base_url, &entries))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Answers `/sitemap-{name}`: 404 for a name that is not a sitemap file, or a file with no
/// pages (an empty `urlset` is not valid: the schema requires one `url`).
pub async fn month(app: &Arc<App>, req: &Parts, name: &str) -> Response<Body> {
    let Some(file) = SitemapFile::parse(name) else {
        return Problem::not_found(format!(
            "no sitemap {:?}; sitemaps are named sitemap-YYYY-MM.xml (sitemap-YYYY-MM.N.xml for \
             further parts) and listed at /sitemap.xml",
            crate::http::response::truncate_chars(name, 32)
        ))
        .into_response();
    };
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let repr = Representation::new(app, "sitemap", sitemap::CONTENT_TYPE, file.file_name(), &[]);
    let render = Box::new(move |app: &App| {
        let entries = month_entries(app, file).map_err(|e| Problem::internal(e.to_string()))?;
        if entries.is_empty() {
            return Err(Problem::not_found(format!(
                "sitemap sitemap-{} lists nothing: no article page of that month (part); the sitemaps \
                 that exist are listed at /sitemap.xml",
                file.file_name()
            )));
        }
        Ok(sitemap::urlset(&entries))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Answers `/robots.txt`.
pub async fn robots(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let repr = Representation::new(app, "robots", sitemap::ROBOTS_CONTENT_TYPE, String::new(), &[]);
    let render = Box::new(|app: &App| {
        let base = &app.settings.base_url;
        Ok(sitemap::robots(&[
            format!("{base}/sitemap.xml"),
            format!("{base}/sitemap-news.xml"),
        ]))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// These documents take no parameters: a query is refused (400) rather than cached as another
/// copy of the same document.
pub(super) fn no_query(req: &Parts) -> Option<Response<Body>> {
    let query = req.uri.query().filter(|q| !q.is_empty())?;
    let shown = crate::http::response::truncate_chars(query, 64);
    Some(
        Problem::bad_query(vec![FieldError::new(
            shown,
            "this document takes no query parameters; request it without a query",
        )])
        .into_response(),
    )
}

/// The index: every part of every month that lists a page, newest month first, with the latest
/// change of its pages. One walk over the archive in publication order, keeping one entry per
/// file (memory follows the number of months, not of articles).
fn index_entries(app: &App) -> Result<Vec<IndexEntry>, StoreError> {
    let cap = app.settings.sitemap_max_urls.clamp(1, sitemap::MAX_URLS);
    let tz = app.settings.tz;
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut in_month = 0usize;
    walk(app, None, None, |position, article| {
        let Some(month) = SitemapFile::month_of(position.micros, tz) else {
            return true;
        };
        let same = entries.last().is_some_and(|e| e.file.same_month(month));
        in_month = if same { in_month + 1 } else { 1 };
        let part = u32::try_from((in_month - 1) / cap + 1).unwrap_or(u32::MAX);
        let Some(file) = month.with_part(part) else {
            return true;
        };
        match entries.last_mut() {
            Some(last) if last.file == file => last.lastmod = last.lastmod.max(article.updated_at),
            _ => entries.push(IndexEntry {
                file,
                lastmod: article.updated_at,
            }),
        }
        true
    })?;
    entries.reverse();
    entries.truncate(sitemap::MAX_URLS);
    Ok(entries)
}

/// The pages of one sitemap file: the month's listed pages in publication order, the `part`-th
/// run of at most `cap` of them.
fn month_entries(app: &App, file: SitemapFile) -> Result<Vec<UrlEntry>, StoreError> {
    let cap = app.settings.sitemap_max_urls.clamp(1, sitemap::MAX_URLS);
    let skip = (file.part() as usize - 1).saturating_mul(cap);
    let (oldest, newest) = file.bounds(app.settings.tz);
    // A part past the month's end (`…99999.xml`) is refused from the index keys alone, before any
    // article is read: such names are free to ask for, the articles are not.
    let published = app
        .store
        .scan(&[])
        .oldest(Some(oldest))
        .newest(Some(newest))
        .positions()
        .take(skip.saturating_add(1))
        .count();
    if published <= skip {
        return Ok(Vec::new());
    }
    let base = &app.settings.base_url;
    let mut seen = 0usize;
    let mut out = Vec::new();
    walk(app, Some(oldest), Some(newest), |_, article| {
        seen += 1;
        if seen > skip {
            out.push(UrlEntry {
                loc: format!("{base}/articles/{}", article.id),
                lastmod: article.updated_at,
            });
        }
        out.len() < cap
    })?;
    Ok(out)
}

/// Visits the listed articles published within the bounds (microseconds, inclusive), oldest
/// first, until `visit` returns false. Listed means the article's canonical page is the portal's
/// own (no publisher `link`, which would name another host: see [`crate::feed::sitemap`]).
fn walk(
    app: &App,
    oldest: Option<i64>,
    newest: Option<i64>,
    mut visit: impl FnMut(Position, &Article) -> bool,
) -> Result<(), StoreError> {
    // `after` makes the scan ascending; no stored position precedes this one.
    let start = Position {
        micros: i64::MIN,
        id: 0,
    };
    let positions = app
        .store
        .scan(&[])
        .oldest(oldest)
        .newest(newest)
        .after(Some(start))
        .positions();
    for position in positions {
        let position = position?;
        let Some(article) = app.store.get(position.id)? else {
            continue;
        };
        if article.link.is_none() && !visit(position, &article) {
            break;
        }
    }
    Ok(())
}
