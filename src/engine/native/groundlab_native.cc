// groundlab's native kernels: a Node-API addon that computes on the WebAssembly backend's heap.
//
// The wasm backend keeps every tensor in one WebAssembly.Memory. Its ArrayBuffer is passed to each
// call (`heap`), with byte offsets of the operands, so nothing is copied in or out: the kernels
// read and write the same memory the wasm kernels use. Matrix products go to the system BLAS
// (OpenBLAS on Linux, Accelerate on macOS); the fused kernels (layer norm, GELU, softmax,
// cross-entropy, AdamW) are plain loops that the compiler vectorises.
//
// Every function takes its sizes as numbers and its operands as byte offsets into `heap`; the
// TypeScript side (../native.ts) checks shapes before calling.

#include <node_api.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };
void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb, const int m,
                 const int n, const int k, const float alpha, const float *a, const int lda, const float *b, const int ldb,
                 const float beta, float *c, const int ldc);
// OpenBLAS's thread control; weak so that other BLAS libraries (Accelerate) link too.
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
char *openblas_get_config(void) __attribute__((weak));
}

namespace {

// ---------------------------------------------------------------------------------------------
// Argument helpers.

struct Args {
  napi_env env;
  size_t argc = 0;
  napi_value argv[24];
  bool ok = true;
  uint8_t *base = nullptr;  // the wasm heap (argument 0 of every kernel)
  size_t len = 0;

  Args(napi_env e, napi_callback_info info, size_t expected, bool heap = true) : env(e) {
    argc = 24;
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < expected) fail("too few arguments");
    void *data = nullptr;
    if (ok && heap) {
      if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) fail("argument 0 is not an ArrayBuffer (the wasm heap)");
      base = static_cast<uint8_t *>(data);
    }
  }
  void fail(const char *msg) {
    if (ok) napi_throw_error(env, "GROUNDLAB_NATIVE", msg);
    ok = false;
  }
  int64_t i64(size_t i) {
    int64_t v = 0;
    if (napi_get_value_int64(env, argv[i], &v) != napi_ok) fail("argument is not a number");
    return v;
  }
  double f64(size_t i) {
    double v = 0;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok) fail("argument is not a number");
    return v;
  }
  bool flag(size_t i) { return i64(i) != 0; }
  // The floats at the heap offset given by argument i, checked to hold `count` of them.
  float *f32(size_t i, int64_t count) { return static_cast<float *>(span(i64(i), count)); }
  int32_t *i32(size_t i, int64_t count) { return static_cast<int32_t *>(span(i64(i), count)); }
  // The same, or nullptr when the offset is negative (an absent operand).
  float *opt(size_t i, int64_t count) {
    const int64_t off = i64(i);
    return off < 0 ? nullptr : static_cast<float *>(span(off, count));
  }

 private:
  void *span(int64_t off, int64_t count) {
    if (!ok) return nullptr;
    if (off < 0 || count < 0 || (off & 3) != 0 || static_cast<uint64_t>(off) + 4ull * static_cast<uint64_t>(count) > len) {
      fail("operand lies outside the wasm heap (or is not 4-byte aligned)");
      return nullptr;
    }
    return base + off;
  }
};

// exp(x) for float, written so that the compiler vectorises loops that call it (libm's expf is
// scalar): x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite split of ln2), exp(r) by Cephes' degree-6
// polynomial, 2^n through the exponent bits. Relative error about 2e-7 over the clamped range
// [-87.3, 88.7]; below it returns ~1e-38 instead of 0 (the callers only add or divide by it).
inline float fexp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// Row-major C = op(A) op(B) + beta C with 64-bit sizes (BLAS takes int).
inline void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *pa, int64_t lda, const float *pb, int64_t ldb,
                  float beta, float *pc, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), 1.0f, pa, static_cast<int>(lda), pb, static_cast<int>(ldb), beta, pc, static_cast<int>(ldc));
}

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// ---------------------------------------------------------------------------------------------
// gemm(heap, transA, transB, M, N, K, aOff, bOff, beta, cOff, batch, strideA, strideB, strideC)
// C[i] = op(A[i]) op(B[i]) + beta C[i] for i < batch; row-major, op(A) [M, K], op(B) [K, N], C [M, N].
// Strides are in floats (0 broadcasts one operand over the batch).
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a(env, info, 14);
  const bool ta = a.flag(1), tb = a.flag(2);
  const int64_t m = a.i64(3), n = a.i64(4), k = a.i64(5);
  const float beta = static_cast<float>(a.f64(8));
  const int64_t batch = a.i64(10);
  const int64_t sa = a.i64(11), sb = a.i64(12), sc = a.i64(13);
  if (!a.ok) return nullptr;
  if (m <= 0 || n <= 0 || batch <= 0) return undef(env);
  float *pa = a.f32(6, (batch - 1) * sa + m * k);
  float *pb = a.f32(7, (batch - 1) * sb + k * n);
  float *pc = a.f32(9, (batch - 1) * sc + m * n);
  if (!a.ok) return nullptr;
  if (k == 0) {
    for (int64_t i = 0; i < batch; i++) {
      float *c = pc + i * sc;
      if (beta == 0.0f) std::memset(c, 0, sizeof(float) * m * n);
      else for (int64_t j = 0; j < m * n; j++) c[j] *= beta;
    }
    return undef(env);
  }
  for (int64_t i = 0; i < batch; i++) sgemm(ta, tb, m, n, k, pa + i * sa, ta ? m : k, pb + i * sb, tb ? k : n, beta, pc + i * sc, n);
  return undef(env);
}

