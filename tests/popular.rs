//! "Most read" (issue 12, part 2) over HTTP against the real server and a real store:
//! `sort=popular&period=…` on the feeds, the article list API and the region pages; the order
//! follows views counted through the API, at the refresh rate; validators hold between refreshes
//! (304s) and move when the ranking or an item changes; the period window, region and category
//! filters; bad input is a 400 naming what is allowed.

mod common;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::{ChildServer, TestServer};
use serde_json::{json, Value};

/// An article of `region` published `hours_ago` hours before now.
fn article(external_id: &str, region: &str, hours_ago: i64, categories: &[&str]) -> Value {
    let published = Utc::now() - chrono::Duration::hours(hours_ago);
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "content_html": format!("<p>Текст {external_id}.</p>"),
        "published_at": published.to_rfc3339_opts(SecondsFormat::Secs, true),
        "regions": [region],
        "categories": categories,
    })
}

/// Creates or updates (same `external_id`) an article at `base`; returns its id.
async fn put(client: &reqwest::Client, base: &str, token: &str, body: &Value) -> u64 {
    let res = client
        .post(format!("{base}/api/articles"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("POST /api/articles");
    let status = res.status().as_u16();
    let answer: Value = res.json().await.expect("json");
    assert!(status == 200 || status == 201, "{status}: {answer}");
    answer["id"].as_u64().expect("id")
}

/// Counts `n` views of article `id` through the views API.
async fn view(client: &reqwest::Client, base: &str, token: &str, id: u64, n: u64) {
    let res = client
        .post(format!("{base}/api/articles/{id}/views"))
        .bearer_auth(token)
        .json(&json!({ "add": n }))
        .send()
        .await
        .expect("POST views");
    assert_eq!(res.status(), 200);
}

/// GET `path` at `base`: status, ETag, and the JSON body (Null when not JSON).
async fn get_json(client: &reqwest::Client, base: &str, path: &str) -> (u16, Option<String>, Value) {
    let res = client.get(format!("{base}{path}")).send().await.expect("GET");
    let status = res.status().as_u16();
    assert!(status < 500, "{path}: {status}");
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().expect("etag").to_string());
    let text = res.text().await.expect("body");
    (status, etag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The ids of a JSON list, in order: `items[].id` of the API or of a JSON Feed (whose `id` is a
/// tag URI ending in the article id).
fn ids(body: &Value) -> Vec<u64> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| match &item["id"] {
            Value::Number(n) => n.as_u64().expect("id"),
            Value::String(s) => s.rsplit(':').next().and_then(|n| n.parse().ok()).expect("tag id"),
            other => panic!("no id in {other}"),
        })
        .collect()
}

/// Status of a conditional GET with `If-None-Match: etag`.
async fn revalidate(client: &reqwest::Client, base: &str, path: &str, etag: &str) -> u16 {
    client
        .get(format!("{base}{path}"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("conditional GET")
        .status()
        .as_u16()
}

/// A server whose rankings are refreshed at most every `refresh`.
async fn server(refresh: Duration) -> (TestServer, String) {
    let server = TestServer::start_with(move |s| s.popular_refresh = refresh).await;
    let token = server.add_publisher("portal", "");
    (server, token)
}

/// The real binary with `--popular-refresh-secs 1`: the order follows views counted through the
/// API once the refresh has passed, the ETag moves with it, and an unchanged ranking keeps it
/// across later refreshes.
#[tokio::test]
async fn order_follows_views_after_the_refresh() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lenta"))
        .args(["publisher", "add", "portal", "--data-dir"])
        .arg(&data)
        .output()
        .expect("publisher add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).expect("token").trim().to_string();
    let client = reqwest::Client::new();
    let child = ChildServer::start(&data, &["--popular-refresh-secs", "1"], &client).await;
    let base = child.base.as_str();
    let a = put(&client, base, &token, &article("a", "RU-NIZ", 1, &[])).await;
    let b = put(&client, base, &token, &article("b", "RU-NIZ", 2, &[])).await;
    let c = put(&client, base, &token, &article("c", "RU-NIZ", 3, &[])).await;
    let path = "/api/articles?sort=popular";
    let (status, before_tag, before) = get_json(&client, base, path).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(ids(&before), [a, b, c], "no views yet: ties are newest first");
    let before_tag = before_tag.expect("etag");

    view(&client, base, &token, c, 5).await;
    view(&client, base, &token, b, 3).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (_, after_tag, after) = get_json(&client, base, path).await;
    assert_eq!(ids(&after), [c, b, a], "most read first after the refresh");
    let after_tag = after_tag.expect("etag");
    assert_ne!(after_tag, before_tag, "the ETag follows the ranking");
    let (_, _, feed) = get_json(&client, base, "/regions/RU-NIZ/feed.json?sort=popular").await;
    assert_eq!(ids(&feed), [c, b, a], "the JSON Feed has the same order");

    // Later refreshes that find the same ranking keep its validators: a poller gets 304s.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(revalidate(&client, base, path, &after_tag).await, 304);
    let (_, again, _) = get_json(&client, base, path).await;
    assert_eq!(again.as_deref(), Some(after_tag.as_str()));
}

/// Between refreshes a ranking is a snapshot: views and edits change neither its body nor its
/// ETag, so every format answers a poller with 304 (the timeline feed's ETag does move).
#[tokio::test]
async fn validators_hold_between_refreshes() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    let (client, base) = (&server.client, server.base.as_str());
    let a = put(client, base, &token, &article("a", "RU-NIZ", 1, &[])).await;
    let b = put(client, base, &token, &article("b", "RU-NIZ", 2, &[])).await;
    let paths = [
        "/feed.rss?sort=popular",
        "/feed.atom?sort=popular&period=7d",
        "/regions/RU-NIZ/feed.json?sort=popular",
        "/api/articles?sort=popular&region=RU-NIZ",
        "/regions/RU-NIZ/?sort=popular",
    ];
    let mut tags = Vec::new();
    for path in paths {
        let (status, tag, body) = server.get_tagged(path).await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        tags.push((tag.expect("etag"), body));
    }
    let (_, timeline_tag, _) = server.get_tagged("/feed.rss").await;

    view(client, base, &token, b, 10).await;
    let mut edited = article("a", "RU-NIZ", 1, &[]);
    edited["title"] = json!("Новый заголовок");
    assert_eq!(put(client, base, &token, &edited).await, a);

    for (path, (tag, body)) in paths.iter().zip(&tags) {
        assert_eq!(revalidate(client, base, path, tag).await, 304, "{path}");
        let (status, now_tag, now_body) = server.get_tagged(path).await;
        assert_eq!(status, 200);
        assert_eq!(now_tag.as_ref(), Some(tag), "{path}: same snapshot, same ETag");
        assert_eq!(&now_body, body, "{path}: same ETag, same bytes");
    }
    let (_, _, api) = get_json(client, base, "/api/articles?sort=popular&region=RU-NIZ").await;
    assert_eq!(ids(&api), [a, b], "the snapshot's order until the refresh");
    let (_, timeline_now, _) = server.get_tagged("/feed.rss").await;
    assert_ne!(
        timeline_now, timeline_tag,
        "the edit moved the timeline's validators"
    );
}

/// After a refresh, an edited item shows with a new ETag even when the order is the same: the
/// render cache never serves the old bytes under the new validator or the reverse.
#[tokio::test]
async fn an_edit_shows_at_the_next_refresh_with_a_new_etag() {
    let (server, token) = server(Duration::from_millis(500)).await;
    let (client, base) = (&server.client, server.base.as_str());
    put(client, base, &token, &article("a", "RU-NIZ", 1, &[])).await;
    let path = "/feed.rss?sort=popular";
    let (_, first_tag, first) = server.get_tagged(path).await;
    assert!(String::from_utf8_lossy(&first).contains("Статья a"));
    let mut edited = article("a", "RU-NIZ", 1, &[]);
    edited["title"] = json!("Новый заголовок");
    put(client, base, &token, &edited).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, tag, body) = server.get_tagged(path).await;
    let body = String::from_utf8_lossy(&body).to_string();
    assert!(body.contains("Новый заголовок"), "{body}");
    assert_ne!(tag, first_tag);
    let tag = tag.expect("etag");
    assert_eq!(revalidate(client, base, path, &tag).await, 304);
    let (_, gzip_tag, _) = {
        let res = client
            .get(server.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("GET gzip");
        let tag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().expect("etag").to_string());
        (res.status(), tag, res.bytes().await.expect("body"))
    };
    assert_ne!(
        gzip_tag.as_deref(),
        Some(tag.as_str()),
        "another coding, another strong tag"
    );
}

/// The window is [snapshot time − period, snapshot time]: an older article is out however many
/// views it has, and in once the period reaches it.
#[tokio::test]
async fn the_period_window_excludes_older_articles() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    let (client, base) = (&server.client, server.base.as_str());
    let fresh = put(client, base, &token, &article("fresh", "RU-NIZ", 2, &[])).await;
    let day_old = put(client, base, &token, &article("day", "RU-NIZ", 30, &[])).await;
    let old = put(client, base, &token, &article("old", "RU-NIZ", 10 * 24, &[])).await;
    let ancient = put(client, base, &token, &article("ancient", "RU-NIZ", 40 * 24, &[])).await;
    view(client, base, &token, old, 100).await;
    view(client, base, &token, ancient, 1000).await;
    view(client, base, &token, day_old, 10).await;
    let ranked = |query: &'static str| async move {
        let (status, _, body) = get_json(client, base, &format!("/api/articles?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        ids(&body)
    };
    assert_eq!(ranked("sort=popular&period=1h").await, Vec::<u64>::new());
    assert_eq!(ranked("sort=popular").await, [fresh]);
    assert_eq!(ranked("sort=popular&period=24h").await, [fresh]);
    assert_eq!(ranked("sort=popular&period=7d").await, [day_old, fresh]);
    assert_eq!(ranked("sort=popular&period=30d").await, [old, day_old, fresh]);
    assert_eq!(ranked("sort=popular&period=30d&limit=2").await, [old, day_old]);
    // from/to narrow the window further.
    let since = (Utc::now() - chrono::Duration::hours(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (_, _, body) = get_json(
        client,
        base,
        &format!(
            "/api/articles?sort=popular&period=30d&from={}",
            since.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(ids(&body), [fresh]);
}

/// Region paths, `region=` and `category=` filter the candidates before they are ranked.
#[tokio::test]
async fn region_and_category_filters() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    let (client, base) = (&server.client, server.base.as_str());
    let niz = put(client, base, &token, &article("niz", "RU-NIZ", 1, &["Спорт"])).await;
    let niz2 = put(client, base, &token, &article("niz2", "RU-NIZ", 2, &["Власть"])).await;
    let mow = put(client, base, &token, &article("mow", "RU-MOW", 1, &["Спорт"])).await;
    view(client, base, &token, mow, 50).await;
    view(client, base, &token, niz2, 5).await;
    let (_, _, all) = get_json(client, base, "/feed.json?sort=popular").await;
    assert_eq!(ids(&all), [mow, niz2, niz]);
    let (_, _, region) = get_json(client, base, "/regions/RU-NIZ/feed.json?sort=popular").await;
    assert_eq!(ids(&region), [niz2, niz]);
    let (_, _, api) = get_json(client, base, "/api/articles?region=RU-MOW&sort=popular").await;
    assert_eq!(ids(&api), [mow]);
    let (_, _, sport) = get_json(client, base, "/api/articles?sort=popular&category=спорт").await;
    assert_eq!(ids(&sport), [mow, niz]);
    // The feed names itself: its self link and title carry the ranking.
    assert!(
        region["feed_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/feed.json?region=RU-NIZ&sort=popular&period=1d")),
        "{}",
        region["feed_url"]
    );
    assert!(
        region["title"]
            .as_str()
            .expect("title")
            .contains("самое читаемое за сутки"),
        "{}",
        region["title"]
    );
    assert!(region.get("next_url").is_none(), "a ranking has no next page");
}

/// The region page links its most-read pages, and the most-read page lists the ranking with
/// the ranking's feeds for autodiscovery.
#[tokio::test]
async fn region_pages_link_and_show_the_most_read() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    let (client, base) = (&server.client, server.base.as_str());
    put(client, base, &token, &article("quiet", "RU-NIZ", 1, &[])).await;
    let read = put(client, base, &token, &article("read", "RU-NIZ", 3, &[])).await;
    view(client, base, &token, read, 7).await;
    let (status, page) = server.get_text("/regions/RU-NIZ/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("/regions/RU-NIZ/?sort=popular&amp;period=7d"),
        "the timeline links the most read: {page}"
    );
    let (status, page) = server.get_text("/regions/RU-NIZ/?sort=popular&period=7d").await;
    assert_eq!(status, 200, "{page}");
    let (first, second) = (
        page.find("Статья read").expect("read listed"),
        page.find("Статья quiet").expect("quiet listed"),
    );
    assert!(first < second, "most read first");
    assert!(page.contains("самое читаемое за 7 дн."), "{page}");
    assert!(
        page.contains("type=\"application/rss+xml\"")
            && page.contains("/feed.rss?region=RU-NIZ&amp;limit=30&amp;sort=popular&amp;period=7d"),
        "autodiscovery of the ranking's feed: {page}"
    );
    let (status, empty) = server.get_text("/regions/RU-MOW/?sort=popular").await;
    assert_eq!(status, 200);
    assert!(empty.contains("За этот период статей нет."), "{empty}");
}

/// Bad orders and periods are 400 problems that name what is allowed, on every endpoint; a
/// ranking refuses paging cursors; nothing is a 5xx.
#[tokio::test]
async fn bad_input_is_a_400_naming_what_is_allowed() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    for (external_id, hours_ago) in [("a", 1), ("b", 2)] {
        let body = article(external_id, "RU-NIZ", hours_ago, &[]);
        put(&server.client, &server.base, &token, &body).await;
    }
    // A cursor as a reader gets one: from a timeline's next link.
    let (_, _, page) = get_json(&server.client, &server.base, "/api/articles?limit=1").await;
    let next = page["next"].as_str().expect("next link");
    let cursor = next.split("before=").nth(1).expect("cursor").to_string();
    let cases = [
        ("sort=popular&period=0h", "period", "from 1h to 30d"),
        ("sort=popular&period=1y", "period", "from 1h to 30d"),
        ("sort=popular&period=31d", "period", "from 1h to 30d"),
        ("sort=foo", "sort", "newest (default) or popular"),
        ("period=7d", "period", "only to sort=popular"),
        ("sort=newest&period=24h", "period", "only to sort=popular"),
    ];
    for endpoint in [
        "/feed.rss",
        "/regions/RU-NIZ/feed.atom",
        "/api/articles",
        "/regions/RU-NIZ/",
    ] {
        for (query, field, says) in cases {
            let path = format!("{endpoint}?{query}");
            let problem = server.get_bad_request(&path).await;
            let detail = problem["detail"].as_str().expect("detail");
            assert!(
                detail.contains(field) && detail.contains(says),
                "{path}: {detail}"
            );
        }
    }
    for endpoint in ["/feed.json", "/api/articles"] {
        let path = format!("{endpoint}?sort=popular&before={cursor}");
        let (status, _, problem) = get_json(&server.client, &server.base, &path).await;
        assert_eq!(status, 400, "{path}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not a timeline")),
            "{problem}"
        );
    }
    let (status, _, problem) = get_json(&server.client, &server.base, "/regions/RU-NIZ/?limit=5").await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("only sort and period")),
        "{problem}"
    );
    for hostile in [
        "sort=popular&period=%FF",
        "sort=popular&period=1%00h",
        "sort=POPULAR&period=2D",
        "sort=popular&period=18446744073709551617h",
        "sort=popular&sort=newest",
        "sort=popular&period=1h&period=2h",
        "sort=popular&limit=500&period=30d",
        "sort=&period=",
    ] {
        for endpoint in ["/feed.rss", "/api/articles", "/regions/RU-NIZ/"] {
            let path = format!("{endpoint}?{hostile}");
            let status = server.get(&path).await.status().as_u16();
            assert!(status == 200 || status == 400, "{path}: {status}");
        }
    }
}

