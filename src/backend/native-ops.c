/*
 * TensorFlow CPU kernels that TensorFlow's own op set lacks, registered into the running
 * TensorFlow through its C kernel API (tensorflow/c/kernels.h, ops.h) when Node loads this file
 * as an addon; src/backend/native-ops.ts builds it with the C compiler and loads it. tfjs-node
 * then runs them like any TensorFlow op (binding.executeOp). Single-threaded: the project runs
 * one intra-op thread per training process (src/backend/select.ts).
 *
 *   AmidaSwish(x) -> y                               x * sigmoid(x)
 *   AmidaSwishGrad(dy, x) -> dx                     dy * s * (1 + x * (1 - s)), s = sigmoid(x)
 *   AmidaLayerNorm(x, gamma, beta) -> y, mean, rstd over the last axis; attr eps
 *   AmidaLayerNormGrad(dy, x, gamma, mean, rstd) -> dx, dgamma, dbeta
 *   AmidaBiasSwish(z, b) -> y                        swish(z + b), b over the last axis
 *   AmidaBiasSwishGrad(dy, z, b) -> dz, db
 *   AmidaAttention(qkv, b) -> out, probs            qkv + b [B, N, 3, h, dh] (any leading shape with
 *       that size), out [B, N, h*dh] = softmax(scale Q K^T) V per head, probs [B, h, N, N]; attrs
 *       heads, scale
 *   AmidaAttentionGrad(dout, qkv, b, probs) -> dqkv, db   the gradient of the above
 *   AmidaBatchNorm(x, gamma, beta, m, v) -> y, mean, rstd, m', v'   training batch norm over the
 *       last axis with the batch's statistics, and the moving averages m - (m - mean) * decay,
 *       v - (v - var) * decay (biased variance; each step rounded to float32 as tfjs's three ops
 *       do: bit for bit theirs); attrs eps, decay
 *   AmidaBatchNormGrad(dy, x, gamma, mean, rstd) -> dx, dgamma, dbeta
 *   AmidaAdamW(grads, weights, m, v, hyper) -> weights', m', v'   tf.train.adam's update of N
 *       weights (lists) with flat moments, then AdamW's decay of the weights `decays` marks; bit
 *       for bit the tfjs ops src/train/adamw.ts composes otherwise
 *
 * No TensorFlow or Node headers: the few C API functions used are declared below (their ABI is
 * TensorFlow's stable C API), so any C compiler builds this in about a second.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct TF_Status TF_Status;
typedef struct TF_Tensor TF_Tensor;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;

enum { TF_OK = 0, TF_INVALID_ARGUMENT = 3, TF_FLOAT = 1 };

extern TF_Status* TF_NewStatus(void);
extern void TF_DeleteStatus(TF_Status*);
extern int TF_GetCode(const TF_Status*);
extern void TF_SetStatus(TF_Status*, int code, const char* msg);
extern int TF_NumDims(const TF_Tensor*);
extern int64_t TF_Dim(const TF_Tensor*, int);
extern int64_t TF_TensorElementCount(const TF_Tensor*);
extern void* TF_TensorData(const TF_Tensor*);
extern void TF_DeleteTensor(TF_Tensor*);
extern int TF_TensorType(const TF_Tensor*);
extern TF_KernelBuilder* TF_NewKernelBuilder(const char*, const char*,
                                             void* (*)(TF_OpKernelConstruction*),
                                             void (*)(void*, TF_OpKernelContext*),
                                             void (*)(void*));
extern void TF_RegisterKernelBuilder(const char*, TF_KernelBuilder*, TF_Status*);
extern TF_OpDefinitionBuilder* TF_NewOpDefinitionBuilder(const char*);
extern void TF_RegisterOpDefinition(TF_OpDefinitionBuilder*, TF_Status*);
extern void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder*, const char*);
extern void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder*, const char*);
extern void TF_OpDefinitionBuilderAddAttr(TF_OpDefinitionBuilder*, const char*);
extern void TF_GetInput(TF_OpKernelContext*, int, TF_Tensor**, TF_Status*);
extern TF_Tensor* TF_AllocateOutput(TF_OpKernelContext*, int, int, const int64_t*, int, size_t,
                                    TF_Status*);
extern void TF_OpKernelContext_Failure(TF_OpKernelContext*, TF_Status*);
extern void TF_OpKernelConstruction_Failure(TF_OpKernelConstruction*, TF_Status*);
extern void TF_OpKernelConstruction_GetAttrFloat(TF_OpKernelConstruction*, const char*, float*,
                                                 TF_Status*);
extern void TF_OpKernelConstruction_GetAttrInt32(TF_OpKernelConstruction*, const char*,
                                                 int32_t*, TF_Status*);
extern void TF_OpKernelConstruction_GetAttrSize(TF_OpKernelConstruction*, const char*, int32_t*,
                                                int32_t*, TF_Status*);
extern void TF_OpKernelConstruction_GetAttrInt32List(TF_OpKernelConstruction*, const char*,
                                                     int32_t*, int, TF_Status*);

/* ---- plumbing ---------------------------------------------------------------------------- */

#define MAX_IO 6
typedef struct {
  TF_OpKernelContext* ctx;
  TF_Status* st;
  TF_Tensor* in[MAX_IO];
  TF_Tensor* out[MAX_IO];
  int nin, nout;
} Call;

static int begin(Call* c, TF_OpKernelContext* ctx, int nin) {
  memset(c, 0, sizeof *c);
  c->ctx = ctx;
  c->st = TF_NewStatus();
  c->nin = nin;
  for (int i = 0; i < nin; i++) {
    TF_GetInput(ctx, i, &c->in[i], c->st);
    if (TF_GetCode(c->st) != TF_OK) return 0;
    if (TF_TensorType(c->in[i]) != TF_FLOAT) {
      TF_SetStatus(c->st, TF_INVALID_ARGUMENT, "amida ops take float32 inputs only");
      return 0;
    }
  }
  return 1;
}

static int fail(Call* c, const char* msg) {
  TF_SetStatus(c->st, TF_INVALID_ARGUMENT, msg);
  return 0;
}

/* Output i with the shape of input j, or of `dims`. */
static float* alloc_like(Call* c, int i, TF_Tensor* like) {
  int64_t dims[8];
  int nd = TF_NumDims(like);
  for (int d = 0; d < nd; d++) dims[d] = TF_Dim(like, d);
  int64_t n = TF_TensorElementCount(like);
  c->out[i] = TF_AllocateOutput(c->ctx, i, TF_FLOAT, dims, nd, (size_t)n * sizeof(float), c->st);
  if (i >= c->nout) c->nout = i + 1;
  return TF_GetCode(c->st) == TF_OK ? (float*)TF_TensorData(c->out[i]) : NULL;
}