// rowBroadcast(heap, rows, cols, srcOff, dstOff): dst[r, :] = src[:] for every row (bias into C before a gemm with beta 1).
napi_value RowBroadcast(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const int64_t rows = a.i64(1), cols = a.i64(2);
  float *src = a.f32(3, cols);
  float *dst = a.f32(4, rows * cols);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * cols, src, sizeof(float) * cols);
  return undef(env);
}

// transpose(heap, outer, rows, cols, inner, xOff, yOff): y[o, c, r, i] = x[o, r, c, i].
// Any permutation that swaps two adjacent groups of axes has this form.
napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  const int64_t outer = a.i64(1), rows = a.i64(2), cols = a.i64(3), inner = a.i64(4);
  const int64_t size = outer * rows * cols * inner;
  float *x = a.f32(5, size);
  float *y = a.f32(6, size);
  if (!a.ok) return nullptr;
  const int64_t plane = rows * cols * inner;
  constexpr int64_t B = 32;
  for (int64_t o = 0; o < outer; o++) {
    const float *xs = x + o * plane;
    float *ys = y + o * plane;
    if (inner == 1) {
      for (int64_t r0 = 0; r0 < rows; r0 += B)
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
          const int64_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
          for (int64_t r = r0; r < r1; r++)
            for (int64_t c = c0; c < c1; c++) ys[c * rows + r] = xs[r * cols + c];
        }
    } else {
      for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) std::memcpy(ys + (c * rows + r) * inner, xs + (r * cols + c) * inner, sizeof(float) * inner);
    }
  }
  return undef(env);
}

// ---------------------------------------------------------------------------------------------
// Layer norm over the last axis. Forward: y = xhat * g + b, saves xhat [N, D] and rstd [N].
// layerNorm(heap, n, d, eps, xOff, gOff, bOff (-1: no beta, RMS norm), yOff, xhatOff, rstdOff, rms)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const int64_t n = a.i64(1), d = a.i64(2);
  const float eps = static_cast<float>(a.f64(3));
  float *x = a.f32(4, n * d);
  float *g = a.f32(5, d);
  float *b = a.opt(6, d);
  float *y = a.f32(7, n * d);
  float *xhat = a.f32(8, n * d);
  float *rstd = a.f32(9, n);
  const bool rms = a.flag(10);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < n; r++) {
    const float *xr = x + r * d;
    float *yr = y + r * d, *hr = xhat + r * d;
    float mean = 0.0f;
    if (!rms) {
      for (int64_t j = 0; j < d; j++) mean += xr[j];
      mean /= static_cast<float>(d);
    }
    float var = 0.0f;
    for (int64_t j = 0; j < d; j++) {
      const float c = xr[j] - mean;
      var += c * c;
    }
    var /= static_cast<float>(d);
    const float rs = 1.0f / std::sqrt(var + eps);
    rstd[r] = rs;
    for (int64_t j = 0; j < d; j++) {
      const float h = (xr[j] - mean) * rs;
      hr[j] = h;
      yr[j] = b ? h * g[j] + b[j] : h * g[j];
    }
  }
  return undef(env);
}

// Backward of layer norm (or RMS norm): dx, dgamma, dbeta (dbeta skipped when dbOff < 0).
// layerNormGrad(heap, n, d, dyOff, xhatOff, rstdOff, gOff, dxOff, dgOff, dbOff, rms)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const int64_t n = a.i64(1), d = a.i64(2);
  float *dy = a.f32(3, n * d);
  float *xhat = a.f32(4, n * d);
  float *rstd = a.f32(5, n);
  float *g = a.f32(6, d);
  float *dx = a.f32(7, n * d);
  float *dg = a.f32(8, d);
  float *db = a.opt(9, d);
  const bool rms = a.flag(10);
  if (!a.ok) return nullptr;
  std::memset(dg, 0, sizeof(float) * d);
  if (db) std::memset(db, 0, sizeof(float) * d);
  const float invd = 1.0f / static_cast<float>(d);
  for (int64_t r = 0; r < n; r++) {
    const float *dyr = dy + r * d, *hr = xhat + r * d;
    float *dxr = dx + r * d;
    float m1 = 0.0f, m2 = 0.0f;
    for (int64_t j = 0; j < d; j++) {
      const float dh = dyr[j] * g[j];
      m1 += dh;
      m2 += dh * hr[j];
      dg[j] += dyr[j] * hr[j];
      if (db) db[j] += dyr[j];
    }
    m1 = rms ? 0.0f : m1 * invd;
    m2 *= invd;
    const float rs = rstd[r];
    for (int64_t j = 0; j < d; j++) dxr[j] = (dyr[j] * g[j] - m1 - hr[j] * m2) * rs;
  }
  return undef(env);
}

// GELU (tanh approximation, GPT-2's gelu_new). gelu(heap, size, xOff, yOff).
constexpr float kGeluK = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluC = 0.044715f;

napi_value Gelu(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  const int64_t size = a.i64(1);
  float *x = a.f32(2, size);
  float *y = a.f32(3, size);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < size; i++) {
    const float v = x[i];
    const float u = kGeluK * (v + kGeluC * v * v * v);
    y[i] = v / (1.0f + fexp(-2.0f * u));  // 0.5 v (1 + tanh u) = v sigmoid(2u)
  }
  return undef(env);
}

