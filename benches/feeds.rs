//! Criterion benchmarks of the feed read path: `cargo bench --bench feeds`.
//!
//! DESIGN.md promises that a feed page is a bounded reverse range scan, so that its cost grows
//! with `limit` and not with the size of the store. These benchmarks are the evidence:
//!
//! - `render/article_page`: one article page (`/articles/{id}`) read and rendered as a cache miss.
//! - `render/{rss,atom,json}`: a 50-item feed document built and rendered from a page read out of
//!   a small store of generated articles (the renderers alone, no store access).
//! - `render/decode` and `render/item_{rss,atom,json}`: what a cache-missing page pays for each
//!   item it has not rendered before: one stored article decoded, one item's bytes rendered
//!   ([`feed::item_bytes`], which [`feed::stitch`] caches).
//! - `query/{one_region,two_regions,one_region_date_range,all_regions}/{N}`: one 50-item page
//!   read with [`App::read_page`] from stores of N = 100,000 and 1,000,000 generated articles.
//!   The two sizes should cost about the same.
//! - `query_limit/{N}/{limit}`: the one-region query at several page sizes; this is what the
//!   cost does follow.
//! - `full_render/{format}/{N}`: read plus render, exactly the cache-miss path of a feed request
//!   ([`lenta::http::feeds::render`]).
//! - `search/{common_word,rare_word,phrase}[_region]/{N}`: a 50-item keyword feed page (`q=`,
//!   see [`SEARCHES`]) read with [`App::read_page`]: the search index gives the page's ids in
//!   feed order, sled the articles. The index is built from the store on the first open
//!   (`lenta reindex` times that build on its own). A rare word may not fill a page.
//! - `popular/{period}/{N}`: one most-read ranking (`sort=popular`, 50 items, all regions) as a
//!   refresh computes it ([`lenta::popular::rank`]), its window ending at the store's newest
//!   article; its cost follows the articles in the window (capped by `--popular-candidates`).
//!
//! The large stores are built with the same generator and importer as `lenta gen | lenta import`
//! and kept under `target/bench-stores/{N}` (reused while their article count matches), because
//! building the million-article store takes long and a few GB of disk. They are built lazily, the
//! first time a benchmark that needs them runs, so `cargo bench --bench feeds -- '^render/'` needs
//! no big store at all (criterion's filter is a regex over the benchmark ids). All reads here are
//! warm: after criterion's warm-up the pages a query touches are in sled's page cache, as they
//! are for a busy feed.
//!
//! Only the article count is checked on reuse: after a change to the on-disk layout of the store
//! (`src/store`), delete `target/bench-stores` so the stores are rebuilt. Every benchmark checks
//! once that its query fills a whole page, so a stale or empty store fails loudly instead of
//! timing an empty scan.

use std::cell::OnceCell;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lenta::app::App;
use lenta::config::Settings;
use lenta::feed::{self, FeedDoc, Format, Page};
use lenta::gen::{write_portal_corpus, GenOptions};
use lenta::http::feeds;
use lenta::import;
use lenta::popular;
use lenta::query::{FeedQuery, Sort};

/// The fixture file shipped with the project; its `seed_like_article` opens every corpus, as in
/// `lenta gen`.
/// Seed of every generated corpus (`lenta gen`'s default), so a store is the same on any machine.
const SEED: u64 = 1;
/// Publisher owning the imported articles (`lenta import`'s usual one).
const PUBLISHER: &str = "portal";
/// Store sizes compared by the query benchmarks.
const SIZES: [usize; 2] = [100_000, 1_000_000];
/// Articles in the small store the renderer benchmarks read their page from.
const RENDER_STORE_ARTICLES: usize = 2_000;
/// Page sizes of the `query_limit` group (50 is the default feed size, 500 the maximum).
const LIMITS: [usize; 4] = [10, 50, 200, 500];

/// The feed queries compared across store sizes, as a client would write them.
const QUERIES: [(&str, &str); 4] = [
    ("one_region", "region=RU-NIZ"),
    ("two_regions", "region=RU-NIZ,RU-MOW"),
    // A year in the middle of the corpus (2022-01 .. 2026-10): the scan starts at an index seek.
    (
        "one_region_date_range",
        "region=RU-NIZ&from=2023-01-01&to=2023-12-31",
    ),
    ("all_regions", ""),
];

