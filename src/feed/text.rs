//! Plain text of an article body, for the aggregator fields that want the whole text without
//! markup (Yandex's `yandex:full-text`).
//!
//! The body is stored sanitized (see `crate::model`), so its markup is ammonia's normalized
//! serialization. Block ends become line breaks before the tags are dropped (ammonia with no
//! allowed tag keeps the text of every element), and the four escapes that serializer writes in
//! text (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`) are undone, so the caller escapes once for its syntax.

use std::sync::LazyLock;

/// Tags after which the text continues on a new line.
const BLOCK_ENDS: [&str; 12] = [
    "</p>",
    "<br>",
    "</li>",
    "</h1>",
    "</h2>",
    "</h3>",
    "</h4>",
    "</h5>",
    "</h6>",
    "</blockquote>",
    "</figcaption>",
    "</div>",
];

static STRIP: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.clean_content_tags(["script", "style"].into_iter().collect());
    b
});

/// The text of `html`: paragraphs on their own lines, runs of spaces collapsed, no markup.
pub fn plain_text(html: &str) -> String {
    let mut marked = html.to_string();
    for end in BLOCK_ENDS {
        marked = marked.replace(end, &format!("{end}\n"));
    }
    let text = STRIP.clean(&marked).to_string();
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_goes_text_stays_unescaped_once() {
        let html =
            "<p>Один &amp; <b>два</b> &lt;три&gt;</p><p>Второй\u{a0}абзац <a href=\"x\">ссылка</a></p>\
                    <ul><li>a</li><li>b</li></ul>";
        assert_eq!(plain_text(html), "Один & два <три>\nВторой абзац ссылка\na\nb");
    }

    #[test]
    fn literal_entity_text_is_not_decoded_twice() {
        // The author wrote "&amp;lt;" as text: the stored HTML is "&amp;amp;lt;".
        assert_eq!(plain_text("<p>&amp;lt;</p>"), "&lt;");
    }
}