// geluGrad(heap, size, xOff, dyOff, dxOff): dx = dy * d/dx gelu(x).
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const int64_t size = a.i64(1);
  float *x = a.f32(2, size);
  float *dy = a.f32(3, size);
  float *dx = a.f32(4, size);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < size; i++) {
    const float v = x[i];
    const float u = kGeluK * (v + kGeluC * v * v * v);
    const float s = 1.0f / (1.0f + fexp(-2.0f * u));
    const float du = 2.0f * kGeluK * (1.0f + 3.0f * kGeluC * v * v);
    dx[i] = dy[i] * (s + v * s * (1.0f - s) * du);
  }
  return undef(env);
}

// Causal softmax of scaled scores: p[r, i, j] = softmax_j(scale * s[r, i, j]) over j <= i, 0 above.
// causalSoftmax(heap, n, t, scale, sOff, pOff); s, p [n, T, T] (may alias).
napi_value CausalSoftmax(napi_env env, napi_callback_info info) {
  Args a(env, info, 6);
  const int64_t n = a.i64(1), t = a.i64(2);
  const float scale = static_cast<float>(a.f64(3));
  float *s = a.f32(4, n * t * t);
  float *p = a.f32(5, n * t * t);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < n * t; r++) {
    const int64_t i = r % t;
    const float *sr = s + r * t;
    float *pr = p + r * t;
    float mx = -INFINITY;
    for (int64_t j = 0; j <= i; j++) mx = sr[j] * scale > mx ? sr[j] * scale : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j <= i; j++) {
      const float e = fexp(sr[j] * scale - mx);
      pr[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j <= i; j++) pr[j] *= inv;
    for (int64_t j = i + 1; j < t; j++) pr[j] = 0.0f;
  }
  return undef(env);
}

// Backward of the causal softmax: ds = scale * p * (dp - sum_j dp p). softmaxGrad(heap, n, t, scale, pOff, dpOff, dsOff).
napi_value CausalSoftmaxGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  const int64_t n = a.i64(1), t = a.i64(2);
  const float scale = static_cast<float>(a.f64(3));
  float *p = a.f32(4, n * t * t);
  float *dp = a.f32(5, n * t * t);
  float *ds = a.f32(6, n * t * t);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < n * t; r++) {
    const int64_t i = r % t;
    const float *pr = p + r * t, *dpr = dp + r * t;
    float *dsr = ds + r * t;
    float dot = 0.0f;
    for (int64_t j = 0; j <= i; j++) dot += pr[j] * dpr[j];
    for (int64_t j = 0; j <= i; j++) dsr[j] = scale * pr[j] * (dpr[j] - dot);
    for (int64_t j = i + 1; j < t; j++) dsr[j] = 0.0f;
  }
  return undef(env);
}

// Masked mean cross-entropy from logits. crossEntropy(heap, n, v, zOff, targetsOff (int32), maskOff (-1: all),
// gradOff (-1: no gradient), lossOff): loss = sum_r mask_r * nll_r / max(1, sum mask); grad = (softmax - onehot) mask / denom.
napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  const int64_t n = a.i64(1), v = a.i64(2);
  float *z = a.f32(3, n * v);
  int32_t *tg = a.i32(4, n);
  float *mask = a.opt(5, n);
  float *grad = a.opt(6, n * v);
  float *loss = a.f32(7, 1);
  if (!a.ok) return nullptr;
  double msum = 0.0;
  for (int64_t r = 0; r < n; r++) msum += mask ? mask[r] : 1.0f;
  const float denom = static_cast<float>(msum > 1.0 ? msum : 1.0);
  double total = 0.0;
  for (int64_t r = 0; r < n; r++) {
    const float *zr = z + r * v;
    const float w = mask ? mask[r] : 1.0f;
    float mx = -INFINITY;
    for (int64_t j = 0; j < v; j++) mx = zr[j] > mx ? zr[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < v; j++) sum += fexp(zr[j] - mx);
    const float lse = mx + std::log(sum);
    const int32_t t = tg[r];
    if (t < 0 || t >= v) {
      a.fail("cross-entropy target outside the vocabulary");
      return nullptr;
    }
    total += static_cast<double>(w) * (lse - zr[t]);
    if (grad) {
      float *gr = grad + r * v;
      const float scale = w / denom;
      for (int64_t j = 0; j < v; j++) gr[j] = fexp(zr[j] - lse) * scale;
      gr[t] -= scale;
    }
  }
  *loss = static_cast<float>(total / denom);
  return undef(env);
}

// One AdamW update in place. adamw(heap, size, pOff, gOff, mOff, vOff, lr, beta1, beta2, eps, bc1, bc2, decay)
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p = p * decay - lr * (m / bc1) / (sqrt(v / bc2) + eps).
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info, 13);
  const int64_t size = a.i64(1);
  float *p = a.f32(2, size);
  float *g = a.f32(3, size);
  float *m = a.f32(4, size);
  float *v = a.f32(5, size);
  const float lr = static_cast<float>(a.f64(6)), b1 = static_cast<float>(a.f64(7)), b2 = static_cast<float>(a.f64(8));
  const float eps = static_cast<float>(a.f64(9)), bc1 = static_cast<float>(a.f64(10)), bc2 = static_cast<float>(a.f64(11));
  const float decay = static_cast<float>(a.f64(12));
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < size; i++) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float upd = (mi / bc1) / (std::sqrt(vi / bc2) + eps);
    p[i] = p[i] * decay - upd * lr;
  }
  return undef(env);
}

// ---------------------------------------------------------------------------------------------
// The LSTM layer (PyTorch gate order i, f, g, o; zero initial state), forward and backprop through
// time, each one call for the whole sequence. xw [T, B, 4D] holds x W_ih + bias; whh [D, 4D].

inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }
inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }

// The cells of one row, as functions of non-aliasing rows so that the compiler vectorises them.
// A step without a previous state passes `zeros`.

