//! What feed readers show (issue 10, section 2), over HTTP against the real server: the lead
//! image as RSS enclosure + Media RSS + Atom enclosure + JSON Feed image; the byline and the
//! sources in every format; the portal's icons named by every feed and served cacheably, with
//! `--icon`/`--logo` replacing the built-in ones; and `/feeds.opml`.
//!
//! Documents are parsed strictly (roxmltree) and, for RSS and Atom, also with the independent
//! feed-rs crate, which reads Media RSS, icons and logos the way readers do. Expected values come
//! from the imported input, never from the renderers under test.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::TestServer;
use serde_json::{json, Value};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

/// The built-in files, as shipped in data/.
const DEFAULT_ICON: &[u8] = include_bytes!("../data/apple-touch-icon.png");
const DEFAULT_FAVICON: &[u8] = include_bytes!("../data/favicon.ico");
const DEFAULT_LOGO: &[u8] = include_bytes!("../data/logo.png");

/// Three articles: one with everything, one with an image of unknown size and nothing else, one
/// without a body whose only extra is a source.
fn articles() -> String {
    let full = json!({
        "external_id": "full",
        "title": "Полная статья",
        "summary": "Анонс полной статьи.",
        "content_html": "<p>Текст статьи.</p>",
        "published_at": "2024-05-17T09:00:00+03:00",
        "regions": ["RU-NIZ"],
        "author": "Анна Петрова",
        "sources": [
            {"name": "Время <Н>", "url": "https://www.vremyan.ru/news/?a=1&b=2"},
            {"name": "РИА"}
        ],
        "image": {"url": "https://news.example.ru/images/full.jpg", "type": "image/jpeg", "length": 48213}
    });
    let bare = json!({
        "external_id": "bare",
        "title": "Только картинка",
        "summary": "Анонс.",
        "published_at": "2024-05-17T08:00:00+03:00",
        "regions": ["RU-NIZ"],
        "image": {"url": "https://news.example.ru/images/bare.png", "type": "image/png"}
    });
    let lead_only = json!({
        "external_id": "lead-only",
        "title": "Без текста",
        "summary": "Только анонс & источник.",
        "published_at": "2024-05-17T07:00:00+03:00",
        "regions": ["RU-NIZ"],
        "sources": [{"name": "ТАСС"}]
    });
    format!("{full}\n{bare}\n{lead_only}\n")
}

/// The sources paragraph of `full`: names escaped, the linked one with its URL escaped.
const FULL_SOURCES: &str = "<p>Источники: <a href=\"https://www.vremyan.ru/news/?a=1&amp;b=2\">Время \
                            &lt;Н&gt;</a>, РИА</p>";

fn element<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    ns: Option<&str>,
    name: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children()
        .filter(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == ns)
        .collect()
}

