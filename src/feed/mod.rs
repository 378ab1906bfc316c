//! Feed documents: what every format shows, built once, rendered three ways.
//!
//! [`FeedDoc`] holds everything format-independent (titles, links, ids, the feed-level date);
//! `rss`, `atom` and `json` only map it to their syntax. Nothing here reads the clock: the
//! feed-level date is the latest change of what the query can see, so an unchanged feed renders
//! to the same bytes every time.

pub mod atom;
pub mod attribution;
pub mod dzen;
pub mod json;
pub mod news_sitemap;
pub mod opml;
pub mod rss;
mod segment;
pub mod sitemap;
pub mod stitch;
pub mod text;
mod xml;
pub mod yandex;

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use chrono_tz::Tz;

use crate::model::Article;
use crate::query::{FeedQuery, Sort};
use crate::regions::RegionDirectory;
use crate::store::keys::Position;

pub use xml::xml_safe;

/// Language of the portal's articles (RSS `language`, Atom `xml:lang`, JSON Feed `language`).
pub const LANGUAGE: &str = "ru";

/// A feed syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0 (RFC 4287).
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    /// All formats, in the order links list them.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// From a path extension: `rss`, `atom`, `json`.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "rss" => Some(Format::Rss),
            "atom" => Some(Format::Atom),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The path extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    /// The registered media type (without parameters).
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json",
        }
    }
}

/// What feeds need to know about the portal.
#[derive(Clone, Copy)]
pub struct FeedContext<'a> {
    /// Public base URL, without a trailing slash.
    pub base_url: &'a str,
    /// Portal name, the first part of every feed title.
    pub portal_name: &'a str,
    /// The tag URI authority (RFC 4151), e.g. `lenta,2026`. Ids never contain the host, so they
    /// survive a change of domain or scheme.
    pub tag_authority: &'a str,
    /// Region names.
    pub regions: &'a RegionDirectory,
    /// Portal time zone, for feed-level dates.
    pub tz: Tz,
    /// WebSub hub, advertised with `rel="hub"` when set.
    pub hub: Option<&'a str>,
    /// Where the portal's icons are served (Atom `icon`/`logo`, JSON Feed `icon`/`favicon`, RSS
    /// `image`).
    pub branding: &'a Branding,
}

/// Absolute URLs of the portal's icons, as feeds advertise them.
///
/// Each URL carries a version (`?v=` and a digest of the file), so a reader that cached an icon
/// for a long time fetches the new one as soon as a feed names a changed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Branding {
    /// The square icon (at least 180x180): Atom `icon`, JSON Feed `icon`.
    pub icon_url: String,
    /// The small square icon (`/favicon.ico`): JSON Feed `favicon`.
    pub favicon_url: String,
    /// The wide logo: Atom `logo`, RSS `image`.
    pub logo_url: String,
    /// The logo's width and height when RSS 2.0 allows them in `image` (at most 144 wide and 400
    /// high); readers assume 88x31 when they are absent.
    pub rss_logo_size: Option<(u32, u32)>,
}

impl FeedContext<'_> {
    /// The URL of `query` in `format`.
    pub fn feed_url(&self, query: &FeedQuery, format: Format) -> String {
        with_query(
            format!("{}/feed.{}", self.base_url, format.extension()),
            &query.canonical(),
        )
    }

    /// The human page for the query's regions (`/regions/{code}/` for one region, `/` otherwise).
    pub fn html_url(&self, query: &FeedQuery) -> String {
        match query.regions.as_slice() {
            [one] => format!("{}/regions/{}/", self.base_url, one),
            _ => format!("{}/", self.base_url),
        }
    }

    /// The stable, host-independent id of an article.
    pub fn article_id(&self, id: u64) -> String {
        format!("tag:{}:article:{id}", self.tag_authority)
    }
}

/// Appends `?query` when `query` is not empty.
pub fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// One page of query results.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// At most `limit` articles, newest first.
    pub articles: Vec<std::sync::Arc<Article>>,
    /// The position of the last article when an older page exists.
    pub next: Option<Position>,
    /// The position of the first article when a newer page exists.
    pub previous: Option<Position>,
}

/// An item as every format shows it.
pub struct Item<'a> {
    /// The stored article.
    pub article: &'a Article,
    /// Stable id (tag URI).
    pub id: String,
    /// The article's URL.
    pub url: String,
    /// Its regions' codes and names, for categories (a code stands for the name of a region
    /// the directory no longer has).
    pub region_names: Vec<(&'a str, &'a str)>,
    /// The HTML every format shows as the item's content: the body with the sources appended
    /// (see [`attribution`]); None when the article has neither.
    pub content_html: Option<std::borrow::Cow<'a, str>>,
}

/// A feed document, independent of syntax.
pub struct FeedDoc<'a> {
    /// Feed title, naming the portal, the region(s) and the range (never the categories: see
    /// `title`).
    pub title: String,
    /// One-line description.
    pub description: String,
    /// Feed id (tag URI), the same for every page of the feed.
    pub id: String,
    /// Canonical URL of this document.
    pub self_url: String,
    /// Human page.
    pub html_url: String,
    /// Older page (RFC 5005 `next`).
    pub next_url: Option<String>,
    /// Newer page (RFC 5005 `previous`).
    pub previous_url: Option<String>,
    /// First page, on pages after the first (RFC 5005 `first`).
    pub first_url: Option<String>,
    /// WebSub hub.
    pub hub_url: Option<String>,
    /// Latest change of what the query can see.
    pub updated: DateTime<FixedOffset>,
    /// The portal's icons.
    pub branding: Branding,
    /// Items, newest first.
    pub items: Vec<Item<'a>>,
}

