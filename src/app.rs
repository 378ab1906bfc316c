//! The state one server shares across requests: settings, regions, store, caches, counters.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::feed::stitch::ItemCache;
use crate::feed::Format;
use crate::feed::{Branding, FeedContext, Page};
use crate::http::assets::{AssetError, Assets};
use crate::http::cache::RenderCache;
use crate::http::pool::WorkPool;
use crate::http::response::Problem;
use crate::metrics::WriteKind;
use crate::metrics::{Gauges, Metrics};
use crate::popular::PopularCache;
use crate::query::{FeedQuery, QueryContext};
use crate::regions::{RegionCode, RegionDirectory, RegionFileError};
use crate::store::keys::Position;
use crate::store::search::{Filters, SearchTerms};
use crate::store::{Committed, Store, StoreError, ALL_REGIONS};
use crate::websub::Notifier;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The region file is unusable.
    #[error(transparent)]
    Regions(#[from] RegionFileError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An icon or logo file is unusable.
    #[error(transparent)]
    Assets(#[from] AssetError),
}

/// Everything a request handler can reach.
pub struct App {
    /// Resolved settings.
    pub settings: Settings,
    /// Known regions.
    pub regions: RegionDirectory,
    /// The article store.
    pub store: Store,
    /// Rendered responses.
    pub cache: RenderCache,
    /// Feed items rendered and compressed once, that cache-missing pages are stitched from.
    pub items: ItemCache,
    /// Where cache-missing renders run: bounded workers and queue (see [`crate::http::pool`]).
    pub renders: WorkPool,
    /// Counters (shared with background tasks such as the WebSub notifier).
    pub metrics: Arc<Metrics>,
    /// WebSub notifier, started with the server when a hub is configured.
    pub websub: OnceLock<Notifier>,
    /// Per-client-IP request rate limiter, when `--rate-limit` is set.
    pub rate_limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// The portal's icons (`/favicon.ico`, `/apple-touch-icon.png`, `/logo.png`).
    pub assets: Assets,
    /// Their URLs as feeds name them.
    pub branding: Branding,
    /// Digest of every setting that changes rendered bytes, mixed into every ETag so that a new
    /// base URL or time zone never reuses an old validator.
    pub render_fingerprint: String,
    /// Most-read ranking snapshots (see [`crate::popular`]).
    pub popular: PopularCache,
}

/// The change state a query can see: enough to build validators without reading an article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visible {
    /// `(region or *, generation)` of every region the query covers.
    pub generations: Vec<(String, u64)>,
    /// The latest change among them (the epoch when none was ever written).
    pub last_modified: DateTime<Utc>,
}

impl App {
    /// Loads the region directory and opens the store.
    pub fn open(settings: Settings) -> Result<Self, StartError> {
        let regions = match &settings.regions_file {
            Some(path) => RegionDirectory::from_file(path)?,
            None => RegionDirectory::builtin(),
        };
        let assets = Assets::load(settings.icon_file.as_deref(), settings.logo_file.as_deref())?;
        let store = Store::open(&settings.data_dir, settings.store_cache_bytes)?
            .with_article_cache(settings.article_cache_bytes);
        open_search(&store, &settings.data_dir, settings.search_index_mb)?;
        let render_fingerprint = fingerprint(&settings, &regions, &assets);
        Ok(App {
            cache: RenderCache::new(settings.render_cache_bytes),
            items: ItemCache::new(settings.item_cache_bytes),
            renders: WorkPool::new(settings.render_pool),
            metrics: Arc::new(Metrics::default()),
            websub: OnceLock::new(),
            rate_limiter: settings
                .rate_limit
                .and_then(NonZeroU32::new)
                .map(|per_second| RateLimiter::keyed(Quota::per_second(per_second))),
            render_fingerprint,
            popular: PopularCache::new(settings.popular_refresh, settings.popular_cache_entries),
            branding: assets.branding(&settings.base_url),
            assets,
            regions,
            store,
            settings,
        })
    }

