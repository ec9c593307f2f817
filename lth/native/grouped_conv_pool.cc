// A later convolution of K stacked networks fused with the 2x2 max-pool after it (LeNet-5's second).
//
// LthGroupedConvPool:     x [B, H, W, K*C] (network k's channels at k*C ... k*C + C - 1), kernel
//                         [K, 5, 5, C, O], bias [K*O] -> pooled [B, H'/2, W'/2, K*O] (VALID padding:
//                         H' = H - 4, W' = W - 4; plus the bias, then ReLU if ``relu``), argmax
//                         [K, B, H'/2, W'/2, O] (uint8): which of each block's four values won
//                         (row-major, the first of equal maxima), or DEAD where ReLU zeroed the output.
// LthGroupedConvPoolGrad: x, kernel, argmax, d pooled -> d x, d kernel, d bias.
// With ``stacked_output`` (both ops) pooled is [K, B, H'/2, W'/2, O] instead: network by network, as
// the dense layers after a Flatten take it, without a transpose each way.
//
// Limits: C <= 6 (six columns of C channels fit three vectors), O <= 16 (one vector), W' <= 12,
// H' and W' even. The forward pass keeps a row pair of outputs (all O channels of each pixel in
// one vector) in registers and pools it there. The input gradient uses the pool's sparsity: of
// each block's four outputs only the winner has a gradient, so each pooled value adds one
// scaled 5x5xC kernel slice into the input gradient (TensorFlow's kernels add all four, three of
// them zero, at ~33 GFLOP/s on this CPU: before this op, the slowest of LeNet-5's training step).
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
constexpr int DEAD = 4;     // argmax of an output that ReLU zeroed: no gradient flows through it
constexpr int PATCH = 48;   // floats of a row of a 2x2 block's receptive field (6 pixels * C <= 36), three vectors

struct Geometry {
  int64_t k, b, h, w, c, o, ho, wo, hp, wp;
  int64_t image_stride, net_stride, pixel_stride;  // pooled's layout: where (image, net, pixel) starts
};

// pooled [B, hp, wp, K*O] (grouped), or [K, B, hp, wp, O] (stacked).
void set_pooled_layout(bool stacked, Geometry* g) {
  g->pixel_stride = stacked ? g->o : g->k * g->o;
  g->image_stride = g->hp * g->wp * g->pixel_stride;
  g->net_stride = stacked ? g->b * g->image_stride : g->o;
}

// Where pooled pixel ``pixel`` (p * wp + q) of image ``index`` of network ``net`` starts.
inline int64_t pooled_offset(const Geometry& g, int64_t net, int64_t index, int64_t pixel) {
  return index * g.image_stride + net * g.net_stride + pixel * g.pixel_stride;
}

TensorShape pooled_shape(const Geometry& g, bool stacked) {
  return stacked ? TensorShape({g.k, g.b, g.hp, g.wp, g.o}) : TensorShape({g.b, g.hp, g.wp, g.k * g.o});
}

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

