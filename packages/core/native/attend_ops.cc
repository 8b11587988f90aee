// Attend's native TensorFlow ops for the `tensorflow` backend (tfjs-node): a custom-op library
// (https://www.tensorflow.org/guide/create_op) that `attend setup tensorflow` compiles against the
// same Python TensorFlow wheel tfjs-node was built against, and that @attend/core loads into the
// process with process.dlopen once tfjs-node is up — REGISTER_OP / REGISTER_KERNEL_BUILDER run at
// load time and put the ops into libtensorflow's global registry, so tfjs-node's op-by-name binding
// (executeOp) runs them like any built-in op. The file is also an (empty) N-API module so that
// process.dlopen accepts it. Built by packages/core/src/tensorflow-native.ts (g++ -O3 -march=native).
//
// Why: a recurrent layer driven from JS is ~15 TensorFlow ops a timestep, each 10–35 µs of eager
// overhead (measured, README "Training speed"); cuDNN's answer is one kernel for the whole
// sequence. These ops run the recurrent part of a layer (what must wait for the previous step) in
// one call each way, the per-step product split over TensorFlow's intra-op threads by hidden unit
// so that each thread also applies the cell's elementwise step to its own units: one fork/join a
// timestep. The products that do not wait for the previous step (X·W_x for all steps, ∂W_x, ∂W_h,
// ∂x) stay single large MatMuls outside, as in PyTorch's and cuDNN's split.
//
// Ops (float32; gate blocks as packages/recurrent/src/lstm.ts: i, f, g, o):
//   AttendLstmRecurrence(zx [B,T,4H], w_h [H,4H], h0 [B,H], c0 [B,H])
//       -> hc [B,T+1,H] (h_1 … h_T, then c_T), act [T,B,4H] (i f g o after σ/tanh), cs [T,B,H] (c_t)
//   AttendLstmRecurrenceGrad(dhc [B,T+1,H], w_h, c0, act, cs)
//       -> dz [B,T,4H] (∂ of the pre-activations zx_t + h_{t−1}·W_h), dh0 [B,H], dc0 [B,H]
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/blocking_counter.h"
#include "tensorflow/core/platform/threadpool.h"
#include "Eigen/Core"

namespace attend {
using namespace tensorflow;

// Shape checks with expected-vs-actual messages.
#define ATTEND_EXPECT(ctx, cond, ...) OP_REQUIRES(ctx, cond, errors::InvalidArgument(__VA_ARGS__))

// Scratch buffers 64-byte aligned like TensorFlow's own: Eigen peels unaligned heads with scalar
// code whose tanh/σ differ from the vector ones in the last bit, so a buffer's alignment must not
// vary from call to call (results are then bit-for-bit repeatable).
using Floats = std::vector<float, Eigen::aligned_allocator<float>>;
using Array = Eigen::Map<Eigen::ArrayXf>;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ArrayC = Eigen::Map<const Eigen::ArrayXf>;

// ---- A small GEMM for the per-step products: C[M, Np] = A[M, K] · P, where P is a [K, N] operand
// packed once per op call (the recurrent weights do not change across the T steps) into panels of
// kPanel columns, each panel [K][kPanel] contiguous and zero-padded to Np = ⌈N / kPanel⌉·kPanel.
// A register tile is 4 rows × kPanel columns (4 × 4 vectors: 16 accumulators), a column of the
// panel loaded once per k for the 4 rows. GCC's vector extensions: with -march=native a vector is
// one AVX-512 register, else two AVX2 ones (8 × 4 accumulators then still fit 32 ymm names... GCC
// spills a little on AVX2; correct everywhere).
#if defined(__AVX512F__)
constexpr int kVec = 16;
#else
constexpr int kVec = 8;
#endif
constexpr int kPanel = 4 * kVec;
typedef float Vec __attribute__((vector_size(kVec * 4)));
typedef float VecU __attribute__((vector_size(kVec * 4), aligned(4)));

struct Packed {
  int64_t K = 0, N = 0, Np = 0;
  Floats data;  // [Np / kPanel][K][kPanel]
  // P[k, j] = at(k, j) for k < K, j < N.
  template <typename At>
  void pack(int64_t k_, int64_t n_, At at) {
    K = k_, N = n_, Np = (n_ + kPanel - 1) / kPanel * kPanel;
    data.assign(Np * K, 0.f);
    for (int64_t p = 0; p < Np / kPanel; p++)
      for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < kPanel && p * kPanel + j < N; j++) data[(p * K + k) * kPanel + j] = at(k, p * kPanel + j);
  }
};

template <int R>
inline void Tile(const float* A, int64_t lda, const float* P, int64_t K, float* C, int64_t ldc) {
  Vec acc[R][4];
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++) acc[r][j] = Vec{};
  for (int64_t k = 0; k < K; k++) {
    const float* w = P + k * kPanel;
    const Vec w0 = *reinterpret_cast<const VecU*>(w), w1 = *reinterpret_cast<const VecU*>(w + kVec);
    const Vec w2 = *reinterpret_cast<const VecU*>(w + 2 * kVec), w3 = *reinterpret_cast<const VecU*>(w + 3 * kVec);
    for (int r = 0; r < R; r++) {
      const float a = A[r * lda + k];
      acc[r][0] += a * w0, acc[r][1] += a * w1, acc[r][2] += a * w2, acc[r][3] += a * w3;
    }
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < 4; j++) *reinterpret_cast<VecU*>(C + r * ldc + j * kVec) = acc[r][j];
}

// C[M, P.Np] = A[M, P.K] · P (rows of A lda apart, rows of C ldc apart).
void Gemm(const float* A, int64_t lda, int64_t M, const Packed& P, float* C, int64_t ldc) {
  for (int64_t p = 0; p < P.Np / kPanel; p++) {
    const float* panel = P.data.data() + p * P.K * kPanel;
    float* Cp = C + p * kPanel;
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) Tile<4>(A + m * lda, lda, panel, P.K, Cp + m * ldc, ldc);
    switch (M - m) {
      case 3: Tile<3>(A + m * lda, lda, panel, P.K, Cp + m * ldc, ldc); break;
      case 2: Tile<2>(A + m * lda, lda, panel, P.K, Cp + m * ldc, ldc); break;
      case 1: Tile<1>(A + m * lda, lda, panel, P.K, Cp + m * ldc, ldc); break;
    }
  }
}

// ---- Threads: the hidden units [0, H) in contiguous ranges, one per shard.
struct Split {
  std::vector<int64_t> start;
  Split(int64_t H, int shards) {
    int64_t per = (H + shards - 1) / shards;
    if (per > 16) per = (per + 15) / 16 * 16;
    for (int64_t u = 0; u < H; u += per) start.push_back(u);
    start.push_back(H);
  }
  int count() const { return static_cast<int>(start.size()) - 1; }
  int64_t lo(int s) const { return start[s]; }
  int64_t n(int s) const { return start[s + 1] - start[s]; }
};

// Runs fn(0) … fn(n − 1) at once: n − 1 on TensorFlow's intra-op pool, shard 0 on this thread.
void Fork(OpKernelContext* ctx, int n, const std::function<void(int)>& fn) {
  if (n == 1) return fn(0);
  thread::ThreadPool* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  BlockingCounter left(n - 1);
  for (int s = 1; s < n; s++) pool->Schedule([&, s] { fn(s); left.DecrementCount(); });
  fn(0);
  left.Wait();
}

// How many shards: TensorFlow's intra-op threads, but not below ~2k units·rows of work a step each.
int Shards(OpKernelContext* ctx, int64_t B, int64_t H) {
  int threads = ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
  int64_t most = std::max<int64_t>(1, (B * H) / 2048);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, most)));
}

// The LSTM cell (packages/recurrent/src/lstm.ts) on one row of a shard's pre-activations
// z = [i | f | g | o], n units each, activated in place (i and f as one run): c = f ⊙ c_prev + i ⊙ g,
// h = o ⊙ tanh(c). `c` may be `c_prev` (updated in place).
inline void LstmCell(float* z, int64_t n, const float* c_prev, float* c, float* h) {
  Array ifz(z, 2 * n), gz(z + 2 * n, n), oz(z + 3 * n, n);
  ifz = ifz.logistic(), gz = gz.tanh(), oz = oz.logistic();
  Array cv(c, n), hv(h, n);
  cv = ifz.tail(n) * ArrayC(c_prev, n) + ifz.head(n) * gz;  // c_t = f ⊙ c_{t−1} + i ⊙ g
  hv = oz * cv.tanh();                                      // h_t = o ⊙ tanh(c_t)
}

REGISTER_OP("AttendLstmRecurrence")
    .Input("zx: float")
    .Input("w_h: float")
    .Input("h0: float")
    .Input("c0: float")
    .Output("hc: float")
    .Output("act: float")
    .Output("cs: float");

class LstmRecurrence : public OpKernel {
 public:
  explicit LstmRecurrence(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& zx = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& c0 = ctx->input(3);
    OP_REQUIRES(ctx, zx.dims() == 3 && wh.dims() == 2, errors::InvalidArgument("AttendLstmRecurrence: expected zx [B,T,4H] and w_h [H,4H], got ", zx.shape().DebugString(), " and ", wh.shape().DebugString()));
    const int64_t B = zx.dim_size(0), T = zx.dim_size(1), H = wh.dim_size(0), G = 4 * H;
    OP_REQUIRES(ctx, wh.dim_size(1) == G && zx.dim_size(2) == G, errors::InvalidArgument("AttendLstmRecurrence: expected w_h [H,4H] and zx [B,T,4H], got ", wh.shape().DebugString(), " and ", zx.shape().DebugString()));
    OP_REQUIRES(ctx, h0.shape() == TensorShape({B, H}) && c0.shape() == TensorShape({B, H}), errors::InvalidArgument("AttendLstmRecurrence: expected h0 and c0 [", B, ",", H, "], got ", h0.shape().DebugString(), " and ", c0.shape().DebugString()));
    OP_REQUIRES(ctx, T > 0, errors::InvalidArgument("AttendLstmRecurrence: expected at least one timestep"));
    Tensor *hc, *act, *cs;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T + 1, H}), &hc));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({T, B, G}), &act));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({T, B, H}), &cs));
    const float* Zx = zx.flat<float>().data();
    const float* W = wh.flat<float>().data();
    float* HC = hc->flat<float>().data();
    float* A = act->flat<float>().data();
    float* C = cs->flat<float>().data();

    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    // Each shard's columns of W_h — its units' i, f, g, o blocks side by side — packed [H, 4n].
    std::vector<Packed> Wp(S);
    std::vector<Floats> z(S);  // each shard's pre-activations [B, Np]
    for (int s = 0; s < S; s++) {
      const int64_t lo = split.lo(s), n = split.n(s);
      Wp[s].pack(H, 4 * n, [&](int64_t k, int64_t j) { return W[k * G + (j / n) * H + lo + j % n]; });
      z[s].resize(B * Wp[s].Np);
    }
    Floats hbuf[2] = {Floats(h0.flat<float>().data(), h0.flat<float>().data() + B * H), Floats(B * H)};
    Floats c(c0.flat<float>().data(), c0.flat<float>().data() + B * H);

    for (int64_t t = 0; t < T; t++) {
      const float* hp = hbuf[t & 1].data();
      float* hn = hbuf[(t + 1) & 1].data();
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wp[s].Np;
        Gemm(hp, H, B, Wp[s], z[s].data(), Np);  // h_{t−1}·W_h[:, this shard's gate columns]
        for (int64_t b = 0; b < B; b++) {
          float* zr = z[s].data() + b * Np;
          const float* xr = Zx + (b * T + t) * G + lo;
          for (int g = 0; g < 4; g++)
            for (int64_t u = 0; u < n; u++) zr[g * n + u] += xr[g * H + u];
          float *cr = c.data() + b * H + lo, *hr = hn + b * H + lo;
          LstmCell(zr, n, cr, cr, hr);
          float* ar = A + (t * B + b) * G + lo;
          for (int g = 0; g < 4; g++) std::copy(zr + g * n, zr + (g + 1) * n, ar + g * H);
          std::copy(cr, cr + n, C + (t * B + b) * H + lo);
          std::copy(hr, hr + n, HC + (b * (T + 1) + t) * H + lo);
        }
      });
    }
    for (int64_t b = 0; b < B; b++) std::copy(c.data() + b * H, c.data() + (b + 1) * H, HC + (b * (T + 1) + T) * H);
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendLstmRecurrence").Device(DEVICE_CPU), LstmRecurrence);

