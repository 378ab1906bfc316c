//! Article pages, day pages and dense ids (issue 10, section 1), over HTTP against the real
//! server and a real store.

mod common;

use common::TestServer;
use serde_json::{json, Value};

/// The seed-like fixture's id after importing the fixtures (it is the first line).
async fn seed_id(server: &TestServer) -> u64 {
    let list: Value = server
        .get("/api/articles?region=RU-NIZ&limit=500")
        .await
        .json()
        .await
        .expect("json");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["external_id"] == "kupno-strategic-session-2023-07-20")
        .and_then(|a| a["id"].as_u64())
        .expect("seed-like article")
}

fn select<'a>(doc: &'a scraper::Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = scraper::Selector::parse(css).expect("selector");
    doc.select(&sel).collect()
}

fn meta(doc: &scraper::Html, property: &str) -> String {
    select(doc, &format!("meta[property='{property}']"))
        .first()
        .and_then(|m| m.attr("content"))
        .unwrap_or_else(|| panic!("no {property}"))
        .to_string()
}

fn json_ld(doc: &scraper::Html) -> Value {
    let scripts = select(doc, "script[type='application/ld+json']");
    assert_eq!(scripts.len(), 1, "one JSON-LD block");
    serde_json::from_str(&scripts[0].text().collect::<String>()).expect("JSON-LD parses")
}

#[tokio::test]
async fn article_page_shows_the_article_and_what_previews_read() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    let id = seed_id(&server).await;
    let res = server.get(&format!("/articles/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let body = res.text().await.expect("body");
    let doc = scraper::Html::parse_document(&body);
    assert!(doc.errors.is_empty(), "HTML5 parse errors {:?}", doc.errors);
    assert_eq!(select(&doc, "html")[0].attr("lang"), Some("ru"));
    assert_eq!(select(&doc, "script").len(), 1, "no JavaScript, only JSON-LD");
    let h1: String = select(&doc, "h1")[0].text().collect();
    assert!(h1.starts_with("Заместители глав более 60 регионов"));
    assert!(body.contains("17:26 20.07.2023"), "portal-style local time");
    assert!(body.contains("Сессия по клиентоцентричности началась на площадке КУПНО."));
    assert!(body.contains("<p>Двадцатого июля"), "the sanitized body as HTML");
    assert!(body.contains("Время Н") && body.contains("РИА"), "sources");
    assert!(body.contains("Власть") && body.contains("Общество"), "categories");
    assert!(body.contains("123 просмотра"), "view count");
    let link = "https://news.example.ru/articles/kupno-strategic-session-2023-07-20";
    assert_eq!(select(&doc, "link[rel=canonical]")[0].attr("href"), Some(link));
    assert_eq!(meta(&doc, "og:type"), "article");
    assert_eq!(meta(&doc, "og:url"), link);
    assert!(meta(&doc, "og:title").starts_with("Заместители глав"));
    assert_eq!(
        meta(&doc, "og:description"),
        "Сессия по клиентоцентричности началась на площадке КУПНО."
    );
    assert_eq!(meta(&doc, "article:published_time"), "2023-07-20T17:26:00+03:00");
    assert_eq!(meta(&doc, "article:section"), "Власть");
    let ld = json_ld(&doc);
    assert_eq!(ld["@type"], "NewsArticle");
    assert!(ld["headline"]
        .as_str()
        .expect("headline")
        .starts_with("Заместители"));
    assert_eq!(ld["datePublished"], "2023-07-20T17:26:00+03:00");
    assert!(ld["dateModified"].is_string());
    assert_eq!(ld["publisher"]["@type"], "Organization");
    assert!(ld["author"]["name"].is_string());
    // Region link, subscribe links and autodiscovery of the region's feeds.
    assert!(select(&doc, "a")
        .iter()
        .any(|a| a.attr("href") == Some(&*server.url("/regions/RU-NIZ/"))));
    for t in [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    ] {
        let links = select(&doc, &format!("head link[rel=alternate][type='{t}']"));
        let href = links[0].attr("href").expect("href");
        assert!(href.contains("region=RU-NIZ"), "{href}");
        assert_eq!(server.client.get(href).send().await.expect("feed").status(), 200);
    }
    // The month calendar: July 2023, its one day with an article linking that day's page.
    let days: Vec<String> = select(&doc, "table.month td a")
        .iter()
        .map(|a| a.attr("href").unwrap_or("").to_string())
        .collect();
    assert_eq!(days, [server.url("/days/2023-07-20?region=RU-NIZ")]);
    let (status, day) = server.get_text("/days/2023-07-20?region=RU-NIZ").await;
    assert_eq!(status, 200);
    assert!(
        day.contains(&format!("/articles/{id}\"")),
        "the day page links the article"
    );

    // Conditional GET: validators from the data, a 304 until the article changes.
    let again = server
        .client
        .get(server.url(&format!("/articles/{id}")))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 304);
    let head = server
        .client
        .head(server.url(&format!("/articles/{id}")))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().expect("etag"), etag);
    // Links shared through social networks come back with tracking parameters: same page.
    let shared = server
        .client
        .get(server.url(&format!("/articles/{id}?utm_source=vk&fbclid=abc")))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(
        shared.status(),
        304,
        "the query does not change the page or its validators"
    );
    // Home and region pages offer every region's feeds at once (OPML).
    assert!(server.get_text("/").await.1.contains("/feeds.opml\""));
    assert!(server
        .get_text("/regions/RU-NIZ/")
        .await
        .1
        .contains("/feeds.opml?region=RU-NIZ\""));
}

