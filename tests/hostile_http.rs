//! Hostile clients at the HTTP level (issue 9): each test reproduces a hole over real HTTP
//! against the real server, and fails on the build before the fix.
//!
//! Where reqwest cannot express the attack (stalled bodies, half-closed sockets, missing or
//! doubled `Host`, oversized headers, a second client address), the test speaks HTTP/1.1 over a
//! raw `tokio::net::TcpStream`. Every wait is bounded by a timeout.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{corpus, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWrite;
use tokio::net::{TcpSocket, TcpStream};

/// A valid article for publisher accredited in RU-NIZ.
fn article(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "title": format!("Статья {external_id}"),
        "content_html": "<p>Текст статьи.</p>",
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"],
        "categories": ["Общество"],
    })
}

/// Connects to `addr` from the local address `from` (any of 127.0.0.0/8).
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(from.parse().expect("ip"), 0))
        .expect("bind client address");
    socket.connect(addr).await.expect("connect")
}

/// Writes all of `bytes` (without tokio's io-util).
async fn send(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Shuts down the sending side (FIN): the request is complete, the answer is still wanted.
async fn shutdown_write(stream: &mut TcpStream) {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_shutdown(cx))
        .await
        .expect("shutdown(Write)");
}

/// Everything the server sends until it closes, or until `within` has passed.
async fn read_all(stream: &TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 16 << 10];
    loop {
        let ready = tokio::time::timeout_at(deadline, stream.readable()).await;
        if !matches!(ready, Ok(Ok(()))) {
            return out;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return out,
        }
    }
}

/// A raw HTTP/1.1 answer: status, lower-cased header lines, body.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Option<Raw> {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&bytes[..split]).to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Raw {
            status,
            head,
            body: bytes[split + 4..].to_vec(),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim() == name).then(|| v.trim())
        })
    }
}

/// Sends `request` from 127.0.0.1 and reads the answer until the server closes (requests here
/// carry `Connection: close`).
async fn exchange(server: &TestServer, request: &[u8]) -> Option<Raw> {
    exchange_from(server, "127.0.0.1", request).await
}

/// [`exchange`] from the local address `from`.
async fn exchange_from(server: &TestServer, from: &str, request: &[u8]) -> Option<Raw> {
    let stream = connect_from(from, server.addr).await;
    send(&stream, request).await.ok()?;
    Raw::parse(&read_all(&stream, Duration::from_secs(10)).await)
}

