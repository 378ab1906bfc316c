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

/// Misses whose clients close their connections while waiting for the worker are not rendered
/// for nobody: they leave the queue (`lenta_renders_abandoned_total`). A client that only shut
/// down its sending side looks the same from the server, and gets a 503 with Retry-After at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_whose_clients_leave_are_not_rendered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = one_worker(64, 1500).await;
    let request = |i| format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", miss(i));
    let mut sockets = Vec::new();
    for i in 0..24 {
        let mut socket = tokio::net::TcpStream::connect(server.addr)
            .await
            .expect("connect");
        socket.write_all(request(i).as_bytes()).await.expect("send");
        sockets.push(socket);
    }
    // One 500-item render at a time: most of the 24 wait.
    let waiting = server
        .await_metric("lenta_renders_waiting", |n| n >= 8, Duration::from_secs(20))
        .await;
    assert!(waiting >= 8, "only {waiting} of 24 misses queued");

    // Half-closed while queued: answered at once, with the busy problem.
    let mut half = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    half.write_all(request(99).as_bytes()).await.expect("send");
    half.shutdown().await.expect("shutdown(Write)");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), half.read_to_end(&mut answer))
        .await
        .expect("a half-closed client is answered, not left waiting")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");

    drop(sockets);
    let left = server
        .await_metric("lenta_renders_waiting", |n| n == 0, Duration::from_secs(20))
        .await;
    assert_eq!(left, 0, "the queue empties once its clients are gone");
    let abandoned = server.metric("lenta_renders_abandoned_total").await;
    // Those still queued when the clients went, less the few the worker took meanwhile.
    assert!(
        abandoned > waiting / 2,
        "{abandoned} abandoned, {waiting} were waiting"
    );
    assert_eq!(server.metric("lenta_renders_refused_total").await, 0);
    // The worker is free for a client that is still there.
    assert_eq!(server.get(&miss(30)).await.status(), 200);
}
