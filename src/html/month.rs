//! The month calendar of the calendar and article pages (`templates/month.html`): weeks from
//! Monday, each day with articles linking that day's page (`/days/YYYY-MM-DD`).

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};

use super::region_param;
use crate::api::calendar::CalendarQuery;

/// One cell of the grid: blank before the 1st and after the last day.
pub struct Cell {
    /// Day of the month, None for a blank cell.
    pub day: Option<u32>,
    /// Articles that day.
    pub count: u64,
    /// The day page, when the day has articles.
    pub href: Option<String>,
}

/// A month laid out in weeks, with links to its neighbours.
pub struct MonthGrid {
    /// `YYYY-MM`.
    pub label: String,
    /// This month's calendar page.
    pub calendar: String,
    /// The previous month's calendar page.
    pub prev: String,
    /// The next month's calendar page.
    pub next: String,
    /// Rows of seven cells, Monday first.
    pub weeks: Vec<Vec<Cell>>,
}

/// The first day of `day`'s month.
pub fn first_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

impl MonthGrid {
    /// The grid of `query`'s month with the article `counts` per local day.
    pub fn new(base_url: &str, query: &CalendarQuery, counts: &BTreeMap<NaiveDate, u64>) -> Self {
        let regions = region_param(&query.regions);
        let page = |month: Option<NaiveDate>| {
            month
                .map(|m| format!("{base_url}/calendar/{}{regions}", m.format("%Y-%m")))
                .unwrap_or_default()
        };
        let first = query.month;
        let lead = first.weekday().num_days_from_monday() as usize;
        let mut cells: Vec<Cell> = (0..lead).map(|_| Cell::blank()).collect();
        let mut day = Some(first);
        while let Some(d) = day.filter(|d| d.month() == first.month()) {
            let count = counts.get(&d).copied().unwrap_or(0);
            cells.push(Cell {
                day: Some(d.day()),
                count,
                href: (count > 0).then(|| format!("{base_url}/days/{}{regions}", d.format("%Y-%m-%d"))),
            });
            day = d.succ_opt();
        }
        while !cells.len().is_multiple_of(7) {
            cells.push(Cell::blank());
        }
        let mut weeks = Vec::with_capacity(6);
        let mut rest = cells.into_iter().peekable();
        while rest.peek().is_some() {
            weeks.push(rest.by_ref().take(7).collect());
        }
        MonthGrid {
            label: first.format("%Y-%m").to_string(),
            calendar: page(Some(first)),
            prev: page(first.checked_sub_months(Months::new(1))),
            next: page(first.checked_add_months(Months::new(1))),
            weeks,
        }
    }
}

impl Cell {
    fn blank() -> Self {
        Cell {
            day: None,
            count: 0,
            href: None,
        }
    }
}
