// Copyright (c) mmhornet contributors. All rights reserved.
//
// Weight gradient of a 7x7 depth-wise convolution (stride 1, padding 3) on
// CPU, for float32 tensors in channels-last memory:
//
//   grad_weight[c, i, j] = sum_{n, h, w} grad_out[n, c, h, w]
//                                        * input[n, c, h + i - 3, w + j - 3]
//
// oneDNN computes this gradient at a few GFLOP/s on the shapes of HorNet
// (a fifth of a training step). Here 16 channels are one vector lane block;
// for each pair of an output row and an input row, the 7 horizontal taps are
// accumulated in registers over the row and then added to float64 sums, so
// the result is at least as accurate as oneDNN's.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cstdint>

namespace mmhornet {
namespace {

constexpr int kKernel = 7;
constexpr int kPad = (kKernel - 1) / 2;
constexpr int64_t kLanes = 16;

struct Shape {
  int64_t n, h, w, c;
};

// Adds the gradient of channels [c0, c0 + Lanes) to acc[i][j][lane].
template <int64_t Lanes>
__attribute__((always_inline)) inline void accumulate_block(
    const float* __restrict input, const float* __restrict grad,
    const Shape& s, int64_t c0, double* __restrict acc) {
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t h = 0; h < s.h; ++h) {
      const float* grad_row = grad + ((n * s.h + h) * s.w) * s.c + c0;
      for (int i = 0; i < kKernel; ++i) {
        const int64_t h_in = h + i - kPad;
        if (h_in < 0 || h_in >= s.h) continue;
        const float* input_row = input + ((n * s.h + h_in) * s.w) * s.c + c0;
        float row_sum[kKernel][Lanes] = {};
        for (int64_t w = 0; w < s.w; ++w) {
          const float* g = grad_row + w * s.c;
          const int j_begin = static_cast<int>(std::max<int64_t>(0, kPad - w));
          const int j_end =
              static_cast<int>(std::min<int64_t>(kKernel, s.w + kPad - w));
          if (j_begin == 0 && j_end == kKernel) {
            for (int j = 0; j < kKernel; ++j) {
              const float* x = input_row + (w + j - kPad) * s.c;
#pragma omp simd
              for (int64_t l = 0; l < Lanes; ++l) row_sum[j][l] += g[l] * x[l];
            }
          } else {
            for (int j = j_begin; j < j_end; ++j) {
              const float* x = input_row + (w + j - kPad) * s.c;
#pragma omp simd
              for (int64_t l = 0; l < Lanes; ++l) row_sum[j][l] += g[l] * x[l];
            }
          }
        }
        double* acc_i = acc + i * kKernel * Lanes;
        for (int j = 0; j < kKernel; ++j)
          for (int64_t l = 0; l < Lanes; ++l)
            acc_i[j * Lanes + l] += row_sum[j][l];
      }
    }
  }
}

// Channel blocks [b0, b1) of the gradient, written to out (C, 7, 7).
__attribute__((always_inline)) inline void weight_grad_blocks(
    const float* input, const float* grad, const Shape& s, int64_t b0,
    int64_t b1, float* out) {
  constexpr int kTaps = kKernel * kKernel;
  double acc[kTaps * kLanes];
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t c0 = b * kLanes;
    const int64_t width = std::min(kLanes, s.c - c0);
    if (width == kLanes) {
      std::fill(acc, acc + kTaps * kLanes, 0.0);
      accumulate_block<kLanes>(input, grad, s, c0, acc);
      for (int64_t l = 0; l < kLanes; ++l)
        for (int t = 0; t < kTaps; ++t)
          out[(c0 + l) * kTaps + t] = static_cast<float>(acc[t * kLanes + l]);
    } else {  // the last channels when C is not a multiple of 16
      for (int64_t c = c0; c < s.c; ++c) {
        std::fill(acc, acc + kTaps, 0.0);
        accumulate_block<1>(input, grad, s, c, acc);
        for (int t = 0; t < kTaps; ++t)
          out[c * kTaps + t] = static_cast<float>(acc[t]);
      }
    }
  }
}

void weight_grad_blocks_default(const float* input, const float* grad,
                                const Shape& s, int64_t b0, int64_t b1,
                                float* out) {
  weight_grad_blocks(input, grad, s, b0, b1, out);
}

