//! Turning articles into index documents, and a write batch into index changes.
//!
//! The store records what a batch does to the public articles as [`Changes`] while it plans the
//! batch (an article filed in the public indexes is indexed, one removed from them is deleted),
//! and hands them to [`super::SearchIndex::apply`] after the sled batch is applied, with the
//! region metadata the batch produced; the next index commit publishes both. Scheduled articles
//! are in no public index, so they are not searchable until the batch that releases them.

use std::collections::{BTreeMap, BTreeSet};

use tantivy::schema::TantivyDocument;

use super::analyzer::Fields;
use crate::model::Article;

/// What one batch does to the index: per article id, its new document, or `None` to delete it.
/// Keyed by id so that an article changed twice in a batch ends as its last version.
///
/// Only an article that was public before may be in the index, and the store removes it
/// ([`Changes::remove`]) before it files its new version; a new or released article is only
/// added. Its delete would cost a term lookup in every segment at the next commit, for nothing.
pub struct Changes {
    fields: Fields,
    docs: BTreeMap<u64, Option<TantivyDocument>>,
    /// Ids whose earlier document (committed, or added by an earlier batch) must be deleted.
    deletes: BTreeSet<u64>,
}

impl Changes {
    /// No changes yet.
    pub fn new(fields: Fields) -> Self {
        Changes {
            fields,
            docs: BTreeMap::new(),
            deletes: BTreeSet::new(),
        }
    }

    /// `article` is now public: (re)index it.
    pub fn put(&mut self, article: &Article) {
        self.docs
            .insert(article.id, Some(document(&self.fields, article)));
    }

    /// Article `id` is no longer public (or is about to be replaced): remove it from the index.
    pub fn remove(&mut self, id: u64) {
        self.docs.insert(id, None);
        self.deletes.insert(id);
    }

    /// Whether the batch changed no public article.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The changes, in id order: the id, whether its earlier document must be deleted, and its
    /// new document.
    pub fn into_docs(self) -> impl Iterator<Item = (u64, bool, Option<TantivyDocument>)> {
        let deletes = self.deletes;
        self.docs
            .into_iter()
            .map(move |(id, doc)| (id, deletes.contains(&id), doc))
    }
}

/// The index document of a public article.
pub fn document(f: &Fields, article: &Article) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_u64(f.id, article.id);
    let micros = article.published_at.timestamp_micros();
    doc.add_i64(f.published, micros);
    doc.add_i64(f.day, super::day_of(micros));
    for region in &article.regions {
        doc.add_text(f.region, region.as_str());
    }
    for category in &article.categories {
        doc.add_text(f.category, category.to_lowercase());
        doc.add_text(f.categories, category);
    }
    doc.add_text(f.title, &article.title);
    if let Some(lead) = &article.summary {
        doc.add_text(f.lead, lead);
    }
    if let Some(body) = &article.content_html {
        doc.add_text(f.body, text_of(body));
    }
    doc
}

/// The words of a stored (sanitized, well-formed) HTML body: tags and character references
/// become spaces. Cheaper than a parse, and enough for the analyzer, which keeps only letters and
/// digits (a `&lt;` lost to a space is punctuation either way).
fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut in_ref = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            '&' if !in_tag => in_ref = true,
            ';' if in_ref => {
                in_ref = false;
                out.push(' ');
            }
            _ if in_tag => {}
            _ if in_ref && (c.is_ascii_alphanumeric() || c == '#') => {}
            _ => {
                in_ref = false;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_drops_markup_and_references() {
        let text = text_of("<p class=\"x\">Мост&nbsp;через <b>Волгу</b> &amp; Оку</p><p>R&amp;D</p>");
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words, ["Мост", "через", "Волгу", "Оку", "R", "D"]);
    }
}
