#!/usr/bin/env bash
# Installs what the project needs, idempotently: system libraries for canvas, node_modules,
# a project-local Python venv with JupyterLab + nbconvert, the tslab kernelspec inside it, and
# (where it builds) native TensorFlow for tfjs-node in .native/; AMIDA_NATIVE=0 skips that.
set -euo pipefail
cd "$(dirname "$0")/.."

need_node() {
  command -v node >/dev/null || { echo "bootstrap: Node.js 18..22 is required (see environment.md)" >&2; exit 1; }
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 18 ] || [ "$major" -gt 22 ]; then
    echo "bootstrap: Node $major found; tfjs 4.22 needs Node 18..22 (see environment.md)" >&2; exit 1
  fi
}

CANVAS_DEBS="libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev pkg-config build-essential"
system_libs() {
  pkg-config --exists cairo pangocairo librsvg-2.0 2>/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing canvas build libraries: $CANVAS_DEBS"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $CANVAS_DEBS >/dev/null
  else
    echo "bootstrap: canvas needs system libraries. Run:  sudo apt-get install -y $CANVAS_DEBS" >&2; exit 1
  fi
}

node_modules() {
  # The lock file's hash is stamped into node_modules so an unchanged tree is not reinstalled.
  local stamp=node_modules/.amida-lock-hash want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && node -e 'require("canvas")' 2>/dev/null; then return 0; fi
  echo "bootstrap: npm ci"
  # Node's headers ship with Debian's nodejs in /usr/include/node; node-gyp must not download them.
  [ -d /usr/include/node ] && export npm_config_nodedir=/usr
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
}

# plotly brings JupyterLab's renderer for the interactive charts (application/vnd.plotly.v1+json).
PY_REQS='jupyterlab>=4,<5 nbconvert>=7,<8 nbclient>=0.10 plotly>=6,<8'
python_venv() {
  if [ -x .venv/bin/jupyter-nbconvert ] && [ -x .venv/bin/jupyter-lab ] && [ "$(cat .venv/.amida-ok 2>/dev/null)" = "$PY_REQS" ]; then return 0; fi
  echo "bootstrap: python venv .venv with $PY_REQS"
  python3 -m venv .venv
  # shellcheck disable=SC2086 # one word per requirement
  .venv/bin/pip install -q --disable-pip-version-check $PY_REQS
  echo "$PY_REQS" > .venv/.amida-ok
}

# Notebooks are committed without outputs (.gitattributes): JupyterLab's autosave then leaves no diff.
git_filters() {
  git rev-parse --git-dir >/dev/null 2>&1 || return 0
  git config filter.nbstrip.clean "python3 jupyter/strip_outputs.py"
  git config filter.nbstrip.smudge cat
}

# The browser tests (the explorer page, JupyterLab) drive Debian's chromium with playwright-core
# (npm): no browser download from anywhere else. AMIDA_BROWSER=0 skips it (those tests then fail
# with the install line).
browser() {
  [ "${AMIDA_BROWSER:-1}" = 0 ] && return 0
  { [ -x /usr/bin/chromium ] || [ -n "${AMIDA_CHROMIUM:-}" ]; } && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "bootstrap: the browser tests need chromium. Run:  sudo apt-get install -y chromium" >&2; exit 1
  fi
}

kernelspec() {
  local dest=.venv/share/jupyter/kernels/amida-tslab
  if [ -f "$dest/kernel.json" ] && cmp -s "$dest/kernel.json" jupyter/kernels/amida-tslab/kernel.json; then return 0; fi
  .venv/bin/jupyter kernelspec install --sys-prefix --replace jupyter/kernels/amida-tslab >/dev/null
}

# tfjs-node 4.22 built from source against the C library in PyPI's tensorflow-cpu wheel, since
# its own install script downloads libtensorflow from Google's storage (environment.md). Any
# failure leaves the project on wasm, as before, with one line saying why.
NATIVE=.native
NATIVE_PKG=$NATIVE/node_modules/@tensorflow/tfjs-node
native_tf() {
  [ "${AMIDA_NATIVE:-1}" = 0 ] && return 0
  local stamp=$NATIVE/.amida-ok want why
  want="$(cat scripts/native/requirements.txt scripts/native/package-lock.json | sha256sum | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && native_loads; then return 0; fi
  mkdir -p "$NATIVE" && rm -f "$stamp"
  # fd 3 carries the one-line reason of a failure; the steps' own output goes to the log.
  if ! why=$(native_build 3>&1 4>&2 >"$NATIVE/build.log" 2>&1); then
    echo "bootstrap: native TensorFlow not installed (${why:-see $NATIVE/build.log}); training runs on wasm (AMIDA_NATIVE=0 skips this step; log: $NATIVE/build.log)"
    return 0
  fi
  echo "$want" > "$stamp"
}

