//! Publishers' writes: create/upsert, replace, delete, and NDJSON batches.
//!
//! Every request is checked in this order, each failure with its own status: token (401),
//! content type and content coding (415), size (413, decided from `Content-Length` before reading
//! when possible; for a batch also its line count), a body that stalls (408), UTF-8 and JSON
//! syntax (400 with the position), fields (422, every bad field listed), ownership
//! and accreditation (403), `If-Match` (412). Only then is the store touched, and a 2xx is sent
//! only after the write is on disk: single writes go through the store's group commit
//! ([`crate::store::flusher`]), a batch is flushed once before it is answered.
//!
//! Re-sending an article exactly as stored is answered 200 with the stored version and changes
//! nothing, not even `updated_at`: publishers re-send freely (it is how the idempotent upsert
//! is meant to be used), and feed readers must not see an update that is not one.
//!
//! The request-reading helpers here (bearer tokens, content type, size limit, JSON syntax) are
//! shared with the admin API ([`super::publishers`]), so both answer bad input the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::BodyExt;
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
use crate::model::{Article, ArticleInput, ExternalId, FieldError, NewArticle};
use crate::regions::RegionCode;
use crate::store::{Committed, StoreError, WriteError, WriteOp};

/// Articles per store batch: large enough that the per-batch cost vanishes, small enough that
/// readers (who wait on sled's global lock while a batch is applied) are held up for a
/// millisecond or two at most.
const BATCH_CHUNK: usize = 256;

/// `POST /api/articles`: create, or update the publisher's article with the same `external_id`.
pub async fn create(app: &Arc<App>, req: &Parts, body: Incoming) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        let value = read_json(app, req, body).await?;
        let article = validate(app, &value, ExternalId::Required)?;
        let regions = article.regions.clone();
        let op = WriteOp::Upsert {
            publisher: publisher.name.clone(),
            article,
        };
        let committed = commit(app, op, move |current| authorize(&publisher, current, &regions)).await?;
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
        let if_match = if_match(req);
        let regions = article.regions.clone();
        let op = WriteOp::Replace { id, article };
        let shared = Arc::clone(app);
        let committed = commit(app, op, move |current| {
            hide_scheduled(&shared, &publisher, current)?;
            authorize(&publisher, current, &regions)?;
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
        let if_match = if_match(req);
        let shared = Arc::clone(app);
        let committed = commit(app, WriteOp::Delete { id }, move |current| {
            hide_scheduled(&shared, &publisher, current)?;
            authorize(&publisher, current, &[])?;
            check_if_match(&shared, if_match.as_deref(), current)
        })
        .await?;
        Ok(written(app, committed))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// Rejected batch lines answered in full (`detail` and `errors`) at most; later rejected lines are
/// only listed by number under their status and problem type (`undetailed`), a few bytes each, so
/// the answer to a batch of bad lines stays within a small multiple of the request however short
/// its lines (a line is at least two bytes, `x` and its newline; its number at most seven).
const DETAILED_REJECTIONS: usize = 100;

/// Bytes of `detail` and `errors` the detailed rejections may take in all, on top of a quarter of the
/// request's size: a hundred tiny bad lines must not buy a hundred 700-byte explanations.
const DETAIL_BUDGET: usize = 4 << 10;

/// One line's outcome in a batch answer.
#[derive(Serialize)]
struct LineResult {
    line: usize,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    /// The problem type of a rejected line (as in a problem's `type`).
    #[serde(
        rename = "type",
        skip_serializing_if = "Option::is_none",
        serialize_with = "line_type"
    )]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

impl LineResult {
    /// A rejected line, with its problem's `detail` and `errors`.
    fn rejected(line: usize, problem: Problem) -> Self {
        LineResult {
            line,
            status: problem.status,
            id: None,
            kind: Some(problem.kind),
            detail: Some(problem.detail),
            errors: problem.errors,
        }
    }
}

/// Rejected lines answered without details: their numbers, under their status and problem type.
#[derive(Serialize)]
struct Undetailed {
    status: u16,
    #[serde(rename = "type", serialize_with = "group_type")]
    kind: &'static str,
    lines: Vec<usize>,
}

fn group_type<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&response::type_uri(kind))
}

