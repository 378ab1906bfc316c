//! OPML 2.0 subscription lists (<http://opml.org/spec2.opml>): every region's feed in one file.
//!
//! A reader imports an OPML file in one step, so a portal with eighty regions does not ask its
//! readers to subscribe eighty times. This is not a feed: it lists feeds, so it takes the regions
//! to list rather than a page of articles, and reads nothing but the portal's context. Each
//! region is one `type="rss"` outline (OPML 2.0 §"Subscription lists": `type`, `text` and
//! `xmlUrl` are required; the spec uses `rss` for every feed format) with the same title, URL and
//! page the feed itself gives, so the reader's subscription matches the feed's `self` link. The
//! outlines sit in one folder named for the portal, which readers turn into a category. The
//! all-regions feed is not listed: next to every region's feed it would show each article twice.

use super::xml::xml_safe;
use super::{feed_title, FeedContext, Format, LANGUAGE};
use crate::feed::rss::escape_html;
use crate::query::FeedQuery;
use crate::regions::RegionCode;

/// The `Content-Type` of OPML.
pub const CONTENT_TYPE: &str = "text/x-opml; charset=utf-8";

/// The OPML document listing the `format` feeds of `regions` (every known region when empty), in
/// the directory's order.
pub fn render(ctx: &FeedContext, regions: &[RegionCode], format: Format) -> Vec<u8> {
    let codes: Vec<RegionCode> = if regions.is_empty() {
        ctx.regions.iter().map(|r| r.code.clone()).collect()
    } else {
        regions.to_vec()
    };
    let mut out = String::with_capacity(512 + codes.len() * 320);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    out.push_str(&format!(
        "    <title>{}: ленты регионов</title>\n",
        escape(ctx.portal_name)
    ));
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    let folder = escape(ctx.portal_name);
    out.push_str(&format!("    <outline text=\"{folder}\" title=\"{folder}\">\n"));
    for code in codes {
        let query = FeedQuery {
            regions: vec![code],
            ..FeedQuery::default()
        };
        let title = escape(&feed_title(ctx, &query));
        // OPML 2.0: `version` is "RSS" for RSS 2.0; there is no value for other formats.
        let version = match format {
            Format::Rss => " version=\"RSS\"",
            Format::Atom | Format::Json => "",
        };
        out.push_str(&format!(
            "      <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\" \
             htmlUrl=\"{}\" language=\"{LANGUAGE}\"{version}/>\n",
            escape(&ctx.feed_url(&query, format)),
            escape(&ctx.html_url(&query)),
        ));
    }
    out.push_str("    </outline>\n  </body>\n</opml>\n");
    out.into_bytes()
}

/// Text for an XML attribute or element: characters XML cannot carry dropped, markup escaped.
fn escape(s: &str) -> String {
    escape_html(&xml_safe(s))
}
