//! Pages for people: `/` (regions and their feeds), `/regions/{code}/` (latest articles),
//! `/calendar/YYYY-MM` (the month), `/days/YYYY-MM-DD` (one local day, [`day`]) and
//! `/articles/{id}` (the article page, [`article`]) and `/search?q=…` (keyword search, [`search`]).
//!
//! Server-rendered HTML5, small, no JavaScript, readable on a phone. Every `<head>` carries
//! autodiscovery links (`<link rel="alternate">`) so a browser or reader finds the feeds from the
//! page.
//!
//! Why askama: the pages became a small site, and string building made every page a place to
//! forget an escape. askama compiles one template per page (`templates/*.html`, all extending
//! `base.html`) into Rust at build time: a missing field or a typo is a compile error, rendering
//! costs no parsing or reflection at run time (the pages go through the same render pool and
//! cache as the feeds), and every `{{ value }}` is escaped unless a template says `|safe`, which
//! only the already-sanitized article body and the JSON-LD (escaped by [`article`]) do. maud
//! would give the same guarantees, but its markup is Rust syntax; askama's Jinja-like files are
//! HTML a designer can edit. The escaper is lenta's own ([`Html`], configured in `askama.toml`),
//! so the pages keep the entities they had before the move.

pub mod article;
pub mod day;
mod month;
pub mod search;

use std::sync::Arc;

use askama::Template;
use chrono::NaiveDate;
use http::request::Parts;
use http::Response;

use crate::api::calendar::{day_counts, CalendarQuery};
use crate::api::FeedLinks;
use crate::app::App;
use crate::feed::FeedContext;
use crate::http::popular;
use crate::http::representation::{self, Representation};
use crate::http::response::{Body, Problem};
use crate::model::{Article, FieldError};
use crate::query::{FeedQuery, Period, Sort};
use crate::regions::RegionCode;
use month::MonthGrid;

/// `Content-Type` of every page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// The escaper of every template (see `askama.toml`): `&`, `<`, `>`, `"` and `'` as entities,
/// the same as [`crate::feed::rss::escape_html`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            dest.write_str(&rest[..at])?;
            dest.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        dest.write_str(rest)
    }
}

/// What `base.html` puts in `<head>`: the title and the autodiscovery links of the page's feeds.
pub struct Head {
    /// `<title>`.
    pub title: String,
    /// The feeds a reader should find from this page.
    pub feeds: FeedLinks,
}

/// One article in a list (region and day pages).
pub struct Teaser {
    /// Where the headline links.
    pub href: String,
    /// Headline.
    pub title: String,
    /// Publication instant, RFC 3339 (`<time datetime>`).
    pub datetime: String,
    /// Publication time in the portal time zone, `DD.MM.YYYY HH:MM`.
    pub local: String,
    /// Lead.
    pub summary: Option<String>,
    /// Source names, comma-separated (empty when none).
    pub sources: String,
}

