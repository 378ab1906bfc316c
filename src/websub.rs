//! WebSub publishing (W3C WebSub §7): tell the hub which topic URLs changed.
//!
//! Writes must never wait for a hub, so notification is a background task fed through a bounded
//! channel: a write queues its changed feed URLs and returns. The task coalesces what queued up
//! meanwhile (one ping per URL, however many writes touched it), then POSTs
//! `hub.mode=publish&hub.url=<topic>` for each, retrying with exponential backoff. Hubs are
//! `http://` or `https://` (the public hubs are https-only; see [`tls`] for the TLS client).
//! The pings of one batch share a connection while the hub keeps it open, so a write costs one
//! TLS handshake, not one per feed. Every step of a ping is bounded in time, so a stuck hub holds
//! one task, never a write.

mod tls;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use crate::metrics::Metrics;

/// Attempts per topic before giving up.
const ATTEMPTS: u32 = 5;
/// First retry delay; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Queued batches before new notifications are dropped (and counted as failures).
const QUEUE: usize = 1024;
/// Longest wait for the hub to accept the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the TLS handshake of an `https://` hub to complete.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the hub's response head once the request is sent.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest life of one connection to the hub, whatever it does: the task driving it ends by
/// then, and a batch that is still sending opens a new one.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Most bytes of a hub's answer read (to reuse the connection); a longer answer is dropped.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// Why the WebSub settings are unusable; refused at start-up, before serving.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub URL is malformed or of an unsupported scheme.
    #[error("WebSub hub {hub:?}: {reason}")]
    Url {
        /// The URL as given.
        hub: String,
        /// What is wrong and what is allowed.
        reason: &'static str,
    },
    /// The extra CA file (`--websub-ca-file`) cannot be used.
    #[error("WebSub CA file {}: {reason}", path.display())]
    CaFile {
        /// The file as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS client could not be set up.
    #[error("WebSub TLS client: {0}")]
    Tls(String),
}

/// How the notifier reaches the hub; an `https://` hub always has the name its certificate must
/// carry and a connector to check it with.
#[derive(Clone)]
enum Transport {
    Plain,
    Tls {
        connector: TlsConnector,
        name: ServerName<'static>,
    },
}

/// A parsed hub endpoint.
#[derive(Clone)]
struct Hub {
    url: String,
    path: String,
    authority: String,
    connect: String,
    transport: Transport,
}

impl Hub {
    /// Parses `raw`; `ca_file`, when given, is read and checked whatever the scheme, so a wrong
    /// file is refused at start-up even before the hub moves to https.
    fn parse(raw: &str, ca_file: Option<&Path>) -> Result<Self, HubError> {
        let bad = |reason| HubError::Url {
            hub: raw.into(),
            reason,
        };
        let url = url::Url::parse(raw)
            .map_err(|_| bad("not an absolute URL; give an http:// or https:// hub URL"))?;
        let connector = tls::connector(ca_file)?;
        let transport = match url.scheme() {
            "http" => Transport::Plain,
            "https" => Transport::Tls {
                connector,
                name: tls::server_name(&url).map_err(bad)?,
            },
            _ => {
                return Err(bad(
                    "unsupported scheme; only http:// and https:// hubs are supported",
                ))
            }
        };
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Ok(Hub {
            url: url.to_string(),
            path,
            authority,
            connect: format!("{host}:{port}"),
            transport,
        })
    }
}

/// Checks a hub URL (and the extra CA file, if any) at start-up, so a typo is an error before
/// serving rather than a log line later.
pub fn check_hub(raw: &str, ca_file: Option<&Path>) -> Result<(), HubError> {
    Hub::parse(raw, ca_file).map(|_| ())
}

/// Handle for queueing notifications; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    queue: mpsc::Sender<Vec<String>>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Validates `hub` (and `ca_file`, extra CAs to trust for an `https://` hub) and starts the
    /// background task (needs a running tokio runtime).
    pub fn start(hub: &str, ca_file: Option<&Path>, metrics: Arc<Metrics>) -> Result<Self, HubError> {
        let hub = Hub::parse(hub, ca_file)?;
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(hub, rx, Arc::clone(&metrics)));
        Ok(Notifier { queue, metrics })
    }

    /// Queues pings for `topics` without waiting.
    pub fn notify(&self, topics: Vec<String>) {
        if topics.is_empty() {
            return;
        }
        let n = topics.len() as u64;
        if self.queue.try_send(topics).is_err() {
            tracing::warn!(topics = n, "WebSub queue full; notifications dropped");
            self.metrics.websub[1].fetch_add(n, Ordering::Relaxed);
        }
    }
}