impl<'a> FeedDoc<'a> {
    /// Describes `page` of `query` in `format`; `updated` is the latest change the query can see.
    pub fn new(
        ctx: &FeedContext<'a>,
        query: &FeedQuery,
        format: Format,
        page: &'a Page,
        updated: DateTime<Utc>,
    ) -> Self {
        FeedDoc {
            items: page.articles.iter().map(|a| item(ctx, a)).collect(),
            ..FeedDoc::frame(ctx, query, format, page, updated)
        }
    }

    /// [`FeedDoc::new`] without the items: what [`stitch`] puts the cached items in.
    pub fn frame(
        ctx: &FeedContext,
        query: &FeedQuery,
        format: Format,
        page: &Page,
        updated: DateTime<Utc>,
    ) -> Self {
        let first = query.first_page();
        FeedDoc {
            title: feed_title(ctx, query),
            description: description(ctx, query),
            id: format!(
                "tag:{}:feed:{}",
                ctx.tag_authority,
                with_query(String::from("/"), &query.identity())
            ),
            self_url: ctx.feed_url(query, format),
            html_url: ctx.html_url(query),
            next_url: page.next.map(|last| ctx.feed_url(&query.next_page(last), format)),
            previous_url: page
                .previous
                .map(|first| ctx.feed_url(&query.previous_page(first), format)),
            first_url: query.is_paged().then(|| ctx.feed_url(&first, format)),
            hub_url: ctx.hub.map(str::to_string),
            updated: updated.trunc_subsecs(0).with_timezone(&ctx.tz).fixed_offset(),
            branding: ctx.branding.clone(),
            items: Vec::new(),
        }
    }
}

/// An article as an item of a feed.
fn item<'a>(ctx: &FeedContext<'a>, article: &'a Article) -> Item<'a> {
    Item {
        article,
        id: ctx.article_id(article.id),
        url: article.url(ctx.base_url),
        region_names: article
            .regions
            .iter()
            .map(|code| {
                let name = ctx
                    .regions
                    .get(code)
                    .map_or(code.as_str(), |r| r.name_ru.as_str());
                (code.as_str(), name)
            })
            .collect(),
        content_html: attribution::content_html(article),
    }
}

/// The feed title: the portal's name, the regions' names and the date range.
///
/// The requested categories are deliberately left out. `?category=` is free text (any reader can
/// ask for any category, existing or not), and a title printed under the portal's name must not
/// say whatever a URL's author wants it to (`?category=Официально: …`). Region names come from the
/// region directory and the range from parsed dates, so nothing else in it is the requester's
/// text. Checking categories against stored articles would need a store read for every title and
/// would still let anyone show any category an article once had; the self link names the filter.
pub fn feed_title(ctx: &FeedContext, query: &FeedQuery) -> String {
    let mut title = String::from(ctx.portal_name);
    title.push_str(": ");
    if query.regions.is_empty() {
        title.push_str("все регионы");
    } else {
        let names: Vec<&str> = query
            .regions
            .iter()
            .map(|c| {
                ctx.regions
                    .lookup(c.as_str())
                    .map_or(c.as_str(), |r| r.name_ru.as_str())
            })
            .collect();
        title.push_str(&names.join(", "));
    }
    match (&query.from, &query.to) {
        (Some(f), Some(t)) if f.text == t.text => title.push_str(&format!(", {}", f.text)),
        (Some(f), Some(t)) => title.push_str(&format!(", с {} по {}", f.text, t.text)),
        (Some(f), None) => title.push_str(&format!(", с {}", f.text)),
        (None, Some(t)) => title.push_str(&format!(", по {}", t.text)),
        (None, None) => {}
    }
    if let Sort::Popular(period) = query.sort {
        title.push_str(&format!(", самое читаемое за {}", period.label_ru()));
    }
    title
}

fn description(ctx: &FeedContext, query: &FeedQuery) -> String {
    let scope = if query.regions.is_empty() {
        "всех регионов".to_string()
    } else {
        "выбранных регионов".to_string()
    };
    format!("Новости {scope} — {}", ctx.portal_name)
}

/// Why rendering failed (the writers report I/O errors on a `Vec`, which cannot really happen).
#[derive(Debug, thiserror::Error)]
#[error("rendering the {format} feed failed: {reason}")]
pub struct RenderError {
    /// Which format.
    pub format: &'static str,
    /// The writer's message.
    pub reason: String,
}

/// The bytes `article`'s item adds to any document of [`render`]'s in `format`: every writer
/// emits the items last, one after the other, without indentation, so a page is its frame (the
/// document without items) cut before its closing tags, its items, and those tags
/// ([`stitch`]).
pub fn item_bytes(ctx: &FeedContext, format: Format, article: &Article) -> Result<Vec<u8>, RenderError> {
    let item = item(ctx, article);
    match format {
        Format::Rss => rss::item_bytes(&item),
        Format::Atom => atom::entry_bytes(&item),
        Format::Json => json::item_bytes(&item),
    }
}

/// Renders `doc` in `format` (OPML, a list of feeds rather than a feed, is [`opml::render`]).
pub fn render(format: Format, doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Rss => rss::render(doc),
        Format::Atom => atom::render(doc),
        Format::Json => json::render(doc),
    }
}
