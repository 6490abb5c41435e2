#!/usr/bin/env bash
# Runs the end-to-end tests on the real app (debug build) under a private
# Xvfb display, through tauri-driver and WebKitWebDriver. Screenshots go to
# target/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."

display=":$((90 + RANDOM % 400))"
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -e "/tmp/.X11-unix/X${display#:}" ] && break
  sleep 0.1
done

export DISPLAY="$display"
# No session bus here: desktop notifications degrade to log lines.
unset DBUS_SESSION_BUS_ADDRESS
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/
