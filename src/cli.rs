//! The command line: `serve`, `gen`, `import`, `publisher`, `check`.
//!
//! Every flag has a `LENTA_*` environment variable, so the same binary runs from a shell, a
//! systemd unit or a container without wrappers.

use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::App;
use crate::config::{check_absolute_url, normalize_base_url, parse_timezone, Settings};
use crate::gen::{write_portal_corpus, GenOptions};
use crate::http::encoding::Compression;
use crate::http::pool::PoolLimits;
use crate::http::RunningServer;
use crate::regions::RegionDirectory;
use crate::store::Store;
use crate::{auth, import};

/// lenta: RSS, Atom and JSON feeds for a regional news portal.
#[derive(Parser, Debug)]
#[command(name = "lenta", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Write a deterministic synthetic corpus as NDJSON to standard output.
    Gen(GenArgs),
    /// Bulk-load articles from an NDJSON file.
    Import(ImportArgs),
    /// Manage accredited publishers.
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Verify a data directory offline: every index agrees with the articles.
    Check(CheckArgs),
    /// Rebuild the keyword search index from the store (offline; `serve` also rebuilds it on
    /// start when it is missing or behind).
    Reindex(ReindexArgs),
}

/// Where the store lives.
#[derive(Args, Debug, Clone)]
struct StoreArgs {
    /// Data directory (created if missing).
    #[arg(long, env = "LENTA_DATA_DIR", default_value = "./lenta-data")]
    data_dir: PathBuf,
    /// Region directory file (TSV: code, name_ru, name_en, kind); built-in Russian regions if absent.
    #[arg(long = "regions", env = "LENTA_REGIONS")]
    regions_file: Option<PathBuf>,
}

impl StoreArgs {
    fn regions(&self) -> Result<RegionDirectory> {
        Ok(match &self.regions_file {
            Some(path) => RegionDirectory::from_file(path)?,
            None => RegionDirectory::builtin(),
        })
    }

