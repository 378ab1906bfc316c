//! Conditional requests: RFC 9110 §13 preconditions.
//!
//! Feed readers poll the same URLs every few minutes; answering most of those
//! polls with `304 Not Modified` instead of a full document is the single
//! biggest saving the server can make. The same machinery protects the
//! (few) state-changing endpoints against lost updates with `If-Match`.
//!
//! This module only *decides*; building the 304/412 response (with the
//! `ETag`, `Last-Modified`, `Cache-Control`, `Vary` fields RFC 9110 §15.4.5
//! requires) is up to the caller.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, Method};

/// An entity tag (RFC 9110 §8.8.3), parsed from header text like `"abc"` or
/// `W/"abc"`.
///
/// Kept as a plain owned value (rather than a raw header string) so that the
/// weak flag is explicit and the two comparison functions in §8.8.3.2 cannot
/// be confused with string equality.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTag {
    /// Weak tags (`W/"…"`) promise semantic, not byte-for-byte, equivalence;
    /// they must never satisfy `If-Match`.
    pub weak: bool,
    /// The opaque tag without quotes. Must consist of `etagc` characters
    /// (visible ASCII except `"`, or non-ASCII) for [`fmt::Display`] to
    /// produce a valid header value.
    pub tag: String,
}

impl EntityTag {
    /// Create a strong tag.
    ///
    /// The server only ever mints strong tags for its own byte-exact
    /// representations (one per content coding), which is what lets them
    /// satisfy `If-Match` and range requests.
    pub fn strong(tag: impl Into<String>) -> Self {
        EntityTag {
            weak: false,
            tag: tag.into(),
        }
    }

    /// Parse a single entity tag such as `"abc"` or `W/"abc"` (surrounding
    /// whitespace allowed).
    ///
    /// Returns `None` for anything that does not follow the §8.8.3 grammar
    /// (missing quotes, lower-case `w/`, embedded `"` or control characters),
    /// so malformed client input can simply be skipped.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim_matches(|c| c == ' ' || c == '\t');
        let (weak, quoted) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let tag = quoted.strip_prefix('"')?.strip_suffix('"')?;
        tag.chars().all(is_etagc).then(|| EntityTag {
            weak,
            tag: tag.to_owned(),
        })
    }

    /// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and equal.
    ///
    /// Required wherever byte identity matters — `If-Match` guarding writes,
    /// and `If-Range` — because weak tags only promise equivalent meaning.
    #[must_use]
    pub fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison (RFC 9110 §8.8.3.2): opaque tags equal, weakness ignored.
    ///
    /// Used for `If-None-Match`, where a cache holding any equivalent
    /// representation may be told 304; intermediaries often weaken our strong
    /// tags (e.g. after recompressing), and those must still revalidate.
    #[must_use]
    pub fn weak_eq(&self, other: &Self) -> bool {
        self.tag == other.tag
    }
}

/// Formats as header text, `"tag"` or `W/"tag"`, so an `EntityTag` can be
/// written straight into an `ETag` field and parsed back by [`EntityTag::parse`].
impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

/// RFC 9110 §8.8.3: `etagc = %x21 / %x23-7E / obs-text`.
fn is_etagc(c: char) -> bool {
    c == '!' || ('#'..='~').contains(&c) || !c.is_ascii()
}

/// What the server currently has for the target resource.
///
/// Borrowing the tag keeps evaluation allocation-free on the hot path: the
/// caller usually holds the `ETag` in its cache entry already.
#[derive(Clone, Copy, Debug, Default)]
pub struct Validators<'a> {
    /// `ETag` of the selected representation, if the resource has one.
    pub etag: Option<&'a EntityTag>,
    /// Last modification time; compared at one-second resolution because
    /// HTTP dates carry no fractions.
    pub last_modified: Option<SystemTime>,
}

/// Result of evaluating the preconditions of a request.
///
/// A three-way answer rather than a status code so the caller decides how to
/// build each response (headers to copy into a 304, body for a 412).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// No precondition failed: perform the method normally.
    Proceed,
    /// Respond `304 Not Modified` (only ever for GET/HEAD).
    NotModified,
    /// Respond `412 Precondition Failed`.
    PreconditionFailed,
}

