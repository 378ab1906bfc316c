//! The article: what is stored, and how publisher input becomes one.
//!
//! Input arrives as untrusted JSON. [`ArticleInput::from_json`] checks every field and reports
//! *all* problems at once (a publisher fixing a payload should not need one round trip per field);
//! the result, [`NewArticle`], can only exist when valid, so the store never sees a bad article.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, SubsecRound, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::response::echo;
use crate::regions::{RegionCode, RegionDirectory};

/// Longest title, in characters after trimming (DESIGN.md: 1–500).
pub const MAX_TITLE_CHARS: usize = 500;
const MAX_SHORT_TEXT: usize = 500;
/// Longest image caption, in characters.
const MAX_CAPTION_CHARS: usize = 500;
const MAX_SUMMARY_CHARS: usize = 5_000;
const MAX_URL_LEN: usize = 2_048;
const MAX_LIST: usize = 32;

/// The earliest `published_at` accepted, 1900-01-02T00:00:00Z.
///
/// RSS dates are RFC 5322 dates, whose year is four digits and "any numeric year 1900 or later"
/// (RFC 5322 §3.3), and every feed prints the article's own offset, which can be up to a day
/// away from UTC: one day after 1900-01-01 keeps every offset and time zone in 1900.
pub const EARLIEST_PUBLISHED_AT: DateTime<Utc> = match DateTime::from_timestamp(-2_208_902_400, 0) {
    Some(t) => t,
    None => panic!("1900-01-02 is a valid timestamp"),
};

/// The latest `published_at` accepted, 9999-12-30T00:00:00Z.
///
/// Years have four digits in RFC 5322 and RFC 3339 (§5.6 `date-fullyear = 4DIGIT`), in calendar
/// URLs and on the pages; one day before the end of 9999 keeps every offset and the portal time
/// zone inside year 9999 (9999-12-31T23:59:59Z is already year 10000 in Moscow).
pub const LATEST_PUBLISHED_AT: DateTime<Utc> = match DateTime::from_timestamp(253_402_128_000, 0) {
    Some(t) => t,
    None => panic!("9999-12-30 is a valid timestamp"),
};

/// How far ahead of the server's clock a publisher-supplied `modified_at` may be: five minutes,
/// the clock skew Kerberos tolerates by default (RFC 4120 §1.7 leaves it to the realm; MIT and
/// Active Directory ship 5 min). A publisher's clock that runs a little fast must not get edits
/// refused, but an edit dated in the future would show as "updated" before it happened.
pub const MODIFIED_AT_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Characters RFC 3986 never allows unencoded in a URI (they are outside its `reserved` and
/// `unreserved` sets, §2.2–2.3; appendix C names space, `"`, `<`, `>` as the usual delimiters
/// around URIs). The url crate would percent-encode them and accept the result, so
/// `https://x.ru/"onmouseover="…` would pass as a URL; lenta refuses them instead.
const URL_FORBIDDEN: &[char] = &[' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}'];

/// A source credited by an article, e.g. «Время Н» or «РИА».
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Display name.
    pub name: String,
    /// Optional absolute http(s) URL of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The article's lead image; becomes an RSS enclosure, an Atom `enclosure` link, a JSON Feed image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Absolute http(s) URL.
    pub url: String,
    /// MIME type, `image/*`.
    #[serde(rename = "type")]
    pub mime_type: String,
    /// Size in bytes, when known (RSS requires a length; 0 is written when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Optional caption (plain text, at most 500 characters): shown under the image on the
    /// article page and used as its `alt` text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// A stored article, as the API returns it and the renderers read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// Server-assigned, never reused, stable across edits.
    pub id: u64,
    /// The publisher's own key; unique per publisher.
    pub external_id: String,
    /// Owner (from the token, never from the body).
    pub publisher: String,
    /// Headline, trimmed, 1–500 characters.
    pub title: String,
    /// Optional plain-text lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Optional body, already sanitized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_html: Option<String>,
    /// The publisher's link, if given; otherwise the portal URL is derived from the base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Publication time with the offset the publisher gave.
    pub published_at: DateTime<FixedOffset>,
    /// When lenta last stored a change, set by the server: what the API's own validators
    /// follow. Readers are shown [`Article::modified_at`] instead.
    pub updated_at: DateTime<Utc>,
    /// When the content last changed as the publisher sees it: the publisher's `modified_at`,
    /// `published_at` for a new article without one, the time of the change for a content change
    /// without one. `None` only in articles stored before the field existed; they read as they
    /// did, with `updated_at` (see [`Article::modified`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<DateTime<FixedOffset>>,
    /// One or more known regions, sorted, no duplicates.
    pub regions: Vec<RegionCode>,
    /// Categories, as given (order kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Byline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Credited sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Lead image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// View count reported by the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<u64>,
}

impl Article {
    /// The article's URL: its own link, or `{base_url}/articles/{id}`.
    pub fn url(&self, base_url: &str) -> String {
        match &self.link {
            Some(link) => link.clone(),
            None => format!("{base_url}/articles/{}", self.id),
        }
    }

