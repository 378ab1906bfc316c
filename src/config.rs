//! Resolved server settings: what `lenta serve` runs with, after flags and `LENTA_*` variables.
//!
//! The command line ([`crate::cli`]) parses; this module holds the result in the types the rest of
//! the server uses, so a bad time zone or base URL is refused once, at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use crate::http::encoding::Compression;
use crate::http::pool::PoolLimits;

/// Cache-missing requests that may wait for a render worker by default: as many as the default
/// `--max-connections`, so that in practice the wait (`--render-wait-ms`) decides.
///
/// A waiting request costs a parked task and nothing else, while a refusal costs a whole request
/// cycle, and clients that do not honour `Retry-After` (load tools, many crawlers) ask again at
/// once: with a queue of 128, 1,024 such connections on the 1M store made ~20,000 refusals a
/// second, which took the CPU from the renders (67 pages a second instead of ~500). Waiting
/// instead keeps the renders at full speed and the latency bounded by the wait.
pub const DEFAULT_RENDER_QUEUE: usize = 1024;

/// Default `--store-cache-mb` (sled's page cache) and `--article-cache-mb` (decoded articles).
///
/// sled's cache does little for reads since a region's page is read from its region copies
/// (adjacent leaves, which the kernel's page cache keeps as well), and it fills whatever it is
/// given. Measured with `benches/load/cold.sh`'s mix of distinct gzip queries, 32 connections,
/// 20 s, server on one core, 256 and 64 MiB alternately, 3 rounds each (stop 14):
/// - 1M store: 1,279 / 1,167 / 1,204 req/s with 256 MiB, 1,254 / 1,149 / 1,164 with 64 MiB
///   (2–3% fewer in each pair), peak RSS 777–778 MB against 612–619 MB;
/// - 100k store: 2,253 / 2,282 / 2,256 against 2,131 / 2,298 / 2,359 req/s (no difference),
///   peak RSS 555–560 MB against 437–439 MB.
///
/// 160 MB of every 1M-article server for 2–3% of its cache-missing throughput is a poor trade,
/// so the default is 64 MiB. When most misses are date windows across all regions (a crawler
/// walking `/feed.*?from=…&to=…`), neighbouring windows list the same articles and memory does
/// more in the article cache: moving 192 MiB there from sled's cache gave 1.2× (100k) and 1.5×
/// (1M) the throughput, measured before region copies existed; README, "Sizing memory", says so.
pub const DEFAULT_STORE_CACHE_MB: u64 = 64;
/// See [`DEFAULT_STORE_CACHE_MB`].
pub const DEFAULT_ARTICLE_CACHE_MB: u64 = 64;

/// Default `--search-index-mb`.
pub const DEFAULT_SEARCH_INDEX_MB: u64 = 50;

/// One render worker per core: rendering and compressing are CPU-bound, so more threads than
/// cores only add memory (a heap per thread) and context switches.
pub fn default_render_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Settings of a running server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Listening address.
    pub addr: SocketAddr,
    /// The sled data directory.
    pub data_dir: PathBuf,
    /// Public base URL (scheme and host, optional path prefix), no trailing slash.
    pub base_url: String,
    /// The portal's time zone.
    pub tz: Tz,
    /// Region directory file; the built-in directory when absent.
    pub regions_file: Option<PathBuf>,
    /// Portal name shown in feed titles.
    pub portal_name: String,
    /// Tag URI authority for ids, e.g. `lenta,2026`.
    pub tag_authority: String,
    /// `Cache-Control: max-age` of feeds and read API responses, in seconds.
    pub max_age: u32,
    /// Budget of the in-memory rendered-feed cache, in bytes.
    pub render_cache_bytes: u64,
    /// sled page cache, in bytes.
    pub store_cache_bytes: u64,
    /// Budget of decoded articles kept for readers (`store::article_cache`), in bytes.
    pub article_cache_bytes: u64,
    /// Budget of rendered and compressed feed items (`feed::stitch`), in bytes.
    pub item_cache_bytes: u64,
    /// Whether a feed's cache-missing gzip answer is a quick body (`http::first_gzip`).
    pub quick_first_gzip: bool,
    /// Largest accepted single-article request body.
    pub max_body_bytes: usize,
    /// Largest accepted NDJSON batch body.
    pub max_batch_bytes: usize,
    /// Admin token for `/api/publishers`; the admin API is off without one.
    pub admin_token: Option<String>,
    /// WebSub hub to advertise and notify.
    pub websub_hub: Option<String>,
    /// Extra CA certificates (PEM) trusted for an `https://` WebSub hub, besides the built-in
    /// Mozilla roots: for private hubs behind an in-house CA.
    pub websub_ca_file: Option<PathBuf>,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Most connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Per-IP request rate limit (requests per second); off when absent.
    pub rate_limit: Option<u32>,
    /// Workers, queue and wait of the pool that renders cache misses.
    pub render_pool: PoolLimits,
    /// Compression levels of gzip and brotli answers.
    pub compression: Compression,
    /// Longest pause allowed between two reads of a request body (nginx's
    /// `client_body_timeout`): a body that stalls longer gets 408 and the connection closes, so
    /// slow senders cannot hold connection slots.
    pub body_timeout: Duration,
    /// Longest time an answer may wait for the client to take any of it (nginx's
    /// `send_timeout`): a client that stops reading loses its connection, so it cannot hold a
    /// slot and the answer's buffers for ever.
    pub send_timeout: Duration,
    /// Most connections one client IP may have open at once; more get a canned 503, so one
    /// address cannot take every slot of `max_connections`.
    pub max_connections_per_ip: usize,
    /// Most lines in an NDJSON batch (counted before any line is parsed): bounds the per-line
    /// answer and the work of one request.
    pub max_batch_lines: usize,
    /// Largest request header section (request line and every field), in bytes; hyper answers
    /// 431 above it.
    pub max_header_bytes: usize,
    /// The portal's square icon (PNG, at least 180x180); the built-in one when absent.
    pub icon_file: Option<PathBuf>,
    /// The portal's logo (PNG); the built-in one when absent.
    pub logo_file: Option<PathBuf>,
    /// Most URLs in one monthly sitemap before the month is split into parts: the protocol's
    /// 50,000 ([`crate::feed::sitemap::MAX_URLS`], also the ceiling); lower only in tests, which
    /// cannot write 50,000 articles to see a split.
    pub sitemap_max_urls: usize,
    /// How far back `/sitemap-news.xml` reaches from the time of the request: Google's two days;
    /// shorter only in tests, which cannot wait two days to see an article leave.
    pub news_window: Duration,
    /// How far back `/yandex.rss` reaches from the time of the request: Yandex's 8 days;
    /// shorter only in tests.
    pub yandex_window: Duration,
    /// Memory budget of the keyword index's writer, in MiB (`--search-index-mb`): what one
    /// indexing thread buffers before it writes a segment.
    pub search_index_mb: u64,
    /// How often the keyword index is committed (`--search-commit-ms`): the longest a write
    /// waits to be findable by a keyword (see [`crate::http::search_commit`]).
    pub search_commit: Duration,
    /// How far back `/dzen.rss` reaches from the time of the request: Dzen's 3 days by default
    /// (`--dzen-window-hours`); seconds only in tests.
    pub dzen_window: Duration,
    /// Where Dzen shows the portal's items (every item's `contentType`).
    pub dzen_content_type: crate::feed::dzen::ContentType,
    /// The Dzen channel's `yandex:logo`; the portal's logo when absent.
    pub dzen_logo_url: Option<String>,
    /// The Dzen channel's square `yandex:logo`; the portal's icon when absent.
    pub dzen_square_logo_url: Option<String>,
    /// The `yandex:genre` of `/yandex.rss` items whose categories name none; none leaves it out.
    pub yandex_genre: Option<crate::feed::yandex::Genre>,
    /// Shortest time between two computations of one `sort=popular` ranking (its snapshot's
    /// validators change at most this often; see [`crate::popular`]).
    pub popular_refresh: Duration,
    /// Most ranking snapshots held (each at most `limit` articles).
    pub popular_cache_entries: usize,
    /// Most articles of a period one ranking considers (the newest ones): bounds its cost.
    pub popular_candidates: usize,
}

