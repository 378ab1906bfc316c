//! Stitched feed pages (`feed::stitch`) against the whole-document renderers they replace on
//! the cache-missing path: the identity bytes must be the same, and the gzip body must inflate
//! to them, for every format, on pages of generated and tricky fixture articles (sources,
//! images, no body, characters XML cannot carry), with the item cache cold, warm, and off.
//! Then over HTTP: an article edited twice within moments shows its last version in every
//! coding (items are cached by version, so a stale item would show here).

mod common;

use std::io::Read;
use std::net::SocketAddr;

use chrono::Utc;
use lenta::app::App;
use lenta::config::Settings;
use lenta::feed::stitch::{self, ItemCache};
use lenta::feed::{self, FeedDoc, Format};
use lenta::gen::{write_portal_corpus, GenOptions};
use lenta::import;
use lenta::query::FeedQuery;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip member");
    out
}

fn app_with_corpus(dir: &std::path::Path) -> App {
    let mut settings = Settings::new(SocketAddr::from(([127, 0, 0, 1], 0)), dir.to_path_buf());
    settings.base_url = "https://news.example.ru".to_string();
    settings.websub_hub = Some("https://hub.example.ru/".to_string());
    let app = App::open(settings).expect("open app");
    let mut corpus = Vec::new();
    write_portal_corpus(
        &GenOptions {
            articles: 600,
            seed: 7,
        },
        &app.regions,
        &mut corpus,
    )
    .expect("generate");
    let report = import::import(&app.store, &app.regions, "portal", &corpus[..], |_| {}).expect("import");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected.first());
    // The tricky fixtures (markup to escape, characters XML cannot carry, scripts): some are
    // refused at ingest by design; those stored must stitch like the rest.
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("../data/fixtures.json")).expect("fixtures");
    let mut tricky = Vec::new();
    for article in fixtures["tricky_articles"].as_array().expect("tricky articles") {
        tricky.extend_from_slice(article.to_string().as_bytes());
        tricky.push(b'\n');
    }
    let report = import::import(&app.store, &app.regions, "portal", &tricky[..], |_| {}).expect("import");
    assert!(report.created >= 2, "tricky fixtures stored: {}", report.created);
    app
}

fn query(app: &App, raw: &str) -> FeedQuery {
    FeedQuery::parse(Some(raw), None, app.query_context()).unwrap_or_else(|e| panic!("{raw}: {e:?}"))
}

