//! The Dzen feed (`/dzen.rss`, issue 11) and the demo's anchoring to the time it is loaded, over
//! HTTP against the real server and a real store.

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use common::{strict_xml, ChildServer, TestServer};
use lenta::feed::dzen::ContentType;
use serde_json::{json, Value};

const YANDEX: &str = "http://news.yandex.ru";
const MEDIA: &str = "http://search.yahoo.com/mrss/";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";

/// An RFC 3339 instant `secs` seconds from now, in Moscow time, to the second.
fn from_now(secs: i64) -> String {
    let at = Utc::now() + chrono::Duration::seconds(secs);
    at.with_timezone(&chrono_tz::Europe::Moscow)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// One NDJSON article line in RU-NIZ published at `at`.
fn line(external_id: &str, at: &str) -> String {
    let v = json!({
        "external_id": external_id,
        "title": format!("Заголовок {external_id}"),
        "published_at": at,
        "regions": ["RU-NIZ"],
    });
    format!("{v}\n")
}

/// The stored id of `publisher`'s article `external_id`.
fn id_of(server: &TestServer, publisher: &str, external_id: &str) -> u64 {
    server
        .app()
        .store
        .id_by_external(publisher, external_id)
        .expect("store")
        .expect("imported")
}

/// What a Dzen item says, element by element.
#[derive(Debug, Default)]
struct DzenItem {
    title: String,
    link: String,
    guid: (String, Option<String>),
    pub_date: String,
    content: String,
    /// `(url, type, length)` of every `enclosure`, in order.
    enclosures: Vec<(String, String, Option<String>)>,
    content_type: String,
    /// `(scheme, value)` of `media:rating`.
    rating: (String, String),
}

/// The channel's `yandex:logo`s (`type`, URL) and its items, checking the document is
/// well-formed RSS 2.0.
fn dzen_doc(body: &str) -> (Vec<(Option<String>, String)>, Vec<DzenItem>) {
    let doc = strict_xml(body);
    let rss = doc.root_element();
    assert_eq!(
        (rss.tag_name().name(), rss.attribute("version")),
        ("rss", Some("2.0")),
        "{body}"
    );
    let channel = rss
        .children()
        .find(|n| n.has_tag_name("channel"))
        .expect("channel");
    let text = |n: roxmltree::Node| n.text().unwrap_or("").to_string();
    let logos = channel
        .children()
        .filter(|n| n.has_tag_name((YANDEX, "logo")))
        .map(|n| (n.attribute("type").map(str::to_string), text(n)))
        .collect();
    let items = channel
        .children()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let mut out = DzenItem::default();
            for n in item.children().filter(|n| n.is_element()) {
                let name = (n.tag_name().namespace().unwrap_or(""), n.tag_name().name());
                match name {
                    ("", "title") => out.title = text(n),
                    ("", "link") => out.link = text(n),
                    ("", "guid") => out.guid = (text(n), n.attribute("isPermaLink").map(str::to_string)),
                    ("", "pubDate") => out.pub_date = text(n),
                    ("", "contentType") => out.content_type = text(n),
                    ("", "enclosure") => out.enclosures.push((
                        n.attribute("url").expect("url").to_string(),
                        n.attribute("type").expect("type").to_string(),
                        n.attribute("length").map(str::to_string),
                    )),
                    (MEDIA, "rating") => {
                        out.rating = (n.attribute("scheme").unwrap_or("").to_string(), text(n))
                    }
                    (CONTENT, "encoded") => out.content = text(n),
                    _ => {}
                }
            }
            out
        })
        .collect();
    (logos, items)
}

/// The number of `<item>`s (RSS) or `<url>`s (sitemap) of a served document, checking that it
/// is well-formed.
fn entries(body: &str) -> usize {
    strict_xml(body)
        .descendants()
        .filter(|n| n.has_tag_name("item") || n.has_tag_name("url"))
        .count()
}