fn one<'a, 'i>(node: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> roxmltree::Node<'a, 'i> {
    let found = element(node, ns, name);
    assert_eq!(found.len(), 1, "exactly one {name} in {:?}", node.tag_name());
    found[0]
}

fn text(node: roxmltree::Node, ns: Option<&str>, name: &str) -> String {
    one(node, ns, name).text().unwrap_or("").to_string()
}

async fn body(server: &TestServer, path: &str) -> String {
    let (status, body) = server.get_text(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The RSS item / Atom entry / JSON item whose title is `title`.
fn by_title<'a, 'i>(
    items: &[roxmltree::Node<'a, 'i>],
    ns: Option<&str>,
    title: &str,
) -> roxmltree::Node<'a, 'i> {
    *items
        .iter()
        .find(|i| text(**i, ns, "title") == title)
        .unwrap_or_else(|| panic!("no item {title}"))
}

#[tokio::test]
async fn images_bylines_and_sources_reach_every_format() {
    let server = TestServer::start().await;
    assert!(server.import(&articles()).rejected.is_empty());

    // RSS.
    let rss = body(&server, "/feed.rss").await;
    let doc = common::strict_xml(&rss);
    let channel = one(doc.root_element(), None, "channel");
    let items = element(channel, None, "item");
    assert_eq!(items.len(), 3);
    let full = by_title(&items, None, "Полная статья");
    let enclosure = one(full, None, "enclosure");
    assert_eq!(
        enclosure.attribute("url"),
        Some("https://news.example.ru/images/full.jpg")
    );
    assert_eq!(enclosure.attribute("length"), Some("48213"));
    assert_eq!(enclosure.attribute("type"), Some("image/jpeg"));
    let media = one(full, Some(MEDIA_NS), "content");
    assert_eq!(
        media.attribute("url"),
        Some("https://news.example.ru/images/full.jpg")
    );
    assert_eq!(media.attribute("type"), Some("image/jpeg"));
    assert_eq!(media.attribute("medium"), Some("image"));
    assert_eq!(media.attribute("fileSize"), Some("48213"));
    let thumb = one(full, Some(MEDIA_NS), "thumbnail");
    assert_eq!(
        thumb.attribute("url"),
        Some("https://news.example.ru/images/full.jpg")
    );
    assert_eq!(text(full, Some(DC_NS), "creator"), "Анна Петрова");
    let dc_sources: Vec<String> = element(full, Some(DC_NS), "source")
        .iter()
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    assert_eq!(dc_sources, ["https://www.vremyan.ru/news/?a=1&b=2", "РИА"]);
    // RSS <source> names the RSS channel an item came from; sources are not that.
    assert!(element(full, None, "source").is_empty());
    assert_eq!(
        text(full, Some(CONTENT_NS), "encoded"),
        format!("<p>Текст статьи.</p>{FULL_SOURCES}")
    );
    let bare = by_title(&items, None, "Только картинка");
    // RSS requires `length`; 0 says "unknown".
    assert_eq!(one(bare, None, "enclosure").attribute("length"), Some("0"));
    assert_eq!(one(bare, Some(MEDIA_NS), "content").attribute("fileSize"), None);
    assert!(element(bare, Some(DC_NS), "creator").is_empty());
    assert!(element(bare, Some(CONTENT_NS), "encoded").is_empty());
    let lead = by_title(&items, None, "Без текста");
    assert!(element(lead, None, "enclosure").is_empty());
    assert!(element(lead, Some(MEDIA_NS), "content").is_empty());
    assert!(element(lead, Some(MEDIA_NS), "thumbnail").is_empty());
    assert_eq!(
        text(lead, Some(CONTENT_NS), "encoded"),
        "<p>Только анонс &amp; источник.</p><p>Источник: ТАСС</p>"
    );
    // feed-rs reads the thumbnail and media content the way readers do.
    let parsed = feed_rs::parser::parse(rss.as_bytes()).expect("RSS parses");
    let entry = parsed
        .entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == "Полная статья"))
        .expect("entry");
    let thumbs: Vec<&str> = entry
        .media
        .iter()
        .flat_map(|m| m.thumbnails.iter().map(|t| t.image.uri.as_str()))
        .collect();
    assert_eq!(thumbs, ["https://news.example.ru/images/full.jpg"]);
    let sizes: Vec<Option<u64>> = entry
        .media
        .iter()
        .flat_map(|m| m.content.iter().map(|c| c.size))
        .collect();
    assert!(sizes.contains(&Some(48213)), "{sizes:?}");
    assert_eq!(
        entry.authors.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["Анна Петрова"]
    );

    // Atom.
    let atom = body(&server, "/feed.atom").await;
    let doc = common::strict_xml(&atom);
    let entries = element(doc.root_element(), Some(ATOM_NS), "entry");
    let full = by_title(&entries, Some(ATOM_NS), "Полная статья");
    let links = element(full, Some(ATOM_NS), "link");
    let rel = |rel: &str| -> Vec<roxmltree::Node> {
        links
            .iter()
            .copied()
            .filter(|l| l.attribute("rel") == Some(rel))
            .collect()
    };
    let enclosure = rel("enclosure");
    assert_eq!(enclosure.len(), 1);
    assert_eq!(
        enclosure[0].attribute("href"),
        Some("https://news.example.ru/images/full.jpg")
    );
    assert_eq!(enclosure[0].attribute("type"), Some("image/jpeg"));
    assert_eq!(enclosure[0].attribute("length"), Some("48213"));
    let via = rel("via");
    assert_eq!(via.len(), 1, "only the source with a URL is a link");
    assert_eq!(
        via[0].attribute("href"),
        Some("https://www.vremyan.ru/news/?a=1&b=2")
    );
    assert_eq!(via[0].attribute("title"), Some("Время <Н>"));
    let author = one(full, Some(ATOM_NS), "author");
    assert_eq!(text(author, Some(ATOM_NS), "name"), "Анна Петрова");
    let content = one(full, Some(ATOM_NS), "content");
    assert_eq!(content.attribute("type"), Some("html"));
    assert_eq!(
        content.text(),
        Some(format!("<p>Текст статьи.</p>{FULL_SOURCES}").as_str())
    );
    let bare = by_title(&entries, Some(ATOM_NS), "Только картинка");
    let bare_enclosure: Vec<_> = element(bare, Some(ATOM_NS), "link")
        .into_iter()
        .filter(|l| l.attribute("rel") == Some("enclosure"))
        .collect();
    // RFC 4287 §4.2.7.6: length is advisory, so an unknown one is left out.
    assert_eq!(bare_enclosure.len(), 1);
    assert_eq!(bare_enclosure[0].attribute("length"), None);
    assert!(element(bare, Some(ATOM_NS), "author").is_empty());
    let lead = by_title(&entries, Some(ATOM_NS), "Без текста");
    assert_eq!(
        one(lead, Some(ATOM_NS), "content").text(),
        Some("<p>Только анонс &amp; источник.</p><p>Источник: ТАСС</p>")
    );

    // JSON Feed.
    let json: Value = serde_json::from_str(&body(&server, "/feed.json").await).expect("JSON");
    let items = json["items"].as_array().expect("items");
    let item = |title: &str| items.iter().find(|i| i["title"] == title).expect("item").clone();
    let full = item("Полная статья");
    assert_eq!(full["image"], "https://news.example.ru/images/full.jpg");
    assert_eq!(
        full["attachments"],
        json!([{"url": "https://news.example.ru/images/full.jpg", "mime_type": "image/jpeg", "size_in_bytes": 48213}])
    );
    assert_eq!(full["authors"], json!([{"name": "Анна Петрова"}]));
    assert_eq!(
        full["_lenta"]["sources"],
        json!([{"name": "Время <Н>", "url": "https://www.vremyan.ru/news/?a=1&b=2"}, {"name": "РИА"}])
    );
    assert_eq!(
        full["content_html"],
        format!("<p>Текст статьи.</p>{FULL_SOURCES}")
    );
    let bare = item("Только картинка");
    assert_eq!(bare["image"], "https://news.example.ru/images/bare.png");
    assert!(bare.get("authors").is_none());
    assert_eq!(bare["content_text"], "Анонс.");
    let lead = item("Без текста");
    assert!(lead.get("image").is_none() && lead.get("attachments").is_none());
    assert_eq!(
        lead["content_html"],
        "<p>Только анонс &amp; источник.</p><p>Источник: ТАСС</p>"
    );
}

/// The icon URLs a feed names: (RSS image, Atom icon, Atom logo, JSON icon, JSON favicon).
async fn named_icons(server: &TestServer) -> [String; 5] {
    let rss = body(server, "/feed.rss").await;
    let doc = common::strict_xml(&rss);
    let channel = one(doc.root_element(), None, "channel");
    let image = one(channel, None, "image");
    // RSS 2.0: the image's title and link are the channel's.
    assert_eq!(text(image, None, "title"), text(channel, None, "title"));
    assert_eq!(text(image, None, "link"), text(channel, None, "link"));
    let rss_image = text(image, None, "url");
    // RSS 2.0 limits: width at most 144, height at most 400; left out when the logo exceeds them.
    let size = |name: &str| {
        element(image, None, name)
            .first()
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    let (w, h) = (size("width"), size("height"));
    assert_eq!(w.is_some(), h.is_some());
    if let (Some(w), Some(h)) = (w, h) {
        let (w, h): (u32, u32) = (w.parse().expect("width"), h.parse().expect("height"));
        assert!(w <= 144 && h <= 400, "{w}x{h}");
    }

    let atom = body(server, "/feed.atom").await;
    let parsed = feed_rs::parser::parse(atom.as_bytes()).expect("Atom parses");
    let atom_icon = parsed.icon.expect("Atom icon").uri;
    let atom_logo = parsed.logo.expect("Atom logo").uri;

    let json: Value = serde_json::from_str(&body(server, "/feed.json").await).expect("JSON");
    let json_icon = json["icon"].as_str().expect("icon").to_string();
    let json_favicon = json["favicon"].as_str().expect("favicon").to_string();
    [rss_image, atom_icon, atom_logo, json_icon, json_favicon]
}

/// Width and height of a PNG, read from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let n = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (n(16), n(20))
}

/// GETs an absolute URL; returns status, content type, ETag, Cache-Control and body.
async fn fetch(server: &TestServer, url: &str) -> (u16, String, String, String, Vec<u8>) {
    let res = server.client.get(url).send().await.expect("GET");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default()
    };
    let (status, ct, etag, cc) = (
        res.status().as_u16(),
        header("content-type"),
        header("etag"),
        header("cache-control"),
    );
    (status, ct, etag, cc, res.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn every_feed_names_the_icons_and_they_are_served_cacheably() {
    let server = TestServer::start().await;
    let [rss_image, atom_icon, atom_logo, json_icon, json_favicon] = named_icons(&server).await;
    // The square icon in Atom and JSON, the wide logo in Atom and RSS, all on this server.
    assert_eq!(atom_icon, json_icon);
    assert_eq!(rss_image, atom_logo);
    for url in [&rss_image, &atom_icon, &json_favicon] {
        assert!(url.starts_with(&server.base), "{url}");
    }
    let expect = [
        (&atom_icon, "/apple-touch-icon.png?v=", "image/png", DEFAULT_ICON),
        (&atom_logo, "/logo.png?v=", "image/png", DEFAULT_LOGO),
        (&json_favicon, "/favicon.ico?v=", "image/x-icon", DEFAULT_FAVICON),
    ];
    for (url, path, content_type, file) in expect {
        assert!(url.starts_with(&server.url(path)), "{url}");
        let (status, ct, etag, cc, bytes) = fetch(&server, url).await;
        assert_eq!((status, ct.as_str()), (200, content_type), "{url}");
        assert_eq!(bytes, file, "{url} serves the built-in file");
        assert!(etag.starts_with('"'), "{url}: strong ETag {etag:?}");
        let max_age: u64 = cc
            .split(", ")
            .find_map(|d| d.strip_prefix("max-age="))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(cc.starts_with("public") && max_age >= 86_400, "{url}: {cc}");
        // A revalidation with the tag is a 304 with no body; HEAD has the length and no body.
        let res = server
            .client
            .get(url.as_str())
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers()["etag"], etag.as_str());
        assert!(res.bytes().await.expect("body").is_empty());
        let res = server.client.head(url.as_str()).send().await.expect("HEAD");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-length"], file.len().to_string().as_str());
        assert!(res.bytes().await.expect("body").is_empty());
    }
    // The unversioned well-known paths browsers and NetNewsWire ask for.
    let (status, _, _, _, bytes) = fetch(&server, &server.url("/favicon.ico")).await;
    assert_eq!((status, bytes.as_slice()), (200, DEFAULT_FAVICON));
    assert_eq!(&bytes[..6], &[0, 0, 1, 0, 1, 0], "an ICO with one image");
    let (status, _, _, _, bytes) = fetch(&server, &server.url("/apple-touch-icon.png")).await;
    assert_eq!(status, 200);
    let (w, h) = png_size(&bytes);
    assert!(w == h && w >= 180, "apple-touch-icon is {w}x{h}");
    let (w, h) = png_size(DEFAULT_LOGO);
    assert!(
        w == 2 * h && w <= 144,
        "logo is {w}x{h}: 2:1 (RFC 4287 §4.2.8), ≤144 wide (RSS 2.0)"
    );
    let rss = body(&server, "/feed.rss").await;
    assert!(
        rss.contains("<width>144</width><height>72</height>"),
        "RSS image size"
    );
    // Icons are read-only.
    let res = server
        .client
        .post(server.url("/favicon.ico"))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
}

/// A minimal valid RGBA PNG of `w` x `h` pixels, one colour.
fn png(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    }
    let mut row = vec![0u8]; // filter type "none"
    row.extend(rgba.repeat(w as usize));
    let raw = row.repeat(h as usize);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("deflate");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z.finish().expect("deflate"));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

