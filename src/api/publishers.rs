//! The admin API: accredit, list and revoke publishers while the server runs.
//!
//! `lenta publisher add|list|revoke` cannot open a data directory a running server holds (sled
//! locks it), so operators need the same three operations over HTTP:
//!
//! - `GET /api/publishers`: every publisher, without token hashes;
//! - `POST /api/publishers` with `{"name": "...", "regions": ["RU-NIZ"]}` (`regions` absent = all
//!   regions; `null` and `[]` are refused, as the article API treats `null` as missing: an
//!   all-regions accreditation must be asked for by leaving the field out, never by accident):
//!   201 with the new token, shown this once and never again; `"syndicate": true` allows its
//!   articles in the aggregator feeds (`/yandex.rss`), which leave outside publishers out;
//! - `DELETE /api/publishers/{name}`: revoke the token (204); the articles stay.
//!
//! Every call needs `Authorization: Bearer <admin token>`, the secret the server was started with
//! (`LENTA_ADMIN_TOKEN`). Without one configured the API is off and says so with a 403: no
//! credential could help, and the problem tells the operator how to turn it on. Responses are
//! `Cache-Control: no-store` (one carries a secret, all describe who may write).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::Value;

use super::write::{bearer_token, parse_json, read_body, require_content_type, unauthorized};
use crate::app::App;
use crate::auth::{self, AuthError, Publisher};
use crate::http::blocking;
use crate::http::response::{self, Body, Problem};
use crate::model::FieldError;
use crate::regions::RegionCode;

/// The realm of the admin token, distinct from publishers' so a client can tell which
/// credential a 401 asks for.
const ADMIN_REALM: &str = "lenta-admin";

/// Fields a `POST /api/publishers` body may have.
const FIELDS: &[&str] = &["name", "regions", "syndicate"];

#[derive(Serialize)]
struct Listing {
    publishers: Vec<Publisher>,
}

/// A new publisher with its token: the only response that ever contains a token.
#[derive(Serialize)]
struct Accredited {
    #[serde(flatten)]
    publisher: Publisher,
    token: String,
}

/// `GET /api/publishers`.
pub async fn list(app: &Arc<App>, req: &Parts) -> Response<Body> {
    let result = async {
        require_admin(app, req)?;
        let publishers = blocking(app, |app| auth::list(&app.store).map_err(auth_problem)).await?;
        let publishers = publishers.iter().map(Publisher::public).collect();
        Ok(no_store(response::json(StatusCode::OK, &Listing { publishers })))
    };
    result.await.unwrap_or_else(Problem::into_response)
}

/// `POST /api/publishers`: accredit a publisher; 201 with its token.
pub async fn create(app: &Arc<App>, req: &Parts, body: Incoming) -> Response<Body> {
    let result = async {
        require_admin(app, req)?;
        require_content_type(req, &["application/json"])?;
        let value = parse_json(&read_body(app, req, body, app.settings.max_body_bytes).await?)?;
        let (name, regions, syndicate) = parse_request(app, &value)?;
        let (publisher, token) = blocking(app, move |app| {
            auth::add(&app.store, &name, regions, syndicate).map_err(auth_problem)
        })
        .await?;
        tracing::info!(publisher = %publisher.name, "publisher accredited through the admin API");
        let location = format!("{}/api/publishers/{}", app.settings.base_url, publisher.name);
        let mut res = response::json(
            StatusCode::CREATED,
            &Accredited {
                publisher: publisher.public(),
                token,
            },
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        Ok(no_store(res))
    };
    result.await.unwrap_or_else(Problem::into_response)
}

/// `DELETE /api/publishers/{name}`: revoke; 204 (also when it was already revoked).
pub async fn revoke(app: &Arc<App>, req: &Parts, name: &str) -> Response<Body> {
    let result = async {
        require_admin(app, req)?;
        let owned = name.to_string();
        let publisher = blocking(app, move |app| {
            auth::revoke(&app.store, &owned).map_err(auth_problem)
        })
        .await?;
        tracing::info!(publisher = %publisher.name, "publisher revoked through the admin API");
        let mut res = Response::new(http_body_util::Full::new(bytes::Bytes::new()));
        *res.status_mut() = StatusCode::NO_CONTENT;
        Ok(no_store(res))
    };
    result.await.unwrap_or_else(Problem::into_response)
}

/// 403 when no admin token is configured, 401 unless the request carries it.
fn require_admin(app: &App, req: &Parts) -> Result<(), Problem> {
    let Some(expected) = app.settings.admin_token.as_deref() else {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "admin-disabled",
            "Admin API disabled",
            "the admin API is off because no admin token is configured: start lenta serve with \
             LENTA_ADMIN_TOKEN set to a long random secret and send Authorization: Bearer <that secret>; \
             on a stopped server, `lenta publisher add|list|revoke` do the same",
        ));
    };
    let token = bearer_token(req, ADMIN_REALM, "the admin token")?;
    if auth::secrets_equal(token, expected) {
        Ok(())
    } else {
        Err(unauthorized(
            ADMIN_REALM,
            "invalid_token",
            "this is not the admin token (LENTA_ADMIN_TOKEN)",
        ))
    }
}

