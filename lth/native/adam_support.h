// The masked Adam step both Adam ops share, 16 weights at a time: TensorFlow's ResourceApplyAdam
// (the same float operations in the same order, so the same bits) followed by var * mask.
#pragma once

#include <immintrin.h>

#include <cmath>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/tensor_shape.h"
#include "tensorflow/core/kernels/training_op_helpers.h"

namespace lth_native {

// The op's inputs 0, 1 and 2: the weights and Adam's two moment slots (resource variables), for an
// update under the locks the caller holds (MaybeLockVariableInputMutexesInOrder over {0, 1, 2}).
inline tensorflow::Status adam_variables(tensorflow::OpKernelContext* context, tensorflow::Tensor* var,
                                         tensorflow::Tensor* m, tensorflow::Tensor* v) {
  using CPUDevice = Eigen::ThreadPoolDevice;
  TF_RETURN_IF_ERROR(tensorflow::GetInputTensorFromVariable<CPUDevice, float>(context, 0, true, false, var));
  TF_RETURN_IF_ERROR(tensorflow::GetInputTensorFromVariable<CPUDevice, float>(context, 1, true, false, m));
  return tensorflow::GetInputTensorFromVariable<CPUDevice, float>(context, 2, true, false, v);
}

struct AdamStep {
  __m512 keep1, keep2, alpha, epsilon;

  // From the op's six scalar inputs starting at `first`: beta1_power, beta2_power, lr, beta1, beta2, epsilon.
  static tensorflow::Status from_inputs(tensorflow::OpKernelContext* context, int first, AdamStep* step) {
    float scalar[6];
    for (int i = 0; i < 6; ++i) {
      const tensorflow::Tensor& t = context->input(first + i);
      if (!tensorflow::TensorShapeUtils::IsScalar(t.shape()))
        return tensorflow::errors::InvalidArgument("input ", first + i, " must be a scalar, got ",
                                                   t.shape().DebugString());
      scalar[i] = t.scalar<float>()();
    }
    const float beta1_power = scalar[0], beta2_power = scalar[1], lr = scalar[2];
    const float beta1 = scalar[3], beta2 = scalar[4], epsilon = scalar[5];
    const float alpha = lr * std::sqrt(1.0f - beta2_power) / (1.0f - beta1_power);
    step->keep1 = _mm512_set1_ps(1.0f - beta1);
    step->keep2 = _mm512_set1_ps(1.0f - beta2);
    step->alpha = _mm512_set1_ps(alpha);
    step->epsilon = _mm512_set1_ps(epsilon);
    return tensorflow::OkStatus();
  }

  // m <- m + (g - m)(1 - beta1); v <- v + (g^2 - v)(1 - beta2); var <- (var - m alpha / (sqrt(v) + epsilon)) * mask,
  // or without the multiply if mask is null.
  inline void apply(__m512 g, float* var, float* m, float* v, const float* mask, __mmask16 lanes) const {
    __m512 mv = _mm512_maskz_loadu_ps(lanes, m);
    __m512 vv = _mm512_maskz_loadu_ps(lanes, v);
    mv = _mm512_add_ps(mv, _mm512_mul_ps(_mm512_sub_ps(g, mv), keep1));
    vv = _mm512_add_ps(vv, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(g, g), vv), keep2));
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(mv, alpha), _mm512_add_ps(_mm512_sqrt_ps(vv), epsilon));
    const __m512 w = _mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, var), step);
    _mm512_mask_storeu_ps(m, lanes, mv);
    _mm512_mask_storeu_ps(v, lanes, vv);
    _mm512_mask_storeu_ps(var, lanes, mask ? _mm512_mul_ps(w, _mm512_maskz_loadu_ps(lanes, mask)) : w);
  }
};

}  // namespace lth_native
