//! Desktop notifications for events a person should see while the window is
//! hidden: a new pending approval, and the core's notices (a task failed for
//! good, an agent acted on autopilot, a crew run finished).
//! Each notification carries where it leads ([`Route`], in its `extra`
//! payload): activating it opens the window there — the approval inbox, the
//! task board with that task's drawer open, or the crews.
//! Every notification is also written to the log; where no notification
//! service exists (no session D-Bus, e.g. CI) the log line is all there is.

use ensemble_core::events::{Notice, NoticeKind};
use ensemble_core::{ChangeOp, Entity};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_notification::{ActionPerformed, NotificationExt};

use crate::state::AppState;

/// The event the UI follows to switch views. Its payload is a view name (the
/// tray sends those) or a [`Route`].
pub const NAVIGATE: &str = "app://navigate";
/// The key of the route in a notification's `extra` payload.
const ROUTE_KEY: &str = "route";

/// Where activating a notification takes the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// A view of the UI: "approvals", "tasks", "crews", …
    pub view: String,
    /// The task whose drawer opens with the "tasks" view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl Route {
    pub fn view(view: &str) -> Self {
        Self {
            view: view.into(),
            task_id: None,
        }
    }

    pub fn approvals() -> Self {
        Self::view("approvals")
    }

    /// The route of a core notice: failures and autopilot actions open
    /// their task, finished crew runs the crews, approvals the inbox.
    pub fn for_notice(notice: &Notice) -> Self {
        match notice.kind {
            NoticeKind::ApprovalNeeded => Self::approvals(),
            NoticeKind::CrewFinished => Self::view("crews"),
            NoticeKind::TaskFailed | NoticeKind::ActedOnAutopilot => Self {
                view: "tasks".into(),
                task_id: notice.item_id.clone().filter(|id| !id.trim().is_empty()),
            },
        }
    }

    /// The route a notification carried, read back from an activation.
    /// Notifications without one (or with a malformed one) open the inbox,
    /// where most of them lead.
    pub fn of_action(action: &ActionPerformed) -> Self {
        action
            .notification()
            .and_then(|n| n.extra().get(ROUTE_KEY))
            .and_then(|v| serde_json::from_value::<Route>(v.clone()).ok())
            .filter(|r| !r.view.trim().is_empty())
            .unwrap_or_else(Self::approvals)
    }
}

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

/// Shows a notification leading to `route`, or logs it where no service exists.
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str, route: &Route) {
    tracing::info!(
        target: "ensemble::notify",
        %title,
        %body,
        view = %route.view,
        task = route.task_id.as_deref().unwrap_or(""),
        "notification"
    );
    if !service_available() {
        return;
    }
    let shown = app
        .notification()
        .builder()
        .title(title)
        .body(body)
        .extra(ROUTE_KEY, route)
        .show();
    if let Err(e) = shown {
        tracing::info!(error = %e, "notification service unavailable; logged only");
    }
}

/// Opens the main window where the route leads.
pub fn open_route<R: Runtime>(app: &AppHandle<R>, route: &Route) {
    crate::show_main_window(app);
    if let Err(e) = app.emit_to("main", NAVIGATE, route) {
        tracing::debug!(error = %e, "could not ask the window to navigate");
    }
}

/// A notification was clicked (or one of its actions): go where it leads.
pub fn activated<R: Runtime>(app: &AppHandle<R>, action: &ActionPerformed) {
    let route = Route::of_action(action);
    tracing::debug!(view = %route.view, task = ?route.task_id, "notification activated");
    open_route(app, &route);
}

pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    let _ = app.notification().on_action(move |action| {
        activated(&handle, action);
    });

    let state = app.state::<AppState>();
    let core = state.core().clone();
    let mut rx = core.events().subscribe();
    let stop = state.shutdown_token();

    let mut notices = core.events().subscribe_notices();
    let (handle, stop_notices) = (app.clone(), stop.clone());
    state.host().spawn(async move {
        loop {
            let notice = tokio::select! {
                _ = stop_notices.cancelled() => break,
                r = notices.recv() => r,
            };
            match notice {
                // Approvals are announced from the change feed below.
                Ok(n) if n.kind == NoticeKind::ApprovalNeeded => {}
                Ok(n) => notify(&handle, &n.title, &n.body, &Route::for_notice(&n)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let handle = app.clone();
    state.host().spawn(async move {
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
                let id = change.id.clone();
                if let Ok(a) = core.call(move |c| c.approvals().get(&id)).await {
                    notify(&handle, "Approval needed", &a.title, &Route::approvals());
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(kind: NoticeKind, item_id: Option<&str>) -> Notice {
        Notice {
            kind,
            title: "t".into(),
            body: "b".into(),
            view: "tasks".into(),
            item_id: item_id.map(str::to_string),
        }
    }

    #[test]
    fn each_notice_leads_to_its_place() {
        assert_eq!(
            Route::for_notice(&notice(NoticeKind::TaskFailed, Some("task-7"))),
            Route {
                view: "tasks".into(),
                task_id: Some("task-7".into())
            }
        );
        assert_eq!(
            Route::for_notice(&notice(NoticeKind::ActedOnAutopilot, Some("task-8"))).task_id,
            Some("task-8".into())
        );
        assert_eq!(
            Route::for_notice(&notice(NoticeKind::CrewFinished, Some("crew-1"))),
            Route::view("crews")
        );
        assert_eq!(
            Route::for_notice(&notice(NoticeKind::ApprovalNeeded, None)),
            Route::approvals()
        );
        // A failure without a task still opens the board.
        assert_eq!(
            Route::for_notice(&notice(NoticeKind::TaskFailed, Some(" "))),
            Route::view("tasks")
        );
    }

    /// What the notification plugin reports for a click: the notification as
    /// it was shown, `extra` included (see `performed` in its desktop code).
    fn clicked(extra: serde_json::Value) -> ActionPerformed {
        serde_json::from_value(serde_json::json!({
            "actionId": "tap",
            "inputValue": null,
            "notification": { "id": 12, "title": "Task failed: x", "body": "boom", "extra": extra },
        }))
        .unwrap()
    }

    #[test]
    fn a_click_reads_the_route_back_from_the_notification() {
        let route = Route {
            view: "tasks".into(),
            task_id: Some("task-9".into()),
        };
        let extra = serde_json::json!({ ROUTE_KEY: route });
        assert_eq!(Route::of_action(&clicked(extra)), route);
        // Nothing usable: the inbox.
        assert_eq!(
            Route::of_action(&clicked(serde_json::json!({}))),
            Route::approvals()
        );
        assert_eq!(
            Route::of_action(&clicked(serde_json::json!({ ROUTE_KEY: 42 }))),
            Route::approvals()
        );
        assert_eq!(
            Route::of_action(&clicked(serde_json::json!({ ROUTE_KEY: { "view": "" } }))),
            Route::approvals()
        );
        let bare: ActionPerformed =
            serde_json::from_value(serde_json::json!({ "actionId": "tap" })).unwrap();
        assert_eq!(Route::of_action(&bare), Route::approvals());
    }
}
