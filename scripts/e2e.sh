#!/usr/bin/env bash
# Runs the end-to-end tests on the real app (debug build) under a private
# Xvfb display, through tauri-driver and WebKitWebDriver. Screenshots go to
# target/e2e/. Arguments: test files (default: all of tests/e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-xvfb.sh node --test --test-concurrency=1 --test-reporter=spec "${@:-tests/e2e/}"