REGISTER_OP("AttendLstmRecurrenceGrad")
    .Input("dhc: float")
    .Input("w_h: float")
    .Input("c0: float")
    .Input("act: float")
    .Input("cs: float")
    .Output("dz: float")
    .Output("dh0: float")
    .Output("dc0: float");

class LstmRecurrenceGrad : public OpKernel {
 public:
  explicit LstmRecurrenceGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dhc = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& c0 = ctx->input(2);
    const Tensor& act = ctx->input(3);
    const Tensor& cs = ctx->input(4);
    OP_REQUIRES(ctx, act.dims() == 3 && wh.dims() == 2, errors::InvalidArgument("AttendLstmRecurrenceGrad: expected act [T,B,4H] and w_h [H,4H], got ", act.shape().DebugString(), " and ", wh.shape().DebugString()));
    const int64_t T = act.dim_size(0), B = act.dim_size(1), H = wh.dim_size(0), G = 4 * H;
    OP_REQUIRES(ctx, wh.dim_size(1) == G && act.dim_size(2) == G && dhc.shape() == TensorShape({B, T + 1, H}) && c0.shape() == TensorShape({B, H}) && cs.shape() == TensorShape({T, B, H}),
                errors::InvalidArgument("AttendLstmRecurrenceGrad: inconsistent shapes dhc ", dhc.shape().DebugString(), ", w_h ", wh.shape().DebugString(), ", c0 ", c0.shape().DebugString(), ", act ", act.shape().DebugString(), ", cs ", cs.shape().DebugString()));
    Tensor *dz, *dh0, *dc0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, G}), &dz));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, H}), &dh0));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, H}), &dc0));
    const float* dY = dhc.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* C0 = c0.flat<float>().data();
    const float* A = act.flat<float>().data();
    const float* C = cs.flat<float>().data();
    float* DZ = dz->flat<float>().data();
    float* DH0 = dh0->flat<float>().data();
    float* DC = dc0->flat<float>().data();  // ∂c carried back through the steps, ∂c_0 at the end

    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    // Each shard's rows of W_h transposed, packed [4H, n]: ∂h_{t−1}[:, its units] = ∂z_t·that.
    std::vector<Packed> Wt(S);
    std::vector<Floats> dhNext(S), tmp(S);  // [B, Np] each; scratch [3n]
    for (int s = 0; s < S; s++) {
      const int64_t lo = split.lo(s), n = split.n(s);
      Wt[s].pack(G, n, [&](int64_t k, int64_t j) { return W[(lo + j) * G + k]; });
      dhNext[s].assign(B * Wt[s].Np, 0.f);
      tmp[s].resize(3 * n);
    }
    for (int64_t b = 0; b < B; b++) std::copy(dY + (b * (T + 1) + T) * H, dY + (b * (T + 1) + T + 1) * H, DC + b * H);

    for (int64_t t = T - 1; t >= -1; t--) {
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wt[s].Np;
        if (t < T - 1) Gemm(DZ + (t + 1) * G, T * G, B, Wt[s], dhNext[s].data(), Np);  // ∂h_t via step t + 1
        if (t < 0) {
          for (int64_t b = 0; b < B; b++) std::copy(dhNext[s].data() + b * Np, dhNext[s].data() + b * Np + n, DH0 + b * H + lo);
          return;
        }
        Array tc(tmp[s].data(), n), dh(tmp[s].data() + n, n), dcv(tmp[s].data() + 2 * n, n);
        for (int64_t b = 0; b < B; b++) {
          const float* a = A + (t * B + b) * G + lo;
          ArrayC i(a, n), f(a + H, n), g(a + 2 * H, n), o(a + 3 * H, n);
          ArrayC c(C + (t * B + b) * H + lo, n);
          ArrayC cp(t > 0 ? C + ((t - 1) * B + b) * H + lo : C0 + b * H + lo, n);
          ArrayC dy(dY + (b * (T + 1) + t) * H + lo, n);
          Array dc(DC + b * H + lo, n);
          float* d = DZ + (b * T + t) * G + lo;
          Array di(d, n), df(d + H, n), dg(d + 2 * H, n), dout(d + 3 * H, n);
          if (t < T - 1) dh = dy + ArrayC(dhNext[s].data() + b * Np, n);
          else dh = dy;
          tc = c.tanh();
          dcv = dc + dh * o * (1.f - tc * tc);
          di = dcv * g * i * (1.f - i);      // ∂z_i
          df = dcv * cp * f * (1.f - f);     // ∂z_f
          dg = dcv * i * (1.f - g * g);      // ∂z_g
          dout = dh * tc * o * (1.f - o);    // ∂z_o
          dc = dcv * f;                      // ∂c_{t−1}
        }
      });
    }
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendLstmRecurrenceGrad").Device(DEVICE_CPU), LstmRecurrenceGrad);

// ---- One step of a stacked LSTM language model, for generation (packages/recurrent/src/language-model.ts):
// embedding row → each layer's LSTM step → head, in one op instead of ~8 tfjs ops and their JS.
//   AttendLstmLmStep(ids [B] int32, table [V,E], weights: per layer W_x [D,4H], W_h [H,4H], b [4H],
//                    states: per layer h [B,H], c [B,H], w_hy [H,V], b_y [V]) → logits [B,V], next states
// Each layer's product is split over the intra-op threads by hidden unit (its 4 gate columns), so the
// weights — the whole cost at B = 1 — are streamed by every core; one fork/join a layer.
REGISTER_OP("AttendLstmLmStep")
    .Input("ids: int32")
    .Input("table: float")
    .Input("weights: N * float")
    .Input("states: M * float")
    .Input("w_hy: float")
    .Input("b_y: float")
    .Attr("N: int >= 3")
    .Attr("M: int >= 2")
    .Output("logits: float")
    .Output("next: M * float");

class LstmLmStep : public OpKernel {
 public:
  explicit LstmLmStep(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor &ids = ctx->input(0), &table = ctx->input(1);
    OpInputList weights, states;
    OP_REQUIRES_OK(ctx, ctx->input_list("weights", &weights));
    OP_REQUIRES_OK(ctx, ctx->input_list("states", &states));
    const Tensor &why = ctx->input(ctx->num_inputs() - 2), &by = ctx->input(ctx->num_inputs() - 1);
    const int L = weights.size() / 3;
    ATTEND_EXPECT(ctx, weights.size() == 3 * L && states.size() == 2 * L, "AttendLstmLmStep: expected 3 weights and 2 states per layer, got ", weights.size(), " and ", states.size());
    ATTEND_EXPECT(ctx, ids.dims() == 1 && table.dims() == 2 && why.dims() == 2 && by.dims() == 1 && why.dim_size(1) == by.dim_size(0),
                  "AttendLstmLmStep: expected ids [B], table [V,E], w_hy [H,V], b_y [V], got ", ids.shape().DebugString(), ", ", table.shape().DebugString(), ", ", why.shape().DebugString(), ", ", by.shape().DebugString());
    const int64_t B = ids.dim_size(0), V = table.dim_size(0), H = why.dim_size(0), G = 4 * H, Vout = why.dim_size(1);
    int64_t D = table.dim_size(1);
    for (int l = 0; l < L; l++) {
      ATTEND_EXPECT(ctx, weights[3 * l].shape() == TensorShape({D, G}) && weights[3 * l + 1].shape() == TensorShape({H, G}) && weights[3 * l + 2].shape() == TensorShape({G}) &&
                             states[2 * l].shape() == TensorShape({B, H}) && states[2 * l + 1].shape() == TensorShape({B, H}),
                    "AttendLstmLmStep: layer ", l, ": expected W_x [", D, ",", G, "], W_h [", H, ",", G, "], b [", G, "], h and c [", B, ",", H, "], got ", weights[3 * l].shape().DebugString(), ", ",
                    weights[3 * l + 1].shape().DebugString(), ", ", weights[3 * l + 2].shape().DebugString(), ", ", states[2 * l].shape().DebugString(), ", ", states[2 * l + 1].shape().DebugString());
      D = H;
    }
    const int32_t* Id = ids.flat<int32_t>().data();
    for (int64_t b = 0; b < B; b++) ATTEND_EXPECT(ctx, Id[b] >= 0 && Id[b] < V, "AttendLstmLmStep: ids[", b, "] = ", Id[b], " is not a token id in [0, ", V, ")");
    Tensor* logits;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, Vout}), &logits));
    OpOutputList next;
    OP_REQUIRES_OK(ctx, ctx->output_list("next", &next));
    std::vector<float*> hn(L), cn(L);
    for (int l = 0; l < L; l++) {
      Tensor *h, *c;
      OP_REQUIRES_OK(ctx, next.allocate(2 * l, TensorShape({B, H}), &h));
      OP_REQUIRES_OK(ctx, next.allocate(2 * l + 1, TensorShape({B, H}), &c));
      hn[l] = h->flat<float>().data(), cn[l] = c->flat<float>().data();
    }
    const Split split(H, std::max(1, std::min(ctx->device()->tensorflow_cpu_worker_threads()->num_threads, static_cast<int>(H / 64))));
    const int S = split.count();
    std::vector<Floats> zbuf(S);
    for (int l = 0; l < L; l++) {
      const float* Wx = weights[3 * l].flat<float>().data();
      const float* Wh = weights[3 * l + 1].flat<float>().data();
      const float* bias = weights[3 * l + 2].flat<float>().data();
      const float* h0 = states[2 * l].flat<float>().data();
      const float* c0 = states[2 * l + 1].flat<float>().data();
      const int64_t Din = l == 0 ? table.dim_size(1) : H;
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s);
        Floats& z = zbuf[s];
        z.resize(4 * n);
        for (int64_t b = 0; b < B; b++) {
          const float* x = l == 0 ? table.flat<float>().data() + int64_t{Id[b]} * Din : hn[l - 1] + b * H;
          for (int g = 0; g < 4; g++) Array(z.data() + g * n, n) = ArrayC(bias + g * H + lo, n);
          // z[g] += Σ_k x_k W_x[k, gH + lo …] + Σ_k h_k W_h[k, gH + lo …]: rows of W read in contiguous runs of n.
          for (int64_t k = 0; k < Din; k++)
            for (int g = 0; g < 4; g++) Array(z.data() + g * n, n) += x[k] * ArrayC(Wx + k * G + g * H + lo, n);
          for (int64_t k = 0; k < H; k++)
            for (int g = 0; g < 4; g++) Array(z.data() + g * n, n) += h0[b * H + k] * ArrayC(Wh + k * G + g * H + lo, n);
          LstmCell(z.data(), n, c0 + b * H + lo, cn[l] + b * H + lo, hn[l] + b * H + lo);
        }
      });
    }
    // logits = h_L·W_hy + b_y
    Eigen::Map<const RowMat> hL(hn[L - 1], B, H), W(why.flat<float>().data(), H, Vout);
    Eigen::Map<RowMat> out(logits->flat<float>().data(), B, Vout);
    out.noalias() = hL * W;
    out.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(by.flat<float>().data(), Vout);
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendLstmLmStep").Device(DEVICE_CPU), LstmLmStep);

