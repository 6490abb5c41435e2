#!/usr/bin/env bash
# `make bench` / `make bench-peers`: runs the benchmarks and writes
# docs/BENCHMARKS.md. Numbers, not pass/fail: a bench that fails is reported
# in the file and the rest still runs; this script exits 0 unless the
# report itself cannot be written.
#   scripts/bench/all.sh                 cargo benches + peers + report
#   scripts/bench/all.sh --peers-only    peers + report (keeps the last cargo log)
#   scripts/bench/all.sh --no-peers      cargo benches + report (keeps the last peer run)
# The cargo benches include benches/app_window.rs: the release app under
# Xvfb, whose UI is the ui/dist built last (`make bench` builds it first).
# They also include the soak bench (ensemble-core, benches/soak.rs): 10 min
# of task and chat traffic by default; ENSEMBLE_SOAK_SECS=60 shortens it.
set -uo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ensemble/target}"
OUT="$CARGO_TARGET_DIR/bench"
mkdir -p "$OUT"
load() { cut -d' ' -f1-3 /proc/loadavg; }
peers_only=0
peers=1
pass=()  # the rest goes to peers.sh (e.g. --tasks 50 --reps 1)
for a in "$@"; do
  case "$a" in
    --peers-only) peers_only=1 ;;
    --no-peers) peers=0 ;;
    *) pass+=("$a") ;;
  esac
done

if [ "$peers_only" = 0 ]; then
  cmd="cargo bench --workspace --bench '*' --no-fail-fast"
  {
    echo "# bench-meta date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# bench-meta command=$cmd"
    echo "# bench-meta load_before=$(load)"
  } > "$OUT/cargo.log.new"
  cargo bench --workspace --bench '*' --no-fail-fast 2>&1 | tee -a "$OUT/cargo.log.new"
  rc=${PIPESTATUS[0]}
  {
    echo "# bench-meta load_after=$(load)"
    echo "# bench-meta exit=$rc"
  } >> "$OUT/cargo.log.new"
  mv "$OUT/cargo.log.new" "$OUT/cargo.log"
  [ "$rc" = 0 ] || echo "bench: cargo bench exited $rc (reported in docs/BENCHMARKS.md)" >&2
fi

if [ "$peers_only" = 0 ] && [ "${ENSEMBLE_BENCH_COMPETENCE:-1}" = 1 ]; then
  rm -f "$OUT/competence.json"
  scripts/bench/competence.sh --out "$OUT/competence.json" 2>&1 | tee "$OUT/competence.log" \
    || echo "bench: the competence benchmark failed (see $OUT/competence.log)" >&2
fi

if [ "$peers" = 1 ]; then
  rm -f "$OUT/peers.json"  # a failed run must not report the last one's numbers
  scripts/bench/peers.sh --out "$OUT/peers.json" "${pass[@]}" 2>&1 | tee "$OUT/peers.log" \
    || echo "bench: the peer benchmark failed (see $OUT/peers.log)" >&2
fi

python3 scripts/bench/report.py --cargo-log "$OUT/cargo.log" --competence "$OUT/competence.json" --peers "$OUT/peers.json" --out docs/BENCHMARKS.md
