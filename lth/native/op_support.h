// What the native ops share: running work on TensorFlow's CPU threads, and AVX-512 lane masks.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "tensorflow/core/framework/op_kernel.h"

namespace lth_native {

// Run fn(start, end) over [0, units) on the op's CPU worker threads (inline with one thread).
template <typename Fn>
void parallel(tensorflow::OpKernelContext* context, int64_t units, int64_t cost_per_unit, Fn fn) {
  auto* threads = context->device()->tensorflow_cpu_worker_threads();
  threads->workers->ParallelFor(units, cost_per_unit, fn);
}

// How many chunks to split `work` items into: one per thread, at most one per item. A gradient
// summed over images sums each chunk on its own, then the chunks in order: the same result
// however the threads interleave.
inline int chunks_for(tensorflow::OpKernelContext* context, int64_t work) {
  const int threads = context->device()->tensorflow_cpu_worker_threads()->num_threads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, work)));
}

// The first n lanes of a 16-lane vector.
inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// The first of four candidates' maxima, lane by lane (row-major order of a 2x2 block): the
// maximum, and which candidate (0..3) holds it.
inline __m512 first_max(__m512 c0, __m512 c1, __m512 c2, __m512 c3, __m512i* index) {
  __m512 m = c0;
  __m512i idx = _mm512_setzero_si512();
  __mmask16 gt = _mm512_cmp_ps_mask(c1, m, _CMP_GT_OQ);
  m = _mm512_mask_mov_ps(m, gt, c1);
  idx = _mm512_mask_mov_epi32(idx, gt, _mm512_set1_epi32(1));
  gt = _mm512_cmp_ps_mask(c2, m, _CMP_GT_OQ);
  m = _mm512_mask_mov_ps(m, gt, c2);
  idx = _mm512_mask_mov_epi32(idx, gt, _mm512_set1_epi32(2));
  gt = _mm512_cmp_ps_mask(c3, m, _CMP_GT_OQ);
  m = _mm512_mask_mov_ps(m, gt, c3);
  idx = _mm512_mask_mov_epi32(idx, gt, _mm512_set1_epi32(3));
  *index = idx;
  return m;
}

// A 64-byte aligned float buffer of n values, zeroed.
class AlignedFloats {
 public:
  explicit AlignedFloats(size_t n) : data_(static_cast<float*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64))) {
    std::fill(data_, data_ + n, 0.0f);
  }
  ~AlignedFloats() { std::free(data_); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  float* get() const { return data_; }

 private:
  float* data_;
};

}  // namespace lth_native
