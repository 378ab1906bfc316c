//! Fuzz suite over HTTP (issue 9): property-based mutations of article bodies, query strings and
//! header sets against the real server with a real store, checking on every case:
//!
//! - `no-5xx`: no status >= 500;
//! - `problem-json`: every error (>= 400, with a body) is `application/problem+json` whose
//!   `detail` is a non-empty string;
//! - `bounded`: an error's body (and any write's answer) is at most max(16 KiB, 4 × the request);
//! - `refused-write-changes-nothing`: after a refused write the article count in `/healthz` is
//!   unchanged, and after any write by the fuzzing publisher another publisher's article is
//!   byte-identical (status, `ETag`, body) via `GET /api/articles/{id}`;
//! - `answers` / `healthz`: every request gets an answer and the server keeps answering
//!   `/healthz` (30 s deadline each; a fresh connection per request, so cases stand alone);
//! - per suite, what the issue states for its inputs: the self and next links of a feed answer
//!   200 and the self link is a fixed point (parse → canonical → parse at the HTTP level); an
//!   `If-None-Match` that names no current tag never gives 304 (RFC 9110 §13.1.3, hole 10);
//!   a `null` required field is refused like a missing one (422 naming it, hole 3); a body with
//!   a duplicate key is refused (hole 12);
//! - at the end, with the server stopped, `lenta check` passes on the data directory.
//!
//! Reproducible: a fixed seed (ChaCha), no failure persistence; `LENTA_FUZZ_SEED` (any text,
//! hashed into the seed) and `LENTA_FUZZ_SCALE` (a case-count multiplier) explore further.
//! Every case runs to the end; failures are grouped by invariant and route or field, the first
//! of each group is shrunk with proptest's value tree, and the test fails listing each group
//! with its minimized request and the answer.
//!
//! `early_answers_close_or_keep_the_connection` pins down what the fuzzer found on kept-alive
//! connections, deterministically.

mod common;
mod fuzz_support;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TestServer;
use fuzz_support::{article, remove_pointer, scaled, seed, seed_text, set_pointer, POINTERS, REQUIRED};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_lenta");
/// Errors may always be this large, whatever the request.
const BOUND_FLOOR: usize = 16 * 1024;
/// … and otherwise at most this many times the request.
const BOUND_FACTOR: usize = 4;
/// Bodies larger than this may be answered before they are sent whole (see [`World::probe`]).
const RAW_FALLBACK_BODY: usize = 64 * 1024;
/// Failure groups shrunk and reported per suite (the rest are counted).
const MAX_GROUPS: usize = 16;
/// Probes spent shrinking one group.
const SHRINK_BUDGET: usize = 80;

// ------------------------------------------------------------------------------------------
// The world: a server with a corpus, two publishers and a known article.

/// The server under test and what the invariants compare against.
struct World {
    server: TestServer,
    client: reqwest::Client,
    /// Token of `alice` (RU-NIZ, RU-MOW), the fuzzing publisher.
    alice: String,
    /// An article of alice's own (a PUT target).
    alice_id: u64,
    /// An article of `bob`, whom the fuzzer never authenticates as: it must never change.
    bob_id: u64,
    /// What `GET /api/articles/{bob_id}` answered at the start: status, ETag, body.
    bob_article: (u16, Option<String>, Vec<u8>),
}

impl World {
    async fn new() -> Self {
        let server = TestServer::start().await;
        let report = server.import(&common::corpus(300, 9));
        assert_eq!(report.created, 300, "corpus import: {:?}", report.rejected);
        let alice = server.add_publisher("alice", "RU-NIZ,RU-MOW");
        let bob = server.add_publisher("bob", "");
        // A fresh connection per request: each case stands alone (what one answer does to a
        // kept-alive connection is `early_answers_close_or_keep_the_connection`'s business).
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut world = World {
            server,
            client,
            alice,
            alice_id: 0,
            bob_id: 0,
            bob_article: (0, None, Vec::new()),
        };
        world.alice_id = world.create(&world.alice.clone(), "alice-own").await;
        world.bob_id = world.create(&bob, "bob-known").await;
        world.bob_article = world
            .server
            .get_tagged(&format!("/api/articles/{}", world.bob_id))
            .await;
        assert_eq!(world.bob_article.0, 200);
        world
    }

    async fn create(&self, token: &str, external_id: &str) -> u64 {
        let res = self
            .client
            .post(self.server.url("/api/articles"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(article(external_id).to_string())
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), 201, "creating {external_id}");
        let v: Value = res.json().await.expect("json");
        v["id"].as_u64().expect("id")
    }

    /// The article count `/healthz` reports, or the reason it did not answer.
    async fn healthz(&self) -> Result<u64, String> {
        let res = self
            .client
            .get(self.server.url("/healthz"))
            .send()
            .await
            .map_err(|e| format!("/healthz did not answer: {e}"))?;
        if res.status() != 200 {
            return Err(format!("/healthz answered {}", res.status()));
        }
        let v: Value = res.json().await.map_err(|e| format!("/healthz body: {e}"))?;
        v["articles"]
            .as_u64()
            .ok_or_else(|| format!("/healthz without a count: {v}"))
    }

    async fn send(&self, req: &Req) -> Result<Resp, String> {
        let mut b = self
            .client
            .request(req.method.clone(), self.server.url(&req.target));
        for (name, value) in &req.headers {
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("bad test header name: {e}"))?;
            let value = HeaderValue::from_bytes(value).map_err(|e| format!("bad test header value: {e}"))?;
            b = b.header(name, value);
        }
        if !req.body.is_empty() {
            b = b.body(req.body.clone());
        }
        let res = b.send().await.map_err(|e| format!("no answer: {e}"))?;
        let status = res.status().as_u16();
        let header = |n: &str| {
            res.headers()
                .get(n)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let content_type = header("content-type");
        let etag = header("etag");
        let last_modified = header("last-modified");
        let body = res
            .bytes()
            .await
            .map_err(|e| format!("body cut off: {e}"))?
            .to_vec();
        Ok(Resp {
            status,
            content_type,
            etag,
            last_modified,
            body,
        })
    }

