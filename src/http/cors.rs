//! CORS for the public read resources: the preflight a partner's browser script sends before a
//! conditional GET.
//!
//! `If-None-Match` and `If-Modified-Since` are not CORS-safelisted request headers, so a script
//! that revalidates a feed makes the browser ask first with `OPTIONS` (Fetch standard, "CORS
//! preflight fetch"). The answer allows the safe methods and exactly those conditional headers;
//! the GET answers themselves carry `Access-Control-Allow-Origin: *` and expose the validators
//! (see `cache_headers` in [`super::representation`]).

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;

use super::representation::joined;
use super::response::Body;

/// Request headers a cross-origin reader may send: the conditional ones and the coding choice.
const ALLOWED_HEADERS: [&str; 3] = ["if-none-match", "if-modified-since", "accept-encoding"];

/// How long a browser may reuse the preflight answer, in seconds (Chromium caps it at 7200).
const MAX_AGE: &str = "7200";

/// 204 answering `OPTIONS` on a public resource allowing `allowed` methods: the CORS preflight
/// grants GET and HEAD from any origin, and of the requested headers only the allowed ones.
pub fn preflight(headers: &HeaderMap, allowed: &[Method]) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
        h.insert(header::ALLOW, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    let granted = granted_headers(headers);
    if !granted.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&granted.join(", ")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
    }
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    // The answer reflects the requested headers.
    h.insert(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    res
}

/// The members of `Access-Control-Request-Headers` that are in [`ALLOWED_HEADERS`], lower-case
/// and without duplicates, in the order asked.
fn granted_headers(headers: &HeaderMap) -> Vec<&'static str> {
    let requested = joined(headers, header::ACCESS_CONTROL_REQUEST_HEADERS).unwrap_or_default();
    let mut granted = Vec::new();
    for name in requested.split(',').map(str::trim) {
        let found = ALLOWED_HEADERS.iter().find(|a| a.eq_ignore_ascii_case(name));
        if let Some(allowed) = found {
            if !granted.contains(allowed) {
                granted.push(*allowed);
            }
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn only_the_conditional_headers_are_granted() {
        assert_eq!(
            granted_headers(&asked("If-None-Match, authorization,IF-MODIFIED-SINCE, x-evil")),
            ["if-none-match", "if-modified-since"]
        );
        assert_eq!(
            granted_headers(&asked("if-none-match, If-None-Match")),
            ["if-none-match"]
        );
        assert!(granted_headers(&asked("authorization")).is_empty());
        assert!(granted_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn preflight_grants_safe_methods_only() {
        let res = preflight(
            &asked("if-none-match"),
            &[Method::GET, Method::HEAD, Method::OPTIONS],
        );
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let h = res.headers();
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], "if-none-match");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[header::ALLOW], "GET, HEAD, OPTIONS");
    }
}
