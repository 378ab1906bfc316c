//! The write API and the admin API, end to end over HTTP against a real store.
//!
//! - `bad_input_catalogue`: a table of malformed, hostile and unauthorized requests, each with
//!   the status, problem `type` and invalid fields it must get; afterwards the server still
//!   answers, no article was added or removed, and a known article is byte-for-byte unchanged.
//! - happy paths: create, idempotent upsert, conditional replace, delete, NDJSON batches,
//!   accreditation by region;
//! - sanitizing of `content_html` through the API;
//! - the admin API (`/api/publishers`).

mod common;

use common::TestServer;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};

const CT_JSON: &str = "application/json";
const CT_NDJSON: &str = "application/x-ndjson";

/// A valid article body for `external_id`.
fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "summary": "Коротко о главном.",
        "content_html": "<p>Текст статьи.</p>",
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"],
        "categories": ["Общество"],
        "author": "Иван Петров",
        "sources": [{"name": "Время Н", "url": "https://www.vremyan.ru"}],
        "image": {"url": "https://news.example.ru/images/1.jpg", "type": "image/jpeg", "length": 1000},
        "views": 5
    })
}

/// `article(external_id)` with `field` set to `value` (or removed when `value` is null and
/// `remove` is set).
fn with(mut v: Value, field: &str, value: Value) -> Value {
    v[field] = value;
    v
}

fn without(mut v: Value, field: &str) -> Value {
    v.as_object_mut().expect("object").remove(field);
    v
}

/// Who sends a request.
#[derive(Clone, Debug)]
enum Auth {
    /// A named publisher's token (see [`World`]).
    Token(&'static str),
    /// No `Authorization` header.
    Missing,
    /// This exact header value.
    Raw(Vec<u8>),
}

/// One request and what it must get back.
struct Case {
    name: String,
    method: Method,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// Suffix of the problem `type` (`urn:lenta:problem:…`).
    kind: &'static str,
    /// Fields that must be named in `errors`.
    fields: Vec<&'static str>,
    /// Text the `detail` must contain.
    detail: Option<&'static str>,
    /// Expected `Allow` header (405).
    allow: Option<&'static str>,
}

impl Case {
    /// `POST /api/articles` as alice with a JSON body.
    fn post(name: &str, body: impl Into<Vec<u8>>, status: u16, kind: &'static str) -> Self {
        Case {
            name: name.to_string(),
            method: Method::POST,
            path: "/api/articles".into(),
            auth: Auth::Token("alice"),
            content_type: Some(CT_JSON),
            headers: vec![],
            body: body.into(),
            status,
            kind,
            fields: vec![],
            detail: None,
            allow: None,
        }
    }

    /// `POST /api/articles` as alice with `value`, expected 422 naming `fields`.
    fn invalid(name: &str, value: Value, fields: &[&'static str]) -> Self {
        Case::post(name, value.to_string(), 422, "invalid-article").fields(fields)
    }

    fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = fields.to_vec();
        self
    }

    fn to(mut self, method: Method, path: impl Into<String>) -> Self {
        self.method = method;
        self.path = path.into();
        self
    }

    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    fn content_type(mut self, ct: Option<&'static str>) -> Self {
        self.content_type = ct;
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn detail(mut self, text: &'static str) -> Self {
        self.detail = Some(text);
        self
    }

    fn allow(mut self, allow: &'static str) -> Self {
        self.allow = Some(allow);
        self
    }
}

/// A server with publishers of every kind and a few articles.
struct World {
    server: TestServer,
    tokens: Vec<(&'static str, String)>,
}

impl World {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let mut tokens = vec![
            ("alice", server.add_publisher("alice", "RU-NIZ,RU-MOW")),
            ("bob", server.add_publisher("bob", "")),
            ("nizhny", server.add_publisher("nizhny", "RU-NIZ")),
            ("gone", server.add_publisher("gone", "")),
        ];
        lenta::auth::revoke(&server.app().store, "gone").expect("revoke");
        tokens.push((
            "nobody",
            "lenta_0000000000000000000000000000000000000000000000000000000000000000".into(),
        ));
        World { server, tokens }
    }

    fn token(&self, who: &str) -> &str {
        &self
            .tokens
            .iter()
            .find(|(n, _)| *n == who)
            .unwrap_or_else(|| panic!("no publisher {who}"))
            .1
    }

    fn request(&self, method: Method, path: &str, who: &str) -> reqwest::RequestBuilder {
        self.server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(self.token(who))
    }

    async fn post(&self, who: &str, body: &Value) -> reqwest::Response {
        self.request(Method::POST, "/api/articles", who)
            .header("content-type", CT_JSON)
            .body(body.to_string())
            .send()
            .await
            .expect("POST")
    }

    /// POSTs and returns the created or updated article (asserting a 2xx).
    async fn create(&self, who: &str, body: &Value) -> Value {
        let res = self.post(who, body).await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert!(status == 201 || status == 200, "{status}: {text}");
        serde_json::from_str(&text).expect("article JSON")
    }

    async fn batch(&self, who: &str, ndjson: String) -> (u16, Value) {
        let res = self
            .request(Method::POST, "/api/articles/batch", who)
            .header("content-type", CT_NDJSON)
            .body(ndjson)
            .send()
            .await
            .expect("POST batch");
        let status = res.status().as_u16();
        (
            status,
            serde_json::from_str(&res.text().await.expect("body")).expect("JSON"),
        )
    }

    async fn article_count(&self) -> u64 {
        let (status, body) = self.server.get_text("/healthz").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("healthz JSON")["articles"]
            .as_u64()
            .expect("count")
    }

