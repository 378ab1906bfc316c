//! From parsed search words and feed filters to a tantivy query, built clause by clause.
//!
//! Each word must occur, in some form, in the title, the lead, the body or the categories; a
//! phrase must occur in one of them as consecutive words (a stop word inside it is a gap of one
//! position, as it was when indexed); exclusions must occur in none. Regions and categories are
//! exact terms (any of them), dates a range over the `day` terms. The exact instants and the
//! paging cursor are applied by the collector, which compares whole positions.

use std::ops::Bound;

use tantivy::query::{
    BooleanQuery, EnableScoring, Explanation, Occur, PhraseQuery, Query, RangeQuery, Scorer, TermQuery,
    Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, Term};

use super::analyzer::{self, Fields};
use super::terms::SearchTerms;
use crate::regions::RegionCode;
use crate::store::keys::Position;

/// The feed filters a keyword search is combined with (the same as a [`crate::store::Scan`]'s).
#[derive(Clone, Copy, Debug, Default)]
pub struct Filters<'a> {
    /// Any of these regions; empty = all.
    pub regions: &'a [RegionCode],
    /// Any of these categories, lower-cased; empty = all.
    pub categories: &'a [String],
    /// Published at or after this instant (microseconds).
    pub oldest: Option<i64>,
    /// Published at or before this instant (microseconds).
    pub newest: Option<i64>,
    /// Paging cursor: older than this.
    pub before: Option<Position>,
    /// Paging cursor: newer than this.
    pub after: Option<Position>,
}

impl Filters<'_> {
    /// The oldest and newest instants (microseconds) the dates and cursors allow.
    pub fn instants(&self) -> (Option<i64>, Option<i64>) {
        let lo = [self.oldest, self.after.map(|a| a.micros)]
            .into_iter()
            .flatten()
            .max();
        let hi = [self.newest, self.before.map(|b| b.micros)]
            .into_iter()
            .flatten()
            .min();
        (lo, hi)
    }
}

/// The whole query: words, phrases and exclusions, within the filters, and within the UTC days
/// `window` (inclusive) when given.
pub fn build(
    f: &Fields,
    terms: &SearchTerms,
    filters: &Filters,
    window: Option<(i64, i64)>,
) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for word in &terms.all {
        clauses.extend(text_clause(f, word).map(|q| (Occur::Must, q)));
    }
    for phrase in &terms.phrases {
        clauses.extend(text_clause(f, &phrase.join(" ")).map(|q| (Occur::Must, q)));
    }
    for word in &terms.none {
        clauses.extend(text_clause(f, word).map(|q| (Occur::MustNot, q)));
    }
    for phrase in &terms.none_phrases {
        clauses.extend(text_clause(f, &phrase.join(" ")).map(|q| (Occur::MustNot, q)));
    }
    if !filters.regions.is_empty() {
        let any = filters.regions.iter().map(|r| exact(f.region, r.as_str()));
        clauses.push((Occur::Must, any_of(any.collect())));
    }
    if !filters.categories.is_empty() {
        let any = filters.categories.iter().map(|c| exact(f.category, c));
        clauses.push((Occur::Must, any_of(any.collect())));
    }
    if let Some(range) = day_range(f, filters, window) {
        clauses.push((Occur::Must, range));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Matches `text` (a word or a phrase) in any analyzed field; None when the analyzer leaves
/// nothing of it (stop words only: the parser drops those, this is the last guard).
fn text_clause(f: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let tokens = analyzer::tokens(text);
    let first = tokens.first()?.0;
    let per_field = f.text().map(|field| -> Box<dyn Query> {
        if tokens.len() == 1 {
            return exact(field, &tokens[0].1);
        }
        let terms = tokens
            .iter()
            .map(|(pos, t)| (pos - first, Term::from_field_text(field, t)))
            .collect();
        seekable(Box::new(PhraseQuery::new_with_offset(terms)))
    });
    Some(any_of(per_field.into()))
}

fn exact(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// The days the filters, cursors and `window` allow, as a range over the `day` terms (an
/// indexed field that is not fast, so the inverted index answers it: a few terms, cheap); None
/// when all. The collector applies the exact instants.
fn day_range(f: &Fields, filters: &Filters, window: Option<(i64, i64)>) -> Option<Box<dyn Query>> {
    let (lo, hi) = filters.instants();
    let lo = [lo.map(super::day_of), window.map(|w| w.0)]
        .into_iter()
        .flatten()
        .max();
    let hi = [hi.map(super::day_of), window.map(|w| w.1)]
        .into_iter()
        .flatten()
        .min();
    if lo.is_none() && hi.is_none() {
        return None;
    }
    let bound = |v: Option<i64>| match v {
        Some(v) => Bound::Included(Term::from_field_i64(f.day, v)),
        None => Bound::Unbounded,
    };
    Some(Box::new(RangeQuery::new(bound(lo), bound(hi))))
}

/// `query` behind a scorer that never passes tantivy's `seek_danger` on: a phrase's scorer in a
/// union (a phrase over four fields) can be sought with a target behind its current document,
/// as under an exclusion, which tantivy 0.27's phrase scorer does not allow (its `seek_danger`
/// asserts `target >= doc`) while the default [`DocSet::seek_danger`] does.
fn seekable(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(Seekable(query))
}

#[derive(Debug)]
struct Seekable(Box<dyn Query>);

impl Clone for Seekable {
    fn clone(&self) -> Self {
        Seekable(self.0.box_clone())
    }
}

impl Query for Seekable {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SeekableWeight(self.0.weight(scoring)?)))
    }
}

struct SeekableWeight(Box<dyn Weight>);

impl Weight for SeekableWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SeekableScorer(self.0.scorer(reader, boost)?)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.0.explain(reader, doc)
    }
}

struct SeekableScorer(Box<dyn Scorer>);

impl DocSet for SeekableScorer {
    fn advance(&mut self) -> DocId {
        self.0.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let doc = self.0.doc();
        if doc >= target {
            return doc;
        }
        self.0.seek(target)
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        let doc = self.seek(target);
        if doc == target {
            SeekDangerResult::Found
        } else {
            SeekDangerResult::SeekLowerBound(doc)
        }
    }

    fn doc(&self) -> DocId {
        self.0.doc()
    }

    fn size_hint(&self) -> u32 {
        self.0.size_hint()
    }
}

impl Scorer for SeekableScorer {
    fn score(&mut self) -> Score {
        self.0.score()
    }
}