#[tokio::test]
async fn configured_icon_and_logo_replace_the_built_in_ones() {
    let files = tempfile::tempdir().expect("temp dir");
    let icon = png(200, 200, [0, 80, 160, 255]);
    let logo = png(120, 60, [0, 80, 160, 255]);
    let icon_path = write_file(files.path(), "icon.png", &icon);
    let logo_path = write_file(files.path(), "logo.png", &logo);
    let default = TestServer::start().await;
    let (i, l) = (icon_path.clone(), logo_path.clone());
    let server = TestServer::start_with(move |s| {
        s.icon_file = Some(i.clone());
        s.logo_file = Some(l.clone());
    })
    .await;

    let [rss_image, atom_icon, _, _, json_favicon] = named_icons(&server).await;
    assert!(body(&server, "/feed.rss")
        .await
        .contains("<width>120</width><height>60</height>"));
    let (status, _, _, _, bytes) = fetch(&server, &atom_icon).await;
    assert_eq!((status, bytes.as_slice()), (200, icon.as_slice()));
    let (status, _, _, _, bytes) = fetch(&server, &rss_image).await;
    assert_eq!((status, bytes.as_slice()), (200, logo.as_slice()));
    // The favicon is the icon in an ICO wrapper: one image, 200 px, the PNG after the directory.
    let (status, ct, _, _, ico) = fetch(&server, &json_favicon).await;
    assert_eq!((status, ct.as_str()), (200, "image/x-icon"));
    assert_eq!(&ico[..8], &[0, 0, 1, 0, 1, 0, 200, 200]);
    assert_eq!(&ico[22..], icon.as_slice());

    // New files, new URLs (so long-cached copies are not shown) and new validators.
    let version = |url: &str| url.split_once("?v=").expect("versioned").1.to_string();
    let [_, default_icon, ..] = named_icons(&default).await;
    assert_ne!(version(&atom_icon), version(&default_icon));
    let fingerprint = |icon: Option<PathBuf>| {
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings =
            lenta::config::Settings::new("127.0.0.1:9".parse().expect("addr"), data.path().join("d"));
        settings.icon_file = icon;
        lenta::app::App::open(settings).expect("open").render_fingerprint
    };
    let built_in = fingerprint(None);
    assert_eq!(
        built_in,
        fingerprint(None),
        "the fingerprint is a function of the settings"
    );
    assert_ne!(built_in, fingerprint(Some(icon_path.clone())));
    let other = write_file(files.path(), "other.png", &png(200, 200, [200, 0, 0, 255]));
    assert_ne!(fingerprint(Some(icon_path)), fingerprint(Some(other)));
}