/// What answering a rejected line in full adds to the answer, about: its entry in `results`
/// (line, status, type: ~80 bytes) with `detail` and `errors`.
fn detail_cost(problem: &Problem) -> usize {
    let errors: usize = problem
        .errors
        .iter()
        .map(|e| e.field.len() + e.reason.len() + 24)
        .sum();
    80 + problem.detail.len() + errors
}

/// A line's problem type as its URI, built only while the answer is written.
fn line_type<S: serde::Serializer>(kind: &Option<&'static str>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => s.serialize_str(&response::type_uri(kind)),
        None => s.serialize_none(),
    }
}

/// The answer to a batch: counts, one result per stored line and per rejected line answered in
/// full, in line order, then the other rejected lines by number (`undetailed`).
#[derive(Serialize, Default)]
struct BatchSummary {
    created: usize,
    updated: usize,
    unchanged: usize,
    rejected: usize,
    /// Rejected lines answered without `detail` and `errors` (those after the first
    /// [`DETAILED_REJECTIONS`], or past the detail budget), listed in `undetailed`.
    details_omitted: usize,
    results: Vec<LineResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    undetailed: Vec<Undetailed>,
    /// Bytes of details still allowed (see [`DETAIL_BUDGET`]).
    #[serde(skip)]
    detail_budget: usize,
}

impl BatchSummary {
    fn accept(&mut self, line: usize, committed: &Committed) {
        let (status, id) = match committed {
            Committed::Created(a) => (201, a.id),
            Committed::Updated { new, .. } => (200, new.id),
            Committed::Unchanged(a) => (200, a.id),
            Committed::Deleted(a) => (204, a.id),
        };
        match committed {
            Committed::Created(_) => self.created += 1,
            Committed::Unchanged(_) => self.unchanged += 1,
            _ => self.updated += 1,
        }
        self.results.push(LineResult {
            line,
            status,
            id: Some(id),
            kind: None,
            detail: None,
            errors: vec![],
        });
    }

    /// Records a rejected line: in full while under [`DETAILED_REJECTIONS`] and the detail
    /// budget, otherwise by number only.
    fn reject(&mut self, line: usize, problem: Problem) {
        let cost = detail_cost(&problem);
        self.rejected += 1;
        if self.rejected <= DETAILED_REJECTIONS && cost <= self.detail_budget {
            self.detail_budget -= cost;
            self.results.push(LineResult::rejected(line, problem));
            return;
        }
        self.details_omitted += 1;
        let group = self
            .undetailed
            .iter_mut()
            .find(|g| g.status == problem.status && g.kind == problem.kind);
        match group {
            Some(group) => group.lines.push(line),
            None => self.undetailed.push(Undetailed {
                status: problem.status,
                kind: problem.kind,
                lines: vec![line],
            }),
        }
    }
}

