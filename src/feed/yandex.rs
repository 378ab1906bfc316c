//! Yandex news RSS (`/yandex.rss`, `/regions/{code}/yandex.rss`): what Yandex search's fresh-news
//! block reads once the feed is registered in Yandex Webmaster.
//!
//! Why a separate renderer: Yandex wants RSS 2.0 with its own namespace
//! (`xmlns:yandex="http://news.yandex.ru"`) and the whole text of each article as plain text in
//! `yandex:full-text`, which the general RSS feed (HTML in `content:encoded`) does not carry.
//! Per item: `title`, `link`, `pubDate` (RFC 822 with a numeric offset, `Tue, 21 Apr 2015
//! 14:15:00 +0300`), `description` (the lead), `author` (the byline as a name: Yandex reads a
//! name here although RSS 2.0 asks for an e-mail address, and the vendor decides for its own
//! reader), `category` (regions and topics), `enclosure` for the lead image, `yandex:full-text`:
//! the text the article page shows (body and sources paragraph) as plain text, else the lead,
//! else the title. Never empty: the element is what the fresh-news block is fed from, and an
//! article stored without a body used to get an empty one, which `tests/interop/yandex.rng`
//! refuses (the same fallback as Dzen's `content:encoded`, [`super::dzen::content_source`]).
//! Channel: `yandex:logo` (the wide logo) and `yandex:logo type="square"` (the square icon).
//!
//! `yandex:genre` (optional: `message`, `article`, `interview`) comes from the article's
//! categories when one names a genre (`Интервью`, `Статья`, `Аналитика`, … in
//! `data/yandex-genres.tsv`), else from `--yandex-genre` (default `message`, a news report, which
//! is what a regional newsroom's items are; `none` leaves the element out). Why categories: the
//! article model has no genre field, and a publisher already files an interview under a category
//! of that name, so no write API or stored format changes; a field would have to be added to the
//! publishers' payloads, the store and every other format for one optional element.
//!
//! Verified with the search tool (stored copies of Yandex's pages): the Webmaster help page
//! "fresh content" (the feed is RSS registered in Yandex Webmaster; each item's URL must lead to
//! its own page with the full text, never to a list or the home page), and the Turbo RSS markup
//! page (the `yandex` namespace URI, `pubDate` in the `+0300` style, `author` as a person's
//! name). Not verified from a primary page: the exact item list of the fresh-content feed
//! (`yandex:full-text`, `yandex:logo` and its `square` variant, `yandex:genre` and its three
//! values) and the 8-day window, which follow the issue and a third-party summary (the Drupal
//! module views_rss_yandex, which writes `yandex:genre` for Yandex News feeds).
//!
//! The 8-day window is relative to the request; the caller chooses the articles (see
//! `crate::http::sitemaps`), this renderer writes the ones it is given.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use rss::{Category, Channel, Item as RssItem};

use super::rss::{element, enclosure, extension_map, guid};
use super::text::plain_text;
use super::xml::owned;
use super::{FeedDoc, Item, RenderError};

/// The Yandex namespace.
pub const NAMESPACE: &str = "http://news.yandex.ru";

/// The genre of an item (`yandex:genre`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Genre {
    /// A news report.
    Message,
    /// An article (analysis, column, feature).
    Article,
    /// An interview.
    Interview,
}

impl Genre {
    /// Every genre.
    pub const ALL: [Genre; 3] = [Genre::Message, Genre::Article, Genre::Interview];

    /// The element's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Genre::Message => "message",
            Genre::Article => "article",
            Genre::Interview => "interview",
        }
    }

    /// Parses the `--yandex-genre` flag: a genre, or `none` for no default.
    pub fn parse_default(text: &str) -> Result<Option<Self>, String> {
        if text == "none" {
            return Ok(None);
        }
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == text)
            .map(Some)
            .ok_or_else(|| format!("unknown Yandex genre {text:?}; use message, article, interview or none"))
    }
}

/// Categories that name a genre, lower-cased (`data/yandex-genres.tsv`).
static GENRE_CATEGORIES: LazyLock<HashMap<String, Genre>> = LazyLock::new(|| {
    include_str!("../../data/yandex-genres.tsv")
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (category, genre) = l.split_once('\t')?;
            let genre = Genre::parse_default(genre.trim()).ok()??;
            Some((category.trim().to_lowercase(), genre))
        })
        .collect()
});

/// The genre of an article with `categories`: the first category that names one, else `default`.
pub fn genre(categories: &[String], default: Option<Genre>) -> Option<Genre> {
    categories
        .iter()
        .find_map(|c| GENRE_CATEGORIES.get(&c.to_lowercase()).copied())
        .or(default)
}

/// Renders `doc` as Yandex news RSS; items whose categories name no genre get `default_genre`.
pub fn render(doc: &FeedDoc, default_genre: Option<Genre>) -> Result<Vec<u8>, RenderError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("yandex".to_string(), NAMESPACE.to_string());
    let logos = vec![
        element("yandex:logo", &[], Some(&doc.branding.logo_url)),
        element("yandex:logo", &[("type", "square")], Some(&doc.branding.icon_url)),
    ];
    let channel = Channel {
        items: doc.items.iter().map(|i| item(i, default_genre)).collect(),
        extensions: extension_map("yandex", vec![("logo", logos)]),
        namespaces,
        ..super::rss::channel(doc)
    };
    super::rss::write(&channel, "Yandex RSS", 4096)
}

fn item(item: &Item, default_genre: Option<Genre>) -> RssItem {
    let a = item.article;
    let categories = item
        .region_names
        .iter()
        .map(|(_, name)| *name)
        .chain(a.categories.iter().map(String::as_str))
        .map(|name| Category {
            name: owned(name),
            domain: None,
        })
        .collect();
    let full_text = plain_text(&super::dzen::content_source(item));
    RssItem {
        title: Some(owned(&a.title)),
        link: Some(item.url.clone()),
        description: a.summary.as_deref().map(owned),
        author: a.author.as_deref().map(owned),
        pub_date: Some(a.published_at.to_rfc2822()),
        guid: Some(guid(item)),
        categories,
        enclosure: a.image.as_ref().map(enclosure),
        extensions: extension_map(
            "yandex",
            vec![
                (
                    "full-text",
                    vec![element("yandex:full-text", &[], Some(&full_text))],
                ),
                (
                    "genre",
                    genre(&a.categories, default_genre)
                        .map(|g| element("yandex:genre", &[], Some(g.as_str())))
                        .into_iter()
                        .collect(),
                ),
            ],
        ),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_names_the_genre_else_the_default() {
        let cats = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            genre(&cats(&["Политика", "ИНТЕРВЬЮ"]), Some(Genre::Message)),
            Some(Genre::Interview)
        );
        assert_eq!(genre(&cats(&["Аналитика"]), None), Some(Genre::Article));
        assert_eq!(
            genre(&cats(&["Политика"]), Some(Genre::Message)),
            Some(Genre::Message)
        );
        assert_eq!(genre(&cats(&["Политика"]), None), None);
        assert_eq!(
            GENRE_CATEGORIES.len(),
            9,
            "every line of data/yandex-genres.tsv is read"
        );
        assert_eq!(Genre::parse_default("none"), Ok(None));
        assert_eq!(Genre::parse_default("article"), Ok(Some(Genre::Article)));
        assert!(Genre::parse_default("news").is_err());
    }
}