/// `serve --demo` shows every aggregator document non-empty: the demo corpus is anchored to the
/// time it is loaded (its generated dates end weeks before, which left every window empty).
#[tokio::test]
async fn the_demo_fills_every_aggregator_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let server = ChildServer::start(&dir.path().join("data"), &["--demo"], &client).await;
    for path in ["/sitemap-news.xml", "/yandex.rss", "/dzen.rss"] {
        let res = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.expect("body");
        assert!(entries(&body) >= 1, "{path} is empty in the demo: {body}");
    }
}

/// A body with everything Dzen does not render next to what it does, and three images (one
/// relative, one twice, one of a type Dzen's enclosures cannot name).
const HOSTILE_BODY: &str = "<p>Абзац <em>курсив</em> и <strong>жирный</strong> <u>подчёркнутый</u> <s>зачёркнутый</s></p>\
    <h2>Подзаголовок</h2><h6>мелкий заголовок</h6>\
    <table><tr><td>ячейка1</td><td>ячейка2</td></tr></table>\
    <div class=\"wrap\" lang=\"ru\"><span>обёртка</span></div>\
    <style>p { color: red }</style><script>alert(1)</script>\
    <iframe src=\"https://video.example/embed\">фрейм</iframe>\
    <blockquote>цитата</blockquote><ul><li>пункт</li></ul><ol><li>номер</li></ol>\
    <figure><img src=\"/media/body.JPG\" alt=\"тело\"><figcaption>Подпись</figcaption></figure>\
    <p><img src=\"https://cdn.example/b.png?w=1&amp;h=2\"> <img src=\"https://cdn.example/b.png?w=1&amp;h=2\">\
    <img src=\"https://cdn.example/vector.svg\"> <a href=\"https://example.org/x\" title=\"t\">ссылка</a></p>";

