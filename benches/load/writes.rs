//! Write load test: durable article writes through the HTTP API of the real `lenta` binary.
//!
//! `cargo bench --bench writes` (release build). Not a criterion benchmark: what matters for
//! writes is sustained throughput and tail latency under concurrency, end to end (HTTP, JSON,
//! validation and sanitizing, the atomic sled batch, and the group-commit flush that every 2xx
//! waits for), so this starts `lenta serve` as a child process on a fresh data directory, drives
//! it over loopback, and prints articles/s and latency percentiles.
//!
//! Phases:
//! - `single`: `--clients` tasks (default 16), each POSTing one article at a time for
//!   `--seconds` (default 10);
//! - `batch`: `--batch-clients` tasks (default 2) POSTing NDJSON batches of `--batch-size` lines
//!   (default 1,000) until `--batch-articles` (default 200,000) are written.
//!
//! `cargo bench --bench writes -- --phase batch --batch-size 5000` runs one phase with other
//! settings. `--baseline PATH --rounds N` compares against another `lenta` binary (say, a build
//! of main before a change) in the same run: each round runs each phase on both binaries,
//! alternating which goes first, and the medians and their ratio are printed at the end. One
//! machine's noise then hits both sides alike; on this 2-core VM single runs vary by ±10%.
//!
//! Articles come from the deterministic generator (`lenta gen`): realistic size and
//! markup, so sanitizing costs what it costs in production. Every response is checked: a non-2xx
//! or a batch line that was not stored aborts the run, so a fast wrong answer cannot pass for a
//! fast right one. The client shares the machine's cores with the server; the figures are a floor.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lenta::gen::{write_portal_corpus, GenOptions};
use lenta::regions::RegionDirectory;

const BIN: &str = env!("CARGO_BIN_EXE_lenta");

/// Command-line options (after `--`).
struct Options {
    phase: Option<String>,
    baseline: Option<String>,
    rounds: usize,
    clients: usize,
    seconds: u64,
    batch_clients: usize,
    batch_size: usize,
    batch_articles: usize,
}

