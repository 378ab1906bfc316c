//! Publishers' writes: create/upsert, replace, delete, and NDJSON batches.
//!
//! Every request is checked in this order, each failure with its own status: token (401),
//! content type (415), size (413, decided from `Content-Length` before reading when possible),
//! UTF-8 and JSON syntax (400 with the position), fields (422, every bad field listed), ownership
//! and accreditation (403), `If-Match` (412). Only then is the store touched, and a 2xx is sent
//! only after the write is on disk.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use super::articles::article_representation;
use super::ApiArticle;
use crate::app::App;
use crate::auth::{self, Publisher};
use crate::http::conditional::EntityTag;
use crate::http::encoding::Encoding;
use crate::http::representation::joined;
use crate::http::response::{self, Body, Problem};
use crate::metrics::WriteKind;
use crate::model::{Article, ArticleInput, ExternalId, FieldError, NewArticle};
use crate::store::{Committed, StoreError, WriteError, WriteOp};

/// `POST /api/articles`: create, or update the publisher's article with the same `external_id`.
pub async fn create(app: &Arc<App>, req: &Parts, body: Incoming) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        let value = read_json(app, req, body).await?;
        let article = validate(app, &value, ExternalId::Required)?;
        let op = WriteOp::Upsert { publisher: publisher.name.clone(), article: article.clone() };
        let committed = commit(app, op, move |current| authorize(&publisher, current, Some(&article))).await?;
        Ok(written(app, committed))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// `PUT /api/articles/{id}`: replace an article of the caller's.
pub async fn replace(app: &Arc<App>, req: &Parts, body: Incoming, id: u64) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        let value = read_json(app, req, body).await?;
        let article = validate(app, &value, ExternalId::Optional)?;
        let if_match = if_match(req)?;
        let op = WriteOp::Replace { id, article: article.clone() };
        let shared = Arc::clone(app);
        let committed = commit(app, op, move |current| {
            authorize(&publisher, current, Some(&article))?;
            check_if_match(&shared, if_match.as_deref(), current)
        })
        .await?;
        Ok(written(app, committed))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// `DELETE /api/articles/{id}`: withdraw an article of the caller's (204).
pub async fn delete(app: &Arc<App>, req: &Parts, id: u64) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        let if_match = if_match(req)?;
        let shared = Arc::clone(app);
        let committed = commit(app, WriteOp::Delete { id }, move |current| {
            authorize(&publisher, current, None)?;
            check_if_match(&shared, if_match.as_deref(), current)
        })
        .await?;
        Ok(written(app, committed))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// One line's outcome in a batch answer.
#[derive(Serialize)]
struct LineResult {
    line: usize,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

#[derive(Serialize, Default)]
struct BatchSummary {
    created: usize,
    updated: usize,
    rejected: usize,
    results: Vec<LineResult>,
}

/// `POST /api/articles/batch`: NDJSON, one article per line, each stored or rejected on its own,
/// all acknowledged by one flush (group commit).
pub async fn batch(app: &Arc<App>, req: &Parts, body: Incoming) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        require_content_type(req, &["application/x-ndjson", "application/jsonl", "application/json-seq"])?;
        let bytes = read_body(req, body, app.settings.max_batch_bytes).await?;
        let app2 = Arc::clone(app);
        let summary = tokio::task::spawn_blocking(move || write_lines(&app2, &publisher, &bytes))
            .await
            .map_err(|e| Problem::internal(format!("batch task failed: {e}")))?;
        app.store.durable().await.map_err(|e| Problem::unavailable(e.to_string()))?;
        Ok(response::json(StatusCode::OK, &summary))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

fn write_lines(app: &App, publisher: &Publisher, bytes: &[u8]) -> BatchSummary {
    let mut summary = BatchSummary::default();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = (|| {
            let value = parse_json(line)?;
            let article = validate(app, &value, ExternalId::Required)?;
            let op = WriteOp::Upsert { publisher: publisher.name.clone(), article: article.clone() };
            let committed = app
                .store
                .write(op, |current| authorize(publisher, current, Some(&article)))
                .map_err(write_problem)?;
            Ok::<_, Problem>(committed)
        })();
        let line_no = index + 1;
        match result {
            Ok(committed) => {
                let (status, id) = match &committed {
                    Committed::Created(a) => (201, a.id),
                    Committed::Updated { new, .. } => (200, new.id),
                    Committed::Deleted(a) => (204, a.id),
                };
                count(app, &committed);
                if status == 201 { summary.created += 1 } else { summary.updated += 1 }
                summary.results.push(LineResult { line: line_no, status, id: Some(id), detail: None, errors: vec![] });
            }
            Err(p) => {
                summary.rejected += 1;
                app.metrics.writes_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                summary.results.push(LineResult {
                    line: line_no,
                    status: p.status,
                    id: None,
                    detail: Some(p.detail),
                    errors: p.errors,
                });
            }
        }
    }
    summary
}

