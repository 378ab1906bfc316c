//! The article: what is stored, and how publisher input becomes one.
//!
//! Input arrives as untrusted JSON. [`ArticleInput::from_json`] checks every field and reports
//! *all* problems at once (a publisher fixing a payload should not need one round trip per field);
//! the result, [`NewArticle`], can only exist when valid, so the store never sees a bad article.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::regions::{RegionCode, RegionDirectory};

/// Longest title, in characters after trimming (DESIGN.md: 1–500).
pub const MAX_TITLE_CHARS: usize = 500;
const MAX_SHORT_TEXT: usize = 500;
const MAX_SUMMARY_CHARS: usize = 5_000;
const MAX_URL_LEN: usize = 2_048;
const MAX_LIST: usize = 32;

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
    /// Last change, set by the server.
    pub updated_at: DateTime<Utc>,
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

    /// Builds the stored article from validated input.
    pub fn from_new(id: u64, publisher: &str, new: NewArticle, updated_at: DateTime<Utc>) -> Self {
        Article {
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
    /// Validates one JSON value as an article, listing every invalid field.
    ///
    /// Unknown fields are errors (a typo such as `tittle` must not be dropped silently); `id`,
    /// `publisher` and `updated_at` are named specifically because they belong to the server.
    pub fn from_json(
        value: &Value,
        regions: &RegionDirectory,
        external_id: ExternalId,
    ) -> Result<NewArticle, Vec<FieldError>> {
        let Some(obj) = value.as_object() else {
            return Err(vec![FieldError::new(
                "",
                format!("expected a JSON object, got {}", kind(value)),
            )]);
        };
        let mut v = Checker { errors: Vec::new() };
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) {
                let reason = match key.as_str() {
                    "id" | "publisher" | "updated_at" => {
                        "set by the server; remove it from the request".into()
                    }
                    _ => format!("unknown field; allowed: {}", FIELDS.join(", ")),
                };
                v.errors.push(FieldError::new(key.clone(), reason));
            }
        }
        let external_id = match (v.text(obj, "external_id", 1, 200), external_id) {
            (Some(id), _) => id,
            (None, ExternalId::Required) if !obj.contains_key("external_id") => {
                v.fail(
                    "external_id",
                    "required: the publisher's own key for this article (1–200 characters)",
                );
                String::new()
            }
            (None, _) => String::new(),
        };
        let title = v.text(obj, "title", 1, MAX_TITLE_CHARS);
        if title.is_none() && !obj.contains_key("title") {
            v.fail("title", format!("required: 1–{MAX_TITLE_CHARS} characters"));
        }
        let summary = v
            .text(obj, "summary", 0, MAX_SUMMARY_CHARS)
            .filter(|s| !s.is_empty());
        let content_html = v.html(obj, "content_html");
        let link = v.url(obj, "link");
        let published_at = v.datetime(obj, "published_at");
        let regions = v.regions(obj, regions);
        let categories = v.text_list(obj, "categories");
        let author = v.text(obj, "author", 1, MAX_SHORT_TEXT);
        let sources = v.sources(obj);
        let image = v.image(obj);
        let views = v.unsigned(obj, "views");
        match (title, published_at, v.errors.is_empty()) {
            (Some(title), Some(published_at), true) => Ok(NewArticle {
                external_id,
                title,
                summary,
                content_html,
                link,
                published_at,
                regions,
                categories,
                author,
                sources,
                image,
                views,
            }),
            _ => Err(v.errors),
        }
    }
}

/// Accumulates field errors while extracting typed values.
struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
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

    fn url_value(&mut self, field: &str, s: String) -> Option<String> {
        match url::Url::parse(&s) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Some(s),
            Ok(u) => {
                self.fail(
                    field,
                    format!("must be an absolute http(s) URL, got scheme {:?}", u.scheme()),
                );
                None
            }
            Err(e) => {
                self.fail(field, format!("must be an absolute http(s) URL ({e})"));
                None
            }
        }
    }

    fn datetime(&mut self, obj: &Map<String, Value>, field: &str) -> Option<DateTime<FixedOffset>> {
        let Some(s) = self.text(obj, field, 1, 64) else {
            if !obj.contains_key(field) {
                self.fail(
                    field,
                    "required: an RFC 3339 date-time with offset, e.g. 2024-05-17T09:00:00+03:00",
                );
            }
            return None;
        };
        match DateTime::parse_from_rfc3339(&s) {
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
            if !obj.contains_key("regions") {
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

    fn text_list(&mut self, obj: &Map<String, Value>, field: &str) -> Vec<String> {
        let Some(list) = self.list(obj, field) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            if let Some(s) = self.text_value(&format!("{field}[{i}]"), item, 1, 100) {
                if !out.contains(&s) {
                    out.push(s);
                }
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
            if name.is_none() && !o.contains_key("name") {
                self.fail(format!("{field}.name"), "required");
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
        let o = self.object("image", item, &["url", "type", "length"])?;
        let url = self
            .nested_text(o, "image", "url", 1, MAX_URL_LEN)
            .and_then(|u| self.url_value("image.url", u));
        let mime_type = self.nested_text(o, "image", "type", 1, 100);
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
        if url.is_none() && !o.contains_key("url") {
            self.fail("image.url", "required: absolute http(s) URL of the image");
        }
        match &mime_type {
            Some(t) if t.starts_with("image/") && t.len() > 6 => {}
            Some(t) => self.fail(
                "image.type",
                format!("must be an image MIME type such as image/jpeg, got {t:?}"),
            ),
            None if !o.contains_key("type") => self.fail("image.type", "required: e.g. image/jpeg"),
            None => {}
        }
        Some(Image {
            url: url?,
            mime_type: mime_type.filter(|t| t.starts_with("image/"))?,
            length,
        })
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

/// Refuses text that XML 1.0 cannot carry, naming the first offending character and where it is.
/// (Lone surrogates cannot reach here: JSON parsing already rejects them.)
pub fn check_xml_chars(s: &str) -> Result<(), String> {
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
}