// ---- Shared by the vanilla RNN and both GRUs.


// A shard's columns of W `[K, ld]` for its units [lo, lo + n) in each of `blocks` gate blocks of
// width H starting at column `first`, side by side: packed [K, blocks·n].
Packed PackColumns(const float* W, int64_t K, int64_t ld, int64_t H, int64_t first, int blocks, int64_t lo, int64_t n) {
  Packed P;
  P.pack(K, blocks * n, [&](int64_t k, int64_t j) { return W[k * ld + first + (j / n) * H + lo + j % n]; });
  return P;
}

// A shard's rows [lo, lo + n) of W `[·, ld]`, columns [first, first + K), transposed: packed [K, n],
// so that (∂z `[B, K]`)·P is ∂z·W[lo:lo+n, first:first+K]ᵀ — this shard's units of ∂h.
Packed PackRowsT(const float* W, int64_t ld, int64_t first, int64_t K, int64_t lo, int64_t n) {
  Packed P;
  P.pack(K, n, [&](int64_t k, int64_t j) { return W[(lo + j) * ld + first + k]; });
  return P;
}

REGISTER_OP("AttendRnnRecurrence")
    .Input("zx: float")
    .Input("w_h: float")
    .Input("h0: float")
    .Attr("relu: bool = false")
    .Output("hs: float");

// The vanilla RNN: h_t = act(zx_t + h_{t−1}·W_hh), act tanh or relu. zx [B,T,H] → hs [B,T,H].
class RnnRecurrence : public OpKernel {
 public:
  explicit RnnRecurrence(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("relu", &relu_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& zx = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    ATTEND_EXPECT(ctx, zx.dims() == 3 && wh.dims() == 2 && zx.dim_size(1) > 0, "AttendRnnRecurrence: expected zx [B,T,H] (T > 0) and w_h [H,H], got ", zx.shape().DebugString(), " and ", wh.shape().DebugString());
    const int64_t B = zx.dim_size(0), T = zx.dim_size(1), H = wh.dim_size(0);
    ATTEND_EXPECT(ctx, wh.dim_size(1) == H && zx.dim_size(2) == H && h0.shape() == TensorShape({B, H}), "AttendRnnRecurrence: expected w_h [H,H], zx [B,T,H], h0 [B,H], got ", wh.shape().DebugString(), ", ", zx.shape().DebugString(), ", ", h0.shape().DebugString());
    Tensor* hs;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &hs));
    const float* Zx = zx.flat<float>().data();
    const float* W = wh.flat<float>().data();
    float* Hs = hs->flat<float>().data();
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wp(S);
    std::vector<Floats> z(S);
    for (int s = 0; s < S; s++) {
      Wp[s] = PackColumns(W, H, H, H, 0, 1, split.lo(s), split.n(s));
      z[s].resize(B * Wp[s].Np);
    }
    for (int64_t t = 0; t < T; t++) {
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wp[s].Np;
        if (t == 0) Gemm(h0.flat<float>().data(), H, B, Wp[s], z[s].data(), Np);
        else Gemm(Hs + (t - 1) * H, T * H, B, Wp[s], z[s].data(), Np);  // h_{t−1} rows of hs
        for (int64_t b = 0; b < B; b++) {
          Array zr(z[s].data() + b * Np, n);
          zr += ArrayC(Zx + (b * T + t) * H + lo, n);
          Array h(Hs + (b * T + t) * H + lo, n);
          if (relu_) h = zr.max(0.f);
          else h = zr.tanh();
        }
      });
    }
  }

 private:
  bool relu_;
};
REGISTER_KERNEL_BUILDER(Name("AttendRnnRecurrence").Device(DEVICE_CPU), RnnRecurrence);

REGISTER_OP("AttendRnnRecurrenceGrad")
    .Input("dhs: float")
    .Input("w_h: float")
    .Input("hs: float")
    .Attr("relu: bool = false")
    .Output("dz: float")
    .Output("dh0: float");

// ∂z_t = (∂y_t + ∂z_{t+1}·W_hhᵀ) ⊙ act′ (1 − h² | [h > 0]); ∂h_0 = ∂z_0·W_hhᵀ.
class RnnRecurrenceGrad : public OpKernel {
 public:
  explicit RnnRecurrenceGrad(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("relu", &relu_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dhs = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& hs = ctx->input(2);
    ATTEND_EXPECT(ctx, hs.dims() == 3 && wh.dims() == 2 && hs.dim_size(1) > 0 && dhs.shape() == hs.shape() && wh.dim_size(0) == hs.dim_size(2) && wh.dim_size(1) == hs.dim_size(2),
                  "AttendRnnRecurrenceGrad: expected dhs and hs [B,T,H], w_h [H,H], got ", dhs.shape().DebugString(), ", ", hs.shape().DebugString(), ", ", wh.shape().DebugString());
    const int64_t B = hs.dim_size(0), T = hs.dim_size(1), H = hs.dim_size(2);
    Tensor *dz, *dh0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &dz));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, H}), &dh0));
    const float* dY = dhs.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* Hs = hs.flat<float>().data();
    float* DZ = dz->flat<float>().data();
    float* DH0 = dh0->flat<float>().data();
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wt(S);
    std::vector<Floats> dn(S);
    for (int s = 0; s < S; s++) {
      Wt[s] = PackRowsT(W, H, 0, H, split.lo(s), split.n(s));
      dn[s].resize(B * Wt[s].Np);
    }
    for (int64_t t = T - 1; t >= -1; t--) {
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wt[s].Np;
        if (t < T - 1) Gemm(DZ + (t + 1) * H, T * H, B, Wt[s], dn[s].data(), Np);  // ∂h_t via step t + 1
        for (int64_t b = 0; b < B; b++) {
          ArrayC from(dn[s].data() + b * Np, n);
          if (t < 0) {
            Array(DH0 + b * H + lo, n) = from;
            continue;
          }
          ArrayC dy(dY + (b * T + t) * H + lo, n), h(Hs + (b * T + t) * H + lo, n);
          Array d(DZ + (b * T + t) * H + lo, n);
          if (t < T - 1) d = dy + from;
          else d = dy;
          if (relu_) d = (h > 0.f).select(d, 0.f);
          else d *= 1.f - h * h;
        }
      });
    }
  }

 private:
  bool relu_;
};
REGISTER_KERNEL_BUILDER(Name("AttendRnnRecurrenceGrad").Device(DEVICE_CPU), RnnRecurrenceGrad);

REGISTER_OP("AttendGruRecurrence")
    .Input("zx: float")
    .Input("w_h: float")
    .Input("h0: float")
    .Output("hs: float")
    .Output("act: float")
    .Output("rh: float");

// The taught GRU (packages/recurrent/src/gru.ts; reset before the candidate's matmul), gate blocks r, z, n:
//   [r, z] = σ(zx_t[r z] + h_{t−1}·W_h[:, r z])   n = tanh(zx_t[n] + (r ⊙ h_{t−1})·W_h[:, n])
//   h_t = h_{t−1} + z ⊙ (n − h_{t−1})
// Two fork/joins a step (the candidate's product needs r ⊙ h of every unit).
// zx [B,T,3H] → hs [B,T,H], act [T,B,3H] (r z n), rh [B,T,H] (r_t ⊙ h_{t−1}, rows as hs: for ∂W_h[:, n]).
class GruRecurrence : public OpKernel {
 public:
  explicit GruRecurrence(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& zx = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    ATTEND_EXPECT(ctx, zx.dims() == 3 && wh.dims() == 2 && zx.dim_size(1) > 0, "AttendGruRecurrence: expected zx [B,T,3H] (T > 0) and w_h [H,3H], got ", zx.shape().DebugString(), " and ", wh.shape().DebugString());
    const int64_t B = zx.dim_size(0), T = zx.dim_size(1), H = wh.dim_size(0), G = 3 * H;
    ATTEND_EXPECT(ctx, wh.dim_size(1) == G && zx.dim_size(2) == G && h0.shape() == TensorShape({B, H}), "AttendGruRecurrence: expected w_h [H,3H], zx [B,T,3H], h0 [B,H], got ", wh.shape().DebugString(), ", ", zx.shape().DebugString(), ", ", h0.shape().DebugString());
    Tensor *hs, *act, *rh;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &hs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({T, B, G}), &act));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, T, H}), &rh));
    const float* Zx = zx.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* H0 = h0.flat<float>().data();
    float* Hs = hs->flat<float>().data();
    float* A = act->flat<float>().data();
    float* RH = rh->flat<float>().data();
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wrz(S), Wn(S);
    std::vector<Floats> zrz(S), zn(S);
    for (int s = 0; s < S; s++) {
      Wrz[s] = PackColumns(W, H, G, H, 0, 2, split.lo(s), split.n(s));
      Wn[s] = PackColumns(W, H, G, H, 2 * H, 1, split.lo(s), split.n(s));
      zrz[s].resize(B * Wrz[s].Np), zn[s].resize(B * Wn[s].Np);
    }
    for (int64_t t = 0; t < T; t++) {
      const float* hp = t == 0 ? H0 : Hs + (t - 1) * H;  // h_{t−1} rows
      const int64_t ldh = t == 0 ? H : T * H;
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wrz[s].Np;
        Gemm(hp, ldh, B, Wrz[s], zrz[s].data(), Np);
        for (int64_t b = 0; b < B; b++) {
          float* zr = zrz[s].data() + b * Np;
          const float* xr = Zx + (b * T + t) * G + lo;
          Array r(zr, n), z(zr + n, n);
          r = (r + ArrayC(xr, n)).logistic();
          z = (z + ArrayC(xr + H, n)).logistic();
          float* ar = A + (t * B + b) * G + lo;
          std::copy(zr, zr + n, ar), std::copy(zr + n, zr + 2 * n, ar + H);
          Array(RH + (b * T + t) * H + lo, n) = r * ArrayC(hp + b * ldh + lo, n);
        }
      });
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wn[s].Np;
        Gemm(RH + t * H, T * H, B, Wn[s], zn[s].data(), Np);  // (r ⊙ h_{t−1})·W_h[:, n]
        for (int64_t b = 0; b < B; b++) {
          Array nv(zn[s].data() + b * Np, n);
          nv = (nv + ArrayC(Zx + (b * T + t) * G + 2 * H + lo, n)).tanh();
          float* ar = A + (t * B + b) * G + lo;
          std::copy(nv.data(), nv.data() + n, ar + 2 * H);
          ArrayC h(hp + b * ldh + lo, n), z(ar + H, n);
          Array(Hs + (b * T + t) * H + lo, n) = h + z * (nv - h);
        }
      });
    }
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGruRecurrence").Device(DEVICE_CPU), GruRecurrence);

