//! Atom 1.0 (RFC 4287).
//!
//! RFC 4287 rules this follows: the feed has an `author` (§4.1.1: required unless every entry
//! has one) and `updated`; each entry has a permanent `id` (§4.2.6: a tag URI here, unchanged by
//! edits or a move of host), `updated` and `published` with the article's own offset (`updated`
//! is when the content last changed as the publisher sees it, §4.2.15 "the most recent instant
//! in time when an entry … was modified in a way the publisher considers significant": the
//! article's `modified_at`, never the time lenta stored it), an
//! `alternate` link, `summary` as text and `content` as HTML. The lead image is a
//! `rel="enclosure"` link (§4.2.7.2) with its `length` when known (§4.2.7.6 makes it advisory,
//! so it is left out rather than written as 0). Each entry's author is an `author` with a `name`
//! (§3.2.1). Each source with a URL is a `rel="via"` link titled with its name (§4.2.7.2: "via"
//! is the source of the information in the entry); every source is also credited in the content
//! ([`super::attribution`]), since readers do not show links. The feed's `icon` is the square icon
//! (§4.2.5: SHOULD be square) and its `logo` the wide logo (§4.2.8: SHOULD be twice as wide as
//! tall). Paging links follow RFC 5005.

use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig};
use chrono::SubsecRound;

use super::xml::owned;
use super::{FeedDoc, Item, RenderError, LANGUAGE};

/// The scheme of region categories (term = code, label = name).
const REGION_SCHEME: &str = "urn:lenta:region";

/// Renders `doc` as Atom 1.0.
pub fn render(doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    let feed = Feed {
        title: Text::plain(owned(&doc.title)),
        id: owned(&doc.id),
        updated: doc.updated,
        authors: vec![Person {
            name: owned(&doc.title),
            ..Default::default()
        }],
        generator: Some(Generator {
            value: "lenta".into(),
            ..Default::default()
        }),
        links: links(doc),
        subtitle: Some(Text::plain(owned(&doc.description))),
        entries: doc.items.iter().map(entry).collect(),
        lang: Some(LANGUAGE.to_string()),
        icon: Some(doc.branding.icon_url.clone()),
        logo: Some(doc.branding.logo_url.clone()),
        ..Default::default()
    };
    // The writer emits the XML declaration itself.
    let out = Vec::with_capacity(1024 + doc.items.len() * 2048);
    feed.write_to(out).map_err(|e| RenderError {
        format: "Atom",
        reason: e.to_string(),
    })
}

/// The bytes `item` adds to a document of [`render`]'s: its `<entry>` element.
///
/// The crate writes an entry on its own as a document of its own, whose root declares the Atom
/// namespace; inside a feed the entry inherits it, and that declaration is the only difference.
/// So this writes the entry alone and drops the declaration, which costs a fifth less than
/// cutting the entry out of a [`render`]ed feed ([`super::stitch`]'s tests compare the bytes).
pub(super) fn entry_bytes(item: &Item) -> Result<Vec<u8>, RenderError> {
    const STANDALONE: &[u8] = b"<entry xmlns=\"http://www.w3.org/2005/Atom\">";
    const INSIDE: &[u8] = b"<entry>";
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: None,
    };
    let mut out = entry(item)
        .write_with_config(Vec::with_capacity(2048), config)
        .map_err(|e| RenderError {
            format: "Atom",
            reason: e.to_string(),
        })?;
    if !out.starts_with(STANDALONE) {
        return Err(RenderError {
            format: "Atom",
            reason: "an entry written alone does not open with the namespace declaration".to_string(),
        });
    }
    out.splice(..STANDALONE.len(), INSIDE.iter().copied());
    Ok(out)
}

fn link(rel: &str, href: &str, mime: Option<&str>) -> Link {
    Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        ..Default::default()
    }
}

fn links(doc: &FeedDoc) -> Vec<Link> {
    let atom = Some("application/atom+xml");
    let mut links = vec![
        link("self", &doc.self_url, atom),
        link("alternate", &doc.html_url, Some("text/html")),
    ];
    links.extend(doc.first_url.iter().map(|u| link("first", u, atom)));
    links.extend(doc.next_url.iter().map(|u| link("next", u, atom)));
    links.extend(doc.previous_url.iter().map(|u| link("previous", u, atom)));
    links.extend(doc.hub_url.iter().map(|u| link("hub", u, None)));
    links
}

fn entry(item: &Item) -> Entry {
    let a = item.article;
    let mut links = vec![link("alternate", &item.url, Some("text/html"))];
    if let Some(img) = &a.image {
        links.push(Link {
            length: img.length.map(|l| l.to_string()),
            ..link("enclosure", &img.url, Some(&owned(&img.mime_type)))
        });
    }
    links.extend(a.sources.iter().filter_map(|s| {
        Some(Link {
            title: Some(owned(&s.name)),
            ..link("via", s.url.as_deref()?, None)
        })
    }));
    let mut categories: Vec<Category> = item
        .region_names
        .iter()
        .map(|(code, name)| Category {
            term: code.to_string(),
            scheme: Some(REGION_SCHEME.to_string()),
            label: Some(owned(name)),
        })
        .collect();
    categories.extend(a.categories.iter().map(|c| Category {
        term: owned(c),
        scheme: None,
        label: None,
    }));
    Entry {
        title: Text::plain(owned(&a.title)),
        id: item.id.clone(),
        updated: a.modified().trunc_subsecs(0),
        published: Some(a.published_at),
        authors: a
            .author
            .iter()
            .map(|n| Person {
                name: owned(n),
                ..Default::default()
            })
            .collect(),
        categories,
        links,
        summary: a.summary.as_deref().map(|s| Text::plain(owned(s))),
        content: item.content_html.as_deref().map(|html| Content {
            value: Some(owned(html)),
            content_type: Some("html".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