    /// When the content last changed, as feeds (Atom `updated`, JSON Feed `date_modified`) and
    /// pages (`article:modified_time`, `dateModified`) show it: [`Article::modified_at`], or for
    /// an article stored before that field existed, `updated_at` as before.
    pub fn modified(&self) -> DateTime<FixedOffset> {
        self.modified_at.unwrap_or_else(|| self.updated_at.fixed_offset())
    }

    /// Builds the stored article from validated input, as created: `modified_at` is the one
    /// given, else `published_at` (a new article has not been edited yet).
    pub fn from_new(id: u64, publisher: &str, new: NewArticle, updated_at: DateTime<Utc>) -> Self {
        Article {
            modified_at: Some(new.modified_at.unwrap_or(new.published_at)),
            id,
            external_id: new.external_id,
            publisher: publisher.to_string(),
            title: new.title,
            summary: new.summary,
            content_html: new.content_html,
            link: new.link,
            published_at: new.published_at,
            updated_at,
            regions: new.regions,
            categories: new.categories,
            author: new.author,
            sources: new.sources,
            image: new.image,
            views: new.views,
        }
    }

    /// `modified_at` of `self`, the new version of `old`, written at `now`: the publisher's
    /// `supplied` one if given; else unchanged when the content is (a re-send, or a change of the
    /// view count only, which is not an edit); else the time of the change, to the second, in the
    /// article's own offset, never before `published_at` (an edit of a scheduled article) nor
    /// before the stored `modified_at` (a clock that stepped back).
    ///
    /// A scheduled article (`published_at` ahead, see [`crate::store`]) so keeps `modified_at` =
    /// `published_at` through edits before its release: no reader saw an earlier version, so
    /// there is no modification to show, and the entry appears as new, not as updated.
    pub fn modified_after(
        &self,
        old: &Article,
        supplied: Option<DateTime<FixedOffset>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<FixedOffset>> {
        if supplied.is_some() {
            return supplied;
        }
        if self.same_content(old) {
            return old.modified_at;
        }
        let changed = now.trunc_subsecs(0).with_timezone(self.published_at.offset());
        Some(
            changed
                .max(self.published_at)
                .max(old.modified_at.unwrap_or(changed)),
        )
    }

    /// Whether two versions differ in nothing a reader sees as content: everything but the
    /// server's `updated_at`, the `modified_at` under decision and the `views` count. Written as
    /// a full destructuring so that a new field must be placed on one side or the other.
    fn same_content(&self, other: &Article) -> bool {
        let Article {
            id,
            external_id,
            publisher,
            title,
            summary,
            content_html,
            link,
            published_at,
            updated_at: _,
            modified_at: _,
            regions,
            categories,
            author,
            sources,
            image,
            views: _,
        } = self;
        (id, external_id, publisher, title, summary, content_html, link)
            == (
                &other.id,
                &other.external_id,
                &other.publisher,
                &other.title,
                &other.summary,
                &other.content_html,
                &other.link,
            )
            && (published_at, regions, categories, author, sources, image)
                == (
                    &other.published_at,
                    &other.regions,
                    &other.categories,
                    &other.author,
                    &other.sources,
                    &other.image,
                )
    }
}

/// One problem with one input field, as listed in problem details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `title` or `sources[1].url`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl FieldError {
    /// Makes a field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A validated article, ready to store. Only [`ArticleInput::from_json`] builds one.
#[derive(Clone, Debug, PartialEq)]
pub struct NewArticle {
    /// The publisher's key (may be empty only for `PUT`, where the stored one is kept).
    pub external_id: String,
    /// Trimmed title.
    pub title: String,
    /// Plain-text lead.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content_html: Option<String>,
    /// Absolute http(s) URL.
    pub link: Option<String>,
    /// Publication time.
    pub published_at: DateTime<FixedOffset>,
    /// The publisher's time of the last content change, if given: not before `published_at`,
    /// at most [`MODIFIED_AT_SKEW`] ahead of the server's clock.
    pub modified_at: Option<DateTime<FixedOffset>>,
    /// Known regions, sorted, deduplicated.
    pub regions: Vec<RegionCode>,
    /// Categories.
    pub categories: Vec<String>,
    /// Byline.
    pub author: Option<String>,
    /// Sources.
    pub sources: Vec<Source>,
    /// Lead image.
    pub image: Option<Image>,
    /// Views.
    pub views: Option<u64>,
}

/// Whether an input must carry `external_id` (create/import) or may omit it (replace by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalId {
    /// `external_id` is required.
    Required,
    /// `external_id` may be absent; the stored one is then kept.
    Optional,
}

const FIELDS: &[&str] = &[
    "external_id",
    "title",
    "summary",
    "content_html",
    "link",
    "published_at",
    "modified_at",
    "regions",
    "categories",
    "author",
    "sources",
    "image",
    "views",
];

/// Parsing of publisher input into a [`NewArticle`].
pub struct ArticleInput;

impl ArticleInput {
    /// Validates one JSON value as an article, listing every invalid field (never an empty
    /// list). A required field that is `null` is missing; an optional one is absent.
    /// `modified_at` is judged against the server's clock now.
    pub fn from_json(
        value: &Value,
        regions: &RegionDirectory,
        external_id: ExternalId,
    ) -> Result<NewArticle, Vec<FieldError>> {
        Self::from_json_at(value, regions, external_id, Utc::now())
    }

