//! Building responses: JSON bodies and RFC 9457 problem details.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::model::FieldError;

/// The body type of every response lenta sends: bodies are rendered whole (feeds are cached as
/// bytes), so a streaming body would buy nothing.
pub type Body = Full<Bytes>;

/// A response with `body` and `content_type`.
pub fn bytes(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => bytes(status, "application/json", body),
        Err(e) => Problem::internal(format!("encoding the response failed: {e}")).into_response(),
    }
}

/// An RFC 9457 problem: `type`, `title`, `status`, `detail`, plus `errors`, one per bad field.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The kind of problem; serialized as the URI `urn:lenta:problem:{kind}`.
    #[serde(rename = "type", serialize_with = "problem_type")]
    pub kind: &'static str,
    /// Short summary of the kind.
    pub title: &'static str,
    /// The HTTP status, repeated in the body as RFC 9457 §3.1.2 allows.
    pub status: u16,
    /// What went wrong this time and what to do.
    pub detail: String,
    /// Each invalid field or parameter with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip)]
    headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Problem {
    /// A problem of `kind` (a slug such as `invalid-query`) with status, title and detail.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            kind,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds the field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// Adds a header (`Allow`, `WWW-Authenticate`, `Retry-After`, …).
    pub fn with_header(mut self, name: http::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// 400 for a query string that did not parse.
    pub fn bad_query(errors: Vec<FieldError>) -> Self {
        let detail = summarize(&errors);
        Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query", detail).with_errors(errors)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 500; the detail is logged too.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }

    /// 503 with `Retry-After`, for a store that cannot take writes right now.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "unavailable");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
        .with_header(http::header::RETRY_AFTER, "5")
    }

    /// The response, `application/problem+json`.
    pub fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = bytes(status, "application/problem+json", body);
        for (name, value) in self.headers {
            res.headers_mut().append(name, value);
        }
        res
    }
}

/// Encodes a response body as JSON; failing to is a server bug (500).
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Problem> {
    serde_json::to_vec(value).map_err(|e| Problem::internal(format!("encoding the response failed: {e}")))
}

/// A renderer failure is the server's fault (500).
impl From<crate::feed::RenderError> for Problem {
    fn from(e: crate::feed::RenderError) -> Self {
        Problem::internal(e.to_string())
    }
}

/// A store failure inside a request is the server's fault (500), never the client's.
impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        Problem::internal(e.to_string())
    }
}

/// The `type` member (RFC 9457 §3.1.1): a URI per kind of problem.
fn problem_type<S: serde::Serializer>(kind: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&type_uri(kind))
}

/// The problem type URI of `kind`, also where a short answer names a problem without its body.
pub fn type_uri(kind: &str) -> String {
    format!("urn:lenta:problem:{kind}")
}

/// One line naming every bad field, for `detail`.
pub fn summarize(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect();
    parts.join("; ")
}