static float* alloc_dims(Call* c, int i, const int64_t* dims, int nd) {
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= dims[d];
  c->out[i] = TF_AllocateOutput(c->ctx, i, TF_FLOAT, dims, nd, (size_t)n * sizeof(float), c->st);
  if (i >= c->nout) c->nout = i + 1;
  return TF_GetCode(c->st) == TF_OK ? (float*)TF_TensorData(c->out[i]) : NULL;
}

static void end(Call* c) {
  if (TF_GetCode(c->st) != TF_OK) TF_OpKernelContext_Failure(c->ctx, c->st);
  for (int i = 0; i < c->nin; i++)
    if (c->in[i]) TF_DeleteTensor(c->in[i]);
  for (int i = 0; i < c->nout; i++)
    if (c->out[i]) TF_DeleteTensor(c->out[i]);
  TF_DeleteStatus(c->st);
}

static const float* data(Call* c, int i) { return (const float*)TF_TensorData(c->in[i]); }
static int64_t last_dim(TF_Tensor* t) { return TF_NumDims(t) ? TF_Dim(t, TF_NumDims(t) - 1) : 1; }

/* Attributes, read once when TensorFlow builds the kernel. */
typedef struct {
  float eps, scale, decay;
  int32_t heads;
} Attrs;

static void* create_eps_decay(TF_OpKernelConstruction* k) {
  Attrs* a = calloc(1, sizeof(Attrs));
  TF_Status* st = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(k, "eps", &a->eps, st);
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(k, "decay", &a->decay, st);
  if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(k, st);
  TF_DeleteStatus(st);
  return a;
}

static void* create_attrs(TF_OpKernelConstruction* k, int want_eps, int want_attention) {
  Attrs* a = calloc(1, sizeof(Attrs));
  TF_Status* st = TF_NewStatus();
  if (want_eps) TF_OpKernelConstruction_GetAttrFloat(k, "eps", &a->eps, st);
  if (want_attention && TF_GetCode(st) == TF_OK)
    TF_OpKernelConstruction_GetAttrFloat(k, "scale", &a->scale, st);
  if (want_attention && TF_GetCode(st) == TF_OK)
    TF_OpKernelConstruction_GetAttrInt32(k, "heads", &a->heads, st);
  if (TF_GetCode(st) == TF_OK && want_attention && a->heads < 1)
    TF_SetStatus(st, TF_INVALID_ARGUMENT, "heads must be positive");
  if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(k, st);
  TF_DeleteStatus(st);
  return a;
}
static void* create_none(TF_OpKernelConstruction* k) { (void)k; return NULL; }
static void* create_eps(TF_OpKernelConstruction* k) { return create_attrs(k, 1, 0); }
static void* create_attention(TF_OpKernelConstruction* k) { return create_attrs(k, 0, 1); }
static void destroy(void* a) { free(a); }

/*
 * exp(x) for x in float range, vectorizable: 2^n * p(r), r = x - n ln2 (Cephes' expf
 * polynomial, about 1 ulp); clamped to [-87, 88] so that 2^n stays a normal float.
 */
static inline float amida_exp(float x) {
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n); /* 2^n: the exponent field alone */
  return p * two_n;
}

/* ---- swish ------------------------------------------------------------------------------- */

static void swish(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 1)) {
    const int64_t n = TF_TensorElementCount(c.in[0]);
    const float* restrict x = data(&c, 0);
    float* restrict y = alloc_like(&c, 0, c.in[0]);
    if (y)
      for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + amida_exp(-x[i]));
  }
  end(&c);
}

static void swish_grad(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 2)) {
    int64_t n = TF_TensorElementCount(c.in[1]);
    if (TF_TensorElementCount(c.in[0]) != n) {
      fail(&c, "AmidaSwishGrad: dy and x differ in size");
    } else {
      const float* restrict dy = data(&c, 0);
      const float* restrict x = data(&c, 1);
      float* restrict dx = alloc_like(&c, 0, c.in[1]);
      if (dx)
        for (int64_t i = 0; i < n; i++) {
          float s = 1.0f / (1.0f + amida_exp(-x[i]));
          dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
    }
  }
  end(&c);
}

/*
 * swish(z + b) with b [c] over the last axis of z, and its gradient: dz, and db = dz's sums over
 * the rows (in float over blocks of 128 rows, then in double: fixed order, deterministic). The
 * bias add of a Dense layer with swish, in the same pass.
 */
static void bias_swish(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 2)) {
    const int64_t ch = last_dim(c.in[0]);
    const int64_t rows = ch ? TF_TensorElementCount(c.in[0]) / ch : 0;
    if (TF_TensorElementCount(c.in[1]) != ch) {
      fail(&c, "AmidaBiasSwish: the bias must have z's last axis");
    } else {
      const float* restrict z = data(&c, 0);
      const float* restrict b = data(&c, 1);
      float* restrict y = alloc_like(&c, 0, c.in[0]);
      if (y)
        for (int64_t r = 0; r < rows; r++) {
          const float* restrict zr = z + r * ch;
          float* restrict yr = y + r * ch;
#pragma omp simd
          for (int64_t i = 0; i < ch; i++) {
            const float x = zr[i] + b[i];
            yr[i] = x / (1.0f + amida_exp(-x));
          }
        }
    }
  }
  end(&c);
}

static void bias_swish_grad(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 3)) {
    const int64_t ch = last_dim(c.in[1]);
    const int64_t rows = ch ? TF_TensorElementCount(c.in[1]) / ch : 0;
    if (TF_TensorElementCount(c.in[0]) != rows * ch || TF_TensorElementCount(c.in[2]) != ch) {
      fail(&c, "AmidaBiasSwishGrad: dy, z and the bias disagree in shape");
    } else {
      const float* restrict dy = data(&c, 0);
      const float* restrict z = data(&c, 1);
      const float* restrict b = data(&c, 2);
      float* restrict dz = alloc_like(&c, 0, c.in[1]);
      float* restrict db = dz ? alloc_like(&c, 1, c.in[2]) : NULL;
      double* acc = db ? calloc(ch, sizeof(double)) : NULL;
      float* blk = acc ? malloc(ch * sizeof(float)) : NULL;
      if (blk) {
        for (int64_t r0 = 0; r0 < rows; r0 += 128) {
          const int64_t r1 = r0 + 128 < rows ? r0 + 128 : rows;
          for (int64_t i = 0; i < ch; i++) blk[i] = 0.0f;
          for (int64_t r = r0; r < r1; r++) {
            const float* restrict zr = z + r * ch;
            const float* restrict dyr = dy + r * ch;
            float* restrict dzr = dz + r * ch;
#pragma omp simd
            for (int64_t i = 0; i < ch; i++) {
              const float x = zr[i] + b[i];
              const float s = 1.0f / (1.0f + amida_exp(-x));
              dzr[i] = dyr[i] * s * (1.0f + x * (1.0f - s));
              blk[i] += dzr[i];
            }
          }
          for (int64_t i = 0; i < ch; i++) acc[i] += blk[i];
        }
        for (int64_t i = 0; i < ch; i++) db[i] = (float)acc[i];
      } else if (db) {
        fail(&c, "AmidaBiasSwishGrad: out of memory");
      }
      free(acc);
      free(blk);
    }
  }
  end(&c);
}

