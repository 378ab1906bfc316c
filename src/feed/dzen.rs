//! Dzen RSS (`/dzen.rss`, `/regions/{code}/dzen.rss`): the one feed Dzen reads for both Dzen
//! News and the portal's Dzen channel (the separate older feeds are being switched off).
//!
//! Why a separate renderer: Dzen takes RSS 2.0 with the `content`, `media` and `yandex`
//! namespaces and rejects or misrenders what the general RSS feed carries (tables, `em`, `div`,
//! Media RSS thumbnails, Dublin Core). Per item it wants:
//! - `title`, `link`, a stable `guid` (the article's tag URI: it never changes on an edit, so an
//!   edited article is never taken for a new one), `pubDate` in RFC 822 with a numeric offset;
//! - `media:rating scheme="urn:simple"` = `nonadult`;
//! - an `enclosure` (url, type, and length when known) for the cover image and for each body
//!   image, since Dzen takes the images of a publication from its enclosures;
//! - `content:encoded` restricted to the markup Dzen renders: `p`, `a`, `b`, `i`, `u`, `s`,
//!   `h1`–`h4`, `blockquote`, `ul`/`ol`/`li`, `img`, `figure`, `figcaption`, with only `href`
//!   and `src`/`alt` kept; `em`/`strong` become `i`/`b` and `h5`/`h6` `h4`; every other element is unwrapped (its
//!   text stays) and scripts, styles, frames, embedded media and forms are dropped with their
//!   content ([`DzenHtml`], ammonia with that allow-list);
//! - `contentType`: where Dzen shows the item, `news` (Dzen News and the channel), `news_only` or
//!   `blogs_only`, one value for the whole feed (`--dzen-content-type`).
//!
//! Channel: title, link, description, language, and `yandex:logo` plus `yandex:logo
//! type="square"` (the portal's logo and icon unless configured otherwise).
//!
//! Verified, and from what: a primary Dzen page was reachable only for the card requirements
//! (dzen.ru/help/ru/requirements/card-preview.html: every publication needs a title and a cover
//! image). The unified-feed page itself (dzen.ru/help/ru/news/seamless/rss.html) was not
//! reachable through the search tool; its element list above follows the issue and two
//! maintained generators that cite that page and agree with each other: the WordPress plugins
//! "Unified RSS for Dzen"/"Zhekich Feed Generator for Dzen" (the `<contentType>` element without
//! a namespace, values `news`/`news_only`/`blogs_only`, the allowed tags, `media:rating`, the
//! square logo) and mihdan-mailru-pulse-feed's `ZenNewsFeed` (the same element and values).
//! So the content type is the plain `contentType` element, not the older Zen feed's
//! `<category>native-draft</category>` directives, which the unified format replaced. Not
//! verified from a primary page: the 2–3 day window and the 500-item cap (from the issue), and
//! the cover's minimum width (700 px, which lenta cannot check: it does not fetch images).
//!
//! The window is relative to the request; the caller chooses the articles (see
//! `crate::http::aggregators`), this renderer writes the ones it is given.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ammonia::{Builder, UrlRelative};
use rss::extension::Extension;
use rss::{Channel, Item as RssItem};
use url::Url;

use super::rss::{element, escape_html, extension_map, guid, MEDIA_NAMESPACE};
use super::xml::owned;
use super::{FeedDoc, Item, RenderError};

/// Most items in one Dzen document.
pub const MAX_ITEMS: usize = 500;

/// The Yandex namespace, which carries the channel's logos.
const YANDEX_NAMESPACE: &str = super::yandex::NAMESPACE;

/// The elements Dzen renders in `content:encoded`; every other element is unwrapped.
const ALLOWED_TAGS: [&str; 17] = [
    "p",
    "a",
    "b",
    "i",
    "u",
    "s",
    "h1",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "ul",
    "ol",
    "li",
    "img",
    "figure",
    "figcaption",
];

