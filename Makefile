# Ensemble — two commands matter:
#   make run    install what is missing, build, start the app
#   make test   install what is missing, run every check and test
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ensemble/target
export ENSEMBLE_TEST_MODEL ?= $(HOME)/.cache/ensemble/models/gemma-3-270m-q4_k_m.gguf
BIN := $(CARGO_TARGET_DIR)/debug/ensemble

.PHONY: run test setup ui build fmt-check clippy core-has-no-tauri rust-test ui-test e2e bindings bench bench-peers crash-bench

run: setup ui
	cargo build
	$(BIN)

test: setup ui fmt-check clippy core-has-no-tauri rust-test ui-test e2e
	@echo "make test: all checks passed"

setup:
	@scripts/setup.sh

ui:
	cd ui && npm run --silent build

build: ui
	cargo build

fmt-check:
	cargo fmt --all --check

clippy:
	cargo clippy --all-targets -- -D warnings

# The core must stay free of Tauri (STYLE: the core never depends on Tauri).
core-has-no-tauri:
	@if cargo tree -p ensemble-core --edges normal,build,dev --prefix none --format '{p}' | grep -iE '^tauri'; then \
	  echo "ensemble-core depends on tauri" >&2; exit 1; \
	else echo "ensemble-core: no tauri in its dependency tree"; fi

rust-test:
	cargo test

ui-test:
	cd ui && npx vitest run

e2e: build
	scripts/e2e.sh

# Regenerates ui/src/bindings from the Rust types.
bindings:
	UPDATE_BINDINGS=1 cargo test -p ensemble-core --test bindings
	UPDATE_BINDINGS=1 cargo test --lib app_bindings

# Benchmarks (numbers, not pass/fail): chat overhead, tokens/s, scheduler,
# task board, runner memory, then Ensemble vs CrewAI and LangGraph; writes
# docs/BENCHMARKS.md.
bench: setup
	scripts/bench/all.sh

# The peer comparison alone (Ensemble, CrewAI, LangGraph); rewrites docs/BENCHMARKS.md.
bench-peers:
	scripts/bench/all.sh --peers-only

# The crash test with 200 SIGKILLs instead of the suite's 20.
crash-bench:
	ENSEMBLE_CRASH_TRIALS=200 cargo test --test crash -- --nocapture
