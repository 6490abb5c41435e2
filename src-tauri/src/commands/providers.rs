//! Provider commands: status overview, connection test, configuration, API
//! keys, and model pull with progress through a `Channel`.

use ensemble_core::providers::hub::{ProviderStatus, ProvidersOverview};
use ensemble_core::providers::{Provider, ProviderConfig, ProviderInput, PullProgress};
use ensemble_core::secrets::SecretLocation;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn providers_list(state: State<'_, AppState>) -> CmdResult<Vec<ProviderConfig>> {
    state.call(|core| core.providers().list()).await
}

/// Every provider's status (reachable, models, breaker) and the default in use.
#[tauri::command]
pub async fn providers_overview(state: State<'_, AppState>) -> CmdResult<ProvidersOverview> {
    Ok(state.hub().overview().await?)
}

/// "Test connection": asks one provider now.
#[tauri::command]
pub async fn providers_test(state: State<'_, AppState>, name: String) -> CmdResult<ProviderStatus> {
    let hub = state.hub().clone();
    hub.refresh_default();
    let cfg = state.call(move |core| core.providers().get(&name)).await?;
    let default = hub.default_choice().await?;
    Ok(hub.status(&cfg, &default).await)
}

#[tauri::command]
pub async fn providers_create(
    state: State<'_, AppState>,
    input: ProviderInput,
) -> CmdResult<ProviderConfig> {
    state.call(move |core| core.providers().create(input)).await
}

#[tauri::command]
pub async fn providers_update(
    state: State<'_, AppState>,
    name: String,
    input: ProviderInput,
) -> CmdResult<ProviderConfig> {
    state
        .call(move |core| core.providers().update(&name, input))
        .await
}

/// Stores an API key in the OS keyring (or a private file); never in the database.
#[tauri::command]
pub async fn providers_set_key(
    state: State<'_, AppState>,
    name: String,
    key: String,
) -> CmdResult<SecretLocation> {
    let hub = state.hub().clone();
    let r = tauri::async_runtime::spawn_blocking(move || hub.set_api_key(&name, &key))
        .await
        .map_err(|e| crate::error::AppError::Shell(format!("background call failed: {e}")))??;
    Ok(r)
}

/// Downloads a model, streaming progress into `on_progress`.
#[tauri::command]
pub async fn providers_pull(
    state: State<'_, AppState>,
    name: String,
    model: String,
    on_progress: Channel<PullProgress>,
) -> CmdResult<()> {
    let provider = state.hub().provider(&name)?;
    let cancel = state.shutdown_token().child_token();
    let report = move |p: PullProgress| {
        let _ = on_progress.send(p);
    };
    provider
        .pull(model.trim(), &report, cancel)
        .await
        .map_err(ensemble_core::CoreError::from)?;
    Ok(())
}