REGISTER_OP("AttendGruRecurrenceGrad")
    .Input("dhs: float")
    .Input("w_h: float")
    .Input("h0: float")
    .Input("hs: float")
    .Input("act: float")
    .Output("dz: float")
    .Output("dh0: float");

// Backward of AttendGruRecurrence: dz [B,T,3H] = ∂ of the pre-activations [r̄, z̄, n̄] (zx_t plus
// the products), dh0 [B,H]. Per step, from the full ∂h_t:
//   ∂z = ∂h ⊙ (n − h)   ∂n̄ = ∂h ⊙ z ⊙ (1 − n²)   ∂(r ⊙ h) = ∂n̄·W_h[:, n]ᵀ   ∂r = ∂(r ⊙ h) ⊙ h
//   [∂r̄, ∂z̄] = [∂r, ∂z] ⊙ σ′   ∂h_{t−1} = ∂h ⊙ (1 − z) + ∂(r ⊙ h) ⊙ r + [∂r̄, ∂z̄]·W_h[:, r z]ᵀ + ∂y_{t−1}
class GruRecurrenceGrad : public OpKernel {
 public:
  explicit GruRecurrenceGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dhs = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& hs = ctx->input(3);
    const Tensor& act = ctx->input(4);
    ATTEND_EXPECT(ctx, hs.dims() == 3 && wh.dims() == 2 && hs.dim_size(1) > 0, "AttendGruRecurrenceGrad: expected hs [B,T,H] and w_h [H,3H], got ", hs.shape().DebugString(), " and ", wh.shape().DebugString());
    const int64_t B = hs.dim_size(0), T = hs.dim_size(1), H = hs.dim_size(2), G = 3 * H;
    ATTEND_EXPECT(ctx, dhs.shape() == hs.shape() && wh.shape() == TensorShape({H, G}) && h0.shape() == TensorShape({B, H}) && act.shape() == TensorShape({T, B, G}),
                  "AttendGruRecurrenceGrad: inconsistent shapes dhs ", dhs.shape().DebugString(), ", w_h ", wh.shape().DebugString(), ", h0 ", h0.shape().DebugString(), ", hs ", hs.shape().DebugString(), ", act ", act.shape().DebugString());
    Tensor *dz, *dh0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, G}), &dz));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, H}), &dh0));
    const float* dY = dhs.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* H0 = h0.flat<float>().data();
    const float* Hs = hs.flat<float>().data();
    const float* A = act.flat<float>().data();
    float* DZ = dz->flat<float>().data();
    float* DH = dh0->flat<float>().data();  // ∂h_t in full, carried back; ∂h_0 at the end
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wn(S), Wrz(S);
    std::vector<Floats> drh(S), d3(S);
    for (int s = 0; s < S; s++) {
      Wn[s] = PackRowsT(W, G, 2 * H, H, split.lo(s), split.n(s));   // ∂n̄ [B,H] → ∂(r ⊙ h)
      Wrz[s] = PackRowsT(W, G, 0, 2 * H, split.lo(s), split.n(s));  // [∂r̄, ∂z̄] [B,2H] → ∂h
      drh[s].resize(B * Wn[s].Np), d3[s].resize(B * Wrz[s].Np);
    }
    for (int64_t b = 0; b < B; b++) std::copy(dY + (b * T + T - 1) * H, dY + (b * T + T) * H, DH + b * H);
    for (int64_t t = T - 1; t >= 0; t--) {
      const float* hp = t == 0 ? H0 : Hs + (t - 1) * H;
      const int64_t ldh = t == 0 ? H : T * H;
      Fork(ctx, S, [&](int s) {  // ∂n̄ and ∂z, this shard's units
        const int64_t lo = split.lo(s), n = split.n(s);
        for (int64_t b = 0; b < B; b++) {
          const float* a = A + (t * B + b) * G + lo;
          ArrayC z(a + H, n), nv(a + 2 * H, n), h(hp + b * ldh + lo, n), dh(DH + b * H + lo, n);
          float* d = DZ + (b * T + t) * G + lo;
          Array(d + H, n) = dh * (nv - h);                      // ∂z (σ′ applied below)
          Array(d + 2 * H, n) = dh * z * (1.f - nv * nv);      // ∂n̄
        }
      });
      Fork(ctx, S, [&](int s) {  // ∂(r ⊙ h) for this shard's units from all of ∂n̄; then [∂r̄, ∂z̄]
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wn[s].Np;
        Gemm(DZ + t * G + 2 * H, T * G, B, Wn[s], drh[s].data(), Np);
        for (int64_t b = 0; b < B; b++) {
          const float* a = A + (t * B + b) * G + lo;
          ArrayC r(a, n), z(a + H, n), h(hp + b * ldh + lo, n), g(drh[s].data() + b * Np, n);
          float* d = DZ + (b * T + t) * G + lo;
          Array dr(d, n), dzz(d + H, n), dh(DH + b * H + lo, n);
          dr = g * h * r * (1.f - r);   // ∂r̄
          dzz *= z * (1.f - z);         // ∂z̄
          dh = dh * (1.f - z) + g * r;  // the direct and reset parts of ∂h_{t−1}
        }
      });
      Fork(ctx, S, [&](int s) {  // + [∂r̄, ∂z̄]·W_h[:, r z]ᵀ + ∂y_{t−1}
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wrz[s].Np;
        Gemm(DZ + t * G, T * G, B, Wrz[s], d3[s].data(), Np);
        for (int64_t b = 0; b < B; b++) {
          Array dh(DH + b * H + lo, n);
          dh += ArrayC(d3[s].data() + b * Np, n);
          if (t > 0) dh += ArrayC(dY + (b * T + t - 1) * H + lo, n);
        }
      });
    }
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGruRecurrenceGrad").Device(DEVICE_CPU), GruRecurrenceGrad);

REGISTER_OP("AttendGruResetAfterRecurrence")
    .Input("zx: float")
    .Input("w_h: float")
    .Input("b_h: float")
    .Input("h0: float")
    .Output("hs: float")
    .Output("act: float")
    .Output("an: float");

// The reset-after GRU (PyTorch's, Keras's and cuDNN's), one product a step:
//   a = h_{t−1}·W_h + b_h   [r, z] = σ(zx_t[r z] + a[r z])   n = tanh(zx_t[n] + r ⊙ a[n])
//   h_t = h_{t−1} + z ⊙ (n − h_{t−1})
// zx [B,T,3H] → hs [B,T,H], act [T,B,3H] (r z n), an [T,B,H] (a[n]).
class GruResetAfterRecurrence : public OpKernel {
 public:
  explicit GruResetAfterRecurrence(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& zx = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& bh = ctx->input(2);
    const Tensor& h0 = ctx->input(3);
    ATTEND_EXPECT(ctx, zx.dims() == 3 && wh.dims() == 2 && zx.dim_size(1) > 0, "AttendGruResetAfterRecurrence: expected zx [B,T,3H] (T > 0) and w_h [H,3H], got ", zx.shape().DebugString(), " and ", wh.shape().DebugString());
    const int64_t B = zx.dim_size(0), T = zx.dim_size(1), H = wh.dim_size(0), G = 3 * H;
    ATTEND_EXPECT(ctx, wh.dim_size(1) == G && zx.dim_size(2) == G && bh.shape() == TensorShape({G}) && h0.shape() == TensorShape({B, H}),
                  "AttendGruResetAfterRecurrence: expected w_h [H,3H], zx [B,T,3H], b_h [3H], h0 [B,H], got ", wh.shape().DebugString(), ", ", zx.shape().DebugString(), ", ", bh.shape().DebugString(), ", ", h0.shape().DebugString());
    Tensor *hs, *act, *an;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, H}), &hs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({T, B, G}), &act));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({T, B, H}), &an));
    const float* Zx = zx.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* Bh = bh.flat<float>().data();
    const float* H0 = h0.flat<float>().data();
    float* Hs = hs->flat<float>().data();
    float* A = act->flat<float>().data();
    float* AN = an->flat<float>().data();
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wp(S);
    std::vector<Floats> z(S);
    for (int s = 0; s < S; s++) {
      Wp[s] = PackColumns(W, H, G, H, 0, 3, split.lo(s), split.n(s));
      z[s].resize(B * Wp[s].Np);
    }
    for (int64_t t = 0; t < T; t++) {
      const float* hp = t == 0 ? H0 : Hs + (t - 1) * H;
      const int64_t ldh = t == 0 ? H : T * H;
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wp[s].Np;
        Gemm(hp, ldh, B, Wp[s], z[s].data(), Np);
        for (int64_t b = 0; b < B; b++) {
          float* zr = z[s].data() + b * Np;
          const float* xr = Zx + (b * T + t) * G + lo;
          float* ar = A + (t * B + b) * G + lo;
          Array r(ar, n), zz(ar + H, n), nv(ar + 2 * H, n), a_n(AN + (t * B + b) * H + lo, n);
          r = (ArrayC(zr, n) + ArrayC(Bh + lo, n) + ArrayC(xr, n)).logistic();
          zz = (ArrayC(zr + n, n) + ArrayC(Bh + H + lo, n) + ArrayC(xr + H, n)).logistic();
          a_n = ArrayC(zr + 2 * n, n) + ArrayC(Bh + 2 * H + lo, n);
          nv = (ArrayC(xr + 2 * H, n) + r * a_n).tanh();
          ArrayC h(hp + b * ldh + lo, n);
          Array(Hs + (b * T + t) * H + lo, n) = h + zz * (nv - h);
        }
      });
    }
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGruResetAfterRecurrence").Device(DEVICE_CPU), GruResetAfterRecurrence);

