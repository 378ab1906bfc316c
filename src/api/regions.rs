//! `GET /api/regions`: the directory with article counts and feed URLs.

use std::sync::Arc;

use http::request::Parts;
use http::Response;
use serde::Serialize;

use super::FeedLinks;
use crate::app::App;
use crate::http::representation::{self, Representation};
use crate::http::response::{self, Body, Problem};
use crate::model::FieldError;
use crate::query::FeedQuery;

#[derive(Serialize)]
struct RegionEntry<'a> {
    code: &'a str,
    name_ru: &'a str,
    name_en: &'a str,
    kind: &'a str,
    articles: u64,
    page: String,
    feeds: FeedLinks,
}

/// `GET /api/regions`.
pub async fn list(app: &Arc<App>, req: &Parts) -> Response<Body> {
    if let Some(q) = req.uri.query().filter(|q| !q.is_empty()) {
        let errors = vec![FieldError::new(
            q.split('=').next().unwrap_or(q),
            "this endpoint takes no parameters",
        )];
        return Problem::bad_query(errors).into_response();
    }
    let repr = Representation::new(app, "regions", "application/json", String::new(), &[]);
    let render = Box::new(|app: &App| {
        let ctx = app.feed_context();
        let entries: Vec<RegionEntry> = app
            .regions
            .iter()
            .map(|r| {
                let query = FeedQuery {
                    regions: vec![r.code.clone()],
                    ..FeedQuery::default()
                };
                RegionEntry {
                    code: r.code.as_str(),
                    name_ru: &r.name_ru,
                    name_en: &r.name_en,
                    kind: &r.kind,
                    articles: app.store.region_meta(r.code.as_str()).count,
                    page: ctx.html_url(&query),
                    feeds: FeedLinks::of(&ctx, &query),
                }
            })
            .collect();
        response::encode_json(&entries)
    });
    representation::serve(app, &req.method, &req.headers, repr, render).await
}
