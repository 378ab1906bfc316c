//! Sitemaps (<https://www.sitemaps.org/protocol.html>) and `robots.txt` (RFC 9309): how search
//! engines find every article page once.
//!
//! Why: feeds show the newest articles; a crawler that should index the whole archive needs a
//! list of every page. The archive is split by month of publication (portal time zone), one
//! `urlset` per month, and a month with more than [`MAX_URLS`] listed pages is split further into
//! parts (`/sitemap-YYYY-MM.xml`, `/sitemap-YYYY-MM.2.xml`, …) in publication order, so that a
//! part, once full, keeps its URLs. `/sitemap.xml` is the `sitemapindex` over those files.
//!
//! The files sit at the root, not in a `/sitemaps/` folder as first planned: the protocol
//! ("Sitemap file location") lets a sitemap list only URLs at or below its own directory, so a
//! file in `/sitemaps/` could not list `/articles/{id}`.
//!
//! Written by hand rather than with a crate (`sitemap-rs`, `sitemap`): the two documents are three
//! elements each, the server already has the XML escaping every renderer uses ([`xml_safe`] plus
//! entity escaping), and the crates build the whole document as owned structs and validate URLs
//! again; the protocol's limits that matter (50,000 URLs per file, absolute URLs of one host) are
//! enforced here where the data is chosen. Like every renderer, this takes what to show (the
//! entries) and never reads the store.
//!
//! Protocol points that decide the shape (sitemaps.org protocol page):
//! - at most 50,000 URLs per sitemap and 50,000 sitemaps per index ([`MAX_URLS`]);
//! - `loc` is absolute, entity-escaped, and on the host of the sitemap, which is why only
//!   articles whose canonical page is the portal's own `/articles/{id}` are listed: an article
//!   with a publisher `link` names that link as its canonical URL, another host;
//! - `lastmod` is a W3C datetime;
//! - `robots.txt` may name sitemaps with absolute `Sitemap:` lines (RFC 9309 §2.2.4 allows
//!   such extra records).

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::xml::xml_safe;
use crate::feed::rss::escape_html;

/// Most URLs in one sitemap and most sitemaps in one index (sitemaps.org).
pub const MAX_URLS: usize = 50_000;

/// The `Content-Type` of sitemaps.
pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";

/// The `Content-Type` of `robots.txt` (RFC 9309 §2.3: `text/plain`).
pub const ROBOTS_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// What the path of a monthly sitemap starts with, before [`SitemapFile::file_name`].
pub const PREFIX: &str = "sitemap-";

/// The `urlset` namespace.
pub const NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// One monthly sitemap file: a month of the portal's calendar and a part of it (1 for the first
/// [`MAX_URLS`] pages published that month, 2 for the next, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SitemapFile {
    year: i32,
    month: u32,
    part: u32,
}

impl SitemapFile {
    /// The file of `part` (from 1) of the month `year`-`month`, when that month is a real one of
    /// four-digit year and `part` is at least 1.
    pub fn new(year: i32, month: u32, part: u32) -> Option<Self> {
        let real = (1000..=9999).contains(&year) && (1..=12).contains(&month) && part >= 1;
        real.then_some(SitemapFile { year, month, part })
    }

    /// The file holding articles published at `at` (microseconds) in `tz`, part 1.
    pub fn month_of(micros: i64, tz: Tz) -> Option<Self> {
        let local = DateTime::<Utc>::from_timestamp_micros(micros)?.with_timezone(&tz);
        Self::new(local.year(), local.month(), 1)
    }

    /// The same month's `part`.
    pub fn with_part(self, part: u32) -> Option<Self> {
        Self::new(self.year, self.month, part)
    }

    /// Which part of its month this file is (from 1).
    pub fn part(self) -> u32 {
        self.part
    }

    /// Whether `other` is a file of the same month.
    pub fn same_month(self, other: SitemapFile) -> bool {
        (self.year, self.month) == (other.year, other.month)
    }

    /// Parses a file name as [`SitemapFile::file_name`] writes it (`2026-11.xml`, `2026-11.2.xml`);
    /// anything else (`2026-1.xml`, `2026-11.1.xml`, `2026-11.02.xml`) names no file, so every
    /// file has exactly one URL.
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".xml")?;
        let (month, part) = match stem.split_once('.') {
            Some((month, part)) => {
                let canonical = part.bytes().all(|b| b.is_ascii_digit()) && !part.starts_with('0');
                (month, part.parse::<u32>().ok().filter(|p| canonical && *p >= 2)?)
            }
            None => (stem, 1),
        };
        let (y, m) = month.split_once('-')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) {
            return None;
        }
        Self::new(y.parse().ok()?, m.parse().ok()?, part)
    }

    /// The file name: `YYYY-MM.xml` for part 1, `YYYY-MM.N.xml` after.
    pub fn file_name(self) -> String {
        match self.part {
            1 => format!("{:04}-{:02}.xml", self.year, self.month),
            n => format!("{:04}-{:02}.{n}.xml", self.year, self.month),
        }
    }

    /// The absolute URL under `base_url` (`{base_url}/sitemap-{file_name}`).
    pub fn url(self, base_url: &str) -> String {
        format!("{base_url}/{PREFIX}{}", self.file_name())
    }

    /// The month's first and last instants (microseconds, inclusive) in `tz`.
    pub fn bounds(self, tz: Tz) -> (i64, i64) {
        let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN);
        let start = first(self.year, self.month);
        let next = if self.month == 12 {
            first(self.year + 1, 1)
        } else {
            first(self.year, self.month + 1)
        };
        let micros = |d| crate::query::local_day_start(d, tz).timestamp_micros();
        (micros(start), micros(next) - 1)
    }
}