REGISTER_OP("AttendGruResetAfterRecurrenceGrad")
    .Input("dhs: float")
    .Input("w_h: float")
    .Input("h0: float")
    .Input("hs: float")
    .Input("act: float")
    .Input("an: float")
    .Output("da: float")
    .Output("dn: float")
    .Output("dh0: float");

// Backward of AttendGruResetAfterRecurrence: da [B,T,3H] = ∂a (a = h_{t−1}·W_h + b_h; its r z
// blocks are also ∂zx[r z]), dn [B,T,H] = ∂n̄ (= ∂zx[n]), dh0 [B,H]. One fork/join a step:
//   ∂z = ∂h ⊙ (n − h)   ∂n̄ = ∂h ⊙ z ⊙ (1 − n²)   ∂a[n] = ∂n̄ ⊙ r   [∂r̄, ∂z̄] = [∂n̄ ⊙ a[n], ∂z] ⊙ σ′
//   ∂h_{t−1} = ∂h ⊙ (1 − z) + ∂a·W_hᵀ + ∂y_{t−1}
class GruResetAfterRecurrenceGrad : public OpKernel {
 public:
  explicit GruResetAfterRecurrenceGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dhs = ctx->input(0);
    const Tensor& wh = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& hs = ctx->input(3);
    const Tensor& act = ctx->input(4);
    const Tensor& an = ctx->input(5);
    ATTEND_EXPECT(ctx, hs.dims() == 3 && hs.dim_size(1) > 0, "AttendGruResetAfterRecurrenceGrad: expected hs [B,T,H], got ", hs.shape().DebugString());
    const int64_t B = hs.dim_size(0), T = hs.dim_size(1), H = hs.dim_size(2), G = 3 * H;
    ATTEND_EXPECT(ctx, dhs.shape() == hs.shape() && wh.shape() == TensorShape({H, G}) && h0.shape() == TensorShape({B, H}) && act.shape() == TensorShape({T, B, G}) && an.shape() == TensorShape({T, B, H}),
                  "AttendGruResetAfterRecurrenceGrad: inconsistent shapes dhs ", dhs.shape().DebugString(), ", w_h ", wh.shape().DebugString(), ", h0 ", h0.shape().DebugString(), ", hs ", hs.shape().DebugString(), ", act ", act.shape().DebugString(), ", an ", an.shape().DebugString());
    Tensor *da, *dn, *dh0;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, T, G}), &da));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({B, T, H}), &dn));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({B, H}), &dh0));
    const float* dY = dhs.flat<float>().data();
    const float* W = wh.flat<float>().data();
    const float* H0 = h0.flat<float>().data();
    const float* Hs = hs.flat<float>().data();
    const float* A = act.flat<float>().data();
    const float* AN = an.flat<float>().data();
    float* DA = da->flat<float>().data();
    float* DN = dn->flat<float>().data();
    float* DH0 = dh0->flat<float>().data();
    const Split split(H, Shards(ctx, B, H));
    const int S = split.count();
    std::vector<Packed> Wt(S);
    std::vector<Floats> dnext(S), dh(S);
    for (int s = 0; s < S; s++) {
      Wt[s] = PackRowsT(W, G, 0, G, split.lo(s), split.n(s));
      dnext[s].resize(B * Wt[s].Np);
      dh[s].assign(B * split.n(s), 0.f);  // this shard's ∂h ⊙ (1 − z) from the step after
    }
    for (int64_t t = T - 1; t >= -1; t--) {
      Fork(ctx, S, [&](int s) {
        const int64_t lo = split.lo(s), n = split.n(s), Np = Wt[s].Np;
        if (t < T - 1) Gemm(DA + (t + 1) * G, T * G, B, Wt[s], dnext[s].data(), Np);  // ∂a_{t+1}·W_hᵀ
        for (int64_t b = 0; b < B; b++) {
          Array d(dh[s].data() + b * n, n);  // becomes ∂h_t in full
          if (t < T - 1) d += ArrayC(dnext[s].data() + b * Np, n);
          if (t < 0) {
            Array(DH0 + b * H + lo, n) = d;
            continue;
          }
          d += ArrayC(dY + (b * T + t) * H + lo, n);
          const float* a = A + (t * B + b) * G + lo;
          ArrayC r(a, n), z(a + H, n), nv(a + 2 * H, n), a_n(AN + (t * B + b) * H + lo, n);
          ArrayC h(t == 0 ? H0 + b * H + lo : Hs + (b * T + t - 1) * H + lo, n);
          float* g = DA + (b * T + t) * G + lo;
          Array dnp(DN + (b * T + t) * H + lo, n), dr(g, n), dzz(g + H, n), dan(g + 2 * H, n);
          dnp = d * z * (1.f - nv * nv);           // ∂n̄
          dan = dnp * r;                           // ∂a[n]
          dr = dnp * a_n * r * (1.f - r);          // ∂r̄
          dzz = d * (nv - h) * z * (1.f - z);      // ∂z̄
          d *= 1.f - z;                            // the direct part of ∂h_{t−1}
        }
      });
    }
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGruResetAfterRecurrenceGrad").Device(DEVICE_CPU), GruResetAfterRecurrenceGrad);

// ---- The Transformer's elementwise and attention kernels (packages/transformer/src/layer-norm-kernel.ts,
// gelu-kernel.ts and packages/attention/src/fused-attention.ts name the same kernels on the other
// backends; the formulas are theirs).

// Runs fn(begin, end) over [0, n) in TensorFlow's intra-op pool, `cost` ≈ cycles per unit.
void ParallelRange(OpKernelContext* ctx, int64_t n, int64_t cost, const std::function<void(int64_t, int64_t)>& fn) {
  ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(n, cost, fn);
}

// Σ over the rows r ∈ [0, N) of what row(r, acc, tmp) adds into acc (W floats; tmp: `scratch` floats
// of the calling thread's own), in fixed chunks of rows over the intra-op threads whose partial sums
// are added in order: the same result whatever the threads' timing. `cost` ≈ cycles a row.
template <typename Row>
Floats SumOverRows(OpKernelContext* ctx, int64_t N, int64_t W, int64_t scratch, int64_t cost, Row row) {
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(32, N / 16));
  Floats partial(chunks * W, 0.f);
  ParallelRange(ctx, chunks, cost * (N / chunks + 1), [&](int64_t c0, int64_t c1) {
    Floats tmp(scratch);
    for (int64_t c = c0; c < c1; c++)
      for (int64_t r = c * N / chunks; r < (c + 1) * N / chunks; r++) row(r, partial.data() + c * W, tmp.data());
  });
  Floats sum(W, 0.f);
  for (int64_t c = 0; c < chunks; c++) Array(sum.data(), W) += ArrayC(partial.data() + c * W, W);
  return sum;
}

REGISTER_OP("AttendLayerNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Attr("eps: float")
    .Output("y: float")
    .Output("xhat: float")
    .Output("rstd: float");

// y = γ ⊙ x̂ + β, x̂ = (x − μ)·rstd, rstd = 1/√(σ² + ε) over the last axis (biased σ², two passes).
// x [N…, D], γ [D], β [D] or [0] (none) → y, x̂ like x, rstd [N]. Rows over TensorFlow's threads.
class LayerNorm : public OpKernel {
 public:
  explicit LayerNorm(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("eps", &eps_)); }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    const bool shift = beta.NumElements() > 0;  // beta [0]: none
    ATTEND_EXPECT(ctx, x.dims() >= 1 && gamma.dims() == 1 && (!shift || beta.shape() == gamma.shape()) && x.dim_size(x.dims() - 1) == gamma.dim_size(0),
                  "AttendLayerNorm: expected x [..., D] with gamma [D] and beta [D] (or [0]: none), got ", x.shape().DebugString(), ", ", gamma.shape().DebugString(), ", ", beta.shape().DebugString());
    const int64_t D = gamma.dim_size(0), N = D == 0 ? 0 : x.NumElements() / D;
    Tensor *y, *xhat, *rstd;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, x.shape(), &xhat));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({N}), &rstd));
    const float *X = x.flat<float>().data(), *G = gamma.flat<float>().data(), *Be = beta.flat<float>().data();
    float *Y = y->flat<float>().data(), *XH = xhat->flat<float>().data(), *R = rstd->flat<float>().data();
    const float eps = eps_;
    ParallelRange(ctx, N, 8 * D, [&](int64_t r0, int64_t r1) {
      ArrayC g(G, D);
      for (int64_t r = r0; r < r1; r++) {
        ArrayC xr(X + r * D, D);
        Array h(XH + r * D, D);
        const float mu = xr.mean();
        h = xr - mu;
        const float rs = 1.f / std::sqrt(h.square().mean() + eps);
        h *= rs;
        R[r] = rs;
        if (shift) Array(Y + r * D, D) = g * h + ArrayC(Be, D);
        else Array(Y + r * D, D) = g * h;
      }
    });
  }

 private:
  float eps_;
};
REGISTER_KERNEL_BUILDER(Name("AttendLayerNorm").Device(DEVICE_CPU), LayerNorm);

REGISTER_OP("AttendLayerNormGrad")
    .Input("dy: float")
    .Input("xhat: float")
    .Input("rstd: float")
    .Input("gamma: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float");

// g = dy ⊙ γ: dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)); dγ = Σ_rows dy ⊙ x̂; dβ = Σ_rows dy. The column
// sums go through fixed chunks of rows summed in order, so they do not depend on thread timing.
class LayerNormGrad : public OpKernel {
 public:
  explicit LayerNormGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& xhat = ctx->input(1);
    const Tensor& rstd = ctx->input(2);
    const Tensor& gamma = ctx->input(3);
    const int64_t D = gamma.dims() == 1 ? gamma.dim_size(0) : -1;
    ATTEND_EXPECT(ctx, D > 0 && dy.shape() == xhat.shape() && xhat.dim_size(xhat.dims() - 1) == D && rstd.dims() == 1 && rstd.dim_size(0) * D == xhat.NumElements(),
                  "AttendLayerNormGrad: expected dy and xhat [..., D], rstd [N], gamma [D], got ", dy.shape().DebugString(), ", ", xhat.shape().DebugString(), ", ", rstd.shape().DebugString(), ", ", gamma.shape().DebugString());
    const int64_t N = rstd.dim_size(0);
    Tensor *dx, *dgamma, *dbeta;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, dy.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &dbeta));
    const float *DY = dy.flat<float>().data(), *XH = xhat.flat<float>().data(), *R = rstd.flat<float>().data(), *G = gamma.flat<float>().data();
    float* DX = dx->flat<float>().data();
    const Floats sums = SumOverRows(ctx, N, 2 * D, D, 12 * D, [&](int64_t r, float* acc, float* tmp) {  // Σ dy ⊙ x̂ | Σ dy
      ArrayC d(DY + r * D, D), h(XH + r * D, D);
      Array(acc, D) += d * h;
      Array(acc + D, D) += d;
      Array gv(tmp, D);
      gv = d * ArrayC(G, D);
      const float mg = gv.mean(), mgh = (gv * h).mean();
      Array(DX + r * D, D) = R[r] * (gv - mg - h * mgh);
    });
    std::copy(sums.data(), sums.data() + D, dgamma->flat<float>().data());
    std::copy(sums.data() + D, sums.data() + 2 * D, dbeta->flat<float>().data());
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendLayerNormGrad").Device(DEVICE_CPU), LayerNormGrad);