// Output rows 2p and 2p+1 (WO pixels each, all channels per vector), max-pooled and stored. With WO
// and C known at compile time every input value is a broadcast at a constant offset from one
// pointer (a runtime C left the compiler 20 offsets to juggle in too few registers). Input row
// 2p + r feeds output row 2p through kernel row r and row 2p + 1 through kernel row r - 1, so the
// middle rows' values are broadcast once for both (12 loads per 20 FMAs instead of 21; measured
// 0-5 % faster, within the noise); each output still sums kernel rows, columns, channels in order.
template <int WO, int C>
void forward_rows(const float* image, const float* w, const __m512 bias, bool relu, const Geometry& g, int64_t net,
                  int64_t index, int p, float* pooled, uint8_t* argmax) {
  __m512 top[WO], bottom[WO];
#pragma GCC unroll 12
  for (int x = 0; x < WO; ++x) top[x] = bottom[x] = _mm512_setzero_ps();
  const int64_t row = g.w * C;
  // Input row 2p + r, kernel row i, into the outputs of one row (the first and last input rows).
  auto one_row = [&](int r, int i, __m512 (&out)[WO]) {
    for (int j = 0; j < KS; ++j)
#pragma GCC unroll 1
      for (int c = 0; c < C; ++c) {
        const __m512 weights = _mm512_load_ps(w + ((i * KS + j) * C + c) * 16);
        const float* a = image + (2 * p + r) * row + j * C + c;
#pragma GCC unroll 12
        for (int x = 0; x < WO; ++x) out[x] = _mm512_fmadd_ps(_mm512_set1_ps(a[x * C]), weights, out[x]);
      }
  };
  one_row(0, 0, top);
  for (int r = 1; r < KS; ++r)
    for (int j = 0; j < KS; ++j)
      // kept a loop: unrolled over C this op ran ~35 % slower here
#pragma GCC unroll 1
      for (int c = 0; c < C; ++c) {
        const __m512 upper = _mm512_load_ps(w + ((r * KS + j) * C + c) * 16);
        const __m512 lower = _mm512_load_ps(w + (((r - 1) * KS + j) * C + c) * 16);
        const float* a = image + (2 * p + r) * row + j * C + c;
#pragma GCC unroll 12
        for (int x = 0; x < WO; ++x) {
          const __m512 value = _mm512_set1_ps(a[x * C]);
          top[x] = _mm512_fmadd_ps(value, upper, top[x]);
          bottom[x] = _mm512_fmadd_ps(value, lower, bottom[x]);
        }
      }
  one_row(KS, KS - 1, bottom);
  const __mmask16 lanes = first_lanes(g.o);
#pragma GCC unroll 6
  for (int q = 0; q < WO / 2; ++q) {
    __m512i which;
    __m512 best = _mm512_add_ps(
        lth_native::first_max(top[2 * q], top[2 * q + 1], bottom[2 * q], bottom[2 * q + 1], &which), bias);
    if (relu) {
      const __mmask16 alive = _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_GT_OQ);
      best = _mm512_maskz_mov_ps(alive, best);
      which = _mm512_mask_mov_epi32(_mm512_set1_epi32(DEAD), alive, which);
    }
    _mm512_mask_storeu_ps(pooled + pooled_offset(g, net, index, p * g.wp + q), lanes, best);
    _mm512_mask_cvtepi32_storeu_epi8(argmax + (((net * g.b + index) * g.hp + p) * g.wp + q) * g.o, lanes, which);
  }
}

using ForwardRows = void (*)(const float*, const float*, __m512, bool, const Geometry&, int64_t, int64_t, int, float*,
                             uint8_t*);

template <int C>
ForwardRows forward_rows_for_width(int64_t wo) {
  switch (wo) {
    case 2: return forward_rows<2, C>;
    case 4: return forward_rows<4, C>;
    case 6: return forward_rows<6, C>;
    case 8: return forward_rows<8, C>;
    case 10: return forward_rows<10, C>;
    default: return forward_rows<12, C>;
  }
}

ForwardRows forward_rows_for(int64_t wo, int64_t c) {
  switch (c) {
    case 1: return forward_rows_for_width<1>(wo);
    case 2: return forward_rows_for_width<2>(wo);
    case 3: return forward_rows_for_width<3>(wo);
    case 4: return forward_rows_for_width<4>(wo);
    case 5: return forward_rows_for_width<5>(wo);
    default: return forward_rows_for_width<6>(wo);
  }
}