// LSTM: g [4D] holds the pre-activations (i f g o) and receives the activations; cp the previous c.
void lstmCell(float *__restrict g, const float *__restrict cp, float *__restrict h, float *__restrict c, int64_t d) {
  for (int64_t j = 0; j < d; j++) {
    const float si = fsigmoid(g[j]), sf = fsigmoid(g[d + j]), tg = ftanh(g[2 * d + j]), so = fsigmoid(g[3 * d + j]);
    const float cj = sf * cp[j] + si * tg;
    g[j] = si;
    g[d + j] = sf;
    g[2 * d + j] = tg;
    g[3 * d + j] = so;
    c[j] = cj;
    h[j] = so * ftanh(cj);
  }
}

// LSTM backward of one row: dy (dh | dc from outside), dhn / dcn the gradients from the next step
// (dcn is replaced by the one for the previous step), dg [4D] the pre-activation gradients.
void lstmCellGrad(const float *__restrict act, const float *__restrict dy, const float *__restrict c, const float *__restrict cp,
                  const float *__restrict dhn, float *__restrict dcn, float *__restrict dg, int64_t d) {
  for (int64_t j = 0; j < d; j++) {
    const float si = act[j], sf = act[d + j], tg = act[2 * d + j], so = act[3 * d + j];
    const float tc = ftanh(c[j]);
    const float dh = dy[j] + dhn[j];
    const float dc = dy[d + j] + dcn[j] + dh * so * (1.0f - tc * tc);
    dg[j] = dc * tg * (si * (1.0f - si));
    dg[d + j] = dc * cp[j] * (sf * (1.0f - sf));
    dg[2 * d + j] = dc * si * (1.0f - tg * tg);
    dg[3 * d + j] = dh * tc * (so * (1.0f - so));
    dcn[j] = dc * sf;
  }
}

// GRU: x [3D] input part, gh [3D] = h_prev whh + bhh, hp the previous h -> act [4D] (r z n hn), o the new h.
void gruCell(const float *__restrict x, const float *__restrict gh, const float *__restrict hp, float *__restrict act,
             float *__restrict o, int64_t d) {
  for (int64_t j = 0; j < d; j++) {
    const float rg = fsigmoid(x[j] + gh[j]), zg = fsigmoid(x[d + j] + gh[d + j]);
    const float hn = gh[2 * d + j];
    const float n = ftanh(x[2 * d + j] + rg * hn);
    act[j] = rg;
    act[d + j] = zg;
    act[2 * d + j] = n;
    act[3 * d + j] = hn;
    o[j] = (1.0f - zg) * n + zg * hp[j];
  }
}

// GRU backward of one row: dh = dy + dhn; dx [3D] input-part gradients, dg [3D] gh gradients;
// dhn is replaced by the direct part of the previous step's dh (the whh^T product is added after).
void gruCellGrad(const float *__restrict act, const float *__restrict dy, const float *__restrict hp, float *__restrict dhn,
                 float *__restrict dx, float *__restrict dg, int64_t d) {
  for (int64_t j = 0; j < d; j++) {
    const float rg = act[j], zg = act[d + j], n = act[2 * d + j], hn = act[3 * d + j];
    const float dh = dy[j] + dhn[j];
    const float dan = dh * (1.0f - zg) * (1.0f - n * n);
    const float dar = dan * hn * (rg * (1.0f - rg));
    const float daz = dh * (hp[j] - n) * (zg * (1.0f - zg));
    dx[j] = dar;
    dx[d + j] = daz;
    dx[2 * d + j] = dan;
    dg[j] = dar;
    dg[d + j] = daz;
    dg[2 * d + j] = dan * rg;
    dhn[j] = dh * zg;
  }
}

// lstm(heap, T, B, D, xwOff, whhOff, outOff [T, B, 2D] (h | c), actsOff [T, B, 4D] (sig i, sig f, tanh g, sig o))
napi_value Lstm(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  const int64_t t = a.i64(1), b = a.i64(2), d = a.i64(3);
  float *xw = a.f32(4, t * b * 4 * d);
  float *whh = a.f32(5, d * 4 * d);
  float *out = a.f32(6, t * b * 2 * d);
  float *acts = a.f32(7, t * b * 4 * d);
  if (!a.ok) return nullptr;
  const int64_t d4 = 4 * d, d2 = 2 * d;
  const std::vector<float> zeros(d, 0.0f);
  for (int64_t s = 0; s < t; s++) {
    float *g = acts + s * b * d4;  // pre-activations first, activations in place
    std::memcpy(g, xw + s * b * d4, sizeof(float) * b * d4);
    if (s > 0)  // g += h_{s-1} whh, h_{s-1} = the h half of out[s-1] (row stride 2D)
      sgemm(false, false, b, d4, d, out + (s - 1) * b * d2, d2, whh, d4, 1.0f, g, d4);
    for (int64_t r = 0; r < b; r++) {
      float *hr = out + (s * b + r) * d2;  // h | c
      lstmCell(g + r * d4, s > 0 ? out + ((s - 1) * b + r) * d2 + d : zeros.data(), hr, hr + d, d);
    }
  }
  return undef(env);
}

