// Area "ops": elementwise math, comparisons, reductions, shapes, indexing. One libtorch call each.
#include "sharpen.h"

#include <cmath>

using sh::T;
using sh::wrap;

namespace {
// A C# double becomes an integer scalar for integer/bool tensors when it is whole, so that
// int64 + 2 stays int64 as in PyTorch; otherwise a floating scalar (type promotion applies).
// The range test comes first: casting NaN, ±inf or a value beyond int64 to int64 is undefined.
at::Scalar scalar_for(const at::Tensor& a, double v) {
  if (!at::isFloatingType(a.scalar_type()) && !at::isComplexType(a.scalar_type()) &&
      v >= -9223372036854775808.0 && v < 9223372036854775808.0 && v == std::trunc(v))
    return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}
}  // namespace

// Export generators. Each body is SH_BEGIN ... SH_END, like every hand-written export.
#define SH_DEF_UNARY(name, expr)                  \
  SH_API sh_tensor name(sh_tensor a_) {           \
    SH_BEGIN                                      \
    const at::Tensor& a = T(a_);                  \
    return wrap(expr);                            \
    SH_END(nullptr)                               \
  }
#define SH_DEF_BINARY(name, expr)                 \
  SH_API sh_tensor name(sh_tensor a_, sh_tensor b_) { \
    SH_BEGIN                                      \
    const at::Tensor& a = T(a_);                  \
    const at::Tensor& b = T(b_);                  \
    return wrap(expr);                            \
    SH_END(nullptr)                               \
  }
#define SH_DEF_SCALAR(name, expr)                 \
  SH_API sh_tensor name(sh_tensor a_, double v) { \
    SH_BEGIN                                      \
    const at::Tensor& a = T(a_);                  \
    at::Scalar s = scalar_for(a, v);              \
    return wrap(expr);                            \
    SH_END(nullptr)                               \
  }
#define SH_DEF_DIM(name, expr)                            \
  SH_API sh_tensor name(sh_tensor a_, int64_t dim) {      \
    SH_BEGIN                                              \
    const at::Tensor& a = T(a_);                          \
    return wrap(expr);                                    \
    SH_END(nullptr)                                       \
  }
#define SH_DEF_REDUCE(name, expr)                                                       \
  SH_API sh_tensor name(sh_tensor a_, const int64_t* dims, int64_t ndims, int32_t keepdim) { \
    SH_BEGIN                                                                            \
    const at::Tensor& a = T(a_);                                                        \
    at::IntArrayRef d = sh::dims(dims, ndims);                                          \
    bool k = keepdim != 0;                                                              \
    return wrap(expr);                                                                  \
    SH_END(nullptr)                                                                     \
  }
#define SH_DEF_SHAPE(name, expr)                                           \
  SH_API sh_tensor name(sh_tensor a_, const int64_t* shape, int64_t ndim) { \
    SH_BEGIN                                                               \
    const at::Tensor& a = T(a_);                                           \
    at::IntArrayRef s = sh::dims(shape, ndim);                             \
    return wrap(expr);                                                     \
    SH_END(nullptr)                                                        \
  }
#define SH_DEF_INPLACE_SCALAR(name, expr)       \
  SH_API int32_t name(sh_tensor a_, double v) { \
    SH_BEGIN                                    \
    at::Tensor& a = T(a_);                      \
    at::Scalar s = scalar_for(a, v);            \
    expr;                                       \
    return 0;                                   \
    SH_END(-1)                                  \
  }

