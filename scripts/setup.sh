#!/usr/bin/env bash
# Shared setup steps for scripts/lab.sh and scripts/test.sh. Idempotent: each step skips what is
# already in place. Nothing here downloads anything but npm, PyPI and Debian packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { printf '\033[1m[groundlab setup]\033[0m %s\n' "$*" >&2; }

setup_node() {
  cd "$ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  log "building the library (tsc)"
  npm run --silent build
}

# groundlab's native kernels (src/engine/native/): OpenBLAS from Debian when missing and we are root,
# then the Node-API addon built with the system compiler. Without them groundlab runs on pure wasm
# (and says so once); the build's message says what is missing.
setup_native() {
  cd "$ROOT"
  if [ "$(uname -s)" = Linux ] && ! ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so '; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian's OpenBLAS (for the native kernels)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null
    else
      log "OpenBLAS is missing: 'sudo apt-get install libopenblas-dev' gives the native kernels (pure wasm until then)"
    fi
  fi
  log "building the native kernels (src/engine/native/build.sh)"
  bash src/engine/native/build.sh || log "native kernels not built: groundlab runs on pure wasm"
}

setup_python() {
  if [ ! -x "$PY" ]; then
    log "creating the project virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  if ! "$PY" -c 'import jupyterlab, jupyter_client, nbclient, nbformat, jupyter_kernel_test' 2>/dev/null; then
    log "installing JupyterLab and Jupyter clients from PyPI into .venv"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
  fi
}

setup_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
      log "installing Debian's chromium (for the extension's browser tests)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      log "chromium is missing: run 'sudo apt-get install chromium' for the browser tests"
    fi
  fi
}

# The kernel and the extension add their install steps below (see kernel/ and extension/).
setup_kernel() {
  # The groundlab Jupyter kernel (kernel/*.ts on tslab, compiled to dist/kernel by setup_node's
  # build): install its kernelspec into .venv. Notebooks import "groundlab" from dist/ too.
  cd "$ROOT"
  if [ ! -f node_modules/tslab/package.json ]; then
    log "installing npm dependencies (tslab for the kernel)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  log "installing the groundlab Jupyter kernel into .venv"
  node dist/kernel/install.js --prefix "$VENV" >/dev/null
  "$VENV/bin/jupyter" kernelspec list 2>/dev/null | grep '^ *groundlab ' >/dev/null || {
    log "the groundlab kernelspec is not visible to .venv's jupyter"
    return 1
  }
}
setup_extension() {
  # groundlab-widgets (extension/): npm packages, the prebuilt labextension, pip install into .venv.
  local ext="$ROOT/extension"
  local built="$ext/groundlab_widgets/labextension/package.json"
  local installed="$VENV/share/jupyter/labextensions/groundlab-widgets/package.json"
  cd "$ext"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing the extension's npm packages (extension/node_modules)"
    # npm ci: exactly the locked versions, and the tracked lock file is never rewritten. The lock
    # lists every platform's optional rspack binding (npm ci refuses a lock that lacks one);
    # test/scripts/setup.test.ts checks that it stays complete.
    npm ci --no-audit --no-fund --loglevel=error
  fi
  if [ ! -f "$built" ] || [ -n "$(find src style schema package.json tsconfig.json -newer "$built" -print -quit)" ]; then
    log "building the JupyterLab extension groundlab-widgets"
    PATH="$VENV/bin:$PATH" npm run --silent build
  fi
  if [ ! -f "$installed" ] || [ "$built" -nt "$installed" ]; then
    log "installing groundlab-widgets into .venv (pip)"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "$ext"
  fi
  cd "$ROOT"
}

# Slurm for the sweep tests (test/sweep/slurm.test.ts starts a single-node Slurm on loopback by
# itself): Debian's slurm-wlm and munge, installed when missing and we are root.
setup_slurm() {
  if command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ]; then
    if command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ]; then return 0; fi
  fi
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian's slurm-wlm and munge (for the Slurm sweep test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  else
    log "slurm-wlm/munge are missing and we are not root: the Slurm sweep test will be skipped"
  fi
}
