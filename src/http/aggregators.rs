//! The documents whose window is relative to the time of the request: `/sitemap-news.xml`
//! (Google News, 2 days), `/yandex.rss` (Yandex, 8 days) and `/dzen.rss` (Dzen, 3 days), the
//! two feeds also per region and with the feeds' query parameters (see `window_query`).
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
use crate::feed::{dzen, sitemap, yandex, FeedDoc, Format, Page};
use crate::model::FieldError;
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
    let everything = FeedQuery {
        limit: news_sitemap::MAX_URLS,
        ..FeedQuery::default()
    };
    let (repr, first_in) = match windowed(
        app,
        "sitemap-news",
        sitemap::CONTENT_TYPE,
        &everything,
        None,
        window,
    ) {
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
/// accredited outside publishers not marked `syndicate` (see [`Syndication`]).
pub async fn yandex(app: &Arc<App>, req: &Parts, path_region: Option<&str>) -> Response<Body> {
    let feed = WindowFeed {
        kind: "yandex",
        window: app.settings.yandex_window,
        cap: MAX_LIMIT,
        settings: format!(
            "&genre={}",
            app.settings.yandex_genre.map_or("none", |g| g.as_str())
        ),
        render: |app, doc| yandex::render(doc, app.settings.yandex_genre),
    };
    feed.serve(app, req, path_region).await
}

/// Answers `/dzen.rss` and `/regions/{code}/dzen.rss` (the router has checked the code): the
/// articles of the last `dzen_window`, newest first, at most [`dzen::MAX_ITEMS`], without those of
/// outside publishers not marked `syndicate` (Dzen forbids publishing someone else's content
/// under the portal's brand).
pub async fn dzen(app: &Arc<App>, req: &Parts, path_region: Option<&str>) -> Response<Body> {
    let options = dzen_options(app);
    let feed = WindowFeed {
        kind: "dzen",
        window: app.settings.dzen_window,
        cap: dzen::MAX_ITEMS,
        // The settings the bytes depend on, so that a restart with others never reuses a validator.
        settings: format!(
            "&content_type={}&logo={}&square_logo={}",
            options.content_type.as_str(),
            options.logo_url,
            options.square_logo_url
        ),
        render: |app, doc| dzen::render(doc, &dzen_options(app)),
    };
    feed.serve(app, req, path_region).await
}

/// The Dzen channel's settings: the configured logos, else the portal's logo and icon.
fn dzen_options(app: &App) -> dzen::DzenOptions<'_> {
    let s = &app.settings;
    dzen::DzenOptions {
        content_type: s.dzen_content_type,
        logo_url: s.dzen_logo_url.as_deref().unwrap_or(&app.branding.logo_url),
        square_logo_url: s
            .dzen_square_logo_url
            .as_deref()
            .unwrap_or(&app.branding.icon_url),
    }
}

/// An RSS document of the articles inside a window that ends at the time of the request.
struct WindowFeed {
    /// Kind of document, part of the ETag.
    kind: &'static str,
    /// How far back from the request it reaches.
    window: Duration,
    /// Most items.
    cap: usize,
    /// Settings the bytes depend on beyond the render fingerprint, for the cache key.
    settings: String,
    /// The renderer.
    render: fn(&App, &FeedDoc) -> Result<Vec<u8>, crate::feed::RenderError>,
}

impl WindowFeed {
    async fn serve(self, app: &Arc<App>, req: &Parts, path_region: Option<&str>) -> Response<Body> {
        let query = match window_query(app, req, path_region, self.cap) {
            Ok(q) => q,
            Err(problem) => return problem.into_response(),
        };
        let syndication = match Syndication::load(app) {
            Ok(s) => s,
            Err(problem) => return problem.into_response(),
        };
        let floor = query.from.as_ref().map(|b| b.micros);
        let (mut repr, first_in) = match windowed(
            app,
            self.kind,
            Format::Rss.content_type(),
            &query,
            floor,
            self.window,
        ) {
            Ok(w) => w,
            Err(problem) => return problem.into_response(),
        };
        repr.canonical.push_str(&syndication.key());
        repr.canonical.push_str(&self.settings);
        let updated = repr.visible.last_modified;
        let render = self.render;
        let render = Box::new(move |app: &App| {
            let articles = match first_in {
                Some(first) => app
                    .store
                    .scan(&query.regions)
                    .oldest(Some(first.micros))
                    .newest(query.to.as_ref().map(|b| b.micros))
                    .articles(query.limit, |a| {
                        syndication.allows(a) && query.matches_category(&a.categories)
                    })
                    .map_err(|e| Problem::internal(e.to_string()))?,
                None => Vec::new(),
            };
            let page = Page {
                articles,
                ..Page::default()
            };
            let doc = FeedDoc::new(&app.feed_context(), &query, Format::Rss, &page, updated);
            Ok(render(app, &doc)?)
        });
        representation::serve(app, &req.method, &req.headers, repr, render).await
    }
}