    fn open(&self) -> Result<Store> {
        Ok(Store::open(&self.data_dir, 256 << 20)?)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "LENTA_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Public base URL used in feed links (default: http://ADDR).
    #[arg(long, env = "LENTA_BASE_URL")]
    base_url: Option<String>,
    /// The portal's IANA time zone; a date in a filter means that whole local day.
    #[arg(long, env = "LENTA_TIMEZONE", default_value = "Europe/Moscow")]
    timezone: String,
    /// Load a generated demo corpus (5,000 articles) when the store is empty.
    #[arg(long)]
    demo: bool,
    /// Portal name, the first part of every feed title.
    #[arg(long, env = "LENTA_PORTAL_NAME", default_value = "Лента новостей")]
    portal_name: String,
    /// Tag URI authority for article and feed ids (RFC 4151); never change it once feeds are out.
    #[arg(long, env = "LENTA_TAG_AUTHORITY", default_value = "lenta,2026")]
    tag_authority: String,
    /// Cache-Control max-age of feeds and read API responses, in seconds.
    #[arg(long, env = "LENTA_MAX_AGE", default_value_t = 300)]
    max_age: u32,
    /// Memory budget of the rendered-feed cache, in MiB.
    #[arg(long, env = "LENTA_RENDER_CACHE_MB", default_value_t = 64)]
    render_cache_mb: u64,
    /// sled page cache, in MiB.
    #[arg(long, env = "LENTA_STORE_CACHE_MB", default_value_t = crate::config::DEFAULT_STORE_CACHE_MB)]
    store_cache_mb: u64,
    /// Memory budget of decoded articles kept for cache-missing pages, in MiB (0 = none).
    #[arg(long, env = "LENTA_ARTICLE_CACHE_MB", default_value_t = crate::config::DEFAULT_ARTICLE_CACHE_MB)]
    article_cache_mb: u64,
    /// Memory budget of rendered and compressed feed items, in MiB (0 = none).
    #[arg(long, env = "LENTA_ITEM_CACHE_MB", default_value_t = 64)]
    item_cache_mb: u64,
    /// Answer a feed's cache-missing gzip request with a quick body (stitched from compressed
    /// items, or compressed whole at level 1: larger), compressing it at --gzip-level later when
    /// a render worker is idle; `false` compresses every gzip feed at --gzip-level at once.
    #[arg(long, env = "LENTA_QUICK_FIRST_GZIP", default_value_t = true, action = clap::ArgAction::Set)]
    quick_first_gzip: bool,
    /// Largest single-article request body, in bytes.
    #[arg(long, env = "LENTA_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Largest NDJSON batch body, in bytes.
    #[arg(long, env = "LENTA_MAX_BATCH_BYTES", default_value_t = 64 << 20)]
    max_batch_bytes: usize,
    /// WebSub hub URL to advertise in feeds.
    #[arg(long, env = "LENTA_WEBSUB_HUB")]
    websub_hub: Option<String>,
    /// PEM file of extra CA certificates to trust for an https:// WebSub hub (private hubs).
    #[arg(long, env = "LENTA_WEBSUB_CA_FILE", requires = "websub_hub")]
    websub_ca_file: Option<PathBuf>,
    /// Seconds a client has to send its request headers.
    #[arg(long, env = "LENTA_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    /// Most connections served at once.
    #[arg(long, env = "LENTA_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds shutdown waits for in-flight requests.
    #[arg(long, env = "LENTA_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Per-client-IP request limit, requests per second (429 with Retry-After above it); off when absent.
    #[arg(long, env = "LENTA_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Threads rendering cache-missing pages at once (default: one per core).
    #[arg(long, env = "LENTA_RENDER_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    render_workers: Option<u16>,
    /// Cache-missing requests that may wait for a render worker; more get 503 with Retry-After.
    #[arg(long, env = "LENTA_RENDER_QUEUE", default_value_t = crate::config::DEFAULT_RENDER_QUEUE)]
    render_queue: usize,
    /// Longest wait for a render worker, in milliseconds, before a 503 with Retry-After.
    #[arg(long, env = "LENTA_RENDER_WAIT_MS", default_value_t = 5000)]
    render_wait_ms: u64,
    /// gzip level (libdeflate), 1 (fastest) to 12 (smallest).
    #[arg(long, env = "LENTA_GZIP_LEVEL", default_value_t = 6,
          value_parser = clap::value_parser!(u8).range(1..=crate::http::encoding::MAX_GZIP_LEVEL as i64))]
    gzip_level: u8,
    /// Brotli quality, 0 (fastest) to 11 (smallest).
    #[arg(long, env = "LENTA_BROTLI_QUALITY", default_value_t = 4,
          value_parser = clap::value_parser!(u8).range(0..=crate::http::encoding::MAX_BROTLI_QUALITY as i64))]
    brotli_quality: u8,
    /// Longest pause in seconds between two reads of a request body (408 and close above it).
    #[arg(long, env = "LENTA_BODY_TIMEOUT", default_value_t = 10)]
    body_timeout: u64,
    /// Longest time in seconds an answer may wait for the client to read any of it (connection
    /// closed above it).
    #[arg(long, env = "LENTA_SEND_TIMEOUT", default_value_t = 60)]
    send_timeout: u64,
    /// Most connections one client IP may hold open (503 with Retry-After above it).
    #[arg(long, env = "LENTA_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    max_connections_per_ip: usize,
    /// Most lines in one NDJSON batch (413 above it).
    #[arg(long, env = "LENTA_MAX_BATCH_LINES", default_value_t = 100_000)]
    max_batch_lines: usize,
    /// Largest request header section in bytes (431 above it; at least 8192).
    #[arg(long, env = "LENTA_MAX_HEADER_BYTES", default_value_t = 32 << 10)]
    max_header_bytes: usize,
    /// The portal's icon: a square PNG of at least 180x180 (served as /apple-touch-icon.png and,
    /// wrapped, /favicon.ico; named by every feed). Built-in icon when absent.
    #[arg(long = "icon", env = "LENTA_ICON", value_name = "FILE")]
    icon_file: Option<PathBuf>,
    /// The portal's logo: a PNG, ideally twice as wide as tall and at most 144 wide (served as
    /// /logo.png; Atom logo, RSS image). Built-in logo when absent.
    #[arg(long = "logo", env = "LENTA_LOGO", value_name = "FILE")]
    logo_file: Option<PathBuf>,
    /// How many hours back /dzen.rss reaches from the time of the request (Dzen takes the last
    /// 2-3 days).
    #[arg(long, env = "LENTA_DZEN_WINDOW_HOURS", default_value_t = 72,
          value_parser = clap::value_parser!(u16).range(1..=72))]
    dzen_window_hours: u16,
    /// Where Dzen shows the items of /dzen.rss: news (Dzen News and the channel), news_only or
    /// blogs_only (the channel only).
    #[arg(long, env = "LENTA_DZEN_CONTENT_TYPE", default_value = "news",
          value_parser = crate::feed::dzen::ContentType::parse)]
    dzen_content_type: crate::feed::dzen::ContentType,
    /// Absolute URL of the logo /dzen.rss names (yandex:logo); the portal's /logo.png when absent.
    #[arg(long, env = "LENTA_DZEN_LOGO_URL", value_name = "URL")]
    dzen_logo_url: Option<String>,
    /// Absolute URL of the square logo /dzen.rss names (yandex:logo type="square"); the portal's
    /// /apple-touch-icon.png when absent.
    #[arg(long, env = "LENTA_DZEN_SQUARE_LOGO_URL", value_name = "URL")]
    dzen_square_logo_url: Option<String>,
    /// The yandex:genre of /yandex.rss items whose categories name none (a category such as
    /// Интервью or Аналитика decides otherwise): message, article, interview or none.
    #[arg(long, env = "LENTA_YANDEX_GENRE", default_value = "message",
          value_parser = ["message", "article", "interview", "none"])]
    yandex_genre: String,
    /// Seconds between two computations of one most-read ranking (sort=popular); its ETag
    /// changes at most this often.
    #[arg(long, env = "LENTA_POPULAR_REFRESH_SECS", default_value_t = 60)]
    popular_refresh_secs: u64,
    /// Most most-read rankings held in memory (each at most `limit` articles).
    #[arg(long, env = "LENTA_POPULAR_CACHE_ENTRIES", default_value_t = 64)]
    popular_cache_entries: usize,
    /// Most articles of a period one ranking considers (the newest; bounds a 30d ranking's cost).
    #[arg(long, env = "LENTA_POPULAR_CANDIDATES", default_value_t = 50_000)]
    popular_candidates: usize,
    /// Log format.
    #[arg(long, env = "LENTA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Memory budget of the keyword index's writer, in MiB (at least 15).
    #[arg(long, env = "LENTA_SEARCH_INDEX_MB", default_value_t = crate::config::DEFAULT_SEARCH_INDEX_MB,
          value_parser = clap::value_parser!(u64).range(crate::store::search::MIN_BUDGET_MB..=65536))]
    search_index_mb: u64,
    /// How often the keyword index is committed, in milliseconds: the longest a write waits to
    /// be findable by a keyword (1 … 60000).
    #[arg(long, env = "LENTA_SEARCH_COMMIT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    search_commit_ms: u64,
}