// On x86, the same code is also compiled for AVX2 and AVX-512, chosen at
// run time; other architectures build the portable version only.
#if defined(__x86_64__) || defined(__i386__)
#define MMHORNET_X86 1
__attribute__((target("avx512f,avx512vl,fma,prefer-vector-width=512"))) void
weight_grad_blocks_avx512(const float* input, const float* grad,
                          const Shape& s, int64_t b0, int64_t b1, float* out) {
  weight_grad_blocks(input, grad, s, b0, b1, out);
}

__attribute__((target("avx2,fma"))) void weight_grad_blocks_avx2(
    const float* input, const float* grad, const Shape& s, int64_t b0,
    int64_t b1, float* out) {
  weight_grad_blocks(input, grad, s, b0, b1, out);
}
#endif

}  // namespace

using BlocksFn = void (*)(const float*, const float*, const Shape&, int64_t,
                         int64_t, float*);

// The kernel for `isa`: "auto" (the best this CPU runs), "avx512", "avx2"
// or "default" (the portable one).
BlocksFn select_kernel(c10::string_view isa) {
  TORCH_CHECK(isa == "auto" || isa == "avx512" || isa == "avx2" ||
                  isa == "default",
              "depthwise_conv7x7_weight_grad: isa must be 'auto', 'avx512', "
              "'avx2' or 'default', got '", isa, "'");
#ifdef MMHORNET_X86
  const bool avx512 =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  const bool avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "auto")
    return avx512 ? &weight_grad_blocks_avx512
                  : avx2 ? &weight_grad_blocks_avx2
                         : &weight_grad_blocks_default;
  if (isa == "avx512") {
    TORCH_CHECK(avx512, "depthwise_conv7x7_weight_grad: this CPU lacks "
                "AVX-512F/VL");
    return &weight_grad_blocks_avx512;
  }
  if (isa == "avx2") {
    TORCH_CHECK(avx2, "depthwise_conv7x7_weight_grad: this CPU lacks "
                "AVX2/FMA");
    return &weight_grad_blocks_avx2;
  }
#else
  TORCH_CHECK(isa == "auto" || isa == "default",
              "depthwise_conv7x7_weight_grad: this CPU lacks ", isa,
              " (not an x86 CPU)");
#endif
  return &weight_grad_blocks_default;
}

at::Tensor depthwise_conv7x7_weight_grad(const at::Tensor& input,
                                         const at::Tensor& grad_output,
                                         c10::string_view isa) {
  TORCH_CHECK(input.device().is_cpu() && grad_output.device().is_cpu(),
              "depthwise_conv7x7_weight_grad: CPU tensors expected");
  TORCH_CHECK(input.scalar_type() == at::kFloat &&
                  grad_output.scalar_type() == at::kFloat,
              "depthwise_conv7x7_weight_grad: float32 tensors expected");
  TORCH_CHECK(input.dim() == 4 && input.sizes() == grad_output.sizes(),
              "depthwise_conv7x7_weight_grad: input and grad_output must be "
              "(N, C, H, W) of one shape, got ",
              input.sizes(), " and ", grad_output.sizes());
  const BlocksFn blocks = select_kernel(isa);
  const at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor g = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  const Shape s{x.size(0), x.size(2), x.size(3), x.size(1)};
  at::Tensor out = at::empty({s.c, 1, kKernel, kKernel}, x.options());
  const float* x_ptr = x.const_data_ptr<float>();
  const float* g_ptr = g.const_data_ptr<float>();
  float* out_ptr = out.data_ptr<float>();
  const int64_t num_blocks = (s.c + kLanes - 1) / kLanes;
  at::parallel_for(0, num_blocks, 1, [&](int64_t b0, int64_t b1) {
    blocks(x_ptr, g_ptr, s, b0, b1, out_ptr);
  });
  return out;
}

TORCH_LIBRARY_FRAGMENT(mmhornet, m) {
  m.def("depthwise_conv7x7_weight_grad(Tensor input, Tensor grad_output, "
        "str isa='auto') -> Tensor");
}

TORCH_LIBRARY_IMPL(mmhornet, CPU, m) {
  m.impl("depthwise_conv7x7_weight_grad", &depthwise_conv7x7_weight_grad);
}

}  // namespace mmhornet

// Importing mmhornet.ops._ext loads the library and so registers the operator.
PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {}
