// The libtorch floor under Sharpen's per-op time: 1-element float32 CPU add from C++, no managed code.
// Prints "result <name> <µs/op>" lines (median of 50 blocks of 20k ops) for bench/Sharpen.Bench
// (breakdown). Built by bench/run.sh breakdown; argument: the intra-op thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

extern "C" void* sh_ops_add(void* a, void* b);
extern "C" int sh_tensor_free(void* t);

namespace {
constexpr int kBlocks = 50;
constexpr int kBlockOps = 20000;
constexpr int kScopeOps = 1000;

// Runs `block` (kBlockOps ops) kBlocks times; prints the median µs/op when `report`.
void time(const char* name, bool report, const std::function<void()>& block) {
  std::vector<double> us;
  for (int i = 0; i < kBlocks; ++i) {
    auto start = std::chrono::steady_clock::now();
    block();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kBlockOps);
  }
  std::nth_element(us.begin(), us.begin() + kBlocks / 2, us.end());
  if (report) std::printf("result %s %.4f\n", name, us[kBlocks / 2]);
}
}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  at::Tensor a = at::ones({1});
  at::Tensor b = at::ones({1});
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 warms up, pass 1 reports
    bool report = pass == 1;
    time("cpp_empty_1", report, [] { for (int i = 0; i < kBlockOps; ++i) at::empty({1}); });
    time("cpp_at_add", report, [&] { for (int i = 0; i < kBlockOps; ++i) at::add(a, b); });
    time("cpp_at_add_inference_mode", report, [&] {
      c10::InferenceMode guard;  // skips the autograd and ADInplaceOrView dispatch keys
      for (int i = 0; i < kBlockOps; ++i) at::add(a, b);
    });
    time("cpp_at_add_below_autograd", report, [&] {
      for (int i = 0; i < kBlockOps; ++i) {
        at::AutoDispatchBelowADInplaceOrView guard;  // what a bridge could do when no input requires grad
        at::add(a, b);
      }
    });
    time("cpp_bridge_add_free", report, [&] { for (int i = 0; i < kBlockOps; ++i) sh_tensor_free(sh_ops_add(&a, &b)); });
    time("cpp_bridge_add_free_per_1000", report, [&] {  // the order a TensorScope frees in
      std::vector<void*> live(kScopeOps);
      for (int i = 0; i < kBlockOps / kScopeOps; ++i) {
        for (auto& t : live) t = sh_ops_add(&a, &b);
        for (auto t : live) sh_tensor_free(t);
      }
    });
  }
  return 0;
}