// ---- unary --------------------------------------------------------------------------------
SH_DEF_UNARY(sh_ops_neg, a.neg())
SH_DEF_UNARY(sh_ops_exp, a.exp())
SH_DEF_UNARY(sh_ops_log, a.log())
SH_DEF_UNARY(sh_ops_log1p, a.log1p())
SH_DEF_UNARY(sh_ops_sqrt, a.sqrt())
SH_DEF_UNARY(sh_ops_rsqrt, a.rsqrt())
SH_DEF_UNARY(sh_ops_abs, a.abs())
SH_DEF_UNARY(sh_ops_sign, a.sign())
SH_DEF_UNARY(sh_ops_square, a.square())
SH_DEF_UNARY(sh_ops_reciprocal, a.reciprocal())
SH_DEF_UNARY(sh_ops_sin, a.sin())
SH_DEF_UNARY(sh_ops_cos, a.cos())
SH_DEF_UNARY(sh_ops_floor, a.floor())
SH_DEF_UNARY(sh_ops_relu, a.relu())
SH_DEF_UNARY(sh_ops_silu, at::silu(a))
SH_DEF_UNARY(sh_ops_gelu, at::gelu(a))
SH_DEF_UNARY(sh_ops_gelu_tanh, at::gelu(a, "tanh"))
SH_DEF_UNARY(sh_ops_sigmoid, a.sigmoid())
SH_DEF_UNARY(sh_ops_logsigmoid, at::log_sigmoid(a))
SH_DEF_UNARY(sh_ops_tanh, a.tanh())
SH_DEF_UNARY(sh_ops_softplus, at::softplus(a))
SH_DEF_UNARY(sh_ops_logical_not, a.logical_not())
SH_DEF_UNARY(sh_ops_isfinite, a.isfinite())
SH_DEF_UNARY(sh_ops_contiguous, a.contiguous())
SH_DEF_UNARY(sh_ops_sum_all, a.sum())
SH_DEF_UNARY(sh_ops_mean_all, a.mean())
SH_DEF_UNARY(sh_ops_max_all, a.max())
SH_DEF_UNARY(sh_ops_min_all, a.min())
SH_DEF_UNARY(sh_ops_squeeze_all, a.squeeze())
SH_DEF_UNARY(sh_ops_nonzero, a.nonzero())

// ---- binary (broadcasting) ----------------------------------------------------------------
SH_DEF_BINARY(sh_ops_add, a.add(b))
SH_DEF_BINARY(sh_ops_sub, a.sub(b))
SH_DEF_BINARY(sh_ops_mul, a.mul(b))
SH_DEF_BINARY(sh_ops_div, a.div(b))
SH_DEF_BINARY(sh_ops_pow, a.pow(b))
SH_DEF_BINARY(sh_ops_maximum, at::maximum(a, b))
SH_DEF_BINARY(sh_ops_minimum, at::minimum(a, b))
SH_DEF_BINARY(sh_ops_eq, a.eq(b))
SH_DEF_BINARY(sh_ops_ne, a.ne(b))
SH_DEF_BINARY(sh_ops_lt, a.lt(b))
SH_DEF_BINARY(sh_ops_le, a.le(b))
SH_DEF_BINARY(sh_ops_gt, a.gt(b))
SH_DEF_BINARY(sh_ops_ge, a.ge(b))
SH_DEF_BINARY(sh_ops_logical_and, a.logical_and(b))
SH_DEF_BINARY(sh_ops_logical_or, a.logical_or(b))
SH_DEF_BINARY(sh_ops_matmul, at::matmul(a, b))
SH_DEF_BINARY(sh_ops_bmm, at::bmm(a, b))

// ---- with a scalar ------------------------------------------------------------------------
SH_DEF_SCALAR(sh_ops_add_scalar, a.add(s))
SH_DEF_SCALAR(sh_ops_sub_scalar, a.sub(s))
SH_DEF_SCALAR(sh_ops_rsub_scalar, at::rsub(a, s))
SH_DEF_SCALAR(sh_ops_mul_scalar, a.mul(s))
SH_DEF_SCALAR(sh_ops_div_scalar, a.div(s))
SH_DEF_SCALAR(sh_ops_rdiv_scalar, a.reciprocal().mul(s))
SH_DEF_SCALAR(sh_ops_pow_scalar, a.pow(s))
SH_DEF_SCALAR(sh_ops_rpow_scalar, at::pow(s, a))
SH_DEF_SCALAR(sh_ops_eq_scalar, a.eq(s))
SH_DEF_SCALAR(sh_ops_ne_scalar, a.ne(s))
SH_DEF_SCALAR(sh_ops_lt_scalar, a.lt(s))
SH_DEF_SCALAR(sh_ops_le_scalar, a.le(s))
SH_DEF_SCALAR(sh_ops_gt_scalar, a.gt(s))
SH_DEF_SCALAR(sh_ops_ge_scalar, a.ge(s))
SH_DEF_SCALAR(sh_ops_fmod_scalar, a.fmod(s))

