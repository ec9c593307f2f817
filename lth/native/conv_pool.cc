// A network's first convolution fused with the 2x2 max-pool after it, for K stacked networks.
//
// LthConvPool:           x [K, B, H, W, 1] (or [1, B, H, W, 1]: the same images for all K networks, as
//                        in evaluation), kernel [K, 5, 5, 1, O], bias [K*O] -> pooled [B, H'/2, W'/2, K*O]
//                        (max over each 2x2 block of the convolution, plus the bias, then ReLU if
//                        ``relu``), argmax [K, B, O, H'/2, W'/2] (uint8): which of each block's four
//                        values won (row-major, the first of equal maxima), or DEAD where ReLU
//                        zeroed the output (no gradient flows there), for the gradient.
// LthConvPoolFilterGrad: x, argmax, d pooled -> d kernel [K, 5, 5, 1, O], d bias [K*O].
//
// Bias and ReLU in the op save TensorFlow's BiasAdd, Relu, ReluGrad and BiasAddGrad: four passes
// over the pooled activations, which at the seed's batch of 600 no longer fit in cache.
//
// H' = H, W' = W for SAME padding, H - 4, W - 4 for VALID; W' <= 32 and H' <= 32, both even.
// One input channel is what a first layer on grey images sees, and the case oneDNN handles worst
// (~25 GFLOP/s on one core here). This kernel keeps each image's padded rows in L1 and each
// output row pair in AVX-512 registers (32 columns as two vectors), so the pooled output is
// written without the full-size convolution output ever reaching memory. The input gradient is
// not computed: a first layer's input is data.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "op_support.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;
using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

constexpr int KS = 5;        // kernel size
constexpr int ROWS = 36;     // padded input rows (H' + 4 <= 36)
constexpr int COLS = 48;     // padded input columns: 16-wide loads start at columns up to 16 + 4, so reach 35
constexpr int MAX_OUT = 32;  // H', W' <= 32
constexpr int CHUNK = 3;     // filters convolved (and their gradients summed) together: all accumulators stay in registers
constexpr int DEAD = 4;      // argmax of an output that ReLU zeroed

struct Geometry {
  int64_t k, b, h, w, o, pad, ho, wo, hp, wp;
  int64_t x_net_stride;  // floats from one network's images to the next's: 0 when they share them
};

Status geometry(const TensorShape& x, const TensorShape& kernel, const std::string& padding, Geometry* g) {
  if (x.dims() != 5 || x.dim_size(4) != 1)
    return errors::InvalidArgument("x must be [K, B, H, W, 1], got ", x.DebugString());
  if (kernel.dims() != 5 || kernel.dim_size(1) != KS || kernel.dim_size(2) != KS || kernel.dim_size(3) != 1 ||
      (kernel.dim_size(0) != x.dim_size(0) && x.dim_size(0) != 1))
    return errors::InvalidArgument("kernel must be [K, 5, 5, 1, O] with x's K (or any K for x's 1), got ",
                                   kernel.DebugString());
  g->k = kernel.dim_size(0);
  g->b = x.dim_size(1);
  g->h = x.dim_size(2);
  g->w = x.dim_size(3);
  g->o = kernel.dim_size(4);
  g->pad = padding == "SAME" ? 2 : 0;
  g->ho = g->h + 2 * g->pad - (KS - 1);
  g->wo = g->w + 2 * g->pad - (KS - 1);
  if (g->ho < 2 || g->wo < 2 || g->ho > MAX_OUT || g->wo > MAX_OUT || g->ho % 2 || g->wo % 2)
    return errors::InvalidArgument("the convolution's output must be even and between 2 and 32 on each side, got ",
                                   g->ho, "x", g->wo);
  g->hp = g->ho / 2;
  g->wp = g->wo / 2;
  g->x_net_stride = x.dim_size(0) == 1 ? 0 : g->b * g->h * g->w;
  return OkStatus();
}

// Copy image (net, image) into a zeroed, padded buffer.
inline void fill_padded(const float* x, const Geometry& g, int64_t net, int64_t image, float* buf) {
  std::memset(buf, 0, sizeof(float) * ROWS * COLS);
  const float* src = x + net * g.x_net_stride + image * g.h * g.w;
  for (int64_t r = 0; r < g.h; ++r) std::memcpy(buf + (r + g.pad) * COLS + g.pad, src + r * g.w, sizeof(float) * g.w);
}

// Even and odd lanes of the 32 values (lo, hi): columns 0, 2, ..., 30 and 1, 3, ..., 31.
const __m512i EVENS = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
const __m512i ODDS = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

