//! Readers, partners and operators: paging (RFC 5005), HTML pages, escaping, WebSub, metrics,
//! graceful shutdown, timeouts and rate limits — all against the real server.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

fn article(external_id: &str, title: &str, published_at: &str, region: &str) -> Value {
    json!({
        "external_id": external_id, "title": title, "published_at": published_at, "regions": [region],
        "summary": "lead", "content_html": "<p>body</p>"
    })
}

/// Atom links of a document by `rel`.
fn atom_link(doc: &roxmltree::Document, rel: &str) -> Option<String> {
    doc.root_element()
        .children()
        .find(|n| n.has_tag_name("link") && n.attribute("rel") == Some(rel))
        .and_then(|n| n.attribute("href").map(str::to_string))
}

#[tokio::test]
async fn paging_walks_back_exactly_once_while_articles_arrive() {
    let server = TestServer::start().await;
    let lines: String = (0..230)
        .map(|i| {
            let minute = i % 60;
            let hour = i / 60;
            format!(
                "{}\n",
                article(
                    &format!("p{i}"),
                    &format!("Статья {i}"),
                    &format!("2024-03-01T{hour:02}:{minute:02}:00+03:00"),
                    "RU-KDA"
                )
            )
        })
        .collect();
    assert_eq!(server.import(&lines).created, 230);
    let token = server.add_publisher("newsroom", "");
    let mut seen = Vec::new();
    let mut url = Some(server.url("/feed.json?region=RU-KDA&limit=40"));
    let mut page_no = 0;
    while let Some(u) = url {
        let page = server.json_at(&u).await;
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        // New articles arrive while the partner walks back: newer ones and one in the past.
        let fresh = article(
            &format!("new{page_no}"),
            "Свежая",
            "2026-01-01T10:00:00+03:00",
            "RU-KDA",
        );
        assert_eq!(server.post_article(&token, &fresh).await.status(), 201);
        page_no += 1;
        url = page["next_url"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 230, "each original article exactly once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 230, "no duplicates");

    // RFC 5005 links on a page after the first: first, previous, next; and previous leads back.
    let first = server.get_text("/feed.atom?region=RU-KDA&limit=40").await.1;
    let doc = common::strict_xml(&first);
    assert!(atom_link(&doc, "previous").is_none() && atom_link(&doc, "first").is_none());
    let second_url = atom_link(&doc, "next").expect("next on the first page");
    let second = server
        .get_text(second_url.trim_start_matches(&server.base))
        .await
        .1;
    let doc2 = common::strict_xml(&second);
    assert!(atom_link(&doc2, "first").is_some());
    let previous = atom_link(&doc2, "previous").expect("previous on page 2");
    let back = server.get_text(previous.trim_start_matches(&server.base)).await.1;
    let ids = |xml: &str| -> Vec<String> {
        let d = roxmltree::Document::parse(xml).expect("xml");
        d.descendants()
            .filter(|n| n.has_tag_name("entry"))
            .filter_map(|e| {
                e.children()
                    .find(|c| c.has_tag_name("id"))
                    .and_then(|c| c.text())
                    .map(str::to_string)
            })
            .collect()
    };
    assert_eq!(ids(&back), ids(&first), "previous of page 2 is page 1");
}

#[tokio::test]
async fn hostile_titles_are_escaped_everywhere() {
    let server = TestServer::start().await;
    let hostile = "<script>alert('x')</script> \"quotes\" & ]]> end";
    let line = article("hostile", hostile, "2024-05-17T09:00:00+03:00", "RU-MOW");
    assert_eq!(server.import(&format!("{line}\n")).created, 1);
    for path in ["/regions/RU-MOW/", "/"] {
        let (status, html) = server.get_text(path).await;
        assert_eq!(status, 200);
        assert!(!html.contains("<script>"), "{path} must escape the title");
        if path != "/" {
            assert!(
                html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
                "{html}"
            );
        }
    }
    for format in ["rss", "atom"] {
        let (_, xml) = server.get_text(&format!("/regions/RU-MOW/feed.{format}")).await;
        let doc = common::strict_xml(&xml);
        let title = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .any(|t| t == hostile);
        assert!(title, "{format}: the title comes back exactly after XML parsing");
    }
    let json = server.json_at(&server.url("/regions/RU-MOW/feed.json")).await;
    assert_eq!(json["items"][0]["title"], hostile);
}

#[tokio::test]
async fn html_pages_are_html5_with_autodiscovery_in_head() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    for (path, feed_part) in [
        ("/", "/feed."),
        ("/regions/RU-NIZ/", "region=RU-NIZ"),
        ("/calendar/2024-05?region=RU-MOW", "region=RU-MOW"),
    ] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        let body = res.text().await.expect("body");
        assert!(body.starts_with("<!DOCTYPE html>"));
        let doc = scraper::Html::parse_document(&body);
        assert!(
            doc.errors.is_empty(),
            "{path}: HTML5 parse errors {:?}",
            doc.errors
        );
        let sel = scraper::Selector::parse("head > link[rel=alternate]").expect("selector");
        let types: Vec<(String, String)> = doc
            .select(&sel)
            .map(|l| {
                (
                    l.attr("type").unwrap_or("").to_string(),
                    l.attr("href").unwrap_or("").to_string(),
                )
            })
            .collect();
        for t in [
            "application/rss+xml",
            "application/atom+xml",
            "application/feed+json",
        ] {
            let link = types
                .iter()
                .find(|(ty, _)| ty == t)
                .unwrap_or_else(|| panic!("{path}: no {t} link"));
            assert!(
                link.1.contains(feed_part),
                "{path}: {t} link {} should point at {feed_part}",
                link.1
            );
            let feed = server.client.get(&link.1).send().await.expect("feed");
            assert_eq!(feed.status(), 200, "autodiscovered {} works", link.1);
        }
    }
    let (_, region) = server.get_text("/regions/RU-NIZ/").await;
    assert!(
        region.contains("Заместители глав более 60 регионов"),
        "latest article listed"
    );
    assert!(region.contains("Время Н"), "sources listed");
    assert!(
        region.contains("20.07.2023 17:26"),
        "date in the portal time zone"
    );
    // The newest RU-NIZ article is 2024-05-31T23:30Z, i.e. June in Moscow: the calendar opens there.
    assert!(
        region.contains("/calendar/2024-06?region=RU-NIZ"),
        "calendar link in the portal time zone"
    );
    assert_eq!(server.get("/regions/RU-XXX/").await.status(), 404);
    assert_eq!(server.get("/calendar/2024-13").await.status(), 400);

    // The calendar links each day with articles to that day's feed, which holds exactly them.
    let (_, calendar) = server.get_text("/calendar/2024-05").await;
    let doc = scraper::Html::parse_document(&calendar);
    let cell = scraper::Selector::parse("td a").expect("selector");
    let days: Vec<(String, String)> = doc
        .select(&cell)
        .map(|a| (a.text().collect(), a.attr("href").unwrap_or("").to_string()))
        .collect();
    let labels: Vec<&str> = days.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        labels,
        ["17", "18"],
        "fixtures are on May 17 and 18 (Moscow time)"
    );
    assert!(
        days[0].1.ends_with("/days/2024-05-17"),
        "a day links its day page: {}",
        days[0].1
    );
    // The day page lists exactly that day's articles and links the day's feed, which holds
    // exactly them. Only the escaping fixture: the control-character one on the same day was
    // refused on import.
    let (status, day) = server.get_text(days[0].1.trim_start_matches(&server.base)).await;
    assert_eq!(status, 200);
    let page = scraper::Html::parse_document(&day);
    assert!(page.errors.is_empty(), "day page: {:?}", page.errors);
    let article = scraper::Selector::parse("article h2 a").expect("selector");
    let listed: Vec<String> = page
        .select(&article)
        .map(|a| a.attr("href").unwrap_or("").to_string())
        .collect();
    assert_eq!(listed.len(), 1, "{day}");
    assert!(listed[0].starts_with(&format!("{}/articles/", server.base)));
    assert_eq!(
        server
            .client
            .get(&listed[0])
            .send()
            .await
            .expect("article")
            .status(),
        200
    );
    let atom = scraper::Selector::parse("head link[type='application/atom+xml']").expect("selector");
    let feed_url = page
        .select(&atom)
        .next()
        .and_then(|l| l.attr("href"))
        .expect("day feed")
        .to_string();
    let (_, feed) = server.get_text(feed_url.trim_start_matches(&server.base)).await;
    assert_eq!(
        common::strict_xml(&feed)
            .descendants()
            .filter(|n| n.has_tag_name("entry"))
            .count(),
        1
    );
}

