//! WebSub publishing (W3C WebSub §7): tell the hub which topic URLs changed.
//!
//! Writes must never wait for a hub, so notification is a background task fed through a bounded
//! channel: a write queues its changed feed URLs and returns. The task coalesces what queued up
//! meanwhile (one ping per URL, however many writes touched it), then POSTs
//! `hub.mode=publish&hub.url=<topic>` for each, retrying with exponential backoff. Only `http://`
//! hubs are supported (lenta carries no TLS stack); a local relay covers `https://` hubs.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Attempts per topic before giving up.
const ATTEMPTS: u32 = 5;
/// First retry delay; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Queued batches before new notifications are dropped (and counted as failures).
const QUEUE: usize = 1024;

/// Why a hub URL is unusable.
#[derive(Debug, thiserror::Error)]
#[error("WebSub hub {0:?}: {1}")]
pub struct HubError(pub String, pub &'static str);

/// A parsed `http://` hub endpoint.
#[derive(Clone, Debug)]
struct Hub {
    url: String,
    path: String,
    authority: String,
    connect: String,
}

impl Hub {
    fn parse(raw: &str) -> Result<Self, HubError> {
        let url = url::Url::parse(raw).map_err(|_| HubError(raw.into(), "not an absolute URL"))?;
        if url.scheme() != "http" {
            return Err(HubError(
                raw.into(),
                "only http:// hubs are supported; use a local relay for https",
            ));
        }
        let host = url.host_str().ok_or_else(|| HubError(raw.into(), "no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
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
        })
    }
}

/// Checks a hub URL at start-up, so a typo is an error before serving rather than a log line later.
pub fn check_hub(raw: &str) -> Result<(), HubError> {
    Hub::parse(raw).map(|_| ())
}

/// Handle for queueing notifications; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    queue: mpsc::Sender<Vec<String>>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Validates `hub` and starts the background task (needs a running tokio runtime).
    pub fn start(hub: &str, metrics: Arc<Metrics>) -> Result<Self, HubError> {
        let hub = Hub::parse(hub)?;
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
        for topic in topics {
            let delivered = publish_with_retries(&hub, &topic).await;
            metrics.websub[usize::from(!delivered)].fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn publish_with_retries(hub: &Hub, topic: &str) -> bool {
    let mut delay = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match publish(hub, topic).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(hub = %hub.url, %topic, attempt, error = %e, "WebSub publish failed");
                if attempt < ATTEMPTS {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
    false
}

/// One `hub.mode=publish` POST; any 2xx is success (WebSub §7 leaves the answer to the hub).
async fn publish(hub: &Hub, topic: &str) -> Result<(), String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic)
        .finish();
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&hub.connect),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::post(&hub.path)
        .header(http::header::HOST, &hub.authority)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            http::header::USER_AGENT,
            concat!("lenta/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .map_err(|_| "hub did not answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("hub answered {}", res.status()))
    }
}
