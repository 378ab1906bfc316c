//! Test harness: the real server on a loopback port, a real sled store in a temp directory.
//!
//! Each test binary includes this module; not every binary uses every helper.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lenta::app::App;
use lenta::config::Settings;
use lenta::http::RunningServer;
use lenta::import::{self, ImportReport};
use tempfile::TempDir;

/// The value of the unlabelled series `name` (a counter or a gauge) in the `/metrics` of the
/// server at `base`: for servers of either kind ([`TestServer`], [`ChildServer`]).
pub async fn metric_at(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let res = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// The fixture file shipped with the project.
pub const FIXTURES: &str = include_str!("../../data/fixtures.json");

/// A running server and the directory it stores into.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// HTTP client (no automatic decompression: tests see the bytes as sent).
    pub client: reqwest::Client,
    server: Option<RunningServer>,
    dir: Arc<TempDir>,
    configure: Arc<dyn Fn(&mut Settings) + Send + Sync>,
}

impl TestServer {
    /// A server with default settings and an empty store.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose settings `configure` adjusts (the address and data dir are fixed by the harness).
    pub async fn start_with(configure: impl Fn(&mut Settings) + Send + Sync + 'static) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::launch(dir, Arc::new(configure), None).await
    }

    async fn launch(
        dir: Arc<TempDir>,
        configure: Arc<dyn Fn(&mut Settings) + Send + Sync>,
        port: Option<u16>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let mut settings = Settings::new(addr, dir.path().join("data"));
        configure(&mut settings);
        let app = App::open(settings).expect("open app");
        let server = RunningServer::on(Arc::new(app), listener).expect("start server");
        TestServer {
            base: format!("http://{addr}"),
            addr,
            client: reqwest::Client::builder().build().expect("client"),
            server: Some(server),
            dir,
            configure,
        }
    }

    /// Stops the server gracefully and starts a new one on the same port and data directory.
    pub async fn restart(self) -> Self {
        self.restart_after(|_| {}).await
    }