/// The publisher named by a valid `Authorization: Bearer` token (RFC 6750), or 401.
fn authenticate(app: &App, req: &Parts) -> Result<Publisher, Problem> {
    let unauthorized = |error: &str, detail: &str| {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail).with_header(
            header::WWW_AUTHENTICATE,
            &if error.is_empty() {
                "Bearer realm=\"lenta\"".to_string()
            } else {
                format!("Bearer realm=\"lenta\", error=\"{error}\"")
            },
        )
    };
    let Some(value) = req.headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized("", "send Authorization: Bearer <token> with a publisher token"));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("invalid_request", "the Authorization header must be: Bearer <token>"))?;
    match auth::authenticate(&app.store, token) {
        Ok(Some(publisher)) => Ok(publisher),
        Ok(None) => Err(unauthorized("invalid_token", "the token is unknown or revoked")),
        Err(e) => Err(Problem::internal(e.to_string())),
    }
}

/// 415 unless the media type is one of `allowed`.
fn require_content_type(req: &Parts, allowed: &[&str]) -> Result<(), Problem> {
    let media = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if allowed.contains(&media.as_str()) {
        return Ok(());
    }
    let shown = if media.is_empty() { "none".to_string() } else { media };
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        format!("Content-Type {shown} is not accepted here; send {}", allowed.join(" or ")),
    )
    .with_header(http::HeaderName::from_static("accept-post"), &allowed.join(", ")))
}

/// Reads the body, refusing more than `limit` bytes without reading them all.
async fn read_body(req: &Parts, body: Incoming, limit: usize) -> Result<Bytes, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Content too large",
            format!("the body exceeds the limit of {limit} bytes"),
        )
    };
    let declared = req.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(Problem::new(StatusCode::BAD_REQUEST, "bad-body", "Unreadable body", e.to_string())),
    }
}

/// Content type, size and syntax of a single-article body.
async fn read_json(app: &App, req: &Parts, body: Incoming) -> Result<Value, Problem> {
    require_content_type(req, &["application/json"])?;
    let bytes = read_body(req, body, app.settings.max_body_bytes).await?;
    parse_json(&bytes)
}

/// Parses JSON, naming the position of the first problem.
fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-utf8",
            "Invalid UTF-8",
            format!("the body is not valid UTF-8 at byte {}", e.valid_up_to()),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            "Invalid JSON",
            format!("{e} (line {}, column {})", e.line(), e.column()),
        )
    })
}

fn validate(app: &App, value: &Value, external_id: ExternalId) -> Result<NewArticle, Problem> {
    ArticleInput::from_json(value, &app.regions, external_id).map_err(|errors| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-article",
            "Invalid article",
            response::summarize(&errors),
        )
        .with_errors(errors)
    })
}