/* ---- layer norm -------------------------------------------------------------------------- */

static void layer_norm(void* k, TF_OpKernelContext* ctx) {
  const float eps = ((Attrs*)k)->eps;
  Call c;
  if (begin(&c, ctx, 3)) {
    int64_t ch = last_dim(c.in[0]);
    int64_t rows = ch ? TF_TensorElementCount(c.in[0]) / ch : 0;
    if (TF_TensorElementCount(c.in[1]) != ch || TF_TensorElementCount(c.in[2]) != ch) {
      fail(&c, "AmidaLayerNorm: gamma and beta must have the size of x's last axis");
    } else {
      const float *x = data(&c, 0), *g = data(&c, 1), *b = data(&c, 2);
      float* y = alloc_like(&c, 0, c.in[0]);
      float* mean = y ? alloc_dims(&c, 1, &rows, 1) : NULL;
      float* rstd = mean ? alloc_dims(&c, 2, &rows, 1) : NULL;
      if (rstd)
        for (int64_t r = 0; r < rows; r++) {
          const float* xr = x + r * ch;
          float* yr = y + r * ch;
          float s = 0.0f;
#pragma omp simd reduction(+ : s)
          for (int64_t i = 0; i < ch; i++) s += xr[i];
          const float m = s / (float)ch;
          float v = 0.0f;
#pragma omp simd reduction(+ : v)
          for (int64_t i = 0; i < ch; i++) v += (xr[i] - m) * (xr[i] - m);
          const float is = 1.0f / sqrtf(v / (float)ch + eps);
          for (int64_t i = 0; i < ch; i++) yr[i] = (xr[i] - m) * is * g[i] + b[i];
          mean[r] = m;
          rstd[r] = is;
        }
    }
  }
  end(&c);
}

static void layer_norm_grad(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 5)) {
    int64_t ch = last_dim(c.in[1]);
    int64_t rows = ch ? TF_TensorElementCount(c.in[1]) / ch : 0;
    if (TF_TensorElementCount(c.in[0]) != rows * ch || TF_TensorElementCount(c.in[2]) != ch ||
        TF_TensorElementCount(c.in[3]) != rows || TF_TensorElementCount(c.in[4]) != rows) {
      fail(&c, "AmidaLayerNormGrad: inputs disagree in shape");
    } else {
      const float *dy = data(&c, 0), *x = data(&c, 1), *g = data(&c, 2);
      const float *mean = data(&c, 3), *rstd = data(&c, 4);
      float* dx = alloc_like(&c, 0, c.in[1]);
      float* dg = dx ? alloc_like(&c, 1, c.in[2]) : NULL;
      float* db = dg ? alloc_like(&c, 2, c.in[2]) : NULL;
      if (db) {
        memset(dg, 0, ch * sizeof(float));
        memset(db, 0, ch * sizeof(float));
        for (int64_t r = 0; r < rows; r++) {
          const float *xr = x + r * ch, *dyr = dy + r * ch;
          float* dxr = dx + r * ch;
          const float m = mean[r], is = rstd[r];
          float sg = 0.0f, sgx = 0.0f;
#pragma omp simd reduction(+ : sg, sgx)
          for (int64_t i = 0; i < ch; i++) {
            const float xh = (xr[i] - m) * is;
            const float gi = dyr[i] * g[i];
            sg += gi;
            sgx += gi * xh;
            dg[i] += dyr[i] * xh;
            db[i] += dyr[i];
          }
          const float mg = sg / (float)ch, mgx = sgx / (float)ch;
          for (int64_t i = 0; i < ch; i++) {
            const float xh = (xr[i] - m) * is;
            dxr[i] = is * (dyr[i] * g[i] - mg - xh * mgx);
          }
        }
      }
    }
  }
  end(&c);
}

/* ---- attention over small sequences ------------------------------------------------------ */

/*
 * Geometry shared by both directions: qkv holds, for each of `batch` sequences of n tokens,
 * rows of w = 3 * h * dh values (Q's heads, then K's, then V's), as the qkv projection lays
 * them out. Each head is computed on contiguous copies of its slices (scratch, below), so that
 * every inner loop runs over contiguous memory with no aliasing; the sizes MobileViT meets are
 * compiled as constants (ATTENTION_SIZES), the rest take the same code with run-time sizes.
 */
typedef struct {
  int64_t batch, n, h, dh, d;
} Geo;

static int geometry(Call* c, TF_Tensor* qkv, int heads, Geo* g) {
  int nd = TF_NumDims(qkv);
  if (nd < 3) return fail(c, "AmidaAttention: qkv must be [batch, n, 3 * dim]");
  g->n = TF_Dim(qkv, nd - 2);
  int64_t w = TF_Dim(qkv, nd - 1);
  g->batch = g->n && w ? TF_TensorElementCount(qkv) / (g->n * w) : 0;
  if (w % (3 * heads)) return fail(c, "AmidaAttention: qkv's last axis is not 3 * heads * dh");
  g->h = heads;
  g->d = w / 3;
  g->dh = g->d / heads;
  return 1;
}

#define INLINE static inline __attribute__((always_inline))

/* Scratch floats one head needs: forward 4 n*dh + n*n, backward 7 n*dh + 2 n*n. */
static int64_t scratch_floats(int64_t n, int64_t dh) { return 8 * n * dh + 2 * n * n; }

/*
 * One head of one sequence, forward: rows `base` (stride w) of the sequence's qkv; writes
 * p = softmax(scale Q K^T) [n, n] and o = P V (stride d).
 */