    /// Like [`TestServer::restart`], running `between` on the data directory while no server
    /// holds it.
    pub async fn restart_after(mut self, between: impl FnOnce(&Path)) -> Self {
        let port = self.addr.port();
        let data = self.dir.path().join("data");
        let db = data.join("db");
        if let Some(server) = self.server.take() {
            let app = Arc::downgrade(&server.app);
            server.shutdown().await;
            // Work spawned by requests (a group-commit leader, a render job) may still hold the
            // app, and with it sled's lock on the directory, for a moment after the last answer.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while app.strong_count() > 0 && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert_eq!(
                app.strong_count(),
                0,
                "the stopped server's state was not released in 10 s"
            );
            wait_for_unlock(&db, deadline).await;
        }
        between(&data);
        // `between` may open the store itself (tests that rewrite records as an older lenta
        // wrote them), and sled's background threads hold its lock a moment past the `Db`.
        wait_for_unlock(
            &db,
            std::time::Instant::now() + std::time::Duration::from_secs(10),
        )
        .await;
        Self::launch(Arc::clone(&self.dir), Arc::clone(&self.configure), Some(port)).await
    }

    /// The shared application state (store, regions, metrics).
    pub fn app(&self) -> &Arc<App> {
        &self.server.as_ref().expect("server running").app
    }

    /// Absolute URL of `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// GET `path_and_query`, which must be refused with a 400 `application/problem+json`
    /// (RFC 9457); returns the problem.
    pub async fn get_bad_request(&self, path_and_query: &str) -> serde_json::Value {
        let res = self.get(path_and_query).await;
        assert_eq!(res.status(), 400, "{path_and_query}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path_and_query}"
        );
        res.json().await.expect("a problem document")
    }

    /// GET `path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(self.url(path_and_query))
            .send()
            .await
            .expect("GET")
    }

    /// GET the absolute `url` (a `next` link, say), which must answer 200 with JSON; the JSON.
    pub async fn json_at(&self, url: &str) -> serde_json::Value {
        let res = self.client.get(url).send().await.expect("GET");
        assert_eq!(res.status(), 200, "{url}");
        res.json().await.expect("JSON")
    }

    /// POST one article (`body`) to `/api/articles` as the publisher whose token is `token`.
    pub async fn post_article(&self, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/articles"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// GET and return status, `ETag` (if any) and body bytes: what a reader can compare.
    pub async fn get_tagged(&self, path_and_query: &str) -> (u16, Option<String>, Vec<u8>) {
        let res = self.get(path_and_query).await;
        let status = res.status().as_u16();
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().expect("etag").to_string());
        (status, etag, res.bytes().await.expect("body").to_vec())
    }

    /// GET and return status and body text.
    pub async fn get_text(&self, path_and_query: &str) -> (u16, String) {
        let res = self.get(path_and_query).await;
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    /// The value of an unlabelled series in `/metrics` (a counter or a gauge).
    pub async fn metric(&self, name: &str) -> u64 {
        metric_at(&self.client, &self.base, name).await
    }

    /// Polls [`TestServer::metric`] until `ok` holds of it or `within` has passed; returns the
    /// last value read.
    pub async fn await_metric(&self, name: &str, ok: impl Fn(u64) -> bool, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let value = self.metric(name).await;
            if ok(value) || Instant::now() >= deadline {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Imports NDJSON text as publisher `portal`, like `lenta import`.
    pub fn import(&self, ndjson: &str) -> ImportReport {
        let app = self.app();
        import::import(&app.store, &app.regions, "portal", ndjson.as_bytes(), |_| {}).expect("import")
    }

    /// Accredits a publisher (all regions when `regions` is empty) and returns its token.
    pub fn add_publisher(&self, name: &str, regions: &str) -> String {
        let app = self.app();
        let regions = lenta::auth::parse_regions(regions, &app.regions).expect("regions");
        lenta::auth::add(&app.store, name, regions, false)
            .expect("add publisher")
            .1
    }
}

/// Waits until no process or thread holds sled's lock on `db`: sled's background threads may
/// keep it for a moment after the last handle to the store is dropped.
async fn wait_for_unlock(db: &Path, deadline: std::time::Instant) {
    loop {
        let free = std::fs::File::open(db).is_ok_and(|f| f.try_lock().is_ok());
        if free || std::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Every fixture article (the seed-like one and the tricky ones) as JSON values.
pub fn fixtures() -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(FIXTURES).expect("fixtures.json");
    let mut out = vec![v["seed_like_article"].clone()];
    out.extend(
        v["tricky_articles"]
            .as_array()
            .expect("tricky_articles")
            .iter()
            .cloned(),
    );
    out
}

/// The fixtures as NDJSON.
pub fn fixtures_ndjson() -> String {
    fixtures().iter().map(|v| format!("{v}\n")).collect()
}

/// A generated corpus (`lenta gen`) of `n` articles with `seed`, as NDJSON.
pub fn corpus(n: usize, seed: u64) -> String {
    let mut out = Vec::new();
    let opts = lenta::gen::GenOptions { articles: n, seed };
    lenta::gen::write_portal_corpus(&opts, &lenta::regions::RegionDirectory::builtin(), &mut out)
        .expect("generate");
    String::from_utf8(out).expect("utf-8")
}

/// Parses XML strictly (roxmltree), panicking with the position of the first error.
pub fn strict_xml(body: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{body}"))
}

/// `lenta serve` of the built binary as a child process on a free loopback port: for tests that
/// need the real process (kill -9, its memory and threads in /proc). Killed when dropped, also when
/// a test fails midway, so no server outlives its test.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl ChildServer {
    /// Starts `lenta serve --addr 127.0.0.1:PORT {flags} --data-dir {data}` with `LENTA_LOG=warn`
    /// and waits until `/healthz` answers (`serve --demo` imports its corpus first: slow in a
    /// debug build, hence the generous deadline). Retries on another port if the chosen one was
    /// taken meanwhile.
    pub async fn start(data: &Path, flags: &[&str], client: &reqwest::Client) -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .expect("bind")
                .local_addr()
                .expect("addr")
                .port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_lenta"))
                .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
                .args(flags)
                .arg("--data-dir")
                .arg(data)
                .env("LENTA_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn lenta serve");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                if let Ok(res) = client.get(format!("{base}/healthz")).send().await {
                    if res.status() == 200 {
                        return ChildServer { child, base };
                    }
                }
                if child.try_wait().expect("try_wait").is_some() {
                    break; // e.g. the port was taken meanwhile: try another
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("lenta serve {flags:?} did not come up on {}", data.display());
    }

    /// The process id, for /proc/PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, like `kill -9`: no shutdown code runs.
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// WebSub publish pings a hub stub received: (hub.mode, hub.url).
pub type Pings = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// Records WebSub publish pings: (hub.mode, hub.url).
pub async fn hub_stub() -> (String, Pings) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind hub");
    let url = format!("http://{}/hub", listener.local_addr().expect("addr"));
    let seen = Pings::default();
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_hub_connection(stream, Arc::clone(&record), true));
        }
    });
    (url, seen)
}

/// Serves one connection to a hub stub, plain or TLS: records each request's form fields
/// `hub.mode` and `hub.url` into `record` and answers 204; without `keep_alive`, with
/// `Connection: close`, as hubs that serve one request per connection do.
pub async fn serve_hub_connection<S>(io: S, record: Pings, keep_alive: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let record = Arc::clone(&record);
        async move {
            use http_body_util::BodyExt;
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let get = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            record
                .lock()
                .expect("lock")
                .push((get("hub.mode"), get("hub.url")));
            let mut res = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            *res.status_mut() = hyper::StatusCode::NO_CONTENT;
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(keep_alive)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// The validators of a document whose window ends at the request (issue 11), once its one
/// listed item, published a second before `started`, is inside a 10-second window: `path` stays
/// 304 for its `etag` while only the clock moves (asserted while that item is surely inside, so a
/// slow machine cannot make it lie), and once the item has left, both the ETag and
/// `last_modified` say so (200, a new ETag) and `listed` finds nothing in the body.
pub async fn assert_validators_follow_the_window(
    server: &TestServer,
    path: &str,
    started: Instant,
    (etag, last_modified): (&str, &str),
    listed: fn(&str) -> usize,
) {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let again = server
        .client
        .get(server.url(path))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET");
    if started.elapsed() < Duration::from_secs(7) {
        assert_eq!(again.status(), 304, "{path}: the clock alone changes nothing");
    }
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(started.elapsed())).await;
    for (name, value) in [("if-none-match", etag), ("if-modified-since", last_modified)] {
        let res = server
            .client
            .get(server.url(path))
            .header(name, value)
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 200, "{path}: {name} after an item left");
        assert_ne!(res.headers()["etag"].to_str().expect("etag"), etag, "{path}");
        let body = res.text().await.expect("body");
        assert_eq!(listed(&body), 0, "{path}: {body}");
    }
}
