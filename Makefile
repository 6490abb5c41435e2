# Ensemble — two commands matter:
#   make run    install what is missing, build, start the app
#   make test   install what is missing, run every check and test
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ensemble/target
export ENSEMBLE_TEST_MODEL ?= $(HOME)/.cache/ensemble/models/gemma-3-270m-q4_k_m.gguf
BIN := $(CARGO_TARGET_DIR)/debug/ensemble
# The Tauri CLI (from npm, installed by scripts/setup.sh outside the clone).
export TAURI_CLI ?= $(HOME)/.cache/ensemble/tauri-cli/node_modules/.bin/tauri
TAURI := $(TAURI_CLI)

.PHONY: run test setup ui build fmt-check clippy layers rust-test ui-test e2e bundle bundle-test bindings bench bench-peers crash-bench screenshots

run: setup ui
	cargo build
	$(BIN)

test: setup ui fmt-check clippy layers rust-test ui-test e2e bundle-test
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

# The crates' walls (docs/ARCHITECTURE.md): the provider crate knows nothing
# of the core, the embedded engine only the provider crate, and the core
# has no Tauri (STYLE: the core never depends on Tauri) and no provider
# client (ensemble-llm's adapters are its `clients` feature, which only the
# host and the tests turn on).
layers:
	@fail() { echo "layers: $$1" >&2; exit 1; }; \
	tree() { cargo tree -p "$$1" --edges "$$2" --prefix none --format '{p}' $$3 | sed 's/ .*//' | sort -u; }; \
	llm=$$(tree ensemble-llm normal,build,dev) && [ -n "$$llm" ] || fail "cargo tree -p ensemble-llm failed"; \
	emb=$$(tree ensemble-llm-embedded normal,build) && [ -n "$$emb" ] || fail "cargo tree -p ensemble-llm-embedded failed"; \
	core=$$(tree ensemble-core normal,build,dev) && [ -n "$$core" ] || fail "cargo tree -p ensemble-core failed"; \
	own=$$(tree ensemble-core normal,build) && [ -n "$$own" ] || fail "cargo tree -p ensemble-core failed"; \
	! echo "$$llm" | grep -xE 'ensemble-core|tauri' || fail "ensemble-llm depends on the above"; \
	! echo "$$emb" | grep -xE 'ensemble-core|tauri' || fail "ensemble-llm-embedded depends on the above"; \
	! echo "$$core" | grep -iE '^tauri' || fail "ensemble-core depends on the above"; \
	! echo "$$own" | grep -xE 'ollama-rs|async-openai|reqwest-eventsource' || fail "ensemble-core depends on a provider client"; \
	cargo check -p ensemble-core --quiet || fail "ensemble-core does not build on its own (without ensemble-llm's clients)"; \
	echo "layers: ensemble-llm without the core, the embedded engine on ensemble-llm only, the core without tauri or a provider client"

rust-test:
	cargo test

# The UI suite, then the same suite with the process clock two years ahead
# and in another time zone (libfaketime): a fixture time that only works
# until some date fails here long before that date comes (ui/src/test/clock.ts).
ui-test:
	cd ui && npx vitest run
	cd ui && TZ=Pacific/Kiritimati faketime -f '+730d' npx vitest run --silent

e2e: build
	scripts/e2e.sh

# The installable packages: a release .deb (binary, desktop entry, icons) and
# the default model's package it recommends, in $(CARGO_TARGET_DIR)/release/bundle/deb/. No AppImage: Tauri's AppImage
# bundler downloads AppRun and linuxdeploy from GitHub while it builds.
bundle: setup ui
	$(TAURI) build --ci --bundles deb
	scripts/model-deb.sh

# Builds the .deb from the debug build (reusing it) and checks what it
# installs: tests/bundle/deb.test.mjs. 25-50 s on 2 cores (load 2-7): 18-30 s
# to package the 300 MB debug binary, 7-16 s for the unpacked app's first paint.
bundle-test: build
	node --test --test-reporter=spec tests/bundle/

# Regenerates ui/src/bindings from the Rust types, and the IPC surface (the
# handler list, its permission, the UI's typed calls) from the commands.
bindings:
	UPDATE_BINDINGS=1 cargo test -p ensemble-core --test bindings
	UPDATE_BINDINGS=1 cargo test --lib app_bindings
	UPDATE_BINDINGS=1 cargo test --test ipc_surface

# Benchmarks (numbers, not pass/fail): chat overhead, tokens/s, scheduler,
# task board, runner memory, the app's start-up, idle memory and IPC round
# trip (its UI is embedded, hence `ui`), then Ensemble vs CrewAI and
# LangGraph; writes docs/BENCHMARKS.md.
bench: setup ui
	scripts/bench/all.sh

# The peer comparison alone (Ensemble, CrewAI, LangGraph); rewrites docs/BENCHMARKS.md.
bench-peers:
	scripts/bench/all.sh --peers-only

# The crash test with 200 SIGKILLs instead of the suite's 20.
crash-bench:
	ENSEMBLE_CRASH_TRIALS=200 cargo test --test crash -- --nocapture

# Retakes the README's screenshots (docs/screenshots/) from the real app with the demo data.
screenshots: build
	scripts/with-xvfb.sh node scripts/screenshots.mjs