/// Evaluate `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
/// `If-Modified-Since` in the order of RFC 9110 §13.2.2.
///
/// `exists == false` means the resource does not currently exist: then
/// `If-Match: *` fails, `If-None-Match: *` passes, and `current` is ignored.
/// The order matters because the headers can disagree; §13.2.2 makes the
/// answer deterministic (and identical to what caches expect). `If-Range`
/// (step 5) is not handled because the server does not serve ranges.
///
/// The §13.2.2 escape hatch "unless it can be determined that the
/// state-changing request has already succeeded" is left to the caller.
#[must_use]
pub fn evaluate(method: &Method, headers: &HeaderMap, exists: bool, current: &Validators) -> Outcome {
    let current = if exists { *current } else { Validators::default() };
    let safe = *method == Method::GET || *method == Method::HEAD;

    // Steps 1 and 2: If-Match, else If-Unmodified-Since; false → 412.
    let write_guard = if_match(headers, exists, &current).or_else(|| if_unmodified_since(headers, &current));
    if write_guard == Some(false) {
        return Outcome::PreconditionFailed;
    }

    // Step 3: If-None-Match; false → 304 for GET/HEAD, else 412.
    // Step 4: only for GET/HEAD without If-None-Match: If-Modified-Since.
    match if_none_match(headers, exists, &current) {
        Some(false) if safe => Outcome::NotModified,
        Some(false) => Outcome::PreconditionFailed,
        Some(true) => Outcome::Proceed,
        None if safe && if_modified_since(headers, &current) == Some(false) => Outcome::NotModified,
        None => Outcome::Proceed,
    }
}

/// Format a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// only format RFC 9110 §5.6.7 allows servers to generate, for
/// `Last-Modified`, `Date` and `Expires`.
///
/// Times outside what an HTTP date can express (before 1970 or after 9999)
/// are clamped rather than panicking, since a bad mtime must not take a
/// request down.
#[must_use]
pub fn http_date(t: SystemTime) -> String {
    // 9999-12-31T23:59:59Z, the last instant httpdate can format.
    const MAX: Duration = Duration::from_secs(253_402_300_799);
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    httpdate::fmt_http_date(UNIX_EPOCH + since_epoch.min(MAX))
}

/// A parsed `If-Match` / `If-None-Match` field value.
#[derive(Debug, PartialEq)]
enum TagCondition {
    /// `*`: any current representation.
    Any,
    /// An explicit list of entity tags.
    Tags(Vec<EntityTag>),
}

impl TagCondition {
    /// Does the condition name the current representation, using `eq` as the
    /// comparison function?
    fn matches(&self, exists: bool, current: &Validators, eq: fn(&EntityTag, &EntityTag) -> bool) -> bool {
        match self {
            TagCondition::Any => exists,
            TagCondition::Tags(tags) => current.etag.is_some_and(|etag| tags.iter().any(|t| eq(t, etag))),
        }
    }
}

/// Collect the members of every `name` field line (§5.3: several lines are
/// one comma-separated list). Malformed members are dropped; `None` when no
/// line contained a single valid member (or the field is absent).
fn tag_condition(headers: &HeaderMap, name: HeaderName) -> Option<TagCondition> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in headers.get_all(name) {
        let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        for member in list_members(text) {
            if member == "*" {
                any = true;
            } else if let Some(tag) = EntityTag::parse(member) {
                tags.push(tag);
            }
        }
    }
    if any {
        Some(TagCondition::Any)
    } else if tags.is_empty() {
        None
    } else {
        Some(TagCondition::Tags(tags))
    }
}

/// Split an entity-tag list at commas that are not inside a quoted
/// opaque-tag (`etagc` includes `,`), yielding trimmed, non-empty members.
fn list_members(text: &str) -> impl Iterator<Item = &str> {
    let mut in_quotes = false;
    text.split(move |c| {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        c == ',' && !in_quotes
    })
    .map(|m| m.trim_matches(|c| c == ' ' || c == '\t'))
    .filter(|m| !m.is_empty())
}