// Convolve rows 2p and 2p+1 with NF filters and max-pool them: pooled values and argmax per filter.
template <int NF>
inline void pooled_row(const float* buf, const float* w /* [5][5][NF] */, int p, __m512* best, __m512i* index) {
  __m512 acc[NF][2][2];
#pragma GCC unroll 6
  for (int f = 0; f < NF; ++f)
    for (int r = 0; r < 2; ++r) acc[f][r][0] = acc[f][r][1] = _mm512_setzero_ps();
#pragma GCC unroll 6
  for (int i = 0; i < KS + 1; ++i) {  // input row 2p + i feeds output row 2p (kernel row i) and 2p + 1 (row i - 1)
    const float* row = buf + (2 * p + i) * COLS;
#pragma GCC unroll 5
    for (int j = 0; j < KS; ++j) {
      __m512 lo = _mm512_loadu_ps(row + j), hi = _mm512_loadu_ps(row + j + 16);
      __asm__("" : "+v"(lo), "+v"(hi));  // loaded once for all filters: else the compiler repeats the loads in FMAs
#pragma GCC unroll 6
      for (int f = 0; f < NF; ++f) {
        if (i < KS) {
          const __m512 c = _mm512_set1_ps(w[(i * KS + j) * NF + f]);
          acc[f][0][0] = _mm512_fmadd_ps(c, lo, acc[f][0][0]);
          acc[f][0][1] = _mm512_fmadd_ps(c, hi, acc[f][0][1]);
        }
        if (i > 0) {
          const __m512 c = _mm512_set1_ps(w[((i - 1) * KS + j) * NF + f]);
          acc[f][1][0] = _mm512_fmadd_ps(c, lo, acc[f][1][0]);
          acc[f][1][1] = _mm512_fmadd_ps(c, hi, acc[f][1][1]);
        }
      }
    }
  }
#pragma GCC unroll 6
  for (int f = 0; f < NF; ++f) {
    // The four candidates of each 2x2 block, in row-major order; the first of equal maxima wins.
    const __m512 c0 = _mm512_permutex2var_ps(acc[f][0][0], EVENS, acc[f][0][1]);
    const __m512 c1 = _mm512_permutex2var_ps(acc[f][0][0], ODDS, acc[f][0][1]);
    const __m512 c2 = _mm512_permutex2var_ps(acc[f][1][0], EVENS, acc[f][1][1]);
    const __m512 c3 = _mm512_permutex2var_ps(acc[f][1][0], ODDS, acc[f][1][1]);
    best[f] = lth_native::first_max(c0, c1, c2, c3, &index[f]);
  }
}

template <int NF>
void forward_chunk(const float* buf, const float* w, const Geometry& g, int64_t net, int64_t image, int64_t f0,
                   const float* bias, bool relu, float* pooled, uint8_t* argmax) {
  const int64_t channels = g.k * g.o;
  const __mmask16 lanes = lth_native::first_lanes(g.wp);
  alignas(64) float row[NF][16];  // a row's pooled values, filter by filter, stored pixel by pixel below
  for (int p = 0; p < g.hp; ++p) {
    __m512 best[NF];
    __m512i index[NF];
    pooled_row<NF>(buf, w, p, best, index);
#pragma GCC unroll 6
    for (int f = 0; f < NF; ++f) {
      best[f] = _mm512_add_ps(best[f], _mm512_set1_ps(bias[net * g.o + f0 + f]));  // as BiasAdd: one rounding
      if (relu) {  // as Relu; ReluGrad passes gradient where the output is > 0
        const __mmask16 alive = _mm512_cmp_ps_mask(best[f], _mm512_setzero_ps(), _CMP_GT_OQ);
        best[f] = _mm512_maskz_mov_ps(alive, best[f]);
        index[f] = _mm512_mask_mov_epi32(_mm512_set1_epi32(DEAD), alive, index[f]);
      }
      _mm512_store_ps(row[f], best[f]);
      const int64_t at = (((net * g.b + image) * g.o + f0 + f) * g.hp + p) * g.wp;
      _mm512_mask_cvtepi32_storeu_epi8(argmax + at, lanes, index[f]);
    }
    // Scalar stores: with a 14-lane scatter per filter (strided by K*O floats) the op took ~10 % longer.
    float* out = pooled + ((image * g.hp + p) * g.wp) * channels + net * g.o + f0;
    for (int q = 0; q < g.wp; ++q)
#pragma GCC unroll 3
      for (int f = 0; f < NF; ++f) out[q * channels + f] = row[f][q];
  }
}