native_loads() {
  node -e 'require(process.argv[1]); require("@tensorflow/tfjs").setBackend("tensorflow").then((ok) => process.exit(ok ? 0 : 1))' "./$NATIVE_PKG" >/dev/null 2>&1
}

# Runs in a subshell (set -e does not apply there): every step ends it through `fail`, with the reason on fd 3.
native_build() {
  fail() { echo "$1" >&3; exit 1; }
  [ "$(uname -sm)" = "Linux x86_64" ] || fail "PyPI's tensorflow-cpu 2.21.0 wheels are for Linux x86-64 and Windows; this is $(uname -sm)"
  command -v g++ >/dev/null && command -v make >/dev/null || fail "no C++ compiler (g++, make)"
  local gyp nodedir pip=.venv/bin/pip
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || fail "npm's bundled node-gyp not found at $gyp"
  # Node's own headers: node-gyp must not download them.
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -f "$nodedir/include/node/node_api.h" ] || fail "Node's headers not found in $nodedir/include/node"
  [ -x "$pip" ] || pip="python3 -m pip"
  echo "bootstrap: native TensorFlow: tfjs-node 4.22.0 built against PyPI's tensorflow-cpu 2.21.0 in $NATIVE/" >&4
  rm -rf "$NATIVE/node_modules"
  # One pinned, hash-checked wheel for one Python ABI: the C library inside does not use Python.
  $pip download --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    --require-hashes -r scripts/native/requirements.txt -d "$NATIVE/wheels" || fail "pip download of tensorflow-cpu==2.21.0 failed"
  cp scripts/native/package.json scripts/native/package-lock.json "$NATIVE/"
  (cd "$NATIVE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || fail "npm ci of @tensorflow/tfjs-node@4.22.0 failed"
  # Its own tfjs copies would shadow the project's: without them, require() finds ../node_modules.
  (cd "$NATIVE/node_modules/@tensorflow" && rm -rf tfjs tfjs-core tfjs-layers tfjs-converter tfjs-data tfjs-backend-cpu tfjs-backend-webgl)
  # deps/: the wheel's C API headers and its two libraries under the names binding.gyp links.
  python3 - "$NATIVE"/wheels/tensorflow_cpu-2.21.0-cp311-*.whl "$NATIVE_PKG/deps" <<'PY' || fail "could not unpack the tensorflow-cpu wheel"
import os, shutil, sys, zipfile
whl, deps = sys.argv[1], sys.argv[2]
headers = tuple("tensorflow/include/" + d for d in ("tensorflow/c/", "tensorflow/core/platform/", "tsl/", "xla/tsl/"))
libs = ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2")
with zipfile.ZipFile(whl) as z:
    for m in z.namelist():
        if m.startswith(headers) and m.endswith(".h"):
            dest = os.path.join(deps, "include", m[len("tensorflow/include/"):])
        elif m in libs:
            dest = os.path.join(deps, "lib", os.path.basename(m))
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(m) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
PY
  ln -sf libtensorflow_cc.so.2 "$NATIVE_PKG/deps/lib/libtensorflow.so"
  ln -sf libtensorflow_framework.so.2 "$NATIVE_PKG/deps/lib/libtensorflow_framework.so"
  # The addon's rpath ($ORIGIN/../../deps/lib) finds the libraries at run time: no LD_LIBRARY_PATH.
  (cd "$NATIVE_PKG" && npm_config_node_gyp="$gyp" ../../.bin/node-pre-gyp install --build-from-source --nodedir="$nodedir") || fail "building the tfjs-node addon failed"
  native_loads || fail "the built addon does not load"
}

# The project's own TensorFlow kernels (src/backend/native-ops.c), built here (about a second,
# once) so that a failed build is said up front; training then composes them from TensorFlow's ops.
native_ops() {
  { [ "${AMIDA_NATIVE:-1}" = 0 ] || [ "${AMIDA_NATIVE_OPS:-1}" = 0 ]; } && return 0
  native_loads || return 0
  local line
  line=$(node --import tsx -e 'const s = require("./src/backend/select");
    s.initBackend("node", { quiet: true }).then((b) => console.log(s.describe(b)))' 2>/dev/null | tail -1)
  case "$line" in
    *"own TensorFlow ops"*) ;;
    *) echo "bootstrap: ${line:-the native backend did not start}" ;;
  esac
}

need_node
system_libs
node_modules
if [ "${1:-}" != "--node-only" ]; then
  python_venv
  kernelspec
  browser
fi
git_filters
native_tf
native_ops