    /// What parsing a feed query needs to know about the portal.
    pub fn query_context(&self) -> QueryContext<'_> {
        QueryContext {
            regions: &self.regions,
            tz: self.settings.tz,
        }
    }

    /// Parses a request's query string (`path_region` is the `{code}` of `/regions/{code}/…`),
    /// every problem reported as one 400.
    pub fn parse_query(&self, raw: Option<&str>, path_region: Option<&str>) -> Result<FeedQuery, Problem> {
        FeedQuery::parse(raw, path_region, self.query_context()).map_err(Problem::bad_query)
    }

    /// The portal as the feed renderers see it.
    pub fn feed_context(&self) -> FeedContext<'_> {
        FeedContext {
            base_url: &self.settings.base_url,
            portal_name: &self.settings.portal_name,
            tag_authority: &self.settings.tag_authority,
            regions: &self.regions,
            tz: self.settings.tz,
            hub: self.settings.websub_hub.as_deref(),
            branding: &self.branding,
        }
    }

    /// What a query over `regions` (empty = all) can see.
    pub fn visible(&self, regions: &[RegionCode]) -> Visible {
        visible_in(regions, |code| self.store.region_meta(code))
    }

    /// What `query` can see: for a keyword query, the regions as the search index's last commit
    /// shows them (see [`crate::store::search`]: its validators never claim a write the index
    /// does not show), otherwise as they are now ([`App::visible`]).
    pub fn visible_to(&self, query: &FeedQuery) -> Visible {
        match &query.q {
            Some(_) => match self.store.search_published() {
                Some(published) => visible_in(&query.regions, |code| published.region_meta(code)),
                None => self.visible(&query.regions),
            },
            None => self.visible(&query.regions),
        }
    }

    /// Reads one page of `query`, newest first, with the cursors of its neighbours (RFC 5005):
    /// `next` when an older page exists, `previous` when a newer one does.
    pub fn read_page(&self, query: &FeedQuery) -> Result<Page, StoreError> {
        let scan = |before: Option<Position>, after: Option<Position>, limit: usize| match &query.q {
            Some(terms) => self.search_articles(query, terms, before, after, limit),
            None => self
                .store
                .scan(&query.regions)
                .oldest(query.from.as_ref().map(|b| b.micros))
                .newest(query.to.as_ref().map(|b| b.micros))
                .before(before)
                .after(after)
                .articles(limit, |a| query.matches_category(&a.categories)),
        };
        let position = |a: &std::sync::Arc<crate::model::Article>| Position::of(&a.published_at, a.id);
        let before = query.before.map(|c| c.0);
        let after = query.after.map(|c| c.0);
        // One extra item tells whether the page in the scan's direction continues.
        let mut articles = scan(before, after, query.limit + 1)?;
        let more = articles.len() > query.limit;
        articles.truncate(query.limit);
        if after.is_some() {
            articles.reverse();
        }
        let (first, last) = (articles.first().map(position), articles.last().map(position));
        let next = match after {
            None if more => last,
            None => None,
            Some(_) => last.filter(|l| scan(Some(*l), None, 1).is_ok_and(|older| !older.is_empty())),
        };
        let previous = match after {
            Some(_) if more => first,
            Some(_) => None,
            None if before.is_none() => None,
            None => first.filter(|f| scan(None, Some(*f), 1).is_ok_and(|newer| !newer.is_empty())),
        };
        Ok(Page {
            articles,
            next,
            previous,
        })
    }

    /// Up to `limit` articles matching `terms` within `query`'s filters, in scan order (as
    /// [`crate::store::Scan::articles`]): the index gives the positions, the store the articles.
    fn search_articles(
        &self,
        query: &FeedQuery,
        terms: &SearchTerms,
        before: Option<Position>,
        after: Option<Position>,
        limit: usize,
    ) -> Result<Vec<std::sync::Arc<crate::model::Article>>, StoreError> {
        let filters = Filters {
            regions: &query.regions,
            categories: &query.categories,
            oldest: query.from.as_ref().map(|b| b.micros),
            newest: query.to.as_ref().map(|b| b.micros),
            before,
            after,
        };
        let positions = self.store.search(terms, &filters, limit)?;
        let mut articles = Vec::with_capacity(positions.len());
        for position in positions {
            // The index's last commit may predate a withdrawal: an id the store no longer has is
            // skipped like a dangling feed index entry (the next commit drops it).
            if let Some(article) = self.store.get_shared(position.id)? {
                articles.push(article);
            }
        }
        Ok(articles)
    }

    /// Everything that follows a durable write: counting it, and pinging the WebSub hub for
    /// every feed whose content it changed (the all-regions feed and each region it touched, in
    /// every format), and for the feeds of every scheduled article its batch (or an earlier one)
    /// released.
    pub fn committed(&self, committed: &Committed) {
        self.committed_all(std::slice::from_ref(committed));
    }

    /// [`App::committed`] for many writes at once (a batch): each is counted, and the hub gets one
    /// notification for the union of the feeds they changed rather than one per article, which
    /// would overflow the notifier's queue. With no writes, it announces releases only (the
    /// release task's empty batches, see [`crate::http::release`]).
    pub fn committed_all(&self, all: &[Committed]) {
        let mut touched = std::collections::BTreeSet::new();
        let mut changed = false;
        for committed in all {
            self.metrics.write(match committed {
                Committed::Created(_) => WriteKind::Created,
                Committed::Updated { .. } => WriteKind::Updated,
                Committed::Deleted(_) => WriteKind::Deleted,
                Committed::Unchanged(_) => continue,
            });
            if let Some(regions) = committed.touched_regions(|a| self.store.is_scheduled(a)) {
                touched.extend(regions);
                changed = true;
            }
        }
        for released in self.store.take_released() {
            touched.extend(released.regions);
            changed = true;
        }
        if !changed {
            return;
        }
        if let Some(notifier) = self.websub.get() {
            let ctx = self.feed_context();
            let mut queries = vec![FeedQuery::default()];
            queries.extend(touched.into_iter().map(|r| FeedQuery {
                regions: vec![r],
                ..FeedQuery::default()
            }));
            let topics = queries
                .iter()
                .flat_map(|q| Format::ALL.map(|f| ctx.feed_url(q, f)))
                .collect();
            notifier.notify(topics);
        }
    }

    /// Current gauge values for `/metrics`.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            articles: self.store.article_count(),
            cache_bytes: self.cache.weight(),
            cache_entries: self.cache.len() as u64,
            renders_running: self.renders.running() as u64,
            renders_waiting: self.renders.waiting() as u64,
            article_cache_bytes: self.store.article_cache_bytes(),
            item_cache_bytes: self.items.weight(),
        }
    }
}

