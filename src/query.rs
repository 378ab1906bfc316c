//! Feed queries: parsed once, validated completely, and kept in one canonical form.
//!
//! The canonical form is what the `rel="self"` link shows, what cache keys and ETags are derived
//! from, and what makes `?to=…&region=b,a` and `?region=a&region=b&to=…` the same feed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::FieldError;
use crate::regions::{RegionCode, RegionDirectory};
use crate::store::keys::Position;
use crate::store::search::SearchTerms;

/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest allowed `limit`.
pub const MAX_LIMIT: usize = 500;
const PARAMS: &str = "region, category, from, to, limit, before, after, sort, period, q";

/// One end of a date range: a whole local day, or an exact instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimeBound {
    /// Canonical text: `YYYY-MM-DD` for a day, RFC 3339 (UTC, `Z`) for an instant.
    pub text: String,
    /// The instant this bound stands for (start of the day for `from`, its last microsecond for `to`).
    pub micros: i64,
}

impl TimeBound {
    /// A whole local day: its first microsecond, or with `end` its last.
    pub fn day(day: NaiveDate, tz: Tz, end: bool) -> Self {
        let micros = if end {
            local_day_start(day + Duration::days(1), tz).timestamp_micros() - 1
        } else {
            local_day_start(day, tz).timestamp_micros()
        };
        TimeBound {
            text: day.format("%Y-%m-%d").to_string(),
            micros,
        }
    }
}

/// An opaque paging cursor: the feed position of the last item of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(pub Position);

impl Cursor {
    /// Encodes as 32 lowercase hex digits (opaque to clients; stable across restarts).
    pub fn encode(&self) -> String {
        self.0.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decodes [`Cursor::encode`]'s output.
    pub fn decode(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .ok()?;
        Position::from_key_suffix(&bytes).map(Cursor)
    }
}

/// A validated feed or API list query.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeedQuery {
    /// Requested regions, sorted and deduplicated; empty means all regions.
    pub regions: Vec<RegionCode>,
    /// Requested categories, lower-cased, sorted, deduplicated; an article matches any of them.
    pub categories: Vec<String>,
    /// Inclusive lower bound.
    pub from: Option<TimeBound>,
    /// Inclusive upper bound.
    pub to: Option<TimeBound>,
    /// Page size, 1..=500.
    pub limit: usize,
    /// Paging cursor (RFC 5005 `next`): only items older than this position.
    pub before: Option<Cursor>,
    /// Paging cursor (RFC 5005 `previous`): only items newer than this position, the `limit`
    /// oldest of them. Never together with `before`.
    pub after: Option<Cursor>,
    /// Keyword search (`q`): only articles with these words, still in feed order.
    pub q: Option<SearchTerms>,
    /// The order: the timeline (default) or a ranking by views over a period
    /// ([`crate::popular`]). A ranking never has paging cursors.
    pub sort: Sort,
}

/// How a feed is ordered: `sort=newest` (the timeline, default) or `sort=popular&period=…`.
///
/// One type for both parameters, so that a period without a ranking cannot be represented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// Newest first: a timeline, with paging cursors.
    #[default]
    Newest,
    /// Most read first among the articles published within the period before the ranking's
    /// snapshot ([`crate::popular`]).
    Popular(Period),
}

/// The allowed values of `sort`, for error messages.
const SORTS: &str = "newest (default) or popular";

/// A look-back window of `sort=popular`: whole hours from 1h to 30d.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    hours: u32,
}

impl Period {
    /// The shortest period: one hour.
    pub const MIN_HOURS: u32 = 1;
    /// The longest period: 30 days. Beyond it a "most read" list is an archive query, and the
    /// candidate scan ([`crate::popular`]) would reach its cap on any busy portal anyway.
    pub const MAX_HOURS: u32 = 30 * 24;
    /// The period when `sort=popular` comes without one: the last day.
    pub const DEFAULT: Period = Period { hours: 24 };

