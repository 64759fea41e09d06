// Area "tensor": lifetime, metadata, creation, copies in and out of host memory, autograd.
#include "sharpen.h"

#include <cstring>

using sh::T;
using sh::wrap;

SH_API int32_t sh_tensor_free(sh_tensor t) {
  SH_BEGIN
  delete static_cast<at::Tensor*>(t);
  return 0;
  SH_END(-1)
}

// ---- metadata ---------------------------------------------------------------------------

SH_API int64_t sh_tensor_dim(sh_tensor t) {
  SH_BEGIN
  return T(t).dim();
  SH_END(-1)
}

// Writes min(dim, cap) sizes into out; returns dim.
SH_API int64_t sh_tensor_shape(sh_tensor t, int64_t* out, int64_t cap) {
  SH_BEGIN
  auto s = T(t).sizes();
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()) && i < cap; ++i) out[i] = s[i];
  return static_cast<int64_t>(s.size());
  SH_END(-1)
}

SH_API int64_t sh_tensor_numel(sh_tensor t) {
  SH_BEGIN
  return T(t).numel();
  SH_END(-1)
}

SH_API int32_t sh_tensor_dtype(sh_tensor t) {
  SH_BEGIN
  return static_cast<int32_t>(T(t).scalar_type());
  SH_END(-1)
}

// Packs device as type * 65536 + (index + 1) so one call answers both.
SH_API int32_t sh_tensor_device(sh_tensor t) {
  SH_BEGIN
  auto d = T(t).device();
  return static_cast<int32_t>(d.type()) * 65536 + (static_cast<int32_t>(d.index()) + 1);
  SH_END(-1)
}

SH_API int32_t sh_tensor_is_contiguous(sh_tensor t) {
  SH_BEGIN
  return T(t).is_contiguous() ? 1 : 0;
  SH_END(-1)
}

// ---- creation -----------------------------------------------------------------------------

SH_API sh_tensor sh_tensor_empty(const int64_t* shape, int64_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::empty(sh::dims(shape, ndim), sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_zeros(const int64_t* shape, int64_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::zeros(sh::dims(shape, ndim), sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_ones(const int64_t* shape, int64_t ndim, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::ones(sh::dims(shape, ndim), sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_full(const int64_t* shape, int64_t ndim, double value, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::full(sh::dims(shape, ndim), value, sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_arange(double start, double end, double step, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::arange(start, end, step, sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_randn(const int64_t* shape, int64_t ndim, sh_generator g, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::randn(sh::dims(shape, ndim), sh::gen(g), sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_rand(const int64_t* shape, int64_t ndim, sh_generator g, int32_t dtype, int32_t dev_type, int32_t dev_index) {
  SH_BEGIN
  return wrap(at::rand(sh::dims(shape, ndim), sh::gen(g), sh::options(dtype, dev_type, dev_index)));
  SH_END(nullptr)
}

// Copies nbytes of host memory (laid out contiguously as dtype) into a new CPU tensor.
SH_API sh_tensor sh_tensor_from_data(const void* data, int64_t nbytes, const int64_t* shape, int64_t ndim, int32_t dtype) {
  SH_BEGIN
  at::Tensor t = at::empty(sh::dims(shape, ndim), at::TensorOptions().dtype(sh::dtype(dtype)));
  TORCH_CHECK(static_cast<int64_t>(t.nbytes()) == nbytes, "data has ", nbytes, " bytes but shape ", t.sizes(), " of ",
              t.scalar_type(), " needs ", t.nbytes());
  if (nbytes > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(nbytes));
  return wrap(std::move(t));
  SH_END(nullptr)
}

// Copies the tensor's elements (any device, any layout) to host memory as a contiguous block.
SH_API int32_t sh_tensor_copy_to_host(sh_tensor t, void* out, int64_t nbytes) {
  SH_BEGIN
  at::Tensor c = T(t).detach().to(at::kCPU).contiguous();
  TORCH_CHECK(static_cast<int64_t>(c.nbytes()) == nbytes, "destination has ", nbytes, " bytes, tensor has ", c.nbytes());
  if (nbytes > 0) std::memcpy(out, c.data_ptr(), static_cast<size_t>(nbytes));
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_tensor_item_double(sh_tensor t, double* out) {
  SH_BEGIN
  *out = T(t).item<double>();
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_tensor_item_long(sh_tensor t, int64_t* out) {
  SH_BEGIN
  *out = T(t).item<int64_t>();
  return 0;
  SH_END(-1)
}

SH_API sh_tensor sh_tensor_to(sh_tensor t, int32_t dtype, int32_t dev_type, int32_t dev_index, int32_t copy) {
  SH_BEGIN
  return wrap(T(t).to(sh::device(dev_type, dev_index), sh::dtype(dtype), /*non_blocking=*/false, copy != 0));
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_clone(sh_tensor t) {
  SH_BEGIN
  return wrap(T(t).clone());
  SH_END(nullptr)
}

SH_API sh_tensor sh_tensor_alias(sh_tensor t) {
  SH_BEGIN
  return wrap(T(t));
  SH_END(nullptr)
}

// ---- autograd -----------------------------------------------------------------------------

SH_API int32_t sh_tensor_requires_grad(sh_tensor t) {
  SH_BEGIN
  return T(t).requires_grad() ? 1 : 0;
  SH_END(-1)
}

SH_API int32_t sh_tensor_set_requires_grad(sh_tensor t, int32_t on) {
  SH_BEGIN
  T(t).set_requires_grad(on != 0);
  return 0;
  SH_END(-1)
}

// Returns the accumulated gradient, or null with an empty last error when there is none.
SH_API sh_tensor sh_tensor_grad(sh_tensor t) {
  SH_BEGIN
  const at::Tensor& g = T(t).grad();
  if (!g.defined()) {
    sh::clear_last_error();
    return nullptr;
  }
  return wrap(g);
  SH_END(nullptr)
}

SH_API int32_t sh_tensor_set_grad(sh_tensor t, sh_tensor g) {
  SH_BEGIN
  T(t).mutable_grad() = g ? T(g) : at::Tensor();
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_tensor_backward(sh_tensor t, sh_tensor grad, int32_t retain_graph) {
  SH_BEGIN
  T(t).backward(grad ? T(grad) : at::Tensor(), retain_graph ? c10::optional<bool>(true) : c10::nullopt, false);
  return 0;
  SH_END(-1)
}

SH_API sh_tensor sh_tensor_detach(sh_tensor t) {
  SH_BEGIN
  return wrap(T(t).detach());
  SH_END(nullptr)
}

SH_API int32_t sh_tensor_is_leaf(sh_tensor t) {
  SH_BEGIN
  return T(t).is_leaf() ? 1 : 0;
  SH_END(-1)
}