/// Elements dropped with everything inside them: their content is code, or media Dzen does not
/// take from the body, never text a reader should see.
const DROPPED_WITH_CONTENT: [&str; 14] = [
    "script", "style", "iframe", "noscript", "object", "embed", "video", "audio", "svg", "math", "form",
    "button", "select", "textarea",
];

/// Where Dzen shows the items of the feed (the per-item `contentType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// Dzen News and the channel.
    #[default]
    News,
    /// Dzen News only.
    NewsOnly,
    /// The channel only.
    BlogsOnly,
}

impl ContentType {
    /// Every value, in the order the flag's help lists them.
    pub const ALL: [ContentType; 3] = [ContentType::News, ContentType::NewsOnly, ContentType::BlogsOnly];

    /// The element's text.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::News => "news",
            ContentType::NewsOnly => "news_only",
            ContentType::BlogsOnly => "blogs_only",
        }
    }

    /// Parses the element's text (the `--dzen-content-type` flag).
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| format!("unknown Dzen content type {text:?}; use news, news_only or blogs_only"))
    }
}

/// What the Dzen document needs beyond the feed document.
#[derive(Clone, Copy, Debug)]
pub struct DzenOptions<'a> {
    /// Every item's `contentType`.
    pub content_type: ContentType,
    /// The channel's `yandex:logo`.
    pub logo_url: &'a str,
    /// The channel's `yandex:logo type="square"`.
    pub square_logo_url: &'a str,
}

/// Renders `doc` as Dzen RSS.
pub fn render(doc: &FeedDoc, opts: &DzenOptions) -> Result<Vec<u8>, RenderError> {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("yandex".to_string(), YANDEX_NAMESPACE.to_string());
    namespaces.insert("media".to_string(), MEDIA_NAMESPACE.to_string());
    let logos = vec![
        element("yandex:logo", &[], Some(opts.logo_url)),
        element("yandex:logo", &[("type", "square")], Some(opts.square_logo_url)),
    ];
    let channel = Channel {
        items: doc.items.iter().map(|i| item(i, opts.content_type)).collect(),
        extensions: extension_map("yandex", vec![("logo", logos)]),
        namespaces,
        ..super::rss::channel(doc)
    };
    super::rss::write(&channel, "Dzen RSS", 4096)
}

fn item(item: &Item, content_type: ContentType) -> RssItem {
    let a = item.article;
    let body = DzenHtml::clean(&content_source(item), &item.url);
    let mut enclosures: Vec<Extension> = Vec::new();
    let mut seen = HashSet::new();
    if let Some(img) = &a.image {
        seen.insert(img.url.as_str());
        enclosures.push(enclosure(&img.url, &img.mime_type, img.length));
    }
    for url in &body.images {
        if let (true, Some(mime)) = (seen.insert(url.as_str()), image_type(url)) {
            enclosures.push(enclosure(url, mime, None));
        }
    }
    let mut extensions = extension_map(
        "dzen",
        vec![
            (
                "contentType",
                vec![element("contentType", &[], Some(content_type.as_str()))],
            ),
            ("enclosure", enclosures),
        ],
    );
    extensions.extend(extension_map(
        "media",
        vec![(
            "rating",
            vec![element(
                "media:rating",
                &[("scheme", "urn:simple")],
                Some("nonadult"),
            )],
        )],
    ));
    RssItem {
        title: Some(owned(&a.title)),
        link: Some(item.url.clone()),
        description: a.summary.as_deref().map(|s| owned(&escape_html(s))),
        author: a.author.as_deref().map(owned),
        pub_date: Some(a.published_at.to_rfc2822()),
        guid: Some(guid(item)),
        content: Some(owned(&body.html)),
        extensions,
        ..Default::default()
    }
}

/// The HTML the item's `content:encoded` is made from: the body with the sources paragraph
/// (what every feed shows), else the lead, else the title, since Dzen wants a text for every
/// publication. The Yandex feed's `yandex:full-text` is this as plain text, for the same reason.
pub(super) fn content_source(item: &Item) -> String {
    match (&item.content_html, &item.article.summary) {
        (Some(html), _) => html.to_string(),
        (None, Some(lead)) => format!("<p>{}</p>", escape_html(lead)),
        (None, None) => format!("<p>{}</p>", escape_html(&item.article.title)),
    }
}