#[tokio::test]
async fn hostile_text_cannot_break_out_of_the_page_or_the_json_ld() {
    let server = TestServer::start().await;
    let hostile = "</script><script>alert(1)</script><!-- \"x\" & 'y'";
    let line = json!({
        "external_id": "hostile", "title": hostile, "summary": hostile, "author": hostile,
        "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-MOW"],
        "categories": ["Власть"], "sources": [{"name": hostile, "url": "https://e.ru/?a=1&b=2"}],
        "image": {"url": "https://e.ru/i.jpg", "type": "image/jpeg", "caption": hostile},
    });
    assert_eq!(server.import(&format!("{line}\n")).created, 1);
    let (status, body) = server.get_text("/articles/1").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&body);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    assert_eq!(select(&doc, "script").len(), 1, "no injected script element");
    assert!(!body.contains("<script>alert"), "{body}");
    let ld = json_ld(&doc);
    assert_eq!(ld["headline"], hostile, "the headline survives exactly");
    assert_eq!(ld["author"]["name"], hostile);
    let h1: String = select(&doc, "h1")[0].text().collect();
    assert_eq!(h1, hostile);
    assert!(
        select(&doc, "link[rel=canonical]").is_empty(),
        "no publisher link, no canonical"
    );
    assert_eq!(meta(&doc, "og:url"), server.url("/articles/1"));
    // The image, its caption under it and as its alt text, in OpenGraph and JSON-LD.
    let img = select(&doc, "figure img");
    assert_eq!(img[0].attr("src"), Some("https://e.ru/i.jpg"));
    assert_eq!(img[0].attr("alt"), Some(hostile));
    let caption: String = select(&doc, "figure figcaption")[0].text().collect();
    assert_eq!(caption, hostile);
    assert_eq!(meta(&doc, "og:image"), "https://e.ru/i.jpg");
    assert_eq!(ld["image"][0], "https://e.ru/i.jpg");
    // A source with a URL is linked.
    let source = select(&doc, "a[rel=nofollow]");
    assert_eq!(source[0].attr("href"), Some("https://e.ru/?a=1&b=2"));
    let api: Value = server.get("/api/articles/1").await.json().await.expect("json");
    assert_eq!(api["image"]["caption"], hostile, "the API returns the caption");
}

/// GET as a browser asks (`Accept: text/html,…`).
async fn browser(server: &TestServer, path: String) -> reqwest::Response {
    server
        .client
        .get(server.url(&path))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("GET")
}

