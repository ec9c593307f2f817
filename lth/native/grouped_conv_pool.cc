// A later convolution of K stacked networks fused with the 2x2 max-pool after it (LeNet-5's second).
//
// LthGroupedConvPool:     x [B, H, W, K*C] (network k's channels at k*C ... k*C + C - 1), kernel
//                         [K, 5, 5, C, O] -> pooled [B, H'/2, W'/2, K*O] (VALID padding: H' = H - 4,
//                         W' = W - 4; before bias and activation), argmax [K, B, H'/2, W'/2, O] (uint8):
//                         which of each block's four values won (row-major, the first of equal maxima).
// LthGroupedConvPoolGrad: x, kernel, argmax, d pooled -> d x, d kernel.
//
// Limits: C <= 6 (five columns of C channels fit two vectors), O <= 16 (one vector), W' <= 12,
// H' and W' even. The forward pass keeps a row pair of outputs (all O channels of each pixel in
// one vector) in registers and pools it there. The input gradient uses the pool's sparsity: of
// each block's four outputs only the winner has a gradient, so each pooled value adds one
// scaled 5x5xC kernel slice into the input gradient (TensorFlow's kernels add all four, three of
// them zero, and at ~33 GFLOP/s on this CPU: the slowest op of LeNet-5's training step).
#include <cstdint>
#include <cstring>
#include <vector>

#include "op_support.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;
using lth_native::AlignedFloats;
using lth_native::first_lanes;
using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

constexpr int KS = 5;
constexpr int MAX_C = 6;
constexpr int MAX_WO = 12;
constexpr int WINDOW = 32;  // floats of a kernel row slice (5 * C <= 30), padded to two vectors

struct Geometry {
  int64_t k, b, h, w, c, o, ho, wo, hp, wp;
};

Status geometry(const TensorShape& x, const TensorShape& kernel, Geometry* g) {
  if (kernel.dims() != 5 || kernel.dim_size(1) != KS || kernel.dim_size(2) != KS)
    return errors::InvalidArgument("kernel must be [K, 5, 5, C, O], got ", kernel.DebugString());
  g->k = kernel.dim_size(0);
  g->c = kernel.dim_size(3);
  g->o = kernel.dim_size(4);
  if (x.dims() != 4 || x.dim_size(3) != g->k * g->c)
    return errors::InvalidArgument("x must be [B, H, W, K*C] = [B, H, W, ", g->k * g->c, "], got ", x.DebugString());
  if (g->c < 1 || g->c > MAX_C || g->o < 1 || g->o > 16)
    return errors::InvalidArgument("C must be 1 to 6 and O 1 to 16, got C=", g->c, ", O=", g->o);
  g->b = x.dim_size(0);
  g->h = x.dim_size(1);
  g->w = x.dim_size(2);
  g->ho = g->h - (KS - 1);
  g->wo = g->w - (KS - 1);
  if (g->ho < 2 || g->wo < 2 || g->wo > MAX_WO || g->ho % 2 || g->wo % 2)
    return errors::InvalidArgument("the convolution's output must be even, at least 2 on each side and at most ",
                                   MAX_WO, " wide, got ", g->ho, "x", g->wo);
  g->hp = g->ho / 2;
  g->wp = g->wo / 2;
  return OkStatus();
}

// Network net's channels of one image, as [H][W][C] floats.
inline void gather_image(const float* x, const Geometry& g, int64_t net, int64_t image, float* out) {
  const int64_t channels = g.k * g.c;
  const float* src = x + image * g.h * g.w * channels + net * g.c;
  const __mmask16 lanes = first_lanes(g.c);
  for (int64_t pixel = 0; pixel < g.h * g.w; ++pixel)
    _mm512_mask_storeu_ps(out + pixel * g.c, lanes, _mm512_maskz_loadu_ps(lanes, src + pixel * channels));
}

// Weights of network net as [i][j][c] vectors of the O output channels (zero beyond O).
void weight_vectors(const float* kernel, const Geometry& g, float* out) {
  for (int64_t net = 0; net < g.k; ++net)
    for (int64_t t = 0; t < KS * KS * g.c; ++t)
      for (int64_t o = 0; o < 16; ++o)
        out[(net * KS * KS * g.c + t) * 16 + o] = o < g.o ? kernel[(net * KS * KS * g.c + t) * g.o + o] : 0.0f;
}