#[tokio::test]
async fn websub_pings_each_changed_feed_once_per_write() {
    let (hub, seen) = common::hub_stub().await;
    let hub_for_settings = hub.clone();
    let server = TestServer::start_with(move |s| s.websub_hub = Some(hub_for_settings.clone())).await;
    let (_, rss) = server.get_text("/regions/RU-NIZ/feed.rss").await;
    assert!(
        rss.contains(&format!("href=\"{hub}\" rel=\"hub\"")),
        "feeds advertise the hub: {rss}"
    );
    let token = server.add_publisher("newsroom", "");
    let res = server
        .post_article(
            &token,
            &article("w1", "Новость", "2024-05-17T09:00:00+03:00", "RU-NIZ"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let expected: HashSet<String> = ["/feed", "/feed"]
        .iter()
        .zip(["", "?region=RU-NIZ"])
        .flat_map(|(path, q)| ["rss", "atom", "json"].map(|f| server.url(&format!("{path}.{f}{q}"))))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pings = seen.lock().expect("lock").clone();
    assert!(pings.iter().all(|(mode, _)| mode == "publish"));
    let urls: Vec<&String> = pings.iter().map(|(_, u)| u).collect();
    assert_eq!(urls.len(), expected.len(), "one ping per changed feed: {urls:?}");
    assert_eq!(urls.into_iter().cloned().collect::<HashSet<_>>(), expected);
    assert!(
        !pings.iter().any(|(_, u)| u.contains("RU-MOW")),
        "unaffected regions are not pinged"
    );
    let metrics = server.get_text("/metrics").await.1;
    assert!(
        metrics.contains(&format!("lenta_websub_notifications_total {}", expected.len())),
        "{metrics}"
    );
}

/// Parses Prometheus text format strictly enough to catch malformed lines.
fn prometheus_samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("malformed sample line {l:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {l:?}"));
            let bare = name.split('{').next().unwrap_or("");
            assert!(
                !bare.is_empty()
                    && bare
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {l:?}"
            );
            assert_eq!(
                name.contains('{'),
                name.ends_with('}'),
                "unbalanced labels in {l:?}"
            );
            (name.to_string(), value)
        })
        .collect()
}