/// `POST /api/articles/batch`: NDJSON, one article per line, each stored or rejected on its own
/// (per-line status, like the single-article API would have answered), all acknowledged by one
/// flush. The response is 200 with the per-line results; it is sent only once every stored line
/// is on disk.
pub async fn batch(app: &Arc<App>, req: &Parts, body: Incoming) -> Response<Body> {
    let result = async {
        let publisher = authenticate(app, req)?;
        require_content_type(
            req,
            &[
                "application/x-ndjson",
                "application/jsonl",
                "application/json-seq",
            ],
        )?;
        let bytes = read_body(app, req, body, app.settings.max_batch_bytes).await?;
        check_line_count(&bytes, app.settings.max_batch_lines)?;
        let app2 = Arc::clone(app);
        let (summary, committed) = tokio::task::spawn_blocking(move || {
            let written = write_lines(&app2, &publisher, &bytes);
            // One flush for the whole batch; nothing is acknowledged before it.
            app2.store.flush_blocking().map(|()| written)
        })
        .await
        .map_err(|e| Problem::internal(format!("batch task failed: {e}")))?
        .map_err(|e| {
            Problem::unavailable(format!("the batch could not be made durable: {e}; send it again"))
        })?;
        app.committed_all(&committed);
        for result in &summary.results {
            if result.status >= 400 {
                app.metrics.writes_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(response::json(StatusCode::OK, &summary))
    };
    result.await.unwrap_or_else(|p: Problem| refused(app, p))
}

/// Validates and writes every non-blank line; returns the answer and every write made (for
/// [`App::committed_all`] once they are durable).
///
/// Lines go in chunks of [`BATCH_CHUNK`], one atomic store batch each. Validation (JSON parsing
/// and HTML sanitizing, most of a line's cost) runs on worker threads, ahead of the writer, so
/// the cores validate the next chunks while the current one is written. Chunks are written in
/// line order, so when two lines carry the same `external_id` the later one wins, as if they had
/// been sent one by one.
fn write_lines(app: &App, publisher: &Publisher, bytes: &[u8]) -> (BatchSummary, Vec<Committed>) {
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(index, line)| (index + 1, line))
        .collect();
    let chunks: Vec<&[(usize, &[u8])]> = lines.chunks(BATCH_CHUNK).collect();
    let validate_chunk = |chunk: &[(usize, &[u8])]| -> Vec<Result<NewArticle, Problem>> {
        chunk.iter().map(|(_, line)| validate_line(app, line)).collect()
    };
    let mut writer = ChunkWriter {
        app,
        publisher,
        summary: BatchSummary {
            detail_budget: DETAIL_BUDGET + bytes.len() / 4,
            ..BatchSummary::default()
        },
        written: Vec::new(),
        failure: None,
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    if workers < 2 {
        for chunk in &chunks {
            writer.write(chunk, validate_chunk(chunk));
        }
    } else {
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            // Bounded, so validators run at most a few chunks ahead of the writer.
            let (tx, rx) = std::sync::mpsc::sync_channel(workers * 2);
            for _ in 0..workers {
                let (tx, next, chunks) = (tx.clone(), &next, &chunks);
                scope.spawn(move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(index) else { break };
                    if tx.send((index, validate_chunk(chunk))).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            // Chunks finish out of order; hold early ones until their turn. (A validator that
            // panics, a bug, stops the stream early and the scope re-raises the panic: the batch
            // then fails with a 500 instead of being answered in part.)
            let mut ready = std::collections::HashMap::new();
            let mut turn = 0;
            for (index, validated) in rx {
                ready.insert(index, validated);
                while let Some(validated) = ready.remove(&turn) {
                    writer.write(chunks[turn], validated);
                    turn += 1;
                }
            }
        });
    }
    let mut summary = writer.summary;
    // Each chunk records its stored lines before its rejected ones.
    summary.results.sort_by_key(|r| r.line);
    (summary, writer.written)
}

/// A line is judged exactly as a single-article body would be, and may be no larger.
fn validate_line(app: &App, line: &[u8]) -> Result<NewArticle, Problem> {
    if line.len() > app.settings.max_body_bytes {
        return Err(too_large(app.settings.max_body_bytes, "a batch line"));
    }
    validate(app, &parse_json(line)?, ExternalId::Required)
}

/// The writing half of a batch: one [`crate::store::Store::write_many`] per chunk.
struct ChunkWriter<'a> {
    app: &'a App,
    publisher: &'a Publisher,
    /// The answer so far: one short [`LineResult`] per line (not the articles, which are large).
    summary: BatchSummary,
    /// The stored lines' writes, for [`App::committed_all`].
    written: Vec<Committed>,
    /// Set when the store failed: later chunks are not tried.
    failure: Option<(u16, String)>,
}

impl ChunkWriter<'_> {
    fn write(&mut self, chunk: &[(usize, &[u8])], validated: Vec<Result<NewArticle, Problem>>) {
        let publisher = self.publisher;
        let mut line_nos = Vec::with_capacity(chunk.len());
        let mut refused = Vec::new();
        // Lazily: the store takes the ops one by one, so a chunk's worth is never moved twice.
        let failure = &self.failure;
        let ops = chunk
            .iter()
            .zip(validated)
            .filter_map(|(&(line, _), result)| match (result, failure) {
                (Err(problem), _) => {
                    refused.push((line, problem));
                    None
                }
                // What was written before the failure stays; upserts are idempotent, so the
                // client can simply send the batch again.
                (Ok(_), Some((status, detail))) => {
                    refused.push((line, not_written(*status, detail)));
                    None
                }
                (Ok(article), None) => {
                    let regions = article.regions.clone();
                    let guard = move |current: Option<&Article>| authorize(publisher, current, &regions);
                    line_nos.push(line);
                    let op = WriteOp::Upsert {
                        publisher: publisher.name.clone(),
                        article,
                    };
                    Some((op, guard))
                }
            });
        match self.app.store.write_many(ops) {
            Ok(results) => {
                for (line, result) in line_nos.into_iter().zip(results) {
                    match result {
                        Ok(committed) => {
                            self.summary.accept(line, &committed);
                            self.written.push(committed);
                        }
                        Err(e) => refused.push((line, write_problem(e))),
                    }
                }
            }
            Err(e) => {
                let problem = write_problem(WriteError::Store(e));
                let lines = line_nos.into_iter();
                refused.extend(lines.map(|line| (line, not_written(problem.status, &problem.detail))));
                self.failure = Some((problem.status, problem.detail));
            }
        }
        // In line order, so the lines answered in full are the first rejected ones.
        refused.sort_by_key(|(line, _)| *line);
        for (line, problem) in refused {
            self.refuse(line, problem);
        }
    }

    /// Records a rejected line (see [`BatchSummary::reject`]).
    fn refuse(&mut self, line: usize, problem: Problem) {
        self.summary.reject(line, problem);
    }
}

