#!/usr/bin/env bash
# Idempotent set-up: system packages, npm dependencies, the native addon, the TypeScript build.
# A second run does only what changed. LIBTORCH=/dir (with include/ and lib/) builds the addon
# against another libtorch (a CUDA build, or the torch/ folder of a pip install).
# --test also installs what only the tests need (Debian's chromium, for the results-page test).
set -euo pipefail
for_tests=0
[ "${1:-}" = "--test" ] && for_tests=1
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages (Debian) ---
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
  if [ -z "${LIBTORCH:-}" ]; then
    installed libtorch-dev || missing+=(libtorch-dev)
    # Debian's libtorch calls the system libblas.so.3; the reference BLAS is ~60x slower.
    installed libopenblas0-pthread || missing+=(libopenblas0-pthread)
    # c10d's Gloo process group (data-parallel training) needs Gloo's headers
    installed libgloo-dev || missing+=(libgloo-dev)
  fi
  command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
  if [ $for_tests = 1 ] && [ -z "${CHROMIUM:-}" ]; then installed chromium || missing+=(chromium); fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      say "installing ${missing[*]} with apt-get"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq "${missing[@]}" >/dev/null
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      say "installing ${missing[*]} with sudo apt-get"
      sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      say "missing system packages: ${missing[*]}"
      say "run:  sudo apt-get install -y ${missing[*]}   and then this command again"
      exit 1
    fi
  fi
else
  if [ -z "${LIBTORCH:-}" ] || ! command -v ffmpeg >/dev/null 2>&1; then
    say "this is not a Debian/Ubuntu system, so packages cannot be installed for you."
    say "install ffmpeg, and a libtorch (from a pip install of torch, or pytorch.org's zip), then run:"
    say "  LIBTORCH=/path/to/libtorch  (the folder holding include/ and lib/)  npm test"
    exit 1
  fi
fi

# --- npm dependencies ---
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- native addon (make rebuilds only what changed; reconfigure when LIBTORCH changes) ---
gyp=node_modules/.bin/node-gyp
# Build against the running Node's own headers (no download) where its install has them.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
gyp_flags=()
[ -f "$node_prefix/include/node/node_api.h" ] && gyp_flags+=(--nodedir="$node_prefix")
stamp=native/build/libtorch.path
want="${LIBTORCH:-/usr}"
if [ ! -f native/build/Makefile ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ native/binding.gyp -nt native/build/Makefile ]; then
  say "configuring the addon against libtorch at $want"
  (cd native && "../$gyp" configure "${gyp_flags[@]}" --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
if ! (cd native && "../$gyp" build --jobs max --loglevel=error >/tmp/worldwander-addon-build.log 2>&1); then
  cat /tmp/worldwander-addon-build.log >&2
  say "the addon failed to build (log above)"
  exit 1
fi

# --- TypeScript (incremental) ---
node_modules/.bin/tsc -p tsconfig.json
