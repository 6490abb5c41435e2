#!/usr/bin/env bash
# Peer benchmark: the same agent work in Ensemble, CrewAI and LangGraph,
# against one instant model that speaks Ollama's API (fake_ollama.py), on
# the same machine in the same run. Numbers, not pass/fail: not part of
# `make test`. Usage: scripts/bench/peers.sh [--out FILE] [peers.py options]
# (--tasks 200 --reps 3 --crew-runs 10 --startup-reps 5).
#
# Why Ensemble is driven through its CLI (the release binary) and not a Rust
# bench binary: the peers are measured as a user runs them — a Python
# process that imports the framework, talks HTTP to the model and runs the
# tool — so Ensemble is measured the same way: `ensemble run --until-idle`
# on a data folder prepared with `ensemble agents add` / `tasks add`, and
# `ensemble crews run` for the crew, speaking Ollama's /api/chat over HTTP.
# That includes everything Ensemble does per task that the peers do not
# (SQLite store, run/step journal, event bus, scheduler); a bench binary
# with an in-process model would leave out the HTTP and JSON the peers pay
# for, and measure a process nobody runs.
#
# The tool is `test_sleep` with ms = 0 in all three (Ensemble's built-in
# test tool, enabled with ENSEMBLE_TEST_TOOLS=1; the same name, schema and
# answer in the Python scripts): Ensemble has no "add two numbers" tool, and
# a test tool keeps the work identical without changing the product.
#
# Idempotent: the venv (~/.cache/ensemble/bench-venv) is created and the
# pinned requirements installed only when missing or when
# requirements.txt changed; `cargo build --release` is a no-op when the
# binary is current.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ensemble/target}"
VENV="${ENSEMBLE_BENCH_VENV:-$HOME/.cache/ensemble/bench-venv}"
REQ=scripts/bench/requirements.txt
STAMP="$VENV/.requirements.sha256"

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "peers: installing $(grep -v '^#' "$REQ" | xargs) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
fi

echo "peers: cargo build --release --bin ensemble"
cargo build --release --quiet --bin ensemble
BIN="$CARGO_TARGET_DIR/release/ensemble"

out="$CARGO_TARGET_DIR/bench/peers.json"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
mkdir -p "$(dirname "$out")"
echo "peers: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$VENV/bin/python" scripts/bench/peers.py --ensemble "$BIN" --out "$out" "${args[@]}"
