//! The JSON API: public reads (articles, regions, calendar) and publishers' writes.

pub mod articles;
pub mod calendar;
pub mod json;
pub mod publishers;
pub mod regions;
pub mod views;
pub mod write;

use serde::Serialize;

use crate::feed::{FeedContext, Format};
use crate::model::Article;
use crate::query::FeedQuery;

/// An article as the API returns it: the stored fields plus its resolved URL and stable id.
#[derive(Serialize)]
pub struct ApiArticle<'a> {
    /// The stored article (`content_html` is the sanitized version).
    #[serde(flatten)]
    pub article: &'a Article,
    /// The article's URL (its `link`, or the portal URL derived from the base URL).
    pub url: String,
    /// The id the feeds use (tag URI).
    pub feed_id: String,
}

impl<'a> ApiArticle<'a> {
    /// Wraps a stored article.
    pub fn new(ctx: &FeedContext, article: &'a Article) -> Self {
        ApiArticle {
            url: article.url(ctx.base_url),
            feed_id: ctx.article_id(article.id),
            article,
        }
    }
}

/// The three feed URLs of a query.
#[derive(Serialize)]
pub struct FeedLinks {
    /// RSS 2.0.
    pub rss: String,
    /// Atom 1.0.
    pub atom: String,
    /// JSON Feed 1.1.
    pub json: String,
}

impl FeedLinks {
    /// The feed URLs of `query` in every format.
    pub fn of(ctx: &FeedContext, query: &FeedQuery) -> Self {
        let [rss, atom, json] = Format::ALL.map(|f| ctx.feed_url(query, f));
        FeedLinks { rss, atom, json }
    }
}