    /// Sends `req` over a plain socket, ignoring write errors, and reads the answer.
    async fn send_raw(&self, req: &Req) -> Result<Resp, String> {
        use std::io::{Read, Write};
        let mut bytes = format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\n",
            req.method, req.target, self.server.addr
        )
        .into_bytes();
        for (n, v) in &req.headers {
            bytes.extend_from_slice(format!("{n}: ").as_bytes());
            bytes.extend_from_slice(v);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(
            format!("content-length: {}\r\nconnection: close\r\n\r\n", req.body.len()).as_bytes(),
        );
        bytes.extend_from_slice(&req.body);
        let addr = self.server.addr;
        let raw = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
            let mut writer = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
            let mut reader = writer.try_clone().map_err(|e| e.to_string())?;
            reader
                .set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(|e| e.to_string())?;
            let sending = std::thread::spawn(move || {
                let _ = writer.write_all(&bytes);
            });
            let mut raw = Vec::new();
            let read = reader.read_to_end(&mut raw);
            let _ = sending.join();
            match read {
                // A reset after the answer arrived loses nothing.
                Err(e) if raw.is_empty() => Err(format!("read: {e}")),
                _ => Ok(raw),
            }
        })
        .await
        .map_err(|e| e.to_string())??;
        parse_raw(&raw)
    }

    /// Sends `req` and checks the invariants every case has; returns the answer (if any) and
    /// what was violated.
    async fn probe(&self, req: &Req) -> (Option<Resp>, Vec<Violation>) {
        let mut out = Vec::new();
        let write = !matches!(req.method, Method::GET | Method::HEAD);
        let before = if write { self.healthz().await.ok() } else { None };
        let sent = match self.send(req).await {
            // A server may answer a large body early (413, 401) and close before reading it all
            // (RFC 9110 §15.5.14); reqwest then reports its write error, not the answer. Read
            // the answer as a careful client would.
            Err(e) if req.body.len() > RAW_FALLBACK_BODY => self
                .send_raw(req)
                .await
                .map_err(|raw| format!("{e}; over a raw socket: {raw}")),
            other => other,
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                out.push(Violation::new("answers", e).sig(route(req)));
                return (None, out);
            }
        };
        if resp.status >= 500 {
            out.push(Violation::new("no-5xx", resp.summary()).sig(format!("{} {}", route(req), resp.status)));
        }
        if resp.status >= 400 && req.method != Method::HEAD {
            if let Err(e) = problem_detail(&resp) {
                let sig = format!("{} {}: {e}", route(req), resp.status);
                out.push(Violation::new("problem-json", format!("{e}: {}", resp.summary())).sig(sig));
            }
        }
        if resp.status >= 400 || write {
            let bound = BOUND_FLOOR.max(BOUND_FACTOR * req.size());
            if resp.body.len() > bound {
                out.push(
                    Violation::new(
                        "bounded",
                        format!(
                            "{} byte answer to a {} byte request (bound {bound}): {}",
                            resp.body.len(),
                            req.size(),
                            resp.summary()
                        ),
                    )
                    .sig(format!("{} {}", route(req), resp.status)),
                );
            }
        }
        match self.healthz().await {
            Err(e) => out.push(Violation::new("healthz", e)),
            Ok(after) => {
                if let (Some(before), true) = (before, resp.status >= 400) {
                    if before != after {
                        out.push(
                            Violation::new(
                                "refused-write-changes-nothing",
                                format!("article count {before} -> {after} after a {}", resp.status),
                            )
                            .sig(route(req)),
                        );
                    }
                }
            }
        }
        if write {
            let now = self
                .server
                .get_tagged(&format!("/api/articles/{}", self.bob_id))
                .await;
            if now != self.bob_article {
                out.push(Violation::new(
                    "refused-write-changes-nothing",
                    format!(
                        "bob's article changed: {} {:?} {}",
                        now.0,
                        now.1,
                        String::from_utf8_lossy(&now.2)
                    ),
                ));
            }
        }
        (Some(resp), out)
    }

    /// Stops the server, runs `lenta check` on its data directory, and starts it again.
    async fn check_store(self) -> Result<(), String> {
        let mut result = Ok(());
        let server = self
            .server
            .restart_after(|data: &Path| {
                let out = std::process::Command::new(BIN)
                    .args(["check", "--data-dir"])
                    .arg(data)
                    .output()
                    .expect("run lenta check");
                if !out.status.success() {
                    result = Err(format!(
                        "lenta check failed:\n{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            })
            .await;
        drop(server);
        result
    }
}

/// Status, a few headers and the body of a raw HTTP/1.1 answer (`Content-Length` framed).
fn parse_raw(raw: &[u8]) -> Result<Resp, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete answer: {}", clip(raw, 200)))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {}", clip(raw, 200)))?;
    let mut resp = Resp {
        status,
        content_type: None,
        etag: None,
        last_modified: None,
        body: Vec::new(),
    };
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => resp.content_type = Some(value),
            "etag" => resp.etag = Some(value),
            "last-modified" => resp.last_modified = Some(value),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    let body = &raw[end + 4..];
    resp.body = body[..length.unwrap_or(body.len()).min(body.len())].to_vec();
    Ok(resp)
}

/// `detail` of a problem answer, if it is one with a non-empty detail.
fn problem_detail(resp: &Resp) -> Result<String, String> {
    let media = resp.content_type.as_deref().unwrap_or("");
    if media.split(';').next().unwrap_or("").trim() != "application/problem+json" {
        return Err(format!("error with Content-Type {media:?}"));
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("problem is not JSON ({e})"))?;
    match v["detail"].as_str() {
        Some(d) if !d.trim().is_empty() => Ok(d.to_string()),
        _ => Err("problem without a non-empty detail".into()),
    }
}

// ------------------------------------------------------------------------------------------
// Requests, answers, violations.

/// One request as sent.
#[derive(Clone)]
struct Req {
    method: Method,
    /// Path and query.
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn new(method: Method, target: impl Into<String>) -> Self {
        Req {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Bytes on the wire, roughly: request line, header lines, body.
    fn size(&self) -> usize {
        self.method.as_str().len()
            + self.target.len()
            + 12
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
            + self.body.len()
    }
}

/// Shown in reports: long bodies and values are cut.
impl fmt::Debug for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, clip(self.target.as_bytes(), 400))?;
        for (n, v) in &self.headers {
            writeln!(f, "{n}: {}", clip(v, 200))?;
        }
        write!(f, "[{} byte body] {}", self.body.len(), clip(&self.body, 600))
    }
}

fn clip(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned();
    let text = format!("{text:?}");
    if bytes.len() > max {
        format!("{text}… ({} bytes)", bytes.len())
    } else {
        text
    }
}

