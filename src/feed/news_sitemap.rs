//! Google News sitemap (`/sitemap-news.xml`): how Google News finds the portal's fresh articles.
//!
//! Why: Google News no longer reads publisher RSS; it discovers articles through a sitemap with
//! the news extension (namespace `http://www.google.com/schemas/sitemap-news/0.9`). Checked
//! against Google Search Central's "Google News sitemaps" page (as stored by the search tool):
//! - only articles published in the last two days, at most 1,000 URLs ([`MAX_URLS`]); more
//!   recent articles than that would need several sitemaps, which lenta does not make: the newest
//!   1,000 are listed;
//! - per `url`: `loc`, then `news:news` with `news:publication` (`news:name`, exactly the name
//!   registered in Google Publisher Center, here the portal name; `news:language`, an ISO 639
//!   code, `ru`), `news:publication_date` (W3C datetime) and `news:title`;
//! - it is an ordinary sitemap otherwise (sitemaps.org protocol: escaping, `urlset` namespace).
//!
//! Not verified from a primary document: whether Google still accepts a `urlset` with no `url`
//! (the issue says an empty news sitemap is valid; the sitemaps.org schema requires one `url`).
//! lenta serves the empty `urlset` rather than an error, so that the URL registered in Search
//! Console never answers 404 on a quiet weekend.
//!
//! The window is relative to the request, so which articles are listed is decided by the caller
//! (see `crate::http::sitemaps`); this renderer only writes the entries it is given.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, SecondsFormat};

use super::sitemap::escape;
use super::LANGUAGE;

/// Most URLs in a news sitemap (Google News sitemaps guidelines).
pub const MAX_URLS: usize = 1_000;

/// The news extension's namespace.
pub const NEWS_NS: &str = "http://www.google.com/schemas/sitemap-news/0.9";

/// An article as the news sitemap lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewsEntry {
    /// Absolute URL of the article page.
    pub loc: String,
    /// Title.
    pub title: String,
    /// When it was first published, in the offset it was published with.
    pub published_at: DateTime<FixedOffset>,
}

/// The news sitemap of `entries` (at most [`MAX_URLS`] are written) for the publication
/// `publication` (the name registered with Google News).
pub fn render(publication: &str, entries: &[NewsEntry]) -> Vec<u8> {
    let name = escape(publication);
    let mut out = String::with_capacity(256 + entries.len() * 400);
    out.push_str(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"{}\" xmlns:news=\"{NEWS_NS}\">\n",
        super::sitemap::NS
    ));
    for e in entries.iter().take(MAX_URLS) {
        let _ = writeln!(
            out,
            "  <url><loc>{}</loc><news:news><news:publication><news:name>{name}</news:name>\
             <news:language>{LANGUAGE}</news:language></news:publication>\
             <news:publication_date>{}</news:publication_date><news:title>{}</news:title>\
             </news:news></url>",
            escape(&e.loc),
            e.published_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            escape(&e.title),
        );
    }
    out.push_str("</urlset>\n");
    out.into_bytes()
}
