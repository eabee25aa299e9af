#!/usr/bin/env bash
# The main job: set up everything and open JupyterLab on notebooks/ with the groundlab kernel and
# extension; no training before it opens. Extra arguments go to `jupyter lab` (e.g. --no-browser
# --port 8899).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_node
setup_native
setup_python
setup_kernel
setup_extension
cd "$ROOT"
# Nothing is trained here: JupyterLab opens at once, and each notebook trains the runs it reads on
# first use (into runs/reproduce-quick/, shared with `groundlab reproduce`) with a progress bar that
# says how far it is; the stop button keeps what is done. Start with 00-quickstart.
log "starting JupyterLab on notebooks/ (open 00-quickstart first; notebooks train what they need, with a progress bar)"
# Jupyter refuses to run as root without being told (containers and CI machines often are root).
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-root)
exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT/notebooks" "${ROOT_FLAG[@]}" "$@"