#[tokio::test]
async fn unknown_ids_are_404_and_withdrawn_articles_410_across_a_restart() {
    let server = TestServer::start().await;
    let token = server.add_publisher("vremya-n", "RU-NIZ");
    let article = json!({"external_id": "a-1", "title": "Снимем", "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"]});
    let created: Value = server
        .client
        .post(server.url("/api/articles"))
        .bearer_auth(&token)
        .json(&article)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_u64().expect("id");
    assert_eq!(server.get(&format!("/articles/{id}")).await.status(), 200);

    let missing = browser(&server, format!("/articles/{}", id + 1)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "text/html; charset=utf-8");
    assert!(missing.text().await.expect("body").contains("Статья не найдена"));
    let missing = server.get(&format!("/articles/{}", id + 1)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    let deleted = server
        .client
        .delete(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    let server = server.restart().await;
    let gone = browser(&server, format!("/articles/{id}")).await;
    assert_eq!(gone.status(), 410);
    assert!(gone
        .text()
        .await
        .expect("body")
        .contains("Статья снята с публикации"));
    let gone: Value = server
        .get(&format!("/articles/{id}"))
        .await
        .json()
        .await
        .expect("problem");
    assert_eq!(gone["status"], 410);
    assert!(gone["detail"].as_str().expect("detail").contains("withdrawn"));
    assert_eq!(server.get(&format!("/articles/{}", id + 1)).await.status(), 404);
    // The tombstone is part of a consistent store, and its id is never given out again.
    let app = server.app();
    assert_eq!(
        app.store.check(&app.regions).expect("check"),
        Vec::<String>::new()
    );
    assert_eq!(app.store.next_id(), id + 1);
}

#[tokio::test]
async fn day_pages_list_the_local_day_and_refuse_bad_requests() {
    let server = TestServer::start().await;
    let line = |ext: &str, at: &str, region: &str| {
        format!(
            "{}\n",
            json!({"external_id": ext, "title": ext, "published_at": at, "regions": [region]})
        )
    };
    let ndjson = [
        // 23:30 UTC on May 16 is May 17 in Moscow.
        line("early", "2024-05-16T23:30:00Z", "RU-MOW"),
        line("noon", "2024-05-17T12:00:00+03:00", "RU-NIZ"),
        line("next-day", "2024-05-17T21:30:00Z", "RU-MOW"),
    ]
    .concat();
    assert_eq!(server.import(&ndjson).created, 3);
    let titles = |body: &str| -> Vec<String> {
        let doc = scraper::Html::parse_document(body);
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        select(&doc, "article h2 a")
            .iter()
            .map(|a| a.text().collect())
            .collect()
    };
    let (status, all) = server.get_text("/days/2024-05-17").await;
    assert_eq!(status, 200);
    assert_eq!(titles(&all), ["noon", "early"]);
    let (_, mow) = server.get_text("/days/2024-05-17?region=ru-mow").await;
    assert_eq!(titles(&mow), ["early"]);
    assert!(mow.contains("from=2024-05-17"), "links the day's feeds");
    let (status, empty) = server.get_text("/days/2020-01-01").await;
    assert_eq!(status, 200);
    assert!(titles(&empty).is_empty());
    for bad in [
        "/days/2024-5-17",
        "/days/2024-02-30",
        "/days/+2024-05-17",
        "/days/2024-05-17?region=XX",
        "/days/2024-05-17?limit=3",
    ] {
        let res = server.get(bad).await;
        assert_eq!(res.status(), 400, "{bad}");
        let problem: Value = res.json().await.expect("problem");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{bad}");
    }
    // Calendars link day pages.
    let (_, calendar) = server.get_text("/calendar/2024-05?region=RU-MOW").await;
    assert!(calendar.contains(&server.url("/days/2024-05-17?region=RU-MOW")));
    assert!(calendar.contains(&server.url("/days/2024-05-18?region=RU-MOW")));
}

/// The extreme dates the API accepts: the earliest still makes an article page, its calendar and
/// day link; the latest is scheduled (published in the future, see tests/embargo.rs), so it has
/// no page yet (404) and its day page does not list it.
#[tokio::test]
async fn article_pages_at_the_ends_of_the_accepted_dates() {
    let server = TestServer::start().await;
    let ndjson: String = ["1900-01-02T00:00:00Z", "9999-12-30T00:00:00Z"]
        .iter()
        .enumerate()
        .map(|(i, at)| {
            format!(
                "{}\n",
                json!({"external_id": format!("edge-{i}"), "title": format!("edge {i}"), "published_at": at, "regions": ["RU-KGD"]})
            )
        })
        .collect();
    assert_eq!(server.import(&ndjson).created, 2);
    let (status, body) = server.get_text("/articles/2").await;
    assert_eq!(status, 404, "a scheduled article has no page: {body}");
    let (status, body) = server.get_text("/days/9999-12-30").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("edge 1"),
        "a scheduled article is on no day page: {body}"
    );
    let (status, body) = server.get_text("/articles/1").await;
    assert_eq!(status, 200, "{body}");
    let doc = scraper::Html::parse_document(&body);
    let day = select(&doc, "table.month td a")[0]
        .attr("href")
        .expect("day link")
        .to_string();
    assert_eq!(
        server.client.get(&day).send().await.expect("day").status(),
        200,
        "{day}"
    );
}

