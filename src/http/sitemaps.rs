//! `/sitemap.xml`, `/sitemap-{YYYY-MM[.N]}.xml` and `/robots.txt`: the archive for crawlers.
//!
//! Served like a feed (validators, 304s, the render cache) through [`super::representation`].
//! The sitemaps list every article, so their validators are the all-regions change generation:
//! any write renders them anew, nothing else does, and the clock plays no part. This module
//! chooses what to list (it reads the store); [`crate::feed::sitemap`] only writes it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::request::Parts;
use http::Response;

use super::representation::{self, Representation};
use super::response::{Body, Problem};
use crate::app::App;
use crate::feed::news_sitemap::{self, NewsEntry};
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

/// Answers `/sitemap-news.xml`: the portal's own article pages published since the request
/// time less `news_window`, newest first, at most [`news_sitemap::MAX_URLS`].
///
/// The window moves with the clock, yet the validators must change only when the listed set
/// does (a crawler revalidating every few minutes should get 304s until an article leaves). With
/// the store unchanged (same generation), the listed set is a function of the oldest position
/// still inside the window, so that position (one index key, no article read) is part of the
/// ETag, and the render lists from it rather than from the clock. `Last-Modified` is the later of
/// the last write and the instant the newest article outside the window left it, so
/// `If-Modified-Since` alone also sees an article leave (RFC 9110 §13.1.3). Articles dated in the
/// future are listed like the feeds list them; only leaving the window is driven by the clock.
pub async fn news(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let window = i64::try_from(app.settings.news_window.as_micros()).unwrap_or(i64::MAX);
    let cutoff = Utc::now().timestamp_micros().saturating_sub(window);
    let edge = match window_edge(app, cutoff) {
        Ok(edge) => edge,
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let canonical = match edge.first_in {
        Some(p) => format!("from={}.{}", p.micros, p.id),
        None => "from=none".to_string(),
    };
    let mut repr = Representation::new(app, "sitemap-news", sitemap::CONTENT_TYPE, canonical, &[]);
    if let Some(left) = edge
        .last_out
        .and_then(|p| DateTime::<Utc>::from_timestamp_micros(p.micros.saturating_add(window)))
    {
        repr.visible.last_modified = repr.visible.last_modified.max(left);
    }
    let first_in = edge.first_in;
    let render = Box::new(move |app: &App| {
        let entries = news_entries(app, first_in).map_err(|e| Problem::internal(e.to_string()))?;
        Ok(news_sitemap::render(&app.settings.portal_name, &entries))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Where the news window meets the archive.
struct WindowEdge {
    /// The oldest position published at or after the cutoff.
    first_in: Option<Position>,
    /// The newest position published before it: the last article to have left the window.
    last_out: Option<Position>,
}

fn window_edge(app: &App, cutoff: i64) -> Result<WindowEdge, StoreError> {
    let start = Position {
        micros: i64::MIN,
        id: 0,
    };
    let first_in = app
        .store
        .scan(&[])
        .oldest(Some(cutoff))
        .after(Some(start))
        .positions()
        .next()
        .transpose()?;
    let last_out = app
        .store
        .scan(&[])
        .newest(Some(cutoff.saturating_sub(1)))
        .positions()
        .next()
        .transpose()?;
    Ok(WindowEdge { first_in, last_out })
}

/// The listed articles from `first_in` on, newest first (none when nothing is in the window).
fn news_entries(app: &App, first_in: Option<Position>) -> Result<Vec<NewsEntry>, StoreError> {
    let Some(first_in) = first_in else {
        return Ok(Vec::new());
    };
    let base = &app.settings.base_url;
    let articles = app
        .store
        .scan(&[])
        .oldest(Some(first_in.micros))
        .articles(news_sitemap::MAX_URLS, |a| a.link.is_none())?;
    Ok(articles
        .into_iter()
        .map(|a| NewsEntry {
            loc: format!("{base}/articles/{}", a.id),
            title: a.title,
            published_at: a.published_at,
        })
        .collect())
}

/// These documents take no parameters: a query is refused (400) rather than cached as another
/// copy of the same document.
fn no_query(req: &Parts) -> Option<Response<Body>> {
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