#[tokio::test]
async fn the_dzen_feed_carries_dzen_markup_every_image_and_the_window() {
    let server = TestServer::start_with(|s| s.dzen_window = Duration::from_secs(3600)).await;
    let base = server.base.clone();
    let rich_json = json!({
        "external_id": "rich",
        "title": "Мост <открыт> & «готов»",
        "summary": "Лид & подробности",
        "content_html": HOSTILE_BODY,
        "published_at": from_now(-600),
        "regions": ["RU-NIZ"],
        "author": "Иван Петров",
        "image": {"url": "https://img.example.org/cover.jpg?w=1&h=2", "type": "image/jpeg", "length": 1234},
    });
    // The tricky fixtures, moved into the window (newest first: the first fixture the newest).
    let fixtures: String = common::fixtures()
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            v["published_at"] = json!(from_now(-60 - i as i64));
            format!("{v}\n")
        })
        .collect();
    let ndjson = [format!("{rich_json}\n"), fixtures, line("old", &from_now(-7200))].concat();
    let report = server.import(&ndjson);
    assert_eq!(
        (report.created, report.rejected.len()),
        (6, 1),
        "the control-character fixture is refused: {report:?}"
    );
    let rich_id = id_of(&server, "portal", "rich");

    let res = server.get("/dzen.rss").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let body = res.text().await.expect("body");
    let (logos, items) = dzen_doc(&body);
    let branding = server.app().branding.clone();
    assert_eq!(
        logos,
        vec![
            (None, branding.logo_url.clone()),
            (Some("square".to_string()), branding.icon_url.clone())
        ]
    );
    assert_eq!(
        items.len(),
        5,
        "four fixtures and the rich article, not the old one: {body}"
    );
    let links: Vec<&str> = items.iter().map(|i| i.link.as_str()).collect();
    assert_eq!(
        links[4],
        format!("{base}/articles/{rich_id}"),
        "newest first: {links:?}"
    );
    for item in &items {
        assert_eq!(item.content_type, "news");
        assert_eq!(item.rating, ("urn:simple".to_string(), "nonadult".to_string()));
        assert!(
            item.pub_date.ends_with(" +0300"),
            "numeric offset: {}",
            item.pub_date
        );
        assert!(
            DateTime::parse_from_rfc2822(&item.pub_date).is_ok(),
            "{}",
            item.pub_date
        );
        assert!(!item.content.is_empty(), "every item has a text: {item:?}");
        assert_eq!(item.guid.1.as_deref(), Some("false"));
    }

    let rich = &items[4];
    assert_eq!(rich.title, "Мост <открыт> & «готов»");
    assert_eq!(rich.guid.0, format!("tag:lenta,2026:article:{rich_id}"));
    assert_eq!(
        rich.enclosures,
        vec![
            (
                "https://img.example.org/cover.jpg?w=1&h=2".into(),
                "image/jpeg".into(),
                Some("1234".into())
            ),
            (format!("{base}/media/body.JPG"), "image/jpeg".into(), None),
            (
                "https://cdn.example/b.png?w=1&h=2".into(),
                "image/png".into(),
                None
            ),
        ],
        "the cover with its length, then each body image once, absolute, typed by extension"
    );
    // (The write path already unwrapped the iframe, keeping its fallback text as text, as every
    // feed shows it; the Dzen filter drops the frames that reach it, see the unit tests.)
    for gone in [
        "<table",
        "<td",
        "<div",
        "<span",
        "<script",
        "alert(1)",
        "<style",
        "color: red",
        "<iframe",
        "<em>",
        "<strong>",
        "<h6",
        "title=",
        "class=",
        "lang=",
    ] {
        assert!(!rich.content.contains(gone), "{gone} left in {}", rich.content);
    }
    for kept in [
        "<p>Абзац <i>курсив</i> и <b>жирный</b> <u>подчёркнутый</u> <s>зачёркнутый</s></p>",
        "<h2>Подзаголовок</h2><h4>мелкий заголовок</h4>",
        "ячейка1 ячейка2",
        "обёртка",
        "<blockquote>цитата</blockquote><ul><li>пункт</li></ul><ol><li>номер</li></ol>",
        &format!("<figure><img src=\"{base}/media/body.JPG\" alt=\"тело\"><figcaption>Подпись</figcaption></figure>"),
        "<img src=\"https://cdn.example/vector.svg\">",
        "<a href=\"https://example.org/x\">ссылка</a>",
    ] {
        assert!(rich.content.contains(kept), "{kept} missing from {}", rich.content);
    }

    // The tricky fixtures: escaped text survives once, the script and the event handler do not.
    let escaping = items
        .iter()
        .find(|i| i.title.starts_with("Tom & Jerry"))
        .expect("escaping fixture");
    assert_eq!(
        escaping.title,
        "Tom & Jerry <b>bold</b> \"quotes\" 'apos' ]]> end"
    );
    assert!(
        escaping.content.starts_with("<p>x &lt; y</p>"),
        "{}",
        escaping.content
    );
    assert!(
        !escaping.content.contains("alert") && !escaping.content.contains("onerror"),
        "{}",
        escaping.content
    );
    let seed = items
        .iter()
        .find(|i| i.title.starts_with("Заместители"))
        .expect("seed fixture");
    assert!(
        seed.content.contains("Источники: Время Н, РИА"),
        "sources credited: {}",
        seed.content
    );
    assert!(items.iter().any(|i| i.title == "Эмодзи 📰, ёлка, 中文, עברית"));

    // An edit keeps the item's guid and link: Dzen never takes it for a new publication.
    let mut edited: Value = rich_json.clone();
    edited["title"] = json!("Мост открыт: уточнение");
    assert_eq!(server.import(&format!("{edited}\n")).updated, 1);
    let (_, items) = dzen_doc(&server.get_text("/dzen.rss").await.1);
    let again = items
        .iter()
        .find(|i| i.title == "Мост открыт: уточнение")
        .expect("edited item");
    assert_eq!((&again.guid.0, &again.link), (&rich.guid.0, &rich.link));

    // Per region; an unknown region is 404.
    let (status, body) = server.get_text("/regions/RU-MOW/dzen.rss").await;
    assert_eq!(status, 200);
    let (_, moscow) = dzen_doc(&body);
    assert_eq!(moscow.len(), 1, "only the escaping fixture is in Moscow: {body}");
    assert_eq!(server.get("/regions/XX-NOPE/dzen.rss").await.status(), 404);
}

