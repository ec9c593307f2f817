// The Adam step of K dense layers' pruned kernels, with their weight gradients computed in the same pass.
//
// LthDenseGradMaskedAdam: var, m, v (resource variables [K, N, M]), beta1_power, beta2_power, lr,
//   beta1, beta2, epsilon (scalars), x [K, B, N] (the layers' inputs), dy [K, B, M] (the loss's
//   gradient with respect to their outputs x @ var, before bias and activation), mask [K, N, M]
//   or empty (none):
//     grad[k] = x[k]^T dy[k], then exactly LthMaskedAdam(var, m, v, ..., grad, mask), or without a
//     mask exactly ResourceApplyAdam(var, m, v, ..., grad).
//
// The gradient is never written to memory: each 8 x 32 tile of it is summed over the batch in
// registers (image by image, in order; oneDNN's matmul gave the same bits here) and the
// Adam step applied to it there. For LeNet-300-100's first layer (K x 784 x 300, 3.8 MB per array
// at K = 4, beyond L2) that saves writing the gradient out and reading it back; with the next tile
// prefetched during the multiply-adds, the matmul and the Adam step took 8 % less time together
// (bench/masked_adam.py measures the whole training step).
#define EIGEN_USE_THREADS

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "adam_support.h"
#include "op_support.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/kernels/training_op_helpers.h"

using namespace tensorflow;
using CPUDevice = Eigen::ThreadPoolDevice;

namespace {

constexpr int kRows = 8;  // gradient rows per tile (x's features)

REGISTER_OP("LthDenseGradMaskedAdam")
    .Input("var: resource")
    .Input("m: resource")
    .Input("v: resource")
    .Input("beta1_power: float")
    .Input("beta2_power: float")
    .Input("lr: float")
    .Input("beta1: float")
    .Input("beta2: float")
    .Input("epsilon: float")
    .Input("x: float")
    .Input("dy: float")
    .Input("mask: float")
    .SetIsStateful()
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle unused;
      for (int i = 3; i < 9; ++i) TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 0, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(9), 3, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(10), 3, &unused));
      return OkStatus();
    });

// Rows i0 .. i0+R-1 and the V*16 columns from j0 (lanes[v] of vector v) of the gradient x^T dy,
// summed over the batch in order (one fused multiply-add per image) in registers, then their Adam
// step. While summing, it fetches the next tile's weights, moments and mask into L2, so that their
// Adam step does not wait for L3. (The accumulators are only indexed in unrolled loops so that they
// stay in registers: indexing them in a loop made the compiler store all of them back to memory on
// every image.)
template <int R, int V>
inline void update_tile(const lth_native::AdamStep& adam, const float* x, const float* dy, int64_t batch, int64_t n,
                        int64_t m, int64_t i0, int64_t j0, const __mmask16* lanes, float* var, float* mom, float* vel,
                        const float* mask) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm512_setzero_ps();
    if (V == 2) acc[r][V - 1] = _mm512_setzero_ps();
  }
  const __mmask16 lanes0 = lanes[0], lanes1 = lanes[1];
  const int64_t next = j0 + 32 < m ? j0 + 32 : -1;  // the next tile's first column, if any
  for (int64_t b = 0; b < batch; ++b) {
    if (next >= 0 && b < 4 * R) {  // one row of one of the 4 arrays (2 cache lines) per image
      const int64_t row = b % R, array = b / R, at = (i0 + row) * m + next;
      const float* base = array == 0 ? var : array == 1 ? mom : array == 2 ? vel : mask;
      if (base) {
        _mm_prefetch(reinterpret_cast<const char*>(base + at), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(base + at + 16), _MM_HINT_T1);
      }
    }
    const float* dy_row = dy + b * m + j0;
    const float* x_row = x + b * n + i0;
    const __m512 d0 = _mm512_maskz_loadu_ps(lanes0, dy_row);
    const __m512 d1 = V == 2 ? _mm512_maskz_loadu_ps(lanes1, dy_row + 16) : d0;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 xb = _mm512_set1_ps(x_row[r]);
      acc[r][0] = _mm512_fmadd_ps(xb, d0, acc[r][0]);
      if (V == 2) acc[r][V - 1] = _mm512_fmadd_ps(xb, d1, acc[r][V - 1]);
    }
  }
  alignas(64) float grad[R][V][16];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm512_store_ps(grad[r][0], acc[r][0]);
    if (V == 2) _mm512_store_ps(grad[r][V - 1], acc[r][V - 1]);
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      const int64_t at = (i0 + r) * m + j0 + 16 * v;
      adam.apply(_mm512_load_ps(grad[r][v]), var + at, mom + at, vel + at, mask ? mask + at : nullptr, lanes[v]);
    }
}

