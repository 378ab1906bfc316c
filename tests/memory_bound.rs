//! Memory bound of the cache-missing path (issue 13): a modest load of distinct feed queries must
//! not push the server's resident memory past its configured caches plus a fixed allowance, nor
//! its thread count past a bound set by the machine.
//!
//! Each cache-missing request renders and compresses a feed on a blocking thread; when the number
//! of such threads follows the load, so does memory (issue 13: GBs at a few dozen connections),
//! and one crawler can take the machine down. This test spawns the real binary (`serve --demo`, small caches), sends
//! 64 concurrent distinct queries (gzip) for a few seconds, samples `/proc/PID/status`, and fails
//! when the peak RSS or thread count is above its bound, so the problem cannot silently return.
//! Linux only (`/proc`); a timing-free test: it counts bytes and threads, not speed.

#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use common::{metric_at, ChildServer};
use lenta::regions::RegionDirectory;

/// `--render-cache-mb` of the server under test.
const RENDER_CACHE_MB: u64 = 8;
/// `--store-cache-mb` of the server under test.
const STORE_CACHE_MB: u64 = 32;
/// `--article-cache-mb` and `--item-cache-mb` of the server under test (each).
const DECODED_CACHES_MB: u64 = 8;
/// What the process may hold beyond its two caches: code, runtime, allocator, the requests in
/// flight (issue 13's target: cache budgets + 256 MB). Measured on the debug build of main
/// (380ab4d) with this test's load: idle after the demo import 116-125 MB; 2 clients (about what
/// a render pool sized to 2 cores runs at once) peak at 212 MB and 20 threads; 64 clients, the
/// load below, peak at 1,220-2,128 MB and 524 threads. So the bound (296 MB) passes a server that
/// renders a core's worth of requests at a time, with ~80 MB to spare, and fails one that renders
/// everything it is sent at once.
const ALLOWANCE_MB: u64 = 256;
/// What may stay resident after the load beyond the idle process and the caches' budgets: the
/// render workers' scratch buffers and sled's grown page table. Without THP and the idle pool's
/// release (src/memory.rs) the allocator kept the pages of the whole burst.
const SETTLED_MARGIN_MB: u64 = 64;
/// Concurrent clients, each with its own connection.
const CLIENTS: usize = 64;
/// Upper bound on requests sent in all, so the test ends on a slow machine too ...
const MAX_REQUESTS: usize = CLIENTS * 40;
/// ... and on the time spent sending them.
const LOAD_TIME: Duration = Duration::from_secs(6);

/// Resident memory and threads of a process, from `/proc/PID/status`.
#[derive(Debug, Default, Clone, Copy)]
struct Status {
    /// `VmRSS`, KiB.
    rss_kb: u64,
    /// `VmHWM` (the peak of `VmRSS`), KiB.
    hwm_kb: u64,
    /// `Threads`.
    threads: u64,
}

impl Status {
    /// Reads the status of `pid`; `None` once the process is gone.
    fn read(pid: u32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mut s = Status::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(key), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let value = value.parse().unwrap_or(0);
            match key {
                "VmRSS:" => s.rss_kb = value,
                "VmHWM:" => s.hwm_kb = value,
                "Threads:" => s.threads = value,
                _ => {}
            }
        }
        Some(s)
    }
}