/// Checks a `POST` body, listing every bad field (422) as the article API does.
/// A parsed accreditation: name, regions (None = all), and whether its articles may be
/// syndicated to the aggregator feeds.
type Accreditation = (String, Option<Vec<RegionCode>>, bool);

fn parse_request(app: &App, value: &Value) -> Result<Accreditation, Problem> {
    let Some(obj) = value.as_object() else {
        return Err(invalid(vec![FieldError::new(
            "",
            "expected a JSON object: {\"name\": ..., \"regions\": [...]}",
        )]));
    };
    let mut errors: Vec<FieldError> = obj
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.clone(),
                format!("unknown field; allowed: {}", FIELDS.join(", ")),
            )
        })
        .collect();
    let name = match obj.get("name") {
        Some(Value::String(n)) if auth::valid_name(n) => Some(n.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                "name",
                "use 1–64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
            None
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::new(
                "name",
                "required: the publisher's name (a-z, 0-9, '.', '_', '-')",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                "name",
                "expected a string of 1–64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
            None
        }
    };
    let regions = match obj.get("regions") {
        None => None,
        Some(Value::Null) => {
            errors.push(FieldError::new(
                "regions",
                "null is not a region list: name at least one region, or omit the field for all regions",
            ));
            None
        }
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError::new(
                "regions",
                "name at least one region, or omit the field for all regions",
            ));
            None
        }
        Some(Value::Array(items)) => {
            let mut codes = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(|code| (code, app.regions.lookup(code))) {
                    Some((_, Some(region))) => codes.push(region.code.clone()),
                    Some((code, None)) => errors.push(FieldError::new(
                        format!("regions[{i}]"),
                        format!(
                            "unknown region {}; the known codes are listed at /api/regions",
                            response::echo(code)
                        ),
                    )),
                    None => errors.push(FieldError::new(
                        format!("regions[{i}]"),
                        "expected a region code string",
                    )),
                }
            }
            codes.sort();
            codes.dedup();
            Some(codes)
        }
        Some(_) => {
            errors.push(FieldError::new(
                "regions",
                "expected an array of region codes, e.g. [\"RU-NIZ\"]",
            ));
            None
        }
    };
    let syndicate = match obj.get("syndicate") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new(
                "syndicate",
                "expected true (its articles may appear in the aggregator feeds) or false (the default)",
            ));
            false
        }
    };
    match name {
        Some(name) if errors.is_empty() => Ok((name, regions, syndicate)),
        _ => Err(invalid(errors)),
    }
}

fn invalid(errors: Vec<FieldError>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-publisher",
        "Invalid publisher",
        response::summarize(&errors),
    )
    .with_errors(errors)
}

fn auth_problem(e: AuthError) -> Problem {
    match e {
        AuthError::BadName(_) => invalid(vec![FieldError::new("name", e.to_string())]),
        AuthError::UnknownRegion(_) => invalid(vec![FieldError::new("regions", e.to_string())]),
        AuthError::Exists(_) => Problem::new(
            StatusCode::CONFLICT,
            "publisher-exists",
            "Publisher exists",
            e.to_string(),
        )
        .with_errors(vec![FieldError::new(
            "name",
            "an active publisher has this name; revoke it first",
        )]),
        AuthError::NotFound(_) => Problem::not_found(e.to_string()),
        AuthError::Store(e) => Problem::internal(e.to_string()),
    }
}

fn no_store(mut res: Response<Body>) -> Response<Body> {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
