//! `GET /days/YYYY-MM-DD[?region=…]`: one local day (portal time zone) of articles, the target of
//! the calendars' day links, linking each article page and the day's feeds.
//!
//! At most [`MAX_ARTICLES`] are listed (the feeds' page limit); a busier day says so and links
//! the day's feed, which pages on.

use std::sync::Arc;

use askama::Template;
use chrono::NaiveDate;
use http::request::Parts;
use http::Response;

use super::month::MonthGrid;
use super::{month_grid, region_param, render, scope_name, Head, Teaser, CONTENT_TYPE};
use crate::api::calendar::parse_regions;
use crate::api::FeedLinks;
use crate::app::App;
use crate::http::representation::{self, Representation};
use crate::http::response::{Body, Problem};
use crate::model::FieldError;
use crate::query::{FeedQuery, TimeBound};
use crate::regions::RegionCode;

/// Most articles one day page lists.
pub const MAX_ARTICLES: usize = 500;

/// A validated day page request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayQuery {
    /// The local day.
    pub day: NaiveDate,
    /// Regions (empty = all), sorted, no duplicates.
    pub regions: Vec<RegionCode>,
}

impl DayQuery {
    /// Parses the path's `YYYY-MM-DD` and the query's `region` (repeatable or comma-separated).
    pub fn parse(day: &str, raw: Option<&str>, app: &App) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let parsed = NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()
            .filter(|_| is_ymd(day))
            // The whole day must be a feed range: TimeBound needs the next day too.
            .filter(|d| d.succ_opt().is_some() && d.pred_opt().is_some());
        if parsed.is_none() {
            let shown: String = day.chars().take(32).collect();
            errors.push(FieldError::new(
                "day",
                format!("{shown:?} is not a day; use YYYY-MM-DD, e.g. /days/2024-05-17"),
            ));
        }
        let mut regions = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "region" => parse_regions(&value, app, &mut regions, &mut errors),
                other => errors.push(FieldError::new(
                    other,
                    "unknown parameter; the only parameter is region",
                )),
            }
        }
        regions.sort();
        regions.dedup();
        match parsed {
            Some(day) if errors.is_empty() => Ok(DayQuery { day, regions }),
            _ => Err(errors),
        }
    }

    /// Canonical form, for validators.
    pub fn canonical(&self) -> String {
        let codes: Vec<&str> = self.regions.iter().map(RegionCode::as_str).collect();
        format!("day={}&region={}", self.day, codes.join(","))
    }

    /// The feed query of this day.
    pub fn feed(&self, app: &App, limit: usize) -> FeedQuery {
        FeedQuery {
            regions: self.regions.clone(),
            from: Some(TimeBound::day(self.day, app.settings.tz, false)),
            to: Some(TimeBound::day(self.day, app.settings.tz, true)),
            limit,
            ..FeedQuery::default()
        }
    }
}

/// Whether `s` is exactly `YYYY-MM-DD` in ASCII digits (chrono also takes signs, short fields).
fn is_ymd(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

#[derive(Template)]
#[template(path = "day.html")]
struct DayPage {
    head: Head,
    base: String,
    heading: String,
    prev: String,
    next: String,
    teasers: Vec<Teaser>,
    more: bool,
    grid: MonthGrid,
}

/// `GET /days/{YYYY-MM-DD}`.
pub async fn page(app: &Arc<App>, req: &Parts, day: &str) -> Response<Body> {
    let query = match DayQuery::parse(day, req.uri.query(), app) {
        Ok(q) => q,
        Err(errors) => return Problem::bad_query(errors).into_response(),
    };
    let repr = Representation::new(app, "html-day", CONTENT_TYPE, query.canonical(), &query.regions);
    let render = Box::new(move |app: &App| render(&day_page(app, &query)?));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

fn day_page(app: &App, query: &DayQuery) -> Result<DayPage, Problem> {
    let ctx = app.feed_context();
    let page = app.read_page(&query.feed(app, MAX_ARTICLES))?;
    let heading = format!(
        "{}: {}",
        query.day.format("%d.%m.%Y"),
        scope_name(app, &query.regions)
    );
    let regions = region_param(&query.regions);
    let neighbour = |d: Option<NaiveDate>| {
        d.map(|d| format!("{}/days/{}{regions}", ctx.base_url, d.format("%Y-%m-%d")))
            .unwrap_or_default()
    };
    Ok(DayPage {
        head: Head {
            title: format!("{heading} — {}", app.settings.portal_name),
            feeds: FeedLinks::of(&ctx, &query.feed(app, FeedQuery::default().limit)),
        },
        base: ctx.base_url.to_string(),
        heading,
        prev: neighbour(query.day.pred_opt()),
        next: neighbour(query.day.succ_opt()),
        more: page.next.is_some(),
        teasers: page
            .articles
            .iter()
            .map(|a| Teaser::new(&ctx, a, format!("{}/articles/{}", ctx.base_url, a.id)))
            .collect(),
        grid: month_grid(app, query.day, &query.regions)?,
    })
}
