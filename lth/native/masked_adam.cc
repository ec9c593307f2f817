// One Adam step of a pruned weight tensor, with its mask applied, in one pass over memory.
//
// LthMaskedAdam: var, m, v (resource variables), beta1_power, beta2_power, lr, beta1, beta2,
//                epsilon (scalars), grad, mask (var's shape):
//                  m   <- m + (grad - m) * (1 - beta1)
//                  v   <- v + (grad * grad - v) * (1 - beta2)
//                  var <- (var - m * alpha / (sqrt(v) + epsilon)) * mask,
//                  alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power).
//
// That is TensorFlow's ResourceApplyAdam (the same float operations in the same order, so the same
// bits) followed by var * mask, which the stacked engine otherwise runs as a second pass. On
// LeNet-300-100 the first layer's weights (K x 235,200) do not fit in L2, so each pass reads them
// from L3: one pass instead of two, and no separate read of the updated weights for the mask.
#define EIGEN_USE_THREADS

#include <immintrin.h>

#include <cmath>
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

REGISTER_OP("LthMaskedAdam")
    .Input("var: resource")
    .Input("m: resource")
    .Input("v: resource")
    .Input("beta1_power: float")
    .Input("beta2_power: float")
    .Input("lr: float")
    .Input("beta1: float")
    .Input("beta2: float")
    .Input("epsilon: float")
    .Input("grad: float")
    .Input("mask: float")
    .SetIsStateful()
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      shape_inference::ShapeHandle unused;
      for (int i = 3; i < 9; ++i) TF_RETURN_IF_ERROR(c->WithRank(c->input(i), 0, &unused));
      return c->Merge(c->input(9), c->input(10), &unused);
    });

class MaskedAdamOp : public OpKernel {
 public:
  explicit MaskedAdamOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    auto locks = MaybeLockVariableInputMutexesInOrder<CPUDevice, float>(context, true, false, {0, 1, 2});
    Tensor var, m, v;
    OP_REQUIRES_OK(context, lth_native::adam_variables(context, &var, &m, &v));
    const Tensor& grad = context->input(9);
    const Tensor& mask = context->input(10);
    for (const Tensor* t : std::initializer_list<const Tensor*>{&m, &v, &grad, &mask})
      OP_REQUIRES(context, t->shape() == var.shape(),
                  errors::InvalidArgument("var, m, v, grad and mask must have one shape; var is ",
                                          var.shape().DebugString(), ", one of the others ", t->shape().DebugString()));
    lth_native::AdamStep adam;
    OP_REQUIRES_OK(context, lth_native::AdamStep::from_inputs(context, 3, &adam));

    float* var_p = var.flat<float>().data();
    float* m_p = m.flat<float>().data();
    float* v_p = v.flat<float>().data();
    const float* g_p = grad.flat<float>().data();
    const float* mask_p = mask.flat<float>().data();
    const int64_t n = var.NumElements(), vectors = (n + 15) / 16;
    lth_native::parallel(context, vectors, 40, [&](int64_t start, int64_t end) {
      for (int64_t i = start * 16; i < std::min(n, end * 16); i += 16) {
        const __mmask16 lanes = lth_native::first_lanes(n - i);
        adam.apply(_mm512_maskz_loadu_ps(lanes, g_p + i), var_p + i, m_p + i, v_p + i, mask_p + i, lanes);
      }
    });
  }
};

REGISTER_KERNEL_BUILDER(Name("LthMaskedAdam").Device(DEVICE_CPU), MaskedAdamOp);

}  // namespace