    /// [`ArticleInput::from_json`] with the clock given: `now` bounds `modified_at`.
    pub fn from_json_at(
        value: &Value,
        regions: &RegionDirectory,
        external_id: ExternalId,
        now: DateTime<Utc>,
    ) -> Result<NewArticle, Vec<FieldError>> {
        let Some(obj) = value.as_object() else {
            return Err(vec![FieldError::new(
                "",
                format!("expected a JSON object, got {}", kind(value)),
            )]);
        };
        let mut v = Checker { errors: Vec::new() };
        let external_id = v.external_id(obj, external_id);
        let title = v.text(obj, "title", 1, MAX_TITLE_CHARS);
        if title.is_none() && missing(obj, "title") {
            v.fail("title", format!("required: 1–{MAX_TITLE_CHARS} characters"));
        }
        let summary = v
            .text(obj, "summary", 0, MAX_SUMMARY_CHARS)
            .filter(|s| !s.is_empty());
        let content_html = v.html(obj, "content_html");
        let link = v.url(obj, "link");
        let published_at = v.datetime(obj, "published_at");
        let modified_at = v.modified_at(obj, published_at, now);
        let regions = v.regions(obj, regions);
        let categories = v.categories(obj);
        let author = v.text(obj, "author", 1, MAX_SHORT_TEXT);
        let sources = v.sources(obj);
        let image = v.image(obj);
        let views = v.unsigned(obj, "views");
        // Last, so that when the listed errors are capped (see `Problem::with_errors`) a flood of
        // unknown keys never hides a missing or invalid known field.
        v.unknown_fields(obj);
        match (title, published_at) {
            (Some(title), Some(published_at)) if v.errors.is_empty() => Ok(NewArticle {
                external_id,
                title,
                summary,
                content_html,
                link,
                published_at,
                modified_at,
                regions,
                categories,
                author,
                sources,
                image,
                views,
            }),
            _ => Err(v.into_errors()),
        }
    }
}

/// Whether `field` is absent or `null`. Both mean "not given": a client that serializes an unset
/// field as `null` means the same as one that leaves it out, so a required field that is `null`
/// is missing, never an empty value.
fn missing(obj: &Map<String, Value>, field: &str) -> bool {
    obj.get(field).is_none_or(Value::is_null)
}