#[test]
fn stitched_pages_are_the_whole_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app_with_corpus(dir.path());
    let ctx = app.feed_context();
    let updated = Utc::now();
    let queries = [
        "",
        "limit=500",
        "region=RU-NIZ",
        "region=RU-NIZ,RU-MOW&limit=7",
        "limit=1",
        "from=2099-01-01",
        // The days of the tricky fixtures.
        "from=2024-05-17&to=2024-05-18",
        "from=2024-05-31&to=2024-06-01",
    ];
    let caches = [
        ("warm-able", ItemCache::new(8 << 20)),
        ("off", ItemCache::new(0)),
        ("tiny", ItemCache::new(4_096)),
    ];
    let mut items_seen = 0;
    let mut stitched_bodies = 0;
    for raw in queries {
        let q = query(&app, raw);
        let page = app.read_page(&q).expect("read page");
        items_seen += page.articles.len();
        // A second page through the `before` cursor, so `next`/`previous`/`first` links show.
        let pages = match page.next {
            Some(last) => vec![page.clone(), app.read_page(&q.next_page(last)).expect("page 2")],
            None => vec![page],
        };
        for page in &pages {
            for format in Format::ALL {
                let whole =
                    feed::render(format, &FeedDoc::new(&ctx, &q, format, page, updated)).expect("render");
                let frame = FeedDoc::frame(&ctx, &q, format, page, updated);
                for (name, cache) in &caches {
                    // Twice: the second reads every item back from the cache, and only then
                    // (every item reused) is there a stitched gzip body.
                    for round in 0..2 {
                        let s = stitch::render(format, &ctx, &frame, &page.articles, cache, true)
                            .expect("stitch");
                        assert!(
                            s.identity == whole,
                            "{format:?} {raw:?} cache {name} round {round}: stitched identity differs"
                        );
                        // Items cached by an earlier query count as reused in round 0 too.
                        if (round == 1 && *name == "warm-able") || page.articles.is_empty() {
                            assert!(
                                s.gzip.is_some(),
                                "{format:?} {raw:?}: all items reused, no stitched body"
                            );
                        }
                        if *name == "off" && !page.articles.is_empty() {
                            assert!(
                                s.gzip.is_none(),
                                "{format:?} {raw:?}: items rendered now, yet stitched"
                            );
                        }
                        if let Some(gzip) = &s.gzip {
                            stitched_bodies += 1;
                            assert!(
                                gunzip(gzip) == whole,
                                "{format:?} {raw:?} cache {name} round {round}: gzip does not inflate to it"
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(items_seen > 500, "the queries listed {items_seen} items");
    assert!(
        stitched_bodies > 30,
        "only {stitched_bodies} stitched bodies checked"
    );
    assert!(caches[0].1.weight() > 0, "the item cache holds the items");
    assert_eq!(caches[1].1.weight(), 0, "a zero budget holds nothing");
}

#[tokio::test]
async fn an_item_edited_twice_shows_its_last_version_in_every_coding() {
    let server = common::TestServer::start().await;
    let publisher = server.add_publisher("edits", "");
    let article = |title: &str| {
        serde_json::json!({
            "external_id": "twice",
            "title": title,
            "summary": "Лид",
            "content_html": "<p>Текст</p>",
            "published_at": "2026-11-29T09:00:00+03:00",
            "regions": ["RU-NIZ"],
        })
    };
    let client = &server.client;
    let url = format!("{}/regions/RU-NIZ/feed.rss", server.base);
    for round in 0..5 {
        let titles = [format!("Первая правка {round}"), format!("Вторая правка {round}")];
        for title in &titles {
            let res = client
                .post(server.url("/api/articles"))
                .bearer_auth(&publisher)
                .json(&article(title))
                .send()
                .await
                .expect("put");
            assert!(res.status().is_success(), "{}", res.status());
        }
        for coding in ["gzip", "identity", "br"] {
            let res = client
                .get(&url)
                .header("accept-encoding", coding)
                .send()
                .await
                .expect("get");
            assert_eq!(res.status(), 200);
            let body = res.bytes().await.expect("body");
            let text = match coding {
                "gzip" => gunzip(&body),
                "br" => {
                    let mut out = Vec::new();
                    brotli_decompress(&body, &mut out);
                    out
                }
                _ => body.to_vec(),
            };
            let text = String::from_utf8(text).expect("utf-8");
            assert!(
                text.contains(&titles[1]),
                "{coding}, round {round}: the last edit is missing"
            );
            assert!(
                !text.contains(&titles[0]),
                "{coding}, round {round}: a stale item is served"
            );
        }
    }
}

fn brotli_decompress(input: &[u8], out: &mut Vec<u8>) {
    brotli::BrotliDecompress(&mut &input[..], out).expect("valid brotli");
}

/// The first gzip answer of a missing feed page is quick: stitched from cached items when all
/// were rendered before (here: the identity page was asked first), else compressed at level 1.
/// Each has its own strong tag (`…-gzs`, `…-gzf`); once a worker has been idle the page
/// compressed at `--gzip-level` (`…-gz`, smaller) is served instead, and a reader holding any of
/// the tags gets a 304 until a write changes the feed.
#[tokio::test]
async fn a_quick_first_answer_gives_way_to_the_whole_body_and_every_tag_validates() {
    let server = common::TestServer::start().await;
    let publisher = server.add_publisher("two-tags", "");
    let post = |external_id: String, title: String| {
        let (client, url, publisher) = (
            server.client.clone(),
            server.url("/api/articles"),
            publisher.clone(),
        );
        async move {
            let res = client
                .post(url)
                .bearer_auth(&publisher)
                .json(&serde_json::json!({
                    "external_id": external_id,
                    "title": title,
                    "summary": "Подробности о ремонте моста в Нижнем Новгороде.",
                    "content_html": "<p>Мост через Волгу закроют на ремонт: движение ограничат на полгода.</p>",
                    "published_at": "2026-11-29T09:00:00+03:00",
                    "regions": ["RU-NIZ"],
                }))
                .send()
                .await
                .expect("post");
            assert!(res.status().is_success(), "{}", res.status());
        }
    };
    for i in 0..20 {
        post(format!("a{i}"), format!("Новость номер {i} о мосте через Волгу")).await;
    }
    let get = |path: &'static str, inm: Option<String>| {
        let (client, url) = (server.client.clone(), server.url(path));
        async move {
            let mut req = client.get(url).header("accept-encoding", "gzip");
            if let Some(tag) = inm {
                req = req.header("if-none-match", tag);
            }
            let res = req.send().await.expect("get");
            let status = res.status().as_u16();
            let etag = res.headers()["etag"].to_str().expect("etag").to_string();
            (status, etag, res.bytes().await.expect("body").to_vec())
        }
    };
    // The Atom page's items are rendered by an identity request first; the JSON page's are not.
    let atom_identity = server.get_tagged("/regions/RU-NIZ/feed.atom").await.2;
    for (path, quick_suffix) in [
        ("/regions/RU-NIZ/feed.atom", "-gzs\""),
        ("/regions/RU-NIZ/feed.json", "-gzf\""),
    ] {
        let (status, quick_tag, quick) = get(path, None).await;
        assert_eq!(status, 200);
        assert!(
            quick_tag.ends_with(quick_suffix),
            "{path}: first answer {quick_tag}"
        );
        let identity = server.get_tagged(path).await.2;
        if path.ends_with("atom") {
            assert_eq!(identity, atom_identity);
        }
        assert_eq!(gunzip(&quick), identity, "{path}");

        // The whole body replaces it once a worker is idle (here at once; allow 10 s).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (whole_tag, whole) = loop {
            let (status, tag, body) = get(path, None).await;
            assert_eq!(status, 200);
            if tag.ends_with("-gz\"") {
                break (tag, body);
            }
            assert_eq!(tag, quick_tag, "{path}: the quick body is served until then");
            assert!(
                std::time::Instant::now() < deadline,
                "{path}: never compressed at --gzip-level"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(gunzip(&whole), identity, "{path}");
        assert!(
            whole.len() < quick.len(),
            "{path}: {} vs {}",
            whole.len(),
            quick.len()
        );
        assert_eq!(
            whole_tag.trim_end_matches("-gz\""),
            quick_tag.trim_end_matches(quick_suffix)
        );

        // Either tag still validates, and the 304 names the tag the reader holds.
        for tag in [&quick_tag, &whole_tag] {
            let (status, etag, body) = get(path, Some(tag.clone())).await;
            assert_eq!((status, &etag), (304, tag), "{path}");
            assert!(body.is_empty());
        }
        // A write to the region makes both stale.
        let title = format!("Свежая новость для {path}");
        post(format!("new-{path}"), title.clone()).await;
        for tag in [&quick_tag, &whole_tag] {
            let (status, etag, body) = get(path, Some(tag.clone())).await;
            assert_eq!(status, 200, "{path}: {tag} after a write");
            assert_ne!(&etag, tag);
            assert!(String::from_utf8(gunzip(&body)).expect("utf-8").contains(&title));
        }
    }
    // The caches behind it are visible to the operator, within their budgets.
    let (_, metrics) = server.get_text("/metrics").await;
    for name in ["lenta_article_cache_bytes", "lenta_item_cache_bytes"] {
        let value: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"));
        assert!(value > 0 && value <= 64 << 20, "{name} = {value}");
    }
}
