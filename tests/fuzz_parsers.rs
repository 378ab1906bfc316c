//! Property tests for the pure parsers (issue 9), through the library's public API:
//!
//! - feed queries (`FeedQuery::parse`, `canonical`): no panic on any input; every refusal says
//!   why; parse → canonical → parse is stable, also for the paging links built from a query;
//! - paging cursors: no panic decoding anything; what decodes re-encodes to a cursor that
//!   decodes to the same position;
//! - conditional requests (`EntityTag`, `evaluate`): no panic on any header bytes; a parsed tag
//!   prints and parses back to itself; RFC 9110 §13.1.3: with `If-None-Match` present,
//!   `If-Modified-Since` does not change the outcome (hole 10);
//! - article validation (`ArticleInput::from_json`): no panic on any JSON; a refusal lists at
//!   least one field error, each with a reason (hole 4); `null` in a required field is refused
//!   naming it (hole 3); an accepted article, written back as input, validates to itself.
//!
//! Seeded (fixed seed, ChaCha), no failure persistence: every run tries the same cases;
//! `LENTA_FUZZ_SEED` and `LENTA_FUZZ_SCALE` explore further, as in tests/fuzz_http.rs.

mod fuzz_support;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuzz_support::{remove_pointer, set_pointer, POINTERS, REQUIRED};
use http::{HeaderMap, HeaderValue, Method};
use lenta::http::conditional::{evaluate, EntityTag, Validators};
use lenta::model::{ArticleInput, ExternalId, NewArticle};
use lenta::query::{Cursor, FeedQuery, QueryContext, Sort};
use lenta::regions::RegionDirectory;
use lenta::store::keys::Position;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use serde_json::{json, Value};

