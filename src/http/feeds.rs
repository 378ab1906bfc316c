//! The feed endpoints: `/feed.{rss,atom,json}` and `/regions/{code}/feed.{rss,atom,json}`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::request::Parts;
use http::Response;

use super::representation::{self, Representation};
use super::response::{Body, Problem};
use crate::app::App;
use crate::feed::{self, FeedDoc, Format};
use crate::query::{FeedQuery, QueryContext};

/// Answers a feed request.
pub async fn feed(app: &Arc<App>, req: &Parts, format: Format, path_region: Option<&str>) -> Response<Body> {
    let ctx = QueryContext {
        regions: &app.regions,
        tz: app.settings.tz,
    };
    let query = match FeedQuery::parse(req.uri.query(), path_region, ctx) {
        Ok(q) => q,
        Err(errors) => return Problem::bad_query(errors).into_response(),
    };
    let repr = Representation::new(
        app,
        format.extension(),
        format.content_type(),
        query.canonical(),
        &query.regions,
    );
    let updated = repr.visible.last_modified;
    let render = Box::new(move |app: &App| render(app, &query, format, updated));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// Reads the page and renders it; `updated` (the feed-level date) is the latest visible change,
/// taken with the validators so that the two always agree.
pub fn render(
    app: &App,
    query: &FeedQuery,
    format: Format,
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, Problem> {
    let page = app.read_page(query)?;
    let doc = FeedDoc::new(&app.feed_context(), query, format, &page, updated);
    Ok(feed::render(format, &doc)?)
}