#[derive(Args, Debug)]
struct GenArgs {
    /// Number of articles (the first is the fixture article).
    #[arg(long, default_value_t = 5000)]
    articles: usize,
    /// Random seed; the same seed and count give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Region directory file to draw regions from.
    #[arg(long = "regions", env = "LENTA_REGIONS")]
    regions_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// NDJSON file, one article per line (`-` for standard input).
    file: PathBuf,
    /// Publisher that will own the imported articles.
    #[arg(long, default_value = "portal")]
    publisher: String,
    #[command(flatten)]
    search: SearchArgs,
}

#[derive(Subcommand, Debug)]
enum PublisherCommand {
    /// Accredit a publisher and print its token (shown only once).
    Add {
        /// Data directory.
        #[arg(long, env = "LENTA_DATA_DIR", default_value = "./lenta-data")]
        data_dir: PathBuf,
        /// Region directory file used to check the codes (built-in when absent).
        #[arg(long = "region-file", env = "LENTA_REGIONS")]
        region_file: Option<PathBuf>,
        /// Publisher name (a-z, 0-9, '.', '_', '-').
        name: String,
        /// Comma-separated region codes it may publish in (default: all regions).
        #[arg(long = "regions", value_name = "CODES")]
        regions: Option<String>,
        /// Allow its articles in the aggregator feeds (/yandex.rss, /dzen.rss), which otherwise leave out
        /// outside publishers' articles.
        #[arg(long)]
        syndicate: bool,
    },
    /// List publishers.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a publisher's token (its articles stay).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// Publisher name.
        name: String,
    },
}