/// `cases` (times `LENTA_FUZZ_SCALE`) with a fixed seed (or one hashed from `LENTA_FUZZ_SEED`).
fn config(cases: u32) -> Config {
    let seed = u64::from_le_bytes(fuzz_support::seed()[..8].try_into().expect("8 bytes"));
    Config {
        cases: fuzz_support::scaled(cases),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

// ------------------------------------------------------------------------------------------
// Feed queries and cursors.

/// The built-in region directory, built once.
fn regions() -> &'static RegionDirectory {
    static DIR: OnceLock<RegionDirectory> = OnceLock::new();
    DIR.get_or_init(RegionDirectory::builtin)
}

fn parse(raw: &str, path_region: Option<&str>) -> Result<FeedQuery, Vec<lenta::model::FieldError>> {
    FeedQuery::parse(
        Some(raw),
        path_region,
        QueryContext {
            regions: regions(),
            tz: chrono_tz::Europe::Moscow,
        },
    )
}

/// Pieces query strings are made of: real parameters and values, edge cases, junk.
fn query_string() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &[
        "region", "category", "from", "to", "limit", "before", "after", "", "foo", "region[]", "sort",
        "period",
    ];
    const VALUES: &[&str] = &[
        "RU-NIZ",
        "ru-mow",
        "RU-NIZ,RU-MOW",
        "%20RU-SPE%20",
        "",
        ",",
        "XX-YY",
        "Власть",
        "%D0%92%D0%BB%D0%B0%D1%81%D1%82%D1%8C",
        "cat%2Ccomma",
        "a,,b",
        "İ",
        "ß",
        "ǅ",
        "%C4%B0",
        "2024-06-01",
        "2024-02-30",
        "0000-01-01",
        "9999-12-31",
        "+10000-01-01",
        "-0001-01-01",
        "+2024-06-01",
        "2024-05-17T09:00:00+03:00",
        "2024-05-17T09:00:00%2B03:00",
        "2024-06-30T23:59:60Z",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00%2B23:59",
        "2024-05-17T09:00:00.123456789Z",
        "1",
        "500",
        "501",
        "0",
        "-1",
        "%FF",
        "%",
        "+",
        "00000000000000000000000000000000",
        "ffffffffffffffffffffffffffffffff",
        "80000000000000010000000000000002",
        "8000000000000001000000000000000G",
        "popular",
        "newest",
        "24h",
        "7d",
        "30d",
        "36h",
        "0h",
        "1y",
        "721h",
    ];
    let pair = prop_oneof![
        4 => (prop::sample::select(KEYS), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("{k}={v}")),
        1 => (prop::sample::select(KEYS), any::<[u8; 16]>())
            .prop_map(|(k, b)| format!("{k}={}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
        1 => any::<String>(),
        1 => "[a-z=&%+,0-9A-F-]{0,24}",
    ];
    prop::collection::vec(pair, 0..6).prop_map(|pairs| pairs.join("&"))
}

proptest! {
    #![proptest_config(config(3000))]

    /// No input panics; a refusal names at least one parameter problem, each with a reason.
    #[test]
    fn query_parse_never_panics(raw in prop_oneof![query_string(), any::<String>()],
                                region in prop::option::of(prop_oneof![Just("RU-NIZ".to_string()), any::<String>()])) {
        match parse(&raw, region.as_deref()) {
            Ok(_) => {}
            Err(errors) => {
                prop_assert!(!errors.is_empty(), "refused {raw:?} without saying why");
                for e in &errors {
                    prop_assert!(!e.reason.trim().is_empty(), "no reason for {:?} in {raw:?}", e.field);
                }
            }
        }
    }

    /// parse → canonical → parse is stable (the self link of a feed is a fixed point), and the
    /// canonical form parses to the same query.
    #[test]
    fn query_canonical_is_stable(raw in query_string(), region in prop::option::of(prop::sample::select(vec!["RU-NIZ", "ru-mow", "XX"]))) {
        if let Ok(q) = parse(&raw, region) {
            let canonical = q.canonical();
            let again = parse(&canonical, None);
            prop_assert!(again.is_ok(), "canonical {canonical:?} of {raw:?} is refused: {again:?}");
            let again = again.unwrap();
            prop_assert_eq!(&again.canonical(), &canonical, "from {:?}", raw);
            prop_assert_eq!(&again, &q, "canonical {:?} of {:?} means another query", canonical, raw);
        }
    }

    /// The paging links built from a valid query parse back to the same position. Only a
    /// timeline has pages: a ranking (`sort=popular`) refuses cursors and its pages never link
    /// one (its page has no `next`/`previous`, see `tests/popular.rs`).
    #[test]
    fn paging_links_are_stable(raw in query_string(), micros in any::<i64>(), id in any::<u64>()) {
        if let Some(q) = parse(&raw, None).ok().filter(|q| q.sort == Sort::Newest) {
            let pos = Position { micros, id };
            for (page, before) in [(q.next_page(pos), true), (q.previous_page(pos), false)] {
                let canonical = page.canonical();
                let again = parse(&canonical, None);
                prop_assert!(again.is_ok(), "paging link {canonical:?} is refused: {again:?}");
                let again = again.unwrap();
                let cursor = if before { again.before } else { again.after };
                prop_assert_eq!(cursor, Some(Cursor(pos)));
                prop_assert_eq!(again.canonical(), canonical);
            }
            let first = q.first_page().canonical();
            prop_assert!(parse(&first, None).is_ok(), "first-page link {first:?} is refused");
        }
    }

    /// Decoding never panics; what decodes re-encodes (lower-case) to the same position.
    #[test]
    fn cursor_decode_is_stable(s in prop_oneof![
        any::<String>(),
        "[0-9a-fA-F]{30,34}",
        any::<[u8; 16]>().prop_map(|b| b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
    ]) {
        if let Some(c) = Cursor::decode(&s) {
            let encoded = c.encode();
            prop_assert_eq!(Cursor::decode(&encoded), Some(c));
            prop_assert_eq!(encoded, s.to_ascii_lowercase());
        }
    }

    /// Every position round-trips.
    #[test]
    fn cursor_round_trips(micros in any::<i64>(), id in any::<u64>()) {
        let c = Cursor(Position { micros, id });
        prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }
}

// ------------------------------------------------------------------------------------------
// Conditional requests.

/// 2023-11-14T22:13:20Z, the representation's Last-Modified in these properties.
const LM_SECS: u64 = 1_700_000_000;

fn header_text() -> impl Strategy<Value = Vec<u8>> {
    const PIECES: &[&str] = &[
        "\"v1\"",
        "W/\"v1\"",
        "w/\"v1\"",
        "\"v2\"",
        "*",
        ",",
        " ",
        "\t",
        "\"",
        "W/",
        "garbage",
        "\"unterminated",
        "\"a,b\"",
        "\"ü\"",
        "\"\"",
        "Tue, 14 Nov 2023 22:13:20 GMT",
        "Tue, 14 Nov 2023 22:13:19 GMT",
        "Tue Nov 14 22:13:20 2023",
        "Tuesday, 14-Nov-23 22:13:20 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "yesterday",
    ];
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PIECES), 0..5).prop_map(|v| v.concat().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

/// `bytes` with what no header value may hold (controls other than tab, DEL) replaced by `?`,
/// so that every generated case is one a client could send (filtering instead rejected too
/// many cases for proptest).
fn sendable(bytes: Vec<u8>) -> Vec<u8> {
    bytes
        .into_iter()
        .map(|b| {
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                b'?'
            } else {
                b
            }
        })
        .collect()
}

const CONDITIONALS: &[&str] = &[
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

fn headers(lines: &[(&'static str, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.append(*name, v);
        }
    }
    map
}

proptest! {
    #![proptest_config(config(3000))]

    /// A tag that parses prints as header text that parses to itself.
    #[test]
    fn entity_tag_round_trips(s in prop_oneof![any::<String>(), header_text().prop_map(|b| String::from_utf8_lossy(&b).into_owned())]) {
        if let Some(tag) = EntityTag::parse(&s) {
            prop_assert_eq!(EntityTag::parse(&tag.to_string()), Some(tag));
        }
    }

    /// Any header lines, any method, any state: an outcome, never a panic.
    #[test]
    fn evaluate_never_panics(lines in prop::collection::vec((prop::sample::select(CONDITIONALS), header_text()), 0..5),
                             method in prop::sample::select(vec![Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE]),
                             exists in any::<bool>(), has_tag in any::<bool>(), has_lm in any::<bool>()) {
        let etag = EntityTag::strong("v1");
        let current = Validators {
            etag: has_tag.then_some(&etag),
            last_modified: has_lm.then(|| UNIX_EPOCH + Duration::from_secs(LM_SECS)),
        };
        let _ = evaluate(&method, &headers(&lines), exists, &current);
    }

    /// RFC 9110 §13.1.3: "A recipient MUST ignore If-Modified-Since if the request contains an
    /// If-None-Match header field" — whatever that field holds (an unparsable list matches
    /// nothing; it does not fall back to the date).
    #[test]
    fn if_none_match_present_ignores_if_modified_since(inm in header_text().prop_map(sendable), ims in header_text().prop_map(sendable),
                                                       method in prop::sample::select(vec![Method::GET, Method::HEAD])) {
        let etag = EntityTag::strong("v1");
        let current = Validators {
            etag: Some(&etag),
            last_modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(LM_SECS)),
        };
        let with = evaluate(&method, &headers(&[("if-none-match", inm.clone()), ("if-modified-since", ims.clone())]), true, &current);
        let without = evaluate(&method, &headers(&[("if-none-match", inm.clone())]), true, &current);
        prop_assert_eq!(with, without, "If-None-Match {:?} with If-Modified-Since {:?}",
                        String::from_utf8_lossy(&inm), String::from_utf8_lossy(&ims));
    }
}

// ------------------------------------------------------------------------------------------
// Article validation.

/// The shared valid article, in two regions (one spelt in lower case).
fn article() -> Value {
    let mut v = fuzz_support::article("p-1");
    v["regions"] = json!(["RU-NIZ", "ru-mow"]);
    v
}

fn text_value() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "",
        " ",
        "\u{0}",
        "\u{b}",
        "\u{85}",
        "\u{200b}",
        "\u{feff}",
        "\u{fffe}",
        "\u{1f600}",
        "e\u{301}",
        "й",
        "<p>",
        "</p>",
        "<script>x</script>",
        "<a href=\"javascript:x\">l</a>",
        "<img src=x onerror=y>",
        "&amp;",
        "&",
        "<",
        "]]>",
        "<!--",
        "<b><i>",
        "</b>",
        "<table><td>",
        "https://x.ru/",
        "http://",
        "a b",
        "image/",
        "png",
        "RU-NIZ",
        "2024-05-17T09:00:00",
        "+03:00",
        "Z",
        "9999-12-31T23:59:59Z",
        "2024-06-30T23:59:60Z",
        "0000-01-01T00:00:00Z",
    ];
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text_value().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid article with up to three fields replaced or removed.
fn mutated_article() -> impl Strategy<Value = (Value, Vec<(&'static str, Option<Value>)>)> {
    let value = prop_oneof![3 => json_value(), 1 => Just(Value::Null)];
    prop::collection::vec(
        (
            prop::sample::select(POINTERS),
            prop::option::weighted(0.85, value),
        ),
        0..4,
    )
    .prop_map(|muts| {
        let mut v = article();
        for (p, new) in &muts {
            match new {
                Some(new) => set_pointer(&mut v, p, new.clone()),
                None => remove_pointer(&mut v, p),
            }
        }
        (v, muts)
    })
}

/// An accepted article written back as publisher input.
fn as_input(a: &NewArticle) -> Value {
    let mut v = json!({
        "external_id": a.external_id,
        "title": a.title,
        "published_at": a.published_at.to_rfc3339(),
        "regions": a.regions.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "categories": a.categories,
        "sources": a.sources,
    });
    let o = v.as_object_mut().expect("object");
    let optional = [
        ("summary", a.summary.clone().map(Value::from)),
        ("content_html", a.content_html.clone().map(Value::from)),
        ("link", a.link.clone().map(Value::from)),
        ("modified_at", a.modified_at.map(|m| Value::from(m.to_rfc3339()))),
        ("author", a.author.clone().map(Value::from)),
        (
            "image",
            a.image.as_ref().map(|i| serde_json::to_value(i).expect("image")),
        ),
        ("views", a.views.map(Value::from)),
    ];
    for (k, value) in optional {
        if let Some(value) = value {
            o.insert(k.to_string(), value);
        }
    }
    v
}

proptest! {
    #![proptest_config(config(2000))]

    /// Any JSON and any mutation of a valid article: accepted, or refused listing at least one
    /// field, each with a reason (hole 4: `"title": null` is refused with no error at all).
    #[test]
    fn article_validation_explains_every_refusal(input in prop_oneof![3 => mutated_article().prop_map(|(v, _)| v), 1 => json_value()],
                                                 optional in any::<bool>()) {
        let dir = regions();
        let mode = if optional { ExternalId::Optional } else { ExternalId::Required };
        if let Err(errors) = ArticleInput::from_json(&input, dir, mode) {
            prop_assert!(!errors.is_empty(), "refused without a single field error: {input}");
            for e in &errors {
                prop_assert!(!e.reason.trim().is_empty(), "no reason for {:?}: {input}", e.field);
            }
        }
    }

    /// An accepted article, sent back as it was stored, validates to the same article
    /// (validation → canonical form → validation is stable).
    #[test]
    fn accepted_articles_are_stable((input, _) in mutated_article()) {
        let dir = regions();
        if let Ok(a) = ArticleInput::from_json(&input, dir, ExternalId::Required) {
            let again = ArticleInput::from_json(&as_input(&a), dir, ExternalId::Required);
            prop_assert_eq!(again.as_ref(), Ok(&a), "input {}", input);
        }
    }
}

/// Hole 3: `null` in a required field is refused like a missing field, naming it (every
/// required field, each reported).
#[test]
fn null_counts_as_missing() {
    let mut wrong = Vec::new();
    for field in REQUIRED {
        let mut input = article();
        input[*field] = Value::Null;
        let result = ArticleInput::from_json(&input, regions(), ExternalId::Required);
        if !result
            .as_ref()
            .is_err_and(|errors| errors.iter().any(|e| e.field == *field))
        {
            wrong.push(format!("{field}: null gave {result:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "null accepted or refused without naming the field:\n{}",
        wrong.join("\n")
    );
}
