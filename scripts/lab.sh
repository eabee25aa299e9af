#!/usr/bin/env bash
# The main job: set up everything and open JupyterLab on notebooks/ with the groundlab kernel and
# extension. Extra arguments go to `jupyter lab` (e.g. --no-browser --port 8899).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_node
setup_python
setup_kernel
setup_extension
cd "$ROOT"
if [ ! -f runs/quick-transformer/config.json ] && [ -f dist/src/cli/commands/train.js ]; then
  log "training the quick Transformer run the notebooks share (runs/quick-transformer)"
  node bin/groundlab.js train --arch transformer --preset quick --out runs/quick-transformer
fi
log "starting JupyterLab on notebooks/"
exec "$VENV/bin/jupyter" lab --notebook-dir="$ROOT/notebooks" "$@"
