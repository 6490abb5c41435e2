//! The Ensemble desktop shell: windows, tray, notifications and the IPC
//! adapters over `ensemble-core` and `ensemble-host`. The binary is one
//! program: the command line (`ensemble-cli`) with a subcommand, this window
//! without. No business rules live here.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod commands;
pub mod error;
pub mod events;
pub mod notifications;
pub mod state;
pub mod tray;

use std::sync::Arc;

use tauri::{Manager, Runtime, WindowEvent};

use crate::state::AppState;

/// Entry point of the binary: the CLI when a subcommand is given, else the
/// window. Returns the process exit code.
pub fn run() -> i32 {
    ensemble_cli::main(run_gui)
}

/// Starts the desktop app on the given data folder. Blocks until the app exits.
pub fn run_gui(core: Arc<ensemble_core::Core>) -> i32 {
    let builder = build_app(tauri::Builder::default(), core);
    match builder.build(tauri::generate_context!("tauri.conf.json")) {
        Ok(app) => {
            app.run(|handle, event| {
                if let tauri::RunEvent::ExitRequested { code, api, .. } = &event {
                    // Closing the last window keeps the app in the tray; only Quit exits.
                    if code.is_none() && !handle.state::<AppState>().quitting() {
                        api.prevent_exit();
                    }
                }
                if let tauri::RunEvent::Exit = event {
                    // Drains the task runner (at most 10 s) before the process ends.
                    handle.state::<AppState>().shutdown();
                }
            });
            0
        }
        Err(e) => {
            eprintln!("error: cannot start the window: {e}");
            1
        }
    }
}

/// Wires plugins, state, commands, tray and window behaviour into a builder.
/// Tests pass `tauri::test::mock_builder()`.
pub fn build_app<R: Runtime>(
    builder: tauri::Builder<R>,
    core: Arc<ensemble_core::Core>,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_notification::init())
        // Open/save dialogs for data import/export in Settings.
        .plugin(tauri_plugin_dialog::init())
        .plugin(
            // Size, position and maximised state; visibility stays with the
            // app (it starts shown, or hidden in the tray by its own choice).
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .manage(AppState::new(core))
        .invoke_handler(commands::handler())
        .setup(|app| {
            let handle = app.handle().clone();
            let core = handle.state::<AppState>().core().clone();
            match core.recover_interrupted_chats() {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(count = n, "marked answers interrupted by the last shutdown")
                }
                Err(e) => tracing::warn!(error = %e, "could not recover interrupted chats"),
            }
            // Crew runs of a process that is gone: recovered by the host as it started.
            tray::install(&handle)?;
            events::start_forwarding(&handle);
            notifications::start(&handle);
            // Last: the runner publishes changes the listeners above follow.
            state::start_runner(&handle);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == "main" && !window.state::<AppState>().quitting() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
}

/// Shows, un-minimises and focuses the main window.
pub fn show_main_window<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Shows the main window on a given view (e.g. "approvals").
pub fn open_view<R: Runtime>(app: &tauri::AppHandle<R>, view: &str) {
    show_main_window(app);
    use tauri::Emitter;
    let _ = app.emit_to("main", "app://navigate", view);
}
