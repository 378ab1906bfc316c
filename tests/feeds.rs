//! The feeds end to end (issue 2, "Foundation"): region filters, inclusive date bounds in the
//! portal time zone, paging with `before`, the fixtures through RSS, Atom and JSON Feed, bad
//! queries, empty feeds and content types — against the real server, parsed with the independent
//! feed-rs crate and checked for well-formedness with roxmltree.
//!
//! Expected results are computed from the imported NDJSON itself (regions, instants) joined with
//! the ids the server assigned, never from the feed code under test.

mod common;

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use common::TestServer;
use serde_json::{json, Value};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const REGION_SCHEME: &str = "urn:lenta:region";

/// The three feed syntaxes, as the tests address them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fmt {
    Rss,
    Atom,
    Json,
}

const FORMATS: [Fmt; 3] = [Fmt::Rss, Fmt::Atom, Fmt::Json];

impl Fmt {
    fn ext(self) -> &'static str {
        match self {
            Fmt::Rss => "rss",
            Fmt::Atom => "atom",
            Fmt::Json => "json",
        }
    }

    /// Exactly what DESIGN.md prescribes.
    fn content_type(self) -> &'static str {
        match self {
            Fmt::Rss => "application/rss+xml; charset=utf-8",
            Fmt::Atom => "application/atom+xml; charset=utf-8",
            Fmt::Json => "application/feed+json",
        }
    }
}

/// An imported article as the tests expect to see it: the input plus the id the server gave it.
#[derive(Clone, Debug)]
struct Known {
    id: u64,
    feed_id: String,
    external_id: String,
    published: DateTime<FixedOffset>,
    regions: Vec<String>,
    has_image: bool,
}

/// One NDJSON line of a hand-made article.
fn article(external_id: &str, published_at: &str, regions: &[&str]) -> String {
    let v = json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "summary": "Короткий анонс.",
        "published_at": published_at,
        "regions": regions,
    });
    format!("{v}\n")
}

/// Every stored article by external_id, `(id, feed_id)`, read through `/api/articles` (the
/// all-regions index, not the per-region one the region feeds use), page by page.
async fn stored_ids(server: &TestServer) -> HashMap<String, (u64, String)> {
    let mut out = HashMap::new();
    let mut url = server.url("/api/articles?limit=500");
    for _ in 0..1000 {
        let res = server.client.get(&url).send().await.expect("GET");
        assert_eq!(res.status(), 200, "{url}");
        let v: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON");
        for item in v["items"].as_array().expect("items") {
            let ext = item["external_id"].as_str().expect("external_id").to_string();
            let id = item["id"].as_u64().expect("id");
            let feed_id = item["feed_id"].as_str().expect("feed_id").to_string();
            assert!(
                out.insert(ext.clone(), (id, feed_id)).is_none(),
                "{ext} listed twice"
            );
        }
        match v["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => return out,
        }
    }
    panic!("/api/articles paging did not end");
}

/// Joins the imported NDJSON with the stored ids, keyed by feed id. Lines the server refused
/// (absent from the store) are left out.
async fn known(server: &TestServer, ndjson: &str) -> HashMap<String, Known> {
    let ids = stored_ids(server).await;
    let mut out = HashMap::new();
    for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("NDJSON line");
        let external_id = v["external_id"].as_str().expect("external_id").to_string();
        let Some((id, feed_id)) = ids.get(&external_id).cloned() else {
            continue;
        };
        let mut regions: Vec<String> = v["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .map(|r| r.as_str().expect("region").to_uppercase())
            .collect();
        regions.sort();
        regions.dedup();
        let published = DateTime::parse_from_rfc3339(v["published_at"].as_str().expect("published_at"))
            .expect("RFC 3339");
        let k = Known {
            id,
            feed_id: feed_id.clone(),
            external_id,
            published,
            regions,
            has_image: v.get("image").is_some(),
        };
        out.insert(feed_id, k);
    }
    out
}

/// Feed ids of `articles` in feed order: newest instant first, ties by id descending.
fn feed_order<'a>(articles: impl IntoIterator<Item = &'a Known>) -> Vec<String> {
    let mut v: Vec<&Known> = articles.into_iter().collect();
    v.sort_by_key(|k| (Reverse(k.published.timestamp_micros()), Reverse(k.id)));
    v.into_iter().map(|k| k.feed_id.clone()).collect()
}

/// The articles of `known` in any of `regions`.
fn in_regions<'a>(known: &'a HashMap<String, Known>, regions: &[&str]) -> Vec<&'a Known> {
    known
        .values()
        .filter(|k| k.regions.iter().any(|r| regions.contains(&r.as_str())))
        .collect()
}

/// GET `url`, asserting 200 and the exact content type of `fmt`.
async fn fetch(server: &TestServer, url: &str, fmt: Fmt) -> String {
    let res = server.client.get(url).send().await.expect("GET");
    assert_eq!(res.status(), 200, "{url}");
    assert_eq!(res.headers()["content-type"], fmt.content_type(), "{url}");
    res.text().await.expect("body")
}