// NF filters' gradients over one image, added to ``sums`` (filter f's 25 vectors of per-column
// partial sums at sums + f * 25 * 16), one kernel row at a time: 5 * NF accumulators in registers,
// each summing the output rows, then the halves, in order. Each input vector loaded serves all NF
// filters (one filter at a time, with a load per FMA, the op took ~12 % longer).
template <int NF>
inline void filter_grad_chunk(const float* buf, const float* dy /* [NF][MAX_OUT][MAX_OUT] */, const Geometry& g,
                              float* sums) {
#pragma GCC unroll 1
  for (int i = 0; i < KS; ++i) {
    __m512 acc[KS][NF];
#pragma GCC unroll 5
    for (int j = 0; j < KS; ++j)
#pragma GCC unroll 3
      for (int f = 0; f < NF; ++f) acc[j][f] = _mm512_load_ps(sums + (f * KS * KS + i * KS + j) * 16);
    for (int r = 0; r < g.ho; ++r) {
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        __m512 d[NF];
#pragma GCC unroll 3
        for (int f = 0; f < NF; ++f) d[f] = _mm512_load_ps(dy + (f * MAX_OUT + r) * MAX_OUT + half * 16);
        const float* row = buf + (r + i) * COLS + half * 16;
#pragma GCC unroll 5
        for (int j = 0; j < KS; ++j) {
          __m512 x = _mm512_loadu_ps(row + j);
          __asm__("" : "+v"(x));  // one load for all NF filters: else the compiler repeats it in each FMA
#pragma GCC unroll 3
          for (int f = 0; f < NF; ++f) acc[j][f] = _mm512_fmadd_ps(x, d[f], acc[j][f]);
        }
      }
    }
#pragma GCC unroll 5
    for (int j = 0; j < KS; ++j)
#pragma GCC unroll 3
      for (int f = 0; f < NF; ++f) _mm512_store_ps(sums + (f * KS * KS + i * KS + j) * 16, acc[j][f]);
  }
}

// Lanes 0..15 of (lo, hi) interleaved: columns 0..15 and 16..31 of a row whose even columns are
// lo and odd columns hi.
const __m512i INTERLEAVE_LO = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
const __m512i INTERLEAVE_HI = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

// The full-size gradient of one filter's convolution output ([ho][32], zero but at each block's argmax;
// zero throughout a block whose output ReLU zeroed), and the gradient of its bias added to bias_sum.
inline void unpool(const float* grad, const uint8_t* which, const Geometry& g, int64_t grad_base, float* dy,
                   __m512* bias_sum) {
  const int64_t channels = g.k * g.o;
  const __mmask16 lanes = lth_native::first_lanes(g.wp);
  const __m512i stride = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(static_cast<int>(channels)));
  const __m512 zero = _mm512_setzero_ps();
  for (int p = 0; p < g.hp; ++p) {
    const __m512 v = _mm512_mask_i32gather_ps(zero, lanes, stride, grad + grad_base + p * g.wp * channels, 4);
    const __m512i a = _mm512_maskz_cvtepu8_epi32(lanes, _mm_maskz_loadu_epi8(lanes, which + p * g.wp));
    const __mmask16 alive = _mm512_mask_cmpneq_epi32_mask(lanes, a, _mm512_set1_epi32(DEAD));
    *bias_sum = _mm512_mask_add_ps(*bias_sum, alive, *bias_sum, v);
    for (int r = 0; r < 2; ++r) {
      const __m512 even = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(2 * r)), v);
      const __m512 odd = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(2 * r + 1)), v);
      float* out = dy + (2 * p + r) * MAX_OUT;
      _mm512_store_ps(out, _mm512_permutex2var_ps(even, INTERLEAVE_LO, odd));
      _mm512_store_ps(out + 16, _mm512_permutex2var_ps(even, INTERLEAVE_HI, odd));
    }
  }
}

}  // namespace

REGISTER_OP("LthConvPool")
    .Input("x: float")
    .Input("kernel: float")
    .Input("bias: float")
    .Attr("padding: {'SAME', 'VALID'}")
    .Attr("relu: bool = false")
    .Output("pooled: float")
    .Output("argmax: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 5, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 5, &kernel));
      std::string padding;
      TF_RETURN_IF_ERROR(c->GetAttr("padding", &padding));
      const int64_t pad = padding == "SAME" ? 2 : 0;
      auto pooled_side = [&](DimensionHandle d) -> DimensionHandle {
        if (!c->ValueKnown(d)) return c->UnknownDim();
        return c->MakeDim((c->Value(d) + 2 * pad - (KS - 1)) / 2);
      };
      DimensionHandle channels;
      TF_RETURN_IF_ERROR(c->Multiply(c->Dim(kernel, 0), c->Dim(kernel, 4), &channels));
      const DimensionHandle hp = pooled_side(c->Dim(x, 2)), wp = pooled_side(c->Dim(x, 3));
      c->set_output(0, c->MakeShape({c->Dim(x, 1), hp, wp, channels}));
      c->set_output(1, c->MakeShape({c->Dim(kernel, 0), c->Dim(x, 1), c->Dim(kernel, 4), hp, wp}));
      return OkStatus();
    });

