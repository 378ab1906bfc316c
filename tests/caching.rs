//! HTTP caching over real HTTP: conditional requests (RFC 9110 §13), content codings (§12.5.3),
//! validators that change exactly when the bytes do, the render cache, and the caching headers
//! a shared cache in front of lenta relies on.
mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

use common::TestServer;
use serde_json::json;

/// One HTTP exchange as the client saw it (bodies exactly as sent: no decompression).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    /// The single value of `name`, or "" when absent.
    fn h(&self, name: &str) -> &str {
        let mut values = self.headers.get_all(name).iter();
        let first = values
            .next()
            .map(|v| v.to_str().expect("ASCII header"))
            .unwrap_or("");
        assert!(values.next().is_none(), "{name} sent more than once");
        first
    }

    fn etag(&self) -> String {
        self.h("etag").to_string()
    }

    /// The body decoded according to `Content-Encoding`.
    fn decoded(&self) -> Vec<u8> {
        decode(self.h("content-encoding"), &self.body)
    }
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "" => out.extend_from_slice(body),
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        other => panic!("unexpected Content-Encoding {other:?}"),
    }
    out
}

async fn fetch(server: &TestServer, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = server.client.request(method, server.url(path));
    for (name, value) in headers {
        // `header` appends, so repeated names become several field lines.
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.bytes().await.expect("body").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    fetch(server, "GET", path, headers).await
}

/// One NDJSON article line.
fn article(external_id: &str, region: &str, title: &str, published_at: &str) -> String {
    let line = json!({
        "external_id": external_id,
        "title": title,
        "summary": format!("Лид: {title}"),
        "content_html": format!("<p>{title} — подробности.</p>"),
        "published_at": published_at,
        "regions": [region],
        "categories": ["Общество"],
        "sources": [{"name": "Время Н"}],
    });
    format!("{line}\n")
}

/// A server with a few articles in RU-NIZ, RU-MOW and RU-SPE.
async fn server_with_data() -> TestServer {
    server_with_data_and(|_| {}).await
}

///
/// gzip feeds are compressed whole (`quick_first_gzip` off): these tests pin one strong ETag and
/// one byte sequence per coding. A stitched first answer, which has a second tag until the whole
/// body replaces it, is tested in tests/stitch.rs.
async fn server_with_data_and(
    configure: impl Fn(&mut lenta::config::Settings) + Send + Sync + 'static,
) -> TestServer {
    let server = TestServer::start_with(move |s| {
        s.quick_first_gzip = false;
        configure(s)
    })
    .await;
    let mut ndjson = String::new();
    for (i, region) in ["RU-NIZ", "RU-MOW", "RU-SPE", "RU-NIZ", "RU-MOW", "RU-NIZ"]
        .iter()
        .enumerate()
    {
        let title = format!("Новость {i} региона {region}");
        ndjson.push_str(&article(
            &format!("a{i}"),
            region,
            &title,
            &format!("2024-05-1{i}T10:00:00+03:00"),
        ));
    }
    let report = server.import(&ndjson);
    assert_eq!(report.created, 6, "{:?}", report.rejected);
    server
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn parse_date(text: &str) -> SystemTime {
    httpdate::parse_http_date(text).unwrap_or_else(|e| panic!("bad HTTP date {text:?}: {e}"))
}

/// RFC 9110 §15.4.5: a 304 has no body and carries the headers a 200 would have for caching.
fn assert_not_modified(reply: &Reply, etag: &str, last_modified: &str, case: &str) {
    assert_eq!(reply.status, 304, "{case}");
    assert!(reply.body.is_empty(), "{case}: 304 with a body");
    assert_eq!(reply.etag(), etag, "{case}: ETag of the selected representation");
    assert_eq!(reply.h("last-modified"), last_modified, "{case}");
    assert!(
        reply.h("cache-control").starts_with("public, max-age="),
        "{case}: {}",
        reply.h("cache-control")
    );
    assert_eq!(reply.h("vary"), "Accept-Encoding", "{case}");
    assert_eq!(reply.h("access-control-allow-origin"), "*", "{case}");
    assert!(
        matches!(reply.h("content-length"), "" | "0"),
        "{case}: {}",
        reply.h("content-length")
    );
    assert_eq!(
        reply.h("content-encoding"),
        "",
        "{case}: 304 says nothing about a body"
    );
}

#[tokio::test]
async fn conditional_requests_follow_rfc9110_order() {
    let server = server_with_data().await;
    let path = "/feed.rss?region=RU-NIZ";
    let base = get(&server, path, &[]).await;
    assert_eq!(base.status, 200);
    let gz = get(&server, path, &[("accept-encoding", "gzip")]).await;
    let br = get(&server, path, &[("accept-encoding", "br")]).await;
    let (id_tag, gz_tag, br_tag) = (base.etag(), gz.etag(), br.etag());
    let lm = base.h("last-modified").to_string();
    let lm_time = parse_date(&lm);
    let earlier = http_date(lm_time - Duration::from_secs(1));
    let later = http_date(lm_time + Duration::from_secs(1));
    // The same instant as Last-Modified in the obsolete RFC 850 form, which some readers echo.
    let lm_rfc850 = chrono::DateTime::<chrono::Utc>::from(lm_time)
        .format("%A, %d-%b-%y %H:%M:%S GMT")
        .to_string();
    let weak = format!("W/{id_tag}");
    let list_with = format!("\"nope\", {id_tag}, W/\"other\"");
    let weak_in_list = format!("\"nope\", W/{gz_tag}");

    struct Case<'a> {
        name: &'a str,
        method: &'a str,
        headers: Vec<(&'a str, &'a str)>,
        status: u16,
    }
    let case = |name, method, headers, status| Case {
        name,
        method,
        headers,
        status,
    };
    let cases = vec![
        case("no precondition", "GET", vec![], 200),
        // §13.1.2 If-None-Match, weak comparison.
        case(
            "INM matching",
            "GET",
            vec![("if-none-match", id_tag.as_str())],
            304,
        ),
        case(
            "INM not matching",
            "GET",
            vec![("if-none-match", "\"something-else\"")],
            200,
        ),
        case(
            "INM list containing it",
            "GET",
            vec![("if-none-match", list_with.as_str())],
            304,
        ),
        case(
            "INM list without it",
            "GET",
            vec![("if-none-match", "\"a\", W/\"b\"")],
            200,
        ),
        case(
            "INM over two field lines",
            "GET",
            vec![("if-none-match", "\"a\""), ("if-none-match", id_tag.as_str())],
            304,
        ),
        case("INM *", "GET", vec![("if-none-match", "*")], 304),
        case(
            "INM W/ weak comparison",
            "GET",
            vec![("if-none-match", weak.as_str())],
            304,
        ),
        case(
            "INM W/ gzip tag with gzip",
            "GET",
            vec![
                ("if-none-match", weak_in_list.as_str()),
                ("accept-encoding", "gzip"),
            ],
            304,
        ),
        case(
            "INM matching on HEAD",
            "HEAD",
            vec![("if-none-match", id_tag.as_str())],
            304,
        ),
        // §13.2.2 step 3 before step 4: If-None-Match makes If-Modified-Since irrelevant.
        case(
            "INM not matching wins over IMS later",
            "GET",
            vec![
                ("if-none-match", "\"old\""),
                ("if-modified-since", later.as_str()),
            ],
            200,
        ),
        case(
            "INM matching wins over IMS earlier",
            "GET",
            vec![
                ("if-none-match", id_tag.as_str()),
                ("if-modified-since", earlier.as_str()),
            ],
            304,
        ),
        // §13.1.3 If-Modified-Since, compared as dates.
        case(
            "IMS earlier",
            "GET",
            vec![("if-modified-since", earlier.as_str())],
            200,
        ),
        case("IMS equal", "GET", vec![("if-modified-since", lm.as_str())], 304),
        case(
            "IMS later",
            "GET",
            vec![("if-modified-since", later.as_str())],
            304,
        ),
        case(
            "IMS equal in RFC 850 form",
            "GET",
            vec![("if-modified-since", lm_rfc850.as_str())],
            304,
        ),
        case(
            "IMS garbage is ignored",
            "GET",
            vec![("if-modified-since", "yesterday, after lunch")],
            200,
        ),
        case(
            "IMS on HEAD",
            "HEAD",
            vec![("if-modified-since", lm.as_str())],
            304,
        ),
        // §13.1.1 If-Match (strong comparison) and §13.1.4 If-Unmodified-Since, steps 1-2.
        case(
            "If-Match failing on GET",
            "GET",
            vec![("if-match", "\"not-it\"")],
            412,
        ),
        case(
            "If-Match weak never matches",
            "GET",
            vec![("if-match", weak.as_str())],
            412,
        ),
        case(
            "If-Match matching",
            "GET",
            vec![("if-match", id_tag.as_str())],
            200,
        ),
        case("If-Match *", "GET", vec![("if-match", "*")], 200),
        case(
            "If-Match failing beats INM matching",
            "GET",
            vec![("if-match", "\"not-it\""), ("if-none-match", id_tag.as_str())],
            412,
        ),
        case(
            "IUS earlier",
            "GET",
            vec![("if-unmodified-since", earlier.as_str())],
            412,
        ),
        case(
            "IUS equal",
            "GET",
            vec![("if-unmodified-since", lm.as_str())],
            200,
        ),
        // Each content coding is its own representation with its own strong validator.
        case(
            "gzip tag with identity",
            "GET",
            vec![
                ("if-none-match", gz_tag.as_str()),
                ("accept-encoding", "identity"),
            ],
            200,
        ),
        case(
            "gzip tag with no Accept-Encoding",
            "GET",
            vec![("if-none-match", gz_tag.as_str())],
            200,
        ),
        case(
            "gzip tag with gzip",
            "GET",
            vec![("if-none-match", gz_tag.as_str()), ("accept-encoding", "gzip")],
            304,
        ),
        case(
            "identity tag with gzip",
            "GET",
            vec![("if-none-match", id_tag.as_str()), ("accept-encoding", "gzip")],
            200,
        ),
        case(
            "br tag with br",
            "GET",
            vec![
                ("if-none-match", br_tag.as_str()),
                ("accept-encoding", "gzip, deflate, br"),
            ],
            304,
        ),
        case(
            "br tag with gzip",
            "GET",
            vec![("if-none-match", br_tag.as_str()), ("accept-encoding", "gzip")],
            200,
        ),
        case(
            "gzip If-Match with br",
            "GET",
            vec![("if-match", gz_tag.as_str()), ("accept-encoding", "br")],
            412,
        ),
    ];
    assert!(cases.len() >= 30);
    let expected_304s = cases.iter().filter(|c| c.status == 304).count() as u64;
    for c in cases {
        let name = format!("{} ({} {:?})", c.name, c.method, c.headers);
        let reply = fetch(&server, c.method, path, &c.headers).await;
        assert_eq!(reply.status, c.status, "{name}");
        let coding = c
            .headers
            .iter()
            .find(|(h, _)| *h == "accept-encoding")
            .map(|(_, v)| *v);
        let expected_tag = match coding {
            Some("gzip") => &gz_tag,
            Some("br") | Some("gzip, deflate, br") => &br_tag,
            _ => &id_tag,
        };
        match reply.status {
            304 => assert_not_modified(&reply, expected_tag, &lm, &name),
            200 => {
                assert_eq!(&reply.etag(), expected_tag, "{name}");
                assert_eq!(reply.h("last-modified"), lm, "{name}");
                if c.method == "HEAD" {
                    assert!(reply.body.is_empty(), "{name}");
                } else {
                    assert_eq!(reply.decoded(), base.body, "{name}");
                }
            }
            412 => {
                assert_eq!(reply.h("content-type"), "application/problem+json", "{name}");
                let problem: serde_json::Value = serde_json::from_slice(&reply.body).expect("problem JSON");
                assert_eq!(problem["status"], 412, "{name}");
            }
            other => panic!("{name}: unexpected {other}"),
        }
    }
    // Every 304 was counted, and nothing else was.
    assert_eq!(server.metric("lenta_not_modified_total").await, expected_304s);
}

#[tokio::test]
async fn encodings_are_distinct_representations_of_the_same_bytes() {
    let server = server_with_data().await;
    for path in [
        "/feed.rss",
        "/feed.atom?region=RU-MOW",
        "/regions/RU-NIZ/feed.json",
    ] {
        let identity = get(&server, path, &[("accept-encoding", "identity")]).await;
        assert_eq!(identity.status, 200, "{path}");
        assert_eq!(identity.h("content-encoding"), "", "{path}");
        assert_eq!(
            identity.h("content-length"),
            identity.body.len().to_string(),
            "{path}"
        );
        let plain = get(&server, path, &[]).await;
        assert_eq!(
            plain.etag(),
            identity.etag(),
            "{path}: no Accept-Encoding means identity"
        );
        assert_eq!(plain.body, identity.body, "{path}");

        let mut tags = vec![identity.etag()];
        for (accept, coding) in [
            ("gzip", "gzip"),
            ("br", "br"),
            ("br;q=0, gzip", "gzip"),
            ("gzip;q=0.5, br;q=0.4", "gzip"),
            ("*", "br"),
            ("gzip, deflate, br, zstd", "br"),
            ("identity;q=0, gzip", "gzip"),
            ("deflate", ""),
        ] {
            let reply = get(&server, path, &[("accept-encoding", accept)]).await;
            let case = format!("{path} with Accept-Encoding: {accept}");
            assert_eq!(reply.status, 200, "{case}");
            assert_eq!(reply.h("content-encoding"), coding, "{case}");
            assert_eq!(reply.h("content-length"), reply.body.len().to_string(), "{case}");
            assert_eq!(reply.h("vary"), "Accept-Encoding", "{case}");
            assert_eq!(reply.h("content-type"), identity.h("content-type"), "{case}");
            assert_eq!(
                reply.decoded(),
                identity.body,
                "{case}: decompressed bytes differ"
            );
            let tag = reply.etag();
            assert!(tag.starts_with('"'), "{case}: strong ETag expected, got {tag}");
            if coding.is_empty() {
                assert_eq!(tag, identity.etag(), "{case}");
            } else {
                assert!(reply.body.len() < identity.body.len(), "{case}: not compressed");
                tags.push(tag);
            }
        }
        tags.sort();
        tags.dedup();
        assert_eq!(
            tags.len(),
            3,
            "{path}: identity, gzip and br need three distinct strong ETags: {tags:?}"
        );

        // Nothing acceptable: 406 as a problem, never bytes the client refused.
        for accept in ["identity;q=0", "*;q=0", "identity;q=0, deflate"] {
            let reply = get(&server, path, &[("accept-encoding", accept)]).await;
            let case = format!("{path} with Accept-Encoding: {accept}");
            assert_eq!(reply.status, 406, "{case}");
            assert_eq!(reply.h("content-type"), "application/problem+json", "{case}");
            assert_eq!(reply.h("content-encoding"), "", "{case}");
            let problem: serde_json::Value = serde_json::from_slice(&reply.body).expect("problem JSON");
            assert_eq!(problem["status"], 406, "{case}");
            assert_eq!(reply.h("vary"), "Accept-Encoding", "{case}");
            assert!(
                problem["detail"].as_str().unwrap_or("").contains("gzip"),
                "{case}: {problem}"
            );
        }
    }
}

#[tokio::test]
async fn head_answers_like_get_without_the_body() {
    let server = server_with_data().await;
    for path in [
        "/feed.rss",
        "/feed.atom?region=RU-NIZ",
        "/feed.json?region=RU-MOW,RU-SPE",
    ] {
        for accept in ["identity", "gzip", "br"] {
            let case = format!("{path} {accept}");
            let head_first = fetch(&server, "HEAD", path, &[("accept-encoding", accept)]).await;
            let get = get(&server, path, &[("accept-encoding", accept)]).await;
            let head = fetch(&server, "HEAD", path, &[("accept-encoding", accept)]).await;
            assert_eq!(get.status, 200, "{case}");
            assert!(!get.body.is_empty(), "{case}");
            for reply in [&head_first, &head] {
                assert_eq!(reply.status, 200, "{case}");
                assert!(reply.body.is_empty(), "{case}: HEAD with a body");
                for name in [
                    "content-length",
                    "content-type",
                    "content-encoding",
                    "etag",
                    "last-modified",
                    "cache-control",
                    "vary",
                    "access-control-allow-origin",
                ] {
                    assert_eq!(reply.h(name), get.h(name), "{case}: {name}");
                }
            }
            assert_eq!(head.h("content-length"), get.body.len().to_string(), "{case}");
        }
    }
}

/// ETags and bodies of every feed URL in `paths`, in every format.
async fn snapshot(server: &TestServer, paths: &[&str]) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for path in paths {
        for format in ["rss", "atom", "json"] {
            let url = path.replace("{f}", format);
            for accept in ["identity", "gzip"] {
                let reply = get(server, &url, &[("accept-encoding", accept)]).await;
                assert_eq!(reply.status, 200, "{url}");
                out.insert(format!("{url} [{accept}]"), (reply.etag(), reply.decoded()));
            }
        }
    }
    out
}

