#!/usr/bin/env bash
# Builds the Debian package that carries the default embedded model,
# ensemble-model-gemma3-270m (Architecture: all), from the verified model in
# the cache (scripts/install-model.sh puts it there): the file goes to
# /usr/share/ensemble/models/, where the app looks next to its own prefix.
# The app package (tauri.conf.json) Recommends it, so apt installs both; the
# app stays a small download when only the app changes.
#   scripts/model-deb.sh [OUT_DIR]   (default: $CARGO_TARGET_DIR/release/bundle/deb)
# Does nothing when the package for this model file is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${ENSEMBLE_CACHE:-$HOME/.cache/ensemble}"
NAME="gemma-3-270m-q4_k_m.gguf"
MODEL="$CACHE/models/$NAME"
PKG="ensemble-model-gemma3-270m"
VERSION="1.0.0"
OUT="${1:-${CARGO_TARGET_DIR:-$CACHE/target}/release/bundle/deb}"
DEB="$OUT/${PKG}_${VERSION}_all.deb"

[ -f "$MODEL" ] || scripts/install-model.sh >/dev/null
stamp="$(stat -c '%s-%Y' "$MODEL")"
if [ -f "$DEB" ] && [ "$(cat "$DEB.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$DEB"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/DEBIAN" "$work/usr/share/ensemble/models" "$work/usr/share/doc/$PKG"
ln "$MODEL" "$work/usr/share/ensemble/models/$NAME" 2>/dev/null || cp "$MODEL" "$work/usr/share/ensemble/models/$NAME"
sha="$(sha256sum "$MODEL" | cut -d' ' -f1)"
size_kb=$(( $(stat -c %s "$MODEL") / 1024 ))
cat > "$work/DEBIAN/control" <<CONTROL
Package: $PKG
Version: $VERSION
Architecture: all
Maintainer: Ensemble <ensemble@localhost>
Installed-Size: $size_kb
Section: misc
Priority: optional
Description: Default embedded model for Ensemble (Gemma 3 270M, Q4_K_M)
 The model Ensemble's built-in llama.cpp engine answers with when no other
 provider is set up, so the app works offline with nothing else installed.
 Gemma 3 270M is a small base model: fine for schema-constrained agent
 steps and short answers. sha256 $sha.
CONTROL
cat > "$work/usr/share/doc/$PKG/copyright" <<'COPYRIGHT'
Gemma 3 270M is provided under the Gemma Terms of Use:
https://ai.google.dev/gemma/terms
COPYRIGHT
echo "$sha  $NAME" > "$work/usr/share/ensemble/models/SHA256SUMS"
mkdir -p "$OUT"
# The model is already compressed (quantised weights): store it as is.
dpkg-deb --root-owner-group -Znone --build "$work" "$DEB" >/dev/null
echo "$stamp" > "$DEB.stamp"
echo "$DEB"
