//! The cache-missing path under more load than the render pool takes: excess requests are
//! refused with `503` and `Retry-After` (never left waiting without bound), every answer is either
//! the page or that problem, and cached feeds and `/healthz` are served meanwhile.

mod common;

use std::time::Duration;

use common::{corpus, TestServer};
use lenta::http::pool::PoolLimits;

/// A distinct, cache-missing query: a 500-item page with full content (the costliest render), a
/// different `to` each time so that no two share a cache entry.
fn miss(i: usize) -> String {
    format!(
        "/feed.rss?limit=500&to=2030-01-{:02}T00:00:{:02}Z",
        1 + i / 60,
        i % 60
    )
}

/// A server whose render pool has one worker, `queue` places and a long wait, with `articles`
/// generated articles.
async fn one_worker(queue: usize, articles: usize) -> TestServer {
    let server = TestServer::start_with(move |s| {
        s.render_pool = PoolLimits {
            workers: 1,
            queue,
            wait: Duration::from_secs(60),
        };
    })
    .await;
    server.import(&corpus(articles, 7));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_beyond_the_queue_get_503_while_cached_pages_are_served() {
    let server = one_worker(1, 1500).await;
    // Warm one page into the render cache.
    let (status, cached_etag, cached_body) = server.get_tagged("/feed.json?limit=5").await;
    assert_eq!(status, 200);

    let storm: Vec<_> = (0..24)
        .map(|i| {
            let (client, url) = (server.client.clone(), server.url(&miss(i)));
            tokio::spawn(async move {
                let res = client.get(url).send().await.expect("GET");
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                let content_type = res
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string());
                let body = res.text().await.expect("body");
                (status, retry_after, content_type, body)
            })
        })
        .collect();
    // While the storm runs: the cached page and health answer, from the cache, unchanged.
    for _ in 0..5 {
        let (status, etag, body) = server.get_tagged("/feed.json?limit=5").await;
        assert_eq!((status, &etag, &body), (200, &cached_etag, &cached_body));
        assert_eq!(server.get("/healthz").await.status(), 200);
    }

    let mut refused = 0;
    for answer in storm {
        let (status, retry_after, content_type, body) = answer.await.expect("task");
        match status {
            200 => assert!(body.contains("<rss"), "a 200 is the feed"),
            503 => {
                refused += 1;
                assert_eq!(retry_after.as_deref(), Some("1"));
                assert_eq!(content_type.as_deref(), Some("application/problem+json"));
                let problem: serde_json::Value = serde_json::from_str(&body).expect("problem json");
                let detail = problem["detail"].as_str().expect("detail");
                assert!(detail.contains("retry"), "{detail}");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    // One runs, one waits: of 24 concurrent misses, most are refused at once.
    assert!(refused >= 10, "only {refused} of 24 refused");
    let metrics = server.get_text("/metrics").await.1;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("lenta_renders_refused_total "))
        .expect("refused counter");
    assert_eq!(line, format!("lenta_renders_refused_total {refused}"));

    // Refusals are transient: once the storm is over, each of those pages renders.
    for i in 0..3 {
        assert_eq!(server.get(&miss(i)).await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_within_the_queue_all_get_their_page() {
    let server = one_worker(64, 600).await;
    let answers: Vec<_> = (0..16)
        .map(|i| {
            let (client, url) = (server.client.clone(), server.url(&miss(i)));
            tokio::spawn(async move { client.get(url).send().await.expect("GET").status().as_u16() })
        })
        .collect();
    for answer in answers {
        assert_eq!(answer.await.expect("task"), 200);
    }
    let metrics = server.get_text("/metrics").await.1;
    assert!(metrics.contains("lenta_renders_refused_total 0"), "{metrics}");
    assert!(metrics.contains("lenta_renders_waiting 0"), "{metrics}");
}