/// An item's body as Dzen takes it, with the images it shows.
#[derive(Debug, PartialEq, Eq)]
pub struct DzenHtml {
    /// The body restricted to the markup Dzen renders.
    pub html: String,
    /// The absolute URLs of its images, in document order, each once.
    pub images: Vec<String>,
}

impl DzenHtml {
    /// Restricts `html` to what Dzen renders; relative links and images are resolved against
    /// `page` (the article's URL), and images without a usable http(s) URL are dropped.
    pub fn clean(html: &str, page: &str) -> Self {
        let base = Url::parse(page).ok();
        // ammonia's filter must be 'static: it shares the list rather than borrow it.
        let found = Arc::new(Mutex::new(Vec::new()));
        let mut builder = builder(base.clone());
        let sink = Arc::clone(&found);
        builder.attribute_filter(move |element, attribute, value| {
            if (element, attribute) != ("img", "src") {
                return Some(value.into());
            }
            let absolute = resolve(base.as_ref(), value)?;
            if let Ok(mut found) = sink.lock() {
                found.push(absolute.clone());
            }
            Some(absolute.into())
        });
        let html = builder.clean(&prepare(html)).to_string();
        drop(builder);
        let mut images: Vec<String> = found
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        // The filter also sees images that are dropped afterwards (inside a dropped element, or
        // in a foreign namespace): keep those the output shows, each once.
        let mut seen = HashSet::new();
        images.retain(|url| {
            html.contains(&format!("src=\"{}\"", escape_attribute(url))) && seen.insert(url.clone())
        });
        DzenHtml { html, images }
    }
}

/// The sanitizer with Dzen's allow-list; relative `href`s are resolved against `base` (dropped
/// without one).
fn builder<'a>(base: Option<Url>) -> Builder<'a> {
    let mut builder = Builder::empty();
    builder
        .tags(ALLOWED_TAGS.into_iter().collect())
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href"])),
            ("img", HashSet::from(["src", "alt"])),
        ]))
        .generic_attributes(HashSet::new())
        .clean_content_tags(DROPPED_WITH_CONTENT.into_iter().collect())
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(None)
        .url_relative(match base {
            Some(base) => UrlRelative::RewriteWithBase(base),
            None => UrlRelative::Deny,
        });
    builder
}

/// Tags Dzen does not render but has an equivalent for: `em`/`strong` become `i`/`b`, `h5`/`h6`
/// become `h4`. The stored body is ammonia's normalized serialization, so these exact tags are how
/// it writes them without attributes, and a `<` in text is always escaped there: no text is
/// touched. (ammonia can only keep, unwrap or drop an element, not rename it.)
const RENAMED: [(&str, &str); 8] = [
    ("<em>", "<i>"),
    ("</em>", "</i>"),
    ("<strong>", "<b>"),
    ("</strong>", "</b>"),
    ("<h5>", "<h4>"),
    ("</h5>", "</h4>"),
    ("<h6>", "<h4>"),
    ("</h6>", "</h4>"),
];

/// Ends of unwrapped elements whose text would otherwise run into the next one's
/// (`<td>а</td><td>б</td>` unwrapped is `аб`): a space follows each.
const SEPARATED: [&str; 7] = [
    "</td>",
    "</th>",
    "</tr>",
    "</div>",
    "</dt>",
    "</dd>",
    "</caption>",
];

/// `html` with [`RENAMED`] applied and [`SEPARATED`] ends followed by a space.
fn prepare(html: &str) -> String {
    let mut out = html.to_string();
    for (from, to) in RENAMED {
        out = out.replace(from, to);
    }
    for end in SEPARATED {
        out = out.replace(end, &format!("{end} "));
    }
    out
}