#[tokio::test]
async fn the_dzen_feed_lists_at_most_500_with_the_configured_content_type_and_logos() {
    let server = TestServer::start_with(|s| {
        s.dzen_content_type = ContentType::BlogsOnly;
        s.dzen_logo_url = Some("https://cdn.example/logo-wide.png".into());
        s.dzen_square_logo_url = Some("https://cdn.example/logo-square.png".into());
    })
    .await;
    let ndjson: String = (0..501)
        .map(|i| line(&format!("n{i}"), &from_now(-3600 - i)))
        .collect();
    assert_eq!(server.import(&ndjson).created, 501);
    let (status, body) = server.get_text("/dzen.rss").await;
    assert_eq!(status, 200);
    let (logos, items) = dzen_doc(&body);
    assert_eq!(
        logos,
        vec![
            (None, "https://cdn.example/logo-wide.png".to_string()),
            (
                Some("square".to_string()),
                "https://cdn.example/logo-square.png".to_string()
            )
        ]
    );
    assert_eq!(items.len(), 500);
    assert!(items.iter().all(|i| i.content_type == "blogs_only"));
    let url = |ext: &str| format!("{}/articles/{}", server.base, id_of(&server, "portal", ext));
    assert_eq!(items[0].link, url("n0"), "newest first");
    assert_eq!(items[499].link, url("n499"));
    assert!(!items.iter().any(|i| i.link == url("n500")), "the oldest is cut");
}

#[tokio::test]
async fn outside_publishers_stay_out_of_the_dzen_feed_unless_allowed() {
    let server = TestServer::start().await;
    server.import(&line("own", &from_now(-60)));
    let app = server.app().clone();
    lenta::auth::add(&app.store, "agency", None, false).expect("accredit");
    lenta::auth::add(&app.store, "partner", None, true).expect("accredit, syndicated");
    for (publisher, ext) in [("agency", "from-agency"), ("partner", "from-partner")] {
        let report = lenta::import::import(
            &app.store,
            &app.regions,
            publisher,
            line(ext, &from_now(-30)).as_bytes(),
            |_| {},
        )
        .expect("import");
        assert_eq!(report.created, 1, "{report:?}");
    }
    let shown = |body: &str| -> Vec<&'static str> {
        [
            ("portal", "own"),
            ("agency", "from-agency"),
            ("partner", "from-partner"),
        ]
        .into_iter()
        .filter(|(publisher, ext)| body.contains(&format!("/articles/{}<", id_of(&server, publisher, ext))))
        .map(|(_, ext)| ext)
        .collect()
    };
    let (status, etag, body) = server.get_tagged("/dzen.rss").await;
    assert_eq!(status, 200);
    assert_eq!(
        shown(&String::from_utf8(body).expect("utf-8")),
        vec!["own", "from-partner"]
    );

    // Allowing the agency changes the feed and its ETag without any article write.
    lenta::auth::revoke(&app.store, "agency").expect("revoke");
    lenta::auth::add(&app.store, "agency", None, true).expect("re-accredit, syndicated");
    let (_, etag_after, body) = server.get_tagged("/dzen.rss").await;
    assert_ne!(etag, etag_after);
    assert_eq!(
        shown(&String::from_utf8(body).expect("utf-8")),
        vec!["own", "from-agency", "from-partner"]
    );
}

#[tokio::test]
async fn the_dzen_validators_change_exactly_when_an_item_leaves_the_window() {
    // A 10-second window: `leaving` is 1 s old and leaves 9 s from now.
    let server = TestServer::start_with(|s| s.dzen_window = Duration::from_secs(10)).await;
    let ndjson = [line("old", &from_now(-60)), line("leaving", &from_now(-1))].concat();
    assert_eq!(server.import(&ndjson).created, 2);
    let started = std::time::Instant::now();
    let leaving = format!("{}/articles/{}", server.base, id_of(&server, "portal", "leaving"));

    let res = server.get("/dzen.rss").await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let modified = res.headers()["last-modified"].to_str().expect("lm").to_string();
    let (_, items) = dzen_doc(&res.text().await.expect("body"));
    assert_eq!(
        items.iter().map(|i| i.link.as_str()).collect::<Vec<_>>(),
        vec![leaving.as_str()]
    );

    common::assert_validators_follow_the_window(&server, "/dzen.rss", started, (&etag, &modified), |body| {
        dzen_doc(body).1.len()
    })
    .await;
    let gz = server
        .client
        .get(server.url("/dzen.rss"))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("GET");
    assert_eq!(gz.headers()["content-encoding"], "br");
}

