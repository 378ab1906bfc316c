//! `GET /api/calendar?month=YYYY-MM[&region=…]`: the days of a month that have articles.
//!
//! Backs the portal's calendar widget: for each local day (portal time zone) with articles, the
//! count and that day's feed URLs. Counting walks index keys only, never articles.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use http::request::Parts;
use http::Response;
use serde::Serialize;

use super::FeedLinks;
use crate::app::App;
use crate::http::representation::{self, Representation};
use crate::http::response::{self, Body, Problem};
use crate::model::FieldError;
use crate::query::{FeedQuery, TimeBound};
use crate::regions::RegionCode;

/// A validated calendar request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarQuery {
    /// First day of the month.
    pub month: NaiveDate,
    /// Regions (empty = all).
    pub regions: Vec<RegionCode>,
}

impl CalendarQuery {
    /// Parses `month` (required) and `region` (repeatable or comma-separated).
    pub fn parse(raw: Option<&str>, app: &App) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut month = None;
        let mut regions = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "month" => match NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d") {
                    // chrono's %Y and %m also take signs and single digits (`+2024-5`); the
                    // widget's contract is exactly YYYY-MM.
                    Ok(m) if is_year_month(&value) => month = Some(m),
                    _ => errors.push(FieldError::new(
                        "month",
                        format!("{value:?} is not a month; use YYYY-MM, e.g. 2024-05"),
                    )),
                },
                "region" => parse_regions(&value, app, &mut regions, &mut errors),
                other => errors.push(FieldError::new(
                    other,
                    "unknown parameter; allowed parameters are month, region",
                )),
            }
        }
        regions.sort();
        regions.dedup();
        match month {
            Some(month) if errors.is_empty() => Ok(CalendarQuery { month, regions }),
            None if errors.is_empty() => {
                Err(vec![FieldError::new("month", "required: YYYY-MM, e.g. 2024-05")])
            }
            _ => Err(errors),
        }
    }

    /// Canonical form, for validators.
    pub fn canonical(&self) -> String {
        let codes: Vec<&str> = self.regions.iter().map(RegionCode::as_str).collect();
        format!("month={}&region={}", self.month.format("%Y-%m"), codes.join(","))
    }
}

#[derive(Serialize)]
struct CalendarBody {
    month: String,
    regions: Vec<String>,
    total: u64,
    days: Vec<Day>,
}

#[derive(Serialize)]
struct Day {
    date: String,
    count: u64,
    feeds: FeedLinks,
}

/// `GET /api/calendar`.
pub async fn calendar(app: &Arc<App>, req: &Parts) -> Response<Body> {
    let query = match CalendarQuery::parse(req.uri.query(), app) {
        Ok(q) => q,
        Err(errors) => return Problem::bad_query(errors).into_response(),
    };
    let repr = Representation::new(
        app,
        "calendar",
        "application/json",
        query.canonical(),
        &query.regions,
    );
    let render = Box::new(move |app: &App| {
        let counts = day_counts(app, &query)?;
        let ctx = app.feed_context();
        let days = counts
            .into_iter()
            .map(|(date, count)| {
                let feed = FeedQuery {
                    regions: query.regions.clone(),
                    from: Some(TimeBound::day(date, app.settings.tz, false)),
                    to: Some(TimeBound::day(date, app.settings.tz, true)),
                    ..FeedQuery::default()
                };
                Day {
                    date: date.to_string(),
                    count,
                    feeds: FeedLinks::of(&ctx, &feed),
                }
            })
            .collect::<Vec<_>>();
        let body = CalendarBody {
            month: query.month.format("%Y-%m").to_string(),
            regions: query.regions.iter().map(|r| r.to_string()).collect(),
            total: days.iter().map(|d| d.count).sum(),
            days,
        };
        response::encode_json(&body)
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Adds the region codes of one `region=` value (comma-separated) to `regions`, and an error
/// per unknown code to `errors`. Shared with the day pages. An empty value is an error, as in the
/// feed queries ([`crate::query`]): leaving `region` out is how to ask for all regions.
pub fn parse_regions(value: &str, app: &App, regions: &mut Vec<RegionCode>, errors: &mut Vec<FieldError>) {
    let mut codes = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .peekable();
    if codes.peek().is_none() {
        errors.push(FieldError::new(
            "region",
            "needs a region code, e.g. region=RU-NIZ (several comma-separated); leave region out \
             for all regions",
        ));
    }
    for code in codes {
        match app.regions.lookup(code) {
            Some(r) => regions.push(r.code.clone()),
            None => errors.push(FieldError::new(
                "region",
                format!("unknown region {code:?}; see /api/regions"),
            )),
        }
    }
}

/// Whether `s` is exactly `YYYY-MM` in ASCII digits.
fn is_year_month(s: &str) -> bool {
    s.len() == 7
        && s.bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 { b == b'-' } else { b.is_ascii_digit() })
}

/// Articles per local day of the month.
pub fn day_counts(
    app: &App,
    query: &CalendarQuery,
) -> Result<BTreeMap<NaiveDate, u64>, crate::store::StoreError> {
    let tz = app.settings.tz;
    let first = query.month;
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    let mut counts = BTreeMap::new();
    let scan = app
        .store
        .scan(&query.regions)
        .oldest(Some(TimeBound::day(first, tz, false).micros))
        .newest(Some(TimeBound::day(last, tz, true).micros));
    for position in scan.positions() {
        let position = position?;
        if let Some(t) = Utc.timestamp_micros(position.micros).single() {
            let day = t.with_timezone(&tz).date_naive();
            if day.month() == first.month() {
                *counts.entry(day).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}
