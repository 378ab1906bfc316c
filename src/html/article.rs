//! `GET /articles/{id}`: the article as a reader meets it, with what social previews and search
//! engines read (`<link rel="canonical">`, OpenGraph, a JSON-LD `NewsArticle`).
//!
//! Validators come from the data: the page shows the article and the month calendar of its
//! regions, so its ETag and `Last-Modified` follow those regions' change generations (every
//! write to the article bumps them), never the clock. An id that never existed is a 404, a
//! withdrawn article a 410 Gone (RFC 9110 §15.5.11, from the tombstone its delete left); both
//! as an HTML page for a browser and as a problem for everything else.

use std::sync::Arc;

use askama::Template;
use http::header::{self, HeaderMap};
use http::request::Parts;
use http::{Response, StatusCode};
use serde_json::json;

use super::month::MonthGrid;
use super::{month_grid, render, Head, CONTENT_TYPE};
use crate::api::FeedLinks;
use crate::app::App;
use crate::http::representation::{self, Representation};
use crate::http::response::{self, Body, Problem};
use crate::model::{Article, Image, Source};
use crate::query::FeedQuery;

#[derive(Template)]
#[template(path = "article.html")]
struct ArticlePage {
    head: Head,
    base: String,
    portal: String,
    canonical: Option<String>,
    url: String,
    description: String,
    image: Option<Image>,
    published: String,
    modified: String,
    /// The local time of the last change in the portal's style, when it is a later minute than
    /// the publication ("обновлено 18:05 20.07.2023").
    edited: Option<String>,
    section: Option<String>,
    categories: Vec<String>,
    json_ld: String,
    title: String,
    local: String,
    summary: Option<String>,
    body: Option<String>,
    author: Option<String>,
    sources: Vec<Source>,
    regions: Vec<RegionLink>,
    /// "123 просмотра", when the publisher sends a count.
    views: Option<String>,
    day: String,
    day_label: String,
    grid: MonthGrid,
}

/// One of the article's regions: its page and its feeds.
struct RegionLink {
    name: String,
    href: String,
    feeds: FeedLinks,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    head: Head,
    base: String,
    portal: String,
    heading: String,
    detail: String,
}

