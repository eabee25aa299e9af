"""The hardware reference for `npm run bench`: float32 GEMM throughput of numpy (OpenBLAS) on this
machine, with the thread count set by OPENBLAS_NUM_THREADS. Prints one JSON line."""
import json, os, sys, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 512
import numpy as np

def gflops():
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    for _ in range(3):
        a @ b
    reps, best = 20, float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2 * n ** 3 / best / 1e9

print(json.dumps({"numpy": np.__version__, "n": n, "gflops": gflops(), "threads": os.environ.get("OPENBLAS_NUM_THREADS", "all")}))
