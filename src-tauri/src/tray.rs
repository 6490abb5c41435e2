//! The system tray: icon with the pending-approval count, and a menu (Open,
//! Approvals (N pending), Pause all / Resume, Quit) that follows the store.

use std::sync::Mutex;

pub use ensemble_core::core::TrayStatus;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::{Core, Entity};
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::state::AppState;

pub struct TrayHandles<R: Runtime> {
    approvals: MenuItem<R>,
    pause: MenuItem<R>,
    tray: TrayIcon<R>,
    last: Mutex<(u64, bool, String)>,
}

fn labels(pending: u64, paused: bool) -> (String, String, String) {
    let approvals = match pending {
        0 => "Approvals (none pending)".to_string(),
        n => format!("Approvals ({n} pending)"),
    };
    let pause = if paused {
        "Resume all work"
    } else {
        "Pause all work"
    }
    .to_string();
    let tooltip = match (pending, paused) {
        (0, false) => "Ensemble".to_string(),
        (0, true) => "Ensemble — paused".to_string(),
        (n, false) => format!("Ensemble — {n} approval(s) waiting"),
        (n, true) => format!("Ensemble — paused, {n} approval(s) waiting"),
    };
    (approvals, pause, tooltip)
}

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Ensemble", true, None::<&str>)?;
    let approvals = MenuItem::with_id(app, "approvals", "Approvals", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause all work", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Ensemble", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &approvals,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id("ensemble")
        .tooltip("Ensemble")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = builder.build(app)?;
    app.manage(TrayHandles {
        approvals,
        pause,
        tray,
        last: Mutex::new((u64::MAX, false, String::new())),
    });
    refresh(app);

    let state = app.state::<AppState>();
    let mut rx = state.core().events().subscribe();
    let stop = state.shutdown_token();
    let handle = app.clone();
    state.host().spawn(async move {
        loop {
            let changed = tokio::select! {
                _ = stop.cancelled() => break,
                r = rx.recv() => r,
            };
            match changed {
                Ok(c)
                    if matches!(
                        c.entity,
                        Entity::Approval | Entity::Settings | Entity::External
                    ) => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
            let h = handle.clone();
            let _ = tauri::async_runtime::spawn_blocking(move || refresh(&h)).await;
        }
    });
    Ok(())
}

fn read_counts(core: &Core) -> ensemble_core::Result<(u64, bool)> {
    Ok((core.approvals().pending_count()?, core.settings()?.paused))
}

/// Re-reads the pending count and pause state and updates the tray if they changed.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let (pending, paused) = match read_counts(state.core()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "tray: cannot read the store");
            return;
        }
    };
    let Some(h) = app.try_state::<TrayHandles<R>>() else {
        return;
    };
    let (approvals, pause, tooltip) = labels(pending, paused);
    let mut last = h.last.lock().unwrap_or_else(|p| p.into_inner());
    if last.0 == pending && last.1 == paused {
        return;
    }
    *last = (pending, paused, tooltip.clone());
    let _ = h.approvals.set_text(&approvals);
    let _ = h.pause.set_text(&pause);
    let _ = h.tray.set_tooltip(Some(&tooltip));
    // Shown beside the icon where the tray supports a label (Linux appindicator, macOS).
    let title = if pending > 0 {
        Some(pending.to_string())
    } else {
        None
    };
    let _ = h.tray.set_title(title.as_deref());
}

/// The tray as it is now, read back from its menu items.
pub fn status<R: Runtime>(app: &AppHandle<R>) -> Option<TrayStatus> {
    let h = app.try_state::<TrayHandles<R>>()?;
    let last = h.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Some(TrayStatus {
        pending: last.0,
        paused: last.1,
        approvals_label: h.approvals.text().ok()?,
        pause_label: h.pause.text().ok()?,
        tooltip: last.2,
    })
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id.as_ref() {
        "open" => crate::show_main_window(app),
        "approvals" => crate::open_view(app, "approvals"),
        "pause" => {
            let core = app.state::<AppState>().core().clone();
            std::thread::spawn(move || {
                let paused = core.settings().map(|s| s.paused).unwrap_or(false);
                let patch = SettingsPatch {
                    paused: Some(!paused),
                    ..Default::default()
                };
                if let Err(e) = core.update_settings(patch) {
                    tracing::warn!(error = %e, "tray: cannot toggle pause");
                }
            });
        }
        "quit" => {
            app.state::<AppState>().begin_quit();
            app.exit(0);
        }
        _ => {}
    }
}
