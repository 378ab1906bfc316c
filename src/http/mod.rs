//! The HTTP server: accept loop, connection limits, timeouts and graceful shutdown.
//!
//! hyper 1.x has no server type; this module is one. Each accepted connection is served by
//! hyper's HTTP/1.1 connection driver with a header-read timeout (a client that dribbles its
//! headers is cut off), a header-size cap and half-close support, and is registered with a
//! [`GracefulShutdown`] watcher; a semaphore bounds the connections served at once, and
//! [`peers::PeerLimit`] each address's share of them. The socket is shared with the connection's
//! [`client::Client`], so that a request waiting for a render worker notices its client leave.
//! Request bodies have their own deadline (`--body-timeout`, applied where they are read). On
//! shutdown the listener is dropped first (no new connections), in-flight requests get a grace
//! period, then the store is flushed.

pub mod aggregators;
pub mod assets;
pub mod cache;
pub mod client;
pub mod conditional;
pub mod cors;
pub mod encoding;
pub mod feeds;
pub mod first_gzip;
pub mod opml;
pub mod peers;
pub mod pool;
pub mod popular;
pub mod release;
pub mod representation;
pub mod response;
pub mod router;
pub mod search_commit;
pub mod sitemaps;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::app::App;

/// A server running in the background.
pub struct RunningServer {
    /// The bound address (useful when the configured port was 0).
    pub addr: SocketAddr,
    /// The shared state, for tests and embedding.
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Publishes scheduled articles when due ([`release`]).
    releaser: JoinHandle<()>,
    committer: JoinHandle<()>,
}

impl RunningServer {
    /// Binds `app.settings.addr` and starts serving.
    pub async fn start(app: Arc<App>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(app.settings.addr).await?;
        Self::on(app, listener)
    }

    /// Starts serving on an already bound listener (tests bind port 0 first, to know the base URL).
    pub fn on(app: Arc<App>, listener: TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        if let Some(hub) = &app.settings.websub_hub {
            let notifier = crate::websub::Notifier::start(
                hub,
                app.settings.websub_ca_file.as_deref(),
                Arc::clone(&app.metrics),
            )
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let _ = app.websub.set(notifier);
        }
        let (stop, stopped) = watch::channel(false);
        let releaser = release::start(Arc::clone(&app), stop.subscribe());
        let committer = search_commit::start(Arc::clone(&app), stop.subscribe());
        let task = tokio::spawn(serve(Arc::clone(&app), listener, wait_for(stopped)));
        Ok(RunningServer {
            addr,
            app,
            stop,
            task,
            releaser,
            committer,
        })
    }

    /// Stops accepting, lets in-flight requests finish (within the grace period), flushes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.releaser.await;
        let _ = self.committer.await;
        let _ = self.task.await;
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

/// Runs blocking work (rendering, compressing, store reads and flushes) off the async workers,
/// so a slow request never stalls the others; a panicked task becomes a 500.
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&App) -> Result<T, response::Problem> + Send + 'static,
) -> Result<T, response::Problem> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .map_err(|e| response::Problem::internal(format!("background task failed: {e}")))?
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    // Either a `true` or a dropped sender means stop.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// hyper's own limit on a request's header section, as a multiple of `--max-header-bytes`.
///
/// The router refuses anything over `--max-header-bytes` with a 431 problem that says what the
/// limit is (RFC 6585 §5, RFC 9457); hyper can only answer an empty 431. So hyper reads up to
/// this multiple, bounding a connection's header buffer (128 KiB with the defaults), and the
/// explained refusal covers every header section a client is likely to send by mistake.
const HEADER_HARD_STOP: usize = 4;

/// Serves connections from `listener` until `shutdown` resolves.
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let limit = Arc::new(Semaphore::new(app.settings.max_connections.max(1)));
    let peers = peers::PeerLimit::new(app.settings.max_connections_per_ip);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(app.settings.header_timeout)
        // A hard stop well above --max-header-bytes (hyper then answers a bare 431 and closes),
        // instead of hyper's ~400 KB buffer; up to it, the router answers 431 as a problem.
        .max_header_size(app.settings.max_header_bytes.saturating_mul(HEADER_HARD_STOP))
        // A client that sends its request and shuts down its sending side still gets the answer.
        .half_close(true)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Typically EMFILE: back off briefly rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // An address over its share is refused before it can take a connection slot.
        let Some(slot) = peers.claim(peer.ip()) else {
            tracing::debug!(%peer, "too many connections from this address");
            let peers = Arc::clone(&peers);
            tokio::spawn(async move { peers.refuse(stream).await });
            continue;
        };
        // Wait for a free connection slot before serving; meanwhile further clients queue in
        // the kernel's backlog instead of costing memory here.
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            () = &mut shutdown => break,
        };
        let app = Arc::clone(&app);
        let (client, io) = client::Client::of(stream, app.settings.send_timeout);
        let service =
            service_fn(move |req| client.clone().serve(router::handle(Arc::clone(&app), req, peer)));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: no longer accepting; waiting for in-flight requests");
    if tokio::time::timeout(app.settings.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?app.settings.shutdown_grace, "in-flight requests did not finish in time");
    }
    search_commit::commit_on_stop(&app);
    if let Err(e) = app.store.flush_blocking() {
        tracing::error!(error = %e, "final flush failed");
    }
    tracing::info!("stopped");
}