/// A batch line that was valid but not stored because the store failed.
fn not_written(status: u16, detail: &str) -> Problem {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Problem::new(
        status,
        "not-written",
        "Not written",
        format!("not written: {detail}"),
    )
}

/// The publisher named by a valid `Authorization: Bearer` token (RFC 6750), or 401.
pub(crate) fn authenticate(app: &App, req: &Parts) -> Result<Publisher, Problem> {
    let token = bearer_token(req, PUBLISHER_REALM, "a publisher token")?;
    match auth::authenticate(&app.store, token) {
        Ok(Some(publisher)) => Ok(publisher),
        Ok(None) => Err(unauthorized(
            PUBLISHER_REALM,
            "invalid_token",
            "the token is unknown or revoked",
        )),
        Err(e) => Err(Problem::internal(e.to_string())),
    }
}

/// The realm publishers' tokens belong to.
const PUBLISHER_REALM: &str = "lenta";

/// 401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3); `error` is empty when the
/// request carried no credentials at all (§3.1: then no error code is sent).
pub(crate) fn unauthorized(realm: &str, error: &str, detail: &str) -> Problem {
    let challenge = if error.is_empty() {
        format!("Bearer realm=\"{realm}\"")
    } else {
        format!("Bearer realm=\"{realm}\", error=\"{error}\"")
    };
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
        .with_header(header::WWW_AUTHENTICATE, &challenge)
}