fn sample(samples: &[(String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_parse_and_move() {
    let server = TestServer::start().await;
    server.import(&common::fixtures_ndjson());
    let before = prometheus_samples(&server.get_text("/metrics").await.1);
    let res = server.get("/feed.rss").await;
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    server.get("/feed.rss").await;
    let not_modified = server
        .client
        .get(server.url("/feed.rss"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(not_modified.status(), 304);
    let token = server.add_publisher("newsroom", "");
    assert_eq!(
        server
            .post_article(&token, &article("m1", "М", "2024-05-17T09:00:00+03:00", "RU-NIZ"))
            .await
            .status(),
        201
    );
    let after = prometheus_samples(&server.get_text("/metrics").await.1);
    let grew = |name: &str| sample(&after, name) > sample(&before, name);
    assert!(grew("lenta_http_requests_total{route=\"feed\",status=\"200\"}"));
    assert!(grew("lenta_http_requests_total{route=\"feed\",status=\"304\"}"));
    assert!(grew("lenta_not_modified_total"));
    assert!(grew("lenta_render_cache_hits_total"));
    assert!(grew("lenta_render_cache_misses_total"));
    assert!(grew("lenta_writes_total{kind=\"created\"}"));
    assert!(grew("lenta_http_request_duration_seconds_count"));
    assert_eq!(sample(&after, "lenta_articles"), 5.0);
    assert!(sample(&after, "lenta_render_cache_bytes") > 0.0);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start_with(|s| s.rate_limit = Some(5)).await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let res = server.get("/api/regions").await;
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!(retry >= 1);
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.contains(&200) && statuses.contains(&429), "{statuses:?}");
    assert_eq!(
        server.get("/healthz").await.status(),
        200,
        "health stays reachable"
    );
}

/// A child `lenta serve` process on a free port.
struct Child {
    process: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

/// Accredits a publisher in `data` with the real CLI and returns its token.
fn cli_publisher(data: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lenta"))
        .args([
            "publisher",
            "add",
            "newsroom",
            "--data-dir",
            data.to_str().expect("utf-8 path"),
        ])
        .output()
        .expect("lenta publisher add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_string()
}

fn spawn_lenta(dir: tempfile::TempDir, extra: &[&str]) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let data = dir.path().join("data");
    let process = std::process::Command::new(env!("CARGO_BIN_EXE_lenta"))
        .args([
            "serve",
            "--addr",
            &addr,
            "--data-dir",
            data.to_str().expect("utf-8 path"),
        ])
        .args(extra)
        .env("LENTA_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn lenta");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "lenta did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Child {
        process,
        addr,
        _dir: dir,
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = cli_publisher(&dir.path().join("data"));
    let mut child = spawn_lenta(dir, &[]);
    // A request in flight: headers sent, body still arriving.
    let mut slow = TcpStream::connect(&child.addr).expect("connect");
    let body = article("inflight", "В пути", "2024-05-17T09:00:00+03:00", "RU-NIZ").to_string();
    write!(
        slow,
        "POST /api/articles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .expect("write");
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.process.id().to_string()])
        .status();
    assert!(status.expect("kill").success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(&child.addr).is_err(),
        "no new connections after SIGTERM"
    );
    slow.write_all(&body.as_bytes()[5..]).expect("finish body");
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = slow.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight write completed: {answer:?}"
    );
    let exit = child.process.wait().expect("wait");
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
}

#[test]
fn slow_header_senders_are_cut_off_while_others_are_served() {
    let mut child = spawn_lenta(tempfile::tempdir().expect("tempdir"), &["--header-timeout", "1"]);
    let mut slow = TcpStream::connect(&child.addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut cut_off = false;
    for byte in b"GET /feed.rss HTTP/1.1\r\nHost: x\r\n".iter() {
        if slow.write_all(&[*byte]).is_err() {
            cut_off = true;
            break;
        }
        // Meanwhile a normal client is served promptly.
        let mut fast = TcpStream::connect(&child.addr).expect("connect fast");
        fast.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut reply = String::new();
        fast.read_to_string(&mut reply).expect("read");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        std::thread::sleep(Duration::from_millis(400));
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if !cut_off {
        let mut rest = Vec::new();
        let n = slow.read_to_end(&mut rest).unwrap_or(0);
        let reply = String::from_utf8_lossy(&rest[..n]).to_string();
        cut_off = n == 0 || reply.starts_with("HTTP/1.1 408");
    }
    assert!(cut_off, "the slow client was disconnected by the header timeout");
    let _ = child.process.kill();
    let _ = child.process.wait();
}
