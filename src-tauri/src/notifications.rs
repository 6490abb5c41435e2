//! Desktop notifications for events a person should see while the window is
//! hidden: a new pending approval, and the core's notices (a task failed for
//! good, an agent acted on autopilot, a crew run finished).
//! Every notification is also written to the log; where no notification
//! service exists (no session D-Bus, e.g. CI) the log line is all there is.

use ensemble_core::events::NoticeKind;
use ensemble_core::{ChangeOp, Entity};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// Whether a session bus is reachable, i.e. a notification server may answer.
pub fn service_available() -> bool {
    if let Some(addr) = std::env::var_os("DBUS_SESSION_BUS_ADDRESS") {
        let addr = addr.to_string_lossy().to_string();
        return match addr.strip_prefix("unix:path=") {
            Some(path) => std::path::Path::new(path.split(',').next().unwrap_or(path)).exists(),
            None => !addr.is_empty(),
        };
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| std::path::Path::new(&d).join("bus").exists())
        .unwrap_or(false)
}

/// Shows a notification, or logs it where no service exists.
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    tracing::info!(target: "ensemble::notify", %title, %body, "notification");
    if !service_available() {
        return;
    }
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::info!(error = %e, "notification service unavailable; logged only");
    }
}

pub fn start<R: Runtime>(app: &AppHandle<R>) {
    // Activating a notification opens the approval inbox.
    let handle = app.clone();
    let _ = app.notification().on_action(move |_action| {
        crate::open_view(&handle, "approvals");
    });

    let state = app.state::<AppState>();
    let core = state.core().clone();
    let mut rx = core.events().subscribe();
    let stop = state.shutdown_token();

    let mut notices = core.events().subscribe_notices();
    let (handle, stop_notices) = (app.clone(), stop.clone());
    tauri::async_runtime::spawn(async move {
        loop {
            let notice = tokio::select! {
                _ = stop_notices.cancelled() => break,
                r = notices.recv() => r,
            };
            match notice {
                // Approvals are announced from the change feed below.
                Ok(n) if n.kind == NoticeKind::ApprovalNeeded => {}
                Ok(n) => notify(&handle, &n.title, &n.body),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let change = tokio::select! {
                _ = stop.cancelled() => break,
                r = rx.recv() => r,
            };
            let change = match change {
                Ok(c) => c,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if change.entity == Entity::Approval && change.op == ChangeOp::Created {
                let c = core.clone();
                let id = change.id.clone();
                let approval =
                    tauri::async_runtime::spawn_blocking(move || c.get_approval(&id)).await;
                if let Ok(Ok(a)) = approval {
                    notify(&handle, "Approval needed", &a.title);
                }
            }
        }
    });
}
