mod common;

#[tokio::test]
async fn serves_an_empty_feed_and_survives_restart() {
    let server = common::TestServer::start().await;
    let (status, body) = server.get_text("/feed.atom").await;
    assert_eq!(status, 200);
    common::strict_xml(&body);
    let report = server.import(&common::fixtures_ndjson());
    assert_eq!(report.created, 4, "{:?}", report.rejected);
    assert_eq!(report.rejected.len(), 1);
    let server = server.restart().await;
    let (_, body) = server.get_text("/regions/RU-NIZ/feed.rss").await;
    assert!(
        body.contains("КУПНО") || body.contains("стратегическую"),
        "{body}"
    );
}