#[test]
fn unusable_icon_or_logo_files_are_refused_at_start_naming_the_flag() {
    let files = tempfile::tempdir().expect("temp dir");
    let open = |icon: Option<PathBuf>, logo: Option<PathBuf>| {
        let data = tempfile::tempdir().expect("temp dir");
        let mut settings =
            lenta::config::Settings::new("127.0.0.1:9".parse().expect("addr"), data.path().join("d"));
        settings.icon_file = icon;
        settings.logo_file = logo;
        match lenta::app::App::open(settings) {
            Ok(_) => panic!("opened"),
            Err(e) => e.to_string(),
        }
    };
    let gif = write_file(files.path(), "icon.gif", b"GIF89a\x01\x00\x01\x00");
    let small = write_file(files.path(), "small.png", &png(64, 64, [1, 2, 3, 255]));
    let wide = write_file(files.path(), "wide.png", &png(360, 180, [1, 2, 3, 255]));
    let missing = files.path().join("missing.png");
    let cases = [
        (open(Some(gif.clone()), None), ["--icon", "not a PNG"]),
        (open(Some(small), None), ["64x64", "at least 180x180"]),
        (open(Some(wide), None), ["360x180", "square"]),
        (open(Some(missing), None), ["--icon", "cannot read"]),
        (open(None, Some(gif)), ["--logo", "not a PNG"]),
    ];
    for (message, wanted) in cases {
        for w in wanted {
            assert!(message.contains(w), "{message:?} should say {w:?}");
        }
    }
}