// lstmGrad(heap, T, B, D, dyOff [T, B, 2D], actsOff, outOff, whhOff, dxwOff [T, B, 4D], dwOff [D, 4D])
napi_value LstmGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  const int64_t t = a.i64(1), b = a.i64(2), d = a.i64(3);
  const int64_t d4 = 4 * d, d2 = 2 * d;
  float *dy = a.f32(4, t * b * d2);
  float *acts = a.f32(5, t * b * d4);
  float *out = a.f32(6, t * b * d2);
  float *whh = a.f32(7, d * d4);
  float *dxw = a.f32(8, t * b * d4);
  float *dw = a.f32(9, d * d4);
  if (!a.ok) return nullptr;
  std::vector<float> dhNext(b * d, 0.0f), dcNext(b * d, 0.0f);
  const std::vector<float> zeros(d, 0.0f);
  for (int64_t s = t - 1; s >= 0; s--) {
    float *dg = dxw + s * b * d4;
    for (int64_t r = 0; r < b; r++) {
      const float *cp = s > 0 ? out + ((s - 1) * b + r) * d2 + d : zeros.data();
      lstmCellGrad(acts + (s * b + r) * d4, dy + (s * b + r) * d2, out + (s * b + r) * d2 + d, cp, dhNext.data() + r * d,
                   dcNext.data() + r * d, dg + r * d4, d);
    }
    if (s > 0)  // dh_{s-1} = dg whh^T
      sgemm(false, true, b, d, d4, dg, d4, whh, d4, 0.0f, dhNext.data(), d);
  }
  // dW = sum_s h_{s-1}^T dg_s: one product over steps 1..T-1 (h_{-1} = 0); h rows have stride 2D.
  if (t > 1)
    sgemm(true, false, d, d4, (t - 1) * b, out, d2, dxw + b * d4, d4, 0.0f, dw, d4);
  else
    std::memset(dw, 0, sizeof(float) * d * d4);
  return undef(env);
}

// The GRU layer (PyTorch gate order r, z, n; zero initial state), see ../ops-gru.ts:
//   r = sig(xr + hr), z = sig(xz + hz), n = tanh(xn + r hn), h' = (1 - z) n + z h, (hr|hz|hn) = h whh + bhh.
// gru(heap, T, B, D, xwOff [T, B, 3D], whhOff [D, 3D], bhhOff [3D], outOff [T, B, D], actsOff [T, B, 4D] (r, z, n, hn))
napi_value Gru(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  const int64_t t = a.i64(1), b = a.i64(2), d = a.i64(3);
  const int64_t d3 = 3 * d, d4 = 4 * d;
  float *xw = a.f32(4, t * b * d3);
  float *whh = a.f32(5, d * d3);
  float *bhh = a.f32(6, d3);
  float *out = a.f32(7, t * b * d);
  float *acts = a.f32(8, t * b * d4);
  if (!a.ok) return nullptr;
  std::vector<float> gh(b * d3);
  const std::vector<float> zeros(d, 0.0f);
  for (int64_t s = 0; s < t; s++) {
    for (int64_t r = 0; r < b; r++) std::memcpy(gh.data() + r * d3, bhh, sizeof(float) * d3);
    if (s > 0)
      sgemm(false, false, b, d3, d, out + (s - 1) * b * d, d, whh, d3, 1.0f, gh.data(), d3);
    for (int64_t r = 0; r < b; r++)
      gruCell(xw + (s * b + r) * d3, gh.data() + r * d3, s > 0 ? out + ((s - 1) * b + r) * d : zeros.data(), acts + (s * b + r) * d4,
              out + (s * b + r) * d, d);
  }
  return undef(env);
}

// gruGrad(heap, T, B, D, dyOff [T, B, D], actsOff, outOff, whhOff, dxwOff [T, B, 3D], dwOff [D, 3D], dbOff [3D])
napi_value GruGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const int64_t t = a.i64(1), b = a.i64(2), d = a.i64(3);
  const int64_t d3 = 3 * d, d4 = 4 * d;
  float *dy = a.f32(4, t * b * d);
  float *acts = a.f32(5, t * b * d4);
  float *out = a.f32(6, t * b * d);
  float *whh = a.f32(7, d * d3);
  float *dxw = a.f32(8, t * b * d3);
  float *dw = a.f32(9, d * d3);
  float *db = a.f32(10, d3);
  if (!a.ok) return nullptr;
  std::vector<float> dgh(t * b * d3), dhNext(b * d, 0.0f);
  const std::vector<float> zeros(d, 0.0f);
  for (int64_t s = t - 1; s >= 0; s--) {
    for (int64_t r = 0; r < b; r++)
      gruCellGrad(acts + (s * b + r) * d4, dy + (s * b + r) * d, s > 0 ? out + ((s - 1) * b + r) * d : zeros.data(), dhNext.data() + r * d,
                  dxw + (s * b + r) * d3, dgh.data() + (s * b + r) * d3, d);
    if (s > 0)  // dh_{s-1} += dgh_s whh^T
      sgemm(false, true, b, d, d3, dgh.data() + s * b * d3, d3, whh, d3, 1.0f, dhNext.data(), d);
  }
  if (t > 1)  // dW = sum_{s >= 1} h_{s-1}^T dgh_s
    sgemm(true, false, d, d3, (t - 1) * b, out, d, dgh.data() + b * d3, d3, 0.0f, dw, d3);
  else
    std::memset(dw, 0, sizeof(float) * d * d3);
  std::memset(db, 0, sizeof(float) * d3);
  for (int64_t r = 0; r < t * b; r++)
    for (int64_t j = 0; j < d3; j++) db[j] += dgh[r * d3 + j];
  return undef(env);
}

// lam[t, :] = sum_{r <= t} x[r, :] for x [T, K].
void cumsumRows(const float *x, float *lam, int64_t t, int64_t kd) {
  for (int64_t d = 0; d < kd; d++) lam[d] = x[d];
  for (int64_t ti = 1; ti < t; ti++)
    for (int64_t d = 0; d < kd; d++) lam[ti * kd + d] = lam[(ti - 1) * kd + d] + x[ti * kd + d];
}

