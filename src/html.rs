//! Pages for people: `/` (regions and their feeds), `/regions/{code}/` (latest articles) and
//! `/calendar/YYYY-MM` (the month, linking each day's feed).
//!
//! Server-rendered HTML5, small, no JavaScript, readable on a phone. Every `<head>` carries
//! autodiscovery links (`<link rel="alternate">`) so a browser or reader finds the feeds from the
//! page. All text goes through [`escape`]; stored article HTML is never inserted here.

use std::fmt::Write as _;
use std::sync::Arc;

use http::request::Parts;
use http::Response;

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use crate::api::calendar::{day_counts, CalendarQuery};
use crate::api::FeedLinks;
use crate::app::App;
use crate::feed::rss::escape_html as escape;
use crate::feed::{FeedContext, Format};
use crate::http::representation::{self, Representation};
use crate::http::response::{Body, Problem};
use crate::model::{Article, FieldError};
use crate::query::{FeedQuery, TimeBound};

const CONTENT_TYPE: &str = "text/html; charset=utf-8";
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem}\
a{color:#0645ad}table{border-collapse:collapse;width:100%}td,th{padding:.25rem .5rem;border-bottom:1px solid #ddd;text-align:left}\
.feeds{display:inline-flex;flex-wrap:wrap;gap:0 .5rem}article{margin:1.25rem 0}h2{font-size:1.15rem;margin:0 0 .25rem}\
time,.meta{color:#555;font-size:.9rem}";

/// `GET /`.
pub async fn index(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(problem) = no_query(req) {
        return problem;
    }
    let repr = Representation::new(app, "html-index", CONTENT_TYPE, String::new(), &[]);
    let render = Box::new(|app: &App| Ok(index_page(app).into_bytes()));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// `GET /regions/{code}/`.
pub async fn region_page(app: &Arc<App>, req: &Parts, code: &str) -> Response<Body> {
    if let Some(problem) = no_query(req) {
        return problem;
    }
    let Some(region) = app.regions.lookup(code) else {
        return crate::http::router::unknown_region(code).into_response();
    };
    let query = FeedQuery {
        regions: vec![region.code.clone()],
        limit: 30,
        ..FeedQuery::default()
    };
    let repr = Representation::new(
        app,
        "html-region",
        CONTENT_TYPE,
        query.canonical(),
        &query.regions,
    );
    let render = Box::new(move |app: &App| {
        let page = app.read_page(&query)?;
        Ok(region_html(app, &query, &page.articles).into_bytes())
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// `GET /calendar/YYYY-MM[?region=…]`: the month as the portal's calendar widget shows it, each
/// day with articles linking to that day's feed.
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
    let render = Box::new(move |app: &App| {
        let counts = day_counts(app, &query)?;
        Ok(calendar_html(app, &query, &counts).into_bytes())
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

fn calendar_html(app: &App, query: &CalendarQuery, counts: &BTreeMap<NaiveDate, u64>) -> String {
    let ctx = app.feed_context();
    let scope = FeedQuery {
        regions: query.regions.clone(),
        ..FeedQuery::default()
    };
    let names: Vec<String> = query
        .regions
        .iter()
        .map(|c| {
            app.regions
                .lookup(c.as_str())
                .map_or_else(|| c.to_string(), |r| r.name_ru.clone())
        })
        .collect();
    let scope_name = if names.is_empty() {
        "все регионы".to_string()
    } else {
        names.join(", ")
    };
    let month_text = query.month.format("%Y-%m").to_string();
    let title = format!("{month_text}: {scope_name} — {}", app.settings.portal_name);
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, &title, &FeedLinks::of(&ctx, &scope));
    let region_param = if query.regions.is_empty() {
        String::new()
    } else {
        format!(
            "?region={}",
            query
                .regions
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let neighbour = |months: i32| {
        let date = if months < 0 {
            query.month.checked_sub_months(Months::new(1))
        } else {
            query.month.checked_add_months(Months::new(1))
        };
        date.map(|d| format!("{}/calendar/{}{region_param}", ctx.base_url, d.format("%Y-%m")))
            .unwrap_or_default()
    };
    let _ = write!(
        out,
        "<p><a href=\"{}/\">← все регионы</a></p>\n<h1>{}</h1>\n<p><a href=\"{}\">‹ пред.</a> · <a href=\"{}\">след. ›</a></p>\n\
<table>\n<thead><tr><th>Пн</th><th>Вт</th><th>Ср</th><th>Чт</th><th>Пт</th><th>Сб</th><th>Вс</th></tr></thead>\n<tbody>\n<tr>",
        escape(ctx.base_url),
        escape(&format!("{month_text}: {scope_name}")),
        escape(&neighbour(-1)),
        escape(&neighbour(1)),
    );
    let lead = query.month.weekday().num_days_from_monday();
    out.push_str(&"<td></td>".repeat(lead as usize));
    let mut day = query.month;
    while day.month() == query.month.month() {
        if day != query.month && day.weekday().num_days_from_monday() == 0 {
            out.push_str("</tr>\n<tr>");
        }
        match counts.get(&day) {
            Some(n) => {
                let feed = FeedQuery {
                    from: Some(TimeBound::day(day, app.settings.tz, false)),
                    to: Some(TimeBound::day(day, app.settings.tz, true)),
                    ..scope.clone()
                };
                let _ = write!(
                    out,
                    "<td><a href=\"{}\" title=\"{n}\">{}</a> <small>{n}</small></td>",
                    escape(&ctx.feed_url(&feed, Format::Atom)),
                    day.day()
                );
            }
            None => {
                let _ = write!(out, "<td>{}</td>", day.day());
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out.push_str("</tr>\n</tbody>\n</table>\n</body>\n</html>\n");
    out
}

fn no_query(req: &Parts) -> Option<Response<Body>> {
    let q = req.uri.query().filter(|q| !q.is_empty())?;
    let name = q.split('=').next().unwrap_or(q).to_string();
    Some(Problem::bad_query(vec![FieldError::new(name, "this page takes no parameters")]).into_response())
}

fn head(out: &mut String, title: &str, links: &FeedLinks) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t}</title>\n\
<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{t} (RSS)\" href=\"{rss}\">\n\
<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{t} (Atom)\" href=\"{atom}\">\n\
<link rel=\"alternate\" type=\"application/feed+json\" title=\"{t} (JSON Feed)\" href=\"{json}\">\n\
<style>{STYLE}</style>\n</head>\n<body>\n",
        t = escape(title),
        rss = escape(&links.rss),
        atom = escape(&links.atom),
        json = escape(&links.json),
    );
}

fn feed_links(links: &FeedLinks) -> String {
    format!(
        "<span class=\"feeds\"><a href=\"{}\">RSS</a><a href=\"{}\">Atom</a><a href=\"{}\">JSON</a></span>",
        escape(&links.rss),
        escape(&links.atom),
        escape(&links.json)
    )
}

fn index_page(app: &App) -> String {
    let ctx = app.feed_context();
    let all = FeedLinks::of(&ctx, &FeedQuery::default());
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out, &app.settings.portal_name, &all);
    let _ = write!(
        out,
        "<h1>{}</h1>\n<p>Все регионы: {} · <a href=\"{}/api/regions\">API</a></p>\n<table>\n<thead><tr><th>Регион</th><th>Статей</th><th>Ленты</th></tr></thead>\n<tbody>\n",
        escape(&app.settings.portal_name),
        feed_links(&all),
        escape(ctx.base_url),
    );
    for region in app.regions.iter() {
        let query = FeedQuery {
            regions: vec![region.code.clone()],
            ..FeedQuery::default()
        };
        let _ = writeln!(
            out,
            "<tr><td><a href=\"{}\">{}</a> <small>{}</small></td><td>{}</td><td>{}</td></tr>",
            escape(&ctx.html_url(&query)),
            escape(&region.name_ru),
            escape(region.code.as_str()),
            app.store.region_meta(region.code.as_str()).count,
            feed_links(&FeedLinks::of(&ctx, &query)),
        );
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

fn region_html(app: &App, query: &FeedQuery, articles: &[Article]) -> String {
    let ctx = app.feed_context();
    let links = FeedLinks::of(&ctx, query);
    let name = query
        .regions
        .first()
        .and_then(|c| app.regions.lookup(c.as_str()))
        .map_or_else(String::new, |r| r.name_ru.clone());
    let title = format!("{name} — {}", app.settings.portal_name);
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, &title, &links);
    let _ = write!(
        out,
        "<p><a href=\"{}/\">← все регионы</a></p>\n<h1>{}</h1>\n<p>Подписаться: {}</p>\n",
        escape(ctx.base_url),
        escape(&name),
        feed_links(&links)
    );
    match articles.first() {
        None => out.push_str("<p>Пока нет статей.</p>\n"),
        Some(newest) => {
            // The calendar opens at the newest article's month: derived from the data, not the
            // clock, so the page stays byte-identical until a write changes it.
            let month = newest.published_at.with_timezone(&ctx.tz).format("%Y-%m");
            let codes: Vec<&str> = query.regions.iter().map(|r| r.as_str()).collect();
            let _ = writeln!(
                out,
                "<p><a href=\"{}/calendar/{month}?region={}\">Календарь публикаций</a></p>",
                escape(ctx.base_url),
                escape(&codes.join(","))
            );
        }
    }
    for a in articles {
        article_html(&mut out, &ctx, a);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn article_html(out: &mut String, ctx: &FeedContext, a: &Article) {
    let local = a.published_at.with_timezone(&ctx.tz);
    let _ = write!(
        out,
        "<article>\n<h2><a href=\"{}\">{}</a></h2>\n<time datetime=\"{}\">{}</time>\n",
        escape(&a.url(ctx.base_url)),
        escape(&a.title),
        escape(&a.published_at.to_rfc3339()),
        local.format("%d.%m.%Y %H:%M"),
    );
    if let Some(summary) = &a.summary {
        let _ = writeln!(out, "<p>{}</p>", escape(summary));
    }
    if !a.sources.is_empty() {
        let names: Vec<String> = a.sources.iter().map(|s| escape(&s.name)).collect();
        let _ = writeln!(out, "<p class=\"meta\">Источники: {}</p>", names.join(", "));
    }
    out.push_str("</article>\n");
}