/// Whether the feeds of `template` changed between two snapshots (all formats and encodings
/// must agree, and ETag and body must agree about it).
fn changed(
    before: &BTreeMap<String, (String, Vec<u8>)>,
    after: &BTreeMap<String, (String, Vec<u8>)>,
    template: &str,
) -> bool {
    let mut changes = Vec::new();
    for format in ["rss", "atom", "json"] {
        for accept in ["identity", "gzip"] {
            let key = format!("{} [{accept}]", template.replace("{f}", format));
            let (b, a) = (&before[&key], &after[&key]);
            // A validator never stays while the bytes change, and never changes while they stay.
            assert_eq!(
                b.0 == a.0,
                b.1 == a.1,
                "{key}: ETag and body disagree about a change"
            );
            changes.push(b.0 != a.0);
        }
    }
    assert!(
        changes.iter().all(|c| *c == changes[0]),
        "{template}: formats disagree: {changes:?}"
    );
    changes[0]
}

#[tokio::test]
async fn a_write_changes_exactly_the_feeds_that_show_it() {
    let server = server_with_data().await;
    let niz = "/feed.{f}?region=RU-NIZ";
    let niz_path = "/regions/RU-NIZ/feed.{f}";
    let mow = "/feed.{f}?region=RU-MOW";
    let spe = "/feed.{f}?region=RU-SPE";
    let all = "/feed.{f}";
    let both = "/feed.{f}?region=RU-MOW,RU-NIZ";
    let paths = [niz, niz_path, mow, spe, all, both];
    let before = snapshot(&server, &paths).await;

    // A new article in RU-MOW.
    let title = "Срочно: в Москве открылся новый парк";
    server.import(&article("new-1", "RU-MOW", title, "2024-06-01T12:00:00+03:00"));
    let after_write = snapshot(&server, &paths).await;
    let expect = [
        (niz, false),
        (niz_path, false),
        (mow, true),
        (spe, false),
        (all, true),
        (both, true),
    ];
    for (path, change) in expect {
        assert_eq!(
            changed(&before, &after_write, path),
            change,
            "{path} after a write in RU-MOW"
        );
    }
    let (_, rss) = &after_write["/feed.rss?region=RU-MOW [identity]"];
    assert!(String::from_utf8_lossy(rss).contains(title));

    // The same article moved to RU-SPE: both regions change, RU-NIZ still does not.
    let report = server.import(&article("new-1", "RU-SPE", title, "2024-06-01T12:00:00+03:00"));
    assert_eq!(report.updated, 1, "{:?}", report.rejected);
    let after_move = snapshot(&server, &paths).await;
    let expect = [
        (niz, false),
        (niz_path, false),
        (mow, true),
        (spe, true),
        (all, true),
        (both, true),
    ];
    for (path, change) in expect {
        assert_eq!(
            changed(&after_write, &after_move, path),
            change,
            "{path} after a move to RU-SPE"
        );
    }
    let text = |map: &BTreeMap<String, (String, Vec<u8>)>, key: &str| {
        String::from_utf8_lossy(&map[key].1).into_owned()
    };
    assert!(!text(&after_move, "/feed.rss?region=RU-MOW [identity]").contains(title));
    assert!(text(&after_move, "/feed.rss?region=RU-SPE [identity]").contains(title));
    // The region's old validator no longer matches.
    let old_mow = &after_write["/feed.rss?region=RU-MOW [identity]"].0;
    let reply = get(&server, "/feed.rss?region=RU-MOW", &[("if-none-match", old_mow)]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_delete_through_the_api_removes_the_article_and_changes_the_etag() {
    let server = server_with_data().await;
    let token = server.add_publisher("newsroom", "RU-NIZ,RU-MOW");
    let auth = format!("Bearer {token}");
    let title = "Отзываемая новость о мосте через Оку";
    let body = json!({
        "external_id": "to-withdraw",
        "title": title,
        "published_at": "2024-06-02T08:00:00+03:00",
        "regions": ["RU-NIZ"],
    });
    let res = server
        .client
        .post(server.url("/api/articles"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status().as_u16(), 201);
    let created: serde_json::Value = serde_json::from_str(&res.text().await.expect("body")).expect("JSON");
    let id = created["id"].as_u64().expect("id");

    let niz = "/feed.atom?region=RU-NIZ";
    let mow = "/feed.atom?region=RU-MOW";
    let with = get(&server, niz, &[]).await;
    assert!(String::from_utf8_lossy(&with.body).contains(title));
    let mow_before = get(&server, mow, &[]).await;

    let res = server
        .client
        .delete(server.url(&format!("/api/articles/{id}")))
        .header("authorization", &auth)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status().as_u16(), 204);

    let without = get(&server, niz, &[("if-none-match", &with.etag())]).await;
    assert_eq!(
        without.status, 200,
        "the old validator must not match after a delete"
    );
    assert_ne!(without.etag(), with.etag());
    assert!(!String::from_utf8_lossy(&without.body).contains(title));
    for format in ["rss", "json"] {
        let (status, body) = server.get_text(&format!("/feed.{format}?region=RU-NIZ")).await;
        assert_eq!(status, 200);
        assert!(!body.contains(title), "{format}");
    }
    let mow_after = get(&server, mow, &[("if-none-match", &mow_before.etag())]).await;
    assert_eq!(mow_after.status, 304, "a delete in RU-NIZ does not touch RU-MOW");
}

#[tokio::test]
async fn an_unchanged_feed_is_byte_identical_across_requests_and_restarts() {
    let server = server_with_data().await;
    let paths = [
        "/feed.rss",
        "/feed.atom?region=RU-NIZ",
        "/feed.json?region=RU-MOW,RU-SPE",
        "/feed.rss?region=RU-AD",
    ];
    let mut first = Vec::new();
    for path in paths {
        for accept in ["identity", "gzip", "br"] {
            let a = get(&server, path, &[("accept-encoding", accept)]).await;
            let b = get(&server, path, &[("accept-encoding", accept)]).await;
            assert_eq!(a.status, 200);
            for name in ["etag", "last-modified", "content-length"] {
                assert_eq!(a.h(name), b.h(name), "{path} {accept}: {name}");
            }
            assert_eq!(a.body, b.body, "{path} {accept}");
            first.push(a);
        }
    }
    // A region never written to has a fixed Last-Modified, never "now".
    assert_eq!(
        first.last().map(|r| r.h("last-modified")),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );

    let server = server.restart().await;
    let mut replies = first.iter();
    for path in paths {
        for accept in ["identity", "gzip", "br"] {
            let before = replies.next().expect("same order");
            let after = get(&server, path, &[("accept-encoding", accept)]).await;
            assert_eq!(after.status, 200);
            for name in ["etag", "last-modified", "content-length", "content-encoding"] {
                assert_eq!(
                    after.h(name),
                    before.h(name),
                    "{path} {accept}: {name} after restart"
                );
            }
            assert_eq!(after.body, before.body, "{path} {accept}: bytes after restart");
            // A reader polling across the restart gets its 304.
            let etag = before.etag();
            let reply = get(
                &server,
                path,
                &[("accept-encoding", accept), ("if-none-match", &etag)],
            )
            .await;
            assert_eq!(reply.status, 304, "{path} {accept}");
        }
    }
}

#[tokio::test]
async fn the_render_cache_serves_repeats_and_counts_304s() {
    let server = server_with_data().await;
    let path = "/feed.atom?region=RU-NIZ";
    let first = get(&server, path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(first.status, 200);
    let hits = server.metric("lenta_render_cache_hits_total").await;
    let misses = server.metric("lenta_render_cache_misses_total").await;
    for _ in 0..3 {
        let again = get(&server, path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(again.body, first.body);
    }
    let hits_after = server.metric("lenta_render_cache_hits_total").await;
    assert!(hits_after >= hits + 3, "hits {hits} -> {hits_after}");
    assert_eq!(
        server.metric("lenta_render_cache_misses_total").await,
        misses,
        "repeats must not render"
    );

    let not_modified = server.metric("lenta_not_modified_total").await;
    let reply = get(
        &server,
        path,
        &[("accept-encoding", "gzip"), ("if-none-match", &first.etag())],
    )
    .await;
    assert_eq!(reply.status, 304);
    assert_eq!(server.metric("lenta_not_modified_total").await, not_modified + 1);
    let reply = get(&server, path, &[("if-modified-since", first.h("last-modified"))]).await;
    assert_eq!(reply.status, 304);
    assert_eq!(server.metric("lenta_not_modified_total").await, not_modified + 2);
    // A 304 needs no body: neither a hit nor a render.
    assert_eq!(server.metric("lenta_render_cache_hits_total").await, hits_after);
    assert_eq!(server.metric("lenta_render_cache_misses_total").await, misses);
}

#[tokio::test]
async fn caching_headers_follow_the_settings() {
    let server = server_with_data_and(|s| s.max_age = 7).await;
    for path in [
        "/feed.rss",
        "/regions/RU-NIZ/feed.atom",
        "/feed.json?region=RU-MOW",
    ] {
        let reply = get(&server, path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(reply.status, 200, "{path}");
        let cc = reply.h("cache-control");
        let directives: Vec<&str> = cc.split(',').map(str::trim).collect();
        assert_eq!(directives.first(), Some(&"public"), "{path}: {cc}");
        assert_eq!(directives.get(1), Some(&"max-age=7"), "{path}: {cc}");
        assert!(
            !directives
                .iter()
                .any(|d| *d == "no-cache" || *d == "no-store" || *d == "private"),
            "{cc}"
        );
        assert_eq!(reply.h("vary"), "Accept-Encoding", "{path}");
        assert_eq!(reply.h("access-control-allow-origin"), "*", "{path}");
        assert!(
            !reply.h("date").is_empty(),
            "{path}: Date lets caches compute age"
        );

        let not_modified = get(
            &server,
            path,
            &[("accept-encoding", "gzip"), ("if-none-match", &reply.etag())],
        )
        .await;
        assert_not_modified(&not_modified, &reply.etag(), reply.h("last-modified"), path);
        assert_eq!(
            not_modified.h("cache-control"),
            cc,
            "{path}: 304 refreshes with the same freshness"
        );
    }
}

#[tokio::test]
async fn a_full_500_item_page_is_rendered_once() {
    // 8 MiB of render cache: the page (well over 1 MiB) must still fit in one cache shard.
    let server = TestServer::start_with(|s| s.render_cache_bytes = 8 << 20).await;
    let paragraph = "<p>Подробный репортаж с места событий, с цитатами участников и цифрами.</p>".repeat(20);
    let ndjson: String = (0..500)
        .map(|i| {
            let line = json!({
                "external_id": format!("long-{i}"),
                "title": format!("Длинная новость номер {i}"),
                "content_html": format!("<p>Номер {i}.</p>{paragraph}"),
                "published_at": format!("2024-03-{:02}T{:02}:{:02}:00+03:00", 1 + i / 24 % 28, i % 24, i % 60),
                "regions": ["RU-NIZ"],
            });
            format!("{line}\n")
        })
        .collect();
    let report = server.import(&ndjson);
    assert_eq!(report.created, 500, "{:?}", report.rejected);
    let path = "/feed.atom?region=RU-NIZ&limit=500";
    let first = get(&server, path, &[]).await;
    assert_eq!(first.status, 200);
    assert!(
        first.body.len() > 3 << 19,
        "page of {} bytes is too small to test this",
        first.body.len()
    );
    let misses = server.metric("lenta_render_cache_misses_total").await;
    for accept in ["identity", ""] {
        let again = get(&server, path, &[("accept-encoding", accept)]).await;
        assert_eq!(again.body, first.body);
    }
    assert_eq!(
        server.metric("lenta_render_cache_misses_total").await,
        misses,
        "a large page must be served from the render cache, not rendered again"
    );
}
