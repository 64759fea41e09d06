#!/usr/bin/env bash
# Runs Sharpen's benchmarks against Python PyTorch on this machine and prints the figures and ratios.
#
#   bench/run.sh tensor-core         # op-overhead, mlp, openblas and mlp-env (the figures in docs/benchmarks.md)
#   bench/run.sh op-overhead|mlp|openblas|mlp-env|breakdown [--reps N]
#
# Builds the native bridge if it is missing and the bench project (Release) into
# $SHARPEN_BENCH_ARTIFACTS (default /tmp/sharpen-bench). The Python side runs on
# $SHARPEN_BENCH_PYTHON (default /usr/bin/python3), which must have torch over the same libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."

art="${SHARPEN_BENCH_ARTIFACTS:-/tmp/sharpen-bench}"
if [[ ! -f build/native/libsharpen_native.so ]]; then
  cmake -S native -B build/native -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/native -j"$(nproc)"
fi
dotnet build bench/Sharpen.Bench -c Release --artifacts-path "$art" -nologo -v quiet >/dev/null

if [[ "${1:-}" == "breakdown" ]]; then
  # libtorch's own per-op cost, from C++ linked to the same libtorch and bridge
  g++ -O2 -std=c++17 bench/cpp/op_floor.cpp -I/usr/include/torch/csrc/api/include \
    -L"$PWD/build/native" -Wl,-rpath,"$PWD/build/native" -lsharpen_native -ltorch -ltorch_cpu -lc10 \
    -o "$art/op_floor"
  export SHARPEN_BENCH_FLOOR="$art/op_floor"
fi

exec "$art/bin/Sharpen.Bench/release/Sharpen.Bench" "$@"