/// One answer.
struct Resp {
    status: u16,
    content_type: Option<String>,
    etag: Option<String>,
    last_modified: Option<String>,
    body: Vec<u8>,
}

impl Resp {
    fn summary(&self) -> String {
        format!(
            "{} {:?} [{} bytes] {}",
            self.status,
            self.content_type.as_deref().unwrap_or(""),
            self.body.len(),
            clip(&self.body, 300)
        )
    }
}

/// A broken invariant.
#[derive(Clone, Debug)]
struct Violation {
    invariant: &'static str,
    /// What tells one failure of the invariant from another kind (route, status, field), for
    /// grouping: one shrunk example per (invariant, sig).
    sig: String,
    detail: String,
}

impl Violation {
    fn new(invariant: &'static str, detail: impl Into<String>) -> Self {
        Violation {
            invariant,
            sig: String::new(),
            detail: detail.into(),
        }
    }

    fn sig(mut self, sig: impl Into<String>) -> Self {
        self.sig = sig.into();
        self
    }
}

/// `METHOD /path` with ids as `{id}` and without the query: the route a request took.
fn route(req: &Req) -> String {
    let path = req.target.split('?').next().unwrap_or("");
    let path: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("{} {}", req.method, path.join("/"))
}

// ------------------------------------------------------------------------------------------
// Running a suite: every case, grouping, shrinking, reporting.

/// An input the fuzzer generates: it builds its request and may add invariants of its own.
trait Case: Clone + fmt::Debug {
    /// The request (may ask the server first, e.g. for the current `ETag`).
    async fn request(&self, w: &World) -> Req;
    /// Input class for grouping failures (e.g. `null /title`).
    fn class(&self) -> String;
    /// Invariants specific to this input, given the answer.
    async fn oracle(&self, _w: &World, _req: &Req, _resp: &Resp) -> Vec<Violation> {
        Vec::new()
    }
}

/// Runs one case: its request, the status it got (if any), and what it broke.
async fn violations<C: Case>(w: &World, case: &C) -> (Req, Option<u16>, Vec<Violation>) {
    let req = case.request(w).await;
    let (resp, mut found) = w.probe(&req).await;
    let status = resp.as_ref().map(|r| r.status);
    if let Some(resp) = resp {
        found.extend(case.oracle(w, &req, &resp).await);
    }
    (req, status, found)
}

/// A failure group: the invariant, the input class, how often, and the shrunk example.
struct Group {
    count: usize,
    /// Input class, request and violation of the shrunk example.
    example: Option<(String, Req, Violation)>,
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed()),
    )
}

/// Runs `cases` generated inputs; panics with a report if any invariant broke.
async fn run_suite<S>(name: &str, strategy: S, cases: u32)
where
    S: Strategy,
    S::Value: Case,
{
    let world = World::new().await;
    let cases = scaled(cases);
    let mut runner = runner(cases);
    let started = Instant::now();
    let mut groups: BTreeMap<(&'static str, String), Group> = BTreeMap::new();
    let mut shrinking = Duration::ZERO;
    // How often each status was answered (0: no answer), to see what the cases reached.
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for _ in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).expect("generate a case");
        let case = tree.current();
        let (_, status, found) = violations(&world, &case).await;
        *statuses.entry(status.unwrap_or(0)).or_insert(0) += 1;
        let mut tree_used = false;
        for v in found {
            let key = (v.invariant, v.sig.clone());
            let examples = groups.values().filter(|g| g.example.is_some()).count();
            let group = groups.entry(key).or_insert(Group {
                count: 0,
                example: None,
            });
            group.count += 1;
            if !tree_used && group.example.is_none() && examples < MAX_GROUPS {
                // The tree moves while shrinking: one shrink per case.
                tree_used = true;
                let shrink_start = Instant::now();
                let (min, req, v) = shrink_case(&world, &mut tree, &v).await;
                shrinking += shrink_start.elapsed();
                group.example = Some((min.class(), req, v));
            }
        }
    }
    let elapsed = started.elapsed();
    let store = world.check_store().await;
    eprintln!(
        "fuzz {name}: {cases} cases in {:.1} s (of which {:.1} s shrinking), {} failure groups; statuses {statuses:?}",
        elapsed.as_secs_f64(),
        shrinking.as_secs_f64(),
        groups.len()
    );
    let mut report = String::new();
    for ((invariant, sig), g) in &groups {
        report.push_str(&format!("\n== {invariant} | {sig} | {} cases\n", g.count));
        if let Some((class, req, v)) = &g.example {
            report.push_str(&format!(
                "minimized ({class}):\n{req:?}\nviolation: {}\n",
                v.detail
            ));
        }
    }
    if let Err(e) = &store {
        report.push_str(&format!("\n== lenta check\n{e}\n"));
    }
    assert!(
        report.is_empty(),
        "fuzz {name}: invariants broken (seed {:?}):{report}",
        seed_text()
    );
}

/// Shrinks `tree` while its case still breaks `invariant` (proptest's simplify/complicate
/// walk, as its runner does); returns the smallest failing case, its request and violation.
async fn shrink_case<T>(w: &World, tree: &mut T, first: &Violation) -> (T::Value, Req, Violation)
where
    T: ValueTree,
    T::Value: Case,
{
    let breaks = |found: Vec<Violation>| {
        found
            .into_iter()
            .find(|v| v.invariant == first.invariant && v.sig == first.sig)
    };
    let (req, _, found) = violations(w, &tree.current()).await;
    let mut best = match breaks(found) {
        Some(v) => (tree.current(), req, v),
        None => {
            let mut v = first.clone();
            v.detail = format!("(did not reproduce on a second run) {}", v.detail);
            return (tree.current(), req, v);
        }
    };
    let mut budget = SHRINK_BUDGET;
    if !tree.simplify() {
        return best;
    }
    while budget > 0 {
        budget -= 1;
        let case = tree.current();
        let (req, _, found) = violations(w, &case).await;
        match breaks(found) {
            Some(v) => {
                best = (case, req, v);
                if !tree.simplify() {
                    break;
                }
            }
            None => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    best
}

// ------------------------------------------------------------------------------------------
// Article bodies.

/// Strings a hostile or careless client sends.
fn odd_string() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "",
        " ",
        "\t",
        "\n",
        "\u{0}",
        "\u{1}",
        "\u{7f}",
        "\u{85}",
        "\u{a0}",
        "\u{200b}",
        "\u{202e}",
        "\u{feff}",
        "\u{fffe}",
        "\u{ffff}",
        "\u{10ffff}",
        "\u{1f600}",
        "e\u{301}",
        "й",
        "İ",
        "ß",
        "<script>alert(1)</script>",
        "]]>",
        "&amp;",
        "&#0;",
        "\"",
        "\\",
        "'",
        ",",
        "%2C",
        "+",
        "%",
        "javascript:alert(1)",
        "https://x.ru/\"onmouseover=\"alert(7)<script>",
        "https://x.ru/a b",
        "image/jpeg\" onload=\"alert(9)",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2024-06-30T23:59:60Z",
        "2024-02-30T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "2024-05-17T09:00:00+24:00",
        "2024-05-17",
        "RU-NIZ",
        "ru-mow",
        "XX-YY",
        "cat,comma",
    ];
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|v| v.concat()),
        2 => any::<String>(),
        1 => prop::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect()),
    ]
}

