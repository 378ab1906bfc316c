//! `/feeds.opml`: the subscription list of every region's feeds (or of `?region=` ones), in RSS by
//! default or the `?format=` asked for.
//!
//! It is served like a feed (validators, 304s, the render cache) through
//! [`super::representation`]. Its bytes depend only on the portal's settings and the region
//! directory (both in the render fingerprint) and the query; the change state of the listed
//! regions is added so that `Last-Modified` is the last change of what it lists, which costs a
//! re-render after a write and nothing else.

use std::sync::Arc;

use http::request::Parts;
use http::Response;

use super::representation::{self, Representation};
use super::response::{Body, Problem};
use crate::app::App;
use crate::feed::{opml, Format};
use crate::model::FieldError;
use crate::query::FeedQuery;

/// What `/feeds.opml` accepts.
const PARAMS: &str = "region, format";

/// Answers a `/feeds.opml` request.
pub async fn opml(app: &Arc<App>, req: &Parts) -> Response<Body> {
    let (format, regions) = match parse(app, req.uri.query()) {
        Ok(parsed) => parsed,
        Err(errors) => return Problem::bad_query(errors).into_response(),
    };
    let canonical = format!("format={}&{}", format.extension(), regions.canonical());
    let repr = Representation::new(app, "opml", opml::CONTENT_TYPE, canonical, &regions.regions);
    let render = Box::new(move |app: &App| Ok(opml::render(&app.feed_context(), &regions.regions, format)));
    representation::serve(app, &req.method, &req.headers, repr, render).await
}

/// `format` (once: rss, atom or json) and `region` (parsed exactly as the feeds parse it); any
/// other parameter is refused, naming what is allowed.
fn parse(app: &App, raw: Option<&str>) -> Result<(Format, FeedQuery), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut format = None;
    let mut regions = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "region" => {
                regions.append_pair("region", &value);
            }
            "format" if format.is_some() => {
                errors.push(FieldError::new("format", "given more than once; give it once"));
            }
            "format" => match Format::from_extension(&value) {
                Some(f) => format = Some(f),
                None => {
                    format = Some(Format::Rss);
                    errors.push(FieldError::new(
                        "format",
                        format!(
                            "unknown format {:?}; use rss (the default), atom or json",
                            crate::http::response::truncate_chars(&value, 32)
                        ),
                    ));
                }
            },
            other => errors.push(FieldError::new(
                crate::http::response::truncate_chars(other, 64),
                format!("unknown parameter; allowed parameters are {PARAMS}"),
            )),
        }
    }
    match FeedQuery::parse(Some(&regions.finish()), None, app.query_context()) {
        Ok(query) if errors.is_empty() => Ok((format.unwrap_or(Format::Rss), query)),
        Ok(_) => Err(errors),
        Err(mut more) => {
            errors.append(&mut more);
            Err(errors)
        }
    }
}