/// Ownership (403 for someone else's article) and accreditation (403 naming the region), for
/// the regions the article has now and the ones it would have.
fn authorize(publisher: &Publisher, current: Option<&Article>, new: Option<&NewArticle>) -> Result<(), Problem> {
    if let Some(current) = current {
        if current.publisher != publisher.name {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "not-owner",
                "Not your article",
                format!("article {} belongs to another publisher; you may change only your own", current.id),
            ));
        }
    }
    let regions = current.iter().flat_map(|a| a.regions.iter()).chain(new.iter().flat_map(|n| n.regions.iter()));
    for region in regions {
        if !publisher.may_publish_in(region) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "region-not-accredited",
                "Region not accredited",
                format!("publisher {} is not accredited for region {region}", publisher.name),
            )
            .with_errors(vec![FieldError::new("regions", format!("{region} is outside your accreditation"))]));
        }
    }
    Ok(())
}

fn if_match(req: &Parts) -> Result<Option<String>, Problem> {
    Ok(joined(&req.headers, header::IF_MATCH))
}

/// `If-Match` (RFC 9110 §13.1.1, strong comparison) against the article's ETags in every coding.
fn check_if_match(app: &App, if_match: Option<&str>, current: Option<&Article>) -> Result<(), Problem> {
    let (Some(list), Some(article)) = (if_match, current) else { return Ok(()) };
    if list.trim() == "*" {
        return Ok(());
    }
    let repr = article_representation(article);
    let current: Vec<EntityTag> =
        [Encoding::Identity, Encoding::Gzip, Encoding::Brotli].iter().map(|e| repr.etag(app, *e)).collect();
    let matched = list
        .split(',')
        .filter_map(|t| EntityTag::parse(t.trim()))
        .any(|t| current.iter().any(|c| c.strong_eq(&t)));
    if matched {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "stale-if-match",
            "Precondition failed",
            format!("If-Match does not match the current version of article {}; GET it again and retry", article.id),
        ))
    }
}

/// Runs the write on a blocking thread, then waits until it is on disk.
async fn commit(
    app: &Arc<App>,
    op: WriteOp,
    guard: impl FnOnce(Option<&Article>) -> Result<(), Problem> + Send + 'static,
) -> Result<Committed, Problem> {
    let app2 = Arc::clone(app);
    let committed = tokio::task::spawn_blocking(move || app2.store.write(op, guard))
        .await
        .map_err(|e| Problem::internal(format!("write task failed: {e}")))?
        .map_err(write_problem)?;
    app.store.durable().await.map_err(|e| Problem::unavailable(e.to_string()))?;
    count(app, &committed);
    Ok(committed)
}

fn write_problem(e: WriteError<Problem>) -> Problem {
    match e {
        WriteError::Refused(p) => p,
        WriteError::NotFound(id) => Problem::not_found(format!("no article with id {id}")),
        WriteError::ExternalIdTaken(ext, other) => Problem::new(
            StatusCode::CONFLICT,
            "external-id-taken",
            "external_id in use",
            format!("external_id {ext:?} already names your article {other}"),
        )
        .with_errors(vec![FieldError::new("external_id", "already used by another of your articles")]),
        WriteError::Store(StoreError::Flush(e)) => Problem::unavailable(e.to_string()),
        WriteError::Store(e) => Problem::internal(e.to_string()),
    }
}

fn count(app: &App, committed: &Committed) {
    app.metrics.write(match committed {
        Committed::Created(_) => WriteKind::Created,
        Committed::Updated { .. } => WriteKind::Updated,
        Committed::Deleted(_) => WriteKind::Deleted,
    });
}

fn refused(app: &App, problem: Problem) -> Response<Body> {
    app.metrics.writes_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    problem.into_response()
}

/// 201 with `Location`, 200, or 204; with the article's ETag.
fn written(app: &App, committed: Committed) -> Response<Body> {
    let (status, article) = match committed {
        Committed::Deleted(_) => {
            let mut res = Response::new(http_body_util::Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::NO_CONTENT;
            return res;
        }
        Committed::Created(a) => (StatusCode::CREATED, a),
        Committed::Updated { new, .. } => (StatusCode::OK, new),
    };
    let ctx = app.feed_context();
    let mut res = response::json(status, &ApiArticle::new(&ctx, &article));
    let etag = article_representation(&article).etag(app, Encoding::Identity);
    if let Ok(v) = HeaderValue::from_str(&etag.to_string()) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("{}/api/articles/{}", ctx.base_url, article.id)) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}