// The gradients of one image of one network, from its pooled gradient. Of each 2x2 block's four
// outputs only the winner (per channel o) has a gradient, g[o].
//  * Kernel gradient (``kernel_grad``): kernel row i of channel o gains g[o] times the input row
//    segment under it at the winner's place (5*C contiguous floats of the image, two vectors). One
//    channel at a time, over all blocks in order, with its 5 x 2 sums in registers (kept in memory
//    across blocks, their loads and stores, not the FMAs, bounded this loop).
//  * Input gradient (``input_grad``): the block's 6x6xC receptive field (``patch``: 6 rows of 6*C
//    floats, three vectors each, in registers) gains g[o] times channel o's kernel rows, placed at
//    column offset dc (``slices`` [O][2][5][PATCH]) and row offset dr; the op visits each block once
//    per winner position a = (row dr, column dc) and each channel o that won there, and adds the
//    patch to the image's gradient once per block. Grouping by winner position keeps the loops free
//    of data-dependent branches but the loop over each position's channels.
// Work per block: 10 + 15 FMAs per channel, a quarter of the dense computation's (where three of
// four outputs have zero gradient).
// C_ and W_ (0: g.c and g.w at run time) fixed at compile time make every load's offset a constant.
// Both of a kernel row's vectors are loaded whole: lanes past 5*C pick up the next pixels' values
// (inside the image buffer and its padding), and the sums' lanes past 5*C are never read.
template <int C_, int W_>
void kernel_grad(const float* image, const float* grad, const uint8_t* argmax, const Geometry& g, int64_t net,
                 int64_t index, float* kernel_sums) {
  const int64_t c = C_ ? C_ : g.c, w = W_ ? W_ : g.w;
  const float* values = grad + pooled_offset(g, net, index, 0);
  const uint8_t* which = argmax + (net * g.b + index) * g.hp * g.wp * g.o;
  for (int64_t o = 0; o < g.o; ++o) {
    float* sums = kernel_sums + o * KS * 32;
    __m512 acc[KS][2];
#pragma GCC unroll 5
    for (int i = 0; i < KS; ++i)
      for (int v = 0; v < 2; ++v) acc[i][v] = _mm512_load_ps(sums + i * 32 + v * 16);
    for (int64_t p = 0; p < g.hp; ++p)
      for (int64_t q = 0; q < g.wp; ++q) {
        const int64_t block = p * g.wp + q;
        const int a = which[block * g.o + o];
        const bool dead = a == DEAD;  // adds 0 times the block's first value: no change, and no branch
        const int dr = dead ? 0 : a >> 1, dc = dead ? 0 : a & 1;
        const __m512 s = _mm512_set1_ps(dead ? 0.0f : values[block * g.pixel_stride + o]);
        const float* segment = image + ((2 * p + dr) * w + 2 * q + dc) * c;
#pragma GCC unroll 5
        for (int i = 0; i < KS; ++i)
#pragma GCC unroll 2
          for (int v = 0; v < 2; ++v)
            acc[i][v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(segment + i * w * c + v * 16), acc[i][v]);
      }
#pragma GCC unroll 5
    for (int i = 0; i < KS; ++i)
      for (int v = 0; v < 2; ++v) _mm512_store_ps(sums + i * 32 + v * 16, acc[i][v]);
  }
}

template <int A>
inline void add_winners(const float* values, __mmask16 won, const float* slices, const bool* needed,
                        __m512 (&patch)[6][3]) {
  constexpr int dr = A >> 1, dc = A & 1;
  unsigned bits = won;
  while (bits) {
    const int o = __builtin_ctz(bits);
    bits &= bits - 1;
    const __m512 s = _mm512_set1_ps(values[o]);
    const float* slice = slices + (o * 2 + dc) * KS * PATCH;
#pragma GCC unroll 5
    for (int i = 0; i < KS; ++i)
#pragma GCC unroll 3
      for (int v = 0; v < 3; ++v)
        if (needed[v]) patch[i + dr][v] = _mm512_fmadd_ps(s, _mm512_load_ps(slice + i * PATCH + v * 16), patch[i + dr][v]);
  }
}

