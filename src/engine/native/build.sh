#!/usr/bin/env bash
# Builds groundlab's native kernels (groundlab_native.cc) into dist/native/groundlab_native.node with
# the system C++ compiler, Node's own Node-API headers and the system BLAS (OpenBLAS on Linux,
# Accelerate on macOS). Run by scripts/setup.sh; safe to run again (rebuilds only when the source
# is newer). Exits non-zero with a message saying what is missing; groundlab then runs on pure wasm.
#   GROUNDLAB_NATIVE_CXX      compiler (default: c++ / g++ / clang++)
#   GROUNDLAB_NATIVE_CFLAGS   compiler flags (default: -O3 -march=x86-64-v3 on x86-64, -O3 elsewhere)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
SRC="$HERE/groundlab_native.cc"
OUT_DIR="$ROOT/dist/native"
OUT="$OUT_DIR/groundlab_native.node"
say() { printf 'groundlab native: %s\n' "$*" >&2; }

if [ -f "$OUT" ] && [ "$OUT" -nt "$SRC" ] && [ "$OUT" -nt "$HERE/build.sh" ] && [ "${1:-}" != "--force" ]; then
  exit 0
fi

CXX="${GROUNDLAB_NATIVE_CXX:-}"
if [ -z "$CXX" ]; then
  for c in c++ g++ clang++; do if command -v "$c" >/dev/null 2>&1; then CXX="$c"; break; fi; done
fi
[ -n "$CXX" ] || { say "no C++ compiler found (install g++ or clang)"; exit 1; }

# Node-API headers: the running Node's own include folder, else the node-api-headers npm package.
NODE_BIN="$(command -v node)"
INC=""
for d in "$(dirname "$NODE_BIN")/../include/node" /usr/include/node /usr/local/include/node \
         "$ROOT/node_modules/node-api-headers/include"; do
  if [ -f "$d/node_api.h" ]; then INC="$d"; break; fi
done
[ -n "$INC" ] || { say "Node-API headers not found (node_api.h); install Node's headers or 'npm install node-api-headers'"; exit 1; }

case "$(uname -s)" in
  Darwin)
    BLAS_FLAGS=(-framework Accelerate -DGROUNDLAB_BLAS_NAME='"Accelerate"')
    LINK=(-bundle -undefined dynamic_lookup)
    ARCH_FLAGS=(-O3)
    ;;
  *)
    if [ -f /usr/include/x86_64-linux-gnu/cblas.h ] || ls /usr/lib/*/libopenblas.so >/dev/null 2>&1 || ls /usr/lib/libopenblas.so >/dev/null 2>&1 || ldconfig -p 2>/dev/null | grep -q 'libopenblas.so '; then
      BLAS_FLAGS=(-lopenblas)
    else
      say "OpenBLAS not found (Debian/Ubuntu: apt-get install libopenblas-dev)"; exit 1
    fi
    LINK=(-shared -fPIC)
    # x86-64-v3 (AVX2, FMA: every x86 CPU since 2013-2015), not -march=native: the addon also runs on
    # other nodes of a cluster that share the checkout (Slurm sweeps). OpenBLAS picks its own kernels
    # for the CPU at run time. native.ts checks the CPU's flags before loading the addon.
    case "$(uname -m)" in x86_64) ARCH_FLAGS=(-O3 -march=x86-64-v3); REQUIRES='["avx2","fma","bmi2","movbe"]' ;; *) ARCH_FLAGS=(-O3) ;; esac
    ;;
esac
REQUIRES="${REQUIRES:-[]}"
if [ -n "${GROUNDLAB_NATIVE_CFLAGS:-}" ]; then read -r -a ARCH_FLAGS <<< "$GROUNDLAB_NATIVE_CFLAGS"; REQUIRES='[]'; fi

mkdir -p "$OUT_DIR"
TMP="$OUT_DIR/.groundlab_native.$$.node"
# -ffp-contract=off: no fused multiply-adds beyond what the source says (results do not depend on the
# compiler's choices); -fno-trapping-math lets loops with floor() and int conversions vectorise.
if ! "$CXX" -std=c++17 "${ARCH_FLAGS[@]}" -ffp-contract=off -fno-math-errno -fno-trapping-math -DNODE_GYP_MODULE_NAME=groundlab_native \
     -I"$INC" "${LINK[@]}" -o "$TMP" "$SRC" "${BLAS_FLAGS[@]}" 2> "$OUT_DIR/build.log"; then
  say "compiling failed (see $OUT_DIR/build.log)"; rm -f "$TMP"; exit 1
fi
mv -f "$TMP" "$OUT"
# What the addon needs of the CPU it runs on (read by native.ts before loading it).
printf '{ "flags": "%s", "requiresCpuFlags": %s }\n' "${ARCH_FLAGS[*]}" "$REQUIRES" > "$OUT_DIR/build-info.json"
say "built $OUT"
