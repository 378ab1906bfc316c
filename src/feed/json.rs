//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>).
//!
//! Items carry `content_html` when the article has a body and `content_text` otherwise (the spec
//! requires one of them). Portal-specific data (region codes, sources, views) goes in the
//! `_lenta` extension object, as §"Extensions" prescribes for custom fields; the sources are also
//! credited in `content_html` ([`super::attribution`]), because readers show no extension.
//! `date_modified` is the article's `modified_at` (when the publisher last changed it), not the
//! time lenta stored it, so a bulk import does not mark every item updated at the same second.
//!
//! The lead image is the item's `image` ("the main image for the item") and also an attachment
//! with its type and size, which readers that list attachments show. The byline is `authors`
//! (1.1; the 1.0 `author` is deprecated). The feed's `icon` is the large square icon and
//! `favicon` the small one, as §"Top-level" describes them.

use chrono::SubsecRound;
use serde::Serialize;

use super::{FeedDoc, Item, RenderError, LANGUAGE};
use crate::model::Source;

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    description: &'a str,
    icon: &'a str,
    favicon: &'a str,
    language: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    _lenta: Extension<'a>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Extension<'a> {
    regions: Vec<&'a str>,
    #[serde(skip_serializing_if = "<[Source]>::is_empty")]
    sources: &'a [Source],
    #[serde(skip_serializing_if = "Option::is_none")]
    views: Option<u64>,
}

/// Renders `doc` as JSON Feed 1.1.
pub fn render(doc: &FeedDoc) -> Result<Vec<u8>, RenderError> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &doc.title,
        home_page_url: &doc.html_url,
        feed_url: &doc.self_url,
        next_url: doc.next_url.as_deref(),
        description: &doc.description,
        icon: &doc.branding.icon_url,
        favicon: &doc.branding.favicon_url,
        language: LANGUAGE,
        hubs: doc
            .hub_url
            .iter()
            .map(|url| Hub { kind: "WebSub", url })
            .collect(),
        items: doc.items.iter().map(item).collect(),
    };
    serde_json::to_vec(&feed).map_err(|e| RenderError {
        format: "JSON Feed",
        reason: e.to_string(),
    })
}

/// The bytes `item` adds to a document of [`render`]'s: its object in `items` (compact JSON
/// puts nothing around it but the comma between two items).
pub(super) fn item_bytes(item: &Item) -> Result<Vec<u8>, RenderError> {
    serde_json::to_vec(&self::item(item)).map_err(|e| RenderError {
        format: "JSON Feed",
        reason: e.to_string(),
    })
}

fn item<'a>(item: &'a Item) -> JsonItem<'a> {
    let a = item.article;
    let mut tags: Vec<&str> = item.region_names.iter().map(|(_, name)| *name).collect();
    tags.extend(a.categories.iter().map(String::as_str));
    JsonItem {
        id: &item.id,
        url: &item.url,
        title: &a.title,
        summary: a.summary.as_deref(),
        content_html: item.content_html.as_deref(),
        content_text: match item.content_html {
            Some(_) => None,
            None => Some(a.summary.as_deref().unwrap_or(&a.title)),
        },
        image: a.image.as_ref().map(|i| i.url.as_str()),
        date_published: a.published_at.to_rfc3339(),
        date_modified: a.modified().trunc_subsecs(0).to_rfc3339(),
        authors: a.author.iter().map(|name| Author { name }).collect(),
        tags,
        attachments: a
            .image
            .iter()
            .map(|i| Attachment {
                url: &i.url,
                mime_type: &i.mime_type,
                size_in_bytes: i.length,
            })
            .collect(),
        _lenta: Extension {
            regions: a.regions.iter().map(|r| r.as_str()).collect(),
            sources: &a.sources,
            views: a.views,
        },
    }
}