/// RFC 9110 §13.1.1 If-Match (strong comparison). `None` when absent.
///
/// A present but entirely unparseable field evaluates to false: it guards a
/// write, and failing closed (412) is safer than silently proceeding.
fn if_match(headers: &HeaderMap, exists: bool, current: &Validators) -> Option<bool> {
    if !headers.contains_key(IF_MATCH) {
        return None;
    }
    Some(
        tag_condition(headers, IF_MATCH)
            .is_some_and(|cond| cond.matches(exists, current, EntityTag::strong_eq)),
    )
}

/// RFC 9110 §13.1.2 If-None-Match (weak comparison). `None` only when absent.
///
/// A present field without a single valid member (`garbage`, `W/`, an
/// unterminated tag, an empty value) matches nothing, so the condition holds
/// and the full representation is sent: never a 304 on a tag the client did
/// not send. And being present, it still disables If-Modified-Since
/// (§13.1.3, §13.2.2 step 4), however broken it is.
fn if_none_match(headers: &HeaderMap, exists: bool, current: &Validators) -> Option<bool> {
    if !headers.contains_key(IF_NONE_MATCH) {
        return None;
    }
    Some(
        !tag_condition(headers, IF_NONE_MATCH)
            .is_some_and(|cond| cond.matches(exists, current, EntityTag::weak_eq)),
    )
}

/// RFC 9110 §13.1.4 If-Unmodified-Since; caller only consults it without
/// If-Match. `None` when absent, invalid, or no modification date is known.
fn if_unmodified_since(headers: &HeaderMap, current: &Validators) -> Option<bool> {
    let date = single_date(headers, IF_UNMODIFIED_SINCE)?;
    let modified = unix_seconds(current.last_modified?);
    Some(modified <= date)
}

/// RFC 9110 §13.1.3 If-Modified-Since; caller only consults it for GET/HEAD
/// without If-None-Match. `None` when absent, invalid, or no modification
/// date is known; `Some(false)` (not modified) when `last_modified` <= date.
fn if_modified_since(headers: &HeaderMap, current: &Validators) -> Option<bool> {
    let date = single_date(headers, IF_MODIFIED_SINCE)?;
    let modified = unix_seconds(current.last_modified?);
    Some(modified > date)
}

/// The date in `name`, as whole seconds since the epoch, if the field has
/// exactly one line and it is a valid HTTP-date (IMF-fixdate, RFC 850 or
/// asctime, §5.6.7). §13.1.3/§13.1.4: otherwise the field MUST be ignored.
fn single_date(headers: &HeaderMap, name: HeaderName) -> Option<i64> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = value.to_str().ok()?.trim();
    httpdate::parse_http_date(text).ok().map(unix_seconds)
}

