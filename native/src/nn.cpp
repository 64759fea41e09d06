// Area "nn": layers and losses. Hot paths fused on purpose are named as such.
#include "sharpen.h"

using sh::T;
using sh::wrap;

SH_API sh_tensor sh_nn_linear(sh_tensor x, sh_tensor w, sh_tensor b) {
  SH_BEGIN
  return wrap(at::linear(T(x), T(w), b ? c10::optional<at::Tensor>(T(b)) : c10::nullopt));
  SH_END(nullptr)
}

SH_API sh_tensor sh_nn_embedding(sh_tensor w, sh_tensor ids) {
  SH_BEGIN
  return wrap(at::embedding(T(w), T(ids)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_nn_layer_norm(sh_tensor x, int64_t normalized_dims, sh_tensor w, sh_tensor b, double eps) {
  SH_BEGIN
  const at::Tensor& t = T(x);
  auto shape = t.sizes().slice(static_cast<size_t>(t.dim() - normalized_dims));
  return wrap(at::layer_norm(t, shape, w ? c10::optional<at::Tensor>(T(w)) : c10::nullopt,
                             b ? c10::optional<at::Tensor>(T(b)) : c10::nullopt, eps));
  SH_END(nullptr)
}

// Fused on purpose: RMSNorm(x) = x · rsqrt(mean(x², last dim) + eps) · w, computed in float32
// (or wider) and cast back to x's dtype, as Llama/Qwen do.
SH_API sh_tensor sh_nn_rms_norm(sh_tensor x, sh_tensor w, double eps) {
  SH_BEGIN
  const at::Tensor& t = T(x);
  at::Tensor xf = t.scalar_type() == at::kDouble ? t : t.to(at::kFloat);
  at::Tensor y = xf * (xf.square().mean(-1, /*keepdim=*/true) + eps).rsqrt();
  y = y.to(t.scalar_type());
  return wrap(w ? y * T(w) : y);
  SH_END(nullptr)
}

SH_API sh_tensor sh_nn_dropout(sh_tensor x, double p, int32_t train) {
  SH_BEGIN
  return wrap(at::dropout(T(x), p, train != 0));
  SH_END(nullptr)
}

// Cross entropy over the last dim of logits [N, C] with integer targets [N].
// reduction: 0 none, 1 mean (over non-ignored targets), 2 sum.
SH_API sh_tensor sh_nn_cross_entropy(sh_tensor logits, sh_tensor targets, int64_t ignore_index, int32_t reduction) {
  SH_BEGIN
  return wrap(at::cross_entropy_loss(T(logits), T(targets), c10::nullopt, reduction, ignore_index));
  SH_END(nullptr)
}

// Fused on purpose: per-token log-probs log_softmax(logits)[..., ids]. logits [B, T, V], ids [B, T] -> [B, T].
SH_API sh_tensor sh_nn_token_logprobs(sh_tensor logits, sh_tensor ids) {
  SH_BEGIN
  const at::Tensor& l = T(logits);
  at::Tensor lf = l.scalar_type() == at::kDouble ? l : l.to(at::kFloat);
  return wrap(lf.log_softmax(-1).gather(-1, T(ids).unsqueeze(-1)).squeeze(-1));
  SH_END(nullptr)
}
