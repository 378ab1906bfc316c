//! RSS 2.0 (<https://www.rssboard.org/rss-specification>) with the content, Dublin Core and Atom
//! extensions.
//!
//! Choices that readers depend on:
//! - `guid` is the article's tag URI with `isPermaLink="false"`: it is not a URL, and it does not
//!   change when the title, host or scheme does.
//! - dates are RFC 822 (as RFC 2822) with the article's own numeric offset, never "UTC".
//! - `description` is the plain-text lead, HTML-escaped, because readers treat `description` as
//!   HTML; the full body goes in `content:encoded`.
//! - at most one `enclosure` per item (the lead image), as the RSS Advisory Board recommends,
//!   with `length` 0 when the size is unknown (the RSS Best Practices Profile allows that; the
//!   attribute itself is required). The same image is Media RSS `media:content` (`medium="image"`)
//!   and `media:thumbnail`, which readers such as Miniflux pick before the enclosure.
//! - the author is `dc:creator`: RSS `author` must be an e-mail address, which bylines are not.
//! - sources are `dc:source`, one per source, and a paragraph appended to `content:encoded`
//!   ([`super::attribution`]). RSS's own `<source url>` is single-valued and names "the RSS channel
//!   that the item came from" (RSS 2.0, `<source>` sub-element), with its feed URL required; a news
//!   agency credited by name is not that.
//! - the channel `image` is the portal's logo, with the channel's title and link, as RSS 2.0 asks
//!   and its width and height when they are within RSS 2.0's limits (144 wide, 400 high).

use std::collections::BTreeMap;

use atom_syndication::Link;
use rss::extension::atom::AtomExtension;
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Image as RssImage, Item as RssItem};

use super::xml::owned;
use super::{FeedDoc, Item, RenderError, LANGUAGE};
use crate::model::Article;

/// The `domain` of region categories, so a reader can tell them from topic categories.
const REGION_DOMAIN: &str = "urn:lenta:region";

/// The Media RSS namespace (<https://www.rssboard.org/media-rss>).
pub const MEDIA_NAMESPACE: &str = "http://search.yahoo.com/mrss/";

/// The RSS content module (<https://web.resource.org/rss/1.0/modules/content/>).
const CONTENT_NAMESPACE: &str = "http://purl.org/rss/1.0/modules/content/";

/// Renders `doc` as RSS 2.0.
pub fn render(doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    let channel = Channel {
        image: Some(RssImage {
            url: doc.branding.logo_url.clone(),
            title: owned(&doc.title),
            link: doc.html_url.clone(),
            width: doc.branding.rss_logo_size.map(|(w, _)| w.to_string()),
            height: doc.branding.rss_logo_size.map(|(_, h)| h.to_string()),
            ..Default::default()
        }),
        atom_ext: Some(AtomExtension { links: links(doc) }),
        items: doc.items.iter().map(item).collect(),
        namespaces: namespaces(),
        ..channel(doc)
    };
    write(&channel, "RSS", 2048)
}

/// Every namespace an item may use, declared whether or not this page's items use it: the
/// writer would otherwise declare `content` and `dc` only when some item has them, and a page
/// stitched from items rendered alone ([`super::stitch`]) must open with the same `<rss>` tag
/// whatever its items.
fn namespaces() -> BTreeMap<String, String> {
    [
        ("atom", rss::extension::atom::NAMESPACE),
        ("content", CONTENT_NAMESPACE),
        ("dc", rss::extension::dublincore::NAMESPACE),
        ("media", MEDIA_NAMESPACE),
    ]
    .into_iter()
    .map(|(prefix, uri)| (prefix.to_string(), uri.to_string()))
    .collect()
}

/// The channel elements every RSS document of lenta's carries (the Yandex feed too): title,
/// link, description, language, `lastBuildDate`, generator.
pub(super) fn channel(doc: &FeedDoc) -> Channel {
    Channel {
        title: owned(&doc.title),
        link: doc.html_url.clone(),
        description: owned(&doc.description),
        language: Some(LANGUAGE.to_string()),
        last_build_date: Some(doc.updated.to_rfc2822()),
        generator: Some("lenta".to_string()),
        ..Default::default()
    }
}

/// Writes `channel` (the writer emits the XML declaration itself), sized for items of about
/// `item_bytes`; a failure names `format`.
pub(super) fn write(
    channel: &Channel,
    format: &'static str,
    item_bytes: usize,
) -> Result<Vec<u8>, RenderError> {
    let out = Vec::with_capacity(1024 + channel.items.len() * item_bytes);
    channel.write_to(out).map_err(|e| RenderError {
        format,
        reason: e.to_string(),
    })
}