INLINE void head_forward(const float* restrict base, const float* restrict bias, int64_t w,
                         int64_t d, int64_t hh, float* restrict p, float* restrict o, float scale,
                         float* restrict s, const int64_t n, const int64_t dh) {
  float* restrict q = s;            /* [n, dh], scaled */
  float* restrict kt = q + n * dh;  /* [dh, n] */
  float* restrict v = kt + n * dh;  /* [n, dh] */
  float* restrict oo = v + n * dh;  /* [n, dh] */
  for (int64_t j = 0; j < n; j++) {
    const float* row = base + j * w + hh * dh;
#pragma omp simd
    for (int64_t e = 0; e < dh; e++) {
      q[j * dh + e] = (row[e] + bias[hh * dh + e]) * scale;
      kt[e * n + j] = row[d + e] + bias[d + hh * dh + e];
      v[j * dh + e] = row[2 * d + e] + bias[2 * d + hh * dh + e];
    }
  }
  for (int64_t i = 0; i < n; i++) {
    float* restrict pi = p + i * n;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) pi[j] = 0.0f;
    for (int64_t e = 0; e < dh; e++) {
      const float qe = q[i * dh + e];
#pragma omp simd
      for (int64_t j = 0; j < n; j++) pi[j] += qe * kt[e * n + j];
    }
    float mx = pi[0];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 1; j < n; j++) mx = pi[j] > mx ? pi[j] : mx;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) pi[j] = amida_exp(pi[j] - mx);
    float z = 0.0f;
#pragma omp simd reduction(+ : z)
    for (int64_t j = 0; j < n; j++) z += pi[j];
    const float iz = 1.0f / z;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) pi[j] *= iz;
    float* restrict oi = oo + i * dh;
#pragma omp simd
    for (int64_t e = 0; e < dh; e++) oi[e] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
      const float pj = pi[j];
#pragma omp simd
      for (int64_t e = 0; e < dh; e++) oi[e] += pj * v[j * dh + e];
    }
#pragma omp simd
    for (int64_t e = 0; e < dh; e++) o[i * d + e] = oi[e];
  }
}

/*
 * One head of one sequence, backward: from dO (stride d), the sequence's qkv rows and P,
 * writes dQ, dK, dV into dbase (stride w).
 */
INLINE void head_backward(const float* restrict base, const float* restrict bias,
                          const float* restrict go, const float* restrict p,
                          float* restrict dbase, int64_t w, int64_t d, int64_t hh, float scale,
                          float* restrict s, float* restrict colsum, const int64_t n,
                          const int64_t dh) {
  float* restrict q = s;             /* [n, dh] */
  float* restrict k = q + n * dh;    /* [n, dh] */
  float* restrict vt = k + n * dh;   /* [dh, n] */
  float* restrict g = vt + n * dh;   /* dO [n, dh] */
  float* restrict dq = g + n * dh;   /* [n, dh] */
  float* restrict dk = dq + n * dh;  /* [n, dh] */
  float* restrict dv = dk + n * dh;  /* [n, dh] */
  float* restrict ds = dv + n * dh;  /* [n, n] */
  for (int64_t j = 0; j < n; j++) {
    const float* row = base + j * w + hh * dh;
#pragma omp simd
    for (int64_t e = 0; e < dh; e++) {
      q[j * dh + e] = row[e] + bias[hh * dh + e];
      k[j * dh + e] = row[d + e] + bias[d + hh * dh + e];
      vt[e * n + j] = row[2 * d + e] + bias[2 * d + hh * dh + e];
      g[j * dh + e] = go[j * d + e];
      dq[j * dh + e] = 0.0f;
      dk[j * dh + e] = 0.0f;
      dv[j * dh + e] = 0.0f;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    const float* restrict pi = p + i * n;
    const float* restrict gi = g + i * dh;
    float* restrict dsi = ds + i * n;
    /* dP[i, j] = dO[i] . V[j] */
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dsi[j] = 0.0f;
    for (int64_t e = 0; e < dh; e++) {
      const float ge = gi[e];
#pragma omp simd
      for (int64_t j = 0; j < n; j++) dsi[j] += ge * vt[e * n + j];
    }
    /* dV[j] += P[i, j] dO[i] */
    for (int64_t j = 0; j < n; j++) {
      const float pij = pi[j];
#pragma omp simd
      for (int64_t e = 0; e < dh; e++) dv[j * dh + e] += pij * gi[e];
    }
    /* dS = P * (dP - sum_j P dP), times the scale (d(scale Q K^T) / dQ, dK) */
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; j++) dot += pi[j] * dsi[j];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dsi[j] = pi[j] * (dsi[j] - dot) * scale;
    /* dQ[i] += dS[i, j] K[j];  dK[j] += dS[i, j] Q[i] */
    for (int64_t j = 0; j < n; j++) {
      const float sij = dsi[j];
#pragma omp simd
      for (int64_t e = 0; e < dh; e++) {
        dq[i * dh + e] += sij * k[j * dh + e];
        dk[j * dh + e] += sij * q[i * dh + e];
      }
    }
  }
  /* colsum: the sequence's sums of dQ, dK, dV over its tokens (the bias's gradient) */
  for (int64_t e = 0; e < 3 * dh; e++) colsum[e] = 0.0f;
  for (int64_t j = 0; j < n; j++) {
    float* row = dbase + j * w + hh * dh;
#pragma omp simd
    for (int64_t e = 0; e < dh; e++) {
      row[e] = dq[j * dh + e];
      row[d + e] = dk[j * dh + e];
      row[2 * d + e] = dv[j * dh + e];
      colsum[e] += dq[j * dh + e];
      colsum[dh + e] += dk[j * dh + e];
      colsum[2 * dh + e] += dv[j * dh + e];
    }
  }
}

typedef void (*HeadForward)(const float*, const float*, int64_t, int64_t, int64_t, float*,
                            float*, float, float*);
typedef void (*HeadBackward)(const float*, const float*, const float*, const float*, float*,
                             int64_t, int64_t, int64_t, float, float*, float*);

/* (n, dh) pairs compiled with constant sizes: MobileViT's at 32-256 px. */
#define ATTENTION_SIZES(X) \
  X(1, 16) X(1, 20) X(1, 24) X(4, 16) X(4, 20) X(4, 24) X(16, 16) X(16, 20) X(16, 24) X(64, 16)

