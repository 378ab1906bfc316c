//! The public read API end to end (issue 2, "Foundation"): `/api/articles` (the feed filters and
//! paging, as JSON), `/api/articles/{id}`, `/api/regions`, `/api/calendar`, `/healthz`, and the
//! router's 404/405 problems — against the real server.
//!
//! Expected results are computed from the imported NDJSON (regions, categories, instants, the
//! portal's Moscow days) joined with the ids the server assigned.

mod common;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Europe::Moscow;
use common::TestServer;
use serde_json::{json, Value};

/// An imported article as the tests expect it (the last line of an external_id wins: upsert).
#[derive(Clone, Debug)]
struct Input {
    external_id: String,
    published: DateTime<FixedOffset>,
    regions: Vec<String>,
    categories: Vec<String>,
}

impl Input {
    fn in_region(&self, code: &str) -> bool {
        self.regions.iter().any(|r| r == code)
    }

    /// The local day in the portal's time zone (Europe/Moscow by default).
    fn day(&self) -> NaiveDate {
        self.published.with_timezone(&Moscow).date_naive()
    }
}

/// The NDJSON's articles by external_id, minus those named in `refused`.
fn inputs(ndjson: &str, refused: &[&str]) -> HashMap<String, Input> {
    let mut out = HashMap::new();
    for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("NDJSON line");
        let external_id = v["external_id"].as_str().expect("external_id").to_string();
        if refused.contains(&external_id.as_str()) {
            continue;
        }
        let strings = |field: &str| -> Vec<String> {
            v[field].as_array().map_or(Vec::new(), |a| {
                a.iter().filter_map(Value::as_str).map(str::to_string).collect()
            })
        };
        let mut regions: Vec<String> = strings("regions").iter().map(|r| r.to_uppercase()).collect();
        regions.sort();
        regions.dedup();
        let published = DateTime::parse_from_rfc3339(v["published_at"].as_str().expect("published_at"))
            .expect("RFC 3339");
        let input = Input {
            external_id: external_id.clone(),
            published,
            regions,
            categories: strings("categories"),
        };
        out.insert(external_id, input);
    }
    out
}

/// One NDJSON line of a hand-made article.
fn article(external_id: &str, published_at: &str, regions: &[&str]) -> String {
    let v = json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "published_at": published_at,
        "regions": regions,
    });
    format!("{v}\n")
}

/// GET `url` as JSON, asserting the status and content type.
async fn get_json(server: &TestServer, url: &str, status: u16, content_type: &str) -> Value {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        server.url(url)
    };
    let res = server.client.get(&url).send().await.expect("GET");
    assert_eq!(res.status(), status, "{url}");
    assert_eq!(res.headers()["content-type"], content_type, "{url}");
    serde_json::from_slice(&res.bytes().await.expect("body")).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Every item of an `/api/articles` query, following `next` until it is absent; and the pages.
async fn walk_api(server: &TestServer, path: &str) -> (Vec<Value>, usize) {
    let mut url = server.url(path);
    let mut items = Vec::new();
    for pages in 1..=1000 {
        let page = get_json(server, &url, 200, "application/json").await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&server.base), "{next}");
                url = next.to_string();
            }
            None => return (items, pages),
        }
    }
    panic!("paging {path} did not end");
}

/// Every item of a JSON Feed, following `next_url` until it is absent.
async fn walk_feed(server: &TestServer, url: &str) -> Vec<Value> {
    let mut url = url.to_string();
    let mut items = Vec::new();
    for _ in 0..1000 {
        let page = get_json(server, &url, 200, "application/feed+json").await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_url"].as_str() {
            Some(next) => url = next.to_string(),
            None => return items,
        }
    }
    panic!("paging {url} did not end");
}

/// The ids the server gave, by external_id, from the full listing.
fn ids_of(items: &[Value]) -> HashMap<String, u64> {
    items
        .iter()
        .map(|i| {
            (
                i["external_id"].as_str().expect("external_id").to_string(),
                i["id"].as_u64().expect("id"),
            )
        })
        .collect()
}

/// External ids of `selected` in feed order: newest instant first, ties by id descending.
fn feed_order<'a>(selected: impl IntoIterator<Item = &'a Input>, ids: &HashMap<String, u64>) -> Vec<String> {
    let mut v: Vec<&Input> = selected.into_iter().collect();
    v.sort_by_key(|i| {
        (
            Reverse(i.published.timestamp_micros()),
            Reverse(ids[&i.external_id]),
        )
    });
    v.into_iter().map(|i| i.external_id.clone()).collect()
}

fn external_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["external_id"].as_str().expect("external_id").to_string())
        .collect()
}

