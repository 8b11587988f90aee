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
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/blocking_counter.h"
#include "tensorflow/core/platform/threadpool.h"
#include "Eigen/Core"

namespace attend {
using namespace tensorflow;

// Scratch buffers 64-byte aligned like TensorFlow's own: Eigen peels unaligned heads with scalar
// code whose tanh/σ differ from the vector ones in the last bit, so a buffer's alignment must not
// vary from call to call (results are then bit-for-bit repeatable).
using Floats = std::vector<float, Eigen::aligned_allocator<float>>;
using Array = Eigen::Map<Eigen::ArrayXf>;
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
          Array ifz(zr, 2 * n), gz(zr + 2 * n, n), oz(zr + 3 * n, n);
          ifz = ifz.logistic(), gz = gz.tanh(), oz = oz.logistic();
          Array cv(c.data() + b * H + lo, n), hv(hn + b * H + lo, n);
          cv = ifz.tail(n) * cv + ifz.head(n) * gz;  // c_t = f ⊙ c_{t−1} + i ⊙ g
          hv = oz * cv.tanh();                      // h_t = o ⊙ tanh(c_t)
          float* ar = A + (t * B + b) * G + lo;
          for (int g = 0; g < 4; g++) std::copy(zr + g * n, zr + (g + 1) * n, ar + g * H);
          std::copy(cv.data(), cv.data() + n, C + (t * B + b) * H + lo);
          std::copy(hv.data(), hv.data() + n, HC + (b * (T + 1) + t) * H + lo);
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

// ---- Shared by the vanilla RNN and both GRUs.

// Shape checks with expected-vs-actual messages.
#define ATTEND_EXPECT(ctx, cond, ...) OP_REQUIRES(ctx, cond, errors::InvalidArgument(__VA_ARGS__))

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

}  // namespace attend

// The N-API entry point process.dlopen looks for (what NAPI_MODULE defines), written out so that the
// build needs no Node headers: the module's exports stay the empty object Node passes in.
extern "C" __attribute__((visibility("default"))) void* napi_register_module_v1(void* env, void* exports) { return exports; }