// Output rows 2p and 2p+1 (WO pixels each, all channels per vector), max-pooled and stored.
template <int WO>
void forward_rows(const float* image, const float* w, const Geometry& g, int64_t net, int64_t index, int p,
                  float* pooled, uint8_t* argmax) {
  __m512 top[WO], bottom[WO];
#pragma GCC unroll 12
  for (int x = 0; x < WO; ++x) top[x] = bottom[x] = _mm512_setzero_ps();
  const int64_t row = g.w * g.c;
  for (int i = 0; i < KS; ++i)
    for (int j = 0; j < KS; ++j)
      for (int64_t c = 0; c < g.c; ++c) {
        const __m512 weights = _mm512_load_ps(w + ((i * KS + j) * g.c + c) * 16);
        const float* a = image + (2 * p + i) * row + j * g.c + c;
        const float* b = a + row;
#pragma GCC unroll 12
        for (int x = 0; x < WO; ++x) {
          top[x] = _mm512_fmadd_ps(_mm512_set1_ps(a[x * g.c]), weights, top[x]);
          bottom[x] = _mm512_fmadd_ps(_mm512_set1_ps(b[x * g.c]), weights, bottom[x]);
        }
      }
  const __mmask16 lanes = first_lanes(g.o);
#pragma GCC unroll 6
  for (int q = 0; q < WO / 2; ++q) {
    __m512i which;
    const __m512 best = lth_native::first_max(top[2 * q], top[2 * q + 1], bottom[2 * q], bottom[2 * q + 1], &which);
    _mm512_mask_storeu_ps(pooled + ((index * g.hp + p) * g.wp + q) * g.k * g.o + net * g.o, lanes, best);
    _mm512_mask_cvtepi32_storeu_epi8(argmax + (((net * g.b + index) * g.hp + p) * g.wp + q) * g.o, lanes, which);
  }
}

using ForwardRows = void (*)(const float*, const float*, const Geometry&, int64_t, int64_t, int, float*, uint8_t*);

ForwardRows forward_rows_for(int64_t wo) {
  switch (wo) {
    case 2: return forward_rows<2>;
    case 4: return forward_rows<4>;
    case 6: return forward_rows<6>;
    case 8: return forward_rows<8>;
    case 10: return forward_rows<10>;
    default: return forward_rows<12>;
  }
}

// The full-size gradient [H'][W'] of vectors (O channels) of one image's convolution output: each
// block's pooled gradient at its winner, zero at the other three.
inline void unpool(const float* grad, const uint8_t* argmax, const Geometry& g, int64_t net, int64_t index,
                   float* dy) {
  const __mmask16 lanes = first_lanes(g.o);
  for (int64_t p = 0; p < g.hp; ++p)
    for (int64_t q = 0; q < g.wp; ++q) {
      const int64_t cell = (index * g.hp + p) * g.wp + q;
      const __m512 v = _mm512_maskz_loadu_ps(lanes, grad + cell * g.k * g.o + net * g.o);
      const __m512i a = _mm512_cvtepu8_epi32(
          _mm_maskz_loadu_epi8(lanes, argmax + (((net * g.b + index) * g.hp + p) * g.wp + q) * g.o));
      for (int k = 0; k < 4; ++k) {
        const __mmask16 won = _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(k)) & lanes;
        _mm512_store_ps(dy + ((2 * p + k / 2) * g.wo + 2 * q + k % 2) * 16, _mm512_maskz_mov_ps(won, v));
      }
    }
}

// Add one image's kernel gradient to sums [i][j][c] (vectors over O).
template <int C>
void kernel_grad(const float* image, const float* dy, const Geometry& g, float* sums) {
  for (int i = 0; i < KS; ++i)
    for (int j = 0; j < KS; ++j) {
      __m512 acc[C];
      float* s = sums + (i * KS + j) * C * 16;
#pragma GCC unroll 6
      for (int c = 0; c < C; ++c) acc[c] = _mm512_load_ps(s + c * 16);
      for (int64_t y = 0; y < g.ho; ++y) {
        const float* a = image + ((y + i) * g.w + j) * C;
        for (int64_t x = 0; x < g.wo; ++x) {
          const __m512 d = _mm512_load_ps(dy + (y * g.wo + x) * 16);
#pragma GCC unroll 6
          for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(a[x * C + c]), d, acc[c]);
        }
      }
#pragma GCC unroll 6
      for (int c = 0; c < C; ++c) _mm512_store_ps(s + c * 16, acc[c]);
    }
}

using KernelGrad = void (*)(const float*, const float*, const Geometry&, float*);

KernelGrad kernel_grad_for(int64_t c) {
  switch (c) {
    case 1: return kernel_grad<1>;
    case 2: return kernel_grad<2>;
    case 3: return kernel_grad<3>;
    case 4: return kernel_grad<4>;
    case 5: return kernel_grad<5>;
    default: return kernel_grad<6>;
  }
}