impl Settings {
    /// The most blocking threads the runtime may start: the render workers, plus room for the
    /// writers (group-commit leaders, batches, admin calls) and the final flush, so that threads
    /// are bounded by the configuration and never by the load (tokio's default is 512).
    pub fn max_blocking_threads(&self) -> usize {
        self.render_pool.workers + 16
    }

    /// Settings for tests and embedding: everything default, on `addr` with data in `data_dir`.
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        Settings {
            base_url: format!("http://{addr}"),
            addr,
            data_dir,
            tz: chrono_tz::Europe::Moscow,
            regions_file: None,
            portal_name: "Лента новостей".to_string(),
            tag_authority: "lenta,2026".to_string(),
            max_age: 300,
            render_cache_bytes: 64 << 20,
            store_cache_bytes: DEFAULT_STORE_CACHE_MB << 20,
            article_cache_bytes: DEFAULT_ARTICLE_CACHE_MB << 20,
            item_cache_bytes: 64 << 20,
            quick_first_gzip: true,
            max_body_bytes: 1 << 20,
            max_batch_bytes: 64 << 20,
            admin_token: None,
            websub_hub: None,
            websub_ca_file: None,
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
            rate_limit: None,
            render_pool: PoolLimits {
                workers: default_render_workers(),
                queue: DEFAULT_RENDER_QUEUE,
                wait: Duration::from_secs(5),
            },
            compression: Compression::default(),
            body_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_connections_per_ip: 64,
            max_batch_lines: 100_000,
            max_header_bytes: 32 << 10,
            icon_file: None,
            logo_file: None,
            sitemap_max_urls: crate::feed::sitemap::MAX_URLS,
            news_window: Duration::from_secs(2 * 24 * 3600),
            yandex_window: Duration::from_secs(8 * 24 * 3600),
            search_index_mb: DEFAULT_SEARCH_INDEX_MB,
            search_commit: Duration::from_millis(1000),
            dzen_window: Duration::from_secs(3 * 24 * 3600),
            dzen_content_type: crate::feed::dzen::ContentType::default(),
            dzen_logo_url: None,
            dzen_square_logo_url: None,
            yandex_genre: Some(crate::feed::yandex::Genre::Message),
            popular_refresh: Duration::from_secs(60),
            popular_cache_entries: 64,
            popular_candidates: 50_000,
        }
    }
}

/// Checks and normalises a base URL: absolute http(s), no query or fragment, no trailing slash.
pub fn normalize_base_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("base URL {raw:?} is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("base URL {raw:?} must be http(s)://host[:port][/prefix]"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("base URL {raw:?} must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Checks an absolute http(s) URL given in the configuration (e.g. a logo an aggregator fetches).
pub fn check_absolute_url(name: &str, raw: &str) -> Result<String, String> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url.to_string()),
        _ => Err(format!("{name} {raw:?} must be an absolute http(s) URL")),
    }
}

/// Parses an IANA time zone name such as `Europe/Moscow`.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone {name:?}; use an IANA name such as Europe/Moscow"))
}
