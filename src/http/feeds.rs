//! The feed endpoints: `/feed.{rss,atom,json}` and `/regions/{code}/feed.{rss,atom,json}`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::request::Parts;
use http::Response;

use super::popular;
use super::representation::{self, Representation};
use super::response::{Body, Problem};
use crate::app::App;
use crate::feed::stitch::{self, Stitched};
use crate::feed::{FeedDoc, Format, Page};
use crate::query::{FeedQuery, Sort};

/// Answers a feed request.
pub async fn feed(app: &Arc<App>, req: &Parts, format: Format, path_region: Option<&str>) -> Response<Body> {
    let query = match app.parse_query(req.uri.query(), path_region) {
        Ok(q) => q,
        Err(problem) => return problem.into_response(),
    };
    if let Sort::Popular(period) = query.sort {
        let snapshot = match popular::snapshot(app, &query, period).await {
            Ok(s) => s,
            Err(problem) => return problem.into_response(),
        };
        let repr = popular::representation(
            format.extension(),
            format.content_type(),
            query.canonical(),
            &snapshot,
        );
        let render = Box::new(move |app: &App| {
            render_page(
                app,
                &query,
                format,
                &popular::page(&snapshot),
                snapshot.changed_at,
                false,
            )
            .map(|stitched| stitched.identity)
        });
        return representation::serve(app, &req.method, &req.headers, repr, render).await;
    }
    let repr = Representation::of_query(app, format.extension(), format.content_type(), &query);
    let updated = repr.visible.last_modified;
    let render = Box::new(move |app: &App, with_gzip| render(app, &query, format, updated, with_gzip));
    representation::serve_stitched(app, &req.method, &req.headers, repr, render).await
}

/// Reads the page and renders it from cached items ([`feed::stitch`]), with a stitched gzip body
/// when `with_gzip` asks for one and it can be made; `updated` (the feed-level date) is the
/// latest visible change, taken with the validators so that the two always agree.
pub fn render(
    app: &App,
    query: &FeedQuery,
    format: Format,
    updated: DateTime<Utc>,
    with_gzip: bool,
) -> Result<Stitched, Problem> {
    let page = app.read_page(query)?;
    render_page(app, query, format, &page, updated, with_gzip)
}

/// Renders a page already read (a timeline's, or a ranking snapshot's) from cached items.
///
/// A ranking is served with its gzip body compressed whole (`representation::serve`): its
/// validators come from the snapshot, and one tag per coding keeps its 304s simple.
fn render_page(
    app: &App,
    query: &FeedQuery,
    format: Format,
    page: &Page,
    updated: DateTime<Utc>,
    with_gzip: bool,
) -> Result<Stitched, Problem> {
    let ctx = app.feed_context();
    let frame = FeedDoc::frame(&ctx, query, format, page, updated);
    Ok(stitch::render(
        format,
        &ctx,
        &frame,
        &page.articles,
        &app.items,
        with_gzip,
    )?)
}