/// The parameters the window feeds take: those of the other feeds (`region`, `category`, `from`,
/// `to`, `limit`), parsed by [`FeedQuery::parse`], so a partner can take one region or topic.
/// `from` only narrows the window (it never reaches further back than the window does); `limit`
/// defaults to the document's cap (`cap`, at most [`MAX_LIMIT`]) rather than to a feed page.
/// Paging cursors are refused: these documents list their whole window at once.
fn window_query(app: &App, req: &Parts, path_region: Option<&str>, cap: usize) -> Result<FeedQuery, Problem> {
    let raw = req.uri.query();
    let mut query = app.parse_query(raw, path_region)?;
    let paging: Vec<FieldError> = [
        ("before", query.before.is_some()),
        ("after", query.after.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(name, _)| {
        FieldError::new(
            name,
            "this document lists its whole window at once and has no pages; allowed parameters \
                 are region, category, from, to, limit",
        )
    })
    .collect();
    if !paging.is_empty() {
        return Err(Problem::bad_query(paging));
    }
    let limit_given = form_urlencoded::parse(raw.unwrap_or("").as_bytes()).any(|(k, _)| k == "limit");
    query.limit = if limit_given { query.limit.min(cap) } else { cap };
    Ok(query)
}

/// Which articles the aggregator documents may republish under the portal's name: all but those
/// of accredited outside publishers the operator has not marked `syndicate` (Yandex and Dzen show
/// them as the portal's, and both forbid publishing someone else's content so). One rule for
/// every aggregator feed.
struct Syndication {
    /// The publishers left out, sorted.
    outside: Vec<String>,
}

impl Syndication {
    fn load(app: &App) -> Result<Self, Problem> {
        crate::auth::outside_publishers(&app.store)
            .map(|outside| Syndication { outside })
            .map_err(|e| Problem::internal(e.to_string()))
    }

    /// Whether `article` may be shown.
    fn allows(&self, article: &crate::model::Article) -> bool {
        self.outside.binary_search(&article.publisher).is_err()
    }

    /// For the cache key and ETag: allowing or accrediting a publisher changes what is shown
    /// without a write to any article.
    fn key(&self) -> String {
        format!("&outside={}", self.outside.join(","))
    }
}

/// The representation of a `window` over `query`'s regions at the time of the request, and the
/// oldest position inside it (which the render lists from). `floor` (a query's `from`) narrows the
/// window's start, never widens it.
fn windowed(
    app: &App,
    kind: &'static str,
    content_type: &'static str,
    query: &FeedQuery,
    floor: Option<i64>,
    window: Duration,
) -> Result<(Representation, Option<Position>), Problem> {
    let window = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    let cutoff = Utc::now().timestamp_micros().saturating_sub(window);
    // The clock bounds the list only while the window's start is later than `from`.
    let clock_bound = floor.is_none_or(|f| f <= cutoff);
    let start = floor.map_or(cutoff, |f| f.max(cutoff));
    let edge = window_edge(app, &query.regions, start).map_err(|e| Problem::internal(e.to_string()))?;
    let from = match edge.first_in {
        Some(p) => format!("{}.{}", p.micros, p.id),
        None => "none".to_string(),
    };
    // The canonical query (regions, categories, dates) and the effective limit, which the
    // canonical form leaves out at the feeds' default.
    let canonical = format!("{}&limit={}&first_in={from}", query.canonical(), query.limit);
    let mut repr = Representation::new(app, kind, content_type, canonical, &query.regions);
    if let Some(left) = edge
        .last_out
        .filter(|_| clock_bound)
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