#define SPECIALIZE(N, DH)                                                                    \
  static void forward_##N##_##DH(const float* base, const float* bias, int64_t w, int64_t d,  \
                                 int64_t hh, float* p, float* o, float scale, float* s) {     \
    head_forward(base, bias, w, d, hh, p, o, scale, s, N, DH);                                \
  }                                                                                           \
  static void backward_##N##_##DH(const float* base, const float* bias, const float* go,      \
                                  const float* p, float* dbase, int64_t w, int64_t d,          \
                                  int64_t hh, float scale, float* s, float* colsum) {         \
    head_backward(base, bias, go, p, dbase, w, d, hh, scale, s, colsum, N, DH);               \
  }
ATTENTION_SIZES(SPECIALIZE)

static void pick(int64_t n, int64_t dh, HeadForward* f, HeadBackward* b) {
  *f = NULL;
  *b = NULL;
#define PICK(N, DH)          \
  if (n == N && dh == DH) {  \
    *f = forward_##N##_##DH; \
    *b = backward_##N##_##DH; \
  }
  ATTENTION_SIZES(PICK)
}

static void attention(void* k, TF_OpKernelContext* ctx) {
  const Attrs* a = k;
  Call c;
  Geo g;
  if (begin(&c, ctx, 2) && geometry(&c, c.in[0], a->heads, &g) &&
      (TF_TensorElementCount(c.in[1]) == 3 * g.d ||
       fail(&c, "AmidaAttention: the bias must have qkv's last axis"))) {
    const int64_t n = g.n, dh = g.dh, d = g.d, w = 3 * d;
    const float* bias = data(&c, 1);
    int64_t od[3] = {g.batch, n, d};
    int64_t pd[4] = {g.batch, g.h, n, n};
    float* out = alloc_dims(&c, 0, od, 3);
    float* probs = out ? alloc_dims(&c, 1, pd, 4) : NULL;
    float* s = probs ? malloc(sizeof(float) * scratch_floats(n, dh)) : NULL;
    if (s) {
      HeadForward f;
      HeadBackward unused;
      pick(n, dh, &f, &unused);
      const float* qkv = data(&c, 0);
      for (int64_t b = 0; b < g.batch; b++)
        for (int64_t hh = 0; hh < g.h; hh++) {
          const float* base = qkv + b * n * w;
          float* p = probs + (b * g.h + hh) * n * n;
          float* o = out + b * n * d + hh * dh;
          if (f)
            f(base, bias, w, d, hh, p, o, a->scale, s);
          else
            head_forward(base, bias, w, d, hh, p, o, a->scale, s, n, dh);
        }
      free(s);
    } else if (probs) {
      fail(&c, "AmidaAttention: out of memory");
    }
  }
  end(&c);
}

static void attention_grad(void* k, TF_OpKernelContext* ctx) {
  const Attrs* a = k;
  Call c;
  Geo g;
  if (begin(&c, ctx, 4) && geometry(&c, c.in[1], a->heads, &g)) {
    const int64_t n = g.n, dh = g.dh, d = g.d, w = 3 * d;
    if (TF_TensorElementCount(c.in[0]) != g.batch * n * d ||
        TF_TensorElementCount(c.in[2]) != w ||
        TF_TensorElementCount(c.in[3]) != g.batch * g.h * n * n) {
      fail(&c, "AmidaAttentionGrad: dout, the bias or probs disagree with qkv");
    } else {
      float* dqkv = alloc_like(&c, 0, c.in[1]);
      float* dbias = dqkv ? alloc_like(&c, 1, c.in[2]) : NULL;
      float* s = dbias ? malloc(sizeof(float) * (scratch_floats(n, dh) + 3 * dh)) : NULL;
      double* acc = s ? calloc(w, sizeof(double)) : NULL;
      if (acc) {
        float* colsum = s + scratch_floats(n, dh);
        HeadForward unused;
        HeadBackward f;
        pick(n, dh, &unused, &f);
        const float *dout = data(&c, 0), *qkv = data(&c, 1), *bias = data(&c, 2);
        const float* probs = data(&c, 3);
        for (int64_t b = 0; b < g.batch; b++)
          for (int64_t hh = 0; hh < g.h; hh++) {
            const float* base = qkv + b * n * w;
            const float* go = dout + b * n * d + hh * dh;
            const float* p = probs + (b * g.h + hh) * n * n;
            float* dbase = dqkv + b * n * w;
            if (f)
              f(base, bias, go, p, dbase, w, d, hh, a->scale, s, colsum);
            else
              head_backward(base, bias, go, p, dbase, w, d, hh, a->scale, s, colsum, n, dh);
            for (int64_t e = 0; e < dh; e++) {
              acc[hh * dh + e] += colsum[e];
              acc[d + hh * dh + e] += colsum[dh + e];
              acc[2 * d + hh * dh + e] += colsum[2 * dh + e];
            }
          }
        for (int64_t e = 0; e < w; e++) dbias[e] = (float)acc[e];
      } else if (dbias) {
        fail(&c, "AmidaAttentionGrad: out of memory");
      }
      free(s);
      free(acc);
    }
  }
  end(&c);
}

/* ---- batch norm ------------------------------------------------------------------------- */

/* old - (old - batch) * decay with float32 rounding after each step (no fused multiply-add). */
__attribute__((optimize("fp-contract=off"))) static void moving_average(
    const float* restrict old, const float* restrict batch, float* restrict out, int64_t n,
    float decay) {
  for (int64_t j = 0; j < n; j++) {
    const float diff = old[j] - batch[j];
    const float step = diff * decay;
    out[j] = old[j] - step;
  }
}

/*
 * Over the last axis (channels) of x [rows, c]: the loops run along the channels, contiguous in
 * NHWC. Sums run in float over blocks of BN_BLOCK rows, then in double across blocks, and the
 * statistics' pass sums x - k with k a sample of each channel (the shifted-data variance: no
 * cancellation when the mean is large); fixed order: deterministic.
 */
#define BN_BLOCK 128

/*
 * Per-channel sums over the rows of x [rows, ch], in float over blocks of BN_BLOCK rows, then in
 * double: without dy, s1 += x - k and s2 += (x - k)^2; with dy, s1 += dy and s2 += dy (x - k).
 * Compiled with constant channel counts for the common widths (the accumulators stay in
 * registers), and with run-time ones for the rest.
 */