/// `GET /healthz` with `Connection: close`.
const HEALTH_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn post_head(path: &str, token: &str, content_type: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn assert_problem(raw_type: Option<&str>, body: &[u8], needle: &str) {
    assert_eq!(raw_type, Some("application/problem+json"));
    let v: Value = serde_json::from_slice(body).expect("problem JSON");
    let detail = v["detail"].as_str().expect("detail");
    assert!(detail.contains(needle), "{detail:?} should mention {needle:?}");
}

/// Asserts a reqwest answer is a problem with `status` whose detail mentions `needle`.
async fn assert_problem_response(res: reqwest::Response, status: u16, needle: &str) {
    let url = res.url().to_string();
    assert_eq!(res.status(), status, "{url}");
    let ct = res.headers()["content-type"].to_str().ok().map(str::to_string);
    assert_problem(ct.as_deref(), &res.bytes().await.expect("body"), needle);
}

async fn article_count(server: &TestServer) -> u64 {
    let (_, body) = server.get_text("/healthz").await;
    serde_json::from_str::<Value>(&body).expect("healthz")["articles"]
        .as_u64()
        .expect("count")
}

// ---- Hole 1: batch answers amplify memory ---------------------------------------------------

async fn post_batch(server: &TestServer, token: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let res = server
        .client
        .post(server.url("/api/articles/batch"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("POST batch");
    let status = res.status().as_u16();
    (status, res.bytes().await.expect("body").to_vec())
}

/// A batch over the line cap is refused with 413 naming the limit, before any line is parsed.
#[tokio::test]
async fn batch_line_cap() {
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "RU-NIZ");
    // 100,001 lines of "x": on the old build a 200 answer of ~5 MB, one detailed error per line.
    let (status, body) = post_batch(&server, &token, b"x\n".repeat(100_001)).await;
    assert_eq!(
        status,
        413,
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    assert!(
        body.len() < 1000,
        "a short answer, not one per line: {} bytes",
        body.len()
    );
    let v: Value = serde_json::from_slice(&body).expect("problem");
    assert!(
        v["detail"].as_str().expect("detail").contains("100000 lines"),
        "{v}"
    );

    // The cap is configurable; at the cap the batch is served.
    let server = TestServer::start_with(|s| s.max_batch_lines = 3).await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let lines = |n: usize| {
        (0..n)
            .map(|i| format!("{}\n", article(&format!("cap-{i}"))))
            .collect::<String>()
            .into_bytes()
    };
    let (status, body) = post_batch(&server, &token, lines(4)).await;
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("limit is 3 lines"));
    assert_eq!(
        article_count(&server).await,
        0,
        "nothing of a refused batch is stored"
    );
    let (status, _) = post_batch(&server, &token, lines(3)).await;
    assert_eq!(status, 200);
    assert_eq!(article_count(&server).await, 3);
}

/// Rejected lines after the first 100 are answered with line, status and type only, so the
/// answer to long bad lines is far smaller than the request.
#[tokio::test]
async fn batch_answer_is_bounded() {
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let bad_json = format!("{{\"title\": \"{}", "я".repeat(500)); // unterminated
    let bad_field = json!({"external_id": "f", "title": "", "regions": ["RU-NIZ"],
        "published_at": "2024-05-17T09:00:00+03:00", "content_html": "x".repeat(900)});
    let mut body = String::new();
    for i in 0..600 {
        match i {
            0 => body.push_str(&format!("{}\n", article("good-1"))),
            _ if i % 2 == 0 => body.push_str(&format!("{bad_field}\n")),
            _ => body.push_str(&format!("{bad_json}\n")),
        }
    }
    let request_len = body.len();
    let (status, answer) = post_batch(&server, &token, body.into_bytes()).await;
    assert_eq!(status, 200);
    assert!(
        answer.len() * 10 < request_len,
        "answer {} bytes for a {request_len}-byte request",
        answer.len()
    );
    let v: Value = serde_json::from_slice(&answer).expect("summary");
    assert_eq!(v["created"], 1);
    assert_eq!(v["rejected"], 599);
    assert_eq!(v["details_omitted"], 499);
    // The stored line and the first 100 rejected ones in full, in line order ...
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 101);
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, (1..=101).collect::<Vec<u64>>());
    for r in results.iter().filter(|r| r["status"] != 201) {
        let line = r["line"].as_u64().expect("line");
        let kind = r["type"].as_str().expect("type");
        let expected = if line % 2 == 0 { 400 } else { 422 };
        assert_eq!(r["status"], expected, "line {line}");
        assert!(kind.starts_with("urn:lenta:problem:invalid-"), "{kind}");
        assert!(r["detail"].as_str().is_some_and(|d| !d.is_empty()), "line {line}");
    }
    // ... and every other rejected line by number, under its status and type.
    let groups = v["undetailed"].as_array().expect("undetailed");
    let mut listed = Vec::new();
    for g in groups {
        let status = g["status"].as_u64().expect("status");
        assert!(g["type"]
            .as_str()
            .expect("type")
            .starts_with("urn:lenta:problem:invalid-"));
        for line in g["lines"].as_array().expect("lines") {
            let line = line.as_u64().expect("line");
            assert_eq!(status, if line % 2 == 0 { 400 } else { 422 }, "line {line}");
            listed.push(line);
        }
    }
    listed.sort_unstable();
    assert_eq!(listed, (102..=600).collect::<Vec<u64>>());
}