REGISTER_OP("LthConvPoolFilterGrad")
    .Input("x: float")
    .Input("argmax: uint8")
    .Input("grad: float")
    .Input("kernel_shape: int32")
    .Attr("padding: {'SAME', 'VALID'}")
    .Output("kernel_grad: float")
    .Output("bias_grad: float")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle shape;
      TF_RETURN_IF_ERROR(c->MakeShapeFromShapeTensor(3, &shape));
      c->set_output(0, shape);
      DimensionHandle channels = c->UnknownDim();
      if (c->RankKnown(shape)) TF_RETURN_IF_ERROR(c->Multiply(c->Dim(shape, 0), c->Dim(shape, 4), &channels));
      c->set_output(1, c->Vector(channels));
      return OkStatus();
    });

class ConvPoolOp : public OpKernel {
 public:
  explicit ConvPoolOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("padding", &padding_));
    OP_REQUIRES_OK(context, context->GetAttr("relu", &relu_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& kernel = context->input(1);
    const Tensor& bias = context->input(2);
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kernel.shape(), padding_, &g));
    OP_REQUIRES(context, bias.dims() == 1 && bias.dim_size(0) == g.k * g.o,
                errors::InvalidArgument("bias must be [K*O] = [", g.k * g.o, "], got ", bias.shape().DebugString()));
    const float* bs = bias.flat<float>().data();
    const bool relu = relu_;
    Tensor *pooled = nullptr, *argmax = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({g.b, g.hp, g.wp, g.k * g.o}), &pooled));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({g.k, g.b, g.o, g.hp, g.wp}), &argmax));
    const float* xs = x.flat<float>().data();
    const float* ks = kernel.flat<float>().data();
    float* out = pooled->flat<float>().data();
    uint8_t* which = argmax->flat<uint8_t>().data();
    // Per network, its weights as [chunk][5][5][NF] with filters in chunks of up to CHUNK.
    std::vector<float> weights(g.k * KS * KS * g.o);
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t f0 = 0; f0 < g.o; f0 += CHUNK) {
        const int64_t nf = std::min<int64_t>(CHUNK, g.o - f0);
        for (int64_t t = 0; t < KS * KS; ++t)
          for (int64_t f = 0; f < nf; ++f)
            weights[net * KS * KS * g.o + f0 * KS * KS + t * nf + f] = ks[(net * KS * KS + t) * g.o + f0 + f];
      }
    const Geometry geo = g;
    lth_native::parallel(context, g.k * g.b, 20000 * g.o, [&, geo](int64_t start, int64_t end) {
      alignas(64) float buf[ROWS * COLS];
      for (int64_t unit = start; unit < end; ++unit) {
        const int64_t net = unit / geo.b, image = unit % geo.b;
        fill_padded(xs, geo, net, image, buf);
        for (int64_t f0 = 0; f0 < geo.o; f0 += CHUNK) {
          const int nf = static_cast<int>(std::min<int64_t>(CHUNK, geo.o - f0));
          const float* w = weights.data() + net * KS * KS * geo.o + f0 * KS * KS;
          switch (nf) {
            case 3: forward_chunk<3>(buf, w, geo, net, image, f0, bs, relu, out, which); break;
            case 2: forward_chunk<2>(buf, w, geo, net, image, f0, bs, relu, out, which); break;
            default: forward_chunk<1>(buf, w, geo, net, image, f0, bs, relu, out, which); break;
          }
        }
      }
    });
  }

 private:
  std::string padding_;
  bool relu_;
};