    /// Status, ETag and body bytes of `GET /api/articles/{id}`.
    async fn get_article(&self, id: u64) -> (u16, Option<String>, Vec<u8>) {
        self.server.get_tagged(&format!("/api/articles/{id}")).await
    }

    /// Sends a case; returns a description of every way the answer differs from the expectation.
    async fn check(&self, case: &Case) -> Vec<String> {
        let mut req = self
            .server
            .client
            .request(case.method.clone(), self.server.url(&case.path));
        let mut headers = HeaderMap::new();
        match &case.auth {
            Auth::Token(who) => {
                let value = format!("Bearer {}", self.token(who));
                headers.insert("authorization", HeaderValue::from_str(&value).expect("header"));
            }
            Auth::Missing => {}
            Auth::Raw(bytes) => {
                headers.insert(
                    "authorization",
                    HeaderValue::from_bytes(bytes).expect("raw header"),
                );
            }
        }
        if let Some(ct) = case.content_type {
            headers.insert("content-type", HeaderValue::from_static(ct));
        }
        for (name, value) in &case.headers {
            headers.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        req = req.headers(headers);
        if !case.body.is_empty() || case.method == Method::POST || case.method == Method::PUT {
            req = req.body(case.body.clone());
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => return vec![format!("request failed: {e}")],
        };
        let mut wrong = Vec::new();
        let status = res.status().as_u16();
        let head = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        if status != case.status {
            wrong.push(format!("status {status}, expected {}", case.status));
        }
        let ct = head
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct != "application/problem+json" {
            wrong.push(format!("content-type {ct:?}"));
        }
        let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let kind = format!("urn:lenta:problem:{}", case.kind);
        if problem["type"] != kind.as_str() {
            wrong.push(format!("type {}, expected {kind}", problem["type"]));
        }
        if problem["status"] != status {
            wrong.push(format!("body status {} differs from {status}", problem["status"]));
        }
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        for field in &case.fields {
            if !named.contains(field) {
                wrong.push(format!("errors do not name {field:?} (named: {named:?})"));
            }
        }
        if let Some(text) = case.detail {
            if !problem["detail"].as_str().unwrap_or("").contains(text) {
                wrong.push(format!("detail does not mention {text:?}"));
            }
        }
        if status == 401 {
            let challenge = head
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !challenge.starts_with("Bearer ") {
                wrong.push(format!("WWW-Authenticate {challenge:?}"));
            }
        }
        if let Some(allow) = case.allow {
            let got = head.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
            if got != allow {
                wrong.push(format!("Allow {got:?}, expected {allow:?}"));
            }
        }
        if !wrong.is_empty() {
            wrong.push(format!("body: {}", &text[..text.len().min(400)]));
        }
        wrong
    }
}

/// Invalid and hostile requests, each refused with the right status, problem type and fields,
/// and none of them changes anything.
#[tokio::test]
async fn bad_input_catalogue() {
    let world = World::new().await;
    let known = world.create("alice", &article("known")).await;
    let known_id = known["id"].as_u64().expect("id");
    world.create("alice", &article("other")).await;
    world
        .create("bob", &with(article("bobs"), "regions", json!(["RU-MOW"])))
        .await;
    let (_, known_etag, known_bytes) = world.get_article(known_id).await;
    let known_etag = known_etag.expect("ETag");
    let count = world.article_count().await;
    assert_eq!(count, 3);

    let a = || article("new-1");
    let known_path = format!("/api/articles/{known_id}");
    let deep_arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let mut invalid_utf8 = br#"{"external_id":"u","title":"bad "#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(br#"","published_at":"2024-05-17T09:00:00+03:00","regions":["RU-NIZ"]}"#);
    let huge = {
        let mut v = a();
        v["content_html"] = json!(format!("<p>{}</p>", "x".repeat(2 << 20)));
        v.to_string()
    };
    let cases = vec![
        // Syntax: 400 with the position.
        Case::post("truncated JSON", r#"{"title": "x""#, 400, "invalid-json"),
        Case::post("single quotes", "{'title': 'x'}", 400, "invalid-json"),
        Case::post("trailing comma", r#"{"title": "x",}"#, 400, "invalid-json"),
        Case::post("empty body", "", 400, "invalid-json"),
        Case::post("whitespace body", " \n\t ", 400, "invalid-json"),
        Case::post("two JSON values", format!("{} {}", a(), a()), 400, "invalid-json"),
        Case::post("10,000 nested arrays", deep_arrays.clone(), 400, "invalid-json"),
        Case::post("10,000 nested objects", deep_objects, 400, "invalid-json"),
        Case::post("invalid UTF-8 bytes", invalid_utf8, 400, "invalid-utf8"),
        Case::post(
            "lone surrogate escape",
            with(a(), "title", json!("x"))
                .to_string()
                .replace("\"x\"", r#""\ud800""#),
            400,
            "invalid-json",
        ),
        // Shape: valid JSON, but not an article object.
        Case::post("array, not an object", "[]", 422, "invalid-article").fields(&[""]),
        Case::post("array of articles", format!("[{}]", a()), 422, "invalid-article").fields(&[""]),
        Case::post("string", "\"hello\"", 422, "invalid-article").fields(&[""]),
        Case::post("null", "null", 422, "invalid-article").fields(&[""]),
        Case::post("number", "42", 422, "invalid-article").fields(&[""]),
        // Size and content type.
        Case::post("2 MiB body", huge, 413, "too-large"),
        Case::post("text/plain", a().to_string(), 415, "unsupported-media-type")
            .content_type(Some("text/plain")),
        Case::post("no content type", a().to_string(), 415, "unsupported-media-type").content_type(None),
        Case::post("form encoded", "title=x", 415, "unsupported-media-type")
            .content_type(Some("application/x-www-form-urlencoded")),
        Case::post(
            "NDJSON to the single endpoint",
            a().to_string(),
            415,
            "unsupported-media-type",
        )
        .content_type(Some(CT_NDJSON)),
        // Credentials: 401 with a Bearer challenge, before anything else is looked at.
        Case::post("no token", a().to_string(), 401, "unauthorized").auth(Auth::Missing),
        Case::post(
            "no token and wrong content type",
            a().to_string(),
            401,
            "unauthorized",
        )
        .auth(Auth::Missing)
        .content_type(Some("text/plain")),
        Case::post("Bearer without token", a().to_string(), 401, "unauthorized")
            .auth(Auth::Raw(b"Bearer".to_vec())),
        Case::post("Basic credentials", a().to_string(), 401, "unauthorized")
            .auth(Auth::Raw(b"Basic YWxpY2U6c2VjcmV0".to_vec())),
        Case::post("garbled token", a().to_string(), 401, "unauthorized")
            .auth(Auth::Raw(b"Bearer not-a-real-token".to_vec())),
        Case::post("token with a space in it", a().to_string(), 401, "unauthorized")
            .auth(Auth::Raw(b"Bearer lenta_ab cd".to_vec())),
        Case::post(
            "non-ASCII bytes in the header",
            a().to_string(),
            401,
            "unauthorized",
        )
        .auth(Auth::Raw(vec![
            b'B', b'e', b'a', b'r', b'e', b'r', b' ', 0xd0, 0xb9, 0xff,
        ])),
        Case::post("unknown token", a().to_string(), 401, "unauthorized").auth(Auth::Token("nobody")),
        Case::post("revoked token", a().to_string(), 401, "unauthorized").auth(Auth::Token("gone")),
        // Fields: 422 naming every bad one.
        Case::invalid("title is a number", with(a(), "title", json!(5)), &["title"]),
        Case::invalid(
            "regions is a string",
            with(a(), "regions", json!("RU-NIZ")),
            &["regions"],
        ),
        Case::invalid("views is a string", with(a(), "views", json!("many")), &["views"]),
        Case::invalid("views is negative", with(a(), "views", json!(-1)), &["views"]),
        Case::invalid("views is fractional", with(a(), "views", json!(1.5)), &["views"]),
        Case::invalid(
            "published_at is a number",
            with(a(), "published_at", json!(1715925600)),
            &["published_at"],
        ),
        Case::invalid(
            "content_html is an object",
            with(a(), "content_html", json!({"p": 1})),
            &["content_html"],
        ),
        Case::invalid("missing title", without(a(), "title"), &["title"]),
        Case::invalid("blank title", with(a(), "title", json!("   \t ")), &["title"]),
        Case::invalid(
            "501-character title",
            with(a(), "title", json!("я".repeat(501))),
            &["title"],
        ),
        Case::invalid(
            "missing external_id",
            without(a(), "external_id"),
            &["external_id"],
        ),
        Case::invalid(
            "201-character external_id",
            with(a(), "external_id", json!("e".repeat(201))),
            &["external_id"],
        ),
        Case::invalid(
            "missing published_at",
            without(a(), "published_at"),
            &["published_at"],
        ),
        Case::invalid("missing regions", without(a(), "regions"), &["regions"]),
        Case::invalid("no regions", with(a(), "regions", json!([])), &["regions"]),
        Case::invalid(
            "unknown region",
            with(a(), "regions", json!(["RU-NIZ", "RU-XXX"])),
            &["regions[1]"],
        ),
        Case::invalid(
            "month 13",
            with(a(), "published_at", json!("2024-13-01T00:00:00+03:00")),
            &["published_at"],
        ),
        Case::invalid(
            "date without time",
            with(a(), "published_at", json!("2024-05-17")),
            &["published_at"],
        ),
        Case::invalid(
            "time without offset",
            with(a(), "published_at", json!("2024-05-17T09:00:00")),
            &["published_at"],
        ),
        Case::invalid(
            "date in words",
            with(a(), "published_at", json!("yesterday")),
            &["published_at"],
        ),
        Case::invalid(
            "RFC 2822 date",
            with(a(), "published_at", json!("Fri, 17 May 2024 09:00:00 +0300")),
            &["published_at"],
        ),
        Case::invalid(
            "javascript: link",
            with(a(), "link", json!("javascript:alert(1)")),
            &["link"],
        ),
        Case::invalid(
            "ftp link",
            with(a(), "link", json!("ftp://example.org/a")),
            &["link"],
        ),
        Case::invalid(
            "relative link",
            with(a(), "link", json!("/articles/1")),
            &["link"],
        ),
        Case::invalid(
            "link without host",
            with(a(), "link", json!("http://")),
            &["link"],
        ),
        Case::invalid(
            "data: image",
            with(
                a(),
                "image",
                json!({"url": "data:image/png;base64,AAAA", "type": "image/png"}),
            ),
            &["image.url"],
        ),
        Case::invalid(
            "javascript: source",
            with(
                a(),
                "sources",
                json!([{"name": "X", "url": "javascript:alert(1)"}]),
            ),
            &["sources[0].url"],
        ),
        Case::invalid(
            "image of type text/html",
            with(
                a(),
                "image",
                json!({"url": "https://e.org/i", "type": "text/html"}),
            ),
            &["image.type"],
        ),
        Case::invalid(
            "U+0000 in title",
            with(a(), "title", json!("a\u{0}b")),
            &["title"],
        ),
        Case::invalid(
            "U+000B in summary",
            with(a(), "summary", json!("a\u{b}b")),
            &["summary"],
        ),
        Case::invalid(
            "U+001F in author",
            with(a(), "author", json!("a\u{1f}b")),
            &["author"],
        ),
        Case::invalid(
            "U+FFFE in a category",
            with(a(), "categories", json!(["ok", "a\u{fffe}b"])),
            &["categories[1]"],
        ),
        Case::invalid(
            "U+0008 in content_html",
            with(a(), "content_html", json!("<p>a\u{8}b</p>")),
            &["content_html"],
        ),
        Case::invalid(
            "U+FFFF in a source name",
            with(a(), "sources", json!([{"name": "a\u{ffff}"}])),
            &["sources[0].name"],
        ),
        Case::invalid(
            "image length is a string",
            with(
                a(),
                "image",
                json!({"url": "https://e.org/i.jpg", "type": "image/jpeg", "length": "1 KB"}),
            ),
            &["image.length"],
        ),
        Case::invalid(
            "U+0000 in the image type",
            with(
                a(),
                "image",
                json!({"url": "https://e.org/i.jpg", "type": "image/\u{0}"}),
            ),
            &["image.type"],
        ),
        Case::invalid(
            "33 categories",
            with(
                a(),
                "categories",
                json!((0..33).map(|i| format!("c{i}")).collect::<Vec<_>>()),
            ),
            &["categories"],
        ),
        Case::invalid("unknown field", with(a(), "tittle", json!("typo")), &["tittle"]),
        Case::invalid("id in the body", with(a(), "id", json!(known_id)), &["id"]),
        Case::invalid(
            "publisher in the body",
            with(a(), "publisher", json!("bob")),
            &["publisher"],
        ),
        Case::invalid(
            "updated_at in the body",
            with(a(), "updated_at", json!("2024-05-17T09:00:00Z")),
            &["updated_at"],
        ),
        Case::invalid(
            "unknown image field",
            with(
                a(),
                "image",
                json!({"url": "https://e.org/i.jpg", "type": "image/jpeg", "alt": "x"}),
            ),
            &["image.alt"],
        ),
        Case::invalid(
            "everything wrong at once",
            json!({"title": "", "published_at": "soon", "regions": ["XX"], "link": "ftp://x", "views": -3, "tittle": 1}),
            &[
                "external_id",
                "title",
                "published_at",
                "regions[0]",
                "link",
                "views",
                "tittle",
            ],
        ),
        // Accreditation and ownership: 403.
        Case::post(
            "region outside the accreditation",
            with(a(), "regions", json!(["RU-MOW"])).to_string(),
            403,
            "region-not-accredited",
        )
        .auth(Auth::Token("nizhny"))
        .fields(&["regions"])
        .detail("RU-MOW"),
        Case::post(
            "one region outside the accreditation",
            with(a(), "regions", json!(["RU-NIZ", "RU-SPE"])).to_string(),
            403,
            "region-not-accredited",
        )
        .fields(&["regions"])
        .detail("RU-SPE"),
        Case::post(
            "someone else's article",
            article("x").to_string(),
            403,
            "not-owner",
        )
        .to(Method::PUT, known_path.clone())
        .auth(Auth::Token("bob")),
        Case::post("someone else's article, deleted", "", 403, "not-owner")
            .to(Method::DELETE, known_path.clone())
            .auth(Auth::Token("bob"))
            .content_type(None),
        Case::post(
            "moving an article out of the accreditation",
            with(article("known"), "regions", json!(["RU-SPE"])).to_string(),
            403,
            "region-not-accredited",
        )
        .to(Method::PUT, known_path.clone())
        .detail("RU-SPE"),
        // Preconditions: 412.
        Case::post(
            "stale If-Match",
            article("known").to_string(),
            412,
            "stale-if-match",
        )
        .to(Method::PUT, known_path.clone())
        .header("if-match", "\"0123456789abcdef\""),
        Case::post(
            "weak If-Match of the current ETag",
            article("known").to_string(),
            412,
            "stale-if-match",
        )
        .to(Method::PUT, known_path.clone())
        .header("if-match", format!("W/{known_etag}")),
        Case::post(
            "stale If-Match list",
            article("known").to_string(),
            412,
            "stale-if-match",
        )
        .to(Method::PUT, known_path.clone())
        .header("if-match", "\"a\", \"b\""),
        Case::post("stale If-Match on delete", "", 412, "stale-if-match")
            .to(Method::DELETE, known_path.clone())
            .content_type(None)
            .header("if-match", "\"stale\""),
        // Conflicts, unknown targets and methods.
        Case::post(
            "external_id of another article",
            with(article("known"), "external_id", json!("other")).to_string(),
            409,
            "external-id-taken",
        )
        .to(Method::PUT, known_path.clone())
        .fields(&["external_id"]),
        Case::post(
            "replace a missing article",
            article("x").to_string(),
            404,
            "not-found",
        )
        .to(Method::PUT, "/api/articles/999999999"),
        Case::post("delete a missing article", "", 404, "not-found")
            .to(Method::DELETE, "/api/articles/999999999")
            .content_type(None),
        Case::post("id 0", a().to_string(), 404, "not-found").to(Method::PUT, "/api/articles/0"),
        Case::post("id not a number", a().to_string(), 404, "not-found").to(Method::PUT, "/api/articles/abc"),
        Case::post("PATCH an article", r#"{"title":"x"}"#, 405, "method-not-allowed")
            .to(Method::PATCH, known_path.clone())
            .allow("GET, HEAD, PUT, DELETE, OPTIONS"),
        Case::post("DELETE the collection", "", 405, "method-not-allowed")
            .to(Method::DELETE, "/api/articles")
            .allow("GET, HEAD, POST, OPTIONS"),
        Case::post("PUT the collection", a().to_string(), 405, "method-not-allowed")
            .to(Method::PUT, "/api/articles")
            .allow("GET, HEAD, POST, OPTIONS"),
        Case::post("GET the batch endpoint", "", 405, "method-not-allowed")
            .to(Method::GET, "/api/articles/batch")
            .content_type(None)
            .allow("POST"),
        // Batches refused as a whole.
        Case::post("batch without token", a().to_string(), 401, "unauthorized")
            .to(Method::POST, "/api/articles/batch")
            .auth(Auth::Missing)
            .content_type(Some(CT_NDJSON)),
        Case::post(
            "batch as application/json",
            a().to_string(),
            415,
            "unsupported-media-type",
        )
        .to(Method::POST, "/api/articles/batch"),
    ];
    assert!(cases.len() >= 40, "only {} rows", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let wrong = world.check(case).await;
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({} {}):\n    {}",
                case.name,
                case.method,
                case.path,
                wrong.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing changed, and the server is fine.
    assert_eq!(
        world.article_count().await,
        count,
        "the catalogue changed the article count"
    );
    let (status, etag, bytes) = world.get_article(known_id).await;
    assert_eq!(status, 200);
    assert_eq!(
        etag.as_deref(),
        Some(known_etag.as_str()),
        "ETag of the known article changed"
    );
    assert_eq!(bytes, known_bytes, "the known article changed");
    let listed: Value =
        serde_json::from_str(&world.server.get_text("/api/articles?limit=500").await.1).expect("list JSON");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(3));
    // Still takes writes.
    let res = world.post("alice", &article("after-catalogue")).await;
    assert_eq!(res.status(), 201);
}

/// A body over the limit sent without `Content-Length` (chunked) is cut off at the limit: 413.
#[tokio::test]
async fn chunked_body_over_the_limit_is_refused() {
    let server = TestServer::start_with(|s| s.max_body_bytes = 64 << 10).await;
    let token = server.add_publisher("alice", "");
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let head = format!(
            "POST /api/articles HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("write head");
        let chunk = vec![b' '; 16 << 10];
        for _ in 0..8 {
            // The server may answer and stop reading before all of it is sent.
            let sent = stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .is_ok()
                && stream.write_all(&chunk).is_ok()
                && stream.write_all(b"\r\n").is_ok();
            if !sent {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .expect("client thread");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("urn:lenta:problem:too-large"), "{answer}");
    assert_eq!(server.app().store.article_count(), 0);
}

#[tokio::test]
async fn create_upsert_replace_delete() {
    let world = World::new().await;
    let base = world.server.base.clone();

    // Create: 201, Location, ETag, the stored article.
    let res = world.post("alice", &article("life-1")).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().expect("location").to_string();
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let created: Value = res.json().await.expect("JSON");
    let id = created["id"].as_u64().expect("id");
    assert_eq!(location, format!("{base}/api/articles/{id}"));
    assert_eq!(created["publisher"], "alice");
    assert_eq!(created["external_id"], "life-1");
    assert_eq!(created["title"], "Статья life-1");
    assert_eq!(created["regions"], json!(["RU-NIZ"]));
    assert_eq!(created["published_at"], "2024-05-17T09:00:00+03:00");
    // URLs are stored in their normalized form (the sent one has no path).
    assert_eq!(
        created["sources"],
        json!([{"name": "Время Н", "url": "https://www.vremyan.ru/"}])
    );
    assert_eq!(created["url"], format!("{base}/articles/{id}"));
    // The Location serves it, with the same validator.
    let res = world.server.client.get(&location).send().await.expect("GET");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().expect("etag"), etag);
    assert_eq!(res.json::<Value>().await.expect("JSON"), created);

    // The same article again: 200, same id, nothing changes (not even updated_at or the ETag).
    let res = world.post("alice", &article("life-1")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().expect("etag"), etag);
    let again: Value = res.json().await.expect("JSON");
    assert_eq!(again, created);

    // The same external_id with a new title: an update of the same article.
    let res = world
        .post(
            "alice",
            &with(article("life-1"), "title", json!("Исправленный заголовок")),
        )
        .await;
    assert_eq!(res.status(), 200);
    let etag2 = res.headers()["etag"].to_str().expect("etag").to_string();
    let updated: Value = res.json().await.expect("JSON");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["title"], "Исправленный заголовок");
    assert_ne!(etag2, etag);
    assert_eq!(world.article_count().await, 1);
    // Another publisher's identical external_id is another article.
    let bobs = world.create("bob", &article("life-1")).await;
    assert_ne!(bobs["id"], id);
    assert_eq!(world.article_count().await, 2);

    // Replace with the current ETag: 200; external_id may be left out and is kept.
    let replacement = without(with(article("life-1"), "title", json!("Заменено")), "external_id");
    let res = world
        .request(Method::PUT, &format!("/api/articles/{id}"), "alice")
        .header("content-type", CT_JSON)
        .header("if-match", &etag2)
        .body(replacement.to_string())
        .send()
        .await
        .expect("PUT");
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("location").is_none());
    let etag3 = res.headers()["etag"].to_str().expect("etag").to_string();
    let replaced: Value = res.json().await.expect("JSON");
    assert_eq!(replaced["title"], "Заменено");
    assert_eq!(replaced["external_id"], "life-1");
    assert_eq!(replaced["id"], id);
    // The old ETag is stale now.
    let res = world
        .request(Method::PUT, &format!("/api/articles/{id}"), "alice")
        .header("content-type", CT_JSON)
        .header("if-match", &etag2)
        .body(replacement.to_string())
        .send()
        .await
        .expect("PUT");
    assert_eq!(res.status(), 412);
    // If-Match: * and a list containing the current tag both hold.
    for if_match in ["*".to_string(), format!("\"nope\", {etag3}")] {
        let res = world
            .request(Method::PUT, &format!("/api/articles/{id}"), "alice")
            .header("content-type", "application/json; charset=utf-8")
            .header("if-match", if_match.as_str())
            .body(replacement.to_string())
            .send()
            .await
            .expect("PUT");
        assert_eq!(res.status(), 200, "If-Match {if_match}");
    }

    // The article is in the feeds before it is deleted.
    for path in ["/feed.json", "/regions/RU-NIZ/feed.json", "/api/articles"] {
        assert!(world.server.get_text(path).await.1.contains("Заменено"), "{path}");
    }
    // Delete with the current ETag: 204, then gone everywhere.
    let res = world
        .request(Method::DELETE, &format!("/api/articles/{id}"), "alice")
        .header("if-match", &etag3)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), 204);
    assert!(res.text().await.expect("body").is_empty());
    assert_eq!(world.get_article(id).await.0, 404);
    for path in [
        "/feed.json",
        "/regions/RU-NIZ/feed.json",
        "/feed.atom",
        "/api/articles",
    ] {
        let (status, body) = world.server.get_text(path).await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("Заменено"),
            "{path} still shows the deleted article"
        );
    }
    assert_eq!(world.article_count().await, 1);
    let res = world
        .request(Method::DELETE, &format!("/api/articles/{id}"), "alice")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), 404);
    // The external_id is free again; the new article gets a new id (ids are never reused).
    let reborn = world.create("alice", &article("life-1")).await;
    assert_ne!(reborn["id"], id);
}

#[tokio::test]
async fn accreditation_limits_regions() {
    let world = World::new().await;
    let mow = with(article("r-1"), "regions", json!(["RU-MOW"]));
    let res = world.post("nizhny", &mow).await;
    assert_eq!(res.status(), 403);
    let problem: Value = res.json().await.expect("problem");
    assert_eq!(problem["type"], "urn:lenta:problem:region-not-accredited");
    assert!(
        problem["detail"].as_str().expect("detail").contains("RU-MOW"),
        "{problem}"
    );
    let res = world.post("nizhny", &article("r-1")).await;
    assert_eq!(res.status(), 201);
    // An accreditation for everything (bob) covers Moscow; region codes are case-insensitive.
    let res = world
        .post("bob", &with(article("r-2"), "regions", json!(["ru-mow"])))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.expect("JSON")["regions"],
        json!(["RU-MOW"])
    );
    // The Bearer scheme is case-insensitive (RFC 9110 §11.1).
    let res = world
        .server
        .client
        .post(world.server.url("/api/articles"))
        .header("authorization", format!("bEARER {}", world.token("nizhny")))
        .header("content-type", CT_JSON)
        .body(article("r-3").to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201);
    // 500 characters of title are fine.
    let res = world
        .post("nizhny", &with(article("r-4"), "title", json!("я".repeat(500))))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(world.article_count().await, 4);
}