// out[d] = q[d] k[d] exp(min(lt[d] - ls[d], 0)): the terms of one entry of the GLA mixing matrix.
void glaTerms(const float *__restrict q, const float *__restrict k, const float *__restrict lt, const float *__restrict ls,
              float *__restrict out, int64_t kd) {
  for (int64_t d = 0; d < kd; d++) {
    const float diff = lt[d] - ls[d];
    out[d] = q[d] * k[d] * fexp(diff < 0.0f ? diff : 0.0f);
  }
}

// Gated linear attention's mixing matrix (see ../ops-gla.ts), per row n of [n, T, K]:
//   P[t, s] = sum_d q[t, d] k[s, d] exp(L[t, d] - L[s, d]) for s <= t, else 0;  L = cumsum over t of logA.
// The decays are recomputed in the backward pass instead of kept ([n, T, T, K] would be large).
// glaPattern(heap, n, T, K, qOff, kOff, logAOff, pOff)

napi_value GlaPattern(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  const int64_t n = a.i64(1), t = a.i64(2), kd = a.i64(3);
  float *q = a.f32(4, n * t * kd);
  float *k = a.f32(5, n * t * kd);
  float *la = a.f32(6, n * t * kd);
  float *p = a.f32(7, n * t * t);
  if (!a.ok) return nullptr;
  std::vector<float> lam(t * kd), terms(kd);
  for (int64_t r = 0; r < n; r++) {
    const float *qr = q + r * t * kd, *kr = k + r * t * kd, *lr = la + r * t * kd;
    cumsumRows(lr, lam.data(), t, kd);
    float *pr = p + r * t * t;
    for (int64_t ti = 0; ti < t; ti++) {
      for (int64_t si = 0; si <= ti; si++) {
        // the K terms first (a loop the compiler vectorises), then their sum in order
        glaTerms(qr + ti * kd, kr + si * kd, lam.data() + ti * kd, lam.data() + si * kd, terms.data(), kd);
        float acc = 0.0f;
        for (int64_t d = 0; d < kd; d++) acc += terms[d];
        pr[ti * t + si] = acc;
      }
      for (int64_t si = ti + 1; si < t; si++) pr[ti * t + si] = 0.0f;
    }
  }
  return undef(env);
}

// glaPatternGrad(heap, n, T, K, dpOff, qOff, kOff, logAOff, dqOff, dkOff, dlogAOff)
napi_value GlaPatternGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const int64_t n = a.i64(1), t = a.i64(2), kd = a.i64(3);
  float *dp = a.f32(4, n * t * t);
  float *q = a.f32(5, n * t * kd);
  float *k = a.f32(6, n * t * kd);
  float *la = a.f32(7, n * t * kd);
  float *dq = a.f32(8, n * t * kd);
  float *dk = a.f32(9, n * t * kd);
  float *dla = a.f32(10, n * t * kd);
  if (!a.ok) return nullptr;
  std::vector<float> lam(t * kd), w(kd);
  std::memset(dq, 0, sizeof(float) * n * t * kd);
  std::memset(dk, 0, sizeof(float) * n * t * kd);
  for (int64_t r = 0; r < n; r++) {
    const float *qr = q + r * t * kd, *kr = k + r * t * kd, *lr = la + r * t * kd, *dpr = dp + r * t * t;
    float *dqr = dq + r * t * kd, *dkr = dk + r * t * kd, *dlr = dla + r * t * kd;
    cumsumRows(lr, lam.data(), t, kd);
    for (int64_t ti = 0; ti < t; ti++)
      for (int64_t si = 0; si <= ti; si++) {
        const float g = dpr[ti * t + si];
        for (int64_t d = 0; d < kd; d++) {
          const float diff = lam[ti * kd + d] - lam[si * kd + d];
          const float wd = g * fexp(diff < 0.0f ? diff : 0.0f);
          dqr[ti * kd + d] += wd * kr[si * kd + d];
          dkr[si * kd + d] += wd * qr[ti * kd + d];
        }
      }
    // dL = q dq - k dk; d logA = reverse cumulative sum of dL over time
    for (int64_t d = 0; d < kd; d++) w[d] = 0.0f;
    for (int64_t ti = t - 1; ti >= 0; ti--)
      for (int64_t d = 0; d < kd; d++) {
        w[d] += qr[ti * kd + d] * dqr[ti * kd + d] - kr[ti * kd + d] * dkr[ti * kd + d];
        dlr[ti * kd + d] = w[d];
      }
  }
  return undef(env);
}