    /// Parses `Nh` (hours) or `Nd` (days), 1h to 30d.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (number, per) = match text.char_indices().last()? {
            (at, 'h' | 'H') => (&text[..at], 1),
            (at, 'd' | 'D') => (&text[..at], 24),
            _ => return None,
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 4 {
            return None;
        }
        let hours = number.parse::<u32>().ok()?.checked_mul(per)?;
        (Self::MIN_HOURS..=Self::MAX_HOURS)
            .contains(&hours)
            .then_some(Period { hours })
    }

    /// The period's length.
    pub fn duration(self) -> Duration {
        Duration::hours(i64::from(self.hours))
    }

    /// Whole days, when the period is a whole number of them.
    fn days(self) -> Option<u32> {
        self.hours.is_multiple_of(24).then_some(self.hours / 24)
    }

    /// The period in Russian for titles ("самое читаемое за …"): `сутки`, `7 дн.`, `36 ч`.
    pub fn label_ru(self) -> String {
        match self.days() {
            Some(1) => "сутки".to_string(),
            Some(days) => format!("{days} дн."),
            None => format!("{} ч", self.hours),
        }
    }

    /// Canonical text: whole days as `Nd`, anything else as `Nh` (`48h` and `2d` are one feed).
    pub fn text(self) -> String {
        match self.days() {
            Some(days) => format!("{days}d"),
            None => format!("{}h", self.hours),
        }
    }
}

/// What parsing needs to know about the portal.
#[derive(Clone, Copy)]
pub struct QueryContext<'a> {
    /// Known regions.
    pub regions: &'a RegionDirectory,
    /// The portal's time zone, which turns a date into a local day.
    pub tz: Tz,
}

