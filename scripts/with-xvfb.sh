#!/usr/bin/env bash
# Runs a command on a private Xvfb display, without a session bus (desktop
# notifications degrade to log lines), and stops the display afterwards.
set -euo pipefail

display=":$((90 + RANDOM % 400))"
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -e "/tmp/.X11-unix/X${display#:}" ] && break
  sleep 0.1
done

export DISPLAY="$display"
unset DBUS_SESSION_BUS_ADDRESS
"$@"