/// The `type="rss"` outlines of an OPML document, as (text, xmlUrl, htmlUrl), after checking
/// the document's shape.
fn outlines(body: &str) -> Vec<(String, String, String)> {
    let doc = common::strict_xml(body);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "opml");
    assert_eq!(root.attribute("version"), Some("2.0"));
    let head = one(root, None, "head");
    assert!(!text(head, None, "title").is_empty());
    let body = one(root, None, "body");
    body.descendants()
        .filter(|n| n.has_tag_name("outline") && n.attribute("type") == Some("rss"))
        .map(|n| {
            // OPML 2.0: text is required on every outline, xmlUrl on subscriptions.
            let text = n.attribute("text").expect("text").to_string();
            assert_eq!(n.attribute("title"), Some(text.as_str()));
            (
                text,
                n.attribute("xmlUrl").expect("xmlUrl").to_string(),
                n.attribute("htmlUrl").expect("htmlUrl").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn opml_lists_every_region_feed_and_each_resolves() {
    let server = TestServer::start().await;
    server.import(&articles());
    let regions: Value = serde_json::from_str(&body(&server, "/api/regions").await).expect("JSON");
    let codes: BTreeSet<String> = regions
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| r["code"].as_str().expect("code").to_string())
        .collect();

    let res = server.get("/feeds.opml").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/x-opml; charset=utf-8");
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    let all = outlines(&res.text().await.expect("body"));
    assert_eq!(all.len(), codes.len(), "one outline per region");
    let listed: BTreeSet<String> = all
        .iter()
        .map(|(_, xml, _)| {
            let code = xml.split_once("region=").expect("region query").1;
            assert_eq!(xml, &server.url(&format!("/feed.rss?region={code}")));
            code.to_string()
        })
        .collect();
    assert_eq!(listed, codes);
    // Each listed feed exists, under the title the OPML gives it, and so does its page.
    for (title, xml, html) in all
        .iter()
        .filter(|(_, xml, _)| xml.ends_with("RU-NIZ") || xml.ends_with("RU-MOW"))
    {
        let (status, ct, _, _, feed) = fetch(&server, xml).await;
        assert_eq!(
            (status, ct.as_str()),
            (200, "application/rss+xml; charset=utf-8"),
            "{xml}"
        );
        let feed = String::from_utf8(feed).expect("utf-8");
        let doc = common::strict_xml(&feed);
        assert_eq!(
            &text(one(doc.root_element(), None, "channel"), None, "title"),
            title
        );
        assert_eq!(fetch(&server, html).await.0, 200, "{html}");
    }
    // Conditional GET like the feeds.
    let res = server
        .client
        .get(server.url("/feeds.opml"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 304);

    // A chosen few, in another format.
    for (format, content_type) in [
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json"),
    ] {
        let chosen = outlines(
            &body(
                &server,
                &format!("/feeds.opml?region=RU-NIZ,RU-MOW&format={format}"),
            )
            .await,
        );
        let urls: Vec<&str> = chosen.iter().map(|(_, xml, _)| xml.as_str()).collect();
        assert_eq!(
            urls,
            [
                server.url(&format!("/feed.{format}?region=RU-MOW")),
                server.url(&format!("/feed.{format}?region=RU-NIZ"))
            ]
        );
        let (status, ct, ..) = fetch(&server, urls[1]).await;
        assert_eq!((status, ct.as_str()), (200, content_type));
    }
    let one_region = outlines(&body(&server, "/feeds.opml?region=ru-niz").await);
    assert_eq!(one_region.len(), 1);

    // Bad queries: 400 problems naming the parameter and what is allowed.
    for (query, field, allowed) in [
        ("region=XX-NOPE", "region", "/api/regions"),
        ("format=xml", "format", "rss"),
        ("format=rss&format=atom", "format", "once"),
        ("limit=5", "limit", "region, format"),
        ("region=", "region", "region code"),
    ] {
        let res = server.get(&format!("/feeds.opml?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.expect("problem");
        let errors = problem["errors"].as_array().expect("errors");
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["reason"].as_str().is_some_and(|r| r.contains(allowed))),
            "{query}: {problem}"
        );
    }
}
