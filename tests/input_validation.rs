//! Input validation holes of issue 9 (3, 4, 6, 7, 8, 9 and two of 12), end to end over HTTP
//! against the real server and a real store.
//!
//! Every refused write is checked for being a clean refusal: an `application/problem+json` with a
//! non-empty `detail` and, for 422s, a non-empty `errors` list; and for changing nothing: a known
//! article stays byte-identical (with its ETag), the article list and `/healthz` count stay the
//! same.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

const CT_JSON: &str = "application/json";
const CT_NDJSON: &str = "application/x-ndjson";
const ADMIN: &str = "admin-secret-for-input-validation-tests";

/// A valid article body for `external_id`.
fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"],
        "categories": ["Общество"],
        "link": "https://news.example.ru/articles/1",
        "sources": [{"name": "Время Н", "url": "https://www.vremyan.ru/"}],
        "image": {"url": "https://news.example.ru/images/1.jpg", "type": "image/jpeg"}
    })
}

/// `v` with the value at `path` (object keys) replaced by `value`.
fn with(mut v: Value, path: &[&str], value: Value) -> Value {
    let (last, parents) = path.split_last().expect("path");
    let mut at = &mut v;
    for p in parents {
        at = &mut at[*p];
    }
    at[*last] = value;
    v
}

/// An answer: status, content type, body text, and the body as JSON (null when not JSON).
struct Answer {
    status: u16,
    content_type: String,
    text: String,
    json: Value,
}

impl Answer {
    async fn of(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            text,
            json,
        }
    }

    /// Asserts a problem answer with `status` that says what was wrong (`detail`), and for a
    /// 422 lists at least one error, each with a reason; returns the problem.
    fn problem(&self, status: u16, what: &str) -> &Value {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        assert_eq!(self.content_type, "application/problem+json", "{what}");
        refusal_is_explained(&self.json, what);
        &self.json
    }

    /// The fields the problem's `errors` name.
    fn fields(&self) -> Vec<&str> {
        fields(&self.json)
    }
}

/// A problem (or a batch line's result) has a non-empty `detail`; a 422 has a non-empty
/// `errors` list whose every entry has a field and a non-empty reason.
fn refusal_is_explained(problem: &Value, what: &str) {
    let detail = problem["detail"].as_str().unwrap_or("");
    assert!(!detail.trim().is_empty(), "{what}: empty detail in {problem}");
    if problem["status"] == 422 {
        let errors = problem["errors"].as_array().map_or(&[][..], Vec::as_slice);
        assert!(!errors.is_empty(), "{what}: no errors in {problem}");
        for e in errors {
            assert!(e["field"].is_string(), "{what}: {e}");
            assert!(
                !e["reason"].as_str().unwrap_or("").trim().is_empty(),
                "{what}: {e}"
            );
        }
    }
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect()
}

/// The reason given for `field`.
fn reason<'a>(problem: &'a Value, field: &str) -> &'a str {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["field"] == field)
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_else(|| panic!("no error for {field} in {problem}"))
}

/// What must not change when a write is refused.
#[derive(Debug, PartialEq)]
struct Snapshot {
    known: (u16, Option<String>, Vec<u8>),
    list: Vec<u8>,
    count: u64,
    publishers: Vec<u8>,
}

/// A server with an admin token, publisher alice (RU-NIZ, RU-MOW) and one known article.
struct World {
    server: TestServer,
    token: String,
    known_id: u64,
}

impl World {
    async fn new() -> Self {
        let server = TestServer::start_with(|s| s.admin_token = Some(ADMIN.to_string())).await;
        let token = server.add_publisher("alice", "RU-NIZ,RU-MOW");
        let mut world = World {
            server,
            token,
            known_id: 0,
        };
        let created = world.post(&article("known")).await;
        assert_eq!(created.status, 201, "{}", created.text);
        world.known_id = created.json["id"].as_u64().expect("id");
        world
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(&self.token)
    }

    async fn send(&self, method: Method, path: &str, content_type: &str, body: String) -> Answer {
        let res = self
            .request(method, path)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        Answer::of(res).await
    }

    async fn post(&self, body: &Value) -> Answer {
        self.post_raw(body.to_string()).await
    }

    async fn post_raw(&self, body: String) -> Answer {
        self.send(Method::POST, "/api/articles", CT_JSON, body).await
    }