#[tokio::test]
async fn tiny_bad_lines_buy_no_long_answer() {
    // Short lines of two kinds of error: the answer stays within a small multiple of the request
    // (the fuzz suite's bound), details included.
    let server = TestServer::start().await;
    let token = server.add_publisher("tiny", "");
    for lines in [90, 3000] {
        let body: String = (0..lines)
            .map(|i| if i % 2 == 0 { "{}\n" } else { "x\n" })
            .collect();
        let request_len = body.len();
        let (status, answer) = post_batch(&server, &token, body.into_bytes()).await;
        assert_eq!(status, 200);
        assert!(
            answer.len() <= (16 << 10).max(4 * request_len),
            "{} byte answer to a {request_len} byte batch",
            answer.len()
        );
        let v: Value = serde_json::from_slice(&answer).expect("summary");
        assert_eq!(v["rejected"], lines);
        assert!(v["results"][0]["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

// ---- Hole 2: body deadline and per-IP connections --------------------------------------------

/// A body that stalls longer than `--body-timeout` gets 408 and the connection closes, on every
/// endpoint that reads a body; a body that keeps coming (each gap shorter) is served.
#[tokio::test]
async fn stalled_body_gets_408() {
    let server = TestServer::start_with(|s| {
        s.body_timeout = Duration::from_secs(1);
        s.admin_token = Some("admin-secret".to_string());
    })
    .await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let targets = [
        ("/api/articles", token.as_str(), "application/json"),
        ("/api/articles/batch", token.as_str(), "application/x-ndjson"),
        ("/api/publishers", "admin-secret", "application/json"),
    ];
    let stalls = targets.map(|(path, token, content_type)| {
        let head = post_head(path, token, content_type, 1000);
        let addr = server.addr;
        tokio::spawn(async move {
            let stream = connect_from("127.0.0.1", addr).await;
            send(&stream, format!("{head}{{\"title\":").as_bytes())
                .await
                .expect("send");
            let started = Instant::now();
            let answer = read_all(&stream, Duration::from_secs(6)).await;
            (started.elapsed(), Raw::parse(&answer))
        })
    });
    for (task, (path, ..)) in stalls.into_iter().zip(targets) {
        let (waited, raw) = task.await.expect("task");
        let raw = raw.unwrap_or_else(|| panic!("{path}: no answer within 6 s"));
        assert_eq!(raw.status, 408, "{path}");
        assert!(waited < Duration::from_secs(4), "{path}: 408 after {waited:?}");
        assert_eq!(raw.header("connection"), Some("close"), "{path}");
        assert_problem(raw.header("content-type"), &raw.body, "paused for more than 1 s");
    }

    // Three pieces 600 ms apart: 1.2 s in all, but no gap reaches the 1 s deadline.
    let body = article("slow-but-steady").to_string();
    let stream = connect_from("127.0.0.1", server.addr).await;
    let head = post_head("/api/articles", &token, "application/json", body.len());
    send(&stream, head.as_bytes()).await.expect("head");
    let third = body.len() / 3;
    for piece in [&body[..third], &body[third..2 * third], &body[2 * third..]] {
        tokio::time::sleep(Duration::from_millis(600)).await;
        send(&stream, piece.as_bytes()).await.expect("piece");
    }
    let raw = Raw::parse(&read_all(&stream, Duration::from_secs(5)).await).expect("answer");
    assert_eq!(raw.status, 201);
}

/// Connections from 127.0.0.2 holding slow bodies cannot take every slot: past the per-IP limit
/// they get a canned 503, and a client from 127.0.0.1 is still served promptly.
#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let server = TestServer::start_with(|s| {
        s.max_connections = 8;
        s.max_connections_per_ip = 4;
        s.body_timeout = Duration::from_secs(60);
    })
    .await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let head = post_head("/api/articles", &token, "application/json", 100_000);
    let mut held = Vec::new();
    for _ in 0..12 {
        let stream = connect_from("127.0.0.2", server.addr).await;
        // Headers complete, then one byte of a 100,000-byte body: the request is in progress.
        let _ = send(&stream, format!("{head}{{").as_bytes()).await;
        held.push(stream);
    }
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(3),
        server.client.get(server.url("/healthz")).send(),
    )
    .await
    .expect("/healthz from 127.0.0.1 must not wait behind 127.0.0.2")
    .expect("GET /healthz");
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(3));

    // Of the twelve, exactly the eight over the limit were refused, each with a complete answer.
    let mut refused = 0;
    for stream in &held {
        let answer = read_all(stream, Duration::from_millis(500)).await;
        let Some(raw) = Raw::parse(&answer) else { continue };
        assert_eq!(raw.status, 503);
        assert_eq!(raw.header("retry-after"), Some("5"));
        assert_eq!(raw.header("connection"), Some("close"));
        assert_problem(raw.header("content-type"), &raw.body, "4 connections");
        refused += 1;
    }
    assert_eq!(refused, 8);
    // Closing the held ones frees the address's places.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raw = exchange_from(&server, "127.0.0.2", HEALTH_CLOSE).await;
    assert_eq!(raw.expect("answer").status, 200);
}

