// Area "core": last error, runtime facts, threads, seeding, grad mode, generators.
#include "sharpen.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <c10/core/GradMode.h>
#include <cstring>
#include <sstream>

namespace {
thread_local std::string last_error;
thread_local std::string string_result;  // backing store for strings returned to C#
}  // namespace

namespace sh {
void set_last_error(const char* msg) { last_error = msg ? msg : ""; }
void clear_last_error() { last_error.clear(); }
}  // namespace sh

// Message of the last failed call on this thread.
SH_API const char* sh_core_last_error() {
  SH_BEGIN
  return last_error.c_str();
  SH_END(nullptr)
}

SH_API const char* sh_core_version() {
  SH_BEGIN
  std::ostringstream s;
  s << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH;
  string_result = s.str();
  return string_result.c_str();
  SH_END(nullptr)
}

SH_API const char* sh_core_config() {
  SH_BEGIN
  string_result = at::show_config();
  return string_result.c_str();
  SH_END(nullptr)
}

SH_API const char* sh_core_parallel_info() {
  SH_BEGIN
  string_result = at::get_parallel_info();
  return string_result.c_str();
  SH_END(nullptr)
}

SH_API int32_t sh_core_cuda_device_count() {
  SH_BEGIN
  return at::hasCUDA() ? static_cast<int32_t>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
  SH_END(-1)
}

SH_API int32_t sh_core_set_num_threads(int32_t n) {
  SH_BEGIN
  at::set_num_threads(n);
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_core_get_num_threads() {
  SH_BEGIN
  return at::get_num_threads();
  SH_END(-1)
}

// Seeds the default CPU generator (and CUDA's when present).
SH_API int32_t sh_core_manual_seed(uint64_t seed) {
  SH_BEGIN
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::hasCUDA()) {
    for (int64_t i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); ++i) {
      auto g = at::detail::getCUDAHooks().getDefaultCUDAGenerator(i);
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_current_seed(seed);
    }
  }
  return 0;
  SH_END(-1)
}

// Grad mode is thread-local in libtorch. Returns the previous state (1/0), -1 on error.
SH_API int32_t sh_core_set_grad_enabled(int32_t enabled) {
  SH_BEGIN
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled != 0);
  return prev ? 1 : 0;
  SH_END(-1)
}

SH_API int32_t sh_core_is_grad_enabled() {
  SH_BEGIN
  return c10::GradMode::is_enabled() ? 1 : 0;
  SH_END(-1)
}

// A private CPU random generator with its own seed (for repeatable sampling).
SH_API sh_generator sh_generator_new(uint64_t seed) {
  SH_BEGIN
  return new at::Generator(at::make_generator<at::CPUGeneratorImpl>(seed));
  SH_END(nullptr)
}

SH_API int32_t sh_generator_free(sh_generator g) {
  SH_BEGIN
  delete static_cast<at::Generator*>(g);
  return 0;
  SH_END(-1)
}

SH_API int32_t sh_generator_set_seed(sh_generator g, uint64_t seed) {
  SH_BEGIN
  auto& gen = *static_cast<at::Generator*>(g);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed);
  return 0;
  SH_END(-1)
}

// Generator state as bytes (for exact resume). Writes up to cap bytes, returns the full size.
SH_API int64_t sh_generator_get_state(sh_generator g, uint8_t* out, int64_t cap) {
  SH_BEGIN
  auto& gen = g ? *static_cast<at::Generator*>(g) : const_cast<at::Generator&>(at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen.mutex());
  at::Tensor st = gen.get_state();
  int64_t n = st.numel();
  if (out && cap >= n) std::memcpy(out, st.data_ptr(), static_cast<size_t>(n));
  return n;
  SH_END(-1)
}

SH_API int32_t sh_generator_set_state(sh_generator g, const uint8_t* data, int64_t n) {
  SH_BEGIN
  auto& gen = g ? *static_cast<at::Generator*>(g) : const_cast<at::Generator&>(at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen.mutex());
  at::Tensor st = at::empty({n}, at::kByte);
  std::memcpy(st.data_ptr(), data, static_cast<size_t>(n));
  gen.set_state(st);
  return 0;
  SH_END(-1)
}