/// The keyword index's writer budget, for the commands that write articles.
#[derive(Args, Debug)]
struct SearchArgs {
    /// Memory budget of the keyword index's writer, in MiB (at least 15).
    #[arg(long, env = "LENTA_SEARCH_INDEX_MB", default_value_t = crate::config::DEFAULT_SEARCH_INDEX_MB,
          value_parser = clap::value_parser!(u64).range(crate::store::search::MIN_BUDGET_MB..=65536))]
    search_index_mb: u64,
}

#[derive(Args, Debug)]
struct ReindexArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    search: SearchArgs,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs the command line; the binary's `main` is this and error printing.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Gen(args) => gen(args),
        Command::Import(args) => import_file(args),
        Command::Publisher(cmd) => publisher(cmd),
        Command::Check(args) => check(args),
        Command::Reindex(args) => reindex(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let _log_guard = init_logging(args.log_format);
    let mut settings = Settings::new(args.addr, args.store.data_dir.clone());
    settings.base_url = normalize_base_url(&args.base_url.unwrap_or_else(|| format!("http://{}", args.addr)))
        .map_err(anyhow::Error::msg)?;
    settings.tz = parse_timezone(&args.timezone).map_err(anyhow::Error::msg)?;
    settings.regions_file = args.store.regions_file.clone();
    settings.portal_name = args.portal_name;
    settings.tag_authority = args.tag_authority;
    settings.max_age = args.max_age;
    settings.render_cache_bytes = args.render_cache_mb << 20;
    settings.store_cache_bytes = args.store_cache_mb << 20;
    settings.article_cache_bytes = args.article_cache_mb << 20;
    settings.item_cache_bytes = args.item_cache_mb << 20;
    settings.quick_first_gzip = args.quick_first_gzip;
    settings.max_body_bytes = args.max_body_bytes;
    settings.max_batch_bytes = args.max_batch_bytes;
    if let Some(hub) = &args.websub_hub {
        crate::websub::check_hub(hub, args.websub_ca_file.as_deref())?;
    }
    settings.websub_hub = args.websub_hub;
    settings.websub_ca_file = args.websub_ca_file;
    settings.rate_limit = args.rate_limit.filter(|n| *n > 0);
    settings.header_timeout = Duration::from_secs(args.header_timeout.max(1));
    settings.max_connections = args.max_connections;
    settings.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    settings.render_pool = PoolLimits {
        workers: args
            .render_workers
            .map_or_else(crate::config::default_render_workers, usize::from),
        queue: args.render_queue,
        wait: Duration::from_millis(args.render_wait_ms.max(1)),
    };
    settings.compression = Compression {
        gzip_level: args.gzip_level,
        brotli_quality: args.brotli_quality,
    };
    settings.body_timeout = Duration::from_secs(args.body_timeout.max(1));
    settings.send_timeout = Duration::from_secs(args.send_timeout.max(1));
    settings.max_connections_per_ip = args.max_connections_per_ip.max(1);
    settings.max_batch_lines = args.max_batch_lines.max(1);
    settings.max_header_bytes = args.max_header_bytes.max(8192);
    settings.icon_file = args.icon_file;
    settings.logo_file = args.logo_file;
    settings.dzen_window = Duration::from_secs(u64::from(args.dzen_window_hours) * 3600);
    settings.dzen_content_type = args.dzen_content_type;
    settings.yandex_genre =
        crate::feed::yandex::Genre::parse_default(&args.yandex_genre).map_err(anyhow::Error::msg)?;
    settings.dzen_logo_url = args
        .dzen_logo_url
        .map(|u| check_absolute_url("--dzen-logo-url", &u))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    settings.dzen_square_logo_url = args
        .dzen_square_logo_url
        .map(|u| check_absolute_url("--dzen-square-logo-url", &u))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    settings.popular_refresh = Duration::from_secs(args.popular_refresh_secs);
    settings.popular_cache_entries = args.popular_cache_entries.max(1);
    settings.popular_candidates = args.popular_candidates.max(1);
    settings.admin_token = std::env::var("LENTA_ADMIN_TOKEN").ok().filter(|t| !t.is_empty());
    settings.search_index_mb = args.search_index_mb;
    settings.search_commit = Duration::from_millis(args.search_commit_ms);
    let app =
        App::open(settings).with_context(|| format!("cannot open {}", args.store.data_dir.display()))?;
    if args.demo {
        load_demo(&app)?;
    }
    // Opening sled (and loading the demo) freed tens of MB this thread will not reuse.
    crate::memory::release_free_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(app.settings.max_blocking_threads())
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = RunningServer::start(Arc::new(app))
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        print_welcome(&server);
        server.run_until(shutdown_signal()).await;
        Ok(())
    })
}

