//! Tauri build step: generates the context from `tauri.conf.json` (at the
//! workspace root), reads the app's command permission from
//! `src-tauri/permissions/` and the capability from `src-tauri/capabilities/`.

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/permissions");
    let attrs = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(
            tauri_build::AppManifest::new()
                .permissions_path_pattern("src-tauri/permissions/*.toml"),
        );
    if let Err(e) = tauri_build::try_build(attrs) {
        println!("cargo:warning=tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