#[tokio::test]
async fn articles_list_filters_and_pages_like_the_feeds() {
    let server = TestServer::start().await;
    // The corpus opens with the seed-like fixture, which the fixtures re-send: an upsert.
    let ndjson = common::corpus(1500, 7) + &common::fixtures_ndjson();
    let report = server.import(&ndjson);
    assert_eq!(report.rejected.len(), 1, "only the control-character fixture");
    let inputs = inputs(&ndjson, &["control-chars"]);
    assert_eq!(report.created as usize, inputs.len());

    // Everything, 500 at a time: each article once, in feed order.
    let (all, pages) = walk_api(&server, "/api/articles?limit=500").await;
    assert_eq!(pages, inputs.len().div_ceil(500));
    let ids = ids_of(&all);
    assert_eq!(ids.len(), inputs.len());
    assert_eq!(external_ids(&all), feed_order(inputs.values(), &ids));
    for item in &all {
        assert_eq!(item["publisher"], "portal");
        let id = item["id"].as_u64().expect("id");
        assert_eq!(item["feed_id"], format!("tag:lenta,2026:article:{id}"));
        assert!(
            item["url"].as_str().is_some_and(|u| u.starts_with("http")),
            "{item}"
        );
        assert!(item["updated_at"].is_string(), "{item}");
    }

    // One region in small pages.
    let first = get_json(
        &server,
        "/api/articles?limit=7&region=ru-mow",
        200,
        "application/json",
    )
    .await;
    assert_eq!(first["self"], server.url("/api/articles?region=RU-MOW&limit=7"));
    let (mow, _) = walk_api(&server, "/api/articles?limit=7&region=ru-mow").await;
    let expected = feed_order(inputs.values().filter(|i| i.in_region("RU-MOW")), &ids);
    assert!(expected.len() > 7, "several pages: {}", expected.len());
    assert_eq!(external_ids(&mow), expected);

    // A category (any case), a date range in Moscow days, and all of them together.
    let (vlast, _) = walk_api(
        &server,
        "/api/articles?category=%D0%B2%D0%BB%D0%B0%D1%81%D1%82%D1%8C",
    )
    .await;
    let expected = feed_order(
        inputs
            .values()
            .filter(|i| i.categories.iter().any(|c| c.to_lowercase() == "власть")),
        &ids,
    );
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(external_ids(&vlast), expected);

    let (q1, _) = walk_api(&server, "/api/articles?from=2024-01-01&to=2024-03-31&limit=100").await;
    let (lo, hi) = (
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
        NaiveDate::from_ymd_opt(2024, 3, 31).expect("date"),
    );
    let expected = feed_order(inputs.values().filter(|i| (lo..=hi).contains(&i.day())), &ids);
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(external_ids(&q1), expected);

    let (combined, _) =
        walk_api(&server, "/api/articles?region=RU-NIZ,RU-MOW&category=%D0%92%D0%BB%D0%B0%D1%81%D1%82%D1%8C&from=2023-01-01&limit=3").await;
    let expected = feed_order(
        inputs.values().filter(|i| {
            (i.in_region("RU-NIZ") || i.in_region("RU-MOW"))
                && i.categories.iter().any(|c| c == "Власть")
                && i.day() >= NaiveDate::from_ymd_opt(2023, 1, 1).expect("date")
        }),
        &ids,
    );
    assert!(!expected.is_empty());
    assert_eq!(external_ids(&combined), expected);

    // The same filters refuse the same mistakes.
    let problem = get_json(&server, "/api/articles?limit=0", 400, "application/problem+json").await;
    assert_eq!(problem["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn one_article_by_id() {
    let server = TestServer::start().await;
    let ndjson = common::fixtures_ndjson();
    server.import(&ndjson);
    let (all, _) = walk_api(&server, "/api/articles").await;
    let ids = ids_of(&all);
    let max_id = ids.values().copied().max().expect("articles");
    for fixture in common::fixtures()
        .iter()
        .filter(|f| f["external_id"] != "control-chars")
    {
        let ext = fixture["external_id"].as_str().expect("external_id");
        let id = ids[ext];
        let a = get_json(&server, &format!("/api/articles/{id}"), 200, "application/json").await;
        assert_eq!(a["id"], id);
        assert_eq!(a["external_id"], ext);
        assert_eq!(a["title"], fixture["title"]);
        assert_eq!(a["summary"], fixture["summary"]);
        let given = DateTime::parse_from_rfc3339(fixture["published_at"].as_str().expect("published_at"))
            .expect("date");
        let stored =
            DateTime::parse_from_rfc3339(a["published_at"].as_str().expect("published_at")).expect("date");
        assert_eq!(
            (stored, stored.offset()),
            (given, given.offset()),
            "kept with its own offset"
        );
        let regions: BTreeSet<&str> = a["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let given: BTreeSet<&str> = fixture["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(regions, given);
        let url = fixture["link"]
            .as_str()
            .map_or_else(|| server.url(&format!("/articles/{id}")), str::to_string);
        assert_eq!(a["url"], url);
        if fixture.get("content_html").is_some() {
            assert!(a["content_html"].is_string());
        }
    }
    for (path, detail) in [
        (format!("/api/articles/{}", max_id + 1000), "unknown id"),
        ("/api/articles/abc".to_string(), "not an id"),
        ("/api/articles/0".to_string(), "ids start at 1"),
        ("/api/articles/-1".to_string(), "negative"),
    ] {
        let problem = get_json(&server, &path, 404, "application/problem+json").await;
        assert_eq!(problem["status"], 404, "{path} ({detail})");
        assert!(problem["detail"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn regions_list_counts_and_feed_urls() {
    let server = TestServer::start().await;
    let ndjson =
        common::corpus(1500, 11) + &article("ru-wide", "2024-05-09T10:00:00+03:00", &["RU", "RU-MOW"]);
    let report = server.import(&ndjson);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let inputs = inputs(&ndjson, &[]);

    let regions = get_json(&server, "/api/regions", 200, "application/json").await;
    let regions = regions.as_array().expect("array");
    assert_eq!(regions.len(), 84, "83 subjects of the federation and RU");
    let codes: BTreeSet<&str> = regions.iter().filter_map(|r| r["code"].as_str()).collect();
    assert_eq!(codes.len(), 84, "codes are unique");
    assert!(codes.contains("RU") && codes.contains("RU-NIZ") && codes.contains("RU-MOW"));
    let mut with_articles = 0;
    for r in regions {
        let code = r["code"].as_str().expect("code");
        let expected = inputs.values().filter(|i| i.in_region(code)).count();
        with_articles += usize::from(expected > 0);
        assert_eq!(r["articles"].as_u64(), Some(expected as u64), "{code}");
        assert!(r["name_ru"].as_str().is_some_and(|n| !n.is_empty()), "{r}");
        assert!(r["name_en"].as_str().is_some_and(|n| !n.is_empty()), "{r}");
        assert_eq!(r["page"], server.url(&format!("/regions/{code}/")));
        for ext in ["rss", "atom", "json"] {
            assert_eq!(
                r["feeds"][ext],
                server.url(&format!("/feed.{ext}?region={code}")),
                "{code}"
            );
        }
    }
    assert!(
        with_articles > 60,
        "the corpus spreads over most regions: {with_articles}"
    );

    // The advertised feed URL serves exactly the counted articles.
    for code in ["RU-NIZ", "RU"] {
        let r = regions.iter().find(|r| r["code"] == code).expect("region");
        let items = walk_feed(&server, r["feeds"]["json"].as_str().expect("url")).await;
        assert_eq!(
            items.len() as u64,
            r["articles"].as_u64().expect("count"),
            "{code}"
        );
        for ext in ["rss", "atom"] {
            let res = server
                .client
                .get(r["feeds"][ext].as_str().expect("url"))
                .send()
                .await
                .expect("GET");
            assert_eq!(res.status(), 200, "{code} {ext}");
        }
    }
    let problem = get_json(
        &server,
        "/api/regions?colour=red",
        400,
        "application/problem+json",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "colour");
}

#[tokio::test]
async fn calendar_counts_moscow_days_and_links_their_feeds() {
    let server = TestServer::start().await;
    let mut ndjson = common::corpus(1500, 5);
    // 55 on one day: more than a default feed page, so the day feed must be paged.
    for i in 0..55 {
        ndjson.push_str(&article(
            &format!("may10-{i}"),
            &format!("2024-05-10T08:{i:02}:00+03:00"),
            &["RU-MOW"],
        ));
    }
    for (ext, at, regions) in [
        ("apr30-late", "2024-04-30T20:59:59Z", &["RU-MOW"][..]), // 23:59:59 April 30 in Moscow
        ("may01-first", "2024-04-30T21:00:00Z", &["RU-MOW"][..]), // 00:00 May 1 in Moscow
        ("may31-last", "2024-05-31T20:59:59Z", &["RU-MOW"][..]), // 23:59:59 May 31 in Moscow
        ("jun01-first", "2024-05-31T21:00:00Z", &["RU-MOW"][..]), // 00:00 June 1 in Moscow
        ("may19-vlad", "2024-05-20T01:00:00+10:00", &["RU-MOW"][..]), // 18:00 May 19 in Moscow
        ("may20-vlad", "2024-05-20T12:00:00+10:00", &["RU-MOW"][..]), // 05:00 May 20 in Moscow
        ("may12-niz", "2024-05-12T12:00:00+03:00", &["RU-NIZ"][..]),
        (
            "may12-both",
            "2024-05-12T12:00:00+03:00",
            &["RU-NIZ", "RU-MOW"][..],
        ),
    ] {
        ndjson.push_str(&article(ext, at, regions));
    }
    let report = server.import(&ndjson);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let inputs = inputs(&ndjson, &[]);
    let in_may = |i: &&Input| i.day().format("%Y-%m").to_string() == "2024-05";
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for i in inputs.values().filter(|i| i.in_region("RU-MOW")).filter(in_may) {
        *expected.entry(i.day().to_string()).or_default() += 1;
    }
    for (day, at_least) in [
        ("2024-05-01", 1),
        ("2024-05-10", 55),
        ("2024-05-12", 1),
        ("2024-05-19", 1),
        ("2024-05-20", 1),
        ("2024-05-31", 1),
    ] {
        assert!(expected[day] >= at_least, "{day}");
    }
    assert!(!expected.contains_key("2024-04-30") && !expected.contains_key("2024-06-01"));

    let cal = get_json(
        &server,
        "/api/calendar?month=2024-05&region=ru-mow",
        200,
        "application/json",
    )
    .await;
    assert_eq!(cal["month"], "2024-05");
    assert_eq!(cal["regions"], json!(["RU-MOW"]));
    let days: BTreeMap<String, u64> = cal["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|d| {
            (
                d["date"].as_str().expect("date").to_string(),
                d["count"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(days, expected);
    assert_eq!(cal["total"].as_u64(), Some(expected.values().sum::<u64>()));

    // Each day's feed holds exactly that day's articles.
    for day in cal["days"].as_array().expect("days") {
        let date = day["date"].as_str().expect("date");
        let items = walk_feed(&server, day["feeds"]["json"].as_str().expect("json url")).await;
        assert_eq!(
            items.len() as u64,
            day["count"].as_u64().expect("count"),
            "{date}"
        );
        for item in &items {
            let published =
                DateTime::parse_from_rfc3339(item["date_published"].as_str().expect("date")).expect("date");
            assert_eq!(
                published.with_timezone(&Moscow).date_naive().to_string(),
                date,
                "{item}"
            );
        }
        for ext in ["rss", "atom"] {
            let url = day["feeds"][ext].as_str().expect("url");
            assert!(url.contains(&format!("from={date}&to={date}")), "{url}");
            let res = server.client.get(url).send().await.expect("GET");
            assert_eq!(res.status(), 200, "{url}");
        }
    }

    // All regions.
    let all = get_json(&server, "/api/calendar?month=2024-05", 200, "application/json").await;
    let total = inputs.values().filter(in_may).count() as u64;
    assert_eq!(all["total"].as_u64(), Some(total));
    assert_eq!(all["regions"], json!([]));

    for (query, field) in [
        ("month=2024-13", "month"),
        ("month=2024-5", "month"),
        ("month=May", "month"),
        ("month=2024-05-01", "month"),
        ("month=%2B2024-5", "month"),
        ("month=-001-01", "month"),
        ("month=2024-00", "month"),
        ("region=RU-MOW", "month"),
        ("month=2024-05&colour=red", "colour"),
        ("month=2024-05&region=RU-XXX", "region"),
    ] {
        let problem = get_json(
            &server,
            &format!("/api/calendar?{query}"),
            400,
            "application/problem+json",
        )
        .await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "?{query}: {problem}");
    }
}

#[tokio::test]
async fn health_unknown_paths_and_wrong_methods() {
    let server = TestServer::start().await;
    let health = get_json(&server, "/healthz", 200, "application/json").await;
    assert_eq!(health["status"], "ok");

    for path in [
        "/nope",
        "/feed.xml",
        "/regions/RU-NIZ/feed.txt",
        "/api",
        "/api/articles/1/extra",
    ] {
        let problem = get_json(&server, path, 404, "application/problem+json").await;
        assert_eq!(problem["status"], 404, "{path}");
    }

    for (method, path, allow) in [
        ("PATCH", "/feed.rss", "GET, HEAD, OPTIONS"),
        ("POST", "/feed.atom", "GET, HEAD, OPTIONS"),
        ("DELETE", "/regions/RU-NIZ/feed.json", "GET, HEAD, OPTIONS"),
        ("POST", "/api/regions", "GET, HEAD, OPTIONS"),
        ("PUT", "/api/calendar", "GET, HEAD, OPTIONS"),
        ("DELETE", "/api/articles", "GET, HEAD, POST, OPTIONS"),
        ("PATCH", "/api/articles/1", "GET, HEAD, PUT, DELETE, OPTIONS"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let res = server
            .client
            .request(method.clone(), server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
    }
    // Still serving.
    let res = server.get("/feed.rss").await;
    assert_eq!(res.status(), 200);
}