    /// A batch of `lines`; asserts the batch itself is answered 200 and returns the results.
    async fn batch(&self, lines: &[String]) -> Vec<Value> {
        let answer = self
            .send(
                Method::POST,
                "/api/articles/batch",
                CT_NDJSON,
                lines.join("\n") + "\n",
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json["results"].as_array().expect("results").clone()
    }

    async fn admin_post(&self, body: String) -> Answer {
        let res = self
            .server
            .client
            .post(self.server.url("/api/publishers"))
            .bearer_auth(ADMIN)
            .header("content-type", CT_JSON)
            .body(body)
            .send()
            .await
            .expect("admin POST");
        Answer::of(res).await
    }

    async fn snapshot(&self) -> Snapshot {
        let known = self
            .server
            .get_tagged(&format!("/api/articles/{}", self.known_id))
            .await;
        assert_eq!(known.0, 200);
        let (status, _, list) = self.server.get_tagged("/api/articles?limit=500").await;
        assert_eq!(status, 200);
        let (status, health) = self.server.get_text("/healthz").await;
        assert_eq!(status, 200, "{health}");
        let count = serde_json::from_str::<Value>(&health).expect("healthz JSON")["articles"]
            .as_u64()
            .expect("count");
        let publishers = self
            .server
            .client
            .get(self.server.url("/api/publishers"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("GET publishers")
            .bytes()
            .await
            .expect("body")
            .to_vec();
        Snapshot {
            known,
            list,
            count,
            publishers,
        }
    }

    /// Asserts nothing changed since `before`.
    async fn unchanged(&self, before: &Snapshot, what: &str) {
        let now = self.snapshot().await;
        assert!(now == *before, "{what}: the store changed");
    }
}

/// Hole 3: `null` for a required field is "missing" (422 naming it), for single articles, batch
/// lines and the admin API; nothing is stored, nothing overwritten.
#[tokio::test]
async fn null_required_fields_are_missing() {
    let world = World::new().await;
    let before = world.snapshot().await;
    for field in ["external_id", "title", "published_at", "regions"] {
        // Twice: before the fix, a second `external_id: null` overwrote the first.
        for _ in 0..2 {
            let answer = world.post(&with(article("n"), &[field], Value::Null)).await;
            let problem = answer.problem(422, field);
            assert_eq!(answer.fields(), [field], "{problem}");
            assert!(reason(problem, field).starts_with("required"), "{problem}");
        }
    }
    let results = world
        .batch(&[
            with(article("n1"), &["external_id"], Value::Null).to_string(),
            with(article("n2"), &["regions"], Value::Null).to_string(),
        ])
        .await;
    for (result, field) in results.iter().zip(["external_id", "regions"]) {
        assert_eq!(result["status"], 422, "{result}");
        assert_eq!(fields(result), [field], "{result}");
    }
    // Nested required fields too.
    let answer = world
        .post(&with(article("n"), &["image", "url"], Value::Null))
        .await;
    answer.problem(422, "image.url null");
    assert_eq!(answer.fields(), ["image.url"]);
    world.unchanged(&before, "null required fields").await;

    // The admin API: `regions: null` is refused like `[]` (only leaving it out means all regions).
    for regions in [Value::Null, json!([])] {
        let answer = world
            .admin_post(json!({"name": "nulls", "regions": regions}).to_string())
            .await;
        answer.problem(422, "admin regions");
        assert_eq!(answer.fields(), ["regions"], "{}", answer.text);
    }
    let answer = world.admin_post(json!({"name": null}).to_string()).await;
    assert!(reason(answer.problem(422, "admin name"), "name").starts_with("required"));
    world.unchanged(&before, "admin nulls").await;
    let answer = world.admin_post(json!({"name": "all-regions"}).to_string()).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert!(answer.json["regions"].is_null(), "{}", answer.text);
}

/// Hole 4: every refusal says what was wrong and what is allowed, for single articles and
/// batch lines (before: `"title": null` gave `"detail": ""` and no `errors`).
#[tokio::test]
async fn every_refusal_says_what_and_what_is_allowed() {
    let world = World::new().await;
    let before = world.snapshot().await;
    let bodies = [
        with(article("m"), &["title"], Value::Null),
        with(article("m"), &["published_at"], Value::Null),
        with(
            with(article("m"), &["title"], Value::Null),
            &["published_at"],
            Value::Null,
        ),
        json!({}),
        json!({"title": null, "published_at": null, "external_id": null, "regions": null}),
        with(article("m"), &["sources"], json!([{"name": null, "url": null}])),
        json!([]),
    ];
    for body in &bodies {
        let answer = world.post(body).await;
        let problem = answer.problem(422, &body.to_string());
        // The detail names a field and the rule, e.g. "title: required: 1–500 characters".
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(": "), "{problem}");
    }
    let lines: Vec<String> = bodies.iter().map(Value::to_string).collect();
    for (line, result) in lines.iter().zip(world.batch(&lines).await) {
        assert_eq!(result["status"], 422, "{line}: {result}");
        refusal_is_explained(&result, line);
    }
    world.unchanged(&before, "incomplete articles").await;
}

/// Hole 6: `published_at` must fit every format; the message gives the allowed range. The
/// boundaries are accepted and render with 4-digit years.
#[tokio::test]
async fn dates_outside_what_the_formats_carry_are_refused() {
    let world = World::new().await;
    let before = world.snapshot().await;
    for date in [
        "9999-12-31T23:59:59Z",
        "9999-12-30T00:00:01Z",
        "0000-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "1900-01-01T10:00:00+03:00",
    ] {
        let answer = world
            .post(&with(article("d"), &["published_at"], json!(date)))
            .await;
        let problem = answer.problem(422, date);
        assert_eq!(answer.fields(), ["published_at"], "{date}");
        let why = reason(problem, "published_at");
        assert!(
            why.contains("1900-01-02T00:00:00Z") && why.contains("9999-12-30T00:00:00Z"),
            "{date}: {why}"
        );
    }
    for leap in ["2024-06-30T23:59:60Z", "2016-12-31T23:59:60.5+00:00"] {
        let answer = world
            .post(&with(article("d"), &["published_at"], json!(leap)))
            .await;
        let problem = answer.problem(422, leap);
        assert!(reason(problem, "published_at").contains(":60"), "{problem}");
    }
    world.unchanged(&before, "dates out of range").await;

    // The boundaries are in, in any offset, and RSS prints a 4-digit year >= 1900.
    let earliest = with(
        article("earliest"),
        &["published_at"],
        json!("1900-01-01T19:00:00-05:00"),
    );
    let answer = world.post(&earliest).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let latest = with(
        article("latest"),
        &["published_at"],
        json!("9999-12-30T00:00:00Z"),
    );
    let answer = world.post(&latest).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let (status, rss) = world.server.get_text("/regions/RU-NIZ/feed.rss").await;
    assert_eq!(status, 200);
    assert!(
        rss.contains("<pubDate>Mon, 1 Jan 1900 19:00:00 -0500</pubDate>"),
        "{rss}"
    );
    assert!(!rss.contains(":60 "), "{rss}");
}

/// Hole 7: a problem answer stays small whatever the request: at most 20 errors plus one
/// "… and N more", echoed input cut to a short prefix; on every endpoint.
#[tokio::test]
async fn error_answers_are_bounded_relative_to_the_request() {
    let world = World::new().await;
    let before = world.snapshot().await;

    // 0.9 MB of unknown keys.
    let mut body = article("u");
    let obj = body.as_object_mut().expect("object");
    let (mut i, mut size) = (0, 0);
    while size < 910_000 {
        let key = format!("unknown_key_number_{i:08}");
        size += key.len() + 5; // "key":1,
        obj.insert(key, json!(1));
        i += 1;
    }
    let body = body.to_string();
    assert!(body.len() > 900_000);
    let answer = world.post_raw(body.clone()).await;
    let problem = answer.problem(422, "0.9 MB of unknown keys");
    eprintln!(
        "{} bytes of unknown keys -> a {}-byte 422",
        body.len(),
        answer.text.len()
    );
    assert!(answer.text.len() < 8_000, "{} bytes", answer.text.len());
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 21, "{problem}");
    let more = errors[20]["reason"].as_str().expect("reason");
    assert!(more.contains(&format!("and {} more", i - 20)), "{more}");

    // One 500 KB key and a 500 KB value where a short one is echoed.
    let long = "к".repeat(250_000);
    let mut body = with(article("u"), &["image", "type"], json!(format!("image/{long}")));
    body[long.as_str()] = json!(1);
    let answer = world.post(&body).await;
    let problem = answer.problem(422, "500 KB key");
    assert!(answer.text.len() < 4_000, "{} bytes", answer.text.len());
    assert!(fields(problem).contains(&"image.type"), "{problem}");
    let echoed = fields(problem)
        .into_iter()
        .find(|f| f.starts_with('к'))
        .expect("the long key is named");
    assert!(echoed.chars().count() <= 65 && echoed.ends_with('…'), "{echoed}");

    // The same bounds for batch lines and the admin API.
    let results = world.batch(&[body.to_string()]).await;
    assert!(results[0].to_string().len() < 4_000);
    refusal_is_explained(&results[0], "batch line");
    let answer = world.admin_post(body.to_string()).await;
    answer.problem(422, "admin");
    assert!(answer.text.len() < 4_000, "{} bytes", answer.text.len());
    // And for the read side: a long unknown query parameter.
    let res = world
        .server
        .get(&format!("/feed.rss?{}=1", "q".repeat(20_000)))
        .await;
    let answer = Answer::of(res).await;
    answer.problem(400, "long query parameter");
    assert!(answer.text.len() < 4_000, "{} bytes", answer.text.len());
    world.unchanged(&before, "huge refusals").await;
}

/// Hole 8: URLs are parsed, refused when they hide garbage, stored normalized; image types
/// follow RFC 6838.
#[tokio::test]
async fn urls_and_media_types_are_checked() {
    let world = World::new().await;
    let before = world.snapshot().await;
    let hostile = [
        "https://x.ru/\"onmouseover=\"alert(7)<script>",
        "https://x.ru/a b",
        "https://x.ru/a\tb",
        "https://x.ru/{x}",
        "https://x.ru/a\\b",
        "javascript:alert(1)",
        "https://",
    ];
    for url in hostile {
        for (path, field) in [(&["link"][..], "link"), (&["image", "url"][..], "image.url")] {
            let answer = world.post(&with(article("h"), path, json!(url))).await;
            answer.problem(422, url);
            assert_eq!(answer.fields(), [field], "{url}: {}", answer.text);
        }
        let sources = json!([{"name": "S", "url": url}]);
        let answer = world.post(&with(article("h"), &["sources"], sources)).await;
        answer.problem(422, url);
        assert_eq!(answer.fields(), ["sources[0].url"], "{url}");
    }
    for mime in [
        "image/jpeg\" onload=\"alert(9)",
        "image/jpeg; charset=utf-8",
        "image/",
        "text/html",
        "image/<svg>",
    ] {
        let answer = world
            .post(&with(article("h"), &["image", "type"], json!(mime)))
            .await;
        let problem = answer.problem(422, mime);
        assert!(reason(problem, "image.type").contains("RFC 6838"), "{problem}");
    }
    world.unchanged(&before, "hostile URLs").await;

    // A valid but unnormalized URL is stored, served and fed in its normalized form.
    let mut body = with(
        article("norm"),
        &["link"],
        json!("HTTPS://News.Example.RU/a/../новости?x=1"),
    );
    body = with(body, &["image", "type"], json!("Image/PNG"));
    let answer = world.post(&body).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let normalized = "https://news.example.ru/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8?x=1";
    assert_eq!(answer.json["link"], normalized);
    assert_eq!(answer.json["image"]["type"], "image/png");
    let (_, rss) = world.server.get_text("/regions/RU-NIZ/feed.rss").await;
    assert!(rss.contains(&format!("<link>{normalized}</link>")), "{rss}");
    // Re-sending the unnormalized form is the same article: unchanged.
    let answer = world.post(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

/// Hole 9: a category with a comma could never be queried (`category=a,b` splits), so it is
/// refused on write with the reason.
#[tokio::test]
async fn a_category_with_a_comma_is_refused() {
    let world = World::new().await;
    let before = world.snapshot().await;
    let body = with(article("c"), &["categories"], json!(["Общество", "cat,comma"]));
    let answer = world.post(&body).await;
    let problem = answer.problem(422, "comma");
    assert_eq!(answer.fields(), ["categories[1]"]);
    assert!(
        reason(problem, "categories[1]").contains("category=a,b"),
        "{problem}"
    );
    let results = world.batch(&[body.to_string()]).await;
    assert_eq!(results[0]["status"], 422);
    world.unchanged(&before, "category with a comma").await;

    // Write rule and query syntax agree: what can be written can be selected.
    let body = with(article("c"), &["categories"], json!(["кат / слэш"]));
    assert_eq!(world.post(&body).await.status, 201);
    let (status, text) = world
        .server
        .get_text("/api/articles?category=%D0%BA%D0%B0%D1%82%20%2F%20%D1%81%D0%BB%D1%8D%D1%88")
        .await;
    assert_eq!(status, 200);
    let items: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(items["items"].as_array().map(Vec::len), Some(1), "{text}");
}

/// Hole 12: an object that repeats a key is refused (400 naming the key and its line) at any
/// depth, for single articles, replacements, batch lines and the admin API.
#[tokio::test]
async fn duplicate_json_keys_are_refused() {
    let world = World::new().await;
    let before = world.snapshot().await;
    let top = r#"{"external_id": "dup", "title": "Один", "title": "Два",
        "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-NIZ"]}"#;
    let nested = r#"{"external_id": "dup", "title": "Один",
        "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-NIZ"],
        "image": {"url": "https://x.ru/1.jpg", "type": "image/jpeg", "url": "https://x.ru/2.jpg"}}"#;
    let in_array = r#"{"external_id": "dup", "title": "Один",
        "published_at": "2024-05-17T09:00:00+03:00", "regions": ["RU-NIZ"],
        "sources": [{"name": "a"}, {"name": "b", "name": "c"}]}"#;
    for (body, key, line) in [(top, "title", 1), (nested, "url", 3), (in_array, "name", 3)] {
        let answer = world.post_raw(body.to_string()).await;
        let problem = answer.problem(400, key);
        assert_eq!(problem["type"], "urn:lenta:problem:invalid-json");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains(&format!("duplicate key \"{key}\"")) && detail.contains(&format!("line {line}")),
            "{detail}"
        );
        let path = format!("/api/articles/{}", world.known_id);
        let answer = world.send(Method::PUT, &path, CT_JSON, body.to_string()).await;
        answer.problem(400, "PUT");
    }
    let lines = [top.replace('\n', " "), article("fine").to_string()];
    let results = world.batch(&lines).await;
    assert_eq!(results[0]["status"], 400, "{}", results[0]);
    assert!(results[0]["detail"]
        .as_str()
        .expect("detail")
        .contains("\"title\""));
    assert_eq!(results[1]["status"], 201, "{}", results[1]);
    let fine = results[1]["id"].as_u64().expect("id");
    let res = world
        .request(Method::DELETE, &format!("/api/articles/{fine}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), 204);
    let answer = world
        .admin_post(r#"{"name": "a", "name": "b"}"#.to_string())
        .await;
    let problem = answer.problem(400, "admin");
    assert!(
        problem["detail"].as_str().expect("detail").contains("\"name\""),
        "{problem}"
    );
    // Deep nesting is still a 400, not a crash.
    let deep = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    world.post_raw(deep).await.problem(400, "deep");
    world.unchanged(&before, "duplicate keys").await;
}

/// Hole 12: whatever `?category=` says does not appear in the portal-branded feed title.
#[tokio::test]
async fn feed_titles_do_not_print_requested_categories() {
    let world = World::new().await;
    let claim = "Официально: сайт закрыт";
    let encoded: String = form_encode(claim);
    for format in ["rss", "atom", "json"] {
        for path in [
            format!("/feed.{format}?category={encoded}"),
            format!("/regions/RU-NIZ/feed.{format}?category=%D0%9E%D0%B1%D1%89%D0%B5%D1%81%D1%82%D0%B2%D0%BE,{encoded}"),
        ] {
            let (status, body) = world.server.get_text(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            let title = feed_title(format, &body);
            assert!(title.starts_with("Лента новостей: "), "{path}: {title}");
            // Queries lower-case categories; the title must carry neither spelling.
            let lower = title.to_lowercase();
            assert!(!lower.contains("официально"), "{path}: {title}");
            assert!(!lower.contains("общество"), "{path}: {title}");
        }
    }
    // The category still filters: the known article is in the second feed, not the first.
    let (_, json_feed) = world
        .server
        .get_text(&format!("/feed.json?category={encoded}"))
        .await;
    let feed: Value = serde_json::from_str(&json_feed).expect("JSON Feed");
    assert_eq!(feed["items"].as_array().map(Vec::len), Some(0));
}

fn form_encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The feed-level title of an RSS, Atom or JSON Feed document.
fn feed_title(format: &str, body: &str) -> String {
    if format == "json" {
        let feed: Value = serde_json::from_str(body).expect("JSON Feed");
        return feed["title"].as_str().expect("title").to_string();
    }
    let doc = common::strict_xml(body);
    let root = doc.root_element();
    let parent = if format == "rss" {
        root.children()
            .find(|n| n.has_tag_name("channel"))
            .expect("channel")
    } else {
        root
    };
    parent
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .expect("title")
        .to_string()
}
