#!/usr/bin/env bash
# Sets up everything the tests need (npm packages, .venv with Jupyter, Chromium, kernel, extension)
# and runs the whole test suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_node
setup_native
setup_python
setup_chromium
setup_slurm
setup_kernel
setup_extension
cd "$ROOT"
log "checking the formatting of src/ and extension/src/ (npm run format fixes it)"
npm run --silent format:check
log "running the tests"
node --test --test-concurrency=2 --test-reporter=spec dist/test/
log "running the op and gradient tests again on pure wasm (GROUNDLAB_BACKEND=wasm)"
GROUNDLAB_BACKEND=wasm node --test --test-concurrency=2 --test-reporter=spec dist/test/engine/