template <int R>
void update_rows(const lth_native::AdamStep& adam, const float* x, const float* dy, int64_t batch, int64_t n,
                 int64_t m, int64_t i0, float* var, float* mom, float* vel, const float* mask) {
  for (int64_t j0 = 0; j0 < m; j0 += 32) {
    const int64_t left = m - j0;
    const __mmask16 lanes[2] = {lth_native::first_lanes(left), lth_native::first_lanes(std::max<int64_t>(0, left - 16))};
    if (left > 16)
      update_tile<R, 2>(adam, x, dy, batch, n, m, i0, j0, lanes, var, mom, vel, mask);
    else
      update_tile<R, 1>(adam, x, dy, batch, n, m, i0, j0, lanes, var, mom, vel, mask);
  }
}

using RowsFn = void (*)(const lth_native::AdamStep&, const float*, const float*, int64_t, int64_t, int64_t, int64_t,
                        float*, float*, float*, const float*);
constexpr RowsFn kRowsFns[kRows + 1] = {nullptr, update_rows<1>, update_rows<2>, update_rows<3>, update_rows<4>,
                                        update_rows<5>, update_rows<6>, update_rows<7>, update_rows<8>};

class DenseGradMaskedAdamOp : public OpKernel {
 public:
  explicit DenseGradMaskedAdamOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, float>(context, true, false, {0, 1, 2});
    Tensor var, mom, vel;
    OP_REQUIRES_OK(context, lth_native::adam_variables(context, &var, &mom, &vel));
    const Tensor& x = context->input(9);
    const Tensor& dy = context->input(10);
    const Tensor& mask = context->input(11);
    OP_REQUIRES(context, var.dims() == 3,
                errors::InvalidArgument("var must be [K, N, M], got ", var.shape().DebugString()));
    const bool masked = mask.NumElements() > 0;
    for (const Tensor* t : std::initializer_list<const Tensor*>{&mom, &vel, &mask})
      OP_REQUIRES(context, t->shape() == var.shape() || (t == &mask && !masked),
                  errors::InvalidArgument("var, m, v and mask (unless empty) must have one shape; var is ",
                                          var.shape().DebugString(), ", one of the others ", t->shape().DebugString()));
    const int64_t k = var.dim_size(0), n = var.dim_size(1), m = var.dim_size(2);
    OP_REQUIRES(context, x.dims() == 3 && dy.dims() == 3 && x.dim_size(0) == k && dy.dim_size(0) == k &&
                             x.dim_size(2) == n && dy.dim_size(2) == m && x.dim_size(1) == dy.dim_size(1),
                errors::InvalidArgument("x must be [K, B, N] and dy [K, B, M] for var [K, N, M] = ",
                                        var.shape().DebugString(), "; got x ", x.shape().DebugString(), ", dy ",
                                        dy.shape().DebugString()));
    lth_native::AdamStep adam;
    OP_REQUIRES_OK(context, lth_native::AdamStep::from_inputs(context, 3, &adam));
    const int64_t batch = x.dim_size(1), row_blocks = (n + kRows - 1) / kRows;
    const float* x_p = x.flat<float>().data();
    const float* dy_p = dy.flat<float>().data();
    float* var_p = var.flat<float>().data();
    float* mom_p = mom.flat<float>().data();
    float* vel_p = vel.flat<float>().data();
    const float* mask_p = masked ? mask.flat<float>().data() : nullptr;
    // one unit: one network's kRows rows of the gradient, all columns
    lth_native::parallel(context, k * row_blocks, batch * kRows * m * 2, [&](int64_t start, int64_t end) {
      for (int64_t unit = start; unit < end; ++unit) {
        const int64_t net = unit / row_blocks, i0 = (unit % row_blocks) * kRows;
        const int64_t offset = net * n * m;
        kRowsFns[std::min<int64_t>(kRows, n - i0)](adam, x_p + net * batch * n, dy_p + net * batch * m, batch, n, m,
                                                   i0, var_p + offset, mom_p + offset, vel_p + offset,
                                                   masked ? mask_p + offset : nullptr);
      }
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("LthDenseGradMaskedAdam").Device(DEVICE_CPU), DenseGradMaskedAdamOp);

}  // namespace