/// Resets the kernel's peak-RSS mark of `pid` to its current RSS (`clear_refs` value 5, see
/// proc(5)), so `VmHWM` afterwards is the peak of the load alone, not of the demo import at
/// start. Returns whether the kernel allowed it.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The distinct feed queries of the load, as paths: format x limit x span x region-or-all x start
/// day, enumerated without repetition (so every request misses the render cache). The demo corpus
/// spans the generator's 2022-01-01 to 2026-10-31, shifted to end when it is loaded (weeks
/// later); spans and limits are chosen so that many pages are full.
fn distinct_paths() -> impl Iterator<Item = String> {
    const FORMATS: [&str; 3] = ["rss", "atom", "json"];
    const LIMITS: [usize; 4] = [50, 100, 200, 500];
    const SPANS: [u64; 4] = [30, 90, 365, 730];
    const DAYS: u64 = 1765;
    let first = NaiveDate::from_ymd_opt(2022, 1, 1).expect("date");
    let regions: Vec<String> = RegionDirectory::builtin()
        .iter()
        .map(|r| r.code.as_str().to_string())
        .collect();
    // (format, limit, span) cycles every 48 queries and the region every 48 x (regions + 1), so
    // the first 4,000-odd queries are all different; the start day moves on every query.
    (0u64..).map(move |n| {
        let format = FORMATS[(n % 3) as usize];
        let limit = LIMITS[(n / 3 % 4) as usize];
        let span = SPANS[(n / 12 % 4) as usize];
        let region = (n / 48) as usize % (regions.len() + 1);
        let day = n * 7 % DAYS;
        let from = first + Days::new(day);
        let to = from + Days::new(span - 1);
        let mut path = format!("/feed.{format}?from={from}&to={to}&limit={limit}");
        if let Some(code) = regions.get(region) {
            path.push_str("&region=");
            path.push_str(code);
        }
        path
    })
}

/// Answers of the load by kind.
#[derive(Debug, Default)]
struct Answers {
    ok: AtomicUsize,
    /// 503 with `Retry-After`: a server that queues and sheds excess work is within its rights.
    shed: AtomicUsize,
}