/// Keyword feeds (`q=`) over words of the generator's vocabulary: «работы» is in most generated
/// articles (and «работ», «работа» share its stem), «ликвидировали» in about one in a thousand,
/// and «многодетных семей» is a phrase in about a third of them.
const SEARCHES: [(&str, &str, bool); 6] = [
    ("common_word", "q=%D1%80%D0%B0%D0%B1%D0%BE%D1%82%D1%8B", true),
    ("common_word_region", "q=%D1%80%D0%B0%D0%B1%D0%BE%D1%82%D1%8B&region=RU-NIZ", true),
    ("rare_word", "q=%D0%BB%D0%B8%D0%BA%D0%B2%D0%B8%D0%B4%D0%B8%D1%80%D0%BE%D0%B2%D0%B0%D0%BB%D0%B8", true),
    ("rare_word_region", "q=%D0%BB%D0%B8%D0%BA%D0%B2%D0%B8%D0%B4%D0%B8%D1%80%D0%BE%D0%B2%D0%B0%D0%BB%D0%B8&region=RU-NIZ", false),
    ("phrase", "q=%22%D0%BC%D0%BD%D0%BE%D0%B3%D0%BE%D0%B4%D0%B5%D1%82%D0%BD%D1%8B%D1%85+%D1%81%D0%B5%D0%BC%D0%B5%D0%B9%22", true),
    ("phrase_region", "q=%22%D0%BC%D0%BD%D0%BE%D0%B3%D0%BE%D0%B4%D0%B5%D1%82%D0%BD%D1%8B%D1%85+%D1%81%D0%B5%D0%BC%D0%B5%D0%B9%22&region=RU-NIZ", true),
];

/// Settings as `lenta serve` would have them (default caches), on a store in `dir`.
fn settings(dir: &Path) -> Settings {
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut settings = Settings::new(addr, dir.to_path_buf());
    settings.base_url = "https://news.example.ru".to_string();
    settings
}

/// Parses `raw` the way a feed request would be parsed.
fn query(app: &App, raw: &str) -> FeedQuery {
    FeedQuery::parse(Some(raw), None, app.query_context())
        .unwrap_or_else(|e| panic!("bad bench query {raw:?}: {e:?}"))
}

/// Writes `lenta gen --articles {articles} --seed {SEED}` to `out`.
fn generate(app: &App, articles: usize, out: &mut impl Write) {
    write_portal_corpus(&GenOptions { articles, seed: SEED }, &app.regions, out).expect("generate corpus");
}

/// Imports the NDJSON file at `path` into `app`'s store, reporting progress on stderr.
fn import_file(app: &App, path: &Path, articles: usize) {
    let total = fs::metadata(path).expect("corpus file").len().max(1);
    let started = Instant::now();
    let mut next_report = 0u64;
    let reader = BufReader::with_capacity(1 << 16, File::open(path).expect("open corpus"));
    let report = import::import(&app.store, &app.regions, PUBLISHER, reader, |bytes| {
        let percent = bytes * 100 / total;
        if percent >= next_report {
            eprintln!(
                "  import {articles}: {percent:3}% after {:.0?}",
                started.elapsed()
            );
            next_report = percent + 10;
        }
    })
    .expect("import corpus");
    assert!(
        report.rejected.is_empty(),
        "generated lines were rejected: {:?}",
        &report.rejected[..1]
    );
    assert_eq!(
        report.created as usize, articles,
        "every generated line creates an article"
    );
}

/// Where the reusable benchmark stores live: `target/bench-stores`, honouring `CARGO_TARGET_DIR`.
fn stores_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench-stores")
}

/// Opens the store of `articles` generated articles, building it first when it is missing or
/// incomplete (an interrupted build leaves a smaller count and is rebuilt from scratch).
fn open_store(articles: usize) -> App {
    let dir = stores_dir().join(articles.to_string());
    let app = App::open(settings(&dir)).expect("open bench store");
    if app.store.article_count() == articles as u64 {
        eprintln!("store {}: reusing {articles} articles", dir.display());
        return app;
    }
    drop(app);
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("remove incomplete bench store");
    }
    let app = App::open(settings(&dir)).expect("create bench store");
    let corpus = stores_dir().join(format!("{articles}.ndjson"));
    let started = Instant::now();
    {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&corpus).expect("create corpus file"));
        generate(&app, articles, &mut out);
        out.flush().expect("write corpus file");
    }
    let generated = started.elapsed();
    import_file(&app, &corpus, articles);
    let imported = started.elapsed() - generated;
    fs::remove_file(&corpus).expect("remove corpus file");
    eprintln!(
        "store {}: built {articles} articles: gen {generated:.1?}, import {imported:.1?} ({:.0} articles/s)",
        dir.display(),
        articles as f64 / imported.as_secs_f64()
    );
    app
}