/// Opens `store`'s keyword index in `data_dir`, rebuilding it from the store with a progress
/// bar (drawn only on a terminal) when it is missing or behind; returns whether it rebuilt.
/// `serve`, `import` and `reindex` all open it this way.
pub fn open_search(store: &Store, data_dir: &std::path::Path, budget_mb: u64) -> Result<bool, StoreError> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] search index {wide_bar} {pos}/{len} articles",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let rebuilt = store.open_search(data_dir, budget_mb, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if rebuilt {
        tracing::info!(
            articles = store.article_count(),
            "search index rebuilt from the store"
        );
    }
    Ok(rebuilt)
}

/// The change state of `regions` (empty = all) with the metadata `meta` gives.
fn visible_in(regions: &[RegionCode], meta: impl Fn(&str) -> crate::store::RegionMeta) -> Visible {
    let codes: Vec<&str> = if regions.is_empty() {
        vec![ALL_REGIONS]
    } else {
        regions.iter().map(RegionCode::as_str).collect()
    };
    let metas: Vec<_> = codes.iter().map(|c| (c.to_string(), meta(c))).collect();
    Visible {
        last_modified: metas
            .iter()
            .map(|(_, m)| m.last_modified())
            .max()
            .unwrap_or_default(),
        generations: metas.into_iter().map(|(c, m)| (c, m.generation)).collect(),
    }
}

fn fingerprint(settings: &Settings, regions: &RegionDirectory, assets: &Assets) -> String {
    let mut h = blake3::Hasher::new();
    for part in [
        env!("CARGO_PKG_VERSION"),
        &settings.base_url,
        settings.tz.name(),
        &settings.portal_name,
        &settings.tag_authority,
        settings.websub_hub.as_deref().unwrap_or(""),
        // The compressed bytes depend on the backend and its levels: a change of either must
        // not reuse a strong validator of other bytes (RFC 9110 §8.8.3).
        &crate::http::encoding::describe(&settings.compression),
        // Feeds name the icons by versioned URLs: new files, new bytes.
        assets.digest(),
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    for r in regions.iter() {
        h.update(format!("{}\t{}\0", r.code, r.name_ru).as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}