/// Accumulates field errors while extracting typed values.
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    /// The errors; never empty, so a refusal always says what was wrong.
    fn into_errors(mut self) -> Vec<FieldError> {
        if self.errors.is_empty() {
            self.fail(
                "",
                "the article is incomplete; required: external_id, title, published_at, regions",
            );
        }
        self.errors
    }

    /// Unknown fields are errors (a typo such as `tittle` must not be dropped silently); `id`,
    /// `publisher` and `updated_at` are named specifically because they belong to the server.
    fn unknown_fields(&mut self, obj: &Map<String, Value>) {
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) {
                let reason = match key.as_str() {
                    "id" | "publisher" | "updated_at" => {
                        "set by the server; remove it from the request".into()
                    }
                    _ => format!("unknown field; allowed: {}", FIELDS.join(", ")),
                };
                self.fail(key.clone(), reason);
            }
        }
    }

    /// `external_id`: required for create and import, optional for replace-by-id (where absent
    /// or null keeps the stored one).
    fn external_id(&mut self, obj: &Map<String, Value>, rule: ExternalId) -> String {
        match (self.text(obj, "external_id", 1, 200), rule) {
            (Some(id), _) => id,
            (None, ExternalId::Required) if missing(obj, "external_id") => {
                self.fail(
                    "external_id",
                    "required: the publisher's own key for this article (1–200 characters)",
                );
                String::new()
            }
            (None, _) => String::new(),
        }
    }

    /// A string field; trimmed, XML-safe, `min..=max` characters. Absent or null → None.
    fn text(&mut self, obj: &Map<String, Value>, field: &str, min: usize, max: usize) -> Option<String> {
        match obj.get(field) {
            None | Some(Value::Null) => None,
            Some(value) => self.text_value(field, value, min, max),
        }
    }

    /// [`Checker::text`] for a field of a nested object, errors named by its full path
    /// (`sources[1].name`, `image.type`), so the publisher can tell which one is wrong.
    fn nested_text(
        &mut self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
        min: usize,
        max: usize,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => self.text_value(&format!("{parent}.{key}"), value, min, max),
        }
    }

    fn text_value(&mut self, field: &str, value: &Value, min: usize, max: usize) -> Option<String> {
        let Some(s) = value.as_str() else {
            self.fail(field, format!("expected a string, got {}", kind(value)));
            return None;
        };
        if let Err(reason) = check_xml_chars(s) {
            self.fail(field, reason);
            return None;
        }
        let trimmed = s.trim();
        let chars = trimmed.chars().count();
        if chars < min || chars > max {
            self.fail(
                field,
                format!("must be {min}–{max} characters after trimming, got {chars}"),
            );
            return None;
        }
        Some(trimmed.to_string())
    }

    fn html(&mut self, obj: &Map<String, Value>, field: &str) -> Option<String> {
        let raw = self.text(obj, field, 0, usize::MAX)?;
        let clean = sanitize_html(&raw);
        (!clean.trim().is_empty()).then_some(clean)
    }

    fn url(&mut self, obj: &Map<String, Value>, field: &str) -> Option<String> {
        let s = self.text(obj, field, 1, MAX_URL_LEN)?;
        self.url_value(field, s)
    }

    /// An absolute http(s) URL with a host, stored in the url crate's normalized serialization
    /// (WHATWG URL, as browsers and partners' parsers see it): `HTTPS://Пример.рф/a` becomes
    /// `https://xn--e1afmkfd.xn--p1ai/a`. Characters RFC 3986 forbids unencoded are refused
    /// rather than encoded ([`URL_FORBIDDEN`]), as are whitespace and controls, which the url
    /// crate would silently drop.
    fn url_value(&mut self, field: &str, s: String) -> Option<String> {
        if let Some(c) = s
            .chars()
            .find(|c| URL_FORBIDDEN.contains(c) || c.is_whitespace() || c.is_control())
        {
            self.fail(
                field,
                format!(
                    "contains {c:?}, which a URL may not carry unencoded (RFC 3986 §2); \
                     percent-encode it (a space is %20) or remove it"
                ),
            );
            return None;
        }
        match url::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                let normalized = String::from(u);
                if normalized.len() > MAX_URL_LEN {
                    self.fail(
                        field,
                        format!(
                            "at most {MAX_URL_LEN} bytes once normalized, got {}",
                            normalized.len()
                        ),
                    );
                    return None;
                }
                Some(normalized)
            }
            Ok(u) => {
                self.fail(
                    field,
                    format!(
                        "must be an absolute http(s) URL with a host, got scheme {}",
                        echo(u.scheme())
                    ),
                );
                None
            }
            Err(e) => {
                self.fail(field, format!("must be an absolute http(s) URL ({e})"));
                None
            }
        }
    }

    /// A required RFC 3339 date-time ([`Checker::datetime_value`]).
    fn datetime(&mut self, obj: &Map<String, Value>, field: &str) -> Option<DateTime<FixedOffset>> {
        if missing(obj, field) {
            self.fail(
                field,
                "required: an RFC 3339 date-time with offset, e.g. 2024-05-17T09:00:00+03:00",
            );
            return None;
        }
        self.datetime_value(obj, field)
    }

    /// The optional `modified_at`: a date-time by the same rules as `published_at`, not before
    /// it (an article cannot change before it appears) and not after `now` plus
    /// [`MODIFIED_AT_SKEW`] (a change cannot be dated in the future).
    fn modified_at(
        &mut self,
        obj: &Map<String, Value>,
        published_at: Option<DateTime<FixedOffset>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<FixedOffset>> {
        const FIELD: &str = "modified_at";
        let t = self.datetime_value(obj, FIELD)?;
        let latest = now + MODIFIED_AT_SKEW;
        let secs = chrono::SecondsFormat::Secs;
        if published_at.is_some_and(|p| t < p) {
            self.fail(
                FIELD,
                "must not be before published_at: an article cannot change before it is \
                 published; give a time from published_at to now, or omit modified_at \
                 (a new article then takes published_at, an edit the time of the change)",
            );
            return None;
        }
        if t > latest {
            self.fail(
                FIELD,
                format!(
                    "must not be in the future: at most {} min ahead of the server's clock, i.e. \
                     not after {}; give the time the content last changed, or omit modified_at",
                    MODIFIED_AT_SKEW.num_minutes(),
                    latest.to_rfc3339_opts(secs, true)
                ),
            );
            return None;
        }
        Some(t)
    }

    /// An RFC 3339 date-time with offset, between [`EARLIEST_PUBLISHED_AT`] and
    /// [`LATEST_PUBLISHED_AT`], without a leap second. Absent or null → None.
    fn datetime_value(&mut self, obj: &Map<String, Value>, field: &str) -> Option<DateTime<FixedOffset>> {
        let s = self.text(obj, field, 1, 64)?;
        match DateTime::parse_from_rfc3339(&s) {
            Ok(t) if t.nanosecond() >= 1_000_000_000 => {
                // chrono represents a leap second as nanoseconds past 1e9 and prints it back as
                // :60, which RFC 5322 dates and most feed readers' parsers do not accept.
                self.fail(
                    field,
                    "leap seconds (:60) are not accepted: feeds and their readers cannot carry them; use :59",
                );
                None
            }
            Ok(t) if t < EARLIEST_PUBLISHED_AT || t > LATEST_PUBLISHED_AT => {
                self.fail(
                    field,
                    format!(
                        "must be between {} and {} (inclusive): RSS dates start in 1900 (RFC 5322) \
                         and every format needs a 4-digit year in any time zone",
                        EARLIEST_PUBLISHED_AT.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        LATEST_PUBLISHED_AT.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                );
                None
            }
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(
                    field,
                    format!("not an RFC 3339 date-time with offset ({e}); e.g. 2024-05-17T09:00:00+03:00"),
                );
                None
            }
        }
    }

    fn regions(&mut self, obj: &Map<String, Value>, dir: &RegionDirectory) -> Vec<RegionCode> {
        let Some(list) = self.list(obj, "regions") else {
            if missing(obj, "regions") {
                self.fail(
                    "regions",
                    "required: 1 or more region codes, e.g. [\"RU-NIZ\"]; see /api/regions",
                );
            }
            return Vec::new();
        };
        if list.is_empty() {
            self.fail("regions", "must name at least one region; see /api/regions");
        }
        let mut codes = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("regions[{i}]");
            let Some(code) = self.text_value(&field, item, 1, 16) else {
                continue;
            };
            match dir.lookup(&code) {
                Some(region) => codes.push(region.code.clone()),
                None => self.fail(
                    field,
                    format!("unknown region {code:?}; the known codes are listed at /api/regions"),
                ),
            }
        }
        codes.sort();
        codes.dedup();
        codes
    }

    fn list<'v>(&mut self, obj: &'v Map<String, Value>, field: &str) -> Option<&'v Vec<Value>> {
        match obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) if items.len() <= MAX_LIST => Some(items),
            Some(Value::Array(items)) => {
                self.fail(field, format!("at most {MAX_LIST} entries, got {}", items.len()));
                None
            }
            Some(other) => {
                self.fail(field, format!("expected an array, got {}", kind(other)));
                None
            }
        }
    }

    /// Categories: 1–100 characters each, duplicates dropped, order kept. A comma is refused:
    /// feed queries list categories separated by commas (`?category=a,b`, see
    /// [`crate::query`]), so a category containing one could never be selected.
    fn categories(&mut self, obj: &Map<String, Value>) -> Vec<String> {
        let Some(list) = self.list(obj, "categories") else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("categories[{i}]");
            let Some(s) = self.text_value(&field, item, 1, 100) else {
                continue;
            };
            if s.contains(',') {
                self.fail(
                    field,
                    "must not contain a comma: feed queries separate categories with commas \
                     (?category=a,b), so this category could never be selected; use another character",
                );
            } else if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    fn sources(&mut self, obj: &Map<String, Value>) -> Vec<Source> {
        let Some(list) = self.list(obj, "sources") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let field = format!("sources[{i}]");
            let Some(o) = self.object(&field, item, &["name", "url"]) else {
                continue;
            };
            let name = self.nested_text(o, &field, "name", 1, MAX_SHORT_TEXT);
            if name.is_none() && missing(o, "name") {
                self.fail(
                    format!("{field}.name"),
                    format!("required: the source's name, 1–{MAX_SHORT_TEXT} characters"),
                );
            }
            let url = self
                .nested_text(o, &field, "url", 1, MAX_URL_LEN)
                .and_then(|u| self.url_value(&format!("{field}.url"), u));
            if let Some(name) = name {
                out.push(Source { name, url });
            }
        }
        out
    }

    fn image(&mut self, obj: &Map<String, Value>) -> Option<Image> {
        let item = obj.get("image").filter(|v| !v.is_null())?;
        let o = self.object("image", item, &["url", "type", "length", "caption"])?;
        let caption = self.nested_text(o, "image", "caption", 1, MAX_CAPTION_CHARS);
        let url = self
            .nested_text(o, "image", "url", 1, MAX_URL_LEN)
            .and_then(|u| self.url_value("image.url", u));
        let mime_type = self
            .nested_text(o, "image", "type", 1, 100)
            .and_then(|t| self.image_type(&t));
        let length = match o.get("length") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let n = v.as_u64();
                if n.is_none() {
                    self.fail(
                        "image.length",
                        format!("expected a non-negative integer, got {}", kind(v)),
                    );
                }
                n
            }
        };
        if url.is_none() && missing(o, "url") {
            self.fail("image.url", "required: absolute http(s) URL of the image");
        }
        if mime_type.is_none() && missing(o, "type") {
            self.fail("image.type", "required: an image media type, e.g. image/jpeg");
        }
        Some(Image {
            url: url?,
            mime_type: mime_type?,
            length,
            caption,
        })
    }

    /// An image media type, `image/<subtype>` with RFC 6838 §4.2 `restricted-name`s and no
    /// parameters, lower-cased (media types are case-insensitive, RFC 6838 §4.2).
    fn image_type(&mut self, t: &str) -> Option<String> {
        match t.split_once('/') {
            Some((top, sub)) if top.eq_ignore_ascii_case("image") && is_restricted_name(sub) => {
                Some(t.to_ascii_lowercase())
            }
            _ => {
                self.fail(
                    "image.type",
                    format!(
                        "must be an image media type image/<subtype> without parameters, the \
                         subtype being letters, digits and !#$&-^_.+ (RFC 6838 §4.2), e.g. \
                         image/jpeg; got {}",
                        echo(t)
                    ),
                );
                None
            }
        }
    }

    fn object<'v>(
        &mut self,
        field: &str,
        value: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(o) = value.as_object() else {
            self.fail(field, format!("expected an object, got {}", kind(value)));
            return None;
        };
        for key in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.fail(
                format!("{field}.{key}"),
                format!("unknown field; allowed: {}", allowed.join(", ")),
            );
        }
        Some(o)
    }

    fn unsigned(&mut self, obj: &Map<String, Value>, field: &str) -> Option<u64> {
        match obj.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    self.fail(field, format!("expected a non-negative integer, got {}", kind(v)));
                    None
                }
            },
        }
    }
}