// ---- along one dimension ------------------------------------------------------------------
SH_DEF_DIM(sh_ops_softmax, a.softmax(dim))
SH_DEF_DIM(sh_ops_log_softmax, a.log_softmax(dim))
SH_DEF_DIM(sh_ops_cumsum, a.cumsum(dim))
SH_DEF_DIM(sh_ops_unsqueeze, a.unsqueeze(dim))
SH_DEF_DIM(sh_ops_squeeze, a.squeeze(dim))
SH_DEF_DIM(sh_ops_tril, a.tril(dim))
SH_DEF_DIM(sh_ops_triu, a.triu(dim))

// ---- reductions over several dimensions ---------------------------------------------------
SH_DEF_REDUCE(sh_ops_sum, a.sum(d, k))
SH_DEF_REDUCE(sh_ops_mean, a.mean(d, k))
SH_DEF_REDUCE(sh_ops_logsumexp, a.logsumexp(d, k))
SH_DEF_REDUCE(sh_ops_amax, a.amax(d, k))
SH_DEF_REDUCE(sh_ops_amin, a.amin(d, k))

// ---- shapes -------------------------------------------------------------------------------
SH_DEF_SHAPE(sh_ops_view, a.view(s))
SH_DEF_SHAPE(sh_ops_reshape, a.reshape(s))
SH_DEF_SHAPE(sh_ops_permute, a.permute(s))
SH_DEF_SHAPE(sh_ops_expand, a.expand(s))
SH_DEF_SHAPE(sh_ops_repeat, a.repeat(s))

// ---- in place (optimisers, masks) ---------------------------------------------------------
SH_DEF_INPLACE_SCALAR(sh_ops_fill_, a.fill_(s))
SH_DEF_INPLACE_SCALAR(sh_ops_mul_scalar_, a.mul_(s))
SH_DEF_INPLACE_SCALAR(sh_ops_add_scalar_, a.add_(s))

