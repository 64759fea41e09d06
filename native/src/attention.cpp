// Area "attention": scaled dot-product attention, fused on purpose. libtorch ≥ 2 runs its fused
// kernel (at::scaled_dot_product_attention); older libtorch runs the plain composition. The path is
// fixed at compile time (SH_HAS_PUBLIC_SDPA in sharpen.h) and reported by sh_attention_backend.
#include "sharpen.h"

#include <cmath>

using sh::T;
using sh::wrap;

// q [B, H, Tq, D], k and v [B, H, Tk, D]; mask: null or bool [B or 1, 1 or H, Tq, Tk] with true
// where a query may attend (every row must allow at least one key). scale <= 0 means 1/sqrt(D).
// Returns [B, H, Tq, D].
SH_API sh_tensor sh_attention_sdpa(sh_tensor q, sh_tensor k, sh_tensor v, sh_tensor mask, double scale) {
  SH_BEGIN
  const at::Tensor& Q = T(q);
  const at::Tensor& K = T(k);
  const at::Tensor& V = T(v);
  const double s = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
#if SH_HAS_PUBLIC_SDPA
  c10::optional<at::Tensor> m;
  if (mask) m = T(mask);
  return wrap(at::scaled_dot_product_attention(Q, K, V, m, 0.0, false, s));
#else
  at::Tensor scores = at::matmul(Q, K.transpose(-2, -1)).mul(s);  // [B, H, Tq, Tk]
  if (mask) scores = scores.masked_fill(T(mask).logical_not(), -std::numeric_limits<double>::infinity());
  return wrap(at::matmul(scores.softmax(-1), V));
#endif
  SH_END(nullptr)
}

// 1 when libtorch's fused kernel is used, 0 for the plain composition.
SH_API int32_t sh_attention_backend() {
  SH_BEGIN
  return SH_HAS_PUBLIC_SDPA ? 1 : 0;
  SH_END(-1)
}