// GELU, tanh approximation: y = ½x(1 + t), t = tanh(c(v + a·v³)), v = x clamped to ±10 (t is ±1 past
// it in float32, and v³ cannot overflow); dx = dy·½((1 + t) + v(1 − t²)·c(1 + 3a·v²)).
constexpr float kGeluC = 0.7978845608028654f, kGeluA = 0.044715f;

REGISTER_OP("AttendGelu").Input("x: float").Output("y: float");
class Gelu : public OpKernel {
 public:
  explicit Gelu(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const float* X = x.flat<float>().data();
    float* Y = y->flat<float>().data();
    const int64_t n = x.NumElements(), block = 4096;
    ParallelRange(ctx, (n + block - 1) / block, 40 * block, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * block, i1 = std::min(n, b1 * block);
      ArrayC xv(X + i0, i1 - i0);
      const auto v = xv.max(-10.f).min(10.f);
      Array(Y + i0, i1 - i0) = 0.5f * xv * (1.f + (kGeluC * v * (1.f + kGeluA * v * v)).tanh());
    });
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGelu").Device(DEVICE_CPU), Gelu);

REGISTER_OP("AttendGeluGrad").Input("x: float").Input("dy: float").Output("dx: float");
class GeluGrad : public OpKernel {
 public:
  explicit GeluGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& dy = ctx->input(1);
    ATTEND_EXPECT(ctx, x.shape() == dy.shape(), "AttendGeluGrad: expected x and dy of one shape, got ", x.shape().DebugString(), " and ", dy.shape().DebugString());
    Tensor* dx;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    const float *X = x.flat<float>().data(), *DY = dy.flat<float>().data();
    float* DX = dx->flat<float>().data();
    const int64_t n = x.NumElements(), block = 4096;
    ParallelRange(ctx, (n + block - 1) / block, 50 * block, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * block, i1 = std::min(n, b1 * block), m = i1 - i0;
      Floats tb(m);
      Array t(tb.data(), m);
      const auto v = ArrayC(X + i0, m).max(-10.f).min(10.f);
      t = (kGeluC * v * (1.f + kGeluA * v * v)).tanh();
      Array(DX + i0, m) = ArrayC(DY + i0, m) * (0.5f * ((1.f + t) + v * (1.f - t * t) * kGeluC * (1.f + 3.f * kGeluA * v * v)));
    });
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendGeluGrad").Device(DEVICE_CPU), GeluGrad);

// GELU of a dense layer's pre-activations with its bias folded in: y = gelu(x + b) for x [N, F],
// b [F] (one pass instead of an add and a GELU); the gradient gives dx = dy·gelu′(x + b) and
// db = Σ_rows dx (column sums over fixed chunks of rows, summed in order: no Sum op after it).
REGISTER_OP("AttendBiasGelu").Input("x: float").Input("b: float").Output("y: float");
class BiasGelu : public OpKernel {
 public:
  explicit BiasGelu(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &b = ctx->input(1);
    ATTEND_EXPECT(ctx, x.dims() == 2 && b.dims() == 1 && b.dim_size(0) == x.dim_size(1), "AttendBiasGelu: expected x [N,F] and b [F], got ", x.shape().DebugString(), " and ", b.shape().DebugString());
    const int64_t N = x.dim_size(0), F = x.dim_size(1);
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const float *X = x.flat<float>().data(), *Bv = b.flat<float>().data();
    float* Y = y->flat<float>().data();
    ParallelRange(ctx, N, 40 * F, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) {
        const auto xv = ArrayC(X + r * F, F) + ArrayC(Bv, F);
        const auto v = xv.max(-10.f).min(10.f);
        Array(Y + r * F, F) = 0.5f * xv * (1.f + (kGeluC * v * (1.f + kGeluA * v * v)).tanh());
      }
    });
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendBiasGelu").Device(DEVICE_CPU), BiasGelu);

REGISTER_OP("AttendBiasGeluGrad").Input("x: float").Input("b: float").Input("dy: float").Output("dx: float").Output("db: float");
class BiasGeluGrad : public OpKernel {
 public:
  explicit BiasGeluGrad(OpKernelConstruction* c) : OpKernel(c) {}
  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &b = ctx->input(1), &dy = ctx->input(2);
    ATTEND_EXPECT(ctx, x.dims() == 2 && b.dims() == 1 && b.dim_size(0) == x.dim_size(1) && dy.shape() == x.shape(),
                  "AttendBiasGeluGrad: expected x and dy [N,F] and b [F], got ", x.shape().DebugString(), ", ", dy.shape().DebugString(), " and ", b.shape().DebugString());
    const int64_t N = x.dim_size(0), F = x.dim_size(1);
    Tensor *dx, *db;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, b.shape(), &db));
    const float *X = x.flat<float>().data(), *Bv = b.flat<float>().data(), *DY = dy.flat<float>().data();
    float* DX = dx->flat<float>().data();
    const Floats sum = SumOverRows(ctx, N, F, F, 60 * F, [&](int64_t r, float* acc, float* tmp) {
      const auto v = (ArrayC(X + r * F, F) + ArrayC(Bv, F)).max(-10.f).min(10.f);
      Array t(tmp, F);
      t = (kGeluC * v * (1.f + kGeluA * v * v)).tanh();
      Array d(DX + r * F, F);
      d = ArrayC(DY + r * F, F) * (0.5f * ((1.f + t) + v * (1.f - t * t) * kGeluC * (1.f + 3.f * kGeluA * v * v)));
      Array(acc, F) += d;
    });
    std::copy(sum.data(), sum.data() + F, db->flat<float>().data());
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendBiasGeluGrad").Device(DEVICE_CPU), BiasGeluGrad);

// Fused scaled-dot-product attention (FlashAttention's equations, Dao et al. 2022, App. B.2), one
// (batch, head) pair per unit of work, its query rows in blocks of 32 whose scores stay in a thread's
// cache (with a causal mask a block computes only the keys it may see):
//   forward   S = scale·q·kᵀ, masked (causal: key j ≤ query i; mask[b, j] = 0: padding) to −∞,
//             P = softmax(S), O = P·v, lse_i = log Σ_j exp(S_ij) (−∞ and O_i = 0 for a row with no key)
//   backward  P = exp(S − lse), dv = Pᵀ·dO, dP = dO·vᵀ, D_i = dO_i·O_i − dlse_i, dS = P ⊙ (dP − D),
//             dq = scale·dS·k, dk = scale·dSᵀ·q
// Two layouts share the code through strided views (a pair's rows: base + b·sb + h·sh, rows rs apart):
//   AttendFusedAttention      q [B,H,Tq,D], k [B,H,Tk,D], v [B,H,Tk,DV] → context [B,H,Tq,DV], lse [B,H,Tq]
//   AttendFusedSelfAttention  qkv [B,T,3·H·D] (a self-attention's three projections side by side, each
//                             [H, D] per position: what one matMul with [W_q | W_k | W_v] gives) →
//                             context [B,T,H·D] (heads merged), lse [B,H,T] — no head split or merge;
//                             or the same as rows, qkv [B·T, 3·H·D] → context [B·T, H·D] (attr batch = B);
//                             bias [3·H·D] (or [0]) is added to q, k, v as they are read, and the
//                             gradient gives ∂bias as well (no bias add before, no column sum after)
//   AttendSplitHeads          x [B,T,parts·H·D] → part `part` as [B,H,T,D] (the keys or values of qkv
//                             for a cache: one op instead of a slice, a reshape and a transpose)
// mask [B,Tk] (1 = real key) or [0] (none). Each thread takes whole pairs, so results do not depend
// on thread timing.
using Strided = Eigen::OuterStride<>;
using Mat = Eigen::Map<const RowMat, Eigen::Unaligned, Strided>;
using MatW = Eigen::Map<RowMat, Eigen::Unaligned, Strided>;

struct AttentionDims {
  int64_t B, H, Tq, Tk, D, DV;
};

// One operand's rows for pair (b, h): rows × cols at base + b·sb + h·sh, rows rs apart.
template <typename T>
struct View {
  T* base;
  int64_t sb, sh, rs;
  T* at(int64_t b, int64_t h) const { return base + b * sb + h * sh; }
};
using ViewC = View<const float>;
using ViewW = View<float>;

// [B,H,T,C] contiguous.
template <typename T>
View<T> Heads(T* p, const AttentionDims& d, int64_t T_, int64_t C) { return {p, d.H * T_ * C, T_ * C, C}; }
// [B,T,·] rows of width `row`, this operand's head h at column `first` + h·C.
template <typename T>
View<T> Rows(T* p, int64_t first, int64_t T_, int64_t row, int64_t C) { return {p + first, T_ * row, C, row}; }

// Query rows are taken in blocks of kRowBlock; with `causal` a block needs only the keys up to its
// last row (key j ≤ query i), so about half of the products and exponentials of a causal attention
// are never computed.
constexpr int64_t kRowBlock = 32;

// Keys [0, end) that rows [r0, r0 + rb) may see.
inline int64_t KeyEnd(const AttentionDims& d, bool causal, int64_t r0, int64_t rb) { return causal ? std::min(r0 + rb, d.Tk) : d.Tk; }

// The scores S = scale·q·kᵀ of pair (b, h) for query rows [r0, r0 + rb) and keys [0, end), masked
// entries −∞: fills S [rb, end] (contiguous).
void Scores(const AttentionDims& d, bool causal, float scale, const ViewC& q, const ViewC& k, const float* mask, int64_t b, int64_t h, int64_t r0, int64_t rb, int64_t end, float* S) {
  Mat Q(q.at(b, h) + r0 * q.rs, rb, d.D, Strided(q.rs)), K(k.at(b, h), end, d.D, Strided(k.rs));
  MatW Sm(S, rb, end, Strided(end));
  Sm.noalias() = (scale * Q) * K.transpose();
  const float* m = mask == nullptr ? nullptr : mask + b * d.Tk;
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < rb; i++) {
    float* row = S + i * end;
    const int64_t stop = causal ? std::min(r0 + i + 1, end) : end;
    if (m != nullptr)
      for (int64_t j = 0; j < stop; j++)
        if (m[j] == 0.f) row[j] = ninf;
    for (int64_t j = stop; j < end; j++) row[j] = ninf;
  }
}

