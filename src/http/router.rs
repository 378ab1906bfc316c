//! Routing: path and method to handler, with 404 and 405 (with `Allow`) as problem details.
//!
//! One explicit match over path segments, as in hyper's examples: every route is visible here.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{header, Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use super::aggregators;
use super::assets::{self, AssetKind};
use super::cors;
use super::feeds;
use super::opml;
use super::response::{self, Body, Problem};
use super::sitemaps;
use crate::api;
use crate::app::App;
use crate::feed::Format;
use crate::html;

/// A matched route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Index,
    Feed(Format, Option<&'a str>),
    Opml,
    SitemapIndex,
    Sitemap(&'a str),
    Robots,
    NewsSitemap,
    Yandex(Option<&'a str>),
    Dzen(Option<&'a str>),
    Asset(AssetKind),
    RegionPage(&'a str),
    CalendarPage(&'a str),
    ArticlePage(u64),
    DayPage(&'a str),
    SearchPage,
    Articles,
    ArticlesBatch,
    Article(u64),
    ArticleViews(u64),
    Publishers,
    Publisher(&'a str),
    Regions,
    Calendar,
    Health,
    Metrics,
}

impl<'a> Route<'a> {
    /// Matches a path; None is a 404. An empty segment (`//feed.rss`, `/regions//`) names
    /// nothing, except the final one of a region page (`/regions/{code}/`) and of `/`.
    fn parse(path: &'a str) -> Option<Self> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let inner = &segments[..segments.len() - 1];
        if inner.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(match segments.as_slice() {
            [""] => Route::Index,
            [file] => match file.strip_prefix("feed.").and_then(Format::from_extension) {
                Some(format) => Route::Feed(format, None),
                None if *file == "healthz" => Route::Health,
                None if *file == "metrics" => Route::Metrics,
                None if *file == "feeds.opml" => Route::Opml,
                None if *file == "sitemap.xml" => Route::SitemapIndex,
                None if *file == "robots.txt" => Route::Robots,
                None if *file == "sitemap-news.xml" => Route::NewsSitemap,
                None if *file == "yandex.rss" => Route::Yandex(None),
                None if *file == "search" => Route::SearchPage,
                None if *file == "dzen.rss" => Route::Dzen(None),
                None if file.starts_with(crate::feed::sitemap::PREFIX) => {
                    Route::Sitemap(&file[crate::feed::sitemap::PREFIX.len()..])
                }
                None => Route::Asset(AssetKind::from_file_name(file)?),
            },
            ["regions", code, ""] => Route::RegionPage(code),
            ["calendar", month] => Route::CalendarPage(month),
            ["articles", id] => Route::ArticlePage(canonical_id(id)?),
            ["days", day] => Route::DayPage(day),
            ["regions", code, "yandex.rss"] => Route::Yandex(Some(code)),
            ["regions", code, "dzen.rss"] => Route::Dzen(Some(code)),
            ["regions", code, file] => Route::Feed(
                file.strip_prefix("feed.").and_then(Format::from_extension)?,
                Some(code),
            ),
            ["api", "articles"] => Route::Articles,
            ["api", "articles", "batch"] => Route::ArticlesBatch,
            ["api", "articles", id] => Route::Article(canonical_id(id)?),
            ["api", "articles", id, "views"] => Route::ArticleViews(canonical_id(id)?),
            ["api", "publishers"] => Route::Publishers,
            ["api", "publishers", name] if !name.is_empty() => Route::Publisher(name),
            ["api", "regions"] => Route::Regions,
            ["api", "calendar"] => Route::Calendar,
            _ => return None,
        })
    }

    /// Methods the route answers (HEAD wherever GET; OPTIONS, the CORS preflight, wherever
    /// the public may read cross-origin).
    fn allowed(self) -> &'static [Method] {
        const READ: &[Method] = &[Method::GET, Method::HEAD];
        const PUBLIC: &[Method] = &[Method::GET, Method::HEAD, Method::OPTIONS];
        match self {
            Route::Articles => &[Method::GET, Method::HEAD, Method::POST, Method::OPTIONS],
            Route::ArticlesBatch => &[Method::POST],
            Route::Article(_) => &[
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ],
            Route::ArticleViews(_) => &[Method::GET, Method::HEAD, Method::POST],
            Route::Publishers => &[Method::GET, Method::HEAD, Method::POST],
            Route::Publisher(_) => &[Method::DELETE],
            Route::Health | Route::Metrics | Route::Asset(_) => READ,
            Route::Index
            | Route::Feed(..)
            | Route::Opml
            | Route::SitemapIndex
            | Route::Sitemap(_)
            | Route::Robots
            | Route::NewsSitemap
            | Route::Yandex(_)
            | Route::Dzen(_)
            | Route::RegionPage(_)
            | Route::CalendarPage(_)
            | Route::ArticlePage(_)
            | Route::DayPage(_)
            | Route::SearchPage
            | Route::Regions
            | Route::Calendar => PUBLIC,
        }
    }

    /// The region code in the path (`/regions/{code}/…`), if any.
    fn path_region(self) -> Option<&'a str> {
        match self {
            Route::RegionPage(code)
            | Route::Feed(_, Some(code))
            | Route::Yandex(Some(code))
            | Route::Dzen(Some(code)) => Some(code),
            _ => None,
        }
    }

    /// A low-cardinality name for metrics and logs.
    fn name(self) -> &'static str {
        match self {
            Route::Index => "index",
            Route::Feed(..) => "feed",
            Route::Opml => "opml",
            Route::SitemapIndex | Route::Sitemap(_) => "sitemap",
            Route::NewsSitemap => "news_sitemap",
            Route::Yandex(_) => "yandex",
            Route::Dzen(_) => "dzen",
            Route::Robots => "robots",
            Route::Asset(_) => "asset",
            Route::RegionPage(_) => "region_page",
            Route::CalendarPage(_) => "calendar_page",
            Route::ArticlePage(_) => "article_page",
            Route::DayPage(_) => "day_page",
            Route::SearchPage => "search_page",
            Route::Articles => "articles",
            Route::ArticlesBatch => "articles_batch",
            Route::Article(_) => "article",
            Route::ArticleViews(_) => "article_views",
            Route::Publishers => "publishers",
            Route::Publisher(_) => "publisher",
            Route::Regions => "regions",
            Route::Calendar => "calendar",
            Route::Health => "healthz",
            Route::Metrics => "metrics",
        }
    }
}

/// The service function: answers one request, logs it and counts it.
pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string());
    let has_body = !hyper::body::Body::is_end_stream(req.body());
    let (route_name, mut res) = if let Some(res) = too_many_header_bytes(&req, app.settings.max_header_bytes)
    {
        ("header_too_large", res)
    } else if let Some(res) = bad_host(&req) {
        ("bad_host", res)
    } else if let Some(res) = rate_limited(&app, req.uri().path(), peer) {
        ("rate_limited", res)
    } else {
        dispatch(&app, req).await
    };
    if has_body && (res.status().is_client_error() || res.status().is_server_error()) {
        close_after(&mut res);
    }
    let elapsed = started.elapsed();
    app.metrics.observe(route_name, res.status().as_u16(), elapsed);
    tracing::info!(
        target: "lenta::request",
        %peer,
        %method,
        target = %target,
        route = route_name,
        status = res.status().as_u16(),
        micros = elapsed.as_micros() as u64,
        "request"
    );
    Ok(res)
}

/// Says `Connection: close` on a refusal of a request that carried a body.
///
/// A refusal may come before the body is read (401, 413, 415 are decided from the headers), and
/// hyper then closes the connection rather than read a body nobody wants. Without this header
/// the client does not know, reuses the connection, and loses its next request to the closed
/// socket (found by the fuzz suite). RFC 9112 §9.6: a server that is going to close says so.
/// Refused writes are rare, so closing after every one is cheaper than tracking which bodies were
/// read whole.
fn close_after(res: &mut Response<Body>) {
    res.headers_mut()
        .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
}

async fn dispatch(app: &Arc<App>, req: Request<Incoming>) -> (&'static str, Response<Body>) {
    let path = req.uri().path().to_string();
    let Some(route) = Route::parse(&path) else {
        let problem = Problem::not_found(format!("no resource at {path}; start at / or /api/regions"));
        return ("not_found", problem.into_response());
    };
    if !route.allowed().contains(req.method()) {
        return (route.name(), method_not_allowed(route.allowed()));
    }
    if let Some(code) = route.path_region() {
        if app.regions.lookup(code).is_none() {
            return (route.name(), unknown_region(code).into_response());
        }
    }
    let (parts, body) = req.into_parts();
    let res = match (route, &parts.method) {
        (_, &Method::OPTIONS) => cors::preflight(&parts.headers, route.allowed()),
        (Route::Index, _) => html::index(app, &parts).await,
        (Route::RegionPage(code), _) => html::region_page(app, &parts, code).await,
        (Route::CalendarPage(month), _) => html::calendar_page(app, &parts, month).await,
        (Route::ArticlePage(id), _) => html::article::page(app, &parts, id).await,
        (Route::DayPage(day), _) => html::day::page(app, &parts, day).await,
        (Route::SearchPage, _) => html::search::page(app, &parts).await,
        (Route::Feed(format, region), _) => feeds::feed(app, &parts, format, region).await,
        (Route::Opml, _) => opml::opml(app, &parts).await,
        (Route::SitemapIndex, _) => sitemaps::index(app, &parts).await,
        (Route::Sitemap(file), _) => sitemaps::month(app, &parts, file).await,
        (Route::Robots, _) => sitemaps::robots(app, &parts).await,
        (Route::NewsSitemap, _) => aggregators::news(app, &parts).await,
        (Route::Yandex(region), _) => aggregators::yandex(app, &parts, region).await,
        (Route::Dzen(region), _) => aggregators::dzen(app, &parts, region).await,
        (Route::Asset(kind), _) => assets::serve(app.assets.get(kind), &parts.method, &parts.headers),
        (Route::Articles, &Method::POST) => api::write::create(app, &parts, body).await,
        (Route::Articles, _) => api::articles::list(app, &parts).await,
        (Route::ArticlesBatch, _) => api::write::batch(app, &parts, body).await,
        (Route::Article(id), &Method::PUT) => api::write::replace(app, &parts, body, id).await,
        (Route::Article(id), &Method::DELETE) => api::write::delete(app, &parts, id).await,
        (Route::Article(id), _) => api::articles::get(app, &parts, id).await,
        (Route::ArticleViews(id), &Method::POST) => api::views::add(app, &parts, body, id).await,
        (Route::ArticleViews(id), _) => api::views::get(app, id).await,
        (Route::Publishers, &Method::POST) => api::publishers::create(app, &parts, body).await,
        (Route::Publishers, _) => api::publishers::list(app, &parts).await,
        (Route::Publisher(name), _) => api::publishers::revoke(app, &parts, name).await,
        (Route::Regions, _) => api::regions::list(app, &parts).await,
        (Route::Calendar, _) => api::calendar::calendar(app, &parts).await,
        (Route::Health, _) => health(app),
        (Route::Metrics, _) => {
            let text = app.metrics.render(&app.gauges());
            response::bytes(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text)
        }
    };
    (route.name(), res)
}

/// An article id as the API writes it: decimal digits without sign or leading zero, so each
/// article has exactly one URL (`/api/articles/+7` and `/api/articles/07` are 404s).
fn canonical_id(text: &str) -> Option<u64> {
    let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    text.parse().ok().filter(|_| canonical)
}

/// 404 for a region code in the path that the directory does not know. The code is part of the
/// resource's name, so the resource does not exist (RFC 9110 §15.5.5), for the region page and
/// its feeds alike; an unknown `?region=` on a resource that exists is a 400 instead.
pub fn unknown_region(code: &str) -> Problem {
    let shown: String = code.chars().take(32).collect();
    Problem::not_found(format!(
        "unknown region {shown:?}; the known region codes are listed at /api/regions"
    ))
}

/// 431 (RFC 6585 §5) when the request line and header fields add up to more than `limit` bytes,
/// counted as sent on the wire (`name: value` and CRLF per field).
fn too_many_header_bytes<B>(req: &Request<B>, limit: usize) -> Option<Response<Body>> {
    // The target as sent (origin form; an absolute form adds its scheme and authority), measured
    // without formatting the URI: this runs before every answer, 304s and cache hits included.
    let uri = req.uri();
    let target = uri.path_and_query().map_or(1, |pq| pq.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    let total = line + fields;
    if total <= limit {
        return None;
    }
    let detail = format!(
        "the request line and header fields take {total} bytes; at most {limit} are accepted \
         (--max-header-bytes); send smaller or fewer headers"
    );
    let mut res = Problem::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "header-too-large",
        "Request header fields too large",
        detail,
    )
    .into_response();
    close_after(&mut res);
    Some(res)
}

/// 400 for a request without exactly one valid `Host` (RFC 9112 §3.2): an HTTP/1.1 request must
/// carry one; no request may carry two, or one that is not a host\[:port\].
fn bad_host<B>(req: &Request<B>) -> Option<Response<Body>> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let problem = match (hosts.next(), hosts.next()) {
        (None, _) if req.version() == Version::HTTP_11 => "the request has no Host header",
        (None, _) => return None,
        (Some(_), Some(_)) => "the request has more than one Host header",
        (Some(host), None) if !valid_host(host.as_bytes()) => "the Host header is not a host[:port]",
        (Some(_), None) => return None,
    };
    let detail = format!("{problem}; send exactly one Host: host[:port] (RFC 9112 §3.2)");
    Some(Problem::new(StatusCode::BAD_REQUEST, "bad-host", "Bad Host header", detail).into_response())
}

/// RFC 9110 §7.2: `Host = uri-host [ ":" port ]`, empty allowed (a target without authority).
fn valid_host(host: &[u8]) -> bool {
    host.is_empty() || http::uri::Authority::try_from(host).is_ok_and(|a| !a.as_str().contains('@'))
}

/// 429 with `Retry-After` (RFC 6585 §4) when the client's IP is over `--rate-limit`.
/// Health and metrics stay reachable so monitoring never trips the limit.
fn rate_limited(app: &App, path: &str, peer: SocketAddr) -> Option<Response<Body>> {
    let limiter = app.rate_limiter.as_ref()?;
    if path == "/healthz" || path == "/metrics" {
        return None;
    }
    let not_until = limiter.check_key(&peer.ip()).err()?;
    let wait = not_until.wait_time_from(governor::clock::Clock::now(
        &governor::clock::DefaultClock::default(),
    ));
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!(
                "this client is over {} requests per second; retry in {secs} s",
                app.settings.rate_limit.unwrap_or(0)
            ),
        )
        .with_header(header::RETRY_AFTER, &secs.max(1).to_string())
        .into_response(),
    )
}