/// One feed page as a client sees it.
struct FeedPage {
    ids: Vec<String>,
    next: Option<String>,
    /// RFC 5005 `previous` (newer items); RSS and Atom only, JSON Feed has no such field.
    previous: Option<String>,
    body: String,
}

/// The element children of `node` named `name` in namespace `ns` (None = no namespace).
fn children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: Option<&'a str>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == ns)
}

/// The `href` of the single Atom link with `rel` among `node`'s children, if any.
fn rel_link(node: roxmltree::Node, rel: &str) -> Option<String> {
    let links: Vec<String> = children(node, Some(ATOM_NS), "link")
        .filter(|l| l.attribute("rel") == Some(rel))
        .map(|l| l.attribute("href").expect("href").to_string())
        .collect();
    assert!(links.len() <= 1, "more than one rel={rel}: {links:?}");
    links.into_iter().next()
}

/// Parses a page: XML strictly (roxmltree) and with feed-rs; JSON with serde_json. The next link
/// is read from the markup and cross-checked against feed-rs.
fn parse_page(fmt: Fmt, body: String) -> FeedPage {
    let (ids, next, previous) = match fmt {
        Fmt::Json => {
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON Feed: {e}\n{body}"));
            assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
            let ids = v["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["id"].as_str().expect("item id").to_string())
                .collect();
            (ids, v["next_url"].as_str().map(str::to_string), None)
        }
        Fmt::Rss | Fmt::Atom => {
            let doc = common::strict_xml(&body);
            let root = doc.root_element();
            let parent = match fmt {
                Fmt::Rss => {
                    assert_eq!(root.tag_name().name(), "rss");
                    children(root, None, "channel").next().expect("channel")
                }
                _ => {
                    assert!(root.has_tag_name((ATOM_NS, "feed")));
                    root
                }
            };
            let (next, previous) = (rel_link(parent, "next"), rel_link(parent, "previous"));
            let feed =
                feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("feed-rs: {e}\n{body}"));
            let rs_next = feed
                .links
                .iter()
                .find(|l| l.rel.as_deref() == Some("next"))
                .map(|l| l.href.clone());
            assert_eq!(rs_next, next, "feed-rs and roxmltree disagree on rel=next");
            (
                feed.entries.iter().map(|e| e.id.clone()).collect(),
                next,
                previous,
            )
        }
    };
    FeedPage {
        ids,
        next,
        previous,
        body,
    }
}

/// Follows `rel="next"` from `path` until it is absent; every page, in order.
async fn walk(server: &TestServer, fmt: Fmt, path: &str) -> Vec<FeedPage> {
    let mut url = server.url(path);
    let mut pages = Vec::new();
    for _ in 0..1000 {
        let page = parse_page(fmt, fetch(server, &url, fmt).await);
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(next) => {
                assert!(
                    next.starts_with(&server.base),
                    "next link {next} leaves the server"
                );
                url = next;
            }
            None => return pages,
        }
    }
    panic!("paging {path} did not end");
}

/// All item ids of a query, following `next` links, in one format.
async fn walk_ids(server: &TestServer, fmt: Fmt, path: &str) -> Vec<String> {
    walk(server, fmt, path)
        .await
        .into_iter()
        .flat_map(|p| p.ids)
        .collect()
}

/// The item ids of `query` on `/feed.{ext}`, which must be the same in all three formats.
async fn ids_everywhere(server: &TestServer, query: &str) -> Vec<String> {
    let json = walk_ids(server, Fmt::Json, &format!("/feed.json?{query}")).await;
    for fmt in [Fmt::Rss, Fmt::Atom] {
        let ids = walk_ids(server, fmt, &format!("/feed.{}?{query}", fmt.ext())).await;
        assert_eq!(ids, json, "{fmt:?} and JSON Feed disagree on ?{query}");
    }
    json
}

/// Checks every RSS item against what was imported: the guid is the stable tag URI with
/// `isPermaLink="false"`; `pubDate` is RFC 2822 with the article's own numeric offset (never
/// "UTC"/"GMT", which RFC 2822 §4.3 obsoletes and several readers misparse); at most one
/// enclosure (the RSS Advisory Board's recommendation), present exactly when there is an image.
/// Returns how many items it checked, so that callers can tell it did not pass vacuously.
fn check_rss_items(body: &str, known: &HashMap<String, Known>) -> usize {
    let doc = common::strict_xml(body);
    let channel = children(doc.root_element(), None, "channel")
        .next()
        .expect("channel");
    let mut checked = 0;
    for item in children(channel, None, "item") {
        checked += 1;
        let guids: Vec<_> = children(item, None, "guid").collect();
        assert_eq!(guids.len(), 1, "one guid per item");
        assert_eq!(
            guids[0].attribute("isPermaLink"),
            Some("false"),
            "guid is a tag URI, not a URL"
        );
        let id = guids[0].text().expect("guid text");
        let k = known.get(id).unwrap_or_else(|| panic!("unknown guid {id}"));
        let pub_date = children(item, None, "pubDate")
            .next()
            .and_then(|n| n.text())
            .expect("pubDate");
        assert!(
            !pub_date.contains("UTC") && !pub_date.contains("GMT"),
            "{pub_date}"
        );
        assert!(
            pub_date.ends_with(&k.published.format(" %z").to_string()),
            "{pub_date} does not carry the offset of {}",
            k.published
        );
        let parsed = DateTime::parse_from_rfc2822(pub_date).unwrap_or_else(|e| panic!("{pub_date}: {e}"));
        assert_eq!(parsed, k.published, "{pub_date}");
        assert_eq!(parsed.offset(), k.published.offset(), "{pub_date}");
        let enclosures = children(item, None, "enclosure").count();
        assert_eq!(
            enclosures,
            usize::from(k.has_image),
            "enclosures of {}",
            k.external_id
        );
    }
    checked
}