// A pair's q, k, v — with a bias [3, H, D] (the q, k, v blocks; D = DV) added, copied into `buf` as
// contiguous rows and returned as views whose at(b, h) is the copy; without one, the views given.
struct PairQKV {
  ViewC q, k, v;
};
PairQKV WithBias(const AttentionDims& d, const ViewC& q, const ViewC& k, const ViewC& v, const float* bias, int64_t b, int64_t h, Floats& buf) {
  if (bias == nullptr) return {q, k, v};
  buf.resize((d.Tq + 2 * d.Tk) * d.D);
  float *Q = buf.data(), *K = Q + d.Tq * d.D, *V = K + d.Tk * d.D;
  const int64_t HD = d.H * d.D;
  const auto fill = [&](const ViewC& from, int64_t rows, const float* add, float* to) {
    for (int64_t t = 0; t < rows; t++) Array(to + t * d.D, d.D) = ArrayC(from.at(b, h) + t * from.rs, d.D) + ArrayC(add, d.D);
  };
  fill(q, d.Tq, bias + h * d.D, Q), fill(k, d.Tk, bias + HD + h * d.D, K), fill(v, d.Tk, bias + 2 * HD + h * d.D, V);
  return {{Q, 0, 0, d.D}, {K, 0, 0, d.D}, {V, 0, 0, d.D}};
}

void AttentionForward(OpKernelContext* ctx, const AttentionDims& d, bool causal, float scale, const ViewC& q0, const ViewC& k0, const ViewC& v0, const float* mask, const ViewW& o, float* L,
                      const float* bias = nullptr) {
  ParallelRange(ctx, d.B * d.H, 4 * d.Tq * d.Tk * (d.D + d.DV), [&](int64_t p0, int64_t p1) {
    Floats buf(kRowBlock * std::max<int64_t>(d.Tk, 1)), qkvbuf;
    for (int64_t p = p0; p < p1; p++) {
      const int64_t b = p / d.H, h = p % d.H;
      const auto [q, k, v] = WithBias(d, q0, k0, v0, bias, b, h, qkvbuf);
      for (int64_t r0 = 0; r0 < d.Tq; r0 += kRowBlock) {
        const int64_t rb = std::min(kRowBlock, d.Tq - r0), end = KeyEnd(d, causal, r0, rb);
        MatW Op(o.at(b, h) + r0 * o.rs, rb, d.DV, Strided(o.rs));
        if (end == 0) {  // no keys: weights 0, lse −∞
          Op.setZero();
          for (int64_t i = 0; i < rb; i++) L[p * d.Tq + r0 + i] = -std::numeric_limits<float>::infinity();
          continue;
        }
        Scores(d, causal, scale, q, k, mask, b, h, r0, rb, end, buf.data());
        for (int64_t i = 0; i < rb; i++) {
          Array s(buf.data() + i * end, end);
          const float mx = s.maxCoeff();
          if (mx == -std::numeric_limits<float>::infinity()) {  // every key masked: weights 0, lse −∞
            s.setZero();
            L[p * d.Tq + r0 + i] = mx;
            continue;
          }
          s = (s - mx).exp();
          const float sum = s.sum();
          s /= sum;
          L[p * d.Tq + r0 + i] = mx + std::log(sum);
        }
        Op.noalias() = MatW(buf.data(), rb, end, Strided(end)) * Mat(v.at(b, h), end, d.DV, Strided(v.rs));
      }
    }
  });
}

// With `bias`, also each pair's column sums of dq, dk, dv into dbias_pairs [B·H, 3, D] (its share of
// ∂bias: the caller sums the pairs in order).
void AttentionBackward(OpKernelContext* ctx, const AttentionDims& d, bool causal, float scale, const ViewC& q0, const ViewC& k0, const ViewC& v0, const float* mask,
                       const ViewC& o, const float* L, const ViewC& dO, const float* dL, const ViewW& dq, const ViewW& dk, const ViewW& dv,
                       const float* bias = nullptr, float* dbias_pairs = nullptr) {
  ParallelRange(ctx, d.B * d.H, 10 * d.Tq * d.Tk * (d.D + d.DV), [&](int64_t p0, int64_t p1) {
    Floats pbuf(kRowBlock * std::max<int64_t>(d.Tk, 1)), gbuf(kRowBlock * std::max<int64_t>(d.Tk, 1)), qkvbuf;
    for (int64_t p = p0; p < p1; p++) {
      const int64_t b = p / d.H, h = p % d.H;
      const auto [q, k, v] = WithBias(d, q0, k0, v0, bias, b, h, qkvbuf);
      MatW dKp(dk.at(b, h), d.Tk, d.D, Strided(dk.rs)), dVp(dv.at(b, h), d.Tk, d.DV, Strided(dv.rs));
      dKp.setZero(), dVp.setZero();  // summed over the row blocks, in order
      for (int64_t r0 = 0; r0 < d.Tq; r0 += kRowBlock) {
        const int64_t rb = std::min(kRowBlock, d.Tq - r0), end = KeyEnd(d, causal, r0, rb);
        MatW dQp(dq.at(b, h) + r0 * dq.rs, rb, d.D, Strided(dq.rs));
        if (end == 0) {
          dQp.setZero();
          continue;
        }
        Scores(d, causal, scale, q, k, mask, b, h, r0, rb, end, pbuf.data());
        Mat Op(o.at(b, h) + r0 * o.rs, rb, d.DV, Strided(o.rs)), dOp(dO.at(b, h) + r0 * dO.rs, rb, d.DV, Strided(dO.rs));
        Mat Vp(v.at(b, h), end, d.DV, Strided(v.rs)), Kp(k.at(b, h), end, d.D, Strided(k.rs)), Qp(q.at(b, h) + r0 * q.rs, rb, d.D, Strided(q.rs));
        MatW P(pbuf.data(), rb, end, Strided(end)), dP(gbuf.data(), rb, end, Strided(end));
        dP.noalias() = dOp * Vp.transpose();  // [rb, end]
        for (int64_t i = 0; i < rb; i++) {
          Array s(pbuf.data() + i * end, end), g(gbuf.data() + i * end, end);
          const float l = L[p * d.Tq + r0 + i];
          if (l == -std::numeric_limits<float>::infinity()) {  // no key: no gradient
            s.setZero(), g.setZero();
            continue;
          }
          s = (s - l).exp();  // P (masked entries exp(−∞) = 0)
          const float Di = (Op.row(i).array() * dOp.row(i).array()).sum() - dL[p * d.Tq + r0 + i];
          g = s * (g - Di);  // dS
        }
        dVp.topRows(end).noalias() += P.transpose() * dOp;
        dQp.noalias() = scale * (dP * Kp);
        dKp.topRows(end).noalias() += scale * (dP.transpose() * Qp);
      }
      if (dbias_pairs != nullptr) {
        float* out = dbias_pairs + p * 3 * d.D;
        Eigen::Map<Eigen::RowVectorXf>(out, d.D) = MatW(dq.at(b, h), d.Tq, d.D, Strided(dq.rs)).colwise().sum();
        Eigen::Map<Eigen::RowVectorXf>(out + d.D, d.D) = dKp.colwise().sum();
        Eigen::Map<Eigen::RowVectorXf>(out + 2 * d.D, d.D) = dVp.colwise().sum();
      }
    }
  });
}

// The mask's data, or null for [0] (none); checks [B, Tk].
Status MaskOf(const Tensor& mask, const AttentionDims& d, const char* op, const float** m) {
  *m = nullptr;
  if (mask.NumElements() == 0) return OkStatus();
  if (mask.shape() != TensorShape({d.B, d.Tk})) return errors::InvalidArgument(op, ": expected mask [", d.B, ",", d.Tk, "] (or [0]: none), got ", mask.shape().DebugString());
  *m = mask.flat<float>().data();
  return OkStatus();
}

Status AttentionShapes(const Tensor& q, const Tensor& k, const Tensor& v, AttentionDims* d) {
  if (q.dims() != 4 || k.dims() != 4 || v.dims() != 4)
    return errors::InvalidArgument("AttendFusedAttention: expected q, k, v of rank 4 [B,H,T,D], got ", q.shape().DebugString(), ", ", k.shape().DebugString(), ", ", v.shape().DebugString());
  *d = {q.dim_size(0), q.dim_size(1), q.dim_size(2), k.dim_size(2), q.dim_size(3), v.dim_size(3)};
  if (k.dim_size(0) != d->B || k.dim_size(1) != d->H || k.dim_size(3) != d->D || v.dim_size(0) != d->B || v.dim_size(1) != d->H || v.dim_size(2) != d->Tk)
    return errors::InvalidArgument("AttendFusedAttention: with q ", q.shape().DebugString(), " = [B,H,Tq,D], expected k [B,H,Tk,D] and v [B,H,Tk,DV], got ", k.shape().DebugString(), " and ", v.shape().DebugString());
  return OkStatus();
}

class AttentionOp : public OpKernel {
 public:
  explicit AttentionOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("causal", &causal_));
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
  }

 protected:
  bool causal_;
  float scale_;
};

REGISTER_OP("AttendFusedAttention")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("mask: float")
    .Attr("causal: bool")
    .Attr("scale: float")
    .Output("context: float")
    .Output("lse: float");

class FusedAttention : public AttentionOp {
 public:
  using AttentionOp::AttentionOp;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2);
    AttentionDims d;
    const float* m;
    OP_REQUIRES_OK(ctx, AttentionShapes(q, k, v, &d));
    OP_REQUIRES_OK(ctx, MaskOf(ctx->input(3), d, "AttendFusedAttention", &m));
    Tensor *context, *lse;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({d.B, d.H, d.Tq, d.DV}), &context));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.B, d.H, d.Tq}), &lse));
    AttentionForward(ctx, d, causal_, scale_, Heads(q.flat<float>().data(), d, d.Tq, d.D), Heads(k.flat<float>().data(), d, d.Tk, d.D), Heads(v.flat<float>().data(), d, d.Tk, d.DV), m,
                     Heads(context->flat<float>().data(), d, d.Tq, d.DV), lse->flat<float>().data());
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendFusedAttention").Device(DEVICE_CPU), FusedAttention);

REGISTER_OP("AttendFusedAttentionGrad")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("mask: float")
    .Input("context: float")
    .Input("lse: float")
    .Input("dcontext: float")
    .Input("dlse: float")
    .Attr("causal: bool")
    .Attr("scale: float")
    .Output("dq: float")
    .Output("dk: float")
    .Output("dv: float");