/// How long before the demo's start its newest article (or edit) is dated: a few minutes, so it
/// is already published (not scheduled) and inside every aggregator window.
const DEMO_LEAD_MINUTES: i64 = 5;

fn load_demo(app: &App) -> Result<()> {
    if app.store.article_count() > 0 {
        eprintln!(
            "demo: the store already has {} articles; not loading the demo corpus",
            app.store.article_count()
        );
        return Ok(());
    }
    let mut corpus = Vec::new();
    write_portal_corpus(
        &GenOptions {
            articles: 5000,
            seed: 1,
        },
        &app.regions,
        &mut corpus,
    )?;
    // Anchored to now, so the windows of /sitemap-news.xml, /yandex.rss and /dzen.rss show it.
    let latest = chrono::Utc::now() - chrono::TimeDelta::minutes(DEMO_LEAD_MINUTES);
    let corpus = crate::gen::anchor_corpus(&corpus, latest)?;
    let report = import::import(&app.store, &app.regions, "portal", &corpus[..], |_| {})?;
    eprintln!(
        "demo: loaded {} generated articles, the newest dated {} minutes ago",
        report.created + report.updated,
        DEMO_LEAD_MINUTES
    );
    Ok(())
}

fn print_welcome(server: &RunningServer) {
    let base = &server.app.settings.base_url;
    eprintln!(
        "lenta is listening on http://{} with {} articles",
        server.addr,
        server.app.store.article_count()
    );
    eprintln!("  regions and feeds:  {base}/");
    eprintln!("  all regions:        {base}/feed.rss  {base}/feed.atom  {base}/feed.json");
    eprintln!("  one region:         {base}/regions/RU-NIZ/feed.atom");
    eprintln!("  a day:              {base}/feed.rss?from=2024-06-01&to=2024-06-01");
    eprintln!("  API:                {base}/api/regions  {base}/api/articles?region=RU-MOW&limit=5");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Sets up logging to stderr: one line per request, text or JSON.
///
/// Lines go through a non-blocking writer (a background thread does the `write`s), so request
/// handlers never wait on a slow terminal or journal; the returned guard flushes it at exit.
/// Colour codes only when stderr is a terminal.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LENTA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    guard
}

