//! The app on Tauri's mock runtime with its real context and capability, and
//! a way to call its IPC commands as the web view does (shared by the
//! `ipc*` tests).

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;

pub struct App {
    pub webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    pub app: tauri::App<tauri::test::MockRuntime>,
    pub dir: tempfile::TempDir,
}

impl App {
    pub fn state(&self) -> tauri::State<'_, ensemble_app::state::AppState> {
        use tauri::Manager;
        self.app.state::<ensemble_app::state::AppState>()
    }

    pub fn core(&self) -> Arc<ensemble_core::Core> {
        self.state().core().clone()
    }
}

/// The app on a fresh data folder.
pub fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(ensemble_core::Core::open(dir.path()).unwrap());
    app_on(dir, core)
}

/// The app on a data folder the test prepared.
pub fn app_on(dir: tempfile::TempDir, core: Arc<ensemble_core::Core>) -> App {
    let app = ensemble_app::build_app(mock_builder(), core)
        .build(tauri::generate_context!("tauri.conf.json"))
        .expect("build app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    App { webview, app, dir }
}

/// Calls a command with JSON arguments: its JSON result, or its error.
pub fn invoke(app: &App, cmd: &str, args: Value) -> Result<Value, Value> {
    let req = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(&app.webview, req).map(|b| b.deserialize::<Value>().unwrap())
}

/// [`invoke`] that must succeed.
pub fn ok(app: &App, cmd: &str, args: Value) -> Value {
    invoke(app, cmd, args.clone()).unwrap_or_else(|e| panic!("{cmd} {args}: {e}"))
}