impl FeedQuery {
    /// Parses a raw query string (without `?`); `path_region` is the `{code}` of
    /// `/regions/{code}/…`. Every problem is reported, each naming its parameter.
    pub fn parse(
        raw: Option<&str>,
        path_region: Option<&str>,
        ctx: QueryContext,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut q = FeedQuery::default();
        let mut seen_single: Vec<&'static str> = Vec::new();
        let mut q_seen = false;
        let mut region_texts: Vec<(String, String)> = Vec::new();
        let mut order: Vec<(&'static str, String)> = Vec::new();
        if let Some(code) = path_region {
            region_texts.push(("region".into(), code.to_string()));
        }
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "region" if path_region.is_some() => errors.push(FieldError::new(
                    "region",
                    "the region is already given by the path /regions/{code}/; use /feed.* to combine regions",
                )),
                "region" => {
                    let before = region_texts.len();
                    region_texts.extend(split_list(&value).map(|v| ("region".into(), v.to_string())));
                    // An empty value is a mistake, not "all regions": that is the absent parameter.
                    if region_texts.len() == before {
                        errors.push(FieldError::new(
                            "region",
                            "needs a region code, e.g. region=RU-NIZ (several comma-separated); \
                             leave region out for all regions",
                        ));
                    }
                }
                "category" => {
                    for c in split_list(&value) {
                        q.categories.push(c.to_lowercase());
                    }
                }
                "q" => {
                    if q_seen {
                        errors.push(FieldError::new("q", "given more than once; give it once"));
                        continue;
                    }
                    q_seen = true;
                    match SearchTerms::parse(&value) {
                        Ok(terms) => q.q = Some(terms),
                        Err(e) => errors.push(FieldError::new("q", e.to_string())),
                    }
                }
                "from" | "to" | "limit" | "before" | "after" => {
                    let name: &'static str = match key.as_ref() {
                        "from" => "from",
                        "to" => "to",
                        "limit" => "limit",
                        "before" => "before",
                        _ => "after",
                    };
                    if seen_single.contains(&name) {
                        errors.push(FieldError::new(name, "given more than once; give it once"));
                        continue;
                    }
                    seen_single.push(name);
                    if let Err(e) = q.set_single(name, &value, ctx.tz) {
                        errors.push(e);
                    }
                }
                "sort" | "period" => {
                    let name: &'static str = if key == "sort" { "sort" } else { "period" };
                    if seen_single.contains(&name) {
                        errors.push(FieldError::new(name, "given more than once; give it once"));
                        continue;
                    }
                    seen_single.push(name);
                    order.push((name, value.into_owned()));
                }
                other => errors.push(FieldError::new(
                    truncate(other, 64),
                    format!("unknown parameter; allowed parameters are {PARAMS}"),
                )),
            }
        }
        match parse_sort(&order) {
            Ok(sort) => q.sort = sort,
            Err(e) => errors.extend(e),
        }
        if matches!(q.sort, Sort::Popular(_)) {
            for (set, name) in [(q.before.is_some(), "before"), (q.after.is_some(), "after")] {
                if set {
                    errors.push(FieldError::new(
                        name,
                        "sort=popular is a ranking, not a timeline, and has no pages; ask for up to \
                         limit=500 items instead",
                    ));
                }
            }
            if q.q.is_some() {
                errors.push(FieldError::new(
                    "q",
                    "q and sort=popular are not combinable yet; give q with the newest-first \
                     timeline (no sort, or sort=newest), or sort=popular without q",
                ));
            }
        }
        for (field, code) in region_texts {
            match ctx.regions.lookup(&code) {
                Some(r) => q.regions.push(r.code.clone()),
                None => errors.push(FieldError::new(
                    field,
                    format!(
                        "unknown region {:?}; the known codes are listed at /api/regions",
                        truncate(&code, 32)
                    ),
                )),
            }
        }
        q.regions.sort();
        q.regions.dedup();
        q.categories.sort();
        q.categories.dedup();
        if let (Some(from), Some(to)) = (&q.from, &q.to) {
            if to.micros < from.micros {
                errors.push(FieldError::new(
                    "to",
                    format!(
                        "{} is before from={}; to must not precede from",
                        to.text, from.text
                    ),
                ));
            }
        }
        if q.before.is_some() && q.after.is_some() {
            errors.push(FieldError::new("after", "give either before or after, not both"));
        }
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(errors)
        }
    }

    fn set_single(&mut self, name: &'static str, value: &str, tz: Tz) -> Result<(), FieldError> {
        match name {
            "from" => self.from = Some(parse_bound(name, value, tz, false)?),
            "to" => self.to = Some(parse_bound(name, value, tz, true)?),
            "limit" => {
                self.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        FieldError::new(
                            name,
                            format!(
                                "{:?} is not an integer from 1 to {MAX_LIMIT}",
                                truncate(value, 32)
                            ),
                        )
                    })?;
            }
            _ => {
                let cursor = Cursor::decode(value).ok_or_else(|| {
                    FieldError::new(
                        name,
                        "not a paging cursor; follow the feed's rel=\"next\"/\"previous\" links as they are",
                    )
                })?;
                if name == "before" {
                    self.before = Some(cursor);
                } else {
                    self.after = Some(cursor);
                }
            }
        }
        Ok(())
    }

    /// The canonical query string (no leading `?`), empty for the default query.
    pub fn canonical(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.regions.is_empty() {
            s.append_pair(
                "region",
                &self
                    .regions
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        if !self.categories.is_empty() {
            s.append_pair("category", &self.categories.join(","));
        }
        if let Some(b) = &self.from {
            s.append_pair("from", &b.text);
        }
        if let Some(b) = &self.to {
            s.append_pair("to", &b.text);
        }
        if self.limit != DEFAULT_LIMIT {
            s.append_pair("limit", &self.limit.to_string());
        }
        if let Some(c) = &self.before {
            s.append_pair("before", &c.encode());
        }
        if let Some(c) = &self.after {
            s.append_pair("after", &c.encode());
        }
        if let Some(terms) = &self.q {
            s.append_pair("q", &terms.canonical());
        }
        if let Sort::Popular(period) = self.sort {
            s.append_pair("sort", "popular");
            s.append_pair("period", &period.text());
        }
        s.finish()
    }

    /// What identifies the feed itself, whatever the page or page size: the filters only.
    pub fn identity(&self) -> String {
        FeedQuery {
            limit: DEFAULT_LIMIT,
            before: None,
            after: None,
            ..self.clone()
        }
        .canonical()
    }

    /// The same query on the page after `last` (RFC 5005 `next`).
    pub fn next_page(&self, last: Position) -> Self {
        FeedQuery {
            before: Some(Cursor(last)),
            after: None,
            ..self.clone()
        }
    }

    /// The same query on the page before `first` (RFC 5005 `previous`: newer items).
    pub fn previous_page(&self, first: Position) -> Self {
        FeedQuery {
            before: None,
            after: Some(Cursor(first)),
            ..self.clone()
        }
    }

    /// The same query on its first page (RFC 5005 `first`).
    pub fn first_page(&self) -> Self {
        FeedQuery {
            before: None,
            after: None,
            ..self.clone()
        }
    }

    /// Whether this is a page after the first.
    pub fn is_paged(&self) -> bool {
        self.before.is_some() || self.after.is_some()
    }

    /// Whether an article passes the category filter (regions and dates are index bounds).
    pub fn matches_category(&self, categories: &[String]) -> bool {
        self.categories.is_empty()
            || categories
                .iter()
                .any(|c| self.categories.contains(&c.to_lowercase()))
    }
}

impl Default for FeedQuery {
    fn default() -> Self {
        FeedQuery {
            regions: Vec::new(),
            categories: Vec::new(),
            from: None,
            to: None,
            limit: DEFAULT_LIMIT,
            before: None,
            after: None,
            q: None,
            sort: Sort::Newest,
        }
    }
}

/// `sort` and `period` (each given at most once) as a [`Sort`]; every problem is reported.
fn parse_sort(given: &[(&'static str, String)]) -> Result<Sort, Vec<FieldError>> {
    let value = |name: &str| given.iter().find(|(n, _)| *n == name).map(|(_, v)| v.trim());
    let period = value("period").map(|text| {
        Period::parse(text).ok_or_else(|| {
            FieldError::new(
                "period",
                format!(
                    "{:?} is not a period; give whole hours or days from 1h to 30d, e.g. 24h or 7d",
                    truncate(text, 32)
                ),
            )
        })
    });
    let sort = value("sort").map(str::to_ascii_lowercase);
    match (sort.as_deref(), period) {
        (Some("popular"), None) => Ok(Sort::Popular(Period::DEFAULT)),
        (Some("popular"), Some(Ok(period))) => Ok(Sort::Popular(period)),
        (Some("popular"), Some(Err(e))) => Err(vec![e]),
        (None | Some("newest"), None) => Ok(Sort::Newest),
        (None | Some("newest"), Some(_)) => Err(vec![FieldError::new(
            "period",
            "period applies only to sort=popular (e.g. sort=popular&period=7d); the newest-first \
             timeline takes from and to",
        )]),
        (Some(_), period) => {
            let mut errors = vec![FieldError::new(
                "sort",
                format!(
                    "{:?} is not an order; sort is {SORTS}",
                    truncate(value("sort").unwrap_or(""), 32)
                ),
            )];
            errors.extend(period.and_then(Result::err));
            Err(errors)
        }
    }
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn parse_bound(name: &str, value: &str, tz: Tz, end_of_day: bool) -> Result<TimeBound, FieldError> {
    let value = value.trim();
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(TimeBound::day(day, tz, end_of_day));
    }
    // An unencoded `+` in a query string decodes to a space (`…T09:00:00 03:00`); a partner's
    // script that forgot to percent-encode its offset meant `+`, so read it that way.
    let plus_fixed = match value.rfind(' ') {
        Some(at) if at >= 19 => Some(format!("{}+{}", &value[..at], &value[at + 1..])),
        _ => None,
    };
    let parsed = DateTime::parse_from_rfc3339(value)
        .or_else(|e| plus_fixed.as_deref().map_or(Err(e), DateTime::parse_from_rfc3339));
    match parsed {
        Ok(t) => {
            let utc = t.with_timezone(&Utc);
            // The canonical text (in the feed's own self and paging links) is this instant in
            // UTC, and RFC 3339 §5.6 has four-digit years only: an offset can carry an accepted
            // instant outside 0000-9999 UTC, whose links would then be refused.
            if !(0..=9999).contains(&utc.year()) {
                return Err(FieldError::new(
                    name,
                    format!("{:?} is outside the years 0000 to 9999 in UTC", truncate(value, 64)),
                ));
            }
            Ok(TimeBound { text: utc.to_rfc3339_opts(SecondsFormat::AutoSi, true), micros: utc.timestamp_micros() })
        }
        Err(_) => Err(FieldError::new(
            name,
            format!(
                "{:?} is neither a date (YYYY-MM-DD, a whole day in the portal time zone {tz}) nor an RFC 3339 date-time such as 2024-05-17T09:00:00+03:00",
                truncate(value, 64)
            ),
        )),
    }
}

/// The first instant of a local calendar day (the first valid local time, should midnight not
/// exist because of a daylight-saving jump).
pub fn local_day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..24)
        .filter_map(|h| NaiveTime::from_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&day.and_time(t)).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<FeedQuery, Vec<FieldError>> {
        let dir = RegionDirectory::builtin();
        FeedQuery::parse(
            Some(raw),
            None,
            QueryContext {
                regions: &dir,
                tz: chrono_tz::Europe::Moscow,
            },
        )
    }

    #[test]
    fn canonical_form_ignores_order_and_case() {
        let a = parse("to=2024-06-01&region=ru-niz,RU-MOW&category=Власть").unwrap();
        let b = parse("category=власть&region=RU-MOW&region=RU-NIZ&to=2024-06-01&limit=50").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), b.canonical());
        assert!(
            a.canonical().starts_with("region=RU-MOW%2CRU-NIZ&category="),
            "{}",
            a.canonical()
        );
    }

    #[test]
    fn a_date_is_a_whole_moscow_day() {
        let q = parse("from=2024-06-01&to=2024-06-01").unwrap();
        let edge = DateTime::parse_from_rfc3339("2024-05-31T23:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert!(q.from.as_ref().unwrap().micros <= edge && edge <= q.to.as_ref().unwrap().micros);
        let q = parse("to=2024-05-31").unwrap();
        assert!(edge > q.to.unwrap().micros);
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let errs = parse("foo=1&from=yesterday&limit=0&before=xyz&region=RU-XXX").unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["foo", "from", "limit", "before", "region"]);
        assert_eq!(parse("limit=10000").unwrap_err()[0].field, "limit");
        assert_eq!(parse("from=2024-06-02&to=2024-06-01").unwrap_err()[0].field, "to");
        // Valid RFC 3339, but the UTC instant (the canonical text) would need a 5-digit or
        // negative year.
        assert_eq!(
            parse("from=9999-12-31T23:59:59-23:59").unwrap_err()[0].field,
            "from"
        );
        assert_eq!(
            parse("to=0000-01-01T00:00:00%2B23:59").unwrap_err()[0].field,
            "to"
        );
    }

    #[test]
    fn an_empty_region_is_an_error_not_all_regions() {
        for raw in ["region=", "region=,", "region=%20", "region=RU-NIZ&region="] {
            let errs = parse(raw).unwrap_err();
            assert_eq!(errs.len(), 1, "{raw}: {errs:?}");
            assert_eq!(errs[0].field, "region", "{raw}");
            assert!(errs[0].reason.contains("needs a region code"), "{raw}");
        }
        assert!(parse("").unwrap().regions.is_empty());
        assert_eq!(parse("region=RU-NIZ,").unwrap().regions.len(), 1);
    }

    #[test]
    fn an_unencoded_plus_in_an_offset_is_understood() {
        let encoded = parse("from=2024-05-17T09:00:00%2B03:00").unwrap();
        let raw = parse("from=2024-05-17T09:00:00+03:00").unwrap();
        assert_eq!(encoded, raw);
        assert_eq!(raw.from.unwrap().text, "2024-05-17T06:00:00Z");
    }

    #[test]
    fn popular_has_a_canonical_period() {
        let a = parse("sort=popular").unwrap();
        let b = parse("period=24h&sort=popular").unwrap();
        let c = parse("sort=popular&period=1d").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.canonical(), "sort=popular&period=1d");
        assert_eq!(
            parse("sort=popular&period=36h").unwrap().canonical(),
            "sort=popular&period=36h"
        );
        assert_eq!(
            parse("sort=popular&period=30d").unwrap().sort,
            Sort::Popular(Period { hours: 720 })
        );
        assert_eq!(parse("sort=newest").unwrap(), parse("").unwrap());
        assert_eq!(
            a.identity(),
            "sort=popular&period=1d",
            "a ranking is another feed"
        );
    }

    #[test]
    fn bad_orders_name_what_is_allowed() {
        for (raw, field, says) in [
            ("sort=popular&period=0h", "period", "from 1h to 30d"),
            ("sort=popular&period=1y", "period", "from 1h to 30d"),
            ("sort=popular&period=31d", "period", "from 1h to 30d"),
            ("sort=popular&period=721h", "period", "from 1h to 30d"),
            ("sort=popular&period=-1h", "period", "from 1h to 30d"),
            ("sort=popular&period=99999999999d", "period", "from 1h to 30d"),
            ("sort=popular&period=", "period", "from 1h to 30d"),
            ("period=7d", "period", "only to sort=popular"),
            ("sort=newest&period=7d", "period", "only to sort=popular"),
            ("sort=foo", "sort", "newest (default) or popular"),
            ("sort=popular&sort=popular", "sort", "more than once"),
        ] {
            let errs = parse(raw).unwrap_err();
            assert_eq!(errs[0].field, field, "{raw}: {errs:?}");
            assert!(errs[0].reason.contains(says), "{raw}: {}", errs[0].reason);
        }
        let errs = parse("sort=foo&period=1y").unwrap_err();
        assert_eq!(errs.len(), 2, "both reported: {errs:?}");
        let cursor = Cursor(Position { micros: 1, id: 1 }).encode();
        let errs = parse(&format!("sort=popular&before={cursor}")).unwrap_err();
        assert_eq!(errs[0].field, "before");
        assert!(errs[0].reason.contains("not a timeline"), "{}", errs[0].reason);
    }

    #[test]
    fn cursor_round_trips() {
        let c = Cursor(Position { micros: -42, id: 7 });
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("zz"), None);
    }
}