impl Options {
    fn parse() -> Self {
        let mut o = Options {
            phase: None,
            baseline: None,
            rounds: 1,
            clients: 16,
            seconds: 10,
            batch_clients: 2,
            batch_size: 1000,
            batch_articles: 200_000,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let value = args.get(i + 1).cloned().unwrap_or_default();
            let number = || {
                value
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("{} needs a number", args[i]))
            };
            match args[i].as_str() {
                "--phase" => o.phase = Some(value.clone()),
                "--baseline" => o.baseline = Some(value.clone()),
                "--rounds" => o.rounds = number().max(1),
                "--clients" => o.clients = number(),
                "--seconds" => o.seconds = number() as u64,
                "--batch-clients" => o.batch_clients = number(),
                "--batch-size" => o.batch_size = number(),
                "--batch-articles" => o.batch_articles = number(),
                // `cargo bench` passes `--bench`; a filter word may follow.
                _ => {
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        o
    }

    fn runs(&self, phase: &str) -> bool {
        self.phase.as_deref().is_none_or(|p| p == phase)
    }
}

/// A `lenta serve` child process on its own data directory.
struct Server {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the `lenta` binary at `bin`.
    fn start(bin: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let out = Command::new(bin)
            .args(["publisher", "add", "bench", "--data-dir"])
            .arg(&data)
            .output()
            .expect("lenta publisher add");
        assert!(
            out.status.success(),
            "publisher add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).expect("token").trim().to_string();
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(bin)
            .args(["serve", "--addr", &addr, "--data-dir"])
            .arg(&data)
            .env("LENTA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lenta serve");
        // The welcome banner goes to stderr once the listener is bound.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("read stderr");
            if line.contains("listening on") {
                break;
            }
        }
        std::thread::spawn(move || {
            lines.for_each(|l| {
                let l = l.unwrap_or_default();
                if l.contains("FLUSH") {
                    eprintln!("{l}")
                }
            })
        });
        Server {
            child,
            base: format!("http://{addr}"),
            token,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` generated articles as single-line JSON, with external ids unique to `tag`.
fn articles(n: usize, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    write_portal_corpus(
        &GenOptions { articles: n, seed: 7 },
        &RegionDirectory::builtin(),
        &mut out,
    )
    .expect("generate");
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
            v["external_id"] = format!("{tag}-{i}").into();
            v.to_string()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// CPU time (user + system) the process `pid` has used so far, from `/proc` (Linux only; zero
/// elsewhere). The server's CPU per article is steadier than wall time on a shared machine.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th there.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

struct Run {
    articles: usize,
    requests: usize,
    elapsed: Duration,
    server_cpu: Duration,
    latencies: Vec<Duration>,
}

/// Prints one run and returns its articles/s.
fn report(name: &str, mut run: Run) -> f64 {
    run.latencies.sort();
    let rate = run.articles as f64 / run.elapsed.as_secs_f64();
    println!(
        "{name:<7} {:>7} articles in {:>6} requests, {:>6.2} s: {:>7.0} articles/s; latency p50 {:>7.2} ms, \
         p99 {:>7.2} ms, max {:>7.2} ms; server CPU {:>5.1} µs/article",
        run.articles,
        run.requests,
        run.elapsed.as_secs_f64(),
        rate,
        percentile(&run.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&run.latencies, 0.99).as_secs_f64() * 1e3,
        run.latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        run.server_cpu.as_secs_f64() * 1e6 / run.articles.max(1) as f64,
    );
    rate
}

async fn single(server: &Server, clients: usize, seconds: u64) -> f64 {
    // Enough distinct articles that no client runs out (each POST creates a new article).
    let pool = Arc::new(articles(20_000, "single"));
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let url = format!("{}/api/articles", server.base);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = cpu_time(server.child.id());
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (pool, next, client, url, token) = (
                Arc::clone(&pool),
                Arc::clone(&next),
                client.clone(),
                url.clone(),
                server.token.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let body = pool[i % pool.len()].replacen(
                        "\"external_id\":\"single-",
                        &format!("\"external_id\":\"single{}-", i / pool.len()),
                        1,
                    );
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("POST");
                    let status = res.status();
                    let text = res.text().await.expect("body");
                    assert_eq!(status.as_u16(), 201, "{text}");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    let server_cpu = cpu_time(server.child.id()).saturating_sub(cpu_before);
    let n = latencies.len();
    report(
        "single",
        Run {
            articles: n,
            requests: n,
            elapsed,
            server_cpu,
            latencies,
        },
    )
}

async fn batch(server: &Server, clients: usize, size: usize, total: usize) -> f64 {
    let lines = articles(total, "batch");
    let bodies: Vec<String> = lines.chunks(size).map(|c| c.join("\n") + "\n").collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let url = format!("{}/api/articles/batch", server.base);
    let cpu_before = cpu_time(server.child.id());
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (bodies, next, client, url, token) = (
                Arc::clone(&bodies),
                Arc::clone(&next),
                client.clone(),
                url.clone(),
                server.token.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut written = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("POST batch");
                    let status = res.status();
                    let text = res.text().await.expect("body");
                    latencies.push(t.elapsed());
                    assert_eq!(status.as_u16(), 200, "{text}");
                    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary");
                    assert_eq!(summary["rejected"], 0, "{}", &text[..text.len().min(2000)]);
                    written += summary["created"].as_u64().expect("created") as usize;
                }
                (written, latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut written = 0;
    for t in tasks {
        let (n, l) = t.await.expect("client task");
        written += n;
        latencies.extend(l);
    }
    let elapsed = started.elapsed();
    let server_cpu = cpu_time(server.child.id()).saturating_sub(cpu_before);
    assert_eq!(written, total, "every line should have created an article");
    let requests = latencies.len();
    report(
        "batch",
        Run {
            articles: written,
            requests,
            elapsed,
            server_cpu,
            latencies,
        },
    )
}

/// The store alone, no HTTP: validate `total` articles, then time `Store::write_many` in chunks
/// of `chunk` and one flush. Shows how much of a batch's cost is sled's.
fn store_only(total: usize, chunk: usize) {
    use lenta::model::{ArticleInput, ExternalId};
    use lenta::store::{Store, WriteOp};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("data"), 256 << 20).expect("open store");
    let regions = RegionDirectory::builtin();
    let started = Instant::now();
    let articles: Vec<_> = articles(total, "store")
        .iter()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            ArticleInput::from_json(&v, &regions, ExternalId::Required).expect("valid")
        })
        .collect();
    let validate = started.elapsed();
    let started = Instant::now();
    let mut iter = articles.into_iter().peekable();
    while iter.peek().is_some() {
        let ops: Vec<_> = iter
            .by_ref()
            .take(chunk)
            .map(|article| {
                (
                    WriteOp::Upsert {
                        publisher: "bench".into(),
                        article,
                    },
                    |_: Option<&_>| Ok::<(), ()>(()),
                )
            })
            .collect();
        for result in store.write_many(ops).expect("write_many") {
            result.expect("written");
        }
    }
    let write = started.elapsed();
    let started = Instant::now();
    store.flush_blocking().expect("flush");
    let flush = started.elapsed();
    let floor = sled_floor(total, chunk);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / total as f64;
    println!(
        "store   {total:>7} articles: parse+validate {:>5.1} µs/article (one thread), write_many({chunk}) {:>5.1} \
         µs/article = {:>7.0} articles/s, final flush {:>6.1} ms; sled floor (same records, one apply_batch \
         per chunk, no planning) {:>5.1} µs/article",
        per(validate),
        per(write),
        total as f64 / write.as_secs_f64(),
        flush.as_secs_f64() * 1e3,
        per(floor),
    );
}

/// The least sled can do for `total` articles: the same records per article (article JSON by
/// id, time index, region index, external id, each under its key-space prefix) in one tree,
/// one `apply_batch` per `chunk` articles, into a fresh database. What `write_many` costs above
/// this is the planning: the upsert lookup, ids, encoding the article, region counts.
fn sled_floor(total: usize, chunk: usize) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(256 << 20)
        .open()
        .expect("sled");
    let data = db.open_tree("data").expect("tree");
    let lines = articles(total, "floor");
    let started = Instant::now();
    for (n, lines) in lines.chunks(chunk).enumerate() {
        let mut batch = sled::Batch::default();
        for (i, line) in lines.iter().enumerate() {
            let i = n * chunk + i;
            let id = (i as u64 + 1).to_be_bytes();
            let mut time = ((i as u64 * 7_919) % 1_000_003).to_be_bytes().to_vec();
            time.extend_from_slice(&id);
            batch.insert([b"a".as_slice(), &id].concat(), line.as_bytes());
            batch.insert([b"t".as_slice(), &time].concat(), &[]);
            batch.insert([b"rRU-NIZ\0".as_slice(), &time].concat(), &[]);
            batch.insert(format!("xbench\0floor-{i}").into_bytes(), &id);
        }
        data.apply_batch(batch).expect("apply");
    }
    started.elapsed()
}

/// Runs `phase` on a fresh server of each binary, `rounds` times, and prints the medians.
fn compare(binaries: &[(&str, &str)], rounds: usize, mut phase: impl FnMut(&Server) -> f64) {
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); binaries.len()];
    for round in 0..rounds {
        // Alternate who goes first, so that a drift of the machine favours neither.
        for k in 0..binaries.len() {
            let i = (k + round) % binaries.len();
            let (name, bin) = binaries[i];
            print!("{name:<8} ");
            rates[i].push(phase(&Server::start(bin)));
        }
    }
    if rounds == 1 && binaries.len() == 1 {
        return;
    }
    let medians: Vec<f64> = rates
        .iter_mut()
        .map(|r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect();
    for ((name, _), (median, r)) in binaries.iter().zip(medians.iter().zip(&rates)) {
        let spread = format!("{:.0}–{:.0}", r[0], r[r.len() - 1]);
        println!("  {name:<8} median {median:>7.0} articles/s over {rounds} runs ({spread})");
    }
    if let [this, baseline] = medians[..] {
        println!("  ratio this/baseline: {:.2}×", this / baseline);
    }
}

fn main() {
    let options = Options::parse();
    assert!(Path::new(BIN).exists(), "build the binary first: {BIN}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "lenta write load ({} cores), release binary {BIN}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut binaries = vec![("this", BIN)];
    if let Some(baseline) = options.baseline.as_deref() {
        assert!(Path::new(baseline).exists(), "no baseline binary at {baseline}");
        println!("baseline binary {baseline}");
        binaries.push(("baseline", baseline));
    }
    if options.phase.as_deref() == Some("store") {
        store_only(options.batch_articles, options.batch_size.min(1000));
    }
    if options.runs("single") {
        println!(
            "single: {} clients, {} s, one article per POST",
            options.clients, options.seconds
        );
        compare(&binaries, options.rounds, |server| {
            runtime.block_on(single(server, options.clients, options.seconds))
        });
    }
    if options.runs("batch") {
        println!(
            "batch: {} clients, {} articles per NDJSON request, {} articles",
            options.batch_clients, options.batch_size, options.batch_articles
        );
        compare(&binaries, options.rounds, |server| {
            runtime.block_on(batch(
                server,
                options.batch_clients,
                options.batch_size,
                options.batch_articles,
            ))
        });
    }
}