/// Any JSON value, from the plain to the huge and deeply nested.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => prop::sample::select(vec![0i64, -1, 1, i64::MIN, i64::MAX]).prop_map(Value::from),
        1 => Just(json!(u64::MAX)),
        1 => prop::sample::select(vec![0.5f64, -0.0, 1e308, -1e-308]).prop_map(Value::from),
        4 => odd_string().prop_map(Value::from),
        1 => (1usize..1_300_000, prop::sample::select(vec!['a', 'й', ' ', '<', '\u{1f600}']))
            .prop_map(|(n, c)| Value::from(std::iter::repeat_n(c, n / c.len_utf8()).collect::<String>())),
        2 => prop::collection::vec(odd_string().prop_map(Value::from), 0..4).prop_map(Value::from),
        1 => (0usize..3000).prop_map(|n| Value::from(vec![Value::from("RU-NIZ"); n])),
        1 => prop::collection::btree_map("[a-z]{0,8}", odd_string().prop_map(Value::from), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => (1usize..300, any::<bool>()).prop_map(|(depth, arrays)| nested(depth, arrays)),
    ]
}

/// `depth` levels of arrays (or objects) around a string.
fn nested(depth: usize, arrays: bool) -> Value {
    (0..depth).fold(Value::from("x"), |inner, _| {
        if arrays {
            Value::Array(vec![inner])
        } else {
            json!({ "a": inner })
        }
    })
}

/// A change to the article as a JSON value.
#[derive(Clone, Debug)]
enum ValueMut {
    Set(&'static str, Value),
    Remove(&'static str),
    /// `n` unknown keys of `len` characters each.
    UnknownKeys(usize, usize),
}

/// A change to the serialized text.
#[derive(Clone, Debug)]
enum TextMut {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, &'static [u8]),
    /// `"key": value,` inserted right after the first `{`.
    Duplicate(&'static str, String),
}

fn value_mut() -> impl Strategy<Value = ValueMut> {
    prop_oneof![
        6 => (prop::sample::select(POINTERS), any_value()).prop_map(|(p, v)| ValueMut::Set(p, v)),
        3 => prop::sample::select(POINTERS).prop_map(|p| ValueMut::Set(p, Value::Null)),
        2 => prop::sample::select(POINTERS).prop_map(ValueMut::Remove),
        1 => (1usize..3000, 1usize..300).prop_map(|(n, len)| ValueMut::UnknownKeys(n, len)),
    ]
}

fn text_mut() -> impl Strategy<Value = TextMut> {
    const INSERTS: &[&[u8]] = &[
        b"\"\\ud800\"",
        b"\\u0000",
        b"\xff",
        b"\xc0\xaf",
        b"\xef\xbb\xbf",
        b"{",
        b"}",
        b"]",
        b",",
        b"\"",
        b"\\",
        b"\x00",
        b"\r\n",
        b"null",
        b"1e999999",
        b"-",
        b"NaN",
    ];
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, x)| TextMut::Flip(i, x)),
        2 => any::<Index>().prop_map(TextMut::Truncate),
        2 => (any::<Index>(), prop::sample::select(INSERTS)).prop_map(|(i, b)| TextMut::Insert(i, b)),
        2 => (
            prop::sample::select(&["external_id", "title", "published_at", "regions", "views", "image"][..]),
            prop::sample::select(vec![
                "null".to_string(),
                "\"dup\"".to_string(),
                "[\"RU-MOW\"]".to_string(),
                "\"2025-01-01T00:00:00Z\"".to_string(),
                "7".to_string(),
            ])
        )
            .prop_map(|(k, v)| TextMut::Duplicate(k, v)),
    ]
}

/// One mutated article.
#[derive(Clone, Debug)]
struct Mutated {
    external_id: u8,
    values: Vec<ValueMut>,
    texts: Vec<TextMut>,
}

fn mutated() -> impl Strategy<Value = Mutated> {
    (
        0u8..8,
        prop::collection::vec(value_mut(), 0..3),
        prop::collection::vec(text_mut(), 0..2),
    )
        .prop_map(|(external_id, values, texts)| Mutated {
            external_id,
            values,
            texts,
        })
}

impl Mutated {
    fn value(&self) -> Value {
        let mut v = article(&format!("fuzz-{}", self.external_id));
        for m in &self.values {
            match m {
                ValueMut::Set(p, new) => set_pointer(&mut v, p, new.clone()),
                ValueMut::Remove(p) => remove_pointer(&mut v, p),
                ValueMut::UnknownKeys(n, len) => {
                    if let Some(o) = v.as_object_mut() {
                        for i in 0..*n {
                            o.insert(format!("{i:0width$}", width = *len), Value::from(i));
                        }
                    }
                }
            }
        }
        v
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = self.value().to_string().into_bytes();
        for m in &self.texts {
            match m {
                TextMut::Flip(i, x) if !b.is_empty() => {
                    let at = i.index(b.len());
                    b[at] ^= x;
                }
                TextMut::Truncate(i) if !b.is_empty() => b.truncate(i.index(b.len())),
                TextMut::Insert(i, bytes) => {
                    let at = i.index(b.len() + 1);
                    b.splice(at..at, bytes.iter().copied());
                }
                TextMut::Duplicate(k, v) => {
                    if let Some(at) = b.iter().position(|&c| c == b'{') {
                        let pair = format!("\"{k}\":{v},");
                        b.splice(at + 1..at + 1, pair.into_bytes());
                    }
                }
                _ => {}
            }
        }
        b
    }