// One image's input gradient [H][W][C]: each pooled value times the kernel slice [i][j, c] of its
// channel, added at its winner's receptive field (five rows of 5*C contiguous floats).
inline void input_grad(const float* grad, const uint8_t* argmax, const float* slices /* [O][5][WINDOW] */,
                       const Geometry& g, int64_t net, int64_t index, float* dx) {
  const int64_t span = KS * g.c;
  const __mmask16 lo = first_lanes(span), hi = first_lanes(span - 16 > 0 ? span - 16 : 0);
  for (int64_t p = 0; p < g.hp; ++p)
    for (int64_t q = 0; q < g.wp; ++q) {
      const int64_t cell = (index * g.hp + p) * g.wp + q;
      const float* values = grad + cell * g.k * g.o + net * g.o;
      const uint8_t* winners = argmax + (((net * g.b + index) * g.hp + p) * g.wp + q) * g.o;
      for (int64_t o = 0; o < g.o; ++o) {
        const __m512 s = _mm512_set1_ps(values[o]);
        const int a = winners[o];
        float* at = dx + ((2 * p + (a >> 1)) * g.w + 2 * q + (a & 1)) * g.c;
        const float* slice = slices + o * KS * WINDOW;
#pragma GCC unroll 5
        for (int i = 0; i < KS; ++i) {
          float* d = at + i * g.w * g.c;
          _mm512_mask_storeu_ps(d, lo, _mm512_fmadd_ps(s, _mm512_load_ps(slice + i * WINDOW),
                                                        _mm512_maskz_loadu_ps(lo, d)));
          if (hi)
            _mm512_mask_storeu_ps(d + 16, hi, _mm512_fmadd_ps(s, _mm512_load_ps(slice + i * WINDOW + 16),
                                                              _mm512_maskz_loadu_ps(hi, d + 16)));
        }
      }
    }
}

}  // namespace

REGISTER_OP("LthGroupedConvPool")
    .Input("x: float")
    .Input("kernel: float")
    .Output("pooled: float")
    .Output("argmax: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 5, &kernel));
      auto pooled_side = [&](DimensionHandle d) -> DimensionHandle {
        return c->ValueKnown(d) ? c->MakeDim((c->Value(d) - (KS - 1)) / 2) : c->UnknownDim();
      };
      const DimensionHandle hp = pooled_side(c->Dim(x, 1)), wp = pooled_side(c->Dim(x, 2));
      DimensionHandle channels;
      TF_RETURN_IF_ERROR(c->Multiply(c->Dim(kernel, 0), c->Dim(kernel, 4), &channels));
      c->set_output(0, c->MakeShape({c->Dim(x, 0), hp, wp, channels}));
      c->set_output(1, c->MakeShape({c->Dim(kernel, 0), c->Dim(x, 0), hp, wp, c->Dim(kernel, 4)}));
      return OkStatus();
    });

REGISTER_OP("LthGroupedConvPoolGrad")
    .Input("x: float")
    .Input("kernel: float")
    .Input("argmax: uint8")
    .Input("grad: float")
    .Output("x_grad: float")
    .Output("kernel_grad: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      return OkStatus();
    });

class GroupedConvPoolOp : public OpKernel {
 public:
  explicit GroupedConvPoolOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& kernel = context->input(1);
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kernel.shape(), &g));
    Tensor *pooled = nullptr, *argmax = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({g.b, g.hp, g.wp, g.k * g.o}), &pooled));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({g.k, g.b, g.hp, g.wp, g.o}), &argmax));
    AlignedFloats weights(g.k * KS * KS * g.c * 16);
    weight_vectors(kernel.flat<float>().data(), g, weights.get());
    const float* xs = x.flat<float>().data();
    float* out = pooled->flat<float>().data();
    uint8_t* which = argmax->flat<uint8_t>().data();
    const ForwardRows rows = forward_rows_for(g.wo);
    const Geometry geo = g;
    lth_native::parallel(context, g.k * g.b, 60000 * g.o, [&, geo](int64_t start, int64_t end) {
      AlignedFloats image(geo.h * geo.w * geo.c + 16);
      for (int64_t unit = start; unit < end; ++unit) {
        const int64_t net = unit / geo.b, index = unit % geo.b;
        gather_image(xs, geo, net, index, image.get());
        const float* w = weights.get() + net * KS * KS * geo.c * 16;
        for (int p = 0; p < geo.hp; ++p) rows(image.get(), w, geo, net, index, p, out, which);
      }
    });
  }
};