/// Every `<link>`/`url` a reader or partner gets that points into lenta answers 200.
#[tokio::test]
async fn every_item_link_and_api_url_of_the_demo_corpus_resolves() {
    let server = TestServer::start().await;
    let report = server.import(&common::corpus(300, 7));
    assert!(report.created > 250, "{report:?}");
    let mut urls = std::collections::BTreeSet::new();
    for format in ["rss", "atom", "json"] {
        let (_, body) = server.get_text(&format!("/feed.{format}?limit=500")).await;
        if format == "json" {
            let feed: Value = serde_json::from_str(&body).expect("json");
            for item in feed["items"].as_array().expect("items") {
                urls.insert(item["url"].as_str().expect("url").to_string());
            }
        } else {
            let doc = common::strict_xml(&body);
            for n in doc.descendants() {
                if n.has_tag_name("item") {
                    let link = n
                        .children()
                        .find(|c| c.has_tag_name("link"))
                        .and_then(|c| c.text());
                    urls.insert(link.expect("item link").to_string());
                }
                if n.has_tag_name("entry") {
                    for l in n.children().filter(|c| c.has_tag_name("link")) {
                        if l.attribute("rel").unwrap_or("alternate") == "alternate" {
                            urls.insert(l.attribute("href").expect("href").to_string());
                        }
                    }
                }
            }
        }
    }
    let api: Value = server
        .get("/api/articles?limit=500")
        .await
        .json()
        .await
        .expect("json");
    let items = api["items"].as_array().expect("items");
    assert_eq!(items.len() as u64, server.app().store.article_count());
    let mut own_links = std::collections::BTreeSet::new();
    for item in items {
        urls.insert(item["url"].as_str().expect("url").to_string());
        if let Some(link) = item["link"].as_str() {
            own_links.insert(link.to_string());
        }
    }
    assert_eq!(
        urls.len(),
        items.len(),
        "one URL per article, the same in every format"
    );
    // The publisher's own pages (the seed-like article's) are outside this test's loopback
    // world; every other URL is lenta's article page.
    let ours: Vec<&String> = urls.iter().filter(|u| !own_links.contains(*u)).collect();
    assert!(ours.len() > 250);
    for url in ours {
        assert!(url.starts_with(&server.base), "{url}");
        let res = server.client.get(url).send().await.expect("GET");
        assert_eq!(res.status(), 200, "{url}");
    }
}

/// Ids are dense across opens of the store (sled's generate_id skipped a million per open).
#[tokio::test]
async fn ids_stay_dense_across_restarts() {
    let mut server = TestServer::start().await;
    let mut ids = Vec::new();
    for round in 0..4 {
        let line = json!({"external_id": format!("r{round}"), "title": "t",
            "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-NIZ"]});
        assert_eq!(server.import(&format!("{line}\n")).created, 1);
        ids.push(
            server
                .app()
                .store
                .id_by_external("portal", &format!("r{round}"))
                .expect("read")
                .expect("id"),
        );
        assert_eq!(
            server.app().store.next_id(),
            ids[ids.len() - 1] + 1,
            "next id = max + 1"
        );
        server = server.restart().await;
    }
    assert_eq!(ids, [1, 2, 3, 4]);
    let (status, _) = server.get_text("/articles/4").await;
    assert_eq!(status, 200);
}