INLINE void bn_sums_body(const float* restrict x, const float* restrict dy,
                         const float* restrict k, int64_t rows, const int64_t ch,
                         float* restrict f1, float* restrict f2, double* restrict s1,
                         double* restrict s2) {
  for (int64_t r0 = 0; r0 < rows; r0 += BN_BLOCK) {
    const int64_t r1 = r0 + BN_BLOCK < rows ? r0 + BN_BLOCK : rows;
    for (int64_t i = 0; i < ch; i++) f1[i] = f2[i] = 0.0f;
    for (int64_t r = r0; r < r1; r++) {
      const float* restrict xr = x + r * ch;
      if (dy) {
        const float* restrict dyr = dy + r * ch;
#pragma omp simd
        for (int64_t i = 0; i < ch; i++) {
          f1[i] += dyr[i];
          f2[i] += dyr[i] * (xr[i] - k[i]);
        }
      } else {
#pragma omp simd
        for (int64_t i = 0; i < ch; i++) {
          const float d = xr[i] - k[i];
          f1[i] += d;
          f2[i] += d * d;
        }
      }
    }
    for (int64_t i = 0; i < ch; i++) {
      s1[i] += f1[i];
      s2[i] += f2[i];
    }
  }
}

/* Without dy, out = x a1 + a2 (the normalization); with dy, out = a1 (dy - a2 - (x - k) a3). */
INLINE void bn_apply_body(const float* restrict x, const float* restrict dy,
                          float* restrict out, int64_t rows, const int64_t ch,
                          const float* restrict a1, const float* restrict a2,
                          const float* restrict a3, const float* restrict k) {
  for (int64_t r = 0; r < rows; r++) {
    const float* restrict xr = x + r * ch;
    float* restrict o = out + r * ch;
    if (dy) {
      const float* restrict dyr = dy + r * ch;
#pragma omp simd
      for (int64_t i = 0; i < ch; i++) o[i] = a1[i] * (dyr[i] - a2[i] - (xr[i] - k[i]) * a3[i]);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < ch; i++) o[i] = xr[i] * a1[i] + a2[i];
    }
  }
}

#define BN_WIDTHS(X) X(16) X(24) X(32) X(48) X(64) X(80) X(96) X(128)
#define BN_SPECIALIZE(C)                                                                         \
  static void bn_sums_##C(const float* x, const float* dy, const float* k, int64_t rows,       \
                          float* f1, float* f2, double* s1, double* s2) {                     \
    bn_sums_body(x, dy, k, rows, C, f1, f2, s1, s2);                                          \
  }                                                                                           \
  static void bn_apply_##C(const float* x, const float* dy, float* out, int64_t rows,          \
                           const float* a1, const float* a2, const float* a3, const float* k) { \
    bn_apply_body(x, dy, out, rows, C, a1, a2, a3, k);                                        \
  }
BN_WIDTHS(BN_SPECIALIZE)

static void bn_sums(const float* x, const float* dy, const float* k, int64_t rows, int64_t ch,
                    float* f1, float* f2, double* s1, double* s2) {
#define BN_PICK_SUMS(C)                            \
  if (ch == C) {                                   \
    bn_sums_##C(x, dy, k, rows, f1, f2, s1, s2);    \
    return;                                        \
  }
  BN_WIDTHS(BN_PICK_SUMS)
  bn_sums_body(x, dy, k, rows, ch, f1, f2, s1, s2);
}

static void bn_apply(const float* x, const float* dy, float* out, int64_t rows, int64_t ch,
                     const float* a1, const float* a2, const float* a3, const float* k) {
#define BN_PICK_APPLY(C)                               \
  if (ch == C) {                                       \
    bn_apply_##C(x, dy, out, rows, a1, a2, a3, k);      \
    return;                                            \
  }
  BN_WIDTHS(BN_PICK_APPLY)
  bn_apply_body(x, dy, out, rows, ch, a1, a2, a3, k);
}

static void batch_norm(void* k, TF_OpKernelContext* ctx) {
  const Attrs* a = k;
  Call c;
  if (begin(&c, ctx, 5)) {
    const int64_t ch = last_dim(c.in[0]);
    const int64_t rows = ch ? TF_TensorElementCount(c.in[0]) / ch : 0;
    int same = 1;
    for (int i = 1; i < 5; i++) same = same && TF_TensorElementCount(c.in[i]) == ch;
    if (!same || rows == 0) {
      fail(&c, "AmidaBatchNorm: gamma, beta and the moving averages must have x's channels");
    } else {
      const float* restrict x = data(&c, 0);
      const float *g = data(&c, 1), *b = data(&c, 2);
      float* restrict y = alloc_like(&c, 0, c.in[0]);
      float* mean = y ? alloc_like(&c, 1, c.in[1]) : NULL;
      float* rstd = mean ? alloc_like(&c, 2, c.in[1]) : NULL;
      float* m_out = rstd ? alloc_like(&c, 3, c.in[3]) : NULL;
      float* v_out = m_out ? alloc_like(&c, 4, c.in[4]) : NULL;
      double* acc = v_out ? calloc(2 * ch, sizeof(double)) : NULL;
      float* coef = acc ? malloc(6 * ch * sizeof(float)) : NULL;
      if (coef) {
        double* restrict s1 = acc;
        double* restrict s2 = acc + ch;
        float* restrict f1 = coef + 3 * ch;
        float* restrict f2 = coef + 4 * ch;
        float* restrict shift0 = coef + 5 * ch;
        memcpy(shift0, x + (rows / 2) * ch, ch * sizeof(float));
        bn_sums(x, NULL, shift0, rows, ch, f1, f2, s1, s2);
        float* restrict scale = coef;
        float* restrict shift = coef + ch;
        float* restrict var = coef + 2 * ch;
        for (int64_t i = 0; i < ch; i++) {
          const double d = s1[i] / (double)rows; /* mean - shift */
          double vr = s2[i] / (double)rows - d * d;
          vr = vr > 0.0 ? vr : 0.0;
          mean[i] = (float)(d + shift0[i]);
          var[i] = (float)vr;
          rstd[i] = (float)(1.0 / sqrt(vr + (double)a->eps));
          scale[i] = g[i] * rstd[i];
          shift[i] = b[i] - mean[i] * scale[i];
        }
        bn_apply(x, NULL, y, rows, ch, scale, shift, NULL, NULL);
        moving_average(data(&c, 3), mean, m_out, ch, a->decay);
        moving_average(data(&c, 4), var, v_out, ch, a->decay);
      } else if (v_out) {
        fail(&c, "AmidaBatchNorm: out of memory");
      }
      free(acc);
      free(coef);
    }
  }
  end(&c);
}