inline void input_grad(const float* grad, const uint8_t* argmax, const float* slices, const Geometry& g, int64_t net,
                       int64_t index, float* bias_sum, float* dx) {
  const int64_t row = KS * g.c, span = 6 * g.c;
  const __mmask16 patch_lanes[3] = {first_lanes(span), first_lanes(span > 16 ? span - 16 : 0),
                                    first_lanes(span > 32 ? span - 32 : 0)};
  // Which of a patch row's three vectors a kernel row at column offset dc touches.
  const bool needed[2][3] = {{true, row > 16, row > 32}, {true, g.c + row > 16, g.c + row > 32}};
  const __mmask16 channels = first_lanes(g.o);
  for (int64_t p = 0; p < g.hp; ++p)
    for (int64_t q = 0; q < g.wp; ++q) {
      const float* values = grad + pooled_offset(g, net, index, p * g.wp + q);
      const __m512i winners = _mm512_cvtepu8_epi32(
          _mm_maskz_loadu_epi8(channels, argmax + (((net * g.b + index) * g.hp + p) * g.wp + q) * g.o));
      __m512 patch[6][3];
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r)
        for (int v = 0; v < 3; ++v) patch[r][v] = _mm512_setzero_ps();
      auto won = [&](int a) { return _mm512_cmpeq_epi32_mask(winners, _mm512_set1_epi32(a)) & channels; };
      const __mmask16 alive = _mm512_mask_cmpneq_epi32_mask(channels, winners, _mm512_set1_epi32(DEAD));
      _mm512_store_ps(bias_sum, _mm512_mask_add_ps(_mm512_load_ps(bias_sum), alive, _mm512_load_ps(bias_sum),
                                                   _mm512_maskz_loadu_ps(channels, values)));
      add_winners<0>(values, won(0), slices, needed[0], patch);
      add_winners<1>(values, won(1), slices, needed[1], patch);
      add_winners<2>(values, won(2), slices, needed[0], patch);
      add_winners<3>(values, won(3), slices, needed[1], patch);
#pragma GCC unroll 6
      for (int r = 0; r < 6; ++r) {
        float* d = dx + ((2 * p + r) * g.w + 2 * q) * g.c;
#pragma GCC unroll 3
        for (int v = 0; v < 3; ++v)
          if (patch_lanes[v])
            _mm512_mask_storeu_ps(d + v * 16, patch_lanes[v],
                                  _mm512_add_ps(patch[r][v], _mm512_maskz_loadu_ps(patch_lanes[v], d + v * 16)));
      }
    }
}

}  // namespace

REGISTER_OP("LthGroupedConvPool")
    .Input("x: float")
    .Input("kernel: float")
    .Input("bias: float")
    .Attr("relu: bool = false")
    .Attr("stacked_output: bool = false")
    .Output("pooled: float")
    .Output("argmax: uint8")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x, kernel;
      bool stacked;
      TF_RETURN_IF_ERROR(c->GetAttr("stacked_output", &stacked));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 5, &kernel));
      auto pooled_side = [&](DimensionHandle d) -> DimensionHandle {
        return c->ValueKnown(d) ? c->MakeDim((c->Value(d) - (KS - 1)) / 2) : c->UnknownDim();
      };
      const DimensionHandle hp = pooled_side(c->Dim(x, 1)), wp = pooled_side(c->Dim(x, 2));
      if (stacked) {
        c->set_output(0, c->MakeShape({c->Dim(kernel, 0), c->Dim(x, 0), hp, wp, c->Dim(kernel, 4)}));
      } else {
        DimensionHandle channels;
        TF_RETURN_IF_ERROR(c->Multiply(c->Dim(kernel, 0), c->Dim(kernel, 4), &channels));
        c->set_output(0, c->MakeShape({c->Dim(x, 0), hp, wp, channels}));
      }
      c->set_output(1, c->MakeShape({c->Dim(kernel, 0), c->Dim(x, 0), hp, wp, c->Dim(kernel, 4)}));
      return OkStatus();
    });

