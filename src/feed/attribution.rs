//! Credits a reader sees in any format: the sources paragraph appended to an item's content.
//!
//! Russian media are expected to cite their sources («Источники: Время Н, РИА»), and the only
//! part of an item that every reader shows is its content: RSS `content:encoded`, Atom `content`,
//! JSON Feed `content_html`. Structured copies go where a format has a place for them (RSS
//! `dc:source`, Atom `link rel="via"`, JSON Feed `_lenta.sources`), but readers do not display
//! those, so the paragraph is what makes the credit visible. It is built here once, so the three
//! formats cannot disagree.

use std::borrow::Cow;

use super::rss::escape_html;
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
    let mut html = match (&article.content_html, &article.summary) {
        (Some(body), _) => body.clone(),
        (None, Some(lead)) => format!("<p>{}</p>", escape_html(lead)),
        (None, None) => String::new(),
    };
    html.push_str(&sources_paragraph(&article.sources));
    Some(Cow::Owned(html))
}

/// `<p>Источники: <a href="…">Время Н</a>, РИА</p>`: every name escaped, linked where a URL is
/// given (the URL escaped for an attribute).
pub fn sources_paragraph(sources: &[Source]) -> String {
    let label = if sources.len() == 1 { ONE_SOURCE } else { SOURCES };
    let names: Vec<String> = sources
        .iter()
        .map(|s| match &s.url {
            Some(url) => format!("<a href=\"{}\">{}</a>", escape_html(url), escape_html(&s.name)),
            None => escape_html(&s.name),
        })
        .collect();
    format!("<p>{label}: {}</p>", names.join(", "))
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