/// The big store of `articles` articles, opened (and built if needed) on first use.
fn big_store(articles: usize) -> &'static App {
    static STORES: [OnceLock<App>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = SIZES
        .iter()
        .position(|&n| n == articles)
        .expect("a benchmarked size");
    STORES[slot].get_or_init(|| open_store(articles))
}

/// Reads `query`, checking that the benchmark measures what it claims: a full page.
fn full_page(app: &App, query: &FeedQuery) -> Page {
    let page = app.read_page(query).expect("read page");
    assert_eq!(
        page.articles.len(),
        query.limit,
        "query {:?} must fill its page",
        query.canonical()
    );
    assert!(
        page.next.is_some(),
        "query {:?} must have an older page",
        query.canonical()
    );
    let stored: usize = page
        .articles
        .iter()
        .map(|a| serde_json::to_vec(&**a).map_or(0, |v| v.len()))
        .sum();
    eprintln!(
        "page {:?}: {} articles, {stored} bytes of article JSON",
        query.canonical(),
        page.articles.len()
    );
    page
}

/// A query on a big store, opened and checked on first use.
///
/// Criterion calls a benchmark's closure again for every warm-up and sample batch, and not at
/// all for benchmarks its filter leaves out; preparing here keeps the check out of the timings
/// and the store build out of runs that do not need it.
struct Prepared {
    articles: usize,
    raw: String,
    /// Whether the query must fill its page (a rare word need not).
    fills: bool,
    ready: OnceCell<(&'static App, FeedQuery)>,
}

impl Prepared {
    fn new(articles: usize, raw: String) -> Self {
        Prepared {
            articles,
            raw,
            fills: true,
            ready: OnceCell::new(),
        }
    }

    fn get(&self) -> (&'static App, &FeedQuery) {
        let (app, query) = self.ready.get_or_init(|| {
            let app = big_store(self.articles);
            let query = query(app, &self.raw);
            if self.fills {
                full_page(app, &query);
            } else {
                let found = app.read_page(&query).expect("read page").articles.len();
                eprintln!("page {:?}: {found} articles", query.canonical());
            }
            (app, query)
        });
        (app, query)
    }
}

fn bench_render(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = App::open(settings(dir.path())).expect("open render store");
    let mut corpus = Vec::new();
    generate(&app, RENDER_STORE_ARTICLES, &mut corpus);
    let report = import::import(&app.store, &app.regions, PUBLISHER, &corpus[..], |_| {}).expect("import");
    assert_eq!(report.created as usize, RENDER_STORE_ARTICLES);
    let query = query(&app, "");
    let page = full_page(&app, &query);
    let updated = app.visible(&query.regions).last_modified;
    let ctx = app.feed_context();

    let mut group = c.benchmark_group("render");
    for format in Format::ALL {
        let doc = FeedDoc::new(&ctx, &query, format, &page, updated);
        let bytes = feed::render(format, &doc).expect("render").len();
        eprintln!(
            "render/{}: {bytes} bytes for {} items",
            format.extension(),
            page.articles.len()
        );
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format.extension(), |b| {
            b.iter(|| {
                let doc = FeedDoc::new(&ctx, &query, format, black_box(&page), updated);
                feed::render(format, &doc).expect("render")
            })
        });
    }
    // What a cache-missing page pays per item it has not rendered before (`feed::stitch`): the
    // stored article decoded, and its item rendered in each format.
    let article = &page.articles[0];
    let stored = serde_json::to_vec(&**article).expect("encode");
    group.throughput(Throughput::Bytes(stored.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| lenta::store::decode_article(black_box(&stored)).expect("decode"))
    });
    for format in Format::ALL {
        let bytes = feed::item_bytes(&ctx, format, article).expect("item").len();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("item_{}", format.extension()), |b| {
            b.iter(|| feed::item_bytes(&ctx, format, black_box(article)).expect("item"))
        });
    }
    // The article page of the newest article (an image, sources, a month calendar), read and
    // rendered as a cache miss does.
    let id = page.articles[0].id;
    let bytes = lenta::html::article::render_page(&app, id)
        .expect("render")
        .expect("public")
        .len();
    eprintln!("render/article_page: {bytes} bytes");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("article_page", |b| {
        b.iter(|| lenta::html::article::render_page(&app, black_box(id)).expect("render"))
    });
    group.finish();
}