REGISTER_OP("LthGroupedConvPoolGrad")
    .Input("x: float")
    .Input("kernel: float")
    .Input("argmax: uint8")
    .Input("grad: float")
    .Attr("stacked_output: bool = false")
    .Output("x_grad: float")
    .Output("kernel_grad: float")
    .Output("bias_grad: float")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      DimensionHandle channels = c->UnknownDim();
      if (c->RankKnown(c->input(1)))
        TF_RETURN_IF_ERROR(c->Multiply(c->Dim(c->input(1), 0), c->Dim(c->input(1), 4), &channels));
      c->set_output(2, c->Vector(channels));
      return OkStatus();
    });

class GroupedConvPoolOp : public OpKernel {
 public:
  explicit GroupedConvPoolOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("relu", &relu_));
    OP_REQUIRES_OK(context, context->GetAttr("stacked_output", &stacked_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& kernel = context->input(1);
    const Tensor& bias = context->input(2);
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kernel.shape(), &g));
    set_pooled_layout(stacked_, &g);
    OP_REQUIRES(context, bias.dims() == 1 && bias.dim_size(0) == g.k * g.o,
                errors::InvalidArgument("bias must be [K*O] = [", g.k * g.o, "], got ", bias.shape().DebugString()));
    const float* bs = bias.flat<float>().data();
    const bool relu = relu_;
    Tensor *pooled = nullptr, *argmax = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, pooled_shape(g, stacked_), &pooled));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({g.k, g.b, g.hp, g.wp, g.o}), &argmax));
    AlignedFloats weights(g.k * KS * KS * g.c * 16);
    weight_vectors(kernel.flat<float>().data(), g, weights.get());
    const float* xs = x.flat<float>().data();
    float* out = pooled->flat<float>().data();
    uint8_t* which = argmax->flat<uint8_t>().data();
    const ForwardRows rows = forward_rows_for(g.wo, g.c);
    const Geometry geo = g;
    lth_native::parallel(context, g.k * g.b, 60000 * g.o, [&, geo](int64_t start, int64_t end) {
      AlignedFloats image(geo.h * geo.w * geo.c + 16);
      for (int64_t unit = start; unit < end; ++unit) {
        const int64_t net = unit / geo.b, index = unit % geo.b;
        gather_image(xs, geo, net, index, image.get());
        const float* w = weights.get() + net * KS * KS * geo.c * 16;
        const __m512 b = _mm512_maskz_loadu_ps(first_lanes(geo.o), bs + net * geo.o);
        for (int p = 0; p < geo.hp; ++p) rows(image.get(), w, b, relu, geo, net, index, p, out, which);
      }
    });
  }

 private:
  bool relu_, stacked_;
};