/// Seconds since the epoch, rounded down, so sub-second mtimes compare
/// correctly against one-second HTTP dates.
fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            i64::try_from(secs).map_or(i64::MIN, |s| -s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use Outcome::{NotModified as NM, PreconditionFailed as PF, Proceed as GO};

    /// 2023-11-14T22:13:20.5Z — fractional on purpose, to test truncation.
    fn lm() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
    }
    const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const BEFORE: &str = "Tue, 14 Nov 2023 22:13:19 GMT";
    const AFTER: &str = "Tue, 14 Nov 2023 22:13:21 GMT";
    const LM_RFC850: &str = "Tuesday, 14-Nov-23 22:13:20 GMT";
    const LM_ASCTIME: &str = "Tue Nov 14 22:13:20 2023";
    const BEFORE_ASCTIME: &str = "Tue Nov 14 22:13:19 2023";

    struct Case {
        name: &'static str,
        method: Method,
        headers: &'static [(&'static str, &'static str)],
        exists: bool,
        etag: Option<&'static str>,
        last_modified: bool,
        expected: Outcome,
    }

    /// Defaults: GET, resource exists with ETag `"v1"` and Last-Modified LM.
    fn case(name: &'static str, headers: &'static [(&'static str, &'static str)]) -> Case {
        Case {
            name,
            method: Method::GET,
            headers,
            exists: true,
            etag: Some("\"v1\""),
            last_modified: true,
            expected: GO,
        }
    }

    impl Case {
        fn method(mut self, m: Method) -> Self {
            self.method = m;
            self
        }
        fn missing(mut self) -> Self {
            self.exists = false;
            self
        }
        fn etag(mut self, e: Option<&'static str>) -> Self {
            self.etag = e;
            self
        }
        fn no_lm(mut self) -> Self {
            self.last_modified = false;
            self
        }
        fn gives(mut self, o: Outcome) -> Self {
            self.expected = o;
            self
        }
    }

    fn cases() -> Vec<Case> {
        let put = Method::PUT;
        vec![
            // No preconditions.
            case("none", &[]).gives(GO),
            case("none put", &[]).method(put.clone()).gives(GO),
            // Step 1: If-Match, strong comparison.
            case("IM match", &[("if-match", "\"v1\"")]).gives(GO),
            case("IM mismatch", &[("if-match", "\"v2\"")]).gives(PF),
            case("IM mismatch put", &[("if-match", "\"v2\"")])
                .method(put.clone())
                .gives(PF),
            case("IM list", &[("if-match", "\"a\", \"v1\"")]).gives(GO),
            case("IM lines", &[("if-match", "\"a\""), ("if-match", "\"v1\"")]).gives(GO),
            case("IM weak req", &[("if-match", "W/\"v1\"")]).gives(PF),
            case("IM weak cur", &[("if-match", "\"v1\"")])
                .etag(Some("W/\"v1\""))
                .gives(PF),
            case("IM star", &[("if-match", "*")]).gives(GO),
            case("IM star missing", &[("if-match", "*")])
                .missing()
                .method(put.clone())
                .gives(PF),
            case("IM tag missing", &[("if-match", "\"v1\"")])
                .missing()
                .gives(PF),
            case("IM no etag", &[("if-match", "\"v1\"")]).etag(None).gives(PF),
            case("IM star no etag", &[("if-match", "*")]).etag(None).gives(GO),
            case("IM garbage", &[("if-match", "v1")]).gives(PF),
            case("IM malformed member skipped", &[("if-match", "v2, \"v1\"")]).gives(GO),
            // Step 1 true wins over a failing If-Unmodified-Since (ignored).
            case(
                "IM ok, IUS ignored",
                &[("if-match", "\"v1\""), ("if-unmodified-since", BEFORE)],
            )
            .method(put.clone())
            .gives(GO),
            // Step 2: If-Unmodified-Since.
            case("IUS equal", &[("if-unmodified-since", LM)])
                .method(put.clone())
                .gives(GO),
            case("IUS later", &[("if-unmodified-since", AFTER)])
                .method(put.clone())
                .gives(GO),
            case("IUS earlier", &[("if-unmodified-since", BEFORE)])
                .method(put.clone())
                .gives(PF),
            case("IUS earlier GET", &[("if-unmodified-since", BEFORE)]).gives(PF),
            case("IUS garbage", &[("if-unmodified-since", "yesterday")])
                .method(put.clone())
                .gives(GO),
            case(
                "IUS two lines",
                &[("if-unmodified-since", BEFORE), ("if-unmodified-since", BEFORE)],
            )
            .method(put.clone())
            .gives(GO),
            case("IUS no lm", &[("if-unmodified-since", BEFORE)])
                .no_lm()
                .method(put.clone())
                .gives(GO),
            case("IUS asctime", &[("if-unmodified-since", BEFORE_ASCTIME)])
                .method(put.clone())
                .gives(PF),
            // Step 2 failure takes precedence over step 3.
            case(
                "IUS fail beats INM",
                &[("if-unmodified-since", BEFORE), ("if-none-match", "\"v1\"")],
            )
            .gives(PF),
            case(
                "IM fail beats INM",
                &[("if-match", "\"zz\""), ("if-none-match", "\"v1\"")],
            )
            .gives(PF),
            // Step 3: If-None-Match, weak comparison.
            case("INM match", &[("if-none-match", "\"v1\"")]).gives(NM),
            case("INM match HEAD", &[("if-none-match", "\"v1\"")])
                .method(Method::HEAD)
                .gives(NM),
            case("INM match PUT", &[("if-none-match", "\"v1\"")])
                .method(put.clone())
                .gives(PF),
            case("INM match POST", &[("if-none-match", "\"v1\"")])
                .method(Method::POST)
                .gives(PF),
            case("INM mismatch", &[("if-none-match", "\"v2\"")]).gives(GO),
            case("INM weak req", &[("if-none-match", "W/\"v1\"")]).gives(NM),
            case("INM weak cur", &[("if-none-match", "\"v1\"")])
                .etag(Some("W/\"v1\""))
                .gives(NM),
            case("INM list", &[("if-none-match", "\"a\", W/\"b\",\"v1\"")]).gives(NM),
            case(
                "INM lines",
                &[("if-none-match", "\"a\""), ("if-none-match", "W/\"v1\"")],
            )
            .gives(NM),
            case("INM comma in tag", &[("if-none-match", "\"v1,x\", \"y\"")]).gives(GO),
            case("INM comma in tag match", &[("if-none-match", "\"q\", \"a,b\"")])
                .etag(Some("\"a,b\""))
                .gives(NM),
            case("INM star", &[("if-none-match", "*")]).gives(NM),
            case("INM star PUT", &[("if-none-match", "*")])
                .method(put.clone())
                .gives(PF),
            case("INM star missing PUT", &[("if-none-match", "*")])
                .missing()
                .method(put.clone())
                .gives(GO),
            case("INM tag missing", &[("if-none-match", "\"v1\"")])
                .missing()
                .gives(GO),
            case("INM no etag", &[("if-none-match", "\"v1\"")])
                .etag(None)
                .gives(GO),
            case(
                "INM malformed member",
                &[("if-none-match", "v1, w/\"v1\", \"v1\"")],
            )
            .gives(NM),
            case("INM lower w/ only", &[("if-none-match", "w/\"v1\"")]).gives(GO),
            // INM present: If-Modified-Since is ignored, even if it would 304.
            case(
                "INM mismatch ignores IMS",
                &[("if-none-match", "\"v2\""), ("if-modified-since", AFTER)],
            )
            .gives(GO),
            // Entirely unparseable INM matches nothing, and still disables IMS
            // (RFC 9110 §13.1.3): the full representation, never a 304.
            case(
                "INM garbage ignores IMS",
                &[("if-none-match", "garbage"), ("if-modified-since", LM)],
            )
            .gives(GO),
            case(
                "INM bare W/ ignores IMS",
                &[("if-none-match", "W/"), ("if-modified-since", LM)],
            )
            .gives(GO),
            case(
                "INM unterminated ignores IMS",
                &[("if-none-match", "\"v1"), ("if-modified-since", LM)],
            )
            .gives(GO),
            case(
                "INM empty ignores IMS",
                &[("if-none-match", ""), ("if-modified-since", AFTER)],
            )
            .gives(GO),
            case("INM commas only", &[("if-none-match", " , ,")]).gives(GO),
            case("INM garbage alone", &[("if-none-match", "\"unterminated")]).gives(GO),
            case("INM garbage PUT", &[("if-none-match", "garbage")])
                .method(put.clone())
                .gives(GO),
            // Step 1 true, then step 3.
            case(
                "IM ok, INM match",
                &[("if-match", "\"v1\""), ("if-none-match", "\"v1\"")],
            )
            .gives(NM),
            case(
                "IUS ok, IMS not modified",
                &[("if-unmodified-since", LM), ("if-modified-since", LM)],
            )
            .gives(NM),
            // Step 4: If-Modified-Since.
            case("IMS equal", &[("if-modified-since", LM)]).gives(NM),
            case("IMS later", &[("if-modified-since", AFTER)]).gives(NM),
            case("IMS earlier", &[("if-modified-since", BEFORE)]).gives(GO),
            case("IMS HEAD", &[("if-modified-since", LM)])
                .method(Method::HEAD)
                .gives(NM),
            case("IMS rfc850", &[("if-modified-since", LM_RFC850)]).gives(NM),
            case("IMS asctime", &[("if-modified-since", LM_ASCTIME)]).gives(NM),
            case("IMS garbage", &[("if-modified-since", "Tue, 14 Nov 2023")]).gives(GO),
            case(
                "IMS two lines",
                &[("if-modified-since", LM), ("if-modified-since", LM)],
            )
            .gives(GO),
            case("IMS no lm", &[("if-modified-since", LM)]).no_lm().gives(GO),
            case("IMS missing", &[("if-modified-since", LM)])
                .missing()
                .gives(GO),
            case("IMS ignored for PUT", &[("if-modified-since", AFTER)])
                .method(put.clone())
                .gives(GO),
            case("IMS ignored for POST", &[("if-modified-since", AFTER)])
                .method(Method::POST)
                .gives(GO),
        ]
    }

    #[test]
    fn evaluate_table() {
        assert_eq!(http_date(lm()), LM, "fixture sanity");
        let cases = cases();
        assert!(cases.len() >= 25);
        for c in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in c.headers {
                headers.append(*name, HeaderValue::from_static(value));
            }
            let etag = c.etag.map(|e| EntityTag::parse(e).unwrap());
            let current = Validators {
                etag: etag.as_ref(),
                last_modified: c.last_modified.then(lm),
            };
            assert_eq!(
                evaluate(&c.method, &headers, c.exists, &current),
                c.expected,
                "case {:?}: {} {:?}",
                c.name,
                c.method,
                c.headers
            );
        }
    }

    #[test]
    fn non_utf8_line_is_skipped() {
        let mut headers = HeaderMap::new();
        headers.append(IF_NONE_MATCH, HeaderValue::from_bytes(b"\"\xff\"").unwrap());
        headers.append(IF_NONE_MATCH, HeaderValue::from_static("\"v1\""));
        let etag = EntityTag::strong("v1");
        let current = Validators {
            etag: Some(&etag),
            last_modified: None,
        };
        assert_eq!(evaluate(&Method::GET, &headers, true, &current), NM);
    }

    #[test]
    fn parse_entity_tags() {
        let ok = |weak, tag: &str| {
            Some(EntityTag {
                weak,
                tag: tag.to_owned(),
            })
        };
        let cases = [
            ("\"abc\"", ok(false, "abc")),
            ("W/\"abc\"", ok(true, "abc")),
            ("  \"abc\"\t", ok(false, "abc")),
            ("\"\"", ok(false, "")),
            ("W/\"\"", ok(true, "")),
            ("\"a,b\"", ok(false, "a,b")),
            ("\"ü\"", ok(false, "ü")),
            ("abc", None),
            ("\"abc", None),
            ("abc\"", None),
            ("\"", None),
            ("w/\"abc\"", None),
            ("W/abc", None),
            ("W/ \"abc\"", None),
            ("\"a\"b\"", None),
            ("\"a b\"", None),
            ("\"a\tb\"", None),
            ("*", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(EntityTag::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn comparison_functions() {
        // RFC 9110 §8.8.3.2 table.
        let w1 = EntityTag::parse("W/\"1\"").unwrap();
        let w2 = EntityTag::parse("W/\"2\"").unwrap();
        let s1 = EntityTag::strong("1");
        let cases = [
            (&w1, &w1, false, true),
            (&w1, &w2, false, false),
            (&w1, &s1, false, true),
            (&s1, &s1, true, true),
        ];
        for (a, b, strong, weak) in cases {
            assert_eq!(a.strong_eq(b), strong, "{a} strong {b}");
            assert_eq!(b.strong_eq(a), strong, "{b} strong {a}");
            assert_eq!(a.weak_eq(b), weak, "{a} weak {b}");
            assert_eq!(b.weak_eq(a), weak, "{b} weak {a}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["\"abc\"", "W/\"abc\"", "\"\"", "\"gz-1f3a\""] {
            let tag = EntityTag::parse(text).unwrap();
            assert_eq!(tag.to_string(), text);
            assert_eq!(EntityTag::parse(&tag.to_string()), Some(tag));
        }
        assert_eq!(EntityTag::strong("x").to_string(), "\"x\"");
    }

    #[test]
    fn http_date_formats_and_clamps() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH - Duration::from_secs(10)),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(300_000_000_000)),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
        assert_eq!(
            httpdate::parse_http_date(&http_date(lm())).ok(),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    #[test]
    fn unix_seconds_floors() {
        assert_eq!(unix_seconds(lm()), 1_700_000_000);
        assert_eq!(unix_seconds(UNIX_EPOCH), 0);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }
}