fn gen(args: GenArgs) -> Result<()> {
    let dir = match &args.regions_file {
        Some(path) => RegionDirectory::from_file(path)?,
        None => RegionDirectory::builtin(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    write_portal_corpus(
        &GenOptions {
            articles: args.articles,
            seed: args.seed,
        },
        &dir,
        &mut out,
    )?;
    out.flush()?;
    Ok(())
}

fn import_file(args: ImportArgs) -> Result<()> {
    if !auth::valid_name(&args.publisher) {
        bail!(
            "invalid publisher name {:?}: use a-z, 0-9, '.', '_' and '-'",
            args.publisher
        );
    }
    let dir = args.store.regions()?;
    let store = args.store.open()?;
    // The import keeps the keyword index current; offline, it commits every 100,000 changes
    // and at the end rather than per chunk (nobody searches meanwhile: the directory is held).
    crate::app::open_search(&store, &args.store.data_dir, args.search.search_index_mb)?;
    store.set_search_bulk(true)?;
    let (reader, total): (Box<dyn std::io::Read>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len)
    };
    let bar = match total {
        Some(len) => indicatif::ProgressBar::new(len),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = import::import(
        &store,
        &dir,
        &args.publisher,
        BufReader::with_capacity(1 << 16, reader),
        |n| bar.set_position(n),
    )?;
    store.set_search_bulk(false)?;
    bar.finish_and_clear();
    println!(
        "imported {} (created {}, updated {}), rejected {}",
        report.created + report.updated,
        report.created,
        report.updated,
        report.rejected.len()
    );
    for (line, errors) in &report.rejected {
        println!("  line {line}: {}", crate::http::response::summarize(errors));
    }
    Ok(())
}

fn publisher(cmd: PublisherCommand) -> Result<()> {
    match cmd {
        PublisherCommand::Add {
            data_dir,
            region_file,
            name,
            regions,
            syndicate,
        } => {
            let store = StoreArgs {
                data_dir,
                regions_file: region_file,
            };
            let regions = auth::parse_regions(regions.as_deref().unwrap_or(""), &store.regions()?)?;
            let (publisher, token) = auth::add(&store.open()?, &name, regions, syndicate)?;
            println!("{token}");
            eprintln!(
                "publisher {} accredited for {}; the token above is shown only once",
                publisher.name,
                region_list(&publisher.regions)
            );
        }
        PublisherCommand::List { store } => {
            for p in auth::list(&store.open()?)? {
                let state = match p.revoked_at {
                    Some(t) => format!("revoked {}", t.to_rfc3339()),
                    None => "active".to_string(),
                };
                println!(
                    "{}\t{}\t{}\tsince {}",
                    p.name,
                    state,
                    region_list(&p.regions),
                    p.created_at.to_rfc3339()
                );
            }
        }
        PublisherCommand::Revoke { store, name } => {
            let p = auth::revoke(&store.open()?, &name)?;
            println!("publisher {} revoked; its articles stay", p.name);
        }
    }
    Ok(())
}

fn region_list(regions: &Option<Vec<crate::regions::RegionCode>>) -> String {
    match regions {
        None => "all regions".to_string(),
        Some(list) => list.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
    }
}

fn check(args: CheckArgs) -> Result<()> {
    let dir = args.store.regions()?;
    let store = args.store.open()?;
    let problems = store.check(&dir)?;
    if problems.is_empty() {
        println!("ok: {} articles, every index agrees", store.article_count());
        return Ok(());
    }
    for p in &problems {
        println!("{p}");
    }
    bail!(
        "{} problem(s) found in {}",
        problems.len(),
        args.store.data_dir.display()
    )
}

fn reindex(args: ReindexArgs) -> Result<()> {
    let store = args.store.open()?;
    let dir = args.store.data_dir.join(crate::store::search::DIR_NAME);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let started = std::time::Instant::now();
    crate::app::open_search(&store, &args.store.data_dir, args.search.search_index_mb)?;
    println!(
        "indexed {} articles in {:.1} s; the index takes {:.1} MiB in {}",
        store.article_count(),
        started.elapsed().as_secs_f64(),
        crate::store::search::SearchIndex::disk_bytes(&args.store.data_dir) as f64 / (1 << 20) as f64,
        dir.display()
    );
    Ok(())
}