impl Teaser {
    /// The teaser of `a`, its headline linking `href`.
    pub fn new(ctx: &FeedContext, a: &Article, href: String) -> Self {
        Teaser {
            href,
            title: a.title.clone(),
            datetime: a.published_at.to_rfc3339(),
            local: a
                .published_at
                .with_timezone(&ctx.tz)
                .format("%d.%m.%Y %H:%M")
                .to_string(),
            summary: a.summary.clone(),
            sources: a
                .sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Renders a page template for the render pool; a template error is a bug, answered as a 500.
pub fn render(page: &impl Template) -> Result<Vec<u8>, Problem> {
    page.render()
        .map(String::into_bytes)
        .map_err(|e| Problem::internal(format!("page template failed: {e}")))
}

/// The display name of regions (all regions when empty).
pub fn scope_name(app: &App, regions: &[RegionCode]) -> String {
    if regions.is_empty() {
        return "все регионы".to_string();
    }
    let names: Vec<String> = regions
        .iter()
        .map(|c| {
            app.regions
                .lookup(c.as_str())
                .map_or_else(|| c.to_string(), |r| r.name_ru.clone())
        })
        .collect();
    names.join(", ")
}

/// `?region=A,B` for links that keep a page's regions (empty for all regions).
pub fn region_param(regions: &[RegionCode]) -> String {
    if regions.is_empty() {
        return String::new();
    }
    let codes: Vec<&str> = regions.iter().map(RegionCode::as_str).collect();
    format!("?region={}", codes.join(","))
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    head: Head,
    base: String,
    all: FeedLinks,
    rows: Vec<IndexRow>,
}

struct IndexRow {
    href: String,
    name: String,
    code: String,
    count: u64,
    feeds: FeedLinks,
}

/// `GET /`.
pub async fn index(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(problem) = no_query(req) {
        return problem;
    }
    let repr = Representation::new(app, "html-index", CONTENT_TYPE, String::new(), &[]);
    let render = Box::new(|app: &App| render(&index_page(app)));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

fn index_page(app: &App) -> IndexPage {
    let ctx = app.feed_context();
    let rows = app
        .regions
        .iter()
        .map(|region| {
            let query = FeedQuery {
                regions: vec![region.code.clone()],
                ..FeedQuery::default()
            };
            IndexRow {
                href: ctx.html_url(&query),
                name: region.name_ru.clone(),
                code: region.code.to_string(),
                count: app.store.region_meta(region.code.as_str()).count,
                feeds: FeedLinks::of(&ctx, &query),
            }
        })
        .collect();
    IndexPage {
        head: Head {
            title: app.settings.portal_name.clone(),
            feeds: FeedLinks::of(&ctx, &FeedQuery::default()),
        },
        base: ctx.base_url.to_string(),
        all: FeedLinks::of(&ctx, &FeedQuery::default()),
        rows,
    }
}

#[derive(Template)]
#[template(path = "region.html")]
struct RegionPage {
    head: Head,
    base: String,
    name: String,
    code: String,
    calendar: Option<String>,
    teasers: Vec<Teaser>,
    /// The ranking's period when this is the "most read" page (`?sort=popular`).
    popular: Option<String>,
    /// The region's pages: the latest articles, and the most read over each offered period.
    orders: Vec<OrderLink>,
}

/// A link to one ordering of a region's page.
struct OrderLink {
    label: String,
    href: String,
    current: bool,
}

/// The periods the region page offers links to (any other `period=` works too).
const OFFERED_PERIODS: [&str; 3] = ["24h", "7d", "30d"];

/// Articles a region page lists.
const REGION_PAGE_ITEMS: usize = 30;

/// `GET /regions/{code}/` (the latest articles) and `GET /regions/{code}/?sort=popular[&period=…]`
/// (the most read of the period).
///
/// The most read is a page of its own, linked from the timeline page, not a block on it: a
/// block would tie the timeline page's validators to the ranking, so the page most readers open
/// would change with views (at the refresh rate) and could no longer be answered from
/// generations alone; and a ranking computed for every region page view would cost more than
/// the page. As a page it has its own snapshot validators and autodiscovery of the ranking's feeds.
pub async fn region_page(app: &Arc<App>, req: &Parts, code: &str) -> Response<Body> {
    if let Some(problem) = only_order_params(req) {
        return problem;
    }
    let Some(region) = app.regions.lookup(code) else {
        return crate::http::router::unknown_region(code).into_response();
    };
    let query = match app.parse_query(req.uri.query(), Some(region.code.as_str())) {
        Ok(q) => FeedQuery {
            limit: REGION_PAGE_ITEMS,
            ..q
        },
        Err(problem) => return problem.into_response(),
    };
    if let Sort::Popular(period) = query.sort {
        let snapshot = match popular::snapshot(app, &query, period).await {
            Ok(s) => s,
            Err(problem) => return problem.into_response(),
        };
        let repr = popular::representation("html-region", CONTENT_TYPE, query.canonical(), &snapshot);
        let render = Box::new(move |app: &App| render(&region_html(app, &query, &snapshot.articles)));
        return representation::serve(app, &req.method, &req.headers, repr, render).await;
    }
    let repr = Representation::new(
        app,
        "html-region",
        CONTENT_TYPE,
        query.canonical(),
        &query.regions,
    );
    let render = Box::new(move |app: &App| {
        let page = app.read_page(&query)?;
        render(&region_html(app, &query, &page.articles))
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// A 400 for any parameter of a region page other than `sort` and `period`.
fn only_order_params(req: &Parts) -> Option<Response<Body>> {
    let raw = req.uri.query().filter(|q| !q.is_empty())?;
    let errors: Vec<FieldError> = form_urlencoded::parse(raw.as_bytes())
        .filter(|(key, _)| key != "sort" && key != "period")
        .map(|(key, _)| {
            FieldError::new(
                key.chars().take(64).collect::<String>(),
                "this page takes only sort and period (e.g. ?sort=popular&period=7d); the \
                 region's feeds take the other filters",
            )
        })
        .collect();
    (!errors.is_empty()).then(|| Problem::bad_query(errors).into_response())
}

/// Links to the region's latest articles and to its most read over each offered period.
fn order_links(base: &str, code: &str, current: Sort) -> Vec<OrderLink> {
    let page = format!("{base}/regions/{code}/");
    let mut links = vec![OrderLink {
        label: "Последние".to_string(),
        href: page.clone(),
        current: current == Sort::Newest,
    }];
    links.extend(OFFERED_PERIODS.iter().filter_map(|text| {
        let period = Period::parse(text)?;
        Some(OrderLink {
            label: format!("Самое читаемое за {}", period.label_ru()),
            href: format!("{page}?sort=popular&period={}", period.text()),
            current: current == Sort::Popular(period),
        })
    }));
    links
}

fn region_html(app: &App, query: &FeedQuery, articles: &[std::sync::Arc<Article>]) -> RegionPage {
    let ctx = app.feed_context();
    let name = scope_name(app, &query.regions);
    let code = query.regions.first().map_or_else(String::new, |c| c.to_string());
    // The calendar opens at the newest article's month: derived from the data, not the clock,
    // so the page stays byte-identical until a write changes it.
    let calendar = articles.first().map(|newest| {
        let month = newest.published_at.with_timezone(&ctx.tz).format("%Y-%m");
        format!(
            "{}/calendar/{month}{}",
            ctx.base_url,
            region_param(&query.regions)
        )
    });
    RegionPage {
        head: Head {
            title: match query.sort {
                Sort::Popular(period) => format!(
                    "{name}: самое читаемое за {} — {}",
                    period.label_ru(),
                    app.settings.portal_name
                ),
                Sort::Newest => format!("{name} — {}", app.settings.portal_name),
            },
            feeds: FeedLinks::of(&ctx, query),
        },
        base: ctx.base_url.to_string(),
        orders: order_links(ctx.base_url, &code, query.sort),
        popular: match query.sort {
            Sort::Popular(period) => Some(period.label_ru()),
            Sort::Newest => None,
        },
        code,
        name,
        calendar,
        teasers: articles
            .iter()
            .map(|a| Teaser::new(&ctx, a, a.url(ctx.base_url)))
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    head: Head,
    base: String,
    heading: String,
    grid: MonthGrid,
}

/// `GET /calendar/YYYY-MM[?region=…]`: the month as the portal's calendar widget shows it, each
/// day with articles linking to that day's page.
pub async fn calendar_page(app: &Arc<App>, req: &Parts, month: &str) -> Response<Body> {
    let raw = match req.uri.query() {
        Some(q) if !q.is_empty() => format!("month={month}&{q}"),
        _ => format!("month={month}"),
    };
    let query = match CalendarQuery::parse(Some(&raw), app) {
        Ok(q) => q,
        Err(errors) => return Problem::bad_query(errors).into_response(),
    };
    let repr = Representation::new(
        app,
        "html-calendar",
        CONTENT_TYPE,
        query.canonical(),
        &query.regions,
    );
    let render = Box::new(move |app: &App| render(&calendar_html(app, &query)?));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

fn calendar_html(app: &App, query: &CalendarQuery) -> Result<CalendarPage, Problem> {
    let ctx = app.feed_context();
    let scope = FeedQuery {
        regions: query.regions.clone(),
        ..FeedQuery::default()
    };
    let heading = format!(
        "{}: {}",
        query.month.format("%Y-%m"),
        scope_name(app, &query.regions)
    );
    Ok(CalendarPage {
        head: Head {
            title: format!("{heading} — {}", app.settings.portal_name),
            feeds: FeedLinks::of(&ctx, &scope),
        },
        base: ctx.base_url.to_string(),
        heading,
        grid: month_grid(app, query.month, &query.regions)?,
    })
}

/// The month of `day` over `regions`, each day with articles linking its day page.
fn month_grid(app: &App, day: NaiveDate, regions: &[RegionCode]) -> Result<MonthGrid, Problem> {
    let query = CalendarQuery {
        month: month::first_of(day),
        regions: regions.to_vec(),
    };
    let counts = day_counts(app, &query).map_err(|e| Problem::internal(e.to_string()))?;
    Ok(MonthGrid::new(&app.settings.base_url, &query, &counts))
}

fn no_query(req: &Parts) -> Option<Response<Body>> {
    let q = req.uri.query().filter(|q| !q.is_empty())?;
    let name = q.split('=').next().unwrap_or(q).to_string();
    Some(Problem::bad_query(vec![FieldError::new(name, "this page takes no parameters")]).into_response())
}