class GroupedConvPoolGradOp : public OpKernel {
 public:
  explicit GroupedConvPoolGradOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& kernel = context->input(1);
    const Tensor& argmax = context->input(2);
    const Tensor& grad = context->input(3);
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kernel.shape(), &g));
    const TensorShape pooled_shape({g.b, g.hp, g.wp, g.k * g.o}), argmax_shape({g.k, g.b, g.hp, g.wp, g.o});
    OP_REQUIRES(context, grad.shape() == pooled_shape && argmax.shape() == argmax_shape,
                errors::InvalidArgument("grad must be ", pooled_shape.DebugString(), " and argmax ",
                                        argmax_shape.DebugString()));
    Tensor *x_grad = nullptr, *kernel_grad_out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &x_grad));
    OP_REQUIRES_OK(context, context->allocate_output(1, kernel.shape(), &kernel_grad_out));
    // Kernel slices for the input gradient: per network and output channel, [i][j*C + c] rows.
    const float* ks = kernel.flat<float>().data();
    AlignedFloats slices(g.k * g.o * KS * WINDOW);
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t o = 0; o < g.o; ++o)
        for (int i = 0; i < KS; ++i)
          for (int j = 0; j < KS; ++j)
            for (int64_t c = 0; c < g.c; ++c)
              slices.get()[((net * g.o + o) * KS + i) * WINDOW + j * g.c + c] =
                  ks[(((net * KS + i) * KS + j) * g.c + c) * g.o + o];
    const float* xs = x.flat<float>().data();
    const float* dp = grad.flat<float>().data();
    const uint8_t* which = argmax.flat<uint8_t>().data();
    float* dx = x_grad->flat<float>().data();
    const int chunks = lth_native::chunks_for(context, g.b);
    const int64_t per_chunk = (g.b + chunks - 1) / chunks;
    const int64_t per_net = KS * KS * g.c * 16;
    AlignedFloats partial(static_cast<size_t>(chunks) * g.k * per_net);
    const KernelGrad add_kernel_grad = kernel_grad_for(g.c);
    const Geometry geo = g;
    lth_native::parallel(context, chunks, 200000 * g.o * per_chunk * g.k, [&, geo](int64_t start, int64_t end) {
      AlignedFloats image(geo.h * geo.w * geo.c + 16), image_grad(geo.h * geo.w * geo.c + 32),
          dy(geo.ho * geo.wo * 16);
      const int64_t channels = geo.k * geo.c;
      const __mmask16 lanes = first_lanes(geo.c);
      for (int64_t chunk = start; chunk < end; ++chunk) {
        const int64_t first = chunk * per_chunk, last = std::min(geo.b, first + per_chunk);
        for (int64_t net = 0; net < geo.k; ++net)
          for (int64_t index = first; index < last; ++index) {
            gather_image(xs, geo, net, index, image.get());
            unpool(dp, which, geo, net, index, dy.get());
            add_kernel_grad(image.get(), dy.get(), geo, partial.get() + (chunk * geo.k + net) * per_net);
            std::memset(image_grad.get(), 0, sizeof(float) * geo.h * geo.w * geo.c);
            input_grad(dp, which, slices.get() + net * geo.o * KS * WINDOW, geo, net, index, image_grad.get());
            float* dst = dx + index * geo.h * geo.w * channels + net * geo.c;
            for (int64_t pixel = 0; pixel < geo.h * geo.w; ++pixel)
              _mm512_mask_storeu_ps(dst + pixel * channels, lanes,
                                    _mm512_maskz_loadu_ps(lanes, image_grad.get() + pixel * geo.c));
          }
      }
    });
    float* result = kernel_grad_out->flat<float>().data();  // [K, 5, 5, C, O]
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t t = 0; t < KS * KS * g.c; ++t) {
        __m512 total = _mm512_setzero_ps();
        for (int chunk = 0; chunk < chunks; ++chunk)
          total = _mm512_add_ps(total, _mm512_load_ps(partial.get() + (chunk * g.k + net) * per_net + t * 16));
        alignas(64) float lanes[16];
        _mm512_store_ps(lanes, total);
        for (int64_t o = 0; o < g.o; ++o) result[(net * KS * KS * g.c + t) * g.o + o] = lanes[o];
      }
  }
};

REGISTER_KERNEL_BUILDER(Name("LthGroupedConvPool").Device(DEVICE_CPU), GroupedConvPoolOp);
REGISTER_KERNEL_BUILDER(Name("LthGroupedConvPoolGrad").Device(DEVICE_CPU), GroupedConvPoolGradOp);
