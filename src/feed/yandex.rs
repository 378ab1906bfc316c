//! Yandex news RSS (`/yandex.rss`, `/regions/{code}/yandex.rss`): what Yandex search's fresh-news
//! block reads once the feed is registered in Yandex Webmaster.
//!
//! Why a separate renderer: Yandex wants RSS 2.0 with its own namespace
//! (`xmlns:yandex="http://news.yandex.ru"`) and the whole text of each article as plain text in
//! `yandex:full-text`, which the general RSS feed (HTML in `content:encoded`) does not carry.
//! Per item: `title`, `link`, `pubDate` (RFC 822 with a numeric offset, `Tue, 21 Apr 2015
//! 14:15:00 +0300`), `description` (the lead), `author` (the byline as a name: Yandex reads a
//! name here although RSS 2.0 asks for an e-mail address, and the vendor decides for its own
//! reader), `category` (regions and topics), `enclosure` for the lead image, `yandex:full-text`.
//! Channel: `yandex:logo` (the wide logo) and `yandex:logo type="square"` (the square icon).
//!
//! Verified with the search tool (stored copies of Yandex's pages): the Webmaster help page
//! "fresh content" (the feed is RSS registered in Yandex Webmaster; each item's URL must lead to
//! its own page with the full text, never to a list or the home page), and the Turbo RSS markup
//! page (the `yandex` namespace URI, `pubDate` in the `+0300` style, `author` as a person's
//! name). Not verified from a primary page: the exact item list of the fresh-content feed
//! (`yandex:full-text`, `yandex:logo` and its `square` variant) and the 8-day window, which follow
//! the issue and a third-party summary; `yandex:genre` (optional) is not written.
//!
//! The 8-day window is relative to the request; the caller chooses the articles (see
//! `crate::http::sitemaps`), this renderer writes the ones it is given.

use std::collections::BTreeMap;

use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Item as RssItem};

use super::rss::{enclosure, guid};
use super::text::plain_text;
use super::xml::owned;
use super::{FeedDoc, Item, RenderError};

/// The Yandex namespace.
pub const NAMESPACE: &str = "http://news.yandex.ru";

/// Renders `doc` as Yandex news RSS.
pub fn render(doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("yandex".to_string(), NAMESPACE.to_string());
    let logos = vec![
        element("yandex:logo", &[], Some(&doc.branding.logo_url)),
        element("yandex:logo", &[("type", "square")], Some(&doc.branding.icon_url)),
    ];
    let channel = Channel {
        items: doc.items.iter().map(item).collect(),
        extensions: yandex(vec![("logo", logos)]),
        namespaces,
        ..super::rss::channel(doc)
    };
    super::rss::write(&channel, "Yandex RSS", 4096)
}

fn item(item: &Item) -> RssItem {
    let a = item.article;
    let categories = item
        .region_names
        .iter()
        .map(|(_, name)| name.as_str())
        .chain(a.categories.iter().map(String::as_str))
        .map(|name| Category {
            name: owned(name),
            domain: None,
        })
        .collect();
    let full_text = a.content_html.as_deref().map(plain_text).unwrap_or_default();
    RssItem {
        title: Some(owned(&a.title)),
        link: Some(item.url.clone()),
        description: a.summary.as_deref().map(owned),
        author: a.author.as_deref().map(owned),
        pub_date: Some(a.published_at.to_rfc2822()),
        guid: Some(guid(item)),
        categories,
        enclosure: a.image.as_ref().map(enclosure),
        extensions: yandex(vec![(
            "full-text",
            vec![element("yandex:full-text", &[], Some(&full_text))],
        )]),
        ..Default::default()
    }
}

fn element(name: &str, attrs: &[(&str, &str)], value: Option<&str>) -> Extension {
    Extension {
        name: name.to_string(),
        value: value.map(owned),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), owned(v))).collect(),
        ..Default::default()
    }
}

fn yandex(elements: Vec<(&str, Vec<Extension>)>) -> ExtensionMap {
    let mut map = ExtensionMap::new();
    map.insert(
        "yandex".to_string(),
        elements
            .into_iter()
            .map(|(name, list)| (name.to_string(), list))
            .collect(),
    );
    map
}