    /// A required field set to `null` (and not set again or textually altered).
    fn nulled_required(&self) -> Option<&'static str> {
        if !self.texts.is_empty() {
            return None;
        }
        let mut nulled = None;
        for m in &self.values {
            match m {
                ValueMut::Set(p, Value::Null) if REQUIRED.contains(&p.trim_start_matches('/')) => {
                    nulled = Some(*p)
                }
                ValueMut::Set(p, _) | ValueMut::Remove(p) if Some(*p) == nulled => nulled = None,
                _ => {}
            }
        }
        nulled
    }

    /// Only duplicate-key insertions, into an otherwise valid article.
    fn only_duplicates(&self) -> bool {
        self.values.is_empty()
            && !self.texts.is_empty()
            && self.texts.iter().all(|t| matches!(t, TextMut::Duplicate(..)))
    }

    fn class(&self) -> String {
        let mut parts: Vec<String> = self
            .values
            .iter()
            .map(|m| match m {
                ValueMut::Set(p, Value::Null) => format!("null {p}"),
                ValueMut::Set(p, v) => format!("set {p} to {}", kind(v)),
                ValueMut::Remove(p) => format!("remove {p}"),
                ValueMut::UnknownKeys(..) => "unknown keys".into(),
            })
            .collect();
        parts.extend(self.texts.iter().map(|t| {
            match t {
                TextMut::Flip(..) => "byte flip",
                TextMut::Truncate(..) => "truncation",
                TextMut::Insert(..) => "insertion",
                TextMut::Duplicate(..) => "duplicate key",
            }
            .to_string()
        }));
        if parts.is_empty() {
            "valid".into()
        } else {
            parts.join(" + ")
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(s) if s.len() > 4096 => "huge string",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where a mutated article goes.
#[derive(Clone, Debug)]
enum WriteCase {
    Post(Mutated),
    PutOwn(Mutated),
    /// Alice replacing bob's article: refused whatever the body.
    PutOthers(Mutated),
    Batch(Vec<Mutated>),
    /// `n` copies of one short bad line (hole 1: the answer must stay bounded).
    BatchJunk(usize, &'static str),
    /// A views body for alice's article (or, when true, bob's: counting views of it must leave
    /// `GET /api/articles/{bob_id}` byte-identical).
    Views(bool, Vec<u8>),
}

/// Views bodies: in and out of range, of the wrong type, duplicate keys, junk bytes.
fn views_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| format!("{{\"add\": {n}}}").into_bytes()),
        (0u64..2_000_000).prop_map(|n| format!("{{\"add\":{n}}}").into_bytes()),
        odd_string().prop_map(|s| json!({ "add": s }).to_string().into_bytes()),
        odd_string().prop_map(|s| format!("{{\"add\": 1, {}: 2}}", json!(s)).into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
        Just(br#"{"add": 1, "add": 2}"#.to_vec()),
        Just(br#"{"add": 1e3}"#.to_vec()),
    ]
}

/// The `add` a views body validly asks for, if any.
fn valid_add(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    if text.matches("\"add\"").count() != 1 {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object().filter(|o| o.len() == 1)?;
    object["add"].as_u64().filter(|n| (1..=1_000_000).contains(n))
}

fn write_case() -> impl Strategy<Value = WriteCase> {
    prop_oneof![
        14 => mutated().prop_map(WriteCase::Post),
        2 => mutated().prop_map(WriteCase::PutOwn),
        1 => mutated().prop_map(WriteCase::PutOthers),
        2 => prop::collection::vec(mutated(), 1..5).prop_map(WriteCase::Batch),
        1 => (1usize..2000, prop::sample::select(vec!["x", "{}", "null", "[]", "{\"title\":null}"]))
            .prop_map(|(n, l)| WriteCase::BatchJunk(n, l)),
        2 => (any::<bool>(), views_body()).prop_map(|(bob, body)| WriteCase::Views(bob, body)),
    ]
}

impl WriteCase {
    fn json(&self, w: &World, method: Method, path: String, body: Vec<u8>) -> Req {
        Req::new(method, path)
            .header("authorization", format!("Bearer {}", w.alice))
            .header("content-type", "application/json")
            .body(body)
    }
}

impl Case for WriteCase {
    async fn request(&self, w: &World) -> Req {
        match self {
            WriteCase::Post(m) => self.json(w, Method::POST, "/api/articles".into(), m.bytes()),
            WriteCase::PutOwn(m) => {
                self.json(w, Method::PUT, format!("/api/articles/{}", w.alice_id), m.bytes())
            }
            WriteCase::PutOthers(m) => {
                self.json(w, Method::PUT, format!("/api/articles/{}", w.bob_id), m.bytes())
            }
            WriteCase::Batch(lines) => {
                let mut body = Vec::new();
                for m in lines {
                    body.extend(m.bytes());
                    body.push(b'\n');
                }
                batch(w, body)
            }
            WriteCase::BatchJunk(n, line) => batch(w, format!("{line}\n").repeat(*n).into_bytes()),
            WriteCase::Views(bob, body) => {
                let id = if *bob { w.bob_id } else { w.alice_id };
                self.json(w, Method::POST, format!("/api/articles/{id}/views"), body.clone())
            }
        }
    }

    fn class(&self) -> String {
        match self {
            WriteCase::Post(m) => format!("POST {}", m.class()),
            WriteCase::PutOwn(m) => format!("PUT own {}", m.class()),
            WriteCase::PutOthers(_) => "PUT other's".into(),
            WriteCase::Batch(_) => "batch".into(),
            WriteCase::BatchJunk(_, line) => format!("batch of {line:?} lines"),
            WriteCase::Views(..) => "views".into(),
        }
    }

    async fn oracle(&self, _w: &World, _req: &Req, resp: &Resp) -> Vec<Violation> {
        let mut out = Vec::new();
        match self {
            WriteCase::PutOthers(_) if resp.status < 400 => out.push(Violation::new(
                "refused-write-changes-nothing",
                format!("alice replaced bob's article: {}", resp.summary()),
            )),
            WriteCase::Views(_, body) => {
                let valid = valid_add(body).is_some();
                if valid != (resp.status == 200) {
                    out.push(Violation::new(
                        "views-body-checked",
                        format!("a views body valid={valid} got {}", resp.summary()),
                    ));
                }
            }
            WriteCase::Post(m) | WriteCase::PutOwn(m) => {
                // Hole 3: null counts as missing, so it is refused naming the field.
                if let Some(p) = m.nulled_required() {
                    let field = p.trim_start_matches('/');
                    let put_without_id = field == "external_id" && matches!(self, WriteCase::PutOwn(_));
                    if !put_without_id && (resp.status != 422 || !names_field(resp, field)) {
                        out.push(
                            Violation::new(
                                "null-is-missing",
                                format!("{field}: null must be refused like a missing {field} (422 naming it): {}", resp.summary()),
                            )
                            .sig(field),
                        );
                    }
                }
                // Hole 12: duplicate keys are refused.
                if m.only_duplicates() && resp.status < 400 {
                    out.push(Violation::new(
                        "duplicate-keys-refused",
                        format!("a body with a duplicate key was accepted: {}", resp.summary()),
                    ));
                }
            }
            _ => {}
        }
        out
    }
}

fn batch(w: &World, body: Vec<u8>) -> Req {
    Req::new(Method::POST, "/api/articles/batch")
        .header("authorization", format!("Bearer {}", w.alice))
        .header("content-type", "application/x-ndjson")
        .body(body)
}

/// Whether a problem's `errors` names `field`.
fn names_field(resp: &Resp, field: &str) -> bool {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v["errors"].as_array().cloned())
        .is_some_and(|errors| errors.iter().any(|e| e["field"] == field))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_article_writes() {
    run_suite("article writes", write_case(), 1200).await;
}

// ------------------------------------------------------------------------------------------
// Query strings.

/// One query string against one path.
#[derive(Clone, Debug)]
struct QueryCase {
    path: &'static str,
    pairs: Vec<(String, String)>,
    /// Percent-encode the pairs (`false`: sent raw, as a careless script would).
    encode: bool,
}

const QUERY_PATHS: &[&str] = &[
    "/feed.rss",
    "/feed.atom",
    "/feed.json",
    "/regions/RU-NIZ/feed.rss",
    "/regions/ru-mow/feed.json",
    "/regions/XX-YY/feed.atom",
    "/api/articles",
    "/api/calendar",
    "/regions/RU-NIZ/",
    "/days/2024-05-17",
];

fn query_value(key: &str) -> BoxedStrategy<String> {
    let dates = prop::sample::select(vec![
        "2024-06-01",
        "2023-01-01",
        "2024-02-30",
        "2024-5-1",
        "0000-01-01",
        "9999-12-31",
        "+10000-01-01",
        "-0001-01-01",
        "2024-05-17T09:00:00+03:00",
        "2024-05-17T09:00:00 03:00",
        "2024-06-30T23:59:60Z",
        "9999-12-31T23:59:59-23:59",
        "yesterday",
        "",
    ])
    .prop_map(String::from);
    match key {
        "region" => prop_oneof![
            4 => prop::sample::select(vec![
                "RU-NIZ",
                "ru-mow",
                "RU-NIZ,RU-MOW",
                " RU-SPE ",
                "",
                ",",
                "XX-YY",
                "RU"
            ])
            .prop_map(String::from),
            1 => odd_string(),
        ]
        .boxed(),
        "category" => prop_oneof![
            4 => prop::sample::select(vec!["Власть", "общество", "cat,comma", "", "a,,b"]).prop_map(String::from),
            1 => odd_string(),
        ]
        .boxed(),
        "from" | "to" => prop_oneof![6 => dates, 1 => odd_string()].boxed(),
        "limit" => prop_oneof![
            prop::sample::select(vec![
                "1",
                "50",
                "500",
                "501",
                "0",
                "-1",
                "1e3",
                "18446744073709551616",
                " 5",
                "+5"
            ])
            .prop_map(String::from),
            any::<u64>().prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "before" | "after" => prop_oneof![
            any::<[u8; 16]>().prop_map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
            any::<[u8; 16]>().prop_map(|b| b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
            "[0-9a-fA-FgG+ -]{0,40}",
        ]
        .boxed(),
        "sort" => prop_oneof![
            4 => prop::sample::select(vec!["popular", "newest", "POPULAR", "foo", ""]).prop_map(String::from),
            1 => odd_string(),
        ]
        .boxed(),
        "period" => prop_oneof![
            4 => prop::sample::select(vec!["24h", "7d", "30d", "1h", "0h", "1y", "31d", "721h", "", "99999999999d"])
                .prop_map(String::from),
            1 => odd_string(),
        ]
        .boxed(),
        "month" => prop::sample::select(vec!["2024-05", "2024-13", "+10000-01", "0000-01", "", "2024-5"])
            .prop_map(String::from)
            .boxed(),
        _ => odd_string().boxed(),
    }
}

fn query_case() -> impl Strategy<Value = QueryCase> {
    let key = prop_oneof![
        8 => prop::sample::select(vec!["region", "category", "from", "to", "limit", "before", "after", "month", "sort", "period"])
            .prop_map(String::from),
        1 => odd_string(),
    ];
    let pair = key.prop_flat_map(|k| {
        let v = query_value(&k);
        (Just(k), v)
    });
    (
        prop::sample::select(QUERY_PATHS),
        prop::collection::vec(pair, 0..5),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(path, pairs, encode)| QueryCase { path, pairs, encode })
}

impl QueryCase {
    fn target(&self) -> String {
        let query = if self.encode {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.pairs {
                s.append_pair(k, v);
            }
            s.finish()
        } else {
            self.pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        if query.is_empty() {
            self.path.to_string()
        } else {
            format!("{}?{query}", self.path)
        }
    }
}

impl Case for QueryCase {
    async fn request(&self, _w: &World) -> Req {
        Req::new(Method::GET, self.target())
    }

    fn class(&self) -> String {
        let keys: Vec<&str> = self
            .pairs
            .iter()
            .map(|(k, _)| if k.len() <= 8 { k.as_str() } else { "?" })
            .collect();
        format!("{} {}", self.path, keys.join("&"))
    }

    /// The links a JSON answer gives (self, next) answer 200 and self is a fixed point.
    async fn oracle(&self, w: &World, _req: &Req, resp: &Resp) -> Vec<Violation> {
        let (self_key, next_key) = match self.path {
            "/feed.json" | "/regions/ru-mow/feed.json" => ("feed_url", "next_url"),
            "/api/articles" => ("self", "next"),
            _ => return Vec::new(),
        };
        if resp.status != 200 {
            return Vec::new();
        }
        let Ok(v) = serde_json::from_slice::<Value>(&resp.body) else {
            return vec![Violation::new("links", "a 200 JSON answer that is not JSON")];
        };
        let mut out = Vec::new();
        for key in [self_key, next_key] {
            let Some(url) = v[key].as_str() else { continue };
            let Some(target) = url.strip_prefix(&w.server.base) else {
                out.push(Violation::new("links", format!("{key} {url:?} is not on this server")).sig(key));
                continue;
            };
            match w.send(&Req::new(Method::GET, target)).await {
                Ok(r) if r.status == 200 => {
                    if key == self_key {
                        let again = serde_json::from_slice::<Value>(&r.body)
                            .ok()
                            .and_then(|v| v[self_key].as_str().map(String::from));
                        if again.as_deref() != Some(url) {
                            out.push(Violation::new(
                                "links-fixed-point",
                                format!("self link {url:?} is not a fixed point: it gives {again:?}"),
                            ));
                        }
                    }
                }
                Ok(r) => out.push(
                    Violation::new("links", format!("{key} {url:?} answered {}", r.summary()))
                        .sig(format!("{key} {}", r.status)),
                ),
                Err(e) => out.push(Violation::new("answers", e).sig(key)),
            }
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_query_strings() {
    run_suite("query strings", query_case(), 2000).await;
}

// ------------------------------------------------------------------------------------------
// Header sets.

/// An `If-None-Match` value.
#[derive(Clone, Debug)]
enum Inm {
    /// The current `ETag` (may be 304).
    Current,
    /// `*` (may be 304).
    Star,
    /// Junk around the current tag in a list (may be 304).
    ListWithCurrent(String),
    /// Anything that names no current tag: never 304 (hole 10).
    Other(String),
}

/// An `If-Modified-Since` value.
#[derive(Clone, Debug)]
enum Ims {
    Current,
    Other(String),
}

#[derive(Clone, Debug)]
struct HeaderCase {
    target: HeaderTarget,
    inm: Option<Inm>,
    ims: Option<Ims>,
    accept_encoding: Option<String>,
    content_type: Option<String>,
    authorization: Option<Vec<u8>>,
    extra: Vec<(&'static str, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug)]
enum HeaderTarget {
    Feed(&'static str),
    Article,
    Head(&'static str),
    Post,
}

fn junk_header() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        odd_string().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..64),
        (1usize..20_000).prop_map(|n| vec![b'a'; n]),
    ]
}

fn header_case() -> impl Strategy<Value = HeaderCase> {
    let target = prop_oneof![
        4 => prop::sample::select(vec!["/feed.rss?region=RU-NIZ", "/feed.json", "/api/articles?limit=5", "/regions/RU-MOW/feed.atom"])
            .prop_map(HeaderTarget::Feed),
        2 => Just(HeaderTarget::Article),
        1 => prop::sample::select(vec!["/feed.rss", "/api/articles"]).prop_map(HeaderTarget::Head),
        2 => Just(HeaderTarget::Post),
    ];
    let other_inm = prop_oneof![
        prop::sample::select(vec![
            "garbage",
            "W/",
            "\"unterminated",
            "",
            " ",
            "\"nope\"",
            "W/\"nope\"",
            "w/\"x\"",
            "\"a\"b\"",
            ",",
            "\"\""
        ])
        .prop_map(String::from),
        "[ -~]{0,30}".prop_filter("no star member", |s| !s.split(',').any(|m| m.trim() == "*")),
    ];
    let inm = prop_oneof![
        2 => Just(Inm::Current),
        1 => Just(Inm::Star),
        1 => prop::sample::select(vec!["garbage", "\"x\"", "W/"]).prop_map(|s| Inm::ListWithCurrent(s.into())),
        4 => other_inm.prop_map(Inm::Other),
    ];
    let ims = prop_oneof![
        2 => Just(Ims::Current),
        1 => prop::sample::select(vec![
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "yesterday",
            "",
        ])
        .prop_map(|s| Ims::Other(s.into())),
    ];
    let accept_encoding = prop_oneof![
        prop::sample::select(vec![
            "gzip",
            "br",
            "gzip, deflate, br",
            "identity;q=0",
            "*;q=0",
            "gzip;q=0, br;q=0",
            "br;q=1.5",
            "gzip;q=abc",
            "*",
            "x-gzip",
            "compress",
            "",
            ";;;",
            "gzip;q=0.001, identity;q=0",
        ])
        .prop_map(String::from),
        "[a-z*;=0-9., ]{0,30}",
    ];
    let content_type = prop_oneof![
        prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "application/x-ndjson",
            "",
            "application/json;",
            "multipart/form-data; boundary=x",
        ])
        .prop_map(String::from),
        odd_string(),
    ];
    let authorization = prop_oneof![
        Just(b"VALID".to_vec()),
        prop::sample::select(vec![
            "Bearer",
            "Bearer ",
            "bearer VALID",
            "Basic YWxpY2U6cHc=",
            "Bearer wrong",
            "Bearer VALIDx",
            "Token VALID",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        junk_header(),
    ];
    let extra = prop::collection::vec(
        (
            prop::sample::select(vec![
                "content-encoding",
                "if-match",
                "if-unmodified-since",
                "x-junk",
                "accept",
                "host",
            ]),
            junk_header(),
        ),
        0..2,
    );
    (
        target,
        prop::option::weighted(0.6, inm),
        prop::option::weighted(0.4, ims),
        prop::option::weighted(0.6, accept_encoding),
        prop::option::weighted(0.3, content_type),
        prop::option::weighted(0.4, authorization),
        extra,
    )
        .prop_map(
            |(target, inm, ims, accept_encoding, content_type, authorization, extra)| HeaderCase {
                target,
                inm,
                ims,
                accept_encoding,
                content_type,
                authorization,
                extra,
            },
        )
}

/// Bytes a header value can carry (no CR, LF, NUL or other controls but tab).
fn header_safe(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| {
            if b == b'\t' || (b >= 0x20 && b != 0x7f) {
                b
            } else {
                b'?'
            }
        })
        .collect()
}

impl HeaderCase {
    fn path(&self, w: &World) -> String {
        match self.target {
            HeaderTarget::Feed(p) | HeaderTarget::Head(p) => p.to_string(),
            HeaderTarget::Article => format!("/api/articles/{}", w.bob_id),
            HeaderTarget::Post => "/api/articles".into(),
        }
    }
}

impl Case for HeaderCase {
    async fn request(&self, w: &World) -> Req {
        let path = self.path(w);
        // What the server has now for this coding, for Current conditions.
        let mut probe = Req::new(Method::GET, path.clone());
        if let Some(ae) = &self.accept_encoding {
            probe = probe.header("accept-encoding", header_safe(ae.as_bytes()));
        }
        let (etag, lm) = match w.send(&probe).await {
            Ok(r) => (r.etag.unwrap_or_default(), r.last_modified.unwrap_or_default()),
            Err(_) => (String::new(), String::new()),
        };
        let method = match self.target {
            HeaderTarget::Head(_) => Method::HEAD,
            HeaderTarget::Post => Method::POST,
            _ => Method::GET,
        };
        let mut req = Req::new(method, path);
        if let HeaderTarget::Post = self.target {
            req = req.body(article("hdr").to_string().into_bytes());
        }
        if let Some(inm) = &self.inm {
            let v = match inm {
                Inm::Current => etag.clone(),
                Inm::Star => "*".into(),
                Inm::ListWithCurrent(junk) => format!("{junk}, {etag}"),
                Inm::Other(s) => s.clone(),
            };
            req = req.header("if-none-match", header_safe(v.as_bytes()));
        }
        if let Some(ims) = &self.ims {
            let v = match ims {
                Ims::Current => lm.clone(),
                Ims::Other(s) => s.clone(),
            };
            req = req.header("if-modified-since", header_safe(v.as_bytes()));
        }
        if let Some(ae) = &self.accept_encoding {
            req = req.header("accept-encoding", header_safe(ae.as_bytes()));
        }
        let ct = match (&self.content_type, self.target) {
            (Some(ct), _) => Some(ct.clone()),
            (None, HeaderTarget::Post) => Some("application/json".into()),
            _ => None,
        };
        if let Some(ct) = ct {
            req = req.header("content-type", header_safe(ct.as_bytes()));
        }
        let auth = match (&self.authorization, self.target) {
            (Some(a), _) => Some(a.clone()),
            (None, HeaderTarget::Post) => Some(b"Bearer VALID".to_vec()),
            _ => None,
        };
        if let Some(a) = auth {
            let a = String::from_utf8_lossy(&a)
                .replace("VALID", &w.alice)
                .into_bytes();
            let a = if a == w.alice.as_bytes() {
                format!("Bearer {}", w.alice).into_bytes()
            } else {
                a
            };
            req = req.header("authorization", header_safe(&a));
        }
        for (name, value) in &self.extra {
            req = req.header(name, header_safe(value));
        }
        req
    }

    fn class(&self) -> String {
        let inm = match &self.inm {
            None => "-",
            Some(Inm::Current) => "INM current",
            Some(Inm::Star) => "INM *",
            Some(Inm::ListWithCurrent(_)) => "INM list",
            Some(Inm::Other(_)) => "INM other",
        };
        let names: Vec<&str> = self.extra.iter().map(|(n, _)| *n).collect();
        format!(
            "{:?} {inm} ims={} ae={} ct={} auth={} {}",
            self.target,
            self.ims.is_some(),
            self.accept_encoding.is_some(),
            self.content_type.is_some(),
            self.authorization.is_some(),
            names.join(",")
        )
    }

    /// Hole 10 (RFC 9110 §13.1.3): an `If-None-Match` naming no current tag never gives 304.
    async fn oracle(&self, _w: &World, _req: &Req, resp: &Resp) -> Vec<Violation> {
        match &self.inm {
            Some(Inm::Other(v)) if resp.status == 304 => vec![Violation::new(
                "if-none-match-decides",
                format!("If-None-Match {v:?} names no current tag, but the answer was 304"),
            )],
            _ => Vec::new(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_header_sets() {
    run_suite("header sets", header_case(), 800).await;
}

// ------------------------------------------------------------------------------------------
// Early answers on a kept-alive connection.

/// A request whose answer comes before its body was read (bad token, wrong media type, a
/// declared length over the limit) must not cost the client its connection silently: the
/// answer says `Connection: close` (RFC 9112 §9.6), or the connection stays usable for the next
/// request once the body is sent. Found by `fuzz_article_writes` (a `/healthz` on a pooled
/// connection after such an answer failed, about 1 in 10 with reqwest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_close_or_keep_the_connection() {
    use std::io::{Read, Write};
    let server = TestServer::start().await;
    let token = server.add_publisher("alice", "");
    let body = vec![b'x'; 300_000];
    let cases = [
        (
            "a bad token",
            "Bearer nope".to_string(),
            "application/json",
            body.len(),
        ),
        (
            "a wrong media type",
            format!("Bearer {token}"),
            "text/plain",
            body.len(),
        ),
        (
            "a body over the limit",
            format!("Bearer {token}"),
            "application/json",
            2 << 20,
        ),
    ];
    let addr = server.addr;
    let mut wrong = Vec::new();
    for (what, auth, media, declared) in cases {
        let body = body.clone();
        let outcome = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
            let head = format!(
                "POST /api/articles HTTP/1.1\r\nhost: {addr}\r\nauthorization: {auth}\r\n\
                 content-type: {media}\r\ncontent-length: {declared}\r\n\r\n"
            );
            s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            let mut answer = vec![0u8; 4096];
            let n = s.read(&mut answer).map_err(|e| format!("no early answer: {e}"))?;
            let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
            let status = answer.split(' ').nth(1).unwrap_or("?").to_string();
            if answer.contains("\r\nconnection: close\r\n") {
                return Ok(());
            }
            // Kept alive: finish the request as announced, then ask again on the same connection.
            let rest: &[u8] = if declared == body.len() { &body } else { &[] };
            let sent = s.write_all(rest).and_then(|()| {
                s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
            });
            let mut next = vec![0u8; 4096];
            match sent.and_then(|()| s.read(&mut next)) {
                Ok(n) if next[..n].starts_with(b"HTTP/1.1 200") => Ok(()),
                Ok(n) => Err(format!(
                    "{status} without Connection: close, then the next request got {:?}",
                    String::from_utf8_lossy(&next[..n.min(80)])
                )),
                Err(e) => Err(format!(
                    "{status} without Connection: close, then the connection was gone ({e})"
                )),
            }
        })
        .await
        .expect("task");
        if let Err(e) = outcome {
            wrong.push(format!("{what}: {e}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "early answers lose the connection:\n{}",
        wrong.join("\n")
    );
}
