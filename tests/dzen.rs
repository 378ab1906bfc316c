//! The Dzen feed (`/dzen.rss`, issue 11) and the demo's anchoring to the time it is loaded, over
//! HTTP against the real server and a real store.

mod common;

use std::time::Duration;

use common::{strict_xml, ChildServer};

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
    for path in ["/sitemap-news.xml", "/yandex.rss"] {
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