static void batch_norm_grad(void* k, TF_OpKernelContext* ctx) {
  (void)k;
  Call c;
  if (begin(&c, ctx, 5)) {
    const int64_t ch = last_dim(c.in[1]);
    const int64_t rows = ch ? TF_TensorElementCount(c.in[1]) / ch : 0;
    if (TF_TensorElementCount(c.in[0]) != rows * ch || TF_TensorElementCount(c.in[2]) != ch ||
        TF_TensorElementCount(c.in[3]) != ch || TF_TensorElementCount(c.in[4]) != ch || !rows) {
      fail(&c, "AmidaBatchNormGrad: inputs disagree in shape");
    } else {
      const float* restrict dy = data(&c, 0);
      const float* restrict x = data(&c, 1);
      const float *g = data(&c, 2), *mean = data(&c, 3), *rstd = data(&c, 4);
      float* restrict dx = alloc_like(&c, 0, c.in[1]);
      float* dg = dx ? alloc_like(&c, 1, c.in[2]) : NULL;
      float* db = dg ? alloc_like(&c, 2, c.in[2]) : NULL;
      double* acc = db ? calloc(2 * ch, sizeof(double)) : NULL;
      float* coef = acc ? malloc(5 * ch * sizeof(float)) : NULL;
      if (coef) {
        double* restrict sdy = acc;
        double* restrict sdyx = acc + ch;
        float* restrict f1 = coef + 3 * ch;
        float* restrict f2 = coef + 4 * ch;
        bn_sums(x, dy, mean, rows, ch, f1, f2, sdy, sdyx);
        /* dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat)), xhat = (x - mean) rstd */
        float* restrict a1 = coef;      /* gamma rstd */
        float* restrict a2 = coef + ch; /* mean(dy) */
        float* restrict a3 = coef + 2 * ch; /* mean(dy xhat) rstd */
        for (int64_t i = 0; i < ch; i++) {
          const double dyxhat = sdyx[i] * rstd[i];
          db[i] = (float)sdy[i];
          dg[i] = (float)dyxhat;
          a1[i] = g[i] * rstd[i];
          a2[i] = (float)(sdy[i] / (double)rows);
          a3[i] = (float)(dyxhat / (double)rows) * rstd[i];
        }
        bn_apply(x, dy, dx, rows, ch, a1, a2, a3, mean);
      } else if (db) {
        fail(&c, "AmidaBatchNormGrad: out of memory");
      }
      free(acc);
      free(coef);
    }
  }
  end(&c);
}

/* ---- AdamW -------------------------------------------------------------------------------- */

typedef struct {
  int32_t n;
  float beta1, beta2, one_minus_beta1, one_minus_beta2, epsilon;
  int32_t* decays; /* n flags */
} AdamAttrs;

static void* create_adamw(TF_OpKernelConstruction* k) {
  AdamAttrs* a = calloc(1, sizeof(AdamAttrs));
  TF_Status* st = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrInt32(k, "N", &a->n, st);
  const char* floats[] = {"beta1", "beta2", "one_minus_beta1", "one_minus_beta2", "epsilon"};
  float* dst[] = {&a->beta1, &a->beta2, &a->one_minus_beta1, &a->one_minus_beta2, &a->epsilon};
  for (int i = 0; i < 5 && TF_GetCode(st) == TF_OK; i++)
    TF_OpKernelConstruction_GetAttrFloat(k, floats[i], dst[i], st);
  int32_t len = 0, total = 0;
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrSize(k, "decays", &len, &total, st);
  if (TF_GetCode(st) == TF_OK && len != a->n)
    TF_SetStatus(st, TF_INVALID_ARGUMENT, "AmidaAdamW: decays must have N flags");
  if (TF_GetCode(st) == TF_OK) {
    a->decays = calloc(a->n > 0 ? a->n : 1, sizeof(int32_t));
    TF_OpKernelConstruction_GetAttrInt32List(k, "decays", a->decays, a->n, st);
  }
  if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(k, st);
  TF_DeleteStatus(st);
  return a;
}

static void destroy_adamw(void* p) {
  AdamAttrs* a = p;
  if (a) free(a->decays);
  free(a);
}

/*
 * One weight's slice: every step rounds to float32 in tfjs's order (no fused multiply-add), so
 * the result is bit for bit theirs.
 */
__attribute__((optimize("fp-contract=off"))) static void adam_slice(
    const AdamAttrs* a, const float* restrict g, const float* restrict w, const float* restrict m,
    const float* restrict v, float* restrict w_out, float* restrict m_out, float* restrict v_out,
    int64_t n, float neg_lr, float bias1, float bias2, int decay, float factor) {
  for (int64_t j = 0; j < n; j++) {
    const float mm = m[j] * a->beta1 + g[j] * a->one_minus_beta1;
    const float vv = v[j] * a->beta2 + (g[j] * g[j]) * a->one_minus_beta2;
    m_out[j] = mm;
    v_out[j] = vv;
    const float step = (mm / bias1) / (sqrtf(vv / bias2) + a->epsilon) * neg_lr;
    w_out[j] = step + w[j];
  }
  if (decay)
    for (int64_t j = 0; j < n; j++) w_out[j] = w_out[j] * factor;
}