/// `--popular-candidates` bounds a ranking's scan: only the newest candidates of the window are
/// ranked, so an older article is out however many views it has.
#[tokio::test]
async fn the_candidate_cap_bounds_the_scan() {
    let server = TestServer::start_with(|s| s.popular_candidates = 2).await;
    let token = server.add_publisher("portal", "");
    let (client, base) = (&server.client, server.base.as_str());
    let newest = put(client, base, &token, &article("n", "RU-NIZ", 1, &[])).await;
    let middle = put(client, base, &token, &article("m", "RU-NIZ", 2, &[])).await;
    let oldest = put(client, base, &token, &article("o", "RU-NIZ", 3, &[])).await;
    view(client, base, &token, oldest, 100).await;
    view(client, base, &token, middle, 1).await;
    let (_, _, body) = get_json(client, base, "/api/articles?sort=popular").await;
    assert_eq!(ids(&body), [middle, newest], "the third-newest is beyond the cap");
}

/// A ranking is computed in the render pool like any cache miss: with its one worker taken and
/// no queue, a ranking not yet held is a 503 with Retry-After, and is served once a worker frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ranking_runs_in_the_render_pool() {
    let server = TestServer::start_with(|s| {
        s.render_pool = lenta::http::pool::PoolLimits {
            workers: 1,
            queue: 0,
            wait: Duration::from_millis(100),
        };
    })
    .await;
    let token = server.add_publisher("portal", "");
    put(
        &server.client,
        &server.base,
        &token,
        &article("a", "RU-NIZ", 1, &[]),
    )
    .await;
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let app = std::sync::Arc::clone(server.app());
    let occupied = tokio::spawn(async move {
        app.renders
            .run(move || {
                let _ = hold.recv_timeout(Duration::from_secs(30));
            })
            .await
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.app().renders.running() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let res = server.get("/api/articles?sort=popular").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    release.send(()).expect("release the worker");
    occupied.await.expect("join").expect("ran");
    let (status, _, body) = get_json(&server.client, &server.base, "/api/articles?sort=popular").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body).len(), 1);
}