// Variance / standard deviation with a Bessel-style correction (1 = unbiased).
SH_API sh_tensor sh_ops_var(sh_tensor a, const int64_t* dims, int64_t ndims, int64_t correction, int32_t keepdim) {
  SH_BEGIN
  return wrap(at::var(T(a), sh::dims(dims, ndims), correction, keepdim != 0));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_std(sh_tensor a, const int64_t* dims, int64_t ndims, int64_t correction, int32_t keepdim) {
  SH_BEGIN
  return wrap(at::std(T(a), sh::dims(dims, ndims), correction, keepdim != 0));
  SH_END(nullptr)
}

// Sum with an accumulation dtype (-1 keeps libtorch's default).
SH_API sh_tensor sh_ops_sum_dtype(sh_tensor a, const int64_t* dims, int64_t ndims, int32_t keepdim, int32_t dtype) {
  SH_BEGIN
  c10::optional<at::ScalarType> dt;
  if (dtype >= 0) dt = sh::dtype(dtype);
  return wrap(T(a).sum(sh::dims(dims, ndims), keepdim != 0, dt));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_argmax(sh_tensor a, int64_t dim, int32_t keepdim) {
  SH_BEGIN
  return wrap(T(a).argmax(dim, keepdim != 0));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_argmin(sh_tensor a, int64_t dim, int32_t keepdim) {
  SH_BEGIN
  return wrap(T(a).argmin(dim, keepdim != 0));
  SH_END(nullptr)
}

// Max along dim: values and indices.
SH_API int32_t sh_ops_max_dim(sh_tensor a, int64_t dim, int32_t keepdim, sh_tensor* values, sh_tensor* indices) {
  SH_BEGIN
  auto r = T(a).max(dim, keepdim != 0);
  *values = wrap(std::get<0>(r));
  *indices = wrap(std::get<1>(r));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_min_dim(sh_tensor a, int64_t dim, int32_t keepdim, sh_tensor* values, sh_tensor* indices) {
  SH_BEGIN
  auto r = T(a).min(dim, keepdim != 0);
  *values = wrap(std::get<0>(r));
  *indices = wrap(std::get<1>(r));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_topk(sh_tensor a, int64_t k, int64_t dim, int32_t largest, int32_t sorted, sh_tensor* values, sh_tensor* indices) {
  SH_BEGIN
  auto r = T(a).topk(k, dim, largest != 0, sorted != 0);
  *values = wrap(std::get<0>(r));
  *indices = wrap(std::get<1>(r));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_sort(sh_tensor a, int64_t dim, int32_t descending, sh_tensor* values, sh_tensor* indices) {
  SH_BEGIN
  auto r = T(a).sort(/*stable=*/true, dim, descending != 0);
  *values = wrap(std::get<0>(r));
  *indices = wrap(std::get<1>(r));
  return 0;
  SH_END(-1)
}

SH_API sh_tensor sh_ops_transpose(sh_tensor a, int64_t d0, int64_t d1) {
  SH_BEGIN
  return wrap(T(a).transpose(d0, d1));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_select(sh_tensor a, int64_t dim, int64_t index) {
  SH_BEGIN
  return wrap(T(a).select(dim, index));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_narrow(sh_tensor a, int64_t dim, int64_t start, int64_t length) {
  SH_BEGIN
  return wrap(T(a).narrow(dim, start, length));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_slice(sh_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  SH_BEGIN
  return wrap(T(a).slice(dim, start, end, step));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_flatten(sh_tensor a, int64_t start, int64_t end) {
  SH_BEGIN
  return wrap(T(a).flatten(start, end));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_index_select(sh_tensor a, int64_t dim, sh_tensor index) {
  SH_BEGIN
  return wrap(T(a).index_select(dim, T(index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_gather(sh_tensor a, int64_t dim, sh_tensor index) {
  SH_BEGIN
  return wrap(T(a).gather(dim, T(index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_scatter(sh_tensor a, int64_t dim, sh_tensor index, sh_tensor src) {
  SH_BEGIN
  return wrap(T(a).scatter(dim, T(index), T(src)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_scatter_add(sh_tensor a, int64_t dim, sh_tensor index, sh_tensor src) {
  SH_BEGIN
  return wrap(T(a).scatter_add(dim, T(index), T(src)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_masked_fill(sh_tensor a, sh_tensor mask, double value) {
  SH_BEGIN
  const at::Tensor& t = T(a);
  return wrap(t.masked_fill(T(mask), scalar_for(t, value)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_where(sh_tensor cond, sh_tensor a, sh_tensor b) {
  SH_BEGIN
  return wrap(at::where(T(cond), T(a), T(b)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_cat(const sh_tensor* ts, int64_t n, int64_t dim) {
  SH_BEGIN
  return wrap(at::cat(sh::list(ts, n), dim));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_stack(const sh_tensor* ts, int64_t n, int64_t dim) {
  SH_BEGIN
  return wrap(at::stack(sh::list(ts, n), dim));
  SH_END(nullptr)
}

// Clamp to [lo, hi]; a bound is ignored when its has_* flag is 0.
SH_API sh_tensor sh_ops_clamp(sh_tensor a, double lo, int32_t has_lo, double hi, int32_t has_hi) {
  SH_BEGIN
  const at::Tensor& t = T(a);
  c10::optional<at::Scalar> l, h;
  if (has_lo) l = scalar_for(t, lo);
  if (has_hi) h = scalar_for(t, hi);
  return wrap(t.clamp(l, h));
  SH_END(nullptr)
}

SH_API sh_tensor sh_ops_multinomial(sh_tensor probs, int64_t n, int32_t replacement, sh_generator g) {
  SH_BEGIN
  return wrap(at::multinomial(T(probs), n, replacement != 0, sh::gen(g)));
  SH_END(nullptr)
}

SH_API int32_t sh_ops_add_(sh_tensor a, sh_tensor b, double alpha) {
  SH_BEGIN
  T(a).add_(T(b), alpha);
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_copy_(sh_tensor dst, sh_tensor src) {
  SH_BEGIN
  T(dst).copy_(T(src));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_zero_(sh_tensor a) {
  SH_BEGIN
  T(a).zero_();
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_addcmul_(sh_tensor a, sh_tensor t1, sh_tensor t2, double value) {
  SH_BEGIN
  T(a).addcmul_(T(t1), T(t2), value);
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_addcdiv_(sh_tensor a, sh_tensor t1, sh_tensor t2, double value) {
  SH_BEGIN
  T(a).addcdiv_(T(t1), T(t2), value);
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_masked_fill_(sh_tensor a, sh_tensor mask, double value) {
  SH_BEGIN
  at::Tensor& t = T(a);
  t.masked_fill_(T(mask), scalar_for(t, value));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_ops_allclose(sh_tensor a, sh_tensor b, double rtol, double atol) {
  SH_BEGIN
  return T(a).allclose(T(b), rtol, atol) ? 1 : 0;
  SH_END(-1)
}