// ---- Hole 5: half-closed clients -------------------------------------------------------------

/// A complete request with `Connection: close`, then `shutdown(Write)`: 20 of 20 answered.
#[tokio::test]
async fn half_closed_clients_get_their_answer() {
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let mut answered = 0;
    for i in 0..20 {
        let body = article(&format!("half-{i}")).to_string();
        let post = format!(
            "{}{body}",
            post_head("/api/articles", &token, "application/json", body.len())
        );
        let get = "GET /feed.rss HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        for (request, expected) in [(post.as_str(), 201), (get, 200)] {
            let mut stream = connect_from("127.0.0.1", server.addr).await;
            send(&stream, request.as_bytes()).await.expect("send");
            shutdown_write(&mut stream).await;
            let raw = Raw::parse(&read_all(&stream, Duration::from_secs(10)).await);
            if raw.is_some_and(|r| r.status == expected && !r.body.is_empty()) {
                answered += 1;
            }
        }
    }
    assert_eq!(
        answered, 40,
        "every half-closed client (20 POST, 20 GET) gets its answer"
    );
    assert_eq!(article_count(&server).await, 20);
}

// ---- Hole 13: clients that stop reading ------------------------------------------------------

/// `GET /healthz` from `from`: the answer's status, if one came.
async fn health_status_from(server: &TestServer, from: &str) -> Option<u16> {
    exchange_from(server, from, HEALTH_CLOSE)
        .await
        .map(|raw| raw.status)
}

/// A client that asks for large answers and reads none of them loses its connection after
/// `--send-timeout` (nginx's `send_timeout`), and with it its slot: with one connection per
/// address, that address is served again.
#[tokio::test]
async fn a_client_that_stops_reading_loses_its_connection() {
    let server = TestServer::start_with(|s| {
        s.max_connections_per_ip = 1;
        s.send_timeout = Duration::from_secs(1);
    })
    .await;
    server.import(&corpus(600, 3));
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .bind(SocketAddr::new("127.0.0.3".parse().expect("ip"), 0))
        .expect("bind");
    let stalled = socket.connect(server.addr).await.expect("connect");
    // Pipelined 500-item pages (about 1.5 MB each), none read: the server's writes block.
    let pages = "GET /feed.rss?limit=500 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20);
    send(&stalled, pages.as_bytes()).await.expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        health_status_from(&server, "127.0.0.3").await,
        Some(503),
        "the stalled connection holds the address's only slot"
    );
    // After the send timeout the server gives the connection up, and the slot with it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut status = None;
    while Instant::now() < deadline && status != Some(200) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = health_status_from(&server, "127.0.0.3").await;
    }
    assert_eq!(status, Some(200), "the slot is free again after --send-timeout");
    drop(stalled);
}

// ---- Hole 10: unparsable If-None-Match ---------------------------------------------------------

/// A present If-None-Match disables If-Modified-Since, and one that does not parse matches
/// nothing: 200, never 304 (RFC 9110 §13.1.3, §13.2.2).
#[tokio::test]
async fn unparsable_if_none_match_is_not_a_304() {
    let server = TestServer::start().await;
    server.import(&format!("{}\n", article("cond-1")));
    let res = server.get("/feed.rss").await;
    assert_eq!(res.status(), 200);
    let last_modified = res.headers()["last-modified"].to_str().expect("lm").to_string();
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let conditional = |inm: &str| {
        server
            .client
            .get(server.url("/feed.rss"))
            .header("if-none-match", inm)
            .header("if-modified-since", &last_modified)
            .send()
    };
    for inm in ["garbage", "W/", "\"unterminated", "", " , "] {
        let res = conditional(inm).await.expect("GET");
        assert_eq!(res.status(), 200, "If-None-Match: {inm:?}");
        assert!(!res.bytes().await.expect("body").is_empty());
    }
    // A valid, matching tag still revalidates; If-Modified-Since alone still works.
    assert_eq!(conditional(&etag).await.expect("GET").status(), 304);
    let res = server
        .client
        .get(server.url("/feed.rss"))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 304);
}

