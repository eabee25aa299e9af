#!/usr/bin/env bash
# The main job: set up everything and open JupyterLab on notebooks/ with the groundlab kernel and
# extension. Extra arguments go to `jupyter lab` (e.g. --no-browser --port 8899).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_node
setup_native
setup_python
setup_kernel
setup_extension
cd "$ROOT"
# The quick Transformer that 00-quickstart and the other notebooks start from (they train the rest
# on first use). Re-running resumes an interrupted run; a finished one is left as it is.
QUICK=runs/reproduce-quick/main/transformer_s0
if ! node bin/groundlab.js runs "$QUICK" --json 2>/dev/null | grep '"lastStep": *1500' >/dev/null; then
  log "training the quick Transformer the notebooks share ($QUICK; minutes, Ctrl-C stops and keeps a checkpoint)"
  node bin/groundlab.js train --arch transformer --preset quick --seed 0 --out "$QUICK"
fi
log "starting JupyterLab on notebooks/"
# Jupyter refuses to run as root without being told (containers and CI machines often are root).
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-root)
exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT/notebooks" "${ROOT_FLAG[@]}" "$@"