#[tokio::test]
async fn batch_reports_each_line() {
    let world = World::new().await;
    let lines = [
        article("b-1").to_string(),                                         // 1: created
        "{\"external_id\": \"b-2\",".to_string(),                           // 2: bad JSON
        String::new(),                                                      // 3: blank, skipped
        with(article("b-3"), "title", json!("")).to_string(),               // 4: invalid field
        with(article("b-1"), "title", json!("Второй вариант")).to_string(), // 5: updates line 1
        with(article("b-4"), "regions", json!(["RU-SPE"])).to_string(),     // 6: not accredited
        article("b-5").to_string(),                                         // 7: created
        article("b-5").to_string(),                                         // 8: unchanged
        "[1, 2]".to_string(),                                               // 9: not an object
    ];
    let (status, summary) = world.batch("alice", lines.join("\n") + "\n").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["created"], 2, "{summary}");
    assert_eq!(summary["updated"], 1, "{summary}");
    assert_eq!(summary["unchanged"], 1, "{summary}");
    assert_eq!(summary["rejected"], 4, "{summary}");
    let results = summary["results"].as_array().expect("results");
    let by_line: Vec<(u64, u64)> = results
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().expect("line"),
                r["status"].as_u64().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        by_line,
        [
            (1, 201),
            (2, 400),
            (4, 422),
            (5, 200),
            (6, 403),
            (7, 201),
            (8, 200),
            (9, 422)
        ]
    );
    assert_eq!(
        results[0]["id"], results[3]["id"],
        "line 5 must update line 1's article"
    );
    assert_eq!(results[5]["id"], results[6]["id"]);
    assert_eq!(results[2]["errors"][0]["field"], "title");
    assert!(results[4]["detail"].as_str().expect("detail").contains("RU-SPE"));
    assert!(results[1].get("id").is_none());
    // What the batch says it stored is there, as the last line left it.
    let id = results[0]["id"].as_u64().expect("id");
    let (status, _, body) = world.get_article(id).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("JSON")["title"],
        "Второй вариант"
    );
    assert_eq!(world.article_count().await, 2);

    // A large batch goes through the parallel path and writes everything, in line order.
    let many: Vec<String> = (0..1500)
        .map(|i| article(&format!("many-{}", i % 1000)).to_string())
        .collect();
    let (status, summary) = world.batch("bob", many.join("\n")).await;
    assert_eq!(status, 200);
    assert_eq!(summary["created"], 1000, "{}", &summary.to_string()[..300]);
    assert_eq!(summary["unchanged"], 500);
    assert_eq!(summary["rejected"], 0);
    let results = summary["results"].as_array().expect("results");
    assert_eq!(results.len(), 1500);
    assert!(results.iter().enumerate().all(|(i, r)| r["line"] == i + 1));
    assert!((1000..1500).all(|i| results[i]["id"] == results[i - 1000]["id"]));
    assert_eq!(world.article_count().await, 1002);
    // Another publisher's batch cannot touch these: bob's lines are bob's articles.
    let (_, summary) = world.batch("alice", article("many-1").to_string()).await;
    assert_eq!(summary["created"], 1);

    // A line may be no larger than a single-article body (1 MiB by default): that line is 413.
    let big = with(
        article("big"),
        "content_html",
        json!(format!("<p>{}</p>", "x".repeat(1 << 20))),
    );
    let (status, summary) = world
        .batch("alice", format!("{big}\n{}\n", article("small")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        summary["results"][0]["status"],
        413,
        "{}",
        &summary.to_string()[..300]
    );
    assert_eq!(summary["results"][1]["status"], 201);
}

