//! Building responses: JSON bodies and RFC 9457 problem details.
//!
//! A problem answer is bounded whatever the request was: at most [`MAX_LISTED_ERRORS`] field
//! errors are listed (then one entry counting the rest), every echoed piece of input is cut to
//! [`MAX_ECHO_CHARS`], reasons and `detail` to a fixed length. This happens here, when a
//! [`Problem`] is built, so every endpoint gets it (a 0.9 MB body of unknown keys must not earn a
//! 30 MB answer).

use std::borrow::Cow;

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

/// Field errors listed in one problem (and in one batch line's result); more are counted in a
/// last entry, "… and N more".
pub const MAX_LISTED_ERRORS: usize = 20;

/// Field errors named in a problem's one-line `detail`; the `errors` list has the rest.
pub const MAX_SUMMARIZED_ERRORS: usize = 5;

/// Characters of client input (a key name, a value) a message repeats; longer input is cut on a
/// character boundary and marked with "…".
pub const MAX_ECHO_CHARS: usize = 64;

/// Characters of one error's reason: our own text plus at most one short echo.
const MAX_REASON_CHARS: usize = 512;

/// Characters of a problem's `detail`.
const MAX_DETAIL_CHARS: usize = 2_048;

/// `s` cut to at most `max` characters (on a character boundary), ending in "…" when cut.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((end, _)) => {
            let keep = s[..end].char_indices().last().map_or(0, |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..keep]))
        }
    }
}

/// Client input as a message quotes it: cut to [`MAX_ECHO_CHARS`] and `{:?}`-quoted, so control
/// characters show as escapes and a message cannot grow with the input.
pub fn echo(s: &str) -> String {
    format!("{:?}", truncate_chars(s, MAX_ECHO_CHARS))
}

/// Field errors as a problem lists them: at most [`MAX_LISTED_ERRORS`] (then one entry counting
/// the rest), each field name cut like an echo (an unknown key is the client's text) and each
/// reason cut to a fixed length.
pub fn cap_errors(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    let more = errors.len().saturating_sub(MAX_LISTED_ERRORS);
    errors.truncate(MAX_LISTED_ERRORS);
    for e in &mut errors {
        if let Cow::Owned(cut) = truncate_chars(&e.field, MAX_ECHO_CHARS) {
            e.field = cut;
        }
        if let Cow::Owned(cut) = truncate_chars(&e.reason, MAX_REASON_CHARS) {
            e.reason = cut;
        }
    }
    if more > 0 {
        errors.push(FieldError::new(
            "…",
            format!("… and {more} more errors not listed; fix these and send again"),
        ));
    }
    errors
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
            detail: truncate_chars(&detail.into(), MAX_DETAIL_CHARS).into_owned(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds the field errors, capped by [`cap_errors`]. A problem without a `detail` gets the
    /// errors' summary as one, so no problem goes out without saying what was wrong.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        if self.detail.is_empty() {
            self.detail = summarize(&errors);
        }
        self.errors = cap_errors(errors);
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

/// A store failure inside a request is the server's fault (500), never the client's; a search
/// index that fell behind after a failed commit is unavailable until a restart rebuilds it (503).
impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::{search::SearchError, StoreError};
        match e {
            StoreError::Search(SearchError::Broken) | StoreError::SearchClosed => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "search-unavailable",
                "Search unavailable",
                format!("{e}; feeds without q= are served as usual"),
            ),
            e => Problem::internal(e.to_string()),
        }
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

/// One line naming the first [`MAX_SUMMARIZED_ERRORS`] bad fields (input cut as by
/// [`cap_errors`]), for `detail`; never empty.
pub fn summarize(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "the request is invalid".into();
    }
    let mut parts: Vec<String> = cap_errors(errors.iter().take(MAX_SUMMARIZED_ERRORS).cloned().collect())
        .iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect();
    if errors.len() > MAX_SUMMARIZED_ERRORS {
        parts.push(format!("… and {} more", errors.len() - MAX_SUMMARIZED_ERRORS));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncate_chars("абв", 3), "абв");
        assert_eq!(truncate_chars("абвг", 3), "аб…");
        assert_eq!(truncate_chars("", 0), "");
        assert_eq!(echo(&"я".repeat(1_000)).chars().count(), MAX_ECHO_CHARS + 2);
    }

    #[test]
    fn errors_are_capped_and_counted() {
        let errors: Vec<FieldError> = (0..1_000)
            .map(|i| FieldError::new(format!("{i}{}", "k".repeat(10_000)), "unknown field"))
            .collect();
        let capped = cap_errors(errors.clone());
        assert_eq!(capped.len(), MAX_LISTED_ERRORS + 1);
        assert!(capped.iter().all(|e| e.field.chars().count() <= MAX_ECHO_CHARS));
        assert!(capped[MAX_LISTED_ERRORS].reason.contains("980 more"));
        let detail = summarize(&errors);
        assert!(detail.len() < 1_000, "{}", detail.len());
        assert!(detail.contains("995 more"), "{detail}");
        let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "x", "X", "").with_errors(errors);
        assert!(!problem.detail.is_empty());
        assert!(serde_json::to_vec(&problem).unwrap().len() < 4_000);
    }
}