class FusedAttentionGrad : public AttentionOp {
 public:
  using AttentionOp::AttentionOp;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2);
    const Tensor &context = ctx->input(4), &lse = ctx->input(5), &dcontext = ctx->input(6), &dlse = ctx->input(7);
    AttentionDims d;
    const float* m;
    OP_REQUIRES_OK(ctx, AttentionShapes(q, k, v, &d));
    OP_REQUIRES_OK(ctx, MaskOf(ctx->input(3), d, "AttendFusedAttentionGrad", &m));
    ATTEND_EXPECT(ctx, context.shape() == TensorShape({d.B, d.H, d.Tq, d.DV}) && dcontext.shape() == context.shape() && lse.shape() == TensorShape({d.B, d.H, d.Tq}) && dlse.shape() == lse.shape(),
                  "AttendFusedAttentionGrad: expected context and dcontext [B,H,Tq,DV], lse and dlse [B,H,Tq], got ", context.shape().DebugString(), ", ", dcontext.shape().DebugString(), ", ", lse.shape().DebugString(), ", ", dlse.shape().DebugString());
    Tensor *dq, *dk, *dv;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, q.shape(), &dq));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, k.shape(), &dk));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, v.shape(), &dv));
    AttentionBackward(ctx, d, causal_, scale_, Heads(q.flat<float>().data(), d, d.Tq, d.D), Heads(k.flat<float>().data(), d, d.Tk, d.D), Heads(v.flat<float>().data(), d, d.Tk, d.DV), m,
                      Heads(context.flat<float>().data(), d, d.Tq, d.DV), lse.flat<float>().data(), Heads(dcontext.flat<float>().data(), d, d.Tq, d.DV), dlse.flat<float>().data(),
                      Heads(dq->flat<float>().data(), d, d.Tq, d.D), Heads(dk->flat<float>().data(), d, d.Tk, d.D), Heads(dv->flat<float>().data(), d, d.Tk, d.DV));
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendFusedAttentionGrad").Device(DEVICE_CPU), FusedAttentionGrad);

// The packed self-attention: q, k, v are column blocks [0, HD), [HD, 2HD), [2HD, 3HD) of qkv's rows.
// qkv [B,T,3·heads·D], or its rows [B·T, 3·heads·D] with `batch` = B (then the context is rows too).
Status SelfAttentionShapes(const Tensor& qkv, int heads, int batch, AttentionDims* d, TensorShape* context) {
  const bool rows = qkv.dims() == 2;
  if (!(qkv.dims() == 3 || (rows && batch > 0 && qkv.dim_size(0) % batch == 0)) || heads <= 0 || qkv.dim_size(qkv.dims() - 1) % (3 * heads) != 0)
    return errors::InvalidArgument("AttendFusedSelfAttention: expected qkv [B,T,3·heads·D], or [B·T,3·heads·D] with batch = B, with heads = ", heads, " and batch = ", batch, ", got ", qkv.shape().DebugString());
  const int64_t width = qkv.dim_size(qkv.dims() - 1), D = width / (3 * heads);
  const int64_t B = rows ? batch : qkv.dim_size(0), T = rows ? qkv.dim_size(0) / batch : qkv.dim_size(1);
  *d = {B, heads, T, T, D, D};
  *context = rows ? TensorShape({B * T, heads * D}) : TensorShape({B, T, heads * D});
  return OkStatus();
}

// The packed projections' bias [3·H·D] (the q, k, v blocks), or null for [0] (none).
Status BiasOf(const Tensor& bias, int64_t HD, const float** b) {
  *b = nullptr;
  if (bias.NumElements() == 0) return OkStatus();
  if (bias.shape() != TensorShape({3 * HD})) return errors::InvalidArgument("AttendFusedSelfAttention: expected bias [", 3 * HD, "] (or [0]: none), got ", bias.shape().DebugString());
  *b = bias.flat<float>().data();
  return OkStatus();
}

class SelfAttentionOp : public AttentionOp {
 public:
  explicit SelfAttentionOp(OpKernelConstruction* c) : AttentionOp(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("batch", &batch_));
  }

 protected:
  int heads_, batch_;
};

REGISTER_OP("AttendFusedSelfAttention")
    .Input("qkv: float")
    .Input("mask: float")
    .Input("bias: float")
    .Attr("heads: int")
    .Attr("batch: int = 0")
    .Attr("causal: bool")
    .Attr("scale: float")
    .Output("context: float")
    .Output("lse: float");

class FusedSelfAttention : public SelfAttentionOp {
 public:
  using SelfAttentionOp::SelfAttentionOp;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& qkv = ctx->input(0);
    AttentionDims d;
    const float* m;
    TensorShape cshape;
    OP_REQUIRES_OK(ctx, SelfAttentionShapes(qkv, heads_, batch_, &d, &cshape));
    OP_REQUIRES_OK(ctx, MaskOf(ctx->input(1), d, "AttendFusedSelfAttention", &m));
    const int64_t HD = d.H * d.D, T = d.Tq;
    Tensor *context, *lse;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, cshape, &context));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.B, d.H, T}), &lse));
    const float* bias;
    OP_REQUIRES_OK(ctx, BiasOf(ctx->input(2), HD, &bias));
    const float* X = qkv.flat<float>().data();
    AttentionForward(ctx, d, causal_, scale_, Rows(X, 0, T, 3 * HD, d.D), Rows(X, HD, T, 3 * HD, d.D), Rows(X, 2 * HD, T, 3 * HD, d.D), m,
                     Rows(context->flat<float>().data(), 0, T, HD, d.D), lse->flat<float>().data(), bias);
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendFusedSelfAttention").Device(DEVICE_CPU), FusedSelfAttention);

REGISTER_OP("AttendFusedSelfAttentionGrad")
    .Input("qkv: float")
    .Input("mask: float")
    .Input("bias: float")
    .Input("context: float")
    .Input("lse: float")
    .Input("dcontext: float")
    .Input("dlse: float")
    .Attr("heads: int")
    .Attr("batch: int = 0")
    .Attr("causal: bool")
    .Attr("scale: float")
    .Output("dqkv: float")
    .Output("dbias: float");

class FusedSelfAttentionGrad : public SelfAttentionOp {
 public:
  using SelfAttentionOp::SelfAttentionOp;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &qkv = ctx->input(0), &context = ctx->input(3), &lse = ctx->input(4), &dcontext = ctx->input(5), &dlse = ctx->input(6);
    AttentionDims d;
    const float* m;
    TensorShape cshape;
    OP_REQUIRES_OK(ctx, SelfAttentionShapes(qkv, heads_, batch_, &d, &cshape));
    OP_REQUIRES_OK(ctx, MaskOf(ctx->input(1), d, "AttendFusedSelfAttentionGrad", &m));
    const int64_t HD = d.H * d.D, T = d.Tq;
    ATTEND_EXPECT(ctx, context.shape() == cshape && dcontext.shape() == context.shape() && lse.shape() == TensorShape({d.B, d.H, T}) && dlse.shape() == lse.shape(),
                  "AttendFusedSelfAttentionGrad: expected context and dcontext ", cshape.DebugString(), ", lse and dlse [B,H,T], got ", context.shape().DebugString(), ", ", dcontext.shape().DebugString(), ", ", lse.shape().DebugString(), ", ", dlse.shape().DebugString());
    const float* bias;
    OP_REQUIRES_OK(ctx, BiasOf(ctx->input(2), HD, &bias));
    Tensor *dqkv, *dbias;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, qkv.shape(), &dqkv));  // every element written: each belongs to one (b, h)
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({bias == nullptr ? 0 : 3 * HD}), &dbias));
    const float* X = qkv.flat<float>().data();
    float* dX = dqkv->flat<float>().data();
    Floats pairs(bias == nullptr ? 0 : d.B * d.H * 3 * d.D);
    AttentionBackward(ctx, d, causal_, scale_, Rows(X, 0, T, 3 * HD, d.D), Rows(X, HD, T, 3 * HD, d.D), Rows(X, 2 * HD, T, 3 * HD, d.D), m,
                      Rows(context.flat<float>().data(), 0, T, HD, d.D), lse.flat<float>().data(), Rows(dcontext.flat<float>().data(), 0, T, HD, d.D), dlse.flat<float>().data(),
                      Rows(dX, 0, T, 3 * HD, d.D), Rows(dX, HD, T, 3 * HD, d.D), Rows(dX, 2 * HD, T, 3 * HD, d.D), bias, bias == nullptr ? nullptr : pairs.data());
    if (bias == nullptr) return;
    // ∂bias [3, H, D]: the pairs' column sums, summed over the batch in order.
    float* dB = dbias->flat<float>().data();
    std::fill(dB, dB + 3 * HD, 0.f);
    for (int64_t b = 0; b < d.B; b++)
      for (int64_t h = 0; h < d.H; h++)
        for (int part = 0; part < 3; part++) Array(dB + part * HD + h * d.D, d.D) += ArrayC(pairs.data() + ((b * d.H + h) * 3 + part) * d.D, d.D);
  }
};
REGISTER_KERNEL_BUILDER(Name("AttendFusedSelfAttentionGrad").Device(DEVICE_CPU), FusedSelfAttentionGrad);

REGISTER_OP("AttendSplitHeads")
    .Input("x: float")
    .Attr("heads: int")
    .Attr("parts: int")
    .Attr("part: int")
    .Output("y: float");

class SplitHeads : public OpKernel {
 public:
  explicit SplitHeads(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("parts", &parts_));
    OP_REQUIRES_OK(c, c->GetAttr("part", &part_));
  }
  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    ATTEND_EXPECT(ctx, x.dims() == 3 && heads_ > 0 && parts_ > 0 && part_ >= 0 && part_ < parts_ && x.dim_size(2) % (int64_t{heads_} * parts_) == 0,
                  "AttendSplitHeads: expected x [B,T,parts·heads·D] with parts = ", parts_, ", heads = ", heads_, " and 0 ≤ part = ", part_, " < parts, got ", x.shape().DebugString());
    const int64_t B = x.dim_size(0), T = x.dim_size(1), row = x.dim_size(2), H = heads_, D = row / (parts_ * H);
    Tensor* y;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({B, H, T, D}), &y));
    const float* X = x.flat<float>().data();
    float* Y = y->flat<float>().data();
    ParallelRange(ctx, B * T, 4 * H * D, [&](int64_t r0, int64_t r1) {  // by input row: contiguous reads
      for (int64_t r = r0; r < r1; r++) {
        const int64_t b = r / T, t = r % T;
        const float* from = X + r * row + part_ * H * D;
        for (int64_t h = 0; h < H; h++) std::copy(from + h * D, from + (h + 1) * D, Y + ((b * H + h) * T + t) * D);
      }
    });
  }

 private:
  int heads_, parts_, part_;
};
REGISTER_KERNEL_BUILDER(Name("AttendSplitHeads").Device(DEVICE_CPU), SplitHeads);

}  // namespace attend

// The N-API entry point process.dlopen looks for (what NAPI_MODULE defines), written out so that the
// build needs no Node headers: the module's exports stay the empty object Node passes in.
extern "C" __attribute__((visibility("default"))) void* napi_register_module_v1(void* env, void* exports) { return exports; }