/// The bytes `item` adds to a document of [`render`]'s: its `<item>` element.
///
/// The rss crate writes an item only inside a channel, so this writes it in the emptiest one
/// (whose own elements are empty, and which puts its items last) and cuts it out. That is a
/// fifth cheaper than cutting it out of a [`render`]ed document, whose channel carries the
/// namespaces, links and dates of a page; it is the same bytes, because the writer emits an item
/// the same whatever channel it is in ([`super::stitch`] relies on that, and its tests compare).
pub(super) fn item_bytes(item: &Item) -> Result<Vec<u8>, RenderError> {
    let channel = Channel {
        items: vec![self::item(item)],
        ..Default::default()
    };
    let mut doc = write(&channel, "RSS", 2048)?;
    let start = doc.windows(6).position(|w| w == b"<item>");
    match start {
        Some(start) if doc.ends_with(TAIL) && start + TAIL.len() <= doc.len() => {
            doc.truncate(doc.len() - TAIL.len());
            doc.drain(..start);
            Ok(doc)
        }
        _ => Err(RenderError {
            format: "RSS",
            reason: "a one-item channel does not end with its item".to_string(),
        }),
    }
}

/// What follows the last item of every RSS document lenta writes.
pub(super) const TAIL: &[u8] = b"</channel></rss>";

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
        content: item.content_html.as_deref().map(owned),
        pub_date: Some(a.published_at.to_rfc2822()),
        guid: Some(guid(item)),
        categories,
        enclosure: a.image.as_ref().map(enclosure),
        dublin_core_ext: dublin_core(a),
        extensions: media(a),
        ..Default::default()
    }
}

/// The item's `guid`: its tag URI, which is not a URL (`isPermaLink="false"`).
pub(super) fn guid(item: &Item) -> Guid {
    Guid {
        value: item.id.clone(),
        permalink: false,
    }
}

/// The lead image as the item's `enclosure` (RSS requires a length: 0 when unknown).
pub(super) fn enclosure(img: &crate::model::Image) -> Enclosure {
    Enclosure {
        url: img.url.clone(),
        length: img.length.unwrap_or(0).to_string(),
        mime_type: owned(&img.mime_type),
    }
}

/// An extension element `name` (with its prefix, if any) with `attrs` and text `value`, every
/// string made XML-safe: how the Yandex and Dzen renderers write the elements the rss crate has
/// no field for.
pub(super) fn element(name: &str, attrs: &[(&str, &str)], value: Option<&str>) -> Extension {
    Extension {
        name: name.to_string(),
        value: value.map(owned),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), owned(v))).collect(),
        ..Default::default()
    }
}

/// Extension elements under `key` (the writer orders them by key, then by name; each carries its
/// own prefix), leaving out names without elements.
pub(super) fn extension_map(key: &str, elements: Vec<(&str, Vec<Extension>)>) -> ExtensionMap {
    let mut map = ExtensionMap::new();
    map.insert(
        key.to_string(),
        elements
            .into_iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(name, list)| (name.to_string(), list))
            .collect(),
    );
    map
}

/// `dc:creator` (the byline) and `dc:source` (each source: its URL when given, which is what
/// Dublin Core recommends for identifying a related resource, otherwise its name).
fn dublin_core(a: &Article) -> Option<DublinCoreExtension> {
    if a.author.is_none() && a.sources.is_empty() {
        return None;
    }
    Some(DublinCoreExtension {
        creators: a.author.iter().map(|s| owned(s)).collect(),
        sources: a
            .sources
            .iter()
            .map(|s| owned(s.url.as_deref().unwrap_or(&s.name)))
            .collect(),
        ..Default::default()
    })
}

/// Media RSS `media:content` and `media:thumbnail` for the lead image (empty without one).
fn media(a: &Article) -> ExtensionMap {
    let mut map = ExtensionMap::new();
    let Some(img) = &a.image else {
        return map;
    };
    let element = |name: &str, attrs: &[(&str, &str)]| Extension {
        name: name.to_string(),
        attrs: attrs.iter().map(|(k, v)| (k.to_string(), owned(v))).collect(),
        ..Default::default()
    };
    let length = img.length.map(|l| l.to_string());
    let mut content = vec![
        ("url", img.url.as_str()),
        ("type", &img.mime_type),
        ("medium", "image"),
    ];
    if let Some(length) = &length {
        content.push(("fileSize", length));
    }
    let mut elements = BTreeMap::new();
    elements.insert("content".to_string(), vec![element("media:content", &content)]);
    elements.insert(
        "thumbnail".to_string(),
        vec![element("media:thumbnail", &[("url", &img.url)])],
    );
    map.insert("media".to_string(), elements);
    map
}

/// Escapes text for an HTML context (`&`, `<`, `>`, quotes).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Appends `s` to `out`, escaped as [`escape_html`] does.
pub fn push_escaped(out: &mut String, s: &str) {
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
}