/// One client: sends the queries numbered `index`, `index + CLIENTS`, … until the time is up or
/// the request budget is spent.
async fn client_task(
    client: reqwest::Client,
    base: String,
    paths: Arc<Vec<String>>,
    index: usize,
    stop: Arc<AtomicBool>,
    answers: Arc<Answers>,
) {
    for path in paths.iter().skip(index).step_by(CLIENTS) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let res = client
            .get(format!("{base}{path}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = res.status().as_u16();
        let retry_after = res.headers().contains_key("retry-after");
        let gzip = res.headers().get("content-encoding").is_some_and(|v| v == "gzip");
        let body = res
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("body of {path}: {e}"));
        match status {
            200 => {
                // Compressing is part of the cold path's cost, memory included.
                assert!(gzip && !body.is_empty(), "{path}: 200 without a gzip body");
                answers.ok.fetch_add(1, Ordering::Relaxed);
            }
            503 if retry_after => {
                answers.shed.fetch_add(1, Ordering::Relaxed);
            }
            _ => panic!("{path}: unexpected {status}: {}", String::from_utf8_lossy(&body)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peak_rss_and_threads_stay_bounded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let (render, store) = (RENDER_CACHE_MB.to_string(), STORE_CACHE_MB.to_string());
    let decoded = DECODED_CACHES_MB.to_string();
    // Every client shares 127.0.0.1: lift the per-IP connection limit (64 by default, tested in
    // hostile_http.rs), or a connection the client reopens while the server still counts the
    // old one is refused and the run fails on something other than memory.
    let flags = [
        "--demo",
        "--render-cache-mb",
        &render,
        "--store-cache-mb",
        &store,
        "--article-cache-mb",
        &decoded,
        "--item-cache-mb",
        &decoded,
        "--max-connections-per-ip",
        "1024",
    ];
    let server = ChildServer::start(&dir.path().join("data"), &flags, &client).await;
    let pid = server.pid();

    let idle = Status::read(pid).expect("server status");
    let hwm_reset = reset_peak(pid);
    let hits_before = metric_at(&client, &server.base, "lenta_render_cache_hits_total").await;

    // Sample every 50 ms on a plain thread while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut peak = Status::default();
            while !stop.load(Ordering::Relaxed) {
                let Some(s) = Status::read(pid) else { break };
                peak.rss_kb = peak.rss_kb.max(s.rss_kb);
                peak.hwm_kb = peak.hwm_kb.max(s.hwm_kb);
                peak.threads = peak.threads.max(s.threads);
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        })
    };

    let paths: Arc<Vec<String>> = Arc::new(distinct_paths().take(MAX_REQUESTS).collect());
    let answers = Arc::new(Answers::default());
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(client_task(
                client.clone(),
                server.base.clone(),
                Arc::clone(&paths),
                i,
                Arc::clone(&stop),
                Arc::clone(&answers),
            ))
        })
        .collect();
    tokio::time::sleep(LOAD_TIME).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client task");
    }
    let elapsed = started.elapsed();
    let sampled = sampler.join().expect("sampler thread");
    let end = Status::read(pid).expect("server status after the load");
    let hits = metric_at(&client, &server.base, "lenta_render_cache_hits_total").await - hits_before;

    // With the mark reset, VmHWM is the exact peak of the load; else only the samples count (the
    // demo import at start may have peaked higher than any load).
    let peak_kb = if hwm_reset {
        sampled.rss_kb.max(end.hwm_kb)
    } else {
        sampled.rss_kb
    };
    let peak_threads = sampled.threads.max(end.threads);
    // The idle render pool releases freed memory at most once per interval; give it one.
    tokio::time::sleep(lenta::http::pool::RELEASE_INTERVAL + Duration::from_secs(1)).await;
    let settled = Status::read(pid).expect("server status after the load settled");
    let ok = answers.ok.load(Ordering::Relaxed);
    let shed = answers.shed.load(Ordering::Relaxed);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let caches_mb = RENDER_CACHE_MB + STORE_CACHE_MB + 2 * DECODED_CACHES_MB;
    let rss_bound_mb = caches_mb + ALLOWANCE_MB;
    let settled_bound_mb = idle.rss_kb / 1024 + caches_mb + SETTLED_MARGIN_MB;
    // Threads bounded by the machine, not the load: runtime workers and a render pool per core,
    // plus a fixed number for the store, the logger and a bounded blocking pool. 64 clients on a
    // server that spawns a thread per cache miss exceed it on any machine with fewer than 8 cores.
    let thread_bound = 32 + 4 * cores;
    eprintln!(
        "{} requests in {elapsed:.1?} ({ok} × 200, {shed} × 503), {hits} cache hits; \
         RSS idle {} MB, peak {} MB (bound {rss_bound_mb} MB; VmHWM reset: {hwm_reset}), \
         after {} MB, settled {} MB (bound {settled_bound_mb} MB); threads idle {}, peak \
         {peak_threads} (bound {thread_bound}, {cores} cores)",
        ok + shed,
        idle.rss_kb / 1024,
        peak_kb / 1024,
        end.rss_kb / 1024,
        settled.rss_kb / 1024,
        idle.threads,
    );

    // The load really was the cold path under concurrency.
    assert_eq!(
        hits, 0,
        "the distinct queries hit the render cache: no longer a cold-path load"
    );
    assert!(
        ok >= CLIENTS,
        "only {ok} feeds were rendered ({shed} shed): too little load to measure"
    );
    assert!(
        peak_kb / 1024 <= rss_bound_mb,
        "peak RSS {} MB under {CLIENTS} concurrent cache misses exceeds render cache \
         {RENDER_CACHE_MB} MB + store cache {STORE_CACHE_MB} MB + {ALLOWANCE_MB} MB",
        peak_kb / 1024
    );
    assert!(
        settled.rss_kb / 1024 <= settled_bound_mb,
        "{} MB resident after the load: more than idle {} MB + the caches' {caches_mb} MB + \
         {SETTLED_MARGIN_MB} MB, so memory freed by the load is not returned",
        settled.rss_kb / 1024,
        idle.rss_kb / 1024
    );
    assert!(
        peak_threads <= thread_bound,
        "{peak_threads} threads under {CLIENTS} concurrent cache misses; at most {thread_bound} \
         on {cores} cores"
    );
}
