//! Forwards committed store changes to the web view as one batched
//! `store://changed` event per ~100 ms (never one event per row), and notices
//! writes made by other processes (the CLI, a headless runner) on the same
//! database by watching SQLite's `data_version`.

use std::time::Duration;

use ensemble_core::{Change, ChangeOp, Entity};
use tauri::{Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

pub const STORE_CHANGED: &str = "store://changed";
const BATCH_WINDOW: Duration = Duration::from_millis(100);
const EXTERNAL_POLL: Duration = Duration::from_secs(1);

pub fn start_forwarding<R: Runtime>(app: &tauri::AppHandle<R>) {
    let state = app.state::<AppState>();
    let core = state.core().clone();
    let stop = state.shutdown_token();
    let mut rx = core.events().subscribe();

    let handle = app.clone();
    let stop_fwd = stop.clone();
    state.host().spawn(async move {
        loop {
            let first = tokio::select! {
                _ = stop_fwd.cancelled() => break,
                r = rx.recv() => r,
            };
            let mut batch: Vec<Change> = Vec::new();
            match first {
                Ok(c) => batch.push(c),
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(
                        missed = n,
                        "change forwarder lagged; asking the UI to refresh"
                    );
                    batch.push(Change::new(Entity::External, ChangeOp::Updated, "lagged"));
                }
                Err(RecvError::Closed) => break,
            }
            let deadline = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => break,
                    r = rx.recv() => match r {
                        Ok(c) => if !batch.contains(&c) { batch.push(c) },
                        Err(RecvError::Lagged(_)) => batch.push(Change::new(Entity::External, ChangeOp::Updated, "lagged")),
                        Err(RecvError::Closed) => break,
                    }
                }
            }
            if let Err(e) = handle.emit(STORE_CHANGED, &batch) {
                tracing::debug!(error = %e, "could not emit store changes");
            }
        }
    });

    // Writes by other processes bump `data_version` on our connection; the
    // forwarder above sends the resulting change on to the UI.
    state
        .host()
        .spawn(core.watch_external_writes(EXTERNAL_POLL, stop));
}