/// A sitemap named by the index, with the latest change of what it lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The file.
    pub file: SitemapFile,
    /// The latest `updated_at` among its pages.
    pub lastmod: DateTime<Utc>,
}

/// A page listed by a sitemap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlEntry {
    /// Absolute URL.
    pub loc: String,
    /// When it last changed.
    pub lastmod: DateTime<Utc>,
}

/// The sitemap index over `entries` (at most [`MAX_URLS`] are written).
pub fn index(base_url: &str, entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = String::with_capacity(128 + entries.len() * 128);
    out.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"{NS}\">\n"
    ));
    for e in entries.iter().take(MAX_URLS) {
        let _ = writeln!(
            out,
            "  <sitemap><loc>{}</loc><lastmod>{}</lastmod></sitemap>",
            escape(&e.file.url(base_url)),
            w3c(e.lastmod)
        );
    }
    out.push_str("</sitemapindex>\n");
    out.into_bytes()
}

/// The `urlset` of `entries` (at most [`MAX_URLS`] are written).
pub fn urlset(entries: &[UrlEntry]) -> Vec<u8> {
    let mut out = String::with_capacity(128 + entries.len() * 112);
    out.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"{NS}\">\n"
    ));
    for e in entries.iter().take(MAX_URLS) {
        let _ = writeln!(
            out,
            "  <url><loc>{}</loc><lastmod>{}</lastmod></url>",
            escape(&e.loc),
            w3c(e.lastmod)
        );
    }
    out.push_str("</urlset>\n");
    out.into_bytes()
}

/// `robots.txt` allowing everything and naming `sitemaps` (absolute URLs).
///
/// Crawlers read `robots.txt` only at the root of a host (RFC 9309 §2.3), so under a base URL
/// with a path prefix the operator must serve this file at the root (or point to the sitemaps in
/// the search engine's console).
pub fn robots(sitemaps: &[String]) -> Vec<u8> {
    let mut out = String::from("User-agent: *\nAllow: /\n\n");
    for url in sitemaps {
        // A URL never holds a line break; dropped anyway so no line can be injected.
        let line: String = url.chars().filter(|c| !c.is_control()).collect();
        let _ = writeln!(out, "Sitemap: {line}");
    }
    out.into_bytes()
}

/// W3C datetime (the ISO 8601 profile sitemaps use), to the second, in UTC.
pub fn w3c(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text for XML: characters XML cannot carry dropped, markup entity-escaped.
pub fn escape(s: &str) -> String {
    escape_html(&xml_safe(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_have_one_spelling() {
        let f = SitemapFile::new(2026, 3, 1).expect("file");
        assert_eq!(f.file_name(), "2026-03.xml");
        assert_eq!(SitemapFile::parse("2026-03.xml"), Some(f));
        let p = f.with_part(12).expect("part");
        assert_eq!(SitemapFile::parse(&p.file_name()), Some(p));
        for bad in [
            "2026-3.xml",
            "2026-13.xml",
            "2026-03.1.xml",
            "2026-03.02.xml",
            "2026-03",
            "26-03.xml",
            "2026-03.+2.xml",
            "+026-03.xml",
            "2026-03.99999999999.xml",
        ] {
            assert_eq!(SitemapFile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_bounds_follow_the_portal_time_zone() {
        let tz = chrono_tz::Europe::Moscow;
        let (start, end) = SitemapFile::new(2026, 12, 1).expect("file").bounds(tz);
        // Moscow is UTC+3: December starts at 21:00 UTC on 30 November.
        assert_eq!(
            DateTime::<Utc>::from_timestamp_micros(start).map(|d| d.to_rfc3339()),
            Some("2026-11-30T21:00:00+00:00".to_string())
        );
        assert_eq!(
            SitemapFile::month_of(end, tz).map(|f| f.file_name()),
            Some("2026-12.xml".into())
        );
        assert_eq!(
            SitemapFile::month_of(end + 1, tz).map(|f| f.file_name()),
            Some("2027-01.xml".into())
        );
    }
}
