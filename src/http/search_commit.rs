//! The search commit task: commits the keyword index every `--search-commit-ms`.
//!
//! A write batch only adds its documents to the index writer (see [`crate::store::search`]): a
//! tantivy commit per batch cost single API writes most of their rate. This task, started and
//! stopped with the server, commits whatever the batches since the last commit added, which
//! makes them findable and moves keyword feeds' validators. A write that finds many changes
//! pending commits by itself, and the server commits once more after its last request on a
//! graceful stop ([`crate::http::serve`]).

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;

/// Starts the task; it ends when `stop` turns true (or its sender is dropped).
pub fn start(app: Arc<App>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(app.settings.search_commit);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let worker = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || worker.store.commit_search()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "search index commit failed"),
                Err(e) => tracing::error!(error = %e, "the search commit task panicked"),
            }
        }
    })
}

/// The last commit of a graceful stop: what the final requests wrote becomes findable now rather
/// than after a rebuild at the next start.
pub fn commit_on_stop(app: &App) {
    if let Err(e) = app.store.commit_search() {
        tracing::error!(error = %e, "final search index commit failed; the next start rebuilds it");
    }
}