/// One NDJSON line in `region` with `category`, published `secs` seconds from now.
fn line_in(external_id: &str, secs: i64, region: &str, category: &str) -> String {
    let v = json!({
        "external_id": external_id,
        "title": format!("Заголовок {external_id}"),
        "published_at": from_now(secs),
        "regions": [region],
        "categories": [category],
    });
    format!("{v}\n")
}

/// The `link`s of the items of an RSS document (`/dzen.rss` or `/yandex.rss`), newest first.
fn item_links(body: &str) -> Vec<String> {
    let doc = strict_xml(body);
    doc.descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            item.children()
                .find(|n| n.has_tag_name("link"))
                .and_then(|n| n.text())
                .expect("link")
                .to_string()
        })
        .collect()
}

/// Both window feeds take the other feeds' parameters, intersected with the window.
#[tokio::test]
async fn the_window_feeds_take_the_feed_parameters_within_their_window() {
    let server = TestServer::start_with(|s| {
        s.dzen_window = Duration::from_secs(3600);
        s.yandex_window = Duration::from_secs(3600);
    })
    .await;
    let ndjson = [
        line_in("niz-transport", -600, "RU-NIZ", "Транспорт"),
        line_in("niz-culture", -500, "RU-NIZ", "Культура"),
        line_in("mow-transport", -400, "RU-MOW", "Транспорт"),
        line_in("mow-old", -7200, "RU-MOW", "Транспорт"),
    ]
    .concat();
    assert_eq!(server.import(&ndjson).created, 4);
    let url = |ext: &str| format!("{}/articles/{}", server.base, id_of(&server, "portal", ext));
    let from = |secs: i64| form_urlencoded::byte_serialize(from_now(secs).as_bytes()).collect::<String>();
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("".into(), vec!["mow-transport", "niz-culture", "niz-transport"]),
        ("?region=ru-mow".into(), vec!["mow-transport"]),
        (
            "?category=транспорт".into(),
            vec!["mow-transport", "niz-transport"],
        ),
        (
            "?region=RU-MOW,RU-NIZ&category=Культура".into(),
            vec!["niz-culture"],
        ),
        // `from` narrows the window...
        (
            format!("?from={}", from(-550)),
            vec!["mow-transport", "niz-culture"],
        ),
        // ...but never widens it: the 2-hour-old article stays out of the 1-hour window.
        (
            format!("?from={}", from(-3 * 3600)),
            vec!["mow-transport", "niz-culture", "niz-transport"],
        ),
        (
            format!("?to={}", from(-450)),
            vec!["niz-culture", "niz-transport"],
        ),
        ("?limit=2".into(), vec!["mow-transport", "niz-culture"]),
    ];
    for feed in ["dzen", "yandex"] {
        for (query, want) in &cases {
            let path = format!("/{feed}.rss{query}");
            let (status, body) = server.get_text(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            let want: Vec<String> = want.iter().map(|e| url(e)).collect();
            assert_eq!(item_links(&body), want, "{path}");
        }
        let (status, body) = server
            .get_text(&format!("/regions/RU-NIZ/{feed}.rss?category=Культура"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(item_links(&body), vec![url("niz-culture")]);
    }
}

#[tokio::test]
async fn bad_parameters_of_the_window_feeds_are_400_problems() {
    let server = TestServer::start().await;
    server.import(&line("one", &from_now(-60)));
    let cursor = "0".repeat(32);
    for feed in ["/dzen.rss", "/yandex.rss"] {
        for (query, field, says) in [
            ("foo=1", "foo", "allowed parameters are"),
            ("limit=501", "limit", "from 1 to 500"),
            ("limit=0", "limit", "from 1 to 500"),
            ("region=XX-NOPE", "region", "unknown region"),
            ("from=yesterday", "from", "RFC 3339"),
            (&format!("before={cursor}"), "before", "no pages"),
        ] {
            let path = format!("{feed}?{query}");
            let problem = server.get_bad_request(&path).await;
            let errors = problem["errors"].as_array().expect("errors");
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field && e["reason"].as_str().is_some_and(|r| r.contains(says))),
                "{path}: {problem}"
            );
        }
        let path = format!("/regions/RU-NIZ{feed}?region=RU-MOW");
        assert_eq!(server.get(&path).await.status(), 400, "{path}");
        assert_eq!(server.get(feed).await.status(), 200, "still serving");
    }
}