/// Checks that every Atom entry and JSON Feed item has one enclosure exactly when the article
/// has an image (Atom `link rel="enclosure"`, JSON Feed `attachments`); returns the items seen.
fn check_enclosures(fmt: Fmt, body: &str, known: &HashMap<String, Known>) -> usize {
    let mut checked = 0;
    match fmt {
        Fmt::Rss => return check_rss_items(body, known),
        Fmt::Atom => {
            let doc = common::strict_xml(body);
            for entry in children(doc.root_element(), Some(ATOM_NS), "entry") {
                checked += 1;
                let id = children(entry, Some(ATOM_NS), "id")
                    .next()
                    .and_then(|n| n.text())
                    .expect("id");
                let enclosures = children(entry, Some(ATOM_NS), "link")
                    .filter(|l| l.attribute("rel") == Some("enclosure"));
                assert_eq!(
                    enclosures.count(),
                    usize::from(known[id].has_image),
                    "Atom enclosures of {id}"
                );
            }
        }
        Fmt::Json => {
            let v: Value = serde_json::from_str(body).expect("JSON");
            for item in v["items"].as_array().expect("items") {
                checked += 1;
                let id = item["id"].as_str().expect("id");
                let attachments = item
                    .get("attachments")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                assert_eq!(
                    attachments,
                    usize::from(known[id].has_image),
                    "JSON attachments of {id}"
                );
            }
        }
    }
    checked
}

#[tokio::test]
async fn region_feeds_hold_exactly_their_regions_newest_first() {
    let server = TestServer::start().await;
    // The generated corpus almost never puts one article in both RU-NIZ and RU-MOW, so add
    // some, published at the same instant (in different offsets) as single-region ones, so
    // that deduplication and the tie-break by id are both exercised.
    let mut ndjson = common::corpus(1500, 7);
    ndjson.push_str(&article(
        "both-1",
        "2024-02-10T10:00:00+03:00",
        &["RU-NIZ", "RU-MOW"],
    ));
    ndjson.push_str(&article("niz-tie", "2024-02-10T12:00:00+05:00", &["ru-niz"]));
    ndjson.push_str(&article("both-2", "2024-02-10T07:00:00Z", &["RU-MOW", "RU-NIZ"]));
    ndjson.push_str(&article("mow-tie", "2024-02-10T07:00:00+00:00", &["RU-MOW"]));
    ndjson.push_str(&article(
        "both-3",
        "2023-01-01T00:00:00+03:00",
        &["RU-MOW", "RU-NIZ", "RU-SPE"],
    ));
    let report = server.import(&ndjson);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.created, 1505);
    let known = known(&server, &ndjson).await;
    assert_eq!(known.len(), 1505);

    let niz = feed_order(in_regions(&known, &["RU-NIZ"]));
    assert!(
        niz.len() > 15,
        "the corpus should give RU-NIZ a fair number of articles: {}",
        niz.len()
    );

    // Atom: every entry carries the region category RU-NIZ (scheme urn:lenta:region).
    let atom = parse_page(
        Fmt::Atom,
        fetch(
            &server,
            &server.url("/regions/RU-NIZ/feed.atom?limit=500"),
            Fmt::Atom,
        )
        .await,
    );
    assert_eq!(atom.ids, niz);
    let feed = feed_rs::parser::parse(atom.body.as_bytes()).expect("feed-rs");
    for entry in &feed.entries {
        let regions: Vec<&str> = entry
            .categories
            .iter()
            .filter(|c| c.scheme.as_deref() == Some(REGION_SCHEME))
            .map(|c| c.term.as_str())
            .collect();
        assert!(
            regions.contains(&"RU-NIZ"),
            "{} has region categories {regions:?}",
            entry.id
        );
        assert_eq!(regions.len(), known[&entry.id].regions.len(), "{}", entry.id);
    }

    // JSON Feed: `_lenta.regions` of every item contains RU-NIZ and is the article's regions.
    let pages = walk(&server, Fmt::Json, "/feed.json?region=RU-NIZ").await;
    let mut ids = Vec::new();
    for page in &pages {
        let v: Value = serde_json::from_str(&page.body).expect("JSON");
        for item in v["items"].as_array().expect("items") {
            let id = item["id"].as_str().expect("id");
            let regions: Vec<&str> = item["_lenta"]["regions"]
                .as_array()
                .expect("_lenta.regions")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(regions.contains(&"RU-NIZ"), "{id}: {regions:?}");
            assert_eq!(regions, known[id].regions, "{id}");
            ids.push(id.to_string());
        }
    }
    assert_eq!(ids, niz);

    // Two regions: the union, newest first, each article once.
    let union = feed_order(in_regions(&known, &["RU-NIZ", "RU-MOW"]));
    let in_both = union.iter().filter(|id| {
        let r = &known[*id].regions;
        r.contains(&"RU-NIZ".to_string()) && r.contains(&"RU-MOW".to_string())
    });
    assert_eq!(
        in_both.count(),
        3,
        "the test data must have articles in both regions"
    );
    for query in ["region=RU-NIZ,RU-MOW", "region=RU-MOW&region=ru-niz"] {
        let ids = ids_everywhere(&server, query).await;
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "duplicates in ?{query}");
        assert_eq!(ids, union, "?{query}");
    }
    // Both spellings are one canonical query: the same bytes.
    for fmt in FORMATS {
        let a = fetch(
            &server,
            &server.url(&format!("/feed.{}?region=RU-NIZ,RU-MOW", fmt.ext())),
            fmt,
        )
        .await;
        let b = fetch(
            &server,
            &server.url(&format!("/feed.{}?region=RU-MOW&region=ru-niz", fmt.ext())),
            fmt,
        )
        .await;
        assert_eq!(a, b, "{fmt:?}");
    }
}

