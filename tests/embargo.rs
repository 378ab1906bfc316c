//! Scheduled publication (embargo) over HTTP: an article whose `published_at` is a few seconds
//! ahead is in no feed, page, calendar, count or public API answer until then; at that instant
//! it appears, the feeds' validators change (304 → 200), WebSub is pinged; across a restart too.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use common::TestServer;
use serde_json::{json, Value};

const TITLE: &str = "Новость под эмбарго";
const FEED: &str = "/regions/RU-NIZ/feed.atom";

/// A time `ahead` seconds from now, to the second, at least `ahead - 1` s away.
fn due_in(ahead: i64) -> DateTime<Utc> {
    let due = Utc::now() + chrono::Duration::seconds(ahead);
    DateTime::parse_from_rfc3339(&due.to_rfc3339_opts(SecondsFormat::Secs, true))
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn article(external_id: &str, title: &str, published_at: &str) -> Value {
    json!({
        "external_id": external_id, "title": title, "published_at": published_at,
        "regions": ["RU-NIZ"], "summary": "lead", "content_html": "<p>body</p>"
    })
}

async fn post(server: &TestServer, token: &str, body: &Value) -> Value {
    let res = server.post_article(token, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.expect("json")
}

/// A public article in RU-NIZ, so its feeds exist before anything is scheduled.
async fn publish_one(server: &TestServer, token: &str) {
    post(
        server,
        token,
        &article("now", "Уже вышла", "2024-05-17T09:00:00+03:00"),
    )
    .await;
}

/// Schedules the article titled [`TITLE`] about `ahead` seconds from now (see [`due_in`]);
/// returns its id and due instant.
async fn schedule(server: &TestServer, token: &str, ahead: i64) -> (u64, DateTime<Utc>) {
    let due = due_in(ahead);
    let published_at = due.to_rfc3339_opts(SecondsFormat::Secs, true);
    let created = post(server, token, &article("later", TITLE, &published_at)).await;
    (created["id"].as_u64().expect("id"), due)
}

async fn json_get(server: &TestServer, path: &str) -> Value {
    server.json_at(&server.url(path)).await
}

/// Everything public that could show the scheduled article: (what, whether it shows it).
async fn public_views(server: &TestServer, id: u64, due: DateTime<Utc>) -> Vec<(String, bool)> {
    let local = due.with_timezone(&server.app().settings.tz);
    let (day, month) = (local.format("%Y-%m-%d"), local.format("%Y-%m"));
    let mut seen = Vec::new();
    for path in [
        "/feed.rss".to_string(),
        FEED.to_string(),
        "/regions/RU-NIZ/feed.json".to_string(),
        "/regions/RU-NIZ/".to_string(),
        "/api/articles?region=RU-NIZ".to_string(),
        format!("/days/{day}?region=RU-NIZ"),
    ] {
        let (status, body) = server.get_text(&path).await;
        assert_eq!(status, 200, "{path}");
        seen.push((path, body.contains(TITLE)));
    }
    for path in [format!("/articles/{id}"), format!("/api/articles/{id}")] {
        let status = server.get(&path).await.status().as_u16();
        assert!(status == 200 || status == 404, "{path}: {status}");
        seen.push((path, status == 200));
    }
    let calendar = json_get(server, &format!("/api/calendar?month={month}&region=RU-NIZ")).await;
    seen.push(("calendar total".into(), calendar["total"] == json!(1)));
    let regions = json_get(server, "/api/regions").await;
    let niz = regions
        .as_array()
        .or_else(|| regions["regions"].as_array())
        .expect("region list")
        .iter()
        .find(|r| r["code"] == "RU-NIZ")
        .expect("RU-NIZ")
        .clone();
    seen.push(("region count".into(), niz["articles"] == json!(2)));
    let health = json_get(server, "/healthz").await;
    seen.push(("total count".into(), health["articles"] == json!(2)));
    seen
}

fn assert_all(seen: &[(String, bool)], shown: bool) {
    let wrong: Vec<&String> = seen.iter().filter(|(_, s)| *s != shown).map(|(w, _)| w).collect();
    assert!(
        wrong.is_empty(),
        "expected shown={shown}, but not so in {wrong:?}"
    );
}

/// Polls `FEED` with `If-None-Match: etag` until it answers 200 (bounded); asserts that every
/// answer that arrived before `due` was 304 (and at least one did), and that the 200 did not
/// arrive before `due`. Returns the new body.
async fn await_release(server: &TestServer, etag: &str, due: DateTime<Utc>) -> String {
    let deadline = due + chrono::Duration::seconds(15);
    let mut early_304s = 0;
    while Utc::now() < deadline {
        let res = server
            .client
            .get(server.url(FEED))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("GET");
        let status = res.status().as_u16();
        let body = res.text().await.expect("body");
        let answered = Utc::now();
        match status {
            304 if answered < due => early_304s += 1,
            304 => {}
            200 => {
                assert!(answered >= due, "released early: 200 at {answered}, due {due}");
                assert!(early_304s > 0, "no 304 seen before the release");
                return body;
            }
            other => panic!("{FEED}: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not released within 15 s of {due}");
}

async fn etag_of(server: &TestServer, path: &str) -> String {
    let res = server.get(path).await;
    assert_eq!(res.status(), 200);
    res.headers()["etag"].to_str().expect("etag").to_string()
}

/// Waits until `seen` holds at least `n` pings (bounded), then a little longer for strays.
async fn pings(seen: &std::sync::Mutex<Vec<(String, String)>>, n: usize) -> Vec<String> {
    for _ in 0..100 {
        if seen.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.lock()
        .expect("lock")
        .iter()
        .map(|(_, u)| u.clone())
        .collect()
}

#[tokio::test]
async fn a_scheduled_article_appears_when_due_with_new_validators_and_a_websub_ping() {
    let (hub, seen) = common::hub_stub().await;
    let server = TestServer::start_with(move |s| s.websub_hub = Some(hub.clone())).await;
    let token = server.add_publisher("newsroom", "");
    let other = server.add_publisher("rival", "");
    publish_one(&server, &token).await;
    let feed_pings: HashSet<String> = ["/feed", "/feed"]
        .iter()
        .zip(["", "?region=RU-NIZ"])
        .flat_map(|(path, q)| ["rss", "atom", "json"].map(|f| server.url(&format!("{path}.{f}{q}"))))
        .collect();
    assert_eq!(pings(&seen, 6).await.len(), 6, "the public write pings its feeds");
    let etag = etag_of(&server, FEED).await;

    let (id, due) = schedule(&server, &token, 3).await;
    assert!(
        Utc::now() < due,
        "the test machine was too slow to schedule ahead"
    );

    // Hidden from the public, and nothing public changed: same validators, no ping.
    assert_all(&public_views(&server, id, due).await, false);
    assert_eq!(
        etag_of(&server, FEED).await,
        etag,
        "a scheduled write changes no feed"
    );
    let res = server
        .client
        .get(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 404, "another publisher does not see it");
    let probe = |method: reqwest::Method, path: String, body: Value| {
        server
            .client
            .request(method, server.url(&path))
            .bearer_auth(&other)
            .json(&body)
            .send()
    };
    let published_at = due.to_rfc3339_opts(SecondsFormat::Secs, true);
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            format!("/api/articles/{id}"),
            article("x", "x", &published_at),
        ),
        (reqwest::Method::DELETE, format!("/api/articles/{id}"), json!({})),
        (
            reqwest::Method::POST,
            format!("/api/articles/{id}/views"),
            json!({"add": 1}),
        ),
    ] {
        let res = probe(method.clone(), path.clone(), body).await.expect("request");
        assert_eq!(res.status(), 404, "{method} {path} by another publisher");
    }
    let res = server
        .client
        .get(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 200, "its publisher reads it");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let owned: Value = res.json().await.expect("json");
    assert_eq!(owned["title"], TITLE);
    let mut edited = article("later", TITLE, &published_at);
    edited["summary"] = json!("правка до выхода");
    let res = server
        .client
        .put(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&token)
        .json(&edited)
        .send()
        .await
        .expect("PUT");
    assert_eq!(res.status(), 200, "its publisher edits it");
    assert_eq!(
        etag_of(&server, FEED).await,
        etag,
        "an edit while scheduled changes no feed"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        Utc::now() < due,
        "the test machine was too slow to look before the due time"
    );
    assert_eq!(
        seen.lock().expect("lock").len(),
        6,
        "a scheduled write pings nobody"
    );
    let problems = server.app().store.check(&server.app().regions).expect("check");
    assert!(problems.is_empty(), "{problems:?}");

    // Released at the instant: 304 until then, 200 after, with the article.
    let body = await_release(&server, &etag, due).await;
    assert!(body.contains(TITLE), "{body}");
    assert_all(&public_views(&server, id, due).await, true);
    let all = pings(&seen, 12).await;
    assert_eq!(all.len(), 12, "the release pings the region's feeds: {all:?}");
    assert_eq!(all[6..].iter().cloned().collect::<HashSet<_>>(), feed_pings);
    let problems = server.app().store.check(&server.app().regions).expect("check");
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_scheduled_article_survives_a_restart_before_it_is_due() {
    let server = TestServer::start().await;
    let token = server.add_publisher("newsroom", "");
    publish_one(&server, &token).await;
    let (id, due) = schedule(&server, &token, 3).await;
    let etag = etag_of(&server, FEED).await;
    let server = server.restart().await;
    assert!(
        Utc::now() < due,
        "the test machine was too slow to restart before the due time"
    );
    assert_all(&public_views(&server, id, due).await, false);
    let body = await_release(&server, &etag, due).await;
    assert!(body.contains(TITLE), "{body}");
    assert_all(&public_views(&server, id, due).await, true);
}

#[tokio::test]
async fn an_article_that_came_due_while_the_server_was_down_is_released_at_start() {
    let server = TestServer::start().await;
    let token = server.add_publisher("newsroom", "");
    publish_one(&server, &token).await;
    let (id, due) = schedule(&server, &token, 2).await;
    assert_all(&public_views(&server, id, due).await, false);
    let server = server
        .restart_after(|_| {
            let left = (due - Utc::now()).to_std().unwrap_or_default();
            std::thread::sleep(left + Duration::from_millis(200));
        })
        .await;
    // The release task's first round runs at start; give it a bounded moment.
    for _ in 0..50 {
        if server.get(&format!("/articles/{id}")).await.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_all(&public_views(&server, id, due).await, true);
    let problems = server.app().store.check(&server.app().regions).expect("check");
    assert!(problems.is_empty(), "{problems:?}");
}
