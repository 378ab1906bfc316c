//! `POST /api/articles/{id}/views` (the portal's page counter adds views) and
//! `GET /api/articles/{id}/views` (the live count).
//!
//! One article per request, `{"add": n}`, rather than an NDJSON batch of increments: the store's
//! group commit already merges concurrent requests into one batch and one fsync, and `add` lets
//! a counter that sees many views of one article send them at once, so a batch format would buy
//! little and bring per-line partial failures with it. A 200 is sent only once the count is on
//! disk.
//!
//! Who may count: any publisher accredited for at least one of the article's regions, not only
//! its owner. The page counter belongs to the portal, which shows every newsroom's articles;
//! making it hold every newsroom's token would be worse than letting a regional token count
//! views in its regions. An all-regions token (the portal's) may count any article.
//!
//! How counted views relate to the article's `views` field: that field stays what the publisher
//! sent (content: part of the article's ETag, so `If-Match` still holds after views, and the
//! feeds' `views` are the publisher's too, so no feed validator moves). The total shown on the
//! article page and answered here is that base plus the views counted by lenta
//! ([`crate::store::views`]).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use super::write::{
    authenticate, parse_json, read_body, refused, require_content_type, start_leader, write_problem,
};
use crate::app::App;
use crate::auth::Publisher;
use crate::http::response::{self, Body, Problem};
use crate::model::{Article, FieldError};
use crate::store::WriteError;

/// Most views one request may add: a page counter flushing its tally sends far fewer; a bigger
/// number is a bug or an attack on the count, refused before it reaches the store.
pub const MAX_ADD: u64 = 1_000_000;

/// Bytes a views body may take: `{"add": 1000000}` is 16; whitespace and all, 1 KiB is ample.
const MAX_BODY: usize = 1024;

/// The answer of both methods.
#[derive(Serialize)]
struct ViewsBody {
    id: u64,
    /// `base` + `counted`: what the article page shows (bucketed, see [`crate::html::article`]).
    views: u64,
    /// The `views` the publisher sent with the article (0 when none).
    base: u64,
    /// Views counted by lenta.
    counted: u64,
}

impl ViewsBody {
    fn of(article: &Article, counted: u64) -> Self {
        let base = article.views.unwrap_or(0);
        ViewsBody {
            id: article.id,
            views: base.saturating_add(counted),
            base,
            counted,
        }
    }
}

/// `POST /api/articles/{id}/views` with `{"add": n}`.
pub async fn add(app: &Arc<App>, req: &Parts, body: Incoming, id: u64) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        require_content_type(req, &["application/json"])?;
        let bytes = read_body(app, req, body, MAX_BODY.min(app.settings.max_body_bytes)).await?;
        let add = parse_add(&parse_json(&bytes)?)?;
        let shared = Arc::clone(app);
        let submitted = app.store.submit_views(id, add, move |article| {
            // A scheduled article has no readers yet, and the public must not learn of it.
            if shared.store.is_scheduled(article) {
                return Err(Problem::not_found(format!("no article with id {}", article.id)));
            }
            may_count(&publisher, article)
        });
        start_leader(app, submitted.lead);
        let counted = submitted
            .result
            .await
            .map_err(|_| Problem::internal("the views were abandoned by the store"))?
            .map_err(|e| match e {
                WriteError::NotFound(id) => missing(app, id),
                e => write_problem(e),
            })?;
        let article = app.store.get(id)?.ok_or_else(|| missing(app, id))?;
        Ok(answer(&ViewsBody::of(&article, counted)))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// `GET /api/articles/{id}/views`: exact and uncached (a count is no content worth a validator).
/// Public, so a scheduled article is unknown here (404) until released.
pub async fn get(app: &Arc<App>, id: u64) -> Response<Body> {
    let result = || -> Result<Response<Body>, Problem> {
        let article = app.store.get_public(id)?.ok_or_else(|| missing(app, id))?;
        let mut res = answer(&ViewsBody::of(&article, app.store.views(id)?));
        // Public, like the article it counts: the portal's pages may read it cross-origin.
        res.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        Ok(res)
    };
    result().unwrap_or_else(Problem::into_response)
}

fn answer(body: &ViewsBody) -> Response<Body> {
    let mut res = response::json(StatusCode::OK, body);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The `add` of a views body: an object with that one member, an integer from 1 to [`MAX_ADD`].
fn parse_add(value: &Value) -> Result<u64, Problem> {
    let invalid = |reason: String| {
        let errors = vec![FieldError::new("add", reason)];
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-views",
            "Invalid views",
            response::summarize(&errors),
        )
        .with_errors(errors)
    };
    let Some(object) = value.as_object() else {
        return Err(invalid(format!(
            "the body must be a JSON object {{\"add\": n}} with n from 1 to {MAX_ADD}"
        )));
    };
    if let Some(other) = object.keys().find(|k| *k != "add") {
        let shown = response::truncate_chars(other, 32);
        return Err(invalid(format!(
            "unknown member {shown:?}; the body has one member, \"add\""
        )));
    }
    match object.get("add").and_then(Value::as_u64) {
        Some(n @ 1..=MAX_ADD) => Ok(n),
        _ => Err(invalid(format!(
            "must be an integer from 1 to {MAX_ADD}, the views to add to the count"
        ))),
    }
}

/// 403 unless `publisher` is accredited for one of the article's regions.
fn may_count(publisher: &Publisher, article: &Article) -> Result<(), Problem> {
    if article.regions.iter().any(|r| publisher.may_publish_in(r)) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        "region-not-accredited",
        "Region not accredited",
        format!(
            "publisher {} is accredited for none of article {}'s regions; views may be added by \
             a publisher accredited for one of them",
            publisher.name, article.id
        ),
    ))
}

/// 410 Gone for a withdrawn article (its delete left a tombstone), 404 for an unknown id.
fn missing(app: &App, id: u64) -> Problem {
    match app.store.tombstone(id) {
        Ok(Some(at)) => Problem::new(
            StatusCode::GONE,
            "gone",
            "Gone",
            format!(
                "article {id} was withdrawn by its publisher at {}; its views are no longer counted",
                at.to_rfc3339()
            ),
        ),
        Ok(None) => Problem::not_found(format!("no article with id {id}")),
        Err(e) => Problem::internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_one_bounded_positive_integer() {
        assert_eq!(parse_add(&serde_json::json!({"add": 1})).ok(), Some(1));
        assert_eq!(
            parse_add(&serde_json::json!({"add": MAX_ADD})).ok(),
            Some(MAX_ADD)
        );
        for bad in [
            serde_json::json!({"add": 0}),
            serde_json::json!({"add": -1}),
            serde_json::json!({"add": 1.5}),
            serde_json::json!({"add": "3"}),
            serde_json::json!({"add": MAX_ADD + 1}),
            serde_json::json!({}),
            serde_json::json!({"add": 1, "id": 2}),
            serde_json::json!([1]),
        ] {
            let problem = parse_add(&bad).expect_err("refused");
            assert_eq!(problem.status, 422, "{bad}");
        }
    }
}