#[tokio::test]
async fn a_query_is_its_own_representation_with_canonical_validators() {
    let server = TestServer::start().await;
    server.import(&[line("a", &from_now(-120)), line("b", &from_now(-60))].concat());
    let (_, whole, body) = server.get_tagged("/dzen.rss").await;
    assert_eq!(item_links(&String::from_utf8(body).expect("utf-8")).len(), 2);
    let (_, one, body) = server.get_tagged("/dzen.rss?limit=1").await;
    assert_eq!(item_links(&String::from_utf8(body).expect("utf-8")).len(), 1);
    assert_ne!(whole, one, "another list, another validator");
    // `limit=50` is an explicit limit here (the default is the cap), not the feeds' default.
    let (_, fifty, _) = server.get_tagged("/dzen.rss?limit=50").await;
    assert_ne!(whole, fifty);
    // Spelling does not matter: the canonical query is the key.
    let (_, a, _) = server
        .get_tagged("/dzen.rss?region=ru-niz,RU-MOW&category=X")
        .await;
    let (_, b, _) = server
        .get_tagged("/dzen.rss?category=x&region=RU-MOW&region=RU-NIZ")
        .await;
    assert_eq!(a, b);
    let again = server
        .client
        .get(server.url("/dzen.rss?limit=1"))
        .header("if-none-match", one.as_deref().expect("etag"))
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 304);
}

/// `yandex:genre` of each item of a `/yandex.rss` body, by link.
fn genres(body: &str) -> Vec<(Option<String>, Option<String>)> {
    let doc = strict_xml(body);
    doc.descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let text = |name: roxmltree::ExpandedName| {
                item.children()
                    .find(|n| n.tag_name() == name)
                    .and_then(|n| n.text())
                    .map(str::to_string)
            };
            (text("link".into()), text((YANDEX, "genre").into()))
        })
        .collect()
}

#[tokio::test]
async fn the_yandex_genre_comes_from_a_category_else_the_configured_default() {
    let server = TestServer::start().await;
    let ndjson = [
        line_in("interview", -300, "RU-NIZ", "Интервью"),
        line_in("analysis", -200, "RU-NIZ", "аналитика"),
        line_in("report", -100, "RU-NIZ", "Политика"),
    ]
    .concat();
    assert_eq!(server.import(&ndjson).created, 3);
    let url = |ext: &str| format!("{}/articles/{}", server.base, id_of(&server, "portal", ext));
    let (status, body) = server.get_text("/yandex.rss").await;
    assert_eq!(status, 200);
    let want = |report: Option<&str>| {
        vec![
            (Some(url("report")), report.map(str::to_string)),
            (Some(url("analysis")), Some("article".to_string())),
            (Some(url("interview")), Some("interview".to_string())),
        ]
    };
    assert_eq!(genres(&body), want(Some("message")), "{body}");

    // Without a default, an item whose categories name no genre has no element.
    let plain = TestServer::start_with(|s| s.yandex_genre = None).await;
    assert_eq!(plain.import(&ndjson).created, 3);
    let (_, body) = plain.get_text("/yandex.rss").await;
    let want = want(None)
        .into_iter()
        .map(|(link, genre)| (link.map(|l| l.replace(&server.base, &plain.base)), genre))
        .collect::<Vec<_>>();
    assert_eq!(genres(&body), want, "{body}");
}