// ---------------------------------------------------------------------------------------------
// The Mamba-2 SSD mixing matrix (see ssdPatternFused in ../ops.ts for the formulas):
//   M[b,h,t,s] = cb[b,t,s] * exp(min(cum[b,h,t] - cum[b,h,s], 0)) * dt[b,s,h] for s <= t, else 0,
//   cum = cumulative sum over t of dt A.
// ssd(heap, B, T, H, dtOff [B,T,H], aOff [H], cbOff [B,T,T], decayOff [B,H,T,T], mOff [B,H,T,T])
napi_value Ssd(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  const int64_t bn = a.i64(1), t = a.i64(2), h = a.i64(3);
  float *dt = a.f32(4, bn * t * h);
  float *av = a.f32(5, h);
  float *cb = a.f32(6, bn * t * t);
  float *decay = a.f32(7, bn * h * t * t);
  float *m = a.f32(8, bn * h * t * t);
  if (!a.ok) return nullptr;
  std::vector<float> cum(t);
  for (int64_t bi = 0; bi < bn; bi++)
    for (int64_t hi = 0; hi < h; hi++) {
      float acc = 0.0f;
      for (int64_t ti = 0; ti < t; ti++) {
        acc += dt[(bi * t + ti) * h + hi] * av[hi];
        cum[ti] = acc;
      }
      float *dr = decay + (bi * h + hi) * t * t;
      float *mr = m + (bi * h + hi) * t * t;
      for (int64_t ti = 0; ti < t; ti++) {
        const float *cbr = cb + (bi * t + ti) * t;
        for (int64_t si = 0; si <= ti; si++) {
          const float seg = cum[ti] - cum[si];
          const float e = fexp(seg < 0.0f ? seg : 0.0f);
          dr[ti * t + si] = e;
          mr[ti * t + si] = e * cbr[si] * dt[(bi * t + si) * h + hi];
        }
        for (int64_t si = ti + 1; si < t; si++) dr[ti * t + si] = mr[ti * t + si] = 0.0f;
      }
    }
  return undef(env);
}

// ssdGrad(heap, B, T, H, gOff [B,H,T,T], decayOff, mOff, cbOff, dtOff, aOff, dDtOff [B,T,H], daOff [H], dCbOff [B,T,T])
napi_value SsdGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 13);
  const int64_t bn = a.i64(1), t = a.i64(2), h = a.i64(3);
  float *g = a.f32(4, bn * h * t * t);
  float *decay = a.f32(5, bn * h * t * t);
  float *m = a.f32(6, bn * h * t * t);
  float *cb = a.f32(7, bn * t * t);
  float *dt = a.f32(8, bn * t * h);
  float *av = a.f32(9, h);
  float *dDt = a.f32(10, bn * t * h);
  float *da = a.f32(11, h);
  float *dCb = a.f32(12, bn * t * t);
  if (!a.ok) return nullptr;
  std::memset(dCb, 0, sizeof(float) * bn * t * t);
  std::memset(da, 0, sizeof(float) * h);
  std::vector<float> direct(t), dcum(t);
  for (int64_t bi = 0; bi < bn; bi++)
    for (int64_t hi = 0; hi < h; hi++) {
      const float *gr = g + (bi * h + hi) * t * t, *dr = decay + (bi * h + hi) * t * t, *mr = m + (bi * h + hi) * t * t;
      std::fill(direct.begin(), direct.end(), 0.0f);
      std::fill(dcum.begin(), dcum.end(), 0.0f);
      for (int64_t ti = 0; ti < t; ti++) {
        const float *cbr = cb + (bi * t + ti) * t;
        float *dcbr = dCb + (bi * t + ti) * t;
        for (int64_t si = 0; si <= ti; si++) {
          const float gd = gr[ti * t + si] * dr[ti * t + si];
          dcbr[si] += gd * dt[(bi * t + si) * h + hi];
          direct[si] += gd * cbr[si];
          const float ds = gr[ti * t + si] * mr[ti * t + si];
          dcum[ti] += ds;  // d seg / d cum_t = +1
          dcum[si] -= ds;  // d seg / d cum_s = -1
        }
      }
      // cum_t = sum_{r <= t} dt_r a: d/d(dt_r a) = sum_{t >= r} dcum_t (a reverse cumulative sum)
      float rev = 0.0f;
      for (int64_t ti = t - 1; ti >= 0; ti--) {
        rev += dcum[ti];
        const float dtv = dt[(bi * t + ti) * h + hi];
        dDt[(bi * t + ti) * h + hi] = direct[ti] + rev * av[hi];
        da[hi] += rev * dtv;
      }
    }
  return undef(env);
}

// gather(heap, outer, axisDim, nIdx, inner, xOff, idxOff (int32), outOff): out[o, i, :] = x[o, idx[i], :]
// (4-byte elements: float32 or int32). Returns the position of the first index out of range, or -1.
napi_value Gather(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  const int64_t outer = a.i64(1), dim = a.i64(2), ni = a.i64(3), inner = a.i64(4);
  float *x = a.f32(5, outer * dim * inner);
  int32_t *idx = a.i32(6, ni);
  float *out = a.f32(7, outer * ni * inner);
  if (!a.ok) return nullptr;
  int64_t bad = -1;
  for (int64_t i = 0; i < ni && bad < 0; i++)
    if (idx[i] < 0 || idx[i] >= dim) bad = i;
  if (bad < 0)
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < ni; i++)
        std::memcpy(out + (o * ni + i) * inner, x + (o * dim + idx[i]) * inner, sizeof(float) * inner);
  napi_value r;
  napi_create_int64(env, bad, &r);
  return r;
}

// Causal depthwise convolution over time (Mamba-2's short conv): x [B, T, C], w [K, C], bias [C]:
//   y[b, t, c] = bias[c] + sum_j w[j, c] x[b, t - K + 1 + j, c]   (x = 0 before the start)
// causalConv(heap, B, T, C, K, xOff, wOff, biasOff, yOff)
napi_value CausalConv(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  const int64_t bn = a.i64(1), t = a.i64(2), ch = a.i64(3), kk = a.i64(4);
  float *x = a.f32(5, bn * t * ch);
  float *w = a.f32(6, kk * ch);
  float *bias = a.f32(7, ch);
  float *y = a.f32(8, bn * t * ch);
  if (!a.ok) return nullptr;
  for (int64_t bi = 0; bi < bn; bi++)
    for (int64_t ti = 0; ti < t; ti++) {
      float *yr = y + (bi * t + ti) * ch;
      for (int64_t c = 0; c < ch; c++) yr[c] = bias[c];
      for (int64_t j = 0; j < kk; j++) {
        const int64_t src = ti - kk + 1 + j;
        if (src < 0) continue;
        const float *xr = x + (bi * t + src) * ch, *wr = w + j * ch;
        for (int64_t c = 0; c < ch; c++) yr[c] += wr[c] * xr[c];
      }
    }
  return undef(env);
}

