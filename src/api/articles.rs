//! `GET /api/articles` (the feed filters, as JSON) and `GET /api/articles/{id}`.

use std::sync::Arc;

use http::request::Parts;
use http::{header, HeaderValue, Response};
use serde::Serialize;

use super::write::authenticate;
use super::ApiArticle;
use crate::app::{App, Visible};
use crate::feed::{with_query, Page};
use crate::http::popular;
use crate::http::representation::{self, Representation};
use crate::http::response::{self, Body, Problem};
use crate::query::{FeedQuery, Sort};

#[derive(Serialize)]
struct ListBody<'a> {
    #[serde(rename = "self")]
    self_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    items: Vec<ApiArticle<'a>>,
}

/// `GET /api/articles?…`: the same query and paging as the feeds.
pub async fn list(app: &Arc<App>, req: &Parts) -> Response<Body> {
    let query = match app.parse_query(req.uri.query(), None) {
        Ok(q) => q,
        Err(problem) => return problem.into_response(),
    };
    if let Sort::Popular(period) = query.sort {
        let snapshot = match popular::snapshot(app, &query, period).await {
            Ok(s) => s,
            Err(problem) => return problem.into_response(),
        };
        let repr = popular::representation("api", "application/json", query.canonical(), &snapshot);
        let render = Box::new(move |app: &App| list_body(app, &query, &popular::page(&snapshot)));
        return representation::serve(app, &req.method, &req.headers, repr, render).await;
    }
    let repr = Representation::of_query(app, "api", "application/json", &query);
    let render = Box::new(move |app: &App| list_body(app, &query, &app.read_page(&query)?));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// The JSON of one page of `query` (a timeline's, or a ranking snapshot's).
fn list_body(app: &App, query: &FeedQuery, page: &Page) -> Result<Vec<u8>, Problem> {
    let ctx = app.feed_context();
    let url = |q: &FeedQuery| with_query(format!("{}/api/articles", ctx.base_url), &q.canonical());
    let body = ListBody {
        self_url: url(query),
        next: page.next.map(|last| url(&query.next_page(last))),
        items: page.articles.iter().map(|a| ApiArticle::new(&ctx, a)).collect(),
    };
    response::encode_json(&body)
}

/// `GET /api/articles/{id}`.
///
/// A scheduled article does not exist for the public (404, like an unknown id, so that its
/// existence does not leak before it is published); its own publisher, sending its token, reads
/// it, with `Cache-Control: private, no-store` so no shared cache keeps it (RFC 9111 §5.2.2).
pub async fn get(app: &Arc<App>, req: &Parts, id: u64) -> Response<Body> {
    let not_found = || Problem::not_found(format!("no article with id {id}")).into_response();
    let article = match app.store.get(id) {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => return Problem::internal(e.to_string()).into_response(),
    };
    let scheduled = app.store.is_scheduled(&article);
    if scheduled && !is_owner(app, req, &article.publisher) {
        return not_found();
    }
    let repr = article_representation(&article);
    let render =
        Box::new(move |app: &App| response::encode_json(&ApiArticle::new(&app.feed_context(), &article)));
    let mut res = representation::serve(app, &req.method, &req.headers, repr, render).await;
    if scheduled {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    res
}

/// Whether the request carries the valid token of `publisher`.
fn is_owner(app: &App, req: &Parts, publisher: &str) -> bool {
    req.headers.contains_key(header::AUTHORIZATION)
        && authenticate(app, req).is_ok_and(|p| p.name == publisher)
}

/// The representation of one article: its validators follow its own `updated_at` only.
pub fn article_representation(article: &crate::model::Article) -> Representation {
    Representation {
        kind: "article",
        content_type: "application/json",
        canonical: article.id.to_string(),
        visible: Visible {
            generations: vec![(
                "updated".to_string(),
                article.updated_at.timestamp_micros() as u64,
            )],
            last_modified: article.updated_at,
        },
    }
}
