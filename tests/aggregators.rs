//! What aggregators and search engines read (issue 11): sitemaps and `robots.txt`, over HTTP
//! against the real server and a real store.

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use common::{strict_xml, TestServer};
use serde_json::json;

const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const NEWS_NS: &str = "http://www.google.com/schemas/sitemap-news/0.9";

/// One NDJSON article line published at `at`, optionally with a publisher `link`.
fn line(external_id: &str, at: &str, link: Option<&str>) -> String {
    let mut v = json!({
        "external_id": external_id,
        "title": format!("Заголовок <{external_id}> & «кавычки»"),
        "published_at": at,
        "regions": ["RU-NIZ"],
    });
    if let Some(link) = link {
        v["link"] = json!(link);
    }
    format!("{v}\n")
}

/// The stored id of the portal's article `external_id`.
fn id_of(server: &TestServer, external_id: &str) -> u64 {
    server
        .app()
        .store
        .id_by_external("portal", external_id)
        .expect("store")
        .expect("imported")
}

/// The stored `updated_at` of `id`, as a sitemap writes it.
fn lastmod_of(server: &TestServer, id: u64) -> String {
    let article = server.app().store.get(id).expect("store").expect("article");
    w3c(article.updated_at)
}

fn w3c(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `(loc, lastmod)` of every entry (`sitemap` or `url`) of a sitemap document, checking that
/// the root is `root` in the sitemaps namespace and the document well-formed.
fn entries(body: &str, root: &str, entry: &str) -> Vec<(String, String)> {
    let doc = strict_xml(body);
    let top = doc.root_element();
    assert_eq!(top.tag_name().name(), root, "{body}");
    assert_eq!(top.tag_name().namespace(), Some(SITEMAP_NS), "{body}");
    top.children()
        .filter(|n| n.is_element())
        .map(|n| {
            assert_eq!(n.tag_name().name(), entry);
            let text = |name: &str| {
                n.children()
                    .find(|c| c.tag_name().name() == name)
                    .and_then(|c| c.text())
                    .unwrap_or_else(|| panic!("{entry} without {name}: {body}"))
                    .to_string()
            };
            (text("loc"), text("lastmod"))
        })
        .collect()
}

/// A store with three portal pages in March 2026 (Moscow time), one just after midnight of
/// 1 April in Moscow (still 31 March in UTC), and one May article with a publisher link (its
/// canonical page is elsewhere, so it is not listed); months split after two URLs. The base URL
/// has a path with `&` and `'`, which every `loc` must carry escaped.
async fn archive() -> TestServer {
    let server = TestServer::start_with(|s| {
        s.sitemap_max_urls = 2;
        s.base_url = format!("http://{}/a&b'c", s.addr);
    })
    .await;
    let ndjson = [
        line("m1", "2026-03-01T00:00:00+03:00", None),
        line("m2", "2026-03-15T12:00:00+03:00", None),
        line("m3", "2026-03-31T23:59:59+03:00", None),
        line("a1", "2026-03-31T21:30:00Z", None),
        line(
            "linked",
            "2026-05-02T10:00:00+03:00",
            Some("https://other.example/x"),
        ),
    ]
    .concat();
    let report = server.import(&ndjson);
    assert_eq!((report.created, report.rejected.len()), (5, 0), "{report:?}");
    server
}

#[tokio::test]
async fn the_index_lists_every_month_split_at_the_cap_with_lastmod_from_the_data() {
    let server = archive().await;
    let base = server.app().settings.base_url.clone();
    let res = server.get("/sitemap.xml").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/xml; charset=utf-8");
    let body = res.text().await.expect("body");
    assert!(
        body.contains("/a&amp;b&#39;c/sitemap-2026"),
        "escaped base URL: {body}"
    );
    let (m1, m2, m3, a1) = (
        id_of(&server, "m1"),
        id_of(&server, "m2"),
        id_of(&server, "m3"),
        id_of(&server, "a1"),
    );
    let newest = |ids: &[u64]| ids.iter().map(|id| lastmod_of(&server, *id)).max().expect("ids");
    assert_eq!(
        entries(&body, "sitemapindex", "sitemap"),
        vec![
            (format!("{base}/sitemap-2026-04.xml"), newest(&[a1])),
            (format!("{base}/sitemap-2026-03.2.xml"), newest(&[m3])),
            (format!("{base}/sitemap-2026-03.xml"), newest(&[m1, m2])),
        ],
        "newest month first, March split after two pages, no May (only a linked article)"
    );

    let urls = |ids: &[u64]| -> Vec<(String, String)> {
        ids.iter()
            .map(|id| (format!("{base}/articles/{id}"), lastmod_of(&server, *id)))
            .collect()
    };
    for (file, ids) in [
        ("2026-03.xml", vec![m1, m2]),
        ("2026-03.2.xml", vec![m3]),
        ("2026-04.xml", vec![a1]),
    ] {
        let (status, body) = server.get_text(&format!("/sitemap-{file}")).await;
        assert_eq!(status, 200, "{file}: {body}");
        assert_eq!(entries(&body, "urlset", "url"), urls(&ids), "{file}");
    }
    // Every listed page exists (the base URL's path is only in the links; pages are at the root).
    for id in [m1, m2, m3, a1] {
        assert_eq!(server.get(&format!("/articles/{id}")).await.status(), 200);
    }
}

#[tokio::test]
async fn names_that_are_no_sitemap_are_404_and_queries_400() {
    let server = archive().await;
    for path in [
        "/sitemap-2026-05.xml",
        "/sitemap-2026-03.3.xml",
        "/sitemap-2026-03.1.xml",
        "/sitemap-2026-3.xml",
        "/sitemap-2026-13.xml",
        "/sitemap-2026-03.02.xml",
        "/sitemap-2026-03",
        "/sitemap-",
        "/sitemaps/2026-03.xml",
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    for path in ["/sitemap.xml?x=1", "/robots.txt?a", "/sitemap-2026-03.xml?page=2"] {
        let (status, body) = server.get_text(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.contains("takes no query parameters"), "{path}: {body}");
    }
    assert_eq!(server.get("/sitemap.xml").await.status(), 200, "still serving");
}

#[tokio::test]
async fn robots_txt_names_the_sitemap_index() {
    let server = archive().await;
    let base = server.app().settings.base_url.clone();
    let res = server.get("/robots.txt").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    let body = res.text().await.expect("body");
    assert!(body.starts_with("User-agent: *\n"), "{body}");
    let sitemaps: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("Sitemap: ")).collect();
    assert_eq!(
        sitemaps,
        vec![format!("{base}/sitemap.xml"), format!("{base}/sitemap-news.xml")]
    );
}

#[tokio::test]
async fn sitemaps_revalidate_until_a_write_changes_them() {
    let server = archive().await;
    for path in ["/sitemap.xml", "/sitemap-2026-03.xml", "/robots.txt"] {
        let first = server.get(path).await;
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers()["etag"].to_str().expect("etag").to_string();
        let again = server
            .client
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().expect("etag"), etag, "{path}");
    }
    let (_, before, old) = server.get_tagged("/sitemap.xml").await;
    server.import(&line("j1", "2026-01-10T10:00:00+03:00", None));
    let (status, after, new) = server.get_tagged("/sitemap.xml").await;
    assert_eq!(status, 200);
    assert_ne!(before, after, "a write changes the validator");
    let new = String::from_utf8(new).expect("utf-8");
    assert!(new.contains("/sitemap-2026-01.xml"), "{new}");
    assert!(!String::from_utf8(old).expect("utf-8").contains("2026-01.xml"));
    let gz = server
        .client
        .get(server.url("/sitemap.xml"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("GET");
    assert_eq!(gz.headers()["content-encoding"], "gzip");
}

/// An RFC 3339 instant `secs` seconds from now, in Moscow time, to the second.
fn from_now(secs: i64) -> String {
    let at = Utc::now() + chrono::Duration::seconds(secs);
    at.with_timezone(&chrono_tz::Europe::Moscow)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// What each `url` of a news sitemap says: `(loc, name, language, publication_date, title)`.
fn news_entries(body: &str) -> Vec<(String, String, String, String, String)> {
    let doc = strict_xml(body);
    let top = doc.root_element();
    assert_eq!(top.tag_name().name(), "urlset", "{body}");
    assert_eq!(top.tag_name().namespace(), Some(SITEMAP_NS), "{body}");
    let text = |node: roxmltree::Node, ns: &str, name: &str| -> String {
        node.descendants()
            .find(|c| c.tag_name().name() == name && c.tag_name().namespace() == Some(ns))
            .and_then(|c| c.text())
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_string()
    };
    top.children()
        .filter(|n| n.is_element())
        .map(|url| {
            (
                text(url, SITEMAP_NS, "loc"),
                text(url, NEWS_NS, "name"),
                text(url, NEWS_NS, "language"),
                text(url, NEWS_NS, "publication_date"),
                text(url, NEWS_NS, "title"),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_news_sitemap_lists_the_window_and_its_validators_change_only_when_an_item_leaves() {
    // A 10-second window: `leaving` is 1 s old and leaves 9 s from now.
    let server = TestServer::start_with(|s| s.news_window = Duration::from_secs(10)).await;
    let base = server.base.clone();
    let (old, leaving, future) = (from_now(-60), from_now(-1), from_now(3600));
    let ndjson = [
        line("old", &old, None),
        line("leaving", &leaving, None),
        line("future", &future, None),
        line("linked", &from_now(-1), Some("https://other.example/x")),
    ]
    .concat();
    assert_eq!(server.import(&ndjson).created, 4);
    let started = std::time::Instant::now();
    // `future` is scheduled (published an hour from now): in no public document until then.
    let leaving_id = id_of(&server, "leaving");
    let portal = server.app().settings.portal_name.clone();
    let entry = |id: u64, at: &str, ext: &str| {
        (
            format!("{base}/articles/{id}"),
            portal.clone(),
            "ru".to_string(),
            at.to_string(),
            format!("Заголовок <{ext}> & «кавычки»"),
        )
    };

    let res = server.get("/sitemap-news.xml").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/xml; charset=utf-8");
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let modified = res.headers()["last-modified"].to_str().expect("lm").to_string();
    let body = res.text().await.expect("body");
    assert_eq!(
        news_entries(&body),
        vec![entry(leaving_id, &leaving, "leaving")],
        "the old, the linked and the scheduled article left out"
    );

    // The clock alone changes nothing; once `leaving` has left, the validators change and the
    // sitemap drops it.
    common::assert_validators_follow_the_window(
        &server,
        "/sitemap-news.xml",
        started,
        (&etag, &modified),
        |body| news_entries(body).len(),
    )
    .await;
}

#[tokio::test]
async fn the_news_sitemap_lists_at_most_1000_and_may_be_empty() {
    let server = TestServer::start().await;
    let (status, body) = server.get_text("/sitemap-news.xml").await;
    assert_eq!(status, 200);
    assert!(news_entries(&body).is_empty(), "{body}");

    let ndjson: String = (0..1001)
        .map(|i| line(&format!("n{i}"), &from_now(-3600 - i), None))
        .collect();
    assert_eq!(server.import(&ndjson).created, 1001);
    let (status, body) = server.get_text("/sitemap-news.xml").await;
    assert_eq!(status, 200);
    let listed = news_entries(&body);
    assert_eq!(listed.len(), 1000);
    let newest = id_of(&server, "n0");
    assert_eq!(listed[0].0, format!("{}/articles/{newest}", server.base));
    let oldest = id_of(&server, "n1000");
    assert!(
        !body.contains(&format!("/articles/{oldest}<")),
        "the oldest is cut"
    );
}

#[tokio::test]
async fn the_yandex_feed_carries_full_text_and_the_window_per_region() {
    let server = TestServer::start_with(|s| s.yandex_window = Duration::from_secs(3600)).await;
    let full = json!({
        "external_id": "full",
        "title": "Мост <открыт> & «готов»",
        "summary": "Лид & подробности",
        "content_html": "<p>Первый &amp; абзац <b>жирный</b> &lt;тег&gt;</p><script>alert(1)</script><p>Второй <a href=\"https://example.org/\">абзац</a></p>",
        "published_at": from_now(-600),
        "regions": ["RU-NIZ"],
        "categories": ["Транспорт"],
        "author": "Иван Петров",
        "image": {"url": "https://img.example.org/a.jpg?w=1&h=2", "type": "image/jpeg", "length": 1234},
    });
    let ndjson = [
        format!("{full}\n"),
        line("moscow", &from_now(-300), None),
        line("old", &from_now(-7200), None),
    ]
    .concat();
    assert_eq!(server.import(&ndjson).created, 3);
    let (full_id, moscow_id) = (id_of(&server, "full"), id_of(&server, "moscow"));

    let res = server.get("/yandex.rss").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let body = res.text().await.expect("body");
    let doc = strict_xml(&body);
    let yandex = "http://news.yandex.ru";
    let channel = doc
        .root_element()
        .children()
        .find(|n| n.has_tag_name("channel"))
        .expect("channel");
    let logos: Vec<Option<&str>> = channel
        .children()
        .filter(|n| n.has_tag_name((yandex, "logo")))
        .map(|n| n.attribute("type"))
        .collect();
    assert_eq!(logos, vec![None, Some("square")], "{body}");
    let items: Vec<roxmltree::Node> = channel.children().filter(|n| n.has_tag_name("item")).collect();
    assert_eq!(items.len(), 2, "{body}");
    let text = |item: &roxmltree::Node, (ns, local): (&str, &str)| -> Option<String> {
        let ns = (!ns.is_empty()).then_some(ns);
        item.children()
            .find(|n| n.tag_name().name() == local && n.tag_name().namespace() == ns)
            .map(|n| n.text().unwrap_or("").to_string())
    };
    let links: Vec<String> = items.iter().filter_map(|i| text(i, ("", "link"))).collect();
    assert_eq!(
        links,
        vec![
            format!("{}/articles/{moscow_id}", server.base),
            format!("{}/articles/{full_id}", server.base)
        ],
        "newest first, the 2-hour-old article outside the 1-hour window (both are RU-NIZ)"
    );
    let item = &items[1];
    assert_eq!(
        text(item, ("", "title")).as_deref(),
        Some("Мост <открыт> & «готов»")
    );
    assert_eq!(
        text(item, ("", "description")).as_deref(),
        Some("Лид & подробности")
    );
    assert_eq!(text(item, ("", "author")).as_deref(), Some("Иван Петров"));
    let pub_date = text(item, ("", "pubDate")).expect("pubDate");
    assert!(pub_date.ends_with(" +0300"), "numeric offset: {pub_date}");
    assert!(DateTime::parse_from_rfc2822(&pub_date).is_ok(), "{pub_date}");
    let categories: Vec<String> = item
        .children()
        .filter(|n| n.has_tag_name("category"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    assert_eq!(categories, vec!["Нижегородская область", "Транспорт"]);
    let enclosure = item
        .children()
        .find(|n| n.has_tag_name("enclosure"))
        .expect("enclosure");
    assert_eq!(
        enclosure.attribute("url"),
        Some("https://img.example.org/a.jpg?w=1&h=2")
    );
    assert_eq!(enclosure.attribute("type"), Some("image/jpeg"));
    assert_eq!(
        text(item, (yandex, "full-text")).as_deref(),
        Some("Первый & абзац жирный <тег>\nВторой абзац"),
        "plain text, scripts dropped, entities decoded once"
    );
    // An article stored without a body or a lead: its full text is its title, never an empty
    // element (yandex.rng refuses one; the feed used to write `<yandex:full-text></…>`).
    assert_eq!(
        text(&items[0], (yandex, "full-text")).as_deref(),
        Some("Заголовок <moscow> & «кавычки»"),
        "{body}"
    );

    let (status, body) = server.get_text("/regions/RU-MOW/yandex.rss").await;
    assert_eq!(status, 200);
    assert!(!body.contains("<item>"), "no Moscow article: {body}");
    let (status, body) = server.get_text("/regions/RU-NIZ/yandex.rss").await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("<item>").count(), 2, "{body}");
    assert_eq!(server.get("/regions/XX-NOPE/yandex.rss").await.status(), 404);

    let again = server
        .client
        .get(server.url("/yandex.rss"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 304);
}

/// Imports one line as `publisher` (an accredited outside publisher writes through the API in
/// production; the import is the same write path).
fn import_as(server: &TestServer, publisher: &str, ndjson: &str) {
    let app = server.app();
    let report = lenta::import::import(&app.store, &app.regions, publisher, ndjson.as_bytes(), |_| {})
        .expect("import");
    assert_eq!(report.created, 1, "{report:?}");
}

#[tokio::test]
async fn outside_publishers_stay_out_of_the_yandex_feed_unless_allowed() {
    let server = TestServer::start_with(|s| s.admin_token = Some("admin-secret".into())).await;
    server.import(&line("own", &from_now(-60), None));
    server.add_publisher("agency", "");
    let allowed = server
        .client
        .post(server.url("/api/publishers"))
        .bearer_auth("admin-secret")
        .json(&json!({"name": "partner", "syndicate": true}))
        .send()
        .await
        .expect("POST");
    assert_eq!(allowed.status(), 201);
    import_as(&server, "agency", &line("from-agency", &from_now(-30), None));
    import_as(&server, "partner", &line("from-partner", &from_now(-20), None));
    let shown = |body: &str| -> Vec<String> {
        [
            ("portal", "own"),
            ("agency", "from-agency"),
            ("partner", "from-partner"),
        ]
        .into_iter()
        .filter(|(publisher, ext)| {
            let id = server.app().store.id_by_external(publisher, ext).expect("store");
            body.contains(&format!("/articles/{}<", id.expect("imported")))
        })
        .map(|(_, ext)| ext.to_string())
        .collect()
    };
    let (status, etag, body) = server.get_tagged("/yandex.rss").await;
    assert_eq!(status, 200);
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(shown(&body), vec!["own", "from-partner"], "{body}");

    // Allowing the agency changes the feed (and its ETag) without any article write.
    let app = server.app();
    lenta::auth::revoke(&app.store, "agency").expect("revoke");
    lenta::auth::add(&app.store, "agency", None, true).expect("re-accredit");
    let (_, etag_after, body) = server.get_tagged("/yandex.rss").await;
    assert_ne!(etag, etag_after);
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(shown(&body), vec!["own", "from-agency", "from-partner"], "{body}");

    let refused = server
        .client
        .post(server.url("/api/publishers"))
        .bearer_auth("admin-secret")
        .json(&json!({"name": "other", "syndicate": "yes"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        refused.status(),
        422,
        "invalid field, as the API answers every invalid field"
    );
    let problem: serde_json::Value = refused.json().await.expect("problem");
    assert!(problem.to_string().contains("expected true"), "{problem}");
}

/// The home page points aggregators and search engines at their documents, and each answers.
#[tokio::test]
async fn the_home_page_links_every_aggregator_document() {
    let server = TestServer::start().await;
    let (status, page) = server.get_text("/").await;
    assert_eq!(status, 200);
    let doc = scraper::Html::parse_document(&page);
    let links = scraper::Selector::parse("a[href]").expect("selector");
    let hrefs: Vec<String> = doc
        .select(&links)
        .filter_map(|a| a.value().attr("href").map(str::to_string))
        .collect();
    for path in [
        "/yandex.rss",
        "/dzen.rss",
        "/sitemap-news.xml",
        "/sitemap.xml",
        "/robots.txt",
    ] {
        let href = hrefs
            .iter()
            .find(|h| h.ends_with(path))
            .unwrap_or_else(|| panic!("no link to {path} in {hrefs:?}"));
        let res = server.client.get(href).send().await.expect("GET");
        assert_eq!(res.status(), 200, "{href}");
    }
}