/// Many concurrent requests for one ranking, in every format, cost one computation in the
/// refresh interval: the formats share the snapshot of the canonical query. Another period is
/// another ranking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ranking_per_query_per_refresh_however_many_ask() {
    let (server, token) = server(Duration::from_secs(3600)).await;
    let id = put(
        &server.client,
        &server.base,
        &token,
        &article("a", "RU-NIZ", 1, &[]),
    )
    .await;
    let name = "lenta_popular_rankings_total";
    assert_eq!(server.metric(name).await, 0);
    let paths = [
        "/feed.rss?sort=popular",
        "/feed.atom?period=24h&sort=popular",
        "/feed.json?sort=popular&period=1d",
        "/api/articles?sort=popular",
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (client, url) = (server.client.clone(), server.url(paths[i % paths.len()]));
        tasks.spawn(async move { client.get(url).send().await.expect("GET").status().as_u16() });
    }
    assert!(tasks.join_all().await.iter().all(|s| *s == 200));
    assert_eq!(server.metric(name).await, 1, "one ranking for 32 requests");
    view(&server.client, &server.base, &token, id, 3).await;
    let (_, _, body) = get_json(&server.client, &server.base, "/api/articles?sort=popular").await;
    assert_eq!(ids(&body), [id]);
    assert_eq!(
        server.metric(name).await,
        1,
        "views do not recompute before the refresh"
    );
    get_json(
        &server.client,
        &server.base,
        "/api/articles?sort=popular&period=7d",
    )
    .await;
    assert_eq!(server.metric(name).await, 2);
}
