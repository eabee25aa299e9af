#!/usr/bin/env bash
# Bench-only references: a virtualenv with numpy (the GEMM reference), PyTorch (the peer) and
# transformers (bench/hf-check.ts: our Hugging Face GPT-2 export against GPT2LMHeadModel).
# Not needed for the library or the tests; `npm run bench` skips what is missing and says so.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$ROOT/.venv-bench/bin/python" ] || python3 -m venv "$ROOT/.venv-bench"
"$ROOT/.venv-bench/bin/pip" install -q --disable-pip-version-check numpy torch transformers
