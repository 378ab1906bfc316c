//! Keyword feeds (`q=`) over HTTP against the real server: Russian and English word forms,
//! exclusions, phrases, the feed filters and cursors, validators, the index's life across
//! restarts (a deleted index is rebuilt), withdrawals and scheduled articles, and bad queries;
//! and the index committed on a timer: a write is findable within the commit interval, and a
//! keyword feed's validators move only when a commit makes a write visible.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::TestServer;
use serde_json::{json, Value};

fn article(ext: &str, title: &str, summary: &str, body: &str, region: &str, published_at: &str) -> Value {
    json!({
        "external_id": ext, "title": title, "summary": summary,
        "content_html": format!("<p>{body}</p>"), "published_at": published_at,
        "regions": [region], "categories": ["Город"],
    })
}

/// The corpus most tests search: three forms of «мост» in three fields, a Latin word, a phrase
/// and its words apart, two regions, three days.
fn corpus() -> String {
    [
        article(
            "a",
            "Новый мост открыли",
            "Движение пошло",
            "Открытие в Кстово.",
            "RU-NIZ",
            "2024-05-17T09:00:00+03:00",
        ),
        article(
            "b",
            "Пробки в центре",
            "Проехать по мосту нельзя",
            "Ремонт идёт.",
            "RU-NIZ",
            "2024-05-16T09:00:00+03:00",
        ),
        article(
            "c",
            "Находка",
            "Полиция",
            "Под мостом нашли клад.",
            "RU-MOW",
            "2024-05-15T09:00:00+03:00",
        ),
        article(
            "d",
            "Погода в Кстово",
            "Дожди",
            "Без осадков не обойдётся.",
            "RU-NIZ",
            "2024-05-17T10:00:00+03:00",
        ),
        article(
            "e",
            "Volga bridges reopened",
            "Traffic",
            "Both spans are open.",
            "RU-NIZ",
            "2024-05-17T11:00:00+03:00",
        ),
        article(
            "f",
            "Мост старый, дорога новая",
            "Новый асфальт",
            "Ёлки вдоль дороги.",
            "RU-MOW",
            "2024-05-16T12:00:00+03:00",
        ),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect()
}

/// The commit interval of the servers these tests start (`--search-commit-ms`).
const COMMIT: Duration = Duration::from_millis(50);

/// A server whose keyword index is committed every [`COMMIT`].
async fn server() -> TestServer {
    TestServer::start_with(|s| s.search_commit = COMMIT).await
}

async fn started() -> TestServer {
    let server = server().await;
    let report = server.import(&corpus());
    assert_eq!(report.created, 6, "{:?}", report.rejected);
    settled(&server).await;
    server
}

/// Waits (at most 10 s) until the commit task has committed every write so far: the
/// generations the index's last commit published are the store's. A sync point, not an
/// assertion: what a commit shows is asserted over HTTP.
async fn settled(server: &TestServer) {
    let store = &server.app().store;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let live = store.region_meta("*").generation;
        let published = store
            .search_published()
            .expect("index open")
            .region_meta("*")
            .generation;
        if published == live {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index never committed generation {live} (at {published})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `/api/articles?{query}` (at most 10 s) until it lists `expected`.
async fn until_found(server: &TestServer, query: &str, expected: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = found(server, query).await;
        if got == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{query}: still {got:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// External ids of `/api/articles?{query}`, in order, following no link.
async fn found(server: &TestServer, query: &str) -> Vec<String> {
    let (status, body) = server.get_text(&format!("/api/articles?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let v: Value = serde_json::from_str(&body).expect("JSON");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["external_id"].as_str().expect("external_id").to_string())
        .collect()
}

fn q(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn word_forms_find_each_other_in_every_field() {
    let server = started().await;
    for form in ["мост", "моста", "мостом", "МОСТУ"] {
        assert_eq!(
            found(&server, &format!("q={}", q(form))).await,
            ["a", "f", "b", "c"],
            "{form}"
        );
    }
    for form in ["bridge", "Bridges", "bridged"] {
        assert_eq!(found(&server, &format!("q={form}")).await, ["e"], "{form}");
    }
    // ё is е, and a category is a word too.
    assert_eq!(found(&server, &format!("q={}", q("елки"))).await, ["f"]);
    assert_eq!(
        found(&server, &format!("q={}", q("город кстово"))).await,
        ["d", "a"]
    );
    // Every feed format and the region path take q as well.
    for format in ["rss", "atom", "json"] {
        let (status, body) = server
            .get_text(&format!("/regions/RU-NIZ/feed.{format}?q={}", q("мост")))
            .await;
        assert_eq!(status, 200, "{format}");
        assert!(
            body.contains("Новый мост открыли") && body.contains("Пробки в центре"),
            "{format}: {body}"
        );
        assert!(
            !body.contains("Находка") && !body.contains("Погода"),
            "{format}: {body}"
        );
    }
}

#[tokio::test]
async fn exclusions_and_phrases() {
    let server = started().await;
    assert_eq!(
        found(&server, &format!("q={}", q("мост -кстово"))).await,
        ["f", "b", "c"]
    );
    assert_eq!(
        found(&server, &format!("q={}", q("мост -\"нашли клад\""))).await,
        ["a", "f", "b"]
    );
    assert_eq!(
        found(&server, &format!("q={}", q("мост -\"клад нашли\""))).await,
        ["a", "f", "b", "c"]
    );
    // The phrase needs the words together and in order; the words alone do not.
    assert_eq!(found(&server, &format!("q={}", q("\"новый мост\""))).await, ["a"]);
    assert_eq!(
        found(&server, &format!("q={}", q("новый мост"))).await,
        ["a", "f"]
    );
    assert_eq!(
        found(&server, &format!("q={}", q("\"мост новый\""))).await,
        Vec::<String>::new()
    );
    // A stop word inside a phrase keeps its place: «по мосту» is «проехать по мосту»'s tail.
    assert_eq!(
        found(&server, &format!("q={}", q("\"проехать по мосту\""))).await,
        ["b"]
    );
}

#[tokio::test]
async fn combined_with_region_category_dates_and_limit() {
    let server = started().await;
    let word = q("мост");
    assert_eq!(
        found(&server, &format!("q={word}&region=RU-NIZ")).await,
        ["a", "b"]
    );
    assert_eq!(
        found(&server, &format!("q={word}&region=RU-MOW,RU-NIZ")).await,
        ["a", "f", "b", "c"]
    );
    assert_eq!(
        found(&server, &format!("q={word}&from=2024-05-16&to=2024-05-16")).await,
        ["f", "b"]
    );
    assert_eq!(
        found(&server, &format!("q={word}&region=RU-MOW&to=2024-05-15")).await,
        ["c"]
    );
    assert_eq!(
        found(&server, &format!("q={word}&category={}", q("город"))).await,
        ["a", "f", "b", "c"]
    );
    assert!(found(&server, &format!("q={word}&category=sport"))
        .await
        .is_empty());
    assert_eq!(found(&server, &format!("q={word}&limit=2")).await, ["a", "f"]);
}

#[tokio::test]
async fn paging_is_stable_while_writes_land() {
    let server = server().await;
    let token = server.add_publisher("news", "");
    let lines: String = (0..30)
        .map(|i| {
            let at = format!("2024-05-{:02}T09:00:00+03:00", 1 + i % 20);
            format!(
                "{}\n",
                article(
                    &format!("p{i}"),
                    &format!("Мосты {i}"),
                    "",
                    "текст",
                    "RU-NIZ",
                    &at
                )
            )
        })
        .collect();
    assert_eq!(server.import(&lines).created, 30);
    settled(&server).await;
    let mut seen = Vec::new();
    let mut url = Some(server.url(&format!("/api/articles?q={}&limit=7", q("мост"))));
    let mut page = 0;
    while let Some(next) = url {
        let v = server.json_at(&next).await;
        seen.extend(
            v["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["external_id"].as_str().unwrap().to_string()),
        );
        url = v["next"].as_str().map(str::to_string);
        // A newer and an older matching article land between pages.
        for (ext, at) in [
            ("new", "2024-06-01T09:00:00+03:00"),
            ("old", "2024-04-01T09:00:00+03:00"),
        ] {
            let landing = article(&format!("{ext}{page}"), "Мост", "", "", "RU-NIZ", at);
            assert_eq!(post(&server, &token, &landing).await, 201);
        }
        page += 1;
        assert!(page < 20, "paging does not end");
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "an article repeated across pages: {seen:?}"
    );
    let expected: BTreeSet<String> = (0..30).map(|i| format!("p{i}")).collect();
    let got: BTreeSet<String> = seen.iter().filter(|e| e.starts_with('p')).cloned().collect();
    assert_eq!(got, expected, "missing across pages");
}

#[tokio::test]
async fn validators_follow_visible_writes_and_ignore_spelling() {
    let server = started().await;
    let token = server.add_publisher("news", "");
    let feed = format!("/feed.json?region=RU-NIZ&q={}", q("Мост  КСТОВО"));
    let (status, etag, _) = server.get_tagged(&feed).await;
    assert_eq!(status, 200);
    let etag = etag.expect("etag");
    // The same query in another spelling and order is the same feed: 304.
    let other = format!("/feed.json?q={}&region=ru-niz", q("кстово мост"));
    let res = server
        .client
        .get(server.url(&other))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 304);
    // A write in a region the feed cannot see changes nothing, even if it matches.
    let invisible = article(
        "m1",
        "Мост в Кстово",
        "",
        "",
        "RU-MOW",
        "2024-05-18T09:00:00+03:00",
    );
    assert_eq!(post(&server, &token, &invisible).await, 201);
    settled(&server).await;
    assert_eq!(server.get_tagged(&feed).await.1.as_deref(), Some(etag.as_str()));
    // A matching write in its region: a new ETag, and the body already shows the article.
    let visible = article(
        "n1",
        "Мостом в Кстово займутся",
        "",
        "",
        "RU-NIZ",
        "2024-05-18T09:00:00+03:00",
    );
    assert_eq!(post(&server, &token, &visible).await, 201);
    settled(&server).await;
    let (status, new_etag, body) = server.get_tagged(&feed).await;
    assert_eq!(status, 200);
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    assert!(String::from_utf8_lossy(&body).contains("Мостом в Кстово займутся"));
    // The self link carries the canonical query.
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    let self_url = v["feed_url"].as_str().expect("feed_url");
    assert!(
        self_url.ends_with(&format!("region=RU-NIZ&q={}", q("кстово мост")).replace("%20", "+")),
        "{self_url}"
    );
}

#[tokio::test]
async fn withdrawn_and_scheduled_articles_follow_the_index() {
    let server = started().await;
    let token = server.add_publisher("news", "");
    let soon = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let scheduled = article("s1", "Разводной мост под эмбарго", "", "", "RU-NIZ", &soon);
    assert_eq!(post(&server, &token, &scheduled).await, 201);
    let word = format!("q={}", q("разводной"));
    assert!(
        found(&server, &word).await.is_empty(),
        "a scheduled article is searchable"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while found(&server, &word).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the released article never became searchable"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    withdraw(&server, &token, "s1").await;
    until_found(&server, &word, &[]).await;
}

#[tokio::test]
async fn a_deleted_index_is_rebuilt_on_start() {
    let server = started().await;
    let server = server
        .restart_after(|data| std::fs::remove_dir_all(data.join("search")).expect("remove the index"))
        .await;
    assert_eq!(
        found(&server, &format!("q={}", q("мостом"))).await,
        ["a", "f", "b", "c"]
    );
    // And one that only fell behind (a write it never saw) is caught up.
    let server = server
        .restart_after(|data| {
            let store = lenta::store::Store::open(data, 1 << 20).expect("open");
            let regions = lenta::regions::RegionDirectory::builtin();
            let line = article(
                "z",
                "Мост без индекса",
                "",
                "",
                "RU-NIZ",
                "2024-05-19T09:00:00+03:00",
            );
            lenta::import::import(&store, &regions, "portal", format!("{line}\n").as_bytes(), |_| {})
                .expect("import");
        })
        .await;
    assert_eq!(
        found(&server, &format!("q={}", q("мост"))).await,
        ["z", "a", "f", "b", "c"]
    );
}

#[tokio::test]
async fn bad_queries_get_a_clear_400_or_a_sane_answer() {
    let server = started().await;
    let thousand = (0..1000).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    let seventeen = (0..17).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    let refused = [
        ("", "is empty"),
        ("   ", "is empty"),
        (thousand.as_str(), "at most 256 bytes"),
        (&"я".repeat(5000), "at most 256 bytes"),
        (seventeen.as_str(), "at most 16 words"),
        ("и в на the", "only stop words"),
        ("-мост", "give at least one word to find"),
    ];
    for (text, why) in refused {
        for path in ["/feed.rss", "/api/articles", "/regions/RU-NIZ/feed.atom"] {
            let res = server.get(&format!("{path}?q={}", q(text))).await;
            assert_eq!(res.status(), 400, "{path} q={text:.40}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
            let problem: Value = res.json().await.expect("problem");
            let detail = problem["detail"].as_str().expect("detail");
            assert!(
                detail.contains("q") && detail.contains(why),
                "{text:.40}: {detail}"
            );
        }
    }
    let res = server.get(&format!("/feed.json?q=a&q={}", q("мост"))).await;
    assert_eq!(res.status(), 400);
    // Other engines' operators are plain words; an open quote makes the rest a phrase.
    assert_eq!(
        found(&server, &format!("q={}", q("title:мост AND нов*"))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&server, &format!("q={}", q("title:foo AND bar* ~x ^2 (a OR b)"))).await,
        Vec::<String>::new()
    );
    assert_eq!(found(&server, &format!("q={}", q("мост* открыли~"))).await, ["a"]);
    assert_eq!(
        found(&server, &format!("q={}", q("кстово \"новый мост"))).await,
        ["a"]
    );
    assert_eq!(
        server.get(&format!("/feed.rss?q={}", q("\""))).await.status(),
        400
    );
}

#[tokio::test]
async fn phrases_combine_with_filters_and_exclusions() {
    let server = started().await;
    let phrase = q("\"новый мост\"");
    assert_eq!(found(&server, &format!("q={phrase}&region=RU-NIZ")).await, ["a"]);
    assert_eq!(
        found(&server, &format!("q={phrase}&region=RU-MOW")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(
            &server,
            &format!("q={phrase}&from=2024-05-17&category={}", q("город"))
        )
        .await,
        ["a"]
    );
    assert_eq!(
        found(
            &server,
            &format!(
                "q={}&region=RU-NIZ,RU-MOW",
                q("мост -\"новый мост\" -\"нашли клад\"")
            )
        )
        .await,
        ["f", "b"]
    );
}

#[tokio::test]
async fn the_search_page_lists_matches_and_its_feeds() {
    let server = started().await;
    let (status, home) = server.get_text("/").await;
    assert_eq!(status, 200);
    assert!(
        home.contains("/search\""),
        "the home page does not link the search page"
    );
    let (status, empty) = server.get_text("/search").await;
    assert_eq!(status, 200);
    assert!(
        empty.contains("name=\"q\"") && !empty.contains("Подписаться"),
        "{empty}"
    );

    let (status, page) = server
        .get_text(&format!("/search?q={}&region=RU-NIZ", q("Мостом")))
        .await;
    assert_eq!(status, 200, "{page}");
    let doc = scraper::Html::parse_document(&page);
    let sel = |s: &str| scraper::Selector::parse(s).expect("selector");
    let titles: Vec<String> = doc
        .select(&sel("article h2 a"))
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(titles, ["Новый мост открыли", "Пробки в центре"]);
    let canonical = format!("region=RU-NIZ&q={}", q("мостом"));
    for ext in ["rss", "atom", "json"] {
        let href = format!("{}/feed.{ext}?{canonical}", server.base);
        assert!(
            doc.select(&sel(&format!("a[href=\"{href}\"]"))).next().is_some(),
            "no {ext} link {href}: {page}"
        );
        assert!(
            doc.select(&sel(&format!("link[rel=alternate][href=\"{href}\"]")))
                .next()
                .is_some(),
            "no {ext} autodiscovery"
        );
        // The subscribe link is a working feed with the same items.
        let (status, feed) = server.get_text(&href[server.base.len()..]).await;
        assert_eq!(status, 200);
        assert!(
            feed.contains("Новый мост открыли") && feed.contains("Пробки в центре"),
            "{ext}"
        );
    }
    let res = server.get("/search?q=").await;
    assert_eq!(res.status(), 400);
    let (status, none) = server
        .get_text(&format!("/search?q={}", q("несуществующее")))
        .await;
    assert_eq!(status, 200);
    assert!(none.contains("Ничего не найдено"));
}

#[tokio::test]
async fn import_indexes_and_reindex_rebuilds_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = dir.path().join("corpus.ndjson");
    std::fs::write(&file, corpus()).expect("write corpus");
    let lenta = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lenta"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .expect("run lenta");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    lenta(&["import", file.to_str().expect("path")]);
    // The import committed its index at the end, with the store generation of its one batch:
    // the server will not need to rebuild it.
    let meta: Value =
        serde_json::from_slice(&std::fs::read(data.join("search").join("meta.json")).expect("meta.json"))
            .expect("JSON");
    assert_eq!(meta["payload"], "generation:1", "{meta}");
    let out = lenta(&["reindex"]);
    assert!(out.starts_with("indexed 6 articles in "), "{out}");
    let client = reqwest::Client::new();
    let server = common::ChildServer::start(&data, &[], &client).await;
    let v: Value = client
        .get(format!("{}/api/articles?q={}", server.base, q("мостом")))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let ids: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "f", "b", "c"]);
    server.kill();
}

/// Walks `/api/articles?{query}` through every `next` link; external ids in order.
async fn walk(server: &TestServer, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = Some(server.url(&format!("/api/articles?{query}")));
    for _ in 0..1000 {
        let Some(next) = url else { return out };
        let v = server.json_at(&next).await;
        out.extend(
            v["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["external_id"].as_str().unwrap().to_string()),
        );
        url = v["next"].as_str().map(str::to_string);
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn a_common_word_walked_back_in_day_windows_keeps_the_feed_order() {
    // 240 articles on 240 days, written out of order, all with «мост»: common enough that the
    // search walks back in day windows (see SearchIndex::windows) at small page sizes.
    let server = server().await;
    let regions = ["RU-NIZ", "RU-MOW", "RU-SPE"];
    let day0 = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("date");
    let lines: String = (0..240)
        .map(|k| {
            let i = k * 97 % 240;
            let day = day0 + chrono::Duration::days(i as i64);
            let at = format!("{}T{:02}:00:00+03:00", day.format("%Y-%m-%d"), 8 + i % 10);
            format!(
                "{}\n",
                article(
                    &format!("w{i:03}"),
                    &format!("Мосты {i}"),
                    "",
                    "текст",
                    regions[i % 3],
                    &at
                )
            )
        })
        .collect();
    assert_eq!(server.import(&lines).created, 240);
    settled(&server).await;
    let newest_first = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..240)
            .rev()
            .filter(|i| keep(*i))
            .map(|i| format!("w{i:03}"))
            .collect()
    };
    let word = q("мост");
    assert_eq!(
        walk(&server, &format!("q={word}&limit=5")).await,
        newest_first(&|_| true)
    );
    assert_eq!(
        walk(&server, &format!("q={word}&limit=4&region=RU-MOW")).await,
        newest_first(&|i| i % 3 == 1)
    );
    // Day 100 is 2023-04-11: the date bounds are exact, whatever the windows.
    assert_eq!(
        walk(
            &server,
            &format!("q={word}&limit=3&from=2023-04-01&to=2023-04-11")
        )
        .await,
        newest_first(&|i| (90..=100).contains(&i))
    );
    assert_eq!(
        found(&server, &format!("q={word}&limit=2&to=2023-01-05")).await,
        ["w004", "w003"]
    );
}

/// POSTs `body` as publisher `token`; the status.
async fn post(server: &TestServer, token: &str, body: &Value) -> u16 {
    server.post_article(token, body).await.status().as_u16()
}

#[tokio::test]
async fn a_write_is_findable_within_the_commit_interval() {
    let server = started().await;
    let token = server.add_publisher("news", "");
    let word = format!("q={}", q("переправа"));
    assert!(found(&server, &word).await.is_empty());
    let fresh = article(
        "x1",
        "Переправу открыли",
        "",
        "",
        "RU-NIZ",
        "2024-05-18T09:00:00+03:00",
    );
    assert_eq!(post(&server, &token, &fresh).await, 201);
    // The commit task (every 50 ms here) makes it findable without any other write.
    until_found(&server, &format!("q={}", q("переправы")), &["x1"]).await;
    // An update replaces its document (found once, by its new words only).
    let updated = article(
        "x1",
        "Переправу закрыли",
        "",
        "Паром стоит.",
        "RU-NIZ",
        "2024-05-18T09:00:00+03:00",
    );
    assert_eq!(post(&server, &token, &updated).await, 200);
    until_found(&server, &format!("q={}", q("паром")), &["x1"]).await;
    assert_eq!(found(&server, &word).await, ["x1"]);
    assert!(found(&server, &format!("q={}", q("открыли переправу")))
        .await
        .is_empty());
    // A withdrawal too.
    withdraw(&server, &token, "x1").await;
    until_found(&server, &word, &[]).await;
}

#[tokio::test]
async fn a_keyword_feed_validates_only_what_the_index_has_committed() {
    // A commit interval no test waits for: the index commits only when this test calls the
    // commit the task would run (Store::commit_search).
    let server = TestServer::start_with(|s| s.search_commit = Duration::from_secs(3600)).await;
    assert_eq!(server.import(&corpus()).created, 6);
    assert!(server.app().store.commit_search().expect("commit"));
    let token = server.add_publisher("news", "");
    let keyword = format!("/feed.json?region=RU-NIZ&q={}", q("мост"));
    let plain = "/feed.json?region=RU-NIZ";
    let (status, etag, body) = server.get_tagged(&keyword).await;
    assert_eq!(status, 200);
    let etag = etag.expect("etag");
    let plain_etag = server.get_tagged(plain).await.1.expect("etag");
    let last_modified = |res: &reqwest::Response| res.headers()["last-modified"].clone();
    let before_lm = last_modified(&server.get(&keyword).await);
    assert!(!String::from_utf8_lossy(&body).contains("Мосты чинят ночью"));

    let write = article(
        "m9",
        "Мосты чинят ночью",
        "",
        "",
        "RU-NIZ",
        "2024-05-18T09:00:00+03:00",
    );
    assert_eq!(post(&server, &token, &write).await, 201);
    // The plain feed shows the write at once; the keyword feed keeps its validators (a
    // conditional GET is still a 304) and its body until the index commits the write.
    let (_, plain_now, plain_body) = server.get_tagged(plain).await;
    assert_ne!(plain_now.as_deref(), Some(plain_etag.as_str()));
    assert!(String::from_utf8_lossy(&plain_body).contains("Мосты чинят ночью"));
    let (status, still, body) = server.get_tagged(&keyword).await;
    assert_eq!(status, 200);
    assert_eq!(still.as_deref(), Some(etag.as_str()));
    assert!(!String::from_utf8_lossy(&body).contains("Мосты чинят ночью"));
    let res = server
        .client
        .get(server.url(&keyword))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 304);
    assert_eq!(last_modified(&server.get(&keyword).await), before_lm);

    // The commit makes the write findable: a new ETag, and the body shows it.
    assert!(server.app().store.commit_search().expect("commit"));
    let (status, after, body) = server.get_tagged(&keyword).await;
    assert_eq!(status, 200);
    assert_ne!(after.as_deref(), Some(etag.as_str()));
    assert!(String::from_utf8_lossy(&body).contains("Мосты чинят ночью"));
    let res = server
        .client
        .get(server.url(&keyword))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn q_with_sort_popular_is_refused() {
    let server = started().await;
    for path in ["/feed.rss", "/api/articles"] {
        let res = server.get(&format!("{path}?q={}&sort=popular", q("мост"))).await;
        assert_eq!(res.status(), 400, "{path}");
        let problem: Value = res.json().await.expect("problem");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("not combinable"), "{detail}");
    }
}

/// Withdraws the article `external_id` of the publisher `news` through the API, as `token`.
async fn withdraw(server: &TestServer, token: &str, external_id: &str) {
    let id = server
        .app()
        .store
        .id_by_external("news", external_id)
        .expect("read")
        .expect("id");
    let res = server
        .client
        .delete(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("DELETE");
    assert!(res.status().is_success(), "{}", res.status());
}