// causalConvGrad(heap, B, T, C, K, dyOff, xOff, wOff, dxOff, dwOff, dbOff)
napi_value CausalConvGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 11);
  const int64_t bn = a.i64(1), t = a.i64(2), ch = a.i64(3), kk = a.i64(4);
  float *dy = a.f32(5, bn * t * ch);
  float *x = a.f32(6, bn * t * ch);
  float *w = a.f32(7, kk * ch);
  float *dx = a.f32(8, bn * t * ch);
  float *dw = a.f32(9, kk * ch);
  float *db = a.f32(10, ch);
  if (!a.ok) return nullptr;
  std::memset(dx, 0, sizeof(float) * bn * t * ch);
  std::memset(dw, 0, sizeof(float) * kk * ch);
  std::memset(db, 0, sizeof(float) * ch);
  for (int64_t bi = 0; bi < bn; bi++)
    for (int64_t ti = 0; ti < t; ti++) {
      const float *dyr = dy + (bi * t + ti) * ch;
      for (int64_t c = 0; c < ch; c++) db[c] += dyr[c];
      for (int64_t j = 0; j < kk; j++) {
        const int64_t src = ti - kk + 1 + j;
        if (src < 0) continue;
        const float *xr = x + (bi * t + src) * ch, *wr = w + j * ch;
        float *dxr = dx + (bi * t + src) * ch, *dwr = dw + j * ch;
        for (int64_t c = 0; c < ch; c++) {
          dxr[c] += wr[c] * dyr[c];
          dwr[c] += xr[c] * dyr[c];
        }
      }
    }
  return undef(env);
}

// SiLU x sigmoid(x): silu(heap, size, xOff, yOff); siluGrad(heap, size, xOff, dyOff, dxOff).
napi_value Silu(napi_env env, napi_callback_info info) {
  Args a(env, info, 4);
  const int64_t size = a.i64(1);
  float *x = a.f32(2, size);
  float *y = a.f32(3, size);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < size; i++) y[i] = x[i] / (1.0f + fexp(-x[i]));
  return undef(env);
}

napi_value SiluGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  const int64_t size = a.i64(1);
  float *x = a.f32(2, size);
  float *dy = a.f32(3, size);
  float *dx = a.f32(4, size);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < size; i++) {
    const float s = 1.0f / (1.0f + fexp(-x[i]));
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
  return undef(env);
}

// Embedding gradient (scatter-add): out [V, D] = sum over rows i with ids[i] = v of dy[i].
// embeddingGrad(heap, n, v, d, idsOff (int32 [N]), dyOff [N, D], outOff [V, D]); ids are checked by the caller.
napi_value EmbeddingGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  const int64_t n = a.i64(1), v = a.i64(2), d = a.i64(3);
  int32_t *ids = a.i32(4, n);
  float *dy = a.f32(5, n * d);
  float *out = a.f32(6, v * d);
  if (!a.ok) return nullptr;
  std::memset(out, 0, sizeof(float) * v * d);
  for (int64_t i = 0; i < n; i++) {
    const int32_t id = ids[i];
    if (id < 0 || id >= v) {
      a.fail("embedding id outside the vocabulary");
      return nullptr;
    }
    float *o = out + static_cast<int64_t>(id) * d;
    const float *g = dy + i * d;
    for (int64_t j = 0; j < d; j++) o[j] += g[j];
  }
  return undef(env);
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, 1, false);
  const int64_t n = a.i64(0);
  if (!a.ok) return nullptr;
  if (openblas_set_num_threads && n > 0) openblas_set_num_threads(static_cast<int>(n));
  return undef(env);
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads ? openblas_get_num_threads() : 1, &out);
  return out;
}

napi_value BlasName(napi_env env, napi_callback_info) {
  std::string name;
#ifdef GROUNDLAB_BLAS_NAME
  name = GROUNDLAB_BLAS_NAME;
#else
  name = "BLAS";
#endif
  if (openblas_get_config) name = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  napi_value out;
  napi_create_string_utf8(env, name.c_str(), name.size(), &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"gemm", Gemm},
      {"rowBroadcast", RowBroadcast},
      {"transpose", Transpose},
      {"layerNorm", LayerNorm},
      {"layerNormGrad", LayerNormGrad},
      {"gelu", Gelu},
      {"geluGrad", GeluGrad},
      {"causalSoftmax", CausalSoftmax},
      {"causalSoftmaxGrad", CausalSoftmaxGrad},
      {"crossEntropy", CrossEntropy},
      {"adamw", AdamW},
      {"embeddingGrad", EmbeddingGrad},
      {"causalConv", CausalConv},
      {"causalConvGrad", CausalConvGrad},
      {"silu", Silu},
      {"siluGrad", SiluGrad},
      {"gather", Gather},
      {"glaPattern", GlaPattern},
      {"glaPatternGrad", GlaPatternGrad},
      {"gru", Gru},
      {"gruGrad", GruGrad},
      {"lstm", Lstm},
      {"lstmGrad", LstmGrad},
      {"ssd", Ssd},
      {"ssdGrad", SsdGrad},
      {"setThreads", SetThreads},
      {"threads", Threads},
      {"blas", BlasName},
  };
  for (const auto &f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
