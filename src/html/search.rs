//! `GET /search?q=…`: the search box, the articles that match newest first, and the three
//! feeds of the same query to subscribe to.
//!
//! The page takes the feeds' parameters (`q`, `region`, `category`, `from`, `to`, `limit`,
//! `before`), parsed by [`FeedQuery`], so what the page shows is exactly what its feeds will
//! deliver, and it is cached and validated like them. Without `q` it is the empty search form.

use std::sync::Arc;

use askama::Template;
use http::request::Parts;
use http::Response;

use super::{render, Head, Teaser, CONTENT_TYPE};
use crate::api::FeedLinks;
use crate::app::App;
use crate::feed::with_query;
use crate::http::representation::{self, Representation};
use crate::http::response::{Body, Problem};
use crate::query::FeedQuery;
use crate::store::search::terms::MAX_QUERY_BYTES;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    head: Head,
    base: String,
    /// The query as the box shows it again (canonical form).
    text: String,
    max_bytes: usize,
    searched: bool,
    teasers: Vec<Teaser>,
    next: Option<String>,
}

/// `GET /search`.
pub async fn page(app: &Arc<App>, req: &Parts) -> Response<Body> {
    let query = match app.parse_query(req.uri.query(), None) {
        Ok(q) => q,
        Err(problem) => return problem.into_response(),
    };
    let repr = Representation::of_query(app, "html-search", CONTENT_TYPE, &query);
    let render = Box::new(move |app: &App| render(&search_html(app, &query)?));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

fn search_html(app: &App, query: &FeedQuery) -> Result<SearchPage, Problem> {
    let ctx = app.feed_context();
    let page = match query.q {
        Some(_) => app.read_page(query)?,
        None => Default::default(),
    };
    let text = query.q.as_ref().map(|t| t.canonical()).unwrap_or_default();
    let title = match text.as_str() {
        "" => format!("Поиск — {}", app.settings.portal_name),
        t => format!("{t} — поиск — {}", app.settings.portal_name),
    };
    let url = |q: &FeedQuery| with_query(format!("{}/search", ctx.base_url), &q.canonical());
    Ok(SearchPage {
        head: Head {
            title,
            feeds: FeedLinks::of(&ctx, &query.first_page()),
        },
        base: ctx.base_url.to_string(),
        text,
        max_bytes: MAX_QUERY_BYTES,
        searched: query.q.is_some(),
        teasers: page
            .articles
            .iter()
            .map(|a| Teaser::new(&ctx, a, a.url(ctx.base_url)))
            .collect(),
        next: page.next.map(|last| url(&query.next_page(last))),
    })
}