/// RFC 6838 §4.2 `restricted-name`: 1–127 characters, the first a letter or digit, the rest
/// letters, digits or `!#$&-^_.+`.
fn is_restricted_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.len() <= 127
        && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
}

/// A JSON value's kind, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether XML 1.0 can carry this character (XML 1.0 §2.2, production `Char`).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Whether XML 1.0 can carry every character of `s`: [`is_xml_char`] for a whole string, over
/// bytes rather than decoded characters (several times faster on Cyrillic text; renderers call
/// it on every string of every item). In UTF-8 the characters `Char` excludes are exactly the
/// bytes below 0x20 other than tab, LF and CR (every byte of a multi-byte sequence is 0x80 or
/// above) and U+FFFE/U+FFFF, the sequences EF BF BE and EF BF BF; a `str` holds no surrogates.
pub fn is_xml_text(s: &str) -> bool {
    let b = s.as_bytes();
    let control = b.iter().any(|&x| x < 0x20 && !matches!(x, b'\t' | b'\n' | b'\r'));
    // 0xEF leads U+E000..U+FFFF, rare in news text; look for the two excluded ones only then.
    let noncharacter = || b.windows(3).any(|w| matches!(w, [0xEF, 0xBF, 0xBE | 0xBF]));
    !(control || b.contains(&0xEF) && noncharacter())
}

