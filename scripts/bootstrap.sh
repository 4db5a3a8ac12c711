#!/usr/bin/env bash
# Installs what the project needs, idempotently: system libraries for canvas, node_modules,
# a project-local Python venv with JupyterLab + nbconvert, and the tslab kernelspec inside it.
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

python_venv() {
  if [ -x .venv/bin/jupyter-nbconvert ] && [ -x .venv/bin/jupyter-lab ] && [ -f .venv/.amida-ok ]; then return 0; fi
  echo "bootstrap: python venv .venv with jupyterlab + nbconvert"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "jupyterlab>=4,<5" "nbconvert>=7,<8" "nbclient>=0.10"
  touch .venv/.amida-ok
}

kernelspec() {
  local dest=.venv/share/jupyter/kernels/amida-tslab
  if [ -f "$dest/kernel.json" ] && cmp -s "$dest/kernel.json" jupyter/kernels/amida-tslab/kernel.json; then return 0; fi
  .venv/bin/jupyter kernelspec install --sys-prefix --replace jupyter/kernels/amida-tslab >/dev/null
}

need_node
system_libs
node_modules
if [ "${1:-}" != "--node-only" ]; then
  python_venv
  kernelspec
fi
