//! The documents whose window is relative to the time of the request: `/sitemap-news.xml`
//! (Google News, 2 days) and `/yandex.rss` (Yandex, 8 days, also per region).
//!
//! The window moves with the clock, yet the validators must change only when the listed set
//! does (a crawler revalidating every few minutes should get 304s until an article leaves). With
//! the store unchanged (same generation), the listed set is a function of the oldest position
//! still inside the window, so that position (one index key, no article read) is part of the
//! ETag, and the render lists from it rather than from the clock. `Last-Modified` is the later of
//! the last write and the instant the newest article outside the window left it, so
//! `If-Modified-Since` alone also sees an article leave (RFC 9110 §13.1.3). Articles dated in the
//! future are listed like the feeds list them; only leaving the window is driven by the clock.
//! When an article beyond a document's cap leaves, the ETag changes though the bytes do not: a
//! spare 200, never a stale 304.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::request::Parts;
use http::Response;

use super::representation::{self, Representation};
use super::response::{Body, Problem};
use super::sitemaps::no_query;
use crate::app::App;
use crate::feed::news_sitemap::{self, NewsEntry};
use crate::feed::{sitemap, yandex, FeedDoc, Format, Page};
use crate::query::{FeedQuery, MAX_LIMIT};
use crate::regions::RegionCode;
use crate::store::keys::Position;
use crate::store::StoreError;

/// Answers `/sitemap-news.xml`: the portal's own article pages published since the request
/// time less `news_window`, newest first, at most [`news_sitemap::MAX_URLS`].
pub async fn news(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let window = app.settings.news_window;
    let (repr, first_in) = match windowed(app, "sitemap-news", sitemap::CONTENT_TYPE, Vec::new(), window) {
        Ok(w) => w,
        Err(problem) => return problem.into_response(),
    };
    let render = Box::new(move |app: &App| {
        let entries = news_entries(app, first_in).map_err(|e| Problem::internal(e.to_string()))?;
        Ok(news_sitemap::render(&app.settings.portal_name, &entries))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Answers `/yandex.rss` and `/regions/{code}/yandex.rss` (the router has checked the code):
/// the articles of the last `yandex_window`, newest first, at most [`MAX_LIMIT`], without those of
/// accredited outside publishers not marked `syndicate` (Yandex shows them under the portal's
/// name, and publishing someone else's content so needs the operator's say).
pub async fn yandex(app: &Arc<App>, req: &Parts, path_region: Option<&str>) -> Response<Body> {
    if let Some(refusal) = no_query(req) {
        return refusal;
    }
    let regions: Vec<RegionCode> = path_region
        .and_then(|code| app.regions.lookup(code))
        .map(|r| vec![r.code.clone()])
        .unwrap_or_default();
    let window = app.settings.yandex_window;
    let content_type = Format::Rss.content_type();
    let outside = match crate::auth::outside_publishers(&app.store) {
        Ok(outside) => outside,
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let (mut repr, first_in) = match windowed(app, "yandex", content_type, regions.clone(), window) {
        Ok(w) => w,
        Err(problem) => return problem.into_response(),
    };
    // Allowing or accrediting a publisher changes what is shown without a write to any article.
    repr.canonical
        .push_str(&format!("&outside={}", outside.join(",")));
    let updated = repr.visible.last_modified;
    let render = Box::new(move |app: &App| {
        let articles = match first_in {
            Some(first) => app
                .store
                .scan(&regions)
                .oldest(Some(first.micros))
                .articles(MAX_LIMIT, |a| outside.binary_search(&a.publisher).is_err())
                .map_err(|e| Problem::internal(e.to_string()))?,
            None => Vec::new(),
        };
        let page = Page {
            articles,
            ..Page::default()
        };
        let query = FeedQuery {
            regions,
            ..FeedQuery::default()
        };
        let doc = FeedDoc::new(&app.feed_context(), &query, Format::Rss, &page, updated);
        Ok(yandex::render(&doc)?)
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// The representation of a `window` over `regions` at the time of the request, and the oldest
/// position inside the window (which the render lists from).
fn windowed(
    app: &App,
    kind: &'static str,
    content_type: &'static str,
    regions: Vec<RegionCode>,
    window: Duration,
) -> Result<(Representation, Option<Position>), Problem> {
    let window = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    let cutoff = Utc::now().timestamp_micros().saturating_sub(window);
    let edge = window_edge(app, &regions, cutoff).map_err(|e| Problem::internal(e.to_string()))?;
    let codes: Vec<&str> = regions.iter().map(RegionCode::as_str).collect();
    let canonical = match edge.first_in {
        Some(p) => format!("region={}&from={}.{}", codes.join(","), p.micros, p.id),
        None => format!("region={}&from=none", codes.join(",")),
    };
    let mut repr = Representation::new(app, kind, content_type, canonical, &regions);
    if let Some(left) = edge
        .last_out
        .and_then(|p| DateTime::<Utc>::from_timestamp_micros(p.micros.saturating_add(window)))
    {
        repr.visible.last_modified = repr.visible.last_modified.max(left);
    }
    Ok((repr, edge.first_in))
}

/// Where a window meets the archive.
struct WindowEdge {
    /// The oldest position published at or after the cutoff.
    first_in: Option<Position>,
    /// The newest position published before it: the last article to have left the window.
    last_out: Option<Position>,
}

fn window_edge(app: &App, regions: &[RegionCode], cutoff: i64) -> Result<WindowEdge, StoreError> {
    let start = Position {
        micros: i64::MIN,
        id: 0,
    };
    let first_in = app
        .store
        .scan(regions)
        .oldest(Some(cutoff))
        .after(Some(start))
        .positions()
        .next()
        .transpose()?;
    let last_out = app
        .store
        .scan(regions)
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
            title: a.title.clone(),
            published_at: a.published_at,
        })
        .collect())
}