class GroupedConvPoolGradOp : public OpKernel {
 public:
  explicit GroupedConvPoolGradOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("stacked_output", &stacked_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& kernel = context->input(1);
    const Tensor& argmax = context->input(2);
    const Tensor& grad = context->input(3);
    Geometry g;
    OP_REQUIRES_OK(context, geometry(x.shape(), kernel.shape(), &g));
    set_pooled_layout(stacked_, &g);
    const TensorShape grad_shape = pooled_shape(g, stacked_), argmax_shape({g.k, g.b, g.hp, g.wp, g.o});
    OP_REQUIRES(context, grad.shape() == grad_shape && argmax.shape() == argmax_shape,
                errors::InvalidArgument("grad must be ", grad_shape.DebugString(), " and argmax ",
                                        argmax_shape.DebugString()));
    Tensor *x_grad = nullptr, *kernel_grad_out = nullptr, *bias_grad_out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &x_grad));
    OP_REQUIRES_OK(context, context->allocate_output(1, kernel.shape(), &kernel_grad_out));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({g.k * g.o}), &bias_grad_out));
    // Kernel slices for the input gradient (see input_grad): [K][O][column offset][i][PATCH].
    const float* ks = kernel.flat<float>().data();
    const int64_t per_net_slices = g.o * 2 * KS * PATCH;
    AlignedFloats slices(g.k * per_net_slices);
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t o = 0; o < g.o; ++o)
        for (int shift = 0; shift < 2; ++shift)
          for (int i = 0; i < KS; ++i)
            for (int j = 0; j < KS; ++j)
              for (int64_t c = 0; c < g.c; ++c)
                slices.get()[net * per_net_slices + ((o * 2 + shift) * KS + i) * PATCH + (shift + j) * g.c + c] =
                    ks[(((net * KS + i) * KS + j) * g.c + c) * g.o + o];
    const float* xs = x.flat<float>().data();
    const float* dp = grad.flat<float>().data();
    const uint8_t* which = argmax.flat<uint8_t>().data();
    float* dx = x_grad->flat<float>().data();
    const auto kernel_grad_fn = g.c == 6 && g.w == 14 ? kernel_grad<6, 14> : kernel_grad<0, 0>;  // LeNet-5's
    const int chunks = lth_native::chunks_for(context, g.b);
    const int64_t per_chunk = (g.b + chunks - 1) / chunks;
    const int64_t per_net = g.o * KS * 32;  // kernel gradient sums of one network: [O][5][32]
    AlignedFloats partial(static_cast<size_t>(chunks) * g.k * per_net);
    AlignedFloats bias_partial(static_cast<size_t>(chunks) * g.k * 16);  // [chunk][net][16 channels]
    const Geometry geo = g;
    lth_native::parallel(context, chunks, 100000 * g.o * per_chunk * g.k, [&, geo](int64_t start, int64_t end) {
      AlignedFloats image(geo.h * geo.w * geo.c + 48), image_grad(geo.h * geo.w * geo.c + 48);
      const int64_t channels = geo.k * geo.c;
      const __mmask16 lanes = first_lanes(geo.c);
      for (int64_t chunk = start; chunk < end; ++chunk) {
        const int64_t first = chunk * per_chunk, last = std::min(geo.b, first + per_chunk);
        for (int64_t net = 0; net < geo.k; ++net)
          for (int64_t index = first; index < last; ++index) {
            gather_image(xs, geo, net, index, image.get());
            std::memset(image_grad.get(), 0, sizeof(float) * geo.h * geo.w * geo.c);
            kernel_grad_fn(image.get(), dp, which, geo, net, index, partial.get() + (chunk * geo.k + net) * per_net);
            input_grad(dp, which, slices.get() + net * per_net_slices, geo, net, index,
                       bias_partial.get() + (chunk * geo.k + net) * 16, image_grad.get());
            float* dst = dx + index * geo.h * geo.w * channels + net * geo.c;
            for (int64_t pixel = 0; pixel < geo.h * geo.w; ++pixel)
              _mm512_mask_storeu_ps(dst + pixel * channels, lanes,
                                    _mm512_maskz_loadu_ps(lanes, image_grad.get() + pixel * geo.c));
          }
      }
    });
    float* result = kernel_grad_out->flat<float>().data();  // [K, 5, 5, C, O]
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t o = 0; o < g.o; ++o)
        for (int i = 0; i < KS; ++i)
          for (int64_t t = 0; t < KS * g.c; ++t) {  // t = j * C + c
            float total = 0.0f;
            for (int chunk = 0; chunk < chunks; ++chunk)
              total += partial.get()[(chunk * g.k + net) * per_net + (o * KS + i) * 32 + t];
            result[((net * KS + i) * KS * g.c + t) * g.o + o] = total;
          }
    float* bias_result = bias_grad_out->flat<float>().data();  // [K*O]
    for (int64_t net = 0; net < g.k; ++net)
      for (int64_t o = 0; o < g.o; ++o) {
        float total = 0.0f;
        for (int chunk = 0; chunk < chunks; ++chunk) total += bias_partial.get()[(chunk * g.k + net) * 16 + o];
        bias_result[net * g.o + o] = total;
      }
  }

 private:
  bool stacked_;
};

REGISTER_KERNEL_BUILDER(Name("LthGroupedConvPool").Device(DEVICE_CPU), GroupedConvPoolOp);
REGISTER_KERNEL_BUILDER(Name("LthGroupedConvPoolGrad").Device(DEVICE_CPU), GroupedConvPoolGradOp);