/// `content_html` is sanitized on the way in, and the sanitized version is what comes back.
#[tokio::test]
async fn content_is_sanitized() {
    let world = World::new().await;
    let fixture = common::fixtures()
        .into_iter()
        .find(|f| f["external_id"] == "escaping-1")
        .expect("fixture escaping-1");
    let created = world.create("alice", &fixture).await;
    let id = created["id"].as_u64().expect("id");
    let (_, _, stored) = world.get_article(id).await;
    let stored: Value = serde_json::from_slice(&stored).expect("JSON");
    for html in [&created["content_html"], &stored["content_html"]] {
        let html = html.as_str().expect("content_html");
        assert!(html.contains("<p>x &lt; y</p>"), "{html}");
        for bad in ["<script", "alert(1)", "onerror", "alert(2)"] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
    }
    // Titles and summaries are plain text, kept as given (renderers escape them).
    assert_eq!(stored["title"], fixture["title"]);
    assert_eq!(stored["summary"], "a < b && c > d");
    let (_, feed) = world.server.get_text("/regions/RU-MOW/feed.json").await;
    assert!(!feed.contains("<script") && !feed.contains("onerror"), "{feed}");

    let markup = "<h2>Подзаголовок</h2><p>Текст <a href=\"https://example.org/x\">ссылка</a>.</p>\
                  <img src=\"https://example.org/i.jpg\" alt=\"фото\">\
                  <ul><li>один</li><li>два</li></ul><blockquote>цитата</blockquote>\
                  <p><a href=\"javascript:alert(3)\">плохая</a><span onclick=\"x()\">клик</span></p>";
    let created = world
        .create("alice", &with(article("markup"), "content_html", json!(markup)))
        .await;
    let html = created["content_html"].as_str().expect("content_html");
    for good in [
        "<h2>Подзаголовок</h2>",
        "<a href=\"https://example.org/x\"",
        ">ссылка</a>",
        "<img src=\"https://example.org/i.jpg\" alt=\"фото\">",
        "<ul><li>один</li><li>два</li></ul>",
        "<blockquote>цитата</blockquote>",
        "клик",
    ] {
        assert!(html.contains(good), "{good} lost: {html}");
    }
    for bad in ["javascript:", "onclick", "x()"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    // Markup that sanitizes to nothing leaves no content at all.
    let created = world
        .create(
            "alice",
            &with(article("empty"), "content_html", json!("<script>x()</script>")),
        )
        .await;
    assert!(created.get("content_html").is_none(), "{created}");
}

const ADMIN: &str = "admin-secret-for-tests-0123456789";

async fn admin(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = server.client.request(method, server.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.header("content-type", CT_JSON).body(body.to_string());
    }
    req.send().await.expect("admin request")
}

async fn problem_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    (status, res.json().await.expect("problem JSON"))
}