// ---- Hole 11: request Content-Encoding -------------------------------------------------------

/// A body in any content coding but identity is refused with 415 and `Accept-Encoding:
/// identity` (RFC 7694 §3), on single writes and batches; nothing is stored.
#[tokio::test]
async fn content_coded_bodies_are_refused() {
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let cases = [
        ("/api/articles", "application/json", "br"),
        ("/api/articles", "application/json", "gzip"),
        ("/api/articles", "application/json", "identity, gzip"),
        ("/api/articles/batch", "application/x-ndjson", "gzip"),
    ];
    for (path, content_type, coding) in cases {
        let res = server
            .client
            .post(server.url(path))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .header("content-encoding", coding)
            .body(format!("{}\n", article("coded")))
            .send()
            .await
            .expect("POST");
        assert_eq!(res.headers()["accept-encoding"], "identity", "{path} {coding}");
        assert_problem_response(res, 415, "identity").await;
    }
    assert_eq!(article_count(&server).await, 0);
    let res = server
        .client
        .post(server.url("/api/articles"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "identity")
        .body(article("plain").to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201, "identity is no coding at all");
}

// ---- Hole 12: the smaller ones -----------------------------------------------------------------

/// RFC 9112 §3.2: an HTTP/1.1 request without Host, or with two, is a 400.
#[tokio::test]
async fn host_header_is_required_once() {
    let server = TestServer::start().await;
    let cases: [(&[u8], u16); 4] = [
        (b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a.ru\r\nHost: b.ru\r\nConnection: close\r\n\r\n",
            400,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: a.ru\r\nConnection: close\r\n\r\n",
            200,
        ),
        (b"GET /healthz HTTP/1.0\r\n\r\n", 200),
    ];
    for (request, expected) in cases {
        let raw = exchange(&server, request).await.expect("an answer");
        assert_eq!(raw.status, expected, "{}", String::from_utf8_lossy(request));
        if expected == 400 {
            assert_problem(raw.header("content-type"), &raw.body, "Host");
        }
    }
}

/// Only the canonical decimal id names an article, for reads and writes.
#[tokio::test]
async fn only_canonical_article_ids_resolve() {
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "RU-NIZ");
    let res = server
        .client
        .post(server.url("/api/articles"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(article("canon").to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("JSON")["id"]
        .as_u64()
        .expect("id");
    let (status, _, stored) = server.get_tagged(&format!("/api/articles/{id}")).await;
    assert_eq!(status, 200);
    for alias in [format!("+{id}"), format!("0{id}"), format!("00{id}")] {
        let path = format!("/api/articles/{alias}");
        assert_eq!(server.get(&path).await.status(), 404, "GET {path}");
        for method in [Method::PUT, Method::DELETE] {
            let res = server
                .client
                .request(method.clone(), server.url(&path))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(json!({"title": "Перезаписано"}).to_string())
                .send()
                .await
                .expect("write");
            assert_eq!(res.status(), 404, "{method} {path}");
        }
    }
    let (_, _, after) = server.get_tagged(&format!("/api/articles/{id}")).await;
    assert_eq!(after, stored, "the article is untouched");
}

/// Empty path segments name nothing; an empty `region=` is a 400; an unknown region in the path
/// is a 404 for its page and its feeds alike.
#[tokio::test]
async fn odd_paths_and_queries() {
    let server = TestServer::start().await;
    for path in [
        "//feed.rss",
        "//",
        "/regions//feed.rss",
        "/api//articles",
        "//api/regions",
    ] {
        let (status, _) = server.get_text(path).await;
        assert_eq!(status, 404, "{path}");
    }
    for path in [
        "/feed.rss?region=",
        "/api/articles?region=",
        "/feed.json?region=,",
        "/api/calendar?month=2024-05&region=",
        "/days/2024-05-17?region=",
    ] {
        assert_problem_response(server.get(path).await, 400, "needs a region code").await;
    }
    for path in [
        "/regions/XX-YY/",
        "/regions/XX-YY/feed.rss",
        "/regions/XX-YY/feed.json",
    ] {
        let res = server.get(path).await;
        assert_problem_response(res, 404, "unknown region \"XX-YY\"").await;
    }
    assert_eq!(server.get("/regions/RU-NIZ/feed.rss").await.status(), 200);
}

/// A request header section over `--max-header-bytes` is refused with 431: as a problem that
/// names the limit up to four times the limit, and by hyper (a bare 431) beyond, before any
/// buffer grows further.
#[tokio::test]
async fn oversized_headers_get_431() {
    let server = TestServer::start().await;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(40_000)
    );
    let raw = exchange(&server, request.as_bytes()).await.expect("answer");
    assert_eq!(raw.status, 431);
    let text = String::from_utf8_lossy(&raw.body).to_string();
    assert!(text.contains("at most 32768"), "{text}");
    assert!(text.contains("\"status\":431"), "{text}");
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200_000)
    );
    let stream = connect_from("127.0.0.1", server.addr).await;
    // hyper answers as soon as its buffer passes the cap and closes; the rest may not be taken.
    let _ = send(&stream, request.as_bytes()).await;
    let raw = Raw::parse(&read_all(&stream, Duration::from_secs(5)).await).expect("an answer");
    assert_eq!(raw.status, 431);
    // Under the cap, served.
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(16_000)
    );
    assert_eq!(
        exchange(&server, request.as_bytes())
            .await
            .expect("answer")
            .status,
        200
    );
}