#[tokio::test]
async fn date_bounds_are_inclusive_days_in_the_portal_time_zone() {
    let server = TestServer::start().await;
    let ndjson = common::fixtures_ndjson();
    server.import(&ndjson);
    let known = known(&server, &ndjson).await;
    let by_ext: HashMap<&str, &str> = known
        .values()
        .map(|k| (k.external_id.as_str(), k.feed_id.as_str()))
        .collect();
    let edge = by_ext["utc-midnight-edge"].to_string();
    let escaping = by_ext["escaping-1"].to_string();
    let unicode = by_ext["unicode"].to_string();

    // 2024-05-31T23:30:00Z is 02:30 on June 1 in Moscow.
    assert_eq!(
        ids_everywhere(&server, "from=2024-06-01&to=2024-06-01").await,
        vec![edge.clone()]
    );
    let to_may31 = ids_everywhere(&server, "to=2024-05-31").await;
    assert!(!to_may31.contains(&edge), "{to_may31:?}");
    assert!(
        to_may31.contains(&escaping) && to_may31.contains(&unicode),
        "{to_may31:?}"
    );
    // 2024-05-18T00:00:00+03:00 is the first instant of May 18: in that day, not in May 17.
    assert_eq!(
        ids_everywhere(&server, "from=2024-05-18&to=2024-05-18").await,
        vec![unicode.clone()]
    );
    assert_eq!(
        ids_everywhere(&server, "from=2024-05-17&to=2024-05-17").await,
        vec![escaping.clone()]
    );

    // An instant bound equal to the published instant includes it, whatever offset spells it
    // (`+` must be percent-encoded in a query string, or it reads as a space).
    let exact = ids_everywhere(
        &server,
        "from=2024-05-17T09:00:00%2B03:00&to=2024-05-17T06:00:00Z",
    )
    .await;
    assert_eq!(exact, vec![escaping.clone()]);
    assert_eq!(
        ids_everywhere(
            &server,
            "from=2024-05-31T23:30:00Z&to=2024-06-01T02:30:00%2B03:00"
        )
        .await,
        vec![edge.clone()]
    );
    // One second either side excludes it.
    assert_eq!(
        ids_everywhere(&server, "from=2024-05-17T09:00:01%2B03:00&to=2024-05-17").await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids_everywhere(&server, "from=2024-05-17&to=2024-05-17T08:59:59%2B03:00").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn paging_with_before_visits_every_article_once_in_order() {
    let server = TestServer::start().await;
    // 330 articles in RU-KDA, three per instant (spelt in three offsets), so that ties fall on
    // page boundaries; every tenth also in RU-AD. Plus the corpus around them.
    let mut ndjson = common::corpus(1500, 3);
    let offsets = ["+03:00", "Z", "+05:00"];
    let base = DateTime::parse_from_rfc3339("2024-03-01T09:00:00Z").expect("base");
    for i in 0..330i64 {
        let offset: FixedOffset = offsets[(i % 3) as usize]
            .replace('Z', "+00:00")
            .parse()
            .expect("offset");
        let at = (base + chrono::Duration::minutes(i / 3))
            .with_timezone(&offset)
            .to_rfc3339();
        let regions: &[&str] = if i % 10 == 0 {
            &["RU-KDA", "RU-AD"]
        } else {
            &["RU-KDA"]
        };
        ndjson.push_str(&article(&format!("kda-{i}"), &at, regions));
    }
    let report = server.import(&ndjson);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let known = known(&server, &ndjson).await;
    let expected = feed_order(in_regions(&known, &["RU-KDA"]));
    assert!(expected.len() >= 330);
    assert!(
        in_regions(&known, &["RU-KDA"]).iter().any(|k| k.has_image),
        "some enclosures to check"
    );

    let res = server.get("/api/regions").await;
    assert_eq!(res.status(), 200);
    let regions: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON");
    let kda = regions
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["code"] == "RU-KDA")
        .expect("RU-KDA");
    assert_eq!(kda["articles"].as_u64(), Some(expected.len() as u64));

    for fmt in FORMATS {
        let pages = walk(
            &server,
            fmt,
            &format!("/regions/RU-KDA/feed.{}?limit=50", fmt.ext()),
        )
        .await;
        assert_eq!(pages.len(), expected.len().div_ceil(50), "{fmt:?}");
        for page in &pages[..pages.len() - 1] {
            assert_eq!(page.ids.len(), 50, "{fmt:?}: full pages before the last");
        }
        for page in &pages {
            assert_eq!(check_enclosures(fmt, &page.body, &known), page.ids.len());
        }
        assert!(
            pages[0].previous.is_none(),
            "{fmt:?}: the first page has no newer page"
        );
        if fmt != Fmt::Json {
            // Back again through RFC 5005 `previous` links: the same pages, in reverse.
            let mut back = vec![pages.last().expect("pages").ids.clone()];
            let mut previous = pages.last().and_then(|p| p.previous.clone());
            while let Some(url) = previous {
                assert!(back.len() <= pages.len(), "{fmt:?}: previous links do not end");
                let page = parse_page(fmt, fetch(&server, &url, fmt).await);
                back.push(page.ids);
                previous = page.previous;
            }
            back.reverse();
            let forward: Vec<&Vec<String>> = pages.iter().map(|p| &p.ids).collect();
            assert_eq!(
                back.iter().collect::<Vec<_>>(),
                forward,
                "{fmt:?}: previous retraces next"
            );
        }
        let ids: Vec<String> = pages.into_iter().flat_map(|p| p.ids).collect();
        assert_eq!(ids.len(), expected.len(), "{fmt:?}");
        assert_eq!(
            ids, expected,
            "{fmt:?}: each article once, newest first, ties by id"
        );
    }
}

/// RSS 2.0 gives `description` as HTML (readers render it), so the server HTML-escapes the
/// plain-text lead before putting it there. After the XML parser has undone the XML escaping,
/// undoing the HTML escaping gives the text a reader displays, which must be the stored summary.
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The stored body followed by «Источник(и): …», as every feed format shows an article's content.
fn with_sources_paragraph(api: &Value) -> Option<String> {
    let body = api["content_html"].as_str();
    let sources = api["sources"].as_array().map(Vec::as_slice).unwrap_or_default();
    if sources.is_empty() {
        return body.map(str::to_string);
    }
    let names: Vec<String> = sources
        .iter()
        .map(|s| match s["url"].as_str() {
            Some(url) => format!("<a href=\"{url}\">{}</a>", s["name"].as_str().unwrap_or("")),
            None => s["name"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    let label = if names.len() == 1 {
        "Источник"
    } else {
        "Источники"
    };
    Some(format!(
        "{}<p>{label}: {}</p>",
        body.unwrap_or(""),
        names.join(", ")
    ))
}

#[tokio::test]
async fn fixtures_come_out_of_every_format_exactly() {
    let server = TestServer::start().await;
    let fixtures = common::fixtures();
    let ndjson = common::fixtures_ndjson();
    let report = server.import(&ndjson);

    // The control-character fixture is refused, naming the field; nothing else is.
    let control_line = fixtures
        .iter()
        .position(|f| f["external_id"] == "control-chars")
        .expect("fixture")
        + 1;
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    let (line, errors) = &report.rejected[0];
    assert_eq!(*line, control_line);
    assert!(errors.iter().any(|e| e.field == "title"), "{errors:?}");
    assert_eq!(report.created as usize, fixtures.len() - 1);

    let known = known(&server, &ndjson).await;
    assert_eq!(known.len(), fixtures.len() - 1);
    let mut bodies = Vec::new();
    let mut last_modified = Vec::new();
    for fmt in FORMATS {
        let res = server.get(&format!("/feed.{}?limit=500", fmt.ext())).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], fmt.content_type());
        last_modified.push(
            res.headers()["last-modified"]
                .to_str()
                .expect("ascii")
                .to_string(),
        );
        bodies.push(res.text().await.expect("body"));
    }
    let [rss, atom, json] = [&bodies[0], &bodies[1], &bodies[2]];
    let rss_feed = feed_rs::parser::parse(rss.as_bytes()).expect("RSS parses");
    let atom_feed = feed_rs::parser::parse(atom.as_bytes()).expect("Atom parses");
    let rss_doc = common::strict_xml(rss);
    let atom_doc = common::strict_xml(atom);
    let json: Value = serde_json::from_str(json).expect("JSON Feed");
    assert_eq!(check_rss_items(rss, &known), known.len());

    for fixture in fixtures.iter().filter(|f| f["external_id"] != "control-chars") {
        let ext = fixture["external_id"].as_str().expect("external_id");
        let k = known.values().find(|k| k.external_id == ext).expect("stored");
        let res = server.get(&format!("/api/articles/{}", k.id)).await;
        assert_eq!(res.status(), 200);
        let api: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON");
        assert_eq!(api["feed_id"], k.feed_id.as_str());
        let title = fixture["title"].as_str().expect("title");
        let summary = fixture["summary"].as_str();
        // Every format shows the sources after the body (issue 10: citing sources is expected).
        let with_sources = with_sources_paragraph(&api);
        let content = with_sources.as_deref();
        assert_eq!(api["title"], title);
        if let Some(html) = content {
            for banned in ["<script", "onerror", "alert("] {
                assert!(
                    !html.contains(banned),
                    "{ext}: stored content keeps {banned}: {html}"
                );
            }
        }

        // RSS.
        let item = rss_feed
            .entries
            .iter()
            .find(|e| e.id == k.feed_id)
            .unwrap_or_else(|| panic!("{ext} in RSS"));
        assert_eq!(
            item.title.as_ref().map(|t| t.content.as_str()),
            Some(title),
            "RSS title of {ext}"
        );
        assert_eq!(
            item.summary
                .as_ref()
                .map(|t| unescape_html(&t.content))
                .as_deref(),
            summary,
            "RSS description of {ext}"
        );
        assert_eq!(
            item.content.as_ref().and_then(|c| c.body.as_deref()),
            content,
            "RSS content:encoded of {ext}"
        );

        // Atom.
        let entry = atom_feed
            .entries
            .iter()
            .find(|e| e.id == k.feed_id)
            .unwrap_or_else(|| panic!("{ext} in Atom"));
        assert_eq!(
            entry.title.as_ref().map(|t| t.content.as_str()),
            Some(title),
            "Atom title of {ext}"
        );
        assert_eq!(
            entry.summary.as_ref().map(|t| t.content.as_str()),
            summary,
            "Atom summary of {ext}"
        );
        assert_eq!(
            entry.content.as_ref().and_then(|c| c.body.as_deref()),
            content,
            "Atom content of {ext}"
        );
        let atom_entry = atom_doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name((ATOM_NS, "entry")))
            .find(|n| {
                children(*n, Some(ATOM_NS), "id").next().and_then(|i| i.text()) == Some(k.feed_id.as_str())
            })
            .expect("Atom entry");
        let published = children(atom_entry, Some(ATOM_NS), "published")
            .next()
            .and_then(|n| n.text())
            .expect("published");
        let published = DateTime::parse_from_rfc3339(published).expect("RFC 3339");
        assert_eq!(
            (published, published.offset()),
            (k.published, k.published.offset()),
            "Atom published of {ext}"
        );

        // JSON Feed.
        let item = json["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["id"] == k.feed_id.as_str())
            .expect("JSON item");
        assert_eq!(item["title"], title);
        assert_eq!(item["summary"].as_str(), summary, "JSON summary of {ext}");
        assert_eq!(
            item["content_html"].as_str(),
            content,
            "JSON content_html of {ext}"
        );
        let published =
            DateTime::parse_from_rfc3339(item["date_published"].as_str().expect("date_published"))
                .expect("RFC 3339");
        assert_eq!(
            (published, published.offset()),
            (k.published, k.published.offset()),
            "JSON date_published of {ext}"
        );
    }
    // The escaping fixture's script and handler are gone from every byte sent.
    for body in &bodies {
        assert!(!body.contains("onerror") && !body.contains("alert("), "{body}");
    }
    // The same guid in RSS, id in Atom and JSON Feed.
    let rss_guids: BTreeSet<&str> = rss_feed.entries.iter().map(|e| e.id.as_str()).collect();
    let atom_ids: BTreeSet<&str> = atom_feed.entries.iter().map(|e| e.id.as_str()).collect();
    let json_ids: BTreeSet<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    let feed_ids: BTreeSet<&str> = known.keys().map(String::as_str).collect();
    assert_eq!(rss_guids, feed_ids);
    assert_eq!(atom_ids, feed_ids);
    assert_eq!(json_ids, feed_ids);
    assert!(!rss_doc
        .descendants()
        .any(|n| n.has_tag_name("guid") && n.attribute("isPermaLink") != Some("false")));

    // Feed-level dates are the last change, the same instant as Last-Modified, not the clock.
    let channel = children(rss_doc.root_element(), None, "channel")
        .next()
        .expect("channel");
    let build = children(channel, None, "lastBuildDate")
        .next()
        .and_then(|n| n.text())
        .expect("lastBuildDate");
    assert!(!build.contains("UTC") && !build.contains("GMT"), "{build}");
    let build = DateTime::parse_from_rfc2822(build).expect("RFC 2822");
    let header = DateTime::parse_from_rfc2822(&last_modified[0]).expect("HTTP date");
    assert_eq!(build, header, "lastBuildDate and Last-Modified");
    assert_eq!(
        atom_feed.updated,
        Some(header.to_utc()),
        "Atom updated and Last-Modified"
    );
    // An unchanged feed is byte-identical later, even after a restart has emptied the render
    // cache (a cached body alone would hide a clock read).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let server = server.restart().await;
    for (fmt, before) in FORMATS.into_iter().zip(&bodies) {
        let again = fetch(
            &server,
            &server.url(&format!("/feed.{}?limit=500", fmt.ext())),
            fmt,
        )
        .await;
        assert_eq!(&again, before, "{fmt:?} changed without a write");
    }
}

#[tokio::test]
async fn cdata_terminators_and_markup_survive_every_format() {
    let server = TestServer::start().await;
    // `]]>` would end a CDATA section early; `<`, `&` and quotes must round-trip as text.
    let title = "]]> & <x> \"q\" 'a'";
    let summary = "1 ]]> 2 <tag> & 3";
    let line = json!({
        "external_id": "cdata",
        "title": title,
        "summary": summary,
        "content_html": "<p title=\"a]]>b\">x ]]> y &amp; <b>z</b></p>",
        "published_at": "2024-05-20T12:00:00+10:00",
        "regions": ["RU-PRI"],
        "image": {"url": "https://news.example.ru/images/cdata.jpg", "type": "image/jpeg", "length": 1234},
    });
    let ndjson = format!("{line}\n");
    let report = server.import(&ndjson);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let known = known(&server, &ndjson).await;
    let k = known.values().next().expect("stored");
    let res = server.get(&format!("/api/articles/{}", k.id)).await;
    let api: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON");
    let content = api["content_html"].as_str().expect("content_html");
    assert!(
        content.contains("]]") && content.contains("<b>z</b>"),
        "{content}"
    );
    for fmt in FORMATS {
        let body = fetch(
            &server,
            &server.url(&format!("/regions/RU-PRI/feed.{}", fmt.ext())),
            fmt,
        )
        .await;
        assert_eq!(check_enclosures(fmt, &body, &known), 1);
        let (t, s, c) = match fmt {
            Fmt::Json => {
                let v: Value = serde_json::from_str(&body).expect("JSON");
                let item = &v["items"][0];
                let field = |name: &str| item[name].as_str().map(str::to_string);
                (field("title"), field("summary"), field("content_html"))
            }
            Fmt::Rss | Fmt::Atom => {
                common::strict_xml(&body);
                let feed = feed_rs::parser::parse(body.as_bytes()).expect("feed-rs");
                let e = &feed.entries[0];
                let mut s = e.summary.as_ref().map(|t| t.content.clone());
                if fmt == Fmt::Rss {
                    s = s.map(|s| unescape_html(&s));
                }
                (
                    e.title.as_ref().map(|t| t.content.clone()),
                    s,
                    e.content.as_ref().and_then(|c| c.body.clone()),
                )
            }
        };
        assert_eq!(t.as_deref(), Some(title), "{fmt:?} title");
        assert_eq!(s.as_deref(), Some(summary), "{fmt:?} summary");
        assert_eq!(c.as_deref(), Some(content), "{fmt:?} content");
    }
}

/// The `href` of `rel="self"` in a page of `fmt`.
fn self_link(fmt: Fmt, body: &str) -> String {
    match fmt {
        Fmt::Json => {
            let v: Value = serde_json::from_str(body).expect("JSON");
            v["feed_url"].as_str().expect("feed_url").to_string()
        }
        Fmt::Rss | Fmt::Atom => {
            let doc = common::strict_xml(body);
            let root = doc.root_element();
            let parent = if fmt == Fmt::Rss {
                children(root, None, "channel").next().expect("channel")
            } else {
                root
            };
            let links: Vec<&str> = children(parent, Some(ATOM_NS), "link")
                .filter(|l| l.attribute("rel") == Some("self"))
                .filter_map(|l| l.attribute("href"))
                .collect();
            assert_eq!(links.len(), 1, "one rel=self");
            links[0].to_string()
        }
    }
}

#[tokio::test]
async fn self_links_are_canonical_and_serve_the_same_feed() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    let queries = [
        "",
        "region=ru-niz",
        "limit=%2B5&region=RU-NIZ,RU-MOW",
        "to=2024-06-01&region=RU-MOW&region=RU-NIZ&limit=050",
        "from=2024-05-17T09:00:00.5%2B03:00&category=%D0%92%D0%BB%D0%B0%D1%81%D1%82%D1%8C",
        "from=0000-01-01T12:00:00Z",
        "to=9999-12-31T00:00:00Z",
        "to=9999-12-31",
        // Valid RFC 3339 whose UTC instant falls outside years 0000-9999: either refused, or
        // its self link must still work.
        "from=9999-12-31T23:59:59-23:59",
        "to=0000-01-01T00:00:00%2B23:59",
        "from=10000-01-01",
        "from=%2B10000-01-01",
        "to=-0001-01-01",
        "from=2024-5-7",
    ];
    for query in queries {
        for fmt in FORMATS {
            let url = server.url(&format!("/feed.{}?{query}", fmt.ext()));
            let res = server.client.get(&url).send().await.expect("GET");
            if res.status() == 400 {
                continue;
            }
            assert_eq!(res.status(), 200, "{url}");
            let body = res.text().await.expect("body");
            let self_url = self_link(fmt, &body);
            let again = server.client.get(&self_url).send().await.expect("GET");
            assert_eq!(again.status(), 200, "self link {self_url} of {url}");
            assert_eq!(
                again.text().await.expect("body"),
                body,
                "self link {self_url} of {url}"
            );
        }
    }
}

#[tokio::test]
async fn bad_queries_are_400_problems_naming_the_parameter() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    let cases = [
        ("colour=red", "colour"),
        ("from=yesterday", "from"),
        ("to=2024-02-30", "to"),
        // RFC 3339, but the instant in UTC (the canonical form in the feed's links) would need a
        // five-digit year.
        ("from=9999-12-31T23:59:59-23:59", "from"),
        ("from=2024-06-02&to=2024-06-01", "to"),
        ("region=RU-XXX", "region"),
        ("region=RU-NIZ,atlantis", "region"),
        ("limit=0", "limit"),
        ("limit=10000", "limit"),
        ("limit=ten", "limit"),
        ("before=not-a-cursor", "before"),
        ("before=0123456789abcdef0123456789abcdeg", "before"),
        ("limit=5&limit=6", "limit"),
        ("after=xyz", "after"),
        (
            "before=80000000000000000000000000000001&after=80000000000000000000000000000001",
            "after",
        ),
    ];
    for path in ["/feed.rss", "/feed.atom", "/feed.json", "/api/articles"] {
        for (query, param) in cases {
            let res = server.get(&format!("{path}?{query}")).await;
            assert_eq!(res.status(), 400, "{path}?{query}");
            assert_eq!(
                res.headers()["content-type"],
                "application/problem+json",
                "{path}?{query}"
            );
            let problem: Value =
                serde_json::from_slice(&res.bytes().await.expect("body")).expect("problem JSON");
            assert_eq!(problem["status"], 400);
            let errors = problem["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}?{query}: {problem}"));
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == param && e["reason"].as_str().is_some_and(|r| !r.is_empty())),
                "{path}?{query}: {problem}"
            );
        }
    }
    // Several problems at once are all listed.
    let res = server.get("/feed.rss?colour=red&limit=0&region=RU-XXX").await;
    let problem: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("problem JSON");
    let fields: BTreeSet<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, BTreeSet::from(["colour", "limit", "region"]));
    // An unknown region in the path names no resource: 404, like its region page (an unknown
    // region in the query of a resource that exists is the 400 above).
    let res = server.get("/regions/RU-XXX/feed.rss").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    for fmt in FORMATS {
        fetch(&server, &server.url(&format!("/feed.{}", fmt.ext())), fmt).await;
    }
}