/// Refuses text that XML 1.0 cannot carry, naming the first offending character and where it is.
/// (Lone surrogates cannot reach here: JSON parsing already rejects them.)
pub fn check_xml_chars(s: &str) -> Result<(), String> {
    if is_xml_text(s) {
        return Ok(());
    }
    match s.chars().enumerate().find(|(_, c)| !is_xml_char(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "contains U+{:04X} at character {at}, which XML 1.0 cannot carry; allowed are tab, LF, CR and U+0020 and up except U+FFFE/U+FFFF",
            c as u32
        )),
    }
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    // ammonia's defaults keep ordinary article markup (p, a, img, lists, blockquote, headings,
    // tables) and drop scripts, event handlers and javascript: URLs; outbound links get
    // rel="noopener noreferrer" so embedding partners are not exposed to window.opener.
    b.link_rel(Some("noopener noreferrer"));
    b
});

/// Sanitizes article HTML so it is safe for partners to embed.
pub fn sanitize_html(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<NewArticle, Vec<FieldError>> {
        ArticleInput::from_json(&v, &RegionDirectory::builtin(), ExternalId::Required)
    }

    #[test]
    fn the_byte_check_agrees_with_the_char_check_for_every_character() {
        let mut text = String::new();
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            text.clear();
            text.extend(['ж', c, 'ё']);
            assert_eq!(is_xml_text(&text), is_xml_char(c), "U+{:04X}", c as u32);
        }
        assert!(is_xml_text("") && is_xml_text("\u{EF}\u{FFFD}\u{FFBF}"));
    }

    #[test]
    fn valid_article_is_normalised() {
        let a = parse(json!({
            "external_id": "x", "title": "  Заголовок ", "published_at": "2024-05-17T09:00:00+03:00",
            "regions": ["ru-niz", "RU-MOW", "RU-NIZ"], "content_html": "<p>ok</p><script>bad()</script>"
        }))
        .unwrap();
        assert_eq!(a.title, "Заголовок");
        assert_eq!(
            a.regions.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            ["RU-MOW", "RU-NIZ"]
        );
        assert_eq!(a.content_html.as_deref(), Some("<p>ok</p>"));
        assert_eq!(a.published_at.offset().local_minus_utc(), 3 * 3600);
    }

    #[test]
    fn every_invalid_field_is_listed() {
        let errs = parse(json!({
            "title": "", "published_at": "yesterday", "regions": ["RU-XXX"], "link": "javascript:alert(1)",
            "views": -1, "tittle": "typo", "id": 5
        }))
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "external_id",
            "title",
            "published_at",
            "regions[0]",
            "link",
            "views",
            "tittle",
            "id",
        ] {
            assert!(fields.contains(&f), "{f} missing from {errs:?}");
        }
    }

    #[test]
    fn xml_invalid_characters_name_the_field() {
        let errs = parse(json!({
            "external_id": "c", "title": "a\u{b}b", "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU"]
        }))
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "title");
        assert!(errs[0].reason.contains("U+000B"), "{}", errs[0].reason);
    }

    #[test]
    fn title_length_is_counted_in_characters() {
        let ok = "я".repeat(500);
        let base =
            json!({"external_id": "t", "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU"]});
        let mut v = base.clone();
        v["title"] = json!(ok);
        assert!(parse(v).is_ok());
        let mut v = base;
        v["title"] = json!("я".repeat(501));
        assert_eq!(parse(v).unwrap_err()[0].field, "title");
    }

    fn base() -> Value {
        json!({"external_id": "b", "title": "T", "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU"]})
    }

    fn set(mut v: Value, path: &[&str], value: Value) -> Value {
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        at[path[path.len() - 1]] = value;
        v
    }

    /// The errors of `v`, as (field, reason) pairs.
    fn errors(v: Value) -> Vec<(String, String)> {
        parse(v)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.reason))
            .collect()
    }

    #[test]
    fn an_image_caption_is_optional_short_text() {
        let img =
            |caption: Value| json!({"url": "https://e.ru/i.jpg", "type": "image/jpeg", "caption": caption});
        let ok = parse(set(base(), &["image"], img(json!(" Фото: Время Н ")))).unwrap();
        assert_eq!(ok.image.and_then(|i| i.caption).as_deref(), Some("Фото: Время Н"));
        let none = parse(set(base(), &["image"], img(Value::Null))).unwrap();
        assert_eq!(none.image.and_then(|i| i.caption), None);
        for bad in [json!(""), json!(7), json!("x".repeat(501))] {
            let errs = errors(set(base(), &["image"], img(bad.clone())));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "image.caption", "{bad}");
        }
    }

    #[test]
    fn null_required_fields_are_missing() {
        for field in ["external_id", "title", "published_at", "regions"] {
            let errs = errors(set(base(), &[field], Value::Null));
            assert_eq!(errs.len(), 1, "{field}: {errs:?}");
            assert_eq!(errs[0].0, field);
            assert!(errs[0].1.starts_with("required"), "{field}: {errs:?}");
        }
        let errs = errors(set(base(), &["sources"], json!([{"name": null}])));
        assert_eq!(errs[0].0, "sources[0].name");
        let img = json!({"url": null, "type": null});
        let fields: Vec<String> = errors(set(base(), &["image"], img))
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(fields, ["image.url", "image.type"]);
        // Optional fields: null is absent.
        let ok = parse(set(
            set(base(), &["summary"], Value::Null),
            &["image"],
            Value::Null,
        ))
        .unwrap();
        assert_eq!((ok.summary, ok.image), (None, None));
        // For a replace by id, external_id may be absent or null (the stored one is kept).
        let put = ArticleInput::from_json(
            &set(base(), &["external_id"], Value::Null),
            &RegionDirectory::builtin(),
            ExternalId::Optional,
        );
        assert_eq!(put.unwrap().external_id, "");
    }

    #[test]
    fn a_refusal_always_lists_an_error() {
        for v in [json!({}), json!({"title": null, "published_at": null}), json!([])] {
            let errs = parse(v.clone()).unwrap_err();
            assert!(
                !errs.is_empty() && errs.iter().all(|e| !e.reason.is_empty()),
                "{v}: {errs:?}"
            );
        }
    }

    #[test]
    fn dates_must_fit_every_format() {
        assert_eq!(EARLIEST_PUBLISHED_AT.to_rfc3339(), "1900-01-02T00:00:00+00:00");
        assert_eq!(LATEST_PUBLISHED_AT.to_rfc3339(), "9999-12-30T00:00:00+00:00");
        for ok in [
            "1900-01-02T00:00:00Z",
            "1900-01-02T23:59:00+23:59",
            "9999-12-30T00:00:00Z",
            "9999-12-29T00:00:00-23:59",
        ] {
            let a = parse(set(base(), &["published_at"], json!(ok)));
            assert!(a.is_ok(), "{ok}: {a:?}");
        }
        for bad in [
            "0000-01-01T00:00:00Z",
            "1899-12-31T23:59:59Z",
            "1900-01-01T23:59:59Z",
            "9999-12-30T00:00:01Z",
            "9999-12-31T23:59:59Z",
            "2024-06-30T23:59:60Z",
            "2024-06-30T23:59:60.5+03:00",
        ] {
            let errs = errors(set(base(), &["published_at"], json!(bad)));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "published_at");
            let says = if bad.contains(":60") {
                ":60"
            } else {
                "1900-01-02T00:00:00Z"
            };
            assert!(errs[0].1.contains(says), "{bad}: {}", errs[0].1);
        }
    }

    #[test]
    fn modified_at_lies_between_published_at_and_now_plus_the_skew() {
        let now = DateTime::parse_from_rfc3339("2024-05-18T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |m: Value| {
            ArticleInput::from_json_at(
                &set(base(), &["modified_at"], m),
                &RegionDirectory::builtin(),
                ExternalId::Required,
                now,
            )
        };
        let given = |s: &str| at(json!(s)).unwrap().modified_at.unwrap().to_rfc3339();
        assert_eq!(given("2024-05-17T09:00:00+03:00"), "2024-05-17T09:00:00+03:00");
        assert_eq!(given("2024-05-18T15:05:00+03:00"), "2024-05-18T15:05:00+03:00");
        assert_eq!(at(Value::Null).unwrap().modified_at, None);
        for (bad, says) in [
            ("2024-05-17T08:59:59+03:00", "not be before published_at"),
            ("2024-05-18T12:05:01Z", "2024-05-18T12:05:00Z"),
            ("2024-05-18T12:00:60Z", ":60"),
            ("yesterday", "RFC 3339"),
        ] {
            let errs = at(json!(bad)).unwrap_err();
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].field, "modified_at", "{bad}");
            assert!(errs[0].reason.contains(says), "{bad}: {}", errs[0].reason);
        }
    }

    fn stored(modified_at: Option<&str>) -> Article {
        let new = parse(base()).unwrap();
        let at = DateTime::parse_from_rfc3339("2024-05-18T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut a = Article::from_new(1, "p", new, at);
        a.modified_at = modified_at.map(|m| DateTime::parse_from_rfc3339(m).unwrap());
        a
    }

    #[test]
    fn a_new_article_is_modified_when_published_unless_told() {
        assert_eq!(stored(None).modified(), stored(None).updated_at.fixed_offset());
        let mut new = parse(base()).unwrap();
        let a = Article::from_new(1, "p", new.clone(), Utc::now());
        assert_eq!(a.modified_at, Some(new.published_at));
        new.modified_at = Some(DateTime::parse_from_rfc3339("2024-05-17T10:00:00+03:00").unwrap());
        assert_eq!(
            Article::from_new(1, "p", new.clone(), Utc::now()).modified_at,
            new.modified_at
        );
    }

    #[test]
    fn only_a_content_change_moves_modified_at() {
        let old = stored(Some("2024-05-17T09:30:00+03:00"));
        let now = DateTime::parse_from_rfc3339("2024-05-19T08:00:00.75Z")
            .unwrap()
            .to_utc();
        let mut same = old.clone();
        same.views = Some(5);
        same.updated_at = now;
        assert_eq!(
            same.modified_after(&old, None, now),
            old.modified_at,
            "views are not content"
        );
        let mut edited = same.clone();
        edited.title = "Новый".into();
        let changed = edited.modified_after(&old, None, now).unwrap();
        assert_eq!(
            changed.to_rfc3339(),
            "2024-05-19T11:00:00+03:00",
            "now, to the second, own offset"
        );
        let told = DateTime::parse_from_rfc3339("2024-05-18T00:00:00Z").unwrap();
        assert_eq!(edited.modified_after(&old, Some(told), now), Some(told));
        // Never before the stored modified_at (a clock that stepped back) or published_at.
        let early = DateTime::parse_from_rfc3339("2024-05-17T06:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(edited.modified_after(&old, None, early), old.modified_at);
        // An article stored before modified_at existed keeps reading as before until edited.
        let legacy = stored(None);
        let mut resent = legacy.clone();
        resent.updated_at = now;
        assert_eq!(resent.modified_after(&legacy, None, now), None);
    }

    #[test]
    fn stored_articles_without_modified_at_still_decode() {
        let mut v = serde_json::to_value(stored(Some("2024-05-17T09:30:00+03:00"))).unwrap();
        v.as_object_mut().unwrap().remove("modified_at");
        let a: Article = serde_json::from_value(v).unwrap();
        assert_eq!(a.modified_at, None);
        assert_eq!(a.modified().to_rfc3339(), "2024-05-18T10:00:00+00:00");
    }

    #[test]
    fn urls_are_checked_and_normalized() {
        for (given, stored) in [
            ("https://www.vremyan.ru", "https://www.vremyan.ru/"),
            (
                "HTTPS://Example.RU:443/a/../b?q=1#f",
                "https://example.ru/b?q=1#f",
            ),
            (
                "https://пример.рф/новости",
                "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8",
            ),
            ("http://x.ru/a%20b", "http://x.ru/a%20b"),
        ] {
            let a = parse(set(base(), &["link"], json!(given))).unwrap();
            assert_eq!(a.link.as_deref(), Some(stored), "{given}");
            let a = parse(set(base(), &["sources"], json!([{"name": "S", "url": given}]))).unwrap();
            assert_eq!(a.sources[0].url.as_deref(), Some(stored), "{given}");
            let img = json!({"url": given, "type": "image/jpeg"});
            let a = parse(set(base(), &["image"], img)).unwrap();
            assert_eq!(a.image.unwrap().url, stored, "{given}");
        }
        for bad in [
            "https://x.ru/\"onmouseover=\"alert(7)<script>",
            "https://x.ru/a b",
            "https://x.ru/a\tb",
            "https://x.ru/a\\b",
            "https://x.ru/{a}|^`",
            "https://x.ru/a\u{a0}b",
            "javascript:alert(1)",
            "mailto:a@x.ru",
            "https://",
            "x.ru/a",
        ] {
            let errs = errors(set(base(), &["link"], json!(bad)));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "link", "{bad}");
        }
    }

    #[test]
    fn image_types_follow_rfc_6838() {
        for (given, stored) in [
            ("image/jpeg", "image/jpeg"),
            ("IMAGE/SVG+XML", "image/svg+xml"),
            ("image/vnd.ms-photo", "image/vnd.ms-photo"),
        ] {
            let img = json!({"url": "https://x.ru/i", "type": given});
            let a = parse(set(base(), &["image"], img)).unwrap();
            assert_eq!(a.image.unwrap().mime_type, stored);
        }
        for bad in [
            "image/jpeg\" onload=\"alert(9)",
            "image/jpeg; q=1",
            "image/",
            "image",
            "image/*",
            "text/html",
            "image/-x",
            "image/a/b",
            "imagex/png",
        ] {
            let img = json!({"url": "https://x.ru/i", "type": bad});
            let errs = errors(set(base(), &["image"], img));
            assert_eq!(errs.len(), 1, "{bad}: {errs:?}");
            assert_eq!(errs[0].0, "image.type", "{bad}");
        }
    }

    #[test]
    fn a_category_with_a_comma_is_refused() {
        let errs = errors(set(base(), &["categories"], json!(["ok", "cat,comma"])));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].0, "categories[1]");
        assert!(errs[0].1.contains("comma"), "{}", errs[0].1);
        let a = parse(set(base(), &["categories"], json!(["a", "b / c", "a"]))).unwrap();
        assert_eq!(a.categories, ["a", "b / c"]);
    }
}
