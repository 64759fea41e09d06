// Area "optim": fused optimiser steps over a list of parameters and global grad-norm clipping.
// Every update runs without autograd recording; parameters whose .grad is undefined are skipped.
#include "sharpen.h"

#include <c10/core/GradMode.h>
#include <cmath>

using sh::T;

// Fused on purpose: one AdamW step (Loshchilov & Hutter, decoupled weight decay) for n
// parameters of one group, in PyTorch's arithmetic order. `step` is the 1-based step count
// after this update (used for bias correction).
SH_API int32_t sh_optim_adamw_step(const sh_tensor* params, const sh_tensor* exp_avg, const sh_tensor* exp_avg_sq,
                                   int64_t n, double lr, double beta1, double beta2, double eps,
                                   double weight_decay, int64_t step) {
  SH_BEGIN
  c10::AutoGradMode no_grad(false);
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const double step_size = lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  for (int64_t i = 0; i < n; ++i) {
    at::Tensor& p = T(params[i]);
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor& m = T(exp_avg[i]);
    at::Tensor& v = T(exp_avg_sq[i]);
    if (weight_decay != 0.0) p.mul_(1.0 - lr * weight_decay);
    m.mul_(beta1).add_(g, 1.0 - beta1);  // (lerp_ has no vectorised CPU kernel in libtorch 1.13)
    v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
    at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
    p.addcdiv_(m, denom, -step_size);
  }
  return 0;
  SH_END(-1)
}

// Fused on purpose: SGD with momentum/dampening/Nesterov and (coupled) weight decay, as
// torch.optim.SGD. momentum_buf[i] may be null when momentum == 0; `first` marks the first
// step, where the buffer is initialised to the gradient.
SH_API int32_t sh_optim_sgd_step(const sh_tensor* params, const sh_tensor* momentum_buf, int64_t n, double lr,
                                 double momentum, double dampening, double weight_decay, int32_t nesterov,
                                 int32_t first) {
  SH_BEGIN
  c10::AutoGradMode no_grad(false);
  for (int64_t i = 0; i < n; ++i) {
    at::Tensor& p = T(params[i]);
    if (!p.grad().defined()) continue;
    at::Tensor d = p.grad();
    if (weight_decay != 0.0) d = d.add(p, weight_decay);
    if (momentum != 0.0) {
      at::Tensor& buf = T(momentum_buf[i]);
      if (first) buf.copy_(d);
      else buf.mul_(momentum).add_(d, 1.0 - dampening);
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
  }
  return 0;
  SH_END(-1)
}

// Scales every gradient so their joint L2 norm is at most max_norm. Returns the norm before
// clipping (NaN/Inf when a gradient is not finite; gradients are then left unchanged). The last
// error is cleared first, so a NaN with no error message means a non-finite gradient.
SH_API double sh_optim_clip_grad_norm(const sh_tensor* params, int64_t n, double max_norm) {
  SH_BEGIN
  sh::clear_last_error();
  c10::AutoGradMode no_grad(false);
  std::vector<at::Tensor> norms;
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor& g = T(params[i]).grad();
    if (g.defined()) norms.push_back(g.detach().to(at::kDouble).norm());
  }
  if (norms.empty()) return 0.0;
  double total = at::stack(norms).norm().item<double>();
  if (!std::isfinite(total)) return total;
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (int64_t i = 0; i < n; ++i) {
      at::Tensor g = T(params[i]).grad();
      if (g.defined()) g.mul_(coef);
    }
  return total;
  SH_END(std::nan(""))
}