static void adamw(void* k, TF_OpKernelContext* ctx) {
  const AdamAttrs* a = k;
  const int n = a->n;
  Call c;
  memset(&c, 0, sizeof c);
  c.ctx = ctx;
  c.st = TF_NewStatus();
  TF_Tensor** in = calloc(2 * n + 3, sizeof(TF_Tensor*));
  TF_Tensor** out = calloc(n + 2, sizeof(TF_Tensor*));
  int ok = in && out;
  for (int i = 0; ok && i < 2 * n + 3; i++) {
    TF_GetInput(ctx, i, &in[i], c.st);
    ok = TF_GetCode(c.st) == TF_OK && TF_TensorType(in[i]) == TF_FLOAT;
  }
  int64_t total = 0;
  for (int i = 0; ok && i < n; i++) {
    ok = TF_TensorElementCount(in[i]) == TF_TensorElementCount(in[n + i]);
    total += TF_TensorElementCount(in[n + i]);
  }
  ok = ok && TF_TensorElementCount(in[2 * n]) == total &&
       TF_TensorElementCount(in[2 * n + 1]) == total && TF_TensorElementCount(in[2 * n + 2]) == 5;
  if (!ok && TF_GetCode(c.st) == TF_OK)
    TF_SetStatus(c.st, TF_INVALID_ARGUMENT,
                 "AmidaAdamW: N float32 gradients and weights of equal sizes, moments of their "
                 "total size and 5 hyperparameters");
  if (ok) {
    /* hyper: -lr, 1 - beta1^t, 1 - beta2^t, the decay factor, whether to decay (0 or 1) */
    const float* h = TF_TensorData(in[2 * n + 2]);
    int64_t dims[1] = {total};
    c.ctx = ctx;
    TF_Tensor* mo = TF_AllocateOutput(ctx, n, TF_FLOAT, dims, 1, total * sizeof(float), c.st);
    TF_Tensor* vo = TF_GetCode(c.st) == TF_OK
                        ? TF_AllocateOutput(ctx, n + 1, TF_FLOAT, dims, 1, total * sizeof(float), c.st)
                        : NULL;
    out[n] = mo;
    out[n + 1] = vo;
    const float* m = TF_TensorData(in[2 * n]);
    const float* v = TF_TensorData(in[2 * n + 1]);
    int64_t at = 0;
    for (int i = 0; i < n && TF_GetCode(c.st) == TF_OK; i++) {
      TF_Tensor* w = in[n + i];
      int64_t wd[8];
      const int nd = TF_NumDims(w);
      for (int d = 0; d < nd; d++) wd[d] = TF_Dim(w, d);
      const int64_t size = TF_TensorElementCount(w);
      out[i] = TF_AllocateOutput(ctx, i, TF_FLOAT, wd, nd, size * sizeof(float), c.st);
      if (TF_GetCode(c.st) != TF_OK) break;
      adam_slice(a, TF_TensorData(in[i]), TF_TensorData(w), m + at, v + at, TF_TensorData(out[i]),
                 (float*)TF_TensorData(mo) + at, (float*)TF_TensorData(vo) + at, size, h[0], h[1],
                 h[2], h[4] != 0.0f && a->decays[i], h[3]);
      at += size;
    }
  } else if (!in || !out) {
    TF_SetStatus(c.st, TF_INVALID_ARGUMENT, "AmidaAdamW: out of memory");
  }
  if (TF_GetCode(c.st) != TF_OK) TF_OpKernelContext_Failure(ctx, c.st);
  for (int i = 0; in && i < 2 * n + 3; i++)
    if (in[i]) TF_DeleteTensor(in[i]);
  for (int i = 0; out && i < n + 2; i++)
    if (out[i]) TF_DeleteTensor(out[i]);
  free(in);
  free(out);
  TF_DeleteStatus(c.st);
}

/* ---- registration ------------------------------------------------------------------------ */

static int define_with(const char* name, const char* const* inputs, const char* const* outputs,
                       const char* const* attrs, void* (*create)(TF_OpKernelConstruction*),
                       void (*compute)(void*, TF_OpKernelContext*), void (*del)(void*)) {
  TF_Status* st = TF_NewStatus();
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(name);
  for (; *inputs; inputs++) TF_OpDefinitionBuilderAddInput(b, *inputs);
  for (; *outputs; outputs++) TF_OpDefinitionBuilderAddOutput(b, *outputs);
  for (; attrs && *attrs; attrs++) TF_OpDefinitionBuilderAddAttr(b, *attrs);
  TF_RegisterOpDefinition(b, st);
  if (TF_GetCode(st) == TF_OK)
    TF_RegisterKernelBuilder(name, TF_NewKernelBuilder(name, "CPU", create, compute, del), st);
  int ok = TF_GetCode(st) == TF_OK;
  TF_DeleteStatus(st);
  return ok;
}

static int define(const char* name, const char* const* inputs, const char* const* outputs,
                  const char* const* attrs, void* (*create)(TF_OpKernelConstruction*),
                  void (*compute)(void*, TF_OpKernelContext*)) {
  return define_with(name, inputs, outputs, attrs, create, compute, destroy);
}

#define LIST(...) ((const char* const[]){__VA_ARGS__, NULL})

/* How many ops registered (12 when all are). */
static int registered = -1;

static int register_all(void) {
  if (registered >= 0) return registered;
  registered = 0;
  registered += define("AmidaSwish", LIST("x: float"), LIST("y: float"), NULL, create_none, swish);
  registered += define("AmidaSwishGrad", LIST("dy: float", "x: float"), LIST("dx: float"), NULL,
                       create_none, swish_grad);
  registered += define("AmidaLayerNorm", LIST("x: float", "gamma: float", "beta: float"),
                       LIST("y: float", "mean: float", "rstd: float"), LIST("eps: float"),
                       create_eps, layer_norm);
  registered += define("AmidaLayerNormGrad",
                       LIST("dy: float", "x: float", "gamma: float", "mean: float", "rstd: float"),
                       LIST("dx: float", "dgamma: float", "dbeta: float"), NULL, create_none,
                       layer_norm_grad);
  registered += define("AmidaBiasSwish", LIST("z: float", "bias: float"), LIST("y: float"), NULL,
                       create_none, bias_swish);
  registered += define("AmidaBiasSwishGrad", LIST("dy: float", "z: float", "bias: float"),
                       LIST("dz: float", "dbias: float"), NULL, create_none, bias_swish_grad);
  registered += define("AmidaAttention", LIST("qkv: float", "bias: float"),
                       LIST("out: float", "probs: float"), LIST("heads: int", "scale: float"),
                       create_attention, attention);
  registered += define("AmidaAttentionGrad",
                       LIST("dout: float", "qkv: float", "bias: float", "probs: float"),
                       LIST("dqkv: float", "dbias: float"), LIST("heads: int", "scale: float"),
                       create_attention, attention_grad);
  registered += define("AmidaBatchNorm",
                       LIST("x: float", "gamma: float", "beta: float", "m: float", "v: float"),
                       LIST("y: float", "mean: float", "rstd: float", "m_out: float", "v_out: float"),
                       LIST("eps: float", "decay: float"), create_eps_decay, batch_norm);
  registered += define("AmidaBatchNormGrad",
                       LIST("dy: float", "x: float", "gamma: float", "mean: float", "rstd: float"),
                       LIST("dx: float", "dgamma: float", "dbeta: float"), NULL, create_none,
                       batch_norm_grad);
  registered += define_with(
      "AmidaAdamW",
      LIST("grads: N * float", "weights: N * float", "m: float", "v: float", "hyper: float"),
      LIST("new_weights: N * float", "m_out: float", "v_out: float"),
      LIST("N: int >= 1", "decays: list(int)", "beta1: float", "beta2: float",
           "one_minus_beta1: float", "one_minus_beta2: float", "epsilon: float"),
      create_adamw, adamw, destroy_adamw);
  return registered;
}

/*
 * Node-API entry point (Node calls it when it loads the file): registers the ops and exports
 * nothing; `amidaOps` on the exports object would need Node's headers, so the count is read by
 * running the ops instead (native-ops.ts checks one).
 */
void* napi_register_module_v1(void* env, void* exports) {
  (void)env;
  register_all();
  return exports;
}