#[tokio::test]
async fn admin_api_is_off_without_a_token() {
    let server = TestServer::start().await;
    for (method, path) in [
        (Method::GET, "/api/publishers"),
        (Method::POST, "/api/publishers"),
        (Method::DELETE, "/api/publishers/x"),
    ] {
        let res = admin(
            &server,
            method.clone(),
            path,
            Some("anything"),
            Some(json!({"name": "x"})),
        )
        .await;
        let (status, problem) = problem_of(res).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(problem["type"], "urn:lenta:problem:admin-disabled");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("LENTA_ADMIN_TOKEN"),
            "{problem}"
        );
    }
    assert!(lenta::auth::list(&server.app().store).expect("list").is_empty());
}

#[tokio::test]
async fn admin_api_manages_publishers() {
    let server = TestServer::start_with(|s| s.admin_token = Some(ADMIN.to_string())).await;
    let publisher_token = server.add_publisher("portal", "");

    // Only the admin token opens it.
    for token in [None, Some("wrong"), Some(publisher_token.as_str()), Some("")] {
        let res = admin(&server, Method::GET, "/api/publishers", token, None).await;
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii").to_string());
        let (status, problem) = problem_of(res).await;
        assert_eq!(status, 401, "token {token:?}");
        assert_eq!(problem["type"], "urn:lenta:problem:unauthorized");
        assert!(
            challenge.is_some_and(|c| c.starts_with("Bearer realm=\"lenta-admin\"")),
            "token {token:?}"
        );
    }

    // Accredit: 201, the token shown once, not cached.
    let res = admin(
        &server,
        Method::POST,
        "/api/publishers",
        Some(ADMIN),
        Some(json!({"name": "nn-pravda", "regions": ["ru-niz"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["location"], server.url("/api/publishers/nn-pravda"));
    let created: Value = res.json().await.expect("JSON");
    assert_eq!(created["name"], "nn-pravda");
    assert_eq!(created["regions"], json!(["RU-NIZ"]));
    assert!(created.get("token_hash").is_none(), "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("lenta_") && token.len() == 6 + 64, "{token}");

    // The token writes within its accreditation only.
    let post = |token: String, body: Value| {
        let client = server.client.clone();
        let url = server.url("/api/articles");
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("content-type", CT_JSON)
                .body(body.to_string())
                .send()
                .await
                .expect("POST")
        }
    };
    let res = post(token.clone(), article("pravda-1")).await;
    assert_eq!(res.status(), 201);
    let article_id = res.json::<Value>().await.expect("JSON")["id"]
        .as_u64()
        .expect("id");
    assert_eq!(
        post(
            token.clone(),
            with(article("pravda-2"), "regions", json!(["RU-MOW"]))
        )
        .await
        .status(),
        403
    );

    // Listed without secrets.
    let res = admin(&server, Method::GET, "/api/publishers", Some(ADMIN), None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.expect("body");
    assert!(!text.contains(&token), "the token is listed");
    assert!(
        !text.contains(blake3::hash(token.as_bytes()).to_hex().as_str()),
        "the token hash is listed"
    );
    let listed: Value = serde_json::from_str(&text).expect("JSON");
    let names: Vec<&str> = listed["publishers"]
        .as_array()
        .expect("publishers")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["nn-pravda", "portal"]);
    for p in listed["publishers"].as_array().expect("publishers") {
        assert!(p.get("token").is_none() && p.get("token_hash").is_none(), "{p}");
        assert!(p["created_at"].is_string());
    }
    assert_eq!(
        listed["publishers"][1]["regions"],
        Value::Null,
        "portal may publish everywhere"
    );

    // Bad requests.
    let bad: Vec<(Value, u16, &str, &str)> = vec![
        (json!({"name": "nn-pravda"}), 409, "publisher-exists", "name"),
        (json!({"name": "Bad Name"}), 422, "invalid-publisher", "name"),
        (json!({"name": "x".repeat(65)}), 422, "invalid-publisher", "name"),
        (json!({"name": 5}), 422, "invalid-publisher", "name"),
        (json!({"regions": ["RU-NIZ"]}), 422, "invalid-publisher", "name"),
        (
            json!({"name": "ok", "regions": ["RU-XXX"]}),
            422,
            "invalid-publisher",
            "regions[0]",
        ),
        (
            json!({"name": "ok", "regions": "RU-NIZ"}),
            422,
            "invalid-publisher",
            "regions",
        ),
        (
            json!({"name": "ok", "regions": []}),
            422,
            "invalid-publisher",
            "regions",
        ),
        (
            json!({"name": "ok", "token": "mine"}),
            422,
            "invalid-publisher",
            "token",
        ),
        (json!(["ok"]), 422, "invalid-publisher", ""),
    ];
    for (body, status, kind, field) in bad {
        let (got, problem) = problem_of(
            admin(
                &server,
                Method::POST,
                "/api/publishers",
                Some(ADMIN),
                Some(body.clone()),
            )
            .await,
        )
        .await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["type"], format!("urn:lenta:problem:{kind}"), "{body}");
        assert!(
            problem["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {problem}"
        );
    }
    let res = server
        .client
        .post(server.url("/api/publishers"))
        .bearer_auth(ADMIN)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 415);
    let res = server
        .client
        .post(server.url("/api/publishers"))
        .bearer_auth(ADMIN)
        .header("content-type", CT_JSON)
        .body("{\"name\":")
        .send()
        .await
        .expect("POST");
    assert_eq!(problem_of(res).await.1["type"], "urn:lenta:problem:invalid-json");
    let res = admin(&server, Method::PATCH, "/api/publishers", Some(ADMIN), None).await;
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["allow"].to_str().expect("allow")
        ),
        (405, "GET, HEAD, POST")
    );
    let res = admin(
        &server,
        Method::GET,
        "/api/publishers/nn-pravda",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["allow"].to_str().expect("allow")
        ),
        (405, "DELETE")
    );

    // Revoke: 204, the token stops working, the articles stay; revoking twice is fine.
    let res = admin(
        &server,
        Method::DELETE,
        "/api/publishers/nn-pravda",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(post(token.clone(), article("pravda-3")).await.status(), 401);
    assert_eq!(
        server.get(&format!("/api/articles/{article_id}")).await.status(),
        200
    );
    assert_eq!(
        admin(
            &server,
            Method::DELETE,
            "/api/publishers/nn-pravda",
            Some(ADMIN),
            None
        )
        .await
        .status(),
        204
    );
    let (status, problem) = problem_of(
        admin(
            &server,
            Method::DELETE,
            "/api/publishers/nobody",
            Some(ADMIN),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("urn:lenta:problem:not-found"))
    );
    let listed: Value = admin(&server, Method::GET, "/api/publishers", Some(ADMIN), None)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(listed["publishers"][0]["revoked_at"].is_string(), "{listed}");

    // Re-accredit with all regions: a new token; the old one stays dead; it owns its old articles.
    let res = admin(
        &server,
        Method::POST,
        "/api/publishers",
        Some(ADMIN),
        Some(json!({"name": "nn-pravda"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("JSON");
    assert_eq!(created["regions"], Value::Null);
    let new_token = created["token"].as_str().expect("token").to_string();
    assert_ne!(new_token, token);
    assert_eq!(post(token, article("pravda-4")).await.status(), 401);
    assert_eq!(
        post(
            new_token.clone(),
            with(article("pravda-4"), "regions", json!(["RU-MOW"]))
        )
        .await
        .status(),
        201
    );
    let res = post(new_token, with(article("pravda-1"), "title", json!("Обновлено"))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("JSON")["id"], article_id);
}
