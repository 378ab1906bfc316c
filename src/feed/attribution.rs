//! Credits a reader sees in any format: the sources paragraph appended to an item's content.
//!
//! Russian media are expected to cite their sources («Источники: Время Н, РИА»), and the only
//! part of an item that every reader shows is its content: RSS `content:encoded`, Atom `content`,
//! JSON Feed `content_html`. Structured copies go where a format has a place for them (RSS
//! `dc:source`, Atom `link rel="via"`, JSON Feed `_lenta.sources`), but readers do not display
//! those, so the paragraph is what makes the credit visible. It is built here once, so the three
//! formats cannot disagree.

use std::borrow::Cow;

use super::rss::push_escaped;
use crate::model::{Article, Source};

/// The label before one source.
const ONE_SOURCE: &str = "Источник";
/// The label before several sources.
const SOURCES: &str = "Источники";

/// The item's content: the stored (already sanitized) body, followed by a paragraph crediting
/// the sources when there are any. An article without a body but with sources gets its lead as
/// the first paragraph, so a reader that prefers the content to the summary still shows the lead.
/// None when there is neither a body nor a source.
pub fn content_html(article: &Article) -> Option<Cow<'_, str>> {
    if article.sources.is_empty() {
        return article.content_html.as_deref().map(Cow::Borrowed);
    }
    // One allocation for the whole content: this runs for every item a cache-missing page
    // renders, and the body is most of an item's bytes.
    let body_len = article.content_html.as_ref().map_or(0, String::len);
    let mut html = String::with_capacity(body_len + 64 + 128 * article.sources.len());
    match (&article.content_html, &article.summary) {
        (Some(body), _) => html.push_str(body),
        (None, Some(lead)) => {
            html.push_str("<p>");
            push_escaped(&mut html, lead);
            html.push_str("</p>");
        }
        (None, None) => {}
    }
    push_sources_paragraph(&mut html, &article.sources);
    Some(Cow::Owned(html))
}

/// `<p>Источники: <a href="…">Время Н</a>, РИА</p>`: every name escaped, linked where a URL is
/// given (the URL escaped for an attribute).
pub fn sources_paragraph(sources: &[Source]) -> String {
    let mut html = String::new();
    push_sources_paragraph(&mut html, sources);
    html
}

/// Appends [`sources_paragraph`] to `html`.
fn push_sources_paragraph(html: &mut String, sources: &[Source]) {
    html.push_str("<p>");
    html.push_str(if sources.len() == 1 { ONE_SOURCE } else { SOURCES });
    html.push_str(": ");
    for (i, source) in sources.iter().enumerate() {
        if i > 0 {
            html.push_str(", ");
        }
        match &source.url {
            Some(url) => {
                html.push_str("<a href=\"");
                push_escaped(html, url);
                html.push_str("\">");
                push_escaped(html, &source.name);
                html.push_str("</a>");
            }
            None => push_escaped(html, &source.name),
        }
    }
    html.push_str("</p>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, url: Option<&str>) -> Source {
        Source {
            name: name.to_string(),
            url: url.map(str::to_string),
        }
    }

    #[test]
    fn names_are_escaped_and_linked_where_a_url_is_given() {
        let p = sources_paragraph(&[
            source("Время <Н>", Some("https://x.ru/?a=1&b=2")),
            source("РИА", None),
        ]);
        assert_eq!(
            p,
            "<p>Источники: <a href=\"https://x.ru/?a=1&amp;b=2\">Время &lt;Н&gt;</a>, РИА</p>"
        );
        assert_eq!(
            sources_paragraph(&[source("ТАСС", None)]),
            "<p>Источник: ТАСС</p>"
        );
    }
}
