//! RSS 2.0 (<https://www.rssboard.org/rss-specification>) with the content, Dublin Core and Atom
//! extensions.
//!
//! Choices that readers depend on:
//! - `guid` is the article's tag URI with `isPermaLink="false"`: it is not a URL, and it does not
//!   change when the title, host or scheme does.
//! - dates are RFC 822 (as RFC 2822) with the article's own numeric offset, never "UTC".
//! - `description` is the plain-text lead, HTML-escaped, because readers treat `description` as
//!   HTML; the full body goes in `content:encoded`.
//! - at most one `enclosure` per item (the lead image), as the RSS Advisory Board recommends.

use std::collections::BTreeMap;

use atom_syndication::Link;
use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item as RssItem};

use super::xml::owned;
use super::{FeedDoc, Item, RenderError, LANGUAGE};

/// The `domain` of region categories, so a reader can tell them from topic categories.
const REGION_DOMAIN: &str = "urn:lenta:region";

/// Renders `doc` as RSS 2.0.
pub fn render(doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), rss::extension::atom::NAMESPACE.to_string());
    let channel = Channel {
        title: owned(&doc.title),
        link: doc.html_url.clone(),
        description: owned(&doc.description),
        language: Some(LANGUAGE.to_string()),
        last_build_date: Some(doc.updated.to_rfc2822()),
        generator: Some("lenta".to_string()),
        atom_ext: Some(AtomExtension { links: links(doc) }),
        items: doc.items.iter().map(item).collect(),
        namespaces,
        ..Default::default()
    };
    // The writer emits the XML declaration itself.
    let out = Vec::with_capacity(1024 + doc.items.len() * 2048);
    channel.write_to(out).map_err(|e| RenderError {
        format: "RSS",
        reason: e.to_string(),
    })
}

fn links(doc: &FeedDoc) -> Vec<Link> {
    let link = |rel: &str, href: &str| Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: (rel != "hub").then(|| "application/rss+xml".to_string()),
        ..Default::default()
    };
    let mut links = vec![link("self", &doc.self_url)];
    links.extend(doc.first_url.iter().map(|u| link("first", u)));
    links.extend(doc.next_url.iter().map(|u| link("next", u)));
    links.extend(doc.previous_url.iter().map(|u| link("previous", u)));
    links.extend(doc.hub_url.iter().map(|u| link("hub", u)));
    links
}

fn item(item: &Item) -> RssItem {
    let a = item.article;
    let mut categories: Vec<Category> = item
        .region_names
        .iter()
        .map(|(_, name)| Category {
            name: owned(name),
            domain: Some(REGION_DOMAIN.to_string()),
        })
        .collect();
    categories.extend(a.categories.iter().map(|c| Category {
        name: owned(c),
        domain: None,
    }));
    RssItem {
        title: Some(owned(&a.title)),
        link: Some(item.url.clone()),
        description: a.summary.as_deref().map(|s| owned(&escape_html(s))),
        content: a.content_html.as_deref().map(owned),
        pub_date: Some(a.published_at.to_rfc2822()),
        guid: Some(Guid {
            value: item.id.clone(),
            permalink: false,
        }),
        categories,
        enclosure: a.image.as_ref().map(|img| Enclosure {
            url: img.url.clone(),
            length: img.length.unwrap_or(0).to_string(),
            mime_type: owned(&img.mime_type),
        }),
        dublin_core_ext: a.author.as_deref().map(|author| DublinCoreExtension {
            creators: vec![owned(author)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Escapes text for an HTML context (`&`, `<`, `>`, quotes).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