/// The token of an `Authorization: Bearer <token>` header, or a 401 saying what is missing.
/// The scheme name is case-insensitive (RFC 9110 §11.1).
pub(crate) fn bearer_token<'r>(req: &'r Parts, realm: &str, what: &str) -> Result<&'r str, Problem> {
    let Some(value) = req.headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            realm,
            "",
            &format!("send Authorization: Bearer <token> with {what}"),
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or_else(|| {
            unauthorized(
                realm,
                "invalid_request",
                &format!("the Authorization header must be: Bearer <{what}>"),
            )
        })
}

/// 415 unless the media type is one of `allowed` (compared case-insensitively, parameters such
/// as `charset` ignored).
pub(crate) fn require_content_type(req: &Parts, allowed: &[&str]) -> Result<(), Problem> {
    let media = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if allowed.contains(&media.as_str()) {
        return Ok(());
    }
    let shown = if media.is_empty() {
        "none".to_string()
    } else {
        media
    };
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        format!(
            "Content-Type {shown} is not accepted here; send {}",
            allowed.join(" or ")
        ),
    )
    .with_header(http::HeaderName::from_static("accept-post"), &allowed.join(", ")))
}

/// 413 for a body over `limit` bytes.
fn too_large(limit: usize, what: &str) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Content too large",
        format!("{what} exceeds the limit of {limit} bytes"),
    )
}

/// Reads the body into one buffer (pre-sized from `Content-Length`), refusing a content coding
/// (415), more than `limit` bytes (413, without reading them all) and a body that pauses longer
/// than `--body-timeout` between two reads (408; the connection is then closed).
pub(crate) async fn read_body(
    app: &App,
    req: &Parts,
    mut body: Incoming,
    limit: usize,
) -> Result<Bytes, Problem> {
    require_identity_coding(req)?;
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit, "the body"));
    }
    // One buffer, never a list of chunks copied into another: the body costs its size once.
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let timeout = app.settings.body_timeout;
    loop {
        let frame = match tokio::time::timeout(timeout, body.frame()).await {
            Err(_) => return Err(body_stalled(timeout)),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad-body",
                    "Unreadable body",
                    format!("the body could not be read: {e}"),
                ))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(limit, "the body"));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
}

/// 408 (RFC 9110 §15.5.9) for a body that stopped arriving, with `Connection: close`: the rest
/// of it is never read, so the connection cannot carry another request.
fn body_stalled(timeout: std::time::Duration) -> Problem {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "body-timeout",
        "Request body timed out",
        format!(
            "the body paused for more than {} s between two reads; send it without stalling",
            timeout.as_secs()
        ),
    )
    .with_header(header::CONNECTION, "close")
}

/// 415 with `Accept-Encoding: identity` (RFC 7694 §3) for a body in any content coding but
/// identity (RFC 9110 §8.4): lenta stores what it can read, and reads bodies uncompressed only.
fn require_identity_coding(req: &Parts) -> Result<(), Problem> {
    let mut codings = req.headers.get_all(header::CONTENT_ENCODING).iter().map(|v| {
        v.to_str().map_or_else(
            |_| vec!["(not ASCII)".to_string()],
            |text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
                    .map(|c| c.chars().take(32).collect())
                    .collect()
            },
        )
    });
    let Some(coding) = codings.find_map(|found| found.into_iter().next()) else {
        return Ok(());
    };
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-content-encoding",
        "Unsupported content coding",
        format!(
            "Content-Encoding {coding:?} is not accepted; send the body uncompressed (no \
             Content-Encoding, or identity)"
        ),
    )
    .with_header(header::ACCEPT_ENCODING, "identity"))
}

/// 413 for a batch of more than `limit` lines, counted (blank ones too) before any is parsed.
fn check_line_count(bytes: &[u8], limit: usize) -> Result<(), Problem> {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    let lines = newlines + usize::from(bytes.last().is_some_and(|b| *b != b'\n'));
    if lines <= limit {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-many-lines",
        "Too many lines",
        format!(
            "the batch has {lines} lines; the limit is {limit} lines per batch, send the rest in another"
        ),
    ))
}