/// `GET /articles/{id}`.
///
/// The query string is ignored, unlike on the other pages: an article's URL travels through
/// shares and messengers that append their own tracking parameters (`?utm_source=…`,
/// `?fbclid=…`), and a reader following such a link must land on the article. The page does not
/// depend on the query, so its validators do not either.
pub async fn page(app: &Arc<App>, req: &Parts, id: u64) -> Response<Body> {
    // A scheduled article has no page until it is released: 404, as if unknown.
    let article = match app.store.get_public(id) {
        Ok(Some(a)) => a,
        Ok(None) => return missing(app, &req.headers, id),
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let mut repr = Representation::new(
        app,
        "html-article",
        CONTENT_TYPE,
        id.to_string(),
        &article.regions,
    );
    // The count shown is bucketed, so views change the page's validators only when the shown
    // number changes (see [`shown_views`]), and never the region generations feeds use.
    let counted = match app.store.views(id) {
        Ok(n) => n,
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let shown = shown_views(article.views, counted).unwrap_or(u64::MAX);
    repr.visible.generations.push(("views".to_string(), shown));
    let render = Box::new(move |app: &App| {
        // Read again: the validators above were taken after the first read, and the body must
        // not be older than them.
        let article = app.store.get_public(id)?.unwrap_or(article);
        render_body(app, &article)
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// The page of public article `id` as a cache miss renders it (read, count, template), or None
/// when no such article is public: what `benches/feeds.rs` measures.
pub fn render_page(app: &App, id: u64) -> Result<Option<Vec<u8>>, Problem> {
    match app.store.get_public(id)? {
        Some(article) => render_body(app, &article).map(Some),
        None => Ok(None),
    }
}

fn render_body(app: &App, article: &Article) -> Result<Vec<u8>, Problem> {
    let counted = app.store.views(article.id)?;
    render(&article_page(app, article, counted)?)
}

fn article_page(app: &App, a: &Article, counted: u64) -> Result<ArticlePage, Problem> {
    let ctx = app.feed_context();
    let local = a.published_at.with_timezone(&ctx.tz);
    let url = a.url(ctx.base_url);
    let regions: Vec<RegionLink> = a
        .regions
        .iter()
        .map(|code| {
            let query = FeedQuery {
                regions: vec![code.clone()],
                ..FeedQuery::default()
            };
            RegionLink {
                name: super::scope_name(app, std::slice::from_ref(code)),
                href: ctx.html_url(&query),
                feeds: FeedLinks::of(&ctx, &query),
            }
        })
        .collect();
    let scope = FeedQuery {
        regions: a.regions.clone(),
        ..FeedQuery::default()
    };
    let date = local.date_naive();
    Ok(ArticlePage {
        head: Head {
            title: format!("{} — {}", a.title, app.settings.portal_name),
            feeds: FeedLinks::of(&ctx, &scope),
        },
        base: ctx.base_url.to_string(),
        portal: app.settings.portal_name.clone(),
        canonical: a.link.clone(),
        description: a.summary.clone().unwrap_or_default(),
        image: a.image.clone(),
        published: a.published_at.to_rfc3339(),
        modified: a.modified().to_rfc3339(),
        edited: edited_label(a, &ctx.tz),
        section: a.categories.first().cloned(),
        categories: a.categories.clone(),
        json_ld: json_ld(app, a, &url),
        url,
        title: a.title.clone(),
        local: local.format(PORTAL_TIME).to_string(),
        summary: a.summary.clone(),
        body: a.content_html.clone(),
        author: a.author.clone(),
        sources: a.sources.clone(),
        regions,
        views: shown_views(a.views, counted).map(views_ru),
        day: format!(
            "{}/days/{}{}",
            ctx.base_url,
            date.format("%Y-%m-%d"),
            super::region_param(&a.regions)
        ),
        day_label: date.format("%d.%m.%Y").to_string(),
        grid: month_grid(app, date, &a.regions)?,
    })
}

/// The portal's style of a time: time first, then the date ("17:26 20.07.2023").
const PORTAL_TIME: &str = "%H:%M %d.%m.%Y";

/// When the article was last changed, in the portal's style and time zone, if that shows as a
/// later time than its publication (a correction seconds later is not news to a reader).
fn edited_label(a: &Article, tz: &chrono_tz::Tz) -> Option<String> {
    let shown =
        |t: chrono::DateTime<chrono::FixedOffset>| t.with_timezone(tz).format(PORTAL_TIME).to_string();
    let (published, modified) = (shown(a.published_at), shown(a.modified()));
    (a.modified() > a.published_at && modified != published).then_some(modified)
}

/// The view count the page shows: the publisher's `views` exactly, plus the views lenta counted
/// rounded down to two significant digits (exact below 100; 1 234 counted add 1 200); None when
/// the publisher sent no count and none was counted.
///
/// The bound on the page's lag: the shown number is part of the page's ETag, so the page is
/// re-rendered (and revalidating clients get a 200) when it changes, at most about 90 times per
/// tenfold growth of the counted views, and the page shows less than 10% of them too few (at most
/// 9 below 100). Counting every view into the ETag would re-render a popular page on every request.
pub fn shown_views(base: Option<u64>, counted: u64) -> Option<u64> {
    if base.is_none() && counted == 0 {
        return None;
    }
    let mut step = 1;
    while counted / step >= 100 {
        step *= 10;
    }
    Some(base.unwrap_or(0).saturating_add(counted / step * step))
}

/// A view count in Russian, with the noun in the case its number takes (CLDR plural rules for
/// `ru`: one, few, many): 1 просмотр, 3 просмотра, 11 просмотров, 21 просмотр.
pub fn views_ru(n: u64) -> String {
    let noun = match (n % 10, n % 100) {
        (1, r) if r != 11 => "просмотр",
        (2..=4, r) if !(12..=14).contains(&r) => "просмотра",
        _ => "просмотров",
    };
    format!("{n} {noun}")
}

/// The JSON-LD `NewsArticle` (schema.org), safe inside `<script>`.
fn json_ld(app: &App, a: &Article, url: &str) -> String {
    let author = match &a.author {
        Some(name) => json!({"@type": "Person", "name": name}),
        None => json!({"@type": "Organization", "name": a.publisher}),
    };
    let mut doc = json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": url,
        "headline": a.title,
        "datePublished": a.published_at.to_rfc3339(),
        "dateModified": a.modified().to_rfc3339(),
        "author": author,
        "publisher": {"@type": "Organization", "name": app.settings.portal_name},
    });
    if let Some(image) = &a.image {
        doc["image"] = json!([image.url]);
    }
    if let Some(summary) = &a.summary {
        doc["description"] = json!(summary);
    }
    script_safe_json(&doc.to_string())
}

/// JSON that cannot end or comment out its `<script>` element: `<`, `>` and `&` only occur
/// inside JSON strings, where `\u003c` means the same character (RFC 8259 §7), so
/// `</script>` and `<!--` never appear (HTML §4.12.1.3, restrictions for script contents).
pub fn script_safe_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// 410 for a withdrawn article, 404 for an id that never was one.
fn missing(app: &App, headers: &HeaderMap, id: u64) -> Response<Body> {
    let gone = match app.store.tombstone(id) {
        Ok(gone) => gone,
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let (status, heading, detail) = match gone {
        Some(at) => (
            StatusCode::GONE,
            "Статья снята с публикации",
            format!(
                "article {id} was withdrawn by its publisher at {}",
                at.to_rfc3339()
            ),
        ),
        None => (
            StatusCode::NOT_FOUND,
            "Статья не найдена",
            format!("no article with id {id}; the regions' pages at / list the articles"),
        ),
    };
    if !wants_html(headers) {
        let kind = if status == StatusCode::GONE {
            "gone"
        } else {
            "not-found"
        };
        let title = if status == StatusCode::GONE {
            "Gone"
        } else {
            "Not found"
        };
        return Problem::new(status, kind, title, detail).into_response();
    }
    error_page(app, status, heading, detail)
}

/// An error as a page for a browser, in the site's layout.
pub fn error_page(app: &App, status: StatusCode, heading: &str, detail: String) -> Response<Body> {
    let ctx = app.feed_context();
    let page = ErrorPage {
        head: Head {
            title: format!("{heading} — {}", app.settings.portal_name),
            feeds: FeedLinks::of(&ctx, &FeedQuery::default()),
        },
        base: ctx.base_url.to_string(),
        portal: app.settings.portal_name.clone(),
        heading: heading.to_string(),
        detail,
    };
    match render(&page) {
        Ok(body) => response::bytes(status, CONTENT_TYPE, body),
        Err(problem) => problem.into_response(),
    }
}

/// Whether the client asks for HTML (a browser): `Accept` lists `text/html` with a non-zero
/// q-value (RFC 9110 §12.5.1). Anything else gets problem details.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let zero = parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("q") && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            media.eq_ignore_ascii_case("text/html") && !zero
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_cannot_close_its_script() {
        let safe = script_safe_json(r#"{"headline":"</script><!-- & <b>"}"#);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["headline"], "</script><!-- & <b>");
    }

    #[test]
    fn shown_views_keep_two_significant_digits() {
        assert_eq!(shown_views(None, 0), None);
        assert_eq!(shown_views(Some(0), 0), Some(0));
        assert_eq!(shown_views(None, 7), Some(7));
        assert_eq!(shown_views(Some(123), 0), Some(123));
        assert_eq!(shown_views(Some(90), 99), Some(189));
        assert_eq!(shown_views(Some(1000), 1234), Some(2200));
        assert_eq!(shown_views(Some(48_765), 100_999), Some(148_765));
        assert_eq!(shown_views(Some(u64::MAX), 5), Some(u64::MAX));
    }

    #[test]
    fn view_counts_read_as_russian() {
        for (n, text) in [
            (0, "0 просмотров"),
            (1, "1 просмотр"),
            (3, "3 просмотра"),
            (11, "11 просмотров"),
            (12, "12 просмотров"),
            (21, "21 просмотр"),
            (123, "123 просмотра"),
            (8083, "8083 просмотра"),
            (8111, "8111 просмотров"),
        ] {
            assert_eq!(views_ru(n), text);
        }
    }

    #[test]
    fn html_is_for_clients_that_accept_it() {
        let accept = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, v.parse().expect("header"));
            wants_html(&h)
        };
        assert!(accept("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(accept("TEXT/HTML"));
        assert!(!accept("application/json"));
        assert!(!accept("text/html;q=0, application/json"));
        assert!(!accept("*/*"));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