fn method_not_allowed(allowed: &[Method]) -> Response<Body> {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    let list = list.join(", ");
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("this resource allows {list}"),
    )
    .with_header(header::ALLOW, &list)
    .into_response()
}

fn health(app: &App) -> Response<Body> {
    let body = serde_json::json!({ "status": "ok", "articles": app.store.article_count() });
    let mut res = response::json(StatusCode::OK, &body);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/"), Some(Route::Index));
        assert_eq!(Route::parse("/feed.atom"), Some(Route::Feed(Format::Atom, None)));
        assert_eq!(
            Route::parse("/regions/ru-niz/feed.json"),
            Some(Route::Feed(Format::Json, Some("ru-niz")))
        );
        assert_eq!(
            Route::parse("/regions/RU-NIZ/"),
            Some(Route::RegionPage("RU-NIZ"))
        );
        assert_eq!(Route::parse("/api/articles/17"), Some(Route::Article(17)));
        assert_eq!(Route::parse("/articles/17"), Some(Route::ArticlePage(17)));
        assert_eq!(
            Route::parse("/api/articles/17/views"),
            Some(Route::ArticleViews(17))
        );
        assert_eq!(Route::parse("/api/articles/017/views"), None);
        assert_eq!(Route::parse("/articles/017"), None);
        assert_eq!(
            Route::parse("/days/2024-05-17"),
            Some(Route::DayPage("2024-05-17"))
        );
        assert_eq!(Route::parse("/api/articles/x"), None);
        assert_eq!(Route::parse("/feed.xml"), None);
        assert_eq!(Route::parse("/feeds.opml"), Some(Route::Opml));
        assert_eq!(
            Route::parse("/favicon.ico"),
            Some(Route::Asset(AssetKind::Favicon))
        );
        assert_eq!(
            Route::parse("/apple-touch-icon.png"),
            Some(Route::Asset(AssetKind::Icon))
        );
        assert_eq!(Route::parse("/logo.png"), Some(Route::Asset(AssetKind::Logo)));
        assert_eq!(Route::parse("/regions/RU/logo.png"), None);
        assert_eq!(Route::parse("/regions/RU/feed.txt"), None);
    }

    #[test]
    fn only_canonical_ids_resolve() {
        assert_eq!(
            Route::parse("/api/articles/2005001"),
            Some(Route::Article(2005001))
        );
        for path in [
            "/api/articles/+2005001",
            "/api/articles/02005001",
            "/api/articles/0",
            "/api/articles/-1",
            "/api/articles/ 1",
            "/api/articles/18446744073709551616",
        ] {
            assert_eq!(Route::parse(path), None, "{path}");
        }
    }

    #[test]
    fn empty_segments_name_nothing() {
        for path in [
            "//feed.rss",
            "//",
            "/regions//feed.rss",
            "/regions//",
            "/api//articles",
            "/api/articles//1",
            "feed.rss",
            "*",
        ] {
            assert_eq!(Route::parse(path), None, "{path}");
        }
        assert_eq!(Route::parse("/"), Some(Route::Index));
        assert_eq!(
            Route::parse("/regions/RU-NIZ/"),
            Some(Route::RegionPage("RU-NIZ"))
        );
    }

    #[test]
    fn host_must_be_one_valid_authority() {
        let req = |version, hosts: &[&str]| {
            let mut b = Request::builder().version(version).uri("/");
            for h in hosts {
                b = b.header(header::HOST, *h);
            }
            b.body(()).unwrap()
        };
        assert!(bad_host(&req(Version::HTTP_11, &["example.ru"])).is_none());
        assert!(bad_host(&req(Version::HTTP_11, &["127.0.0.1:8080"])).is_none());
        assert!(bad_host(&req(Version::HTTP_11, &["[::1]:80"])).is_none());
        assert!(bad_host(&req(Version::HTTP_10, &[])).is_none());
        for bad in [
            req(Version::HTTP_11, &[]),
            req(Version::HTTP_11, &["a.ru", "b.ru"]),
            req(Version::HTTP_10, &["a.ru", "a.ru"]),
            req(Version::HTTP_11, &["user@a.ru"]),
            req(Version::HTTP_11, &["a.ru/path"]),
        ] {
            let res = bad_host(&bad).expect("400");
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        }
    }
}