/// Content type, size and syntax of a single-article body.
async fn read_json(app: &App, req: &Parts, body: Incoming) -> Result<Value, Problem> {
    require_content_type(req, &["application/json"])?;
    let bytes = read_body(app, req, body, app.settings.max_body_bytes).await?;
    parse_json(&bytes)
}

/// Parses JSON, naming the position of the first problem. Nesting deeper than serde_json's
/// recursion limit (128) is a syntax error, so hostile input cannot exhaust the stack; an
/// object that repeats a key is one too ([`super::json`]), so no field is silently overwritten.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-utf8",
            "Invalid UTF-8",
            format!("the body is not valid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    // serde_json's message already names the line and column.
    super::json::parse_strict(text).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            "Invalid JSON",
            e.to_string(),
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
/// the regions the article has now and `new_regions`, the ones it would have.
/// 404, as for an unknown id, when `current` is another publisher's scheduled article: until it
/// is published nobody but its publisher may learn of it, not even by a refused write (the
/// README's "Scheduling").
fn hide_scheduled(app: &App, publisher: &Publisher, current: Option<&Article>) -> Result<(), Problem> {
    match current {
        Some(a) if a.publisher != publisher.name && app.store.is_scheduled(a) => {
            Err(Problem::not_found(format!("no article with id {}", a.id)))
        }
        _ => Ok(()),
    }
}

fn authorize(
    publisher: &Publisher,
    current: Option<&Article>,
    new_regions: &[RegionCode],
) -> Result<(), Problem> {
    if let Some(current) = current {
        if current.publisher != publisher.name {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "not-owner",
                "Not your article",
                format!(
                    "article {} belongs to another publisher; you may change only your own",
                    current.id
                ),
            ));
        }
    }
    let regions = current.iter().flat_map(|a| a.regions.iter()).chain(new_regions);
    for region in regions {
        if !publisher.may_publish_in(region) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "region-not-accredited",
                "Region not accredited",
                format!(
                    "publisher {} is not accredited for region {region}",
                    publisher.name
                ),
            )
            .with_errors(vec![FieldError::new(
                "regions",
                format!("{region} is outside your accreditation"),
            )]));
        }
    }
    Ok(())
}

fn if_match(req: &Parts) -> Option<String> {
    joined(&req.headers, header::IF_MATCH)
}

/// `If-Match` (RFC 9110 §13.1.1, strong comparison) against the article's ETags in every coding.
fn check_if_match(app: &App, if_match: Option<&str>, current: Option<&Article>) -> Result<(), Problem> {
    let (Some(list), Some(article)) = (if_match, current) else {
        return Ok(());
    };
    if list.trim() == "*" {
        return Ok(());
    }
    let repr = article_representation(article);
    let current: Vec<EntityTag> = [Encoding::Identity, Encoding::Gzip, Encoding::Brotli]
        .iter()
        .map(|e| repr.etag(app, *e))
        .collect();
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
            format!(
                "If-Match does not match the current version of article {}; GET it again and retry",
                article.id
            ),
        ))
    }
}

/// Submits the write to the store's group commit and waits until it is on disk.
async fn commit(
    app: &Arc<App>,
    op: WriteOp,
    guard: impl FnOnce(Option<&Article>) -> Result<(), Problem> + Send + 'static,
) -> Result<Committed, Problem> {
    let submitted = app.store.submit(op, guard);
    start_leader(app, submitted.lead);
    let committed = submitted
        .result
        .await
        .map_err(|_| Problem::internal("the write was abandoned by the store"))?
        .map_err(write_problem)?;
    app.committed(&committed);
    Ok(committed)
}

/// Runs the group commit's leader on a blocking thread when the store says it is needed
/// ([`crate::store::Submitted::lead`]). Not awaited: the leader also commits every write queued
/// meanwhile, possibly long after ours; the writer's answer comes through its `result`.
pub(crate) fn start_leader(app: &Arc<App>, lead: bool) {
    if lead {
        let app2 = Arc::clone(app);
        drop(tokio::task::spawn_blocking(move || app2.store.lead()));
    }
}