/// `value` as an absolute http(s) URL, resolved against `base` when relative.
fn resolve(base: Option<&Url>, value: &str) -> Option<String> {
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(value).ok()?,
        Err(_) => return None,
    };
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// An attribute value as the HTML serializer writes it (`&`, no-break space and `"` escaped).
fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('\u{a0}', "&nbsp;")
        .replace('"', "&quot;")
}

/// The media type of an image URL from its file extension; None when the extension names no
/// image type Dzen takes (the image then stays in the body, without an enclosure: an enclosure
/// needs a type, and lenta does not fetch images to sniff one).
pub fn image_type(url: &str) -> Option<&'static str> {
    let url = Url::parse(url).ok()?;
    let name = url.path_segments()?.next_back()?;
    let (_, extension) = name.rsplit_once('.')?;
    match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// `<enclosure url type [length]>`, the length only when known (Dzen does not need it, and 0
/// would claim an empty file).
fn enclosure(url: &str, mime: &str, length: Option<u64>) -> Extension {
    let length = length.map(|l| l.to_string());
    let mut attrs = vec![("url", url), ("type", mime)];
    if let Some(length) = &length {
        attrs.push(("length", length));
    }
    element("enclosure", &attrs, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "https://portal.example/articles/7";

    #[test]
    fn only_dzen_markup_survives() {
        let html = "<p>Один <em>два</em> <strong>три</strong></p>\
            <table><tr><td>ячейка</td></tr></table>\
            <script>alert(1)</script><style>p{}</style>\
            <div class=\"x\" style=\"color:red\"><h5>мелкий</h5><h2 id=\"z\">Заголовок</h2></div>\
            <iframe src=\"https://video.example/\">fallback</iframe>\
            <figure><img src=\"/img/a.JPG\" alt=\"А\" width=\"10\"><figcaption>Подпись</figcaption></figure>\
            <p><a href=\"/other\" rel=\"noopener\" title=\"t\">ссылка</a> <span>текст</span></p>";
        let out = DzenHtml::clean(html, PAGE);
        assert_eq!(
            out.html,
            "<p>Один <i>два</i> <b>три</b></p>ячейка  \
             <h4>мелкий</h4><h2>Заголовок</h2> \
             <figure><img src=\"https://portal.example/img/a.JPG\" alt=\"А\"><figcaption>Подпись</figcaption></figure>\
             <p><a href=\"https://portal.example/other\">ссылка</a> текст</p>"
        );
        assert_eq!(out.images, vec!["https://portal.example/img/a.JPG"]);
    }

    #[test]
    fn images_are_absolute_http_once_and_only_those_shown() {
        let html = "<p><img src=\"https://cdn.example/a.png?x=1&amp;y=2\"></p>\
            <img src=\"https://cdn.example/a.png?x=1&amp;y=2\">\
            <img src=\"javascript:alert(1)\"><img src=\"data:image/png;base64,AAAA\">\
            <noscript><img src=\"https://cdn.example/hidden.jpg\"></noscript>\
            <img src=\"b.webp\">";
        let out = DzenHtml::clean(html, PAGE);
        assert_eq!(
            out.images,
            vec![
                "https://cdn.example/a.png?x=1&y=2",
                "https://portal.example/articles/b.webp"
            ]
        );
        assert!(!out.html.contains("javascript"), "{}", out.html);
        assert!(!out.html.contains("hidden"), "{}", out.html);
    }

    #[test]
    fn image_types_come_from_the_extension() {
        assert_eq!(image_type("https://x.example/a/b.JPEG?w=1"), Some("image/jpeg"));
        assert_eq!(image_type("https://x.example/b.png"), Some("image/png"));
        assert_eq!(image_type("https://x.example/b.webp"), Some("image/webp"));
        assert_eq!(image_type("https://x.example/b.svg"), None);
        assert_eq!(image_type("https://x.example/image"), None);
    }

    #[test]
    fn content_types_round_trip() {
        for t in ContentType::ALL {
            assert_eq!(ContentType::parse(t.as_str()), Ok(t));
        }
        assert!(ContentType::parse("blogs").unwrap_err().contains("news_only"));
    }
}