class ConvPoolFilterGradOp : public OpKernel {
 public:
  explicit ConvPoolFilterGradOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("padding", &padding_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& argmax = context->input(1);
    const Tensor& grad = context->input(2);
    const Tensor& kernel_shape = context->input(3);
    OP_REQUIRES(context, kernel_shape.dims() == 1 && kernel_shape.NumElements() == 5,
                errors::InvalidArgument("kernel_shape must hold 5 sizes"));
    TensorShape kshape;
    OP_REQUIRES_OK(context, TensorShapeUtils::MakeShape(kernel_shape.vec<int32>(), &kshape));
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kshape, padding_, &g));
    const TensorShape pooled_shape({g.b, g.hp, g.wp, g.k * g.o}), argmax_shape({g.k, g.b, g.o, g.hp, g.wp});
    OP_REQUIRES(context, grad.shape() == pooled_shape && argmax.shape() == argmax_shape,
                errors::InvalidArgument("grad must be ", pooled_shape.DebugString(), " and argmax ",
                                        argmax_shape.DebugString()));
    Tensor *out = nullptr, *bias_out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, kshape, &out));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({g.k * g.o}), &bias_out));
    const float* xs = x.flat<float>().data();
    const uint8_t* which = argmax.flat<uint8_t>().data();
    const float* dp = grad.flat<float>().data();
    // Each chunk of images sums into its own 25 vectors per (network, filter); chunks are added in order.
    const int chunks = lth_native::chunks_for(context, g.b);
    const int64_t per_chunk = (g.b + chunks - 1) / chunks;
    const int64_t filters = g.k * g.o;
    lth_native::AlignedFloats partial(static_cast<size_t>(chunks) * filters * KS * KS * 16);
    lth_native::AlignedFloats bias_partial(static_cast<size_t>(chunks) * filters * 16);
    float* partial_base = partial.get();
    float* bias_base = bias_partial.get();
    const Geometry geo = g;
    const int64_t channels = filters;
    lth_native::parallel(context, chunks, 40000 * g.o * per_chunk * g.k, [&, geo](int64_t start, int64_t end) {
      alignas(64) float buf[ROWS * COLS];
      alignas(64) float dy[CHUNK * MAX_OUT * MAX_OUT];
      for (int64_t chunk = start; chunk < end; ++chunk) {
        float* sums = partial_base + chunk * filters * KS * KS * 16;
        const int64_t first = chunk * per_chunk, last = std::min(geo.b, first + per_chunk);
        for (int64_t net = 0; net < geo.k; ++net) {
          for (int64_t image = first; image < last; ++image) {
            fill_padded(xs, geo, net, image, buf);
            for (int64_t f0 = 0; f0 < geo.o; f0 += CHUNK) {
              const int nf = static_cast<int>(std::min<int64_t>(CHUNK, geo.o - f0));
              for (int f = 0; f < nf; ++f) {
                const int64_t channel = net * geo.o + f0 + f;
                __m512 bias_sum = _mm512_load_ps(bias_base + (chunk * filters + channel) * 16);
                unpool(dp, which + ((net * geo.b + image) * geo.o + f0 + f) * geo.hp * geo.wp, geo,
                       image * geo.hp * geo.wp * channels + channel, dy + f * MAX_OUT * MAX_OUT, &bias_sum);
                _mm512_store_ps(bias_base + (chunk * filters + channel) * 16, bias_sum);
              }
              float* chunk_sums = sums + (net * geo.o + f0) * KS * KS * 16;
              switch (nf) {
                case 3: filter_grad_chunk<3>(buf, dy, geo, chunk_sums); break;
                case 2: filter_grad_chunk<2>(buf, dy, geo, chunk_sums); break;
                default: filter_grad_chunk<1>(buf, dy, geo, chunk_sums); break;
              }
            }
          }
        }
      }
    });
    float* result = out->flat<float>().data();  // [K, 5, 5, 1, O]
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t f = 0; f < g.o; ++f)
        for (int t = 0; t < KS * KS; ++t) {
          __m512 total = _mm512_setzero_ps();
          for (int chunk = 0; chunk < chunks; ++chunk)
            total = _mm512_add_ps(total, _mm512_load_ps(partial_base + ((chunk * filters + net * g.o + f) * KS * KS + t) * 16));
          result[(net * KS * KS + t) * g.o + f] = _mm512_reduce_add_ps(total);
        }
    float* bias_result = bias_out->flat<float>().data();  // [K*O]
    for (int64_t channel = 0; channel < filters; ++channel) {
      __m512 total = _mm512_setzero_ps();
      for (int chunk = 0; chunk < chunks; ++chunk)
        total = _mm512_add_ps(total, _mm512_load_ps(bias_base + (chunk * filters + channel) * 16));
      bias_result[channel] = _mm512_reduce_add_ps(total);
    }
  }

 private:
  std::string padding_;
};

REGISTER_KERNEL_BUILDER(Name("LthConvPool").Device(DEVICE_CPU), ConvPoolOp);
REGISTER_KERNEL_BUILDER(Name("LthConvPoolFilterGrad").Device(DEVICE_CPU), ConvPoolFilterGradOp);
