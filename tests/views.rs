//! View counts (issue 10, section 4) over HTTP against the real server and a real store:
//! `POST /api/articles/{id}/views` adds, `GET` reads, the article page shows the count within
//! its bound, and no view moves a feed's or the article API's validators.

mod common;

use common::TestServer;
use serde_json::{json, Value};

/// A valid article of RU-NIZ with the publisher's own count of 5 views.
fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "summary": "Коротко о главном.",
        "content_html": "<p>Текст статьи.</p>",
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"],
        "views": 5
    })
}

/// Creates an article as `token`'s publisher; returns its id and the ETag of the 201.
async fn create(server: &TestServer, token: &str, external_id: &str) -> (u64, String) {
    let res = server
        .client
        .post(server.url("/api/articles"))
        .bearer_auth(token)
        .json(&article(external_id))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let body: Value = res.json().await.expect("json");
    (body["id"].as_u64().expect("id"), etag)
}

/// `POST /api/articles/{id}/views` with a raw body; returns status, content type and JSON body.
async fn post_views(
    server: &TestServer,
    token: &str,
    id: u64,
    content_type: &str,
    body: &str,
) -> (u16, String, Value) {
    let res = server
        .client
        .post(server.url(&format!("/api/articles/{id}/views")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("post views");
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    let text = res.text().await.expect("body");
    (status, ct, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn add(server: &TestServer, token: &str, id: u64, n: u64) -> Value {
    let (status, _, body) = post_views(
        server,
        token,
        id,
        "application/json",
        &json!({"add": n}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn views(server: &TestServer, id: u64) -> Value {
    let res = server.get(&format!("/api/articles/{id}/views")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "no-store",
        "a live count is not cached"
    );
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    res.json().await.expect("json")
}

#[tokio::test]
async fn concurrent_increments_add_up_and_survive_a_restart() {
    let server = TestServer::start().await;
    let token = server.add_publisher("portal", "");
    let (id, _) = create(&server, &token, "counted").await;
    // 48 concurrent requests adding 1..=48: every one is answered after its views are on disk,
    // and none is lost to another's read-add-write.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..=48u64 {
        let (client, url, token) = (
            server.client.clone(),
            server.url(&format!("/api/articles/{id}/views")),
            token.clone(),
        );
        tasks.spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"add": n}))
                .send()
                .await
                .expect("post");
            assert_eq!(res.status(), 200);
            (n, res.json::<Value>().await.expect("json"))
        });
    }
    let mut answers: Vec<(u64, Value)> = tasks.join_all().await;
    answers.sort_by_key(|(n, _)| *n);
    let total: u64 = (1..=48).sum();
    for (n, answer) in &answers {
        let counted = answer["counted"].as_u64().expect("counted");
        assert!(counted >= *n && counted <= total, "answer {answer}");
    }
    let max = answers.iter().filter_map(|(_, a)| a["counted"].as_u64()).max();
    assert_eq!(max, Some(total), "the last group's answer has every view");
    let expected = json!({"id": id, "views": 5 + total, "base": 5, "counted": total});
    assert_eq!(views(&server, id).await, expected);
    let server = server.restart().await;
    assert_eq!(views(&server, id).await, expected, "durable across a restart");
    let problems = server.app().store.check(&server.app().regions).expect("check");
    assert!(problems.is_empty(), "lenta check: {problems:?}");
}

#[tokio::test]
async fn views_move_no_feed_validator_and_the_page_follows_within_its_bound() {
    let server = TestServer::start().await;
    let token = server.add_publisher("portal", "");
    let (id, _) = create(&server, &token, "watched").await;
    let page = format!("/articles/{id}");
    let cached = [
        "/feed.rss",
        "/feed.atom",
        "/feed.json",
        "/regions/RU-NIZ/feed.rss",
        "/regions/RU-NIZ/feed.atom",
        "/api/articles?region=RU-NIZ",
        &format!("/api/articles/{id}"),
    ];
    let mut before = Vec::new();
    for path in cached {
        before.push(server.get_tagged(path).await);
    }
    let (status, page_tag, body) = server.get_tagged(&page).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("5 просмотров"));

    add(&server, &token, id, 3).await;
    for (path, then) in cached.iter().zip(&before) {
        let now = server.get_tagged(path).await;
        assert_eq!(now, *then, "{path}: status, ETag and body unchanged by views");
    }
    let (_, tag_after_3, body) = server.get_tagged(&page).await;
    assert_ne!(tag_after_3, page_tag, "a shown count below 100 is exact");
    assert!(String::from_utf8_lossy(&body).contains("8 просмотров"));

    // 1 234 counted views show as 1 200 (two significant digits): at most 10% too few.
    add(&server, &token, id, 1231).await;
    let (_, tag_1234, body) = server.get_tagged(&page).await;
    assert!(
        String::from_utf8_lossy(&body).contains("1205 просмотров"),
        "5 + 1200"
    );
    add(&server, &token, id, 50).await;
    let (_, tag_1284, _) = server.get_tagged(&page).await;
    assert_eq!(
        tag_1284, tag_1234,
        "within the bucket: the page is not re-rendered"
    );
    add(&server, &token, id, 16).await;
    let (_, tag_1300, body) = server.get_tagged(&page).await;
    assert_ne!(tag_1300, tag_1234);
    assert!(
        String::from_utf8_lossy(&body).contains("1305 просмотров"),
        "5 + 1300"
    );
    for (path, then) in cached.iter().zip(&before) {
        assert_eq!(server.get_tagged(path).await, *then, "{path} after 1300 views");
    }
}