pub(crate) fn write_problem(e: WriteError<Problem>) -> Problem {
    match e {
        WriteError::Refused(p) => p,
        WriteError::NotFound(id) => Problem::not_found(format!("no article with id {id}")),
        WriteError::ExternalIdTaken(ext, other) => Problem::new(
            StatusCode::CONFLICT,
            "external-id-taken",
            "external_id in use",
            format!("external_id {ext:?} already names your article {other}"),
        )
        .with_errors(vec![FieldError::new(
            "external_id",
            "already used by another of your articles",
        )]),
        WriteError::Store(e @ StoreError::Group(_)) => Problem::unavailable(e.to_string()),
        WriteError::Store(e) => Problem::internal(e.to_string()),
    }
}

/// Counts a refused write request (for `/metrics`) and answers with its problem.
pub(crate) fn refused(app: &App, problem: Problem) -> Response<Body> {
    app.metrics.writes_refused.fetch_add(1, Ordering::Relaxed);
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
        Committed::Updated { new, .. } | Committed::Unchanged(new) => (StatusCode::OK, new),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("POST").uri("/api/articles");
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn lines_are_counted_with_or_without_a_final_newline() {
        assert!(check_line_count(b"", 0).is_ok());
        assert!(check_line_count(b"a\nb\n", 2).is_ok());
        assert!(check_line_count(b"a\nb", 2).is_ok());
        assert!(check_line_count(b"a\nb\nc", 2).is_err());
        assert!(check_line_count(b"\n\n\n", 2).is_err(), "blank lines count");
        let problem = check_line_count(b"x\nx\nx\n", 2).unwrap_err();
        assert_eq!(problem.status, 413);
        assert!(problem.detail.contains("3 lines") && problem.detail.contains("limit is 2"));
    }

    #[test]
    fn only_identity_bodies_are_read() {
        assert!(require_identity_coding(&parts(&[])).is_ok());
        assert!(require_identity_coding(&parts(&[("content-encoding", "identity")])).is_ok());
        assert!(require_identity_coding(&parts(&[("content-encoding", " Identity ,")])).is_ok());
        for coding in ["gzip", "br", "identity, gzip", "x-custom"] {
            let problem = require_identity_coding(&parts(&[("content-encoding", coding)])).expect_err(coding);
            assert_eq!(problem.status, 415, "{coding}");
            assert!(problem.detail.contains("identity"), "{coding}");
        }
        let two_lines = parts(&[("content-encoding", "identity"), ("content-encoding", "deflate")]);
        let problem = require_identity_coding(&two_lines).expect_err("second line");
        assert!(problem.detail.contains("deflate"));
    }

    #[test]
    fn later_rejections_are_listed_by_number() {
        let problem = || {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-article",
                "Invalid",
                "why",
            )
            .with_errors(vec![FieldError::new("title", "empty")])
        };
        // Room for exactly two detailed rejections.
        let mut summary = BatchSummary {
            detail_budget: 2 * detail_cost(&problem()),
            ..BatchSummary::default()
        };
        for line in 1..=4 {
            summary.reject(line, problem());
        }
        let v = serde_json::to_value(&summary).expect("json");
        assert_eq!(
            (v["rejected"].clone(), v["details_omitted"].clone()),
            (4.into(), 2.into())
        );
        assert_eq!(v["results"][1]["detail"], "why");
        assert_eq!(v["results"][1]["errors"][0]["field"], "title");
        assert_eq!(v["results"][1]["type"], "urn:lenta:problem:invalid-article");
        assert_eq!(
            v["undetailed"],
            serde_json::json!([{"status": 422, "type": "urn:lenta:problem:invalid-article", "lines": [3, 4]}])
        );
    }
}