fn bench_queries(c: &mut Criterion) {
    let mut group = c.benchmark_group("query");
    for (name, raw) in QUERIES {
        for articles in SIZES {
            let prepared = Prepared::new(articles, raw.to_string());
            group.bench_function(BenchmarkId::new(name, articles), |b| {
                let (app, query) = prepared.get();
                b.iter(|| app.read_page(black_box(query)).expect("read page"))
            });
        }
    }
    group.finish();
}

fn bench_limits(c: &mut Criterion) {
    for articles in SIZES {
        let mut group = c.benchmark_group(format!("query_limit/{articles}"));
        for limit in LIMITS {
            group.throughput(Throughput::Elements(limit as u64));
            let prepared = Prepared::new(articles, format!("region=RU-NIZ&limit={limit}"));
            group.bench_function(BenchmarkId::from_parameter(limit), |b| {
                let (app, query) = prepared.get();
                b.iter(|| app.read_page(black_box(query)).expect("read page"))
            });
        }
        group.finish();
    }
}

fn bench_full_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("full_render");
    for format in Format::ALL {
        for articles in SIZES {
            let prepared = Prepared::new(articles, "region=RU-NIZ".to_string());
            group.bench_function(BenchmarkId::new(format.extension(), articles), |b| {
                let (app, query) = prepared.get();
                let updated = app.visible(&query.regions).last_modified;
                b.iter(|| feeds::render(app, black_box(query), format, updated, false).expect("render feed"))
            });
        }
    }
    group.finish();
}

fn bench_search(c: &mut Criterion) {
    let mut group = c.benchmark_group("search");
    for (name, raw, fills) in SEARCHES {
        for articles in SIZES {
            let prepared = Prepared {
                fills,
                ..Prepared::new(articles, raw.to_string())
            };
            group.bench_function(BenchmarkId::new(name, articles), |b| {
                let (app, query) = prepared.get();
                b.iter(|| app.read_page(black_box(query)).expect("read page"))
            });
        }
    }
    group.finish();
}

/// Periods of the `popular` group: a day, a week, the longest allowed.
const PERIODS: [&str; 3] = ["24h", "7d", "30d"];

fn bench_popular(c: &mut Criterion) {
    let mut group = c.benchmark_group("popular");
    group.sample_size(10);
    for period in PERIODS {
        for articles in SIZES {
            let ready: OnceCell<(&'static App, FeedQuery, lenta::query::Period, DateTime<Utc>)> =
                OnceCell::new();
            group.bench_function(BenchmarkId::new(period, articles), |b| {
                let (app, query, period, now) = ready.get_or_init(|| {
                    let app = big_store(articles);
                    let query = query(app, &format!("sort=popular&period={period}"));
                    let Sort::Popular(period) = query.sort else {
                        panic!("not a ranking: {query:?}");
                    };
                    // The corpus is in the past: the window ends at its newest article.
                    let newest = app.read_page(&FeedQuery {
                        limit: 1,
                        ..FeedQuery::default()
                    });
                    let now = newest.expect("read").articles[0].published_at.to_utc();
                    let candidates = app.settings.popular_candidates;
                    let ranked = popular::rank(&app.store, &query, period, now, candidates).expect("rank");
                    assert_eq!(
                        ranked.len(),
                        query.limit,
                        "the {period:?} window must fill a page"
                    );
                    (app, query, period, now)
                });
                let candidates = app.settings.popular_candidates;
                b.iter(|| {
                    popular::rank(&app.store, black_box(query), *period, *now, candidates).expect("rank")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_render,
    bench_queries,
    bench_limits,
    bench_full_render,
    bench_search,
    bench_popular
);
criterion_main!(benches);