#[tokio::test]
async fn empty_results_are_valid_empty_feeds() {
    let server = TestServer::start().await;
    let check_empty = |fmt: Fmt, body: String| {
        let page = parse_page(fmt, body);
        assert!(
            page.ids.is_empty() && page.next.is_none(),
            "{fmt:?}: {}",
            page.body
        );
        if fmt == Fmt::Json {
            let v: Value = serde_json::from_str(&page.body).expect("JSON");
            assert_eq!(v["items"], json!([]));
        }
    };
    // An empty store.
    for fmt in FORMATS {
        check_empty(
            fmt,
            fetch(&server, &server.url(&format!("/feed.{}", fmt.ext())), fmt).await,
        );
    }
    server.import(&common::fixtures_ndjson());
    // A region without articles, and a range without articles.
    for fmt in FORMATS {
        let ext = fmt.ext();
        check_empty(
            fmt,
            fetch(&server, &server.url(&format!("/regions/RU-CHU/feed.{ext}")), fmt).await,
        );
        check_empty(
            fmt,
            fetch(&server, &server.url(&format!("/feed.{ext}?from=2030-01-01")), fmt).await,
        );
        check_empty(
            fmt,
            fetch(
                &server,
                &server.url(&format!("/feed.{ext}?region=RU-MOW&to=2000-01-01")),
                fmt,
            )
            .await,
        );
    }
}

#[tokio::test]
async fn region_path_is_the_region_query() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    for fmt in FORMATS {
        let ext = fmt.ext();
        let by_query = fetch(&server, &server.url(&format!("/feed.{ext}?region=RU-NIZ")), fmt).await;
        for path in [
            format!("/regions/RU-NIZ/feed.{ext}"),
            format!("/regions/ru-niz/feed.{ext}"),
        ] {
            assert_eq!(fetch(&server, &server.url(&path), fmt).await, by_query, "{path}");
        }
        let page = parse_page(fmt, by_query);
        assert_eq!(
            page.ids.len(),
            2,
            "the seed-like fixture and the UTC-midnight one"
        );
        assert!(
            page.body.contains("Нижегородская область"),
            "the title names the region: {}",
            page.body
        );
    }
}