/// A partner's script revalidating with If-None-Match triggers a CORS preflight: it succeeds on
/// every public GET resource, grants only the conditional headers, and GETs expose the validators.
#[tokio::test]
async fn cors_preflight_for_public_resources() {
    let server = TestServer::start().await;
    server.import(&format!("{}\n", article("cors-1")));
    let id = server.app().store.article_count();
    assert_eq!(id, 1);
    let (_, body) = server.get_text("/api/articles").await;
    let id = serde_json::from_str::<Value>(&body).expect("list")["items"][0]["id"]
        .as_u64()
        .expect("id");
    let public = [
        "/feed.rss".to_string(),
        "/regions/RU-NIZ/feed.atom".to_string(),
        "/".to_string(),
        "/regions/RU-NIZ/".to_string(),
        "/calendar/2024-05".to_string(),
        "/api/articles".to_string(),
        format!("/api/articles/{id}"),
        "/api/regions".to_string(),
        "/api/calendar?month=2024-05".to_string(),
    ];
    for path in &public {
        let res = server
            .client
            .request(Method::OPTIONS, server.url(path))
            .header("origin", "https://partner.example")
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "if-none-match, x-custom, if-modified-since",
            )
            .send()
            .await
            .expect("OPTIONS");
        assert_eq!(res.status(), 204, "OPTIONS {path}");
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{path}");
        assert_eq!(h["access-control-allow-methods"], "GET, HEAD", "{path}");
        assert_eq!(
            h["access-control-allow-headers"], "if-none-match, if-modified-since",
            "{path}: only the conditional headers are granted"
        );
        assert!(h.contains_key("access-control-max-age"), "{path}");
        assert!(h["allow"].to_str().expect("allow").contains("OPTIONS"), "{path}");
    }
    for path in ["/feed.rss", "/api/articles", "/api/regions"] {
        let res = server.get(path).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["access-control-expose-headers"],
            "ETag, Last-Modified",
            "{path}"
        );
    }
    // Write-only resources do not take part: 405, and Allow says what they do allow.
    let res = server
        .client
        .request(Method::OPTIONS, server.url("/api/articles/batch"))
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
}
