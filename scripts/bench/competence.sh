#!/usr/bin/env bash
# The agent-competence benchmark (benches/competence/): its tasks through
# `ensemble run` on the embedded model, on llama.cpp's own llama-server with
# the same GGUF (built once into the cache by llama-cpp.sh), and on the
# scripted fake; plus the factual chat questions on the embedded model.
#   scripts/bench/competence.sh --out FILE [run.py options, e.g. --targets fake]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ensemble/target}"
MODEL="${ENSEMBLE_TEST_MODEL:-$HOME/.cache/ensemble/models/gemma-3-270m-q4_k_m.gguf}"
[ -f "$MODEL" ] || scripts/install-model.sh >/dev/null
cargo build --release --quiet
bin_dir="$(scripts/bench/llama-cpp.sh)"
# The test tools (test_sleep) are not needed here; the real ones are.
exec python3 benches/competence/run.py --bin "$CARGO_TARGET_DIR/release/ensemble" \
  --llama-server "$bin_dir/llama-server" --model "$MODEL" "$@"