#[tokio::test]
async fn if_match_still_holds_after_views() {
    let server = TestServer::start().await;
    let token = server.add_publisher("portal", "");
    let (id, etag) = create(&server, &token, "edited").await;
    add(&server, &token, id, 7).await;
    let mut changed = article("edited");
    changed["title"] = json!("Новый заголовок");
    let res = server
        .client
        .put(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&token)
        .header("if-match", &etag)
        .json(&changed)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200, "a view is not a content change");
    assert_eq!(
        views(&server, id).await["counted"],
        7,
        "an edit keeps the counted views"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_and_count_nothing() {
    let server = TestServer::start().await;
    let token = server.add_publisher("portal", "");
    let elsewhere = server.add_publisher("moscow", "RU-MOW");
    let (id, _) = create(&server, &token, "guarded").await;
    let long = format!("{{\"add\": 1{}}}", " ".repeat(2000));
    let cases: &[(&str, &str, &str, u16)] = &[
        (&token, "text/plain", r#"{"add": 1}"#, 415),
        (&token, "application/json", r#"{"add": 1"#, 400),
        (&token, "application/json", r#"{"add": 1, "add": 2}"#, 400),
        (&token, "application/json", r#"{"add": 0}"#, 422),
        (&token, "application/json", r#"{"add": -4}"#, 422),
        (&token, "application/json", r#"{"add": 2.5}"#, 422),
        (&token, "application/json", r#"{"add": "3"}"#, 422),
        (&token, "application/json", r#"{"add": 1000001}"#, 422),
        (&token, "application/json", r#"{"add": 1, "id": 2}"#, 422),
        (&token, "application/json", r#"{}"#, 422),
        (&token, "application/json", r#"[{"add": 1}]"#, 422),
        (&token, "application/json", &long, 413),
        ("not-a-token", "application/json", r#"{"add": 1}"#, 401),
        (&elsewhere, "application/json", r#"{"add": 1}"#, 403),
    ];
    for (who, content_type, body, want) in cases {
        let (status, ct, problem) = post_views(&server, who, id, content_type, body).await;
        assert_eq!(status, *want, "{content_type} {body:.40}: {problem}");
        assert_eq!(ct, "application/problem+json", "{body:.40}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{body:.40}: a detail says what was wrong");
    }
    let (status, _, problem) = post_views(&server, &token, id, "application/json", r#"{"add": 0}"#).await;
    assert_eq!(status, 422);
    assert!(problem["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("from 1 to 1000000"));
    assert_eq!(views(&server, id).await["counted"], 0, "nothing was counted");
    // A regional publisher accredited for the article's region may count it; it is not the owner.
    let nizhny = server.add_publisher("nizhny", "RU-NIZ");
    assert_eq!(add(&server, &nizhny, id, 2).await["counted"], 2);
}

#[tokio::test]
async fn unknown_and_withdrawn_articles_are_404_and_410() {
    let server = TestServer::start().await;
    let token = server.add_publisher("portal", "");
    let (id, _) = create(&server, &token, "withdrawn").await;
    add(&server, &token, id, 4).await;
    let res = server
        .client
        .delete(server.url(&format!("/api/articles/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    let one = r#"{"add": 1}"#;
    let (status, _, problem) = post_views(&server, &token, id, "application/json", one).await;
    assert_eq!(status, 410, "{problem}");
    assert_eq!(
        server.get(&format!("/api/articles/{id}/views")).await.status(),
        410
    );
    let (status, _, _) = post_views(&server, &token, id + 1, "application/json", one).await;
    assert_eq!(status, 404);
    assert_eq!(
        server
            .get(&format!("/api/articles/{}/views", id + 1))
            .await
            .status(),
        404
    );
    let problems = server.app().store.check(&server.app().regions).expect("check");
    assert!(
        problems.is_empty(),
        "the delete removed the counter: {problems:?}"
    );
}