async fn run(hub: Hub, mut rx: mpsc::Receiver<Vec<String>>, metrics: Arc<Metrics>) {
    while let Some(first) = rx.recv().await {
        let mut topics: BTreeSet<String> = first.into_iter().collect();
        while let Ok(more) = rx.try_recv() {
            topics.extend(more);
        }
        // One connection (and so one TLS handshake) serves the whole batch while the hub keeps
        // it open; it closes when the batch is done, so no idle connection outlives a batch.
        let mut conn = None;
        for topic in topics {
            let delivered = publish_with_retries(&hub, &topic, &mut conn).await;
            metrics.websub[usize::from(!delivered)].fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn publish_with_retries(hub: &Hub, topic: &str, conn: &mut Option<Sender>) -> bool {
    let mut delay = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match publish(hub, topic, conn).await {
            Ok(()) => return true,
            Err(e) => {
                *conn = None;
                tracing::warn!(hub = %hub.url, %topic, attempt, error = %e, "WebSub publish failed");
                if matches!(e, PublishError::Permanent(_)) {
                    return false;
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
    false
}

/// Why one ping failed, and so whether another attempt can help.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    /// Worth retrying: the hub was unreachable, slow or answered an error.
    #[error("{0}")]
    Transient(String),
    /// Not worth retrying: the hub's TLS certificate was refused.
    #[error("{0}")]
    Permanent(String),
}

/// The sending half of an HTTP/1.1 connection to the hub, plain or TLS.
type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One `hub.mode=publish` POST over the batch's connection (opened if there is none or the hub
/// closed it); any 2xx is success (WebSub §7 leaves the answer to the hub).
async fn publish(hub: &Hub, topic: &str, conn: &mut Option<Sender>) -> Result<(), PublishError> {
    let transient = PublishError::Transient;
    let req = request(hub, topic).map_err(|e| transient(e.to_string()))?;
    let sender = match reusable(conn.take()).await {
        Some(sender) => conn.insert(sender),
        None => conn.insert(connect(hub).await?),
    };
    let res = tokio::time::timeout(RESPONSE_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| transient("hub did not answer in time".into()))?
        .map_err(|e| transient(e.to_string()))?;
    let status = res.status();
    // The connection takes the next request only once this answer's body is read; a body too
    // large or too slow is dropped instead, which closes the connection (the next ping opens one).
    let body = http_body_util::Limited::new(res.into_body(), MAX_ANSWER_BYTES);
    if !matches!(
        tokio::time::timeout(RESPONSE_TIMEOUT, body.collect()).await,
        Ok(Ok(_))
    ) {
        *conn = None;
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(transient(format!("hub answered {status}")))
    }
}

/// `sender` if its connection is still open and idle.
async fn reusable(sender: Option<Sender>) -> Option<Sender> {
    let mut sender = sender?;
    // Idle and open: ready at once. Closed by the hub (or by CONNECTION_LIFETIME): an error at
    // once. The timeout only bounds what should not happen.
    match tokio::time::timeout(Duration::from_secs(1), sender.ready()).await {
        Ok(Ok(())) => Some(sender),
        _ => None,
    }
}

/// Opens a connection to the hub: TCP, then TLS for an `https://` hub, each within its timeout.
async fn connect(hub: &Hub) -> Result<Sender, PublishError> {
    let transient = PublishError::Transient;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&hub.connect))
        .await
        .map_err(|_| transient("connect timed out".into()))?
        .map_err(|e| transient(format!("connect: {e}")))?;
    match &hub.transport {
        Transport::Plain => handshake(tcp).await,
        Transport::Tls { connector, name } => {
            let stream = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, connector.connect(name.clone(), tcp))
                .await
                .map_err(|_| transient("TLS handshake timed out".into()))?
                .map_err(|e| {
                    let reason = format!("TLS handshake: {e}");
                    if tls::is_certificate_refused(&e) {
                        PublishError::Permanent(reason)
                    } else {
                        transient(reason)
                    }
                })?;
            handshake(stream).await
        }
    }
}

/// Starts HTTP/1.1 over `io` (plain TCP or TLS alike); the task driving the connection ends
/// within [`CONNECTION_LIFETIME`] whatever the hub does.
async fn handshake<S>(io: S) -> Result<Sender, PublishError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| PublishError::Transient(e.to_string()))?;
    tokio::spawn(tokio::time::timeout(CONNECTION_LIFETIME, conn));
    Ok(sender)
}

/// The publish request for `topic`: a form POST (WebSub §7).
fn request(hub: &Hub, topic: &str) -> Result<http::Request<Full<Bytes>>, http::Error> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic)
        .finish();
    http::Request::post(&hub.path)
        .header(http::header::HOST, &hub.authority)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            http::header::USER_AGENT,
            concat!("lenta/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Hub, HubError> {
        Hub::parse(raw, None)
    }

    #[test]
    fn http_hub_connects_to_port_80_and_keeps_path_and_query() {
        let hub = parse("http://hub.example/publish?key=1").expect("http hub");
        assert_eq!(hub.connect, "hub.example:80");
        assert_eq!(hub.authority, "hub.example");
        assert_eq!(hub.path, "/publish?key=1");
        assert!(matches!(hub.transport, Transport::Plain));
    }

    #[test]
    fn https_hub_connects_to_port_443_and_checks_the_certificate_for_its_name() {
        let hub = parse("https://pubsubhubbub.appspot.com/").expect("https hub");
        assert_eq!(hub.connect, "pubsubhubbub.appspot.com:443");
        assert_eq!(hub.authority, "pubsubhubbub.appspot.com");
        assert_eq!(hub.path, "/");
        let Transport::Tls { name, .. } = hub.transport else {
            panic!("an https hub speaks TLS");
        };
        assert_eq!(name.to_str(), "pubsubhubbub.appspot.com");
    }

    #[test]
    fn https_hub_named_by_address_checks_the_address() {
        for (raw, connect, ip) in [
            ("https://127.0.0.1:8443/hub", "127.0.0.1:8443", "127.0.0.1"),
            ("https://[::1]:8443/hub", "[::1]:8443", "::1"),
        ] {
            let hub = parse(raw).expect("https hub");
            assert_eq!(hub.connect, connect);
            let Transport::Tls { name, .. } = hub.transport else {
                panic!("an https hub speaks TLS");
            };
            let expected: std::net::IpAddr = ip.parse().expect("ip");
            assert_eq!(name, ServerName::IpAddress(expected.into()), "{raw}");
        }
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused_saying_what_is_allowed() {
        for raw in [
            "ftp://hub.example/",
            "ws://hub.example/",
            "hub.example/publish",
            "",
        ] {
            let err = parse(raw).err().unwrap_or_else(|| panic!("{raw:?} accepted"));
            let text = err.to_string();
            assert!(text.contains("http") && text.contains("https"), "{raw:?}: {text}");
        }
    }
}
