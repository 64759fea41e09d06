"""Per-op overhead of PyTorch: 1M `c = a + b` on two 1-element float32 CPU tensors.

Timed in blocks of 10k ops; prints "result add <µs/op>" for the median block, which keeps bursts
of other processes' work on the machine out of the figure. Run by bench/Sharpen.Bench
(op-overhead), alternating with Sharpen.
"""
import statistics
import sys
import time

import torch

BLOCKS, BLOCK_OPS, WARMUP_BLOCKS = 100, 10_000, 20


def add_block(a, b):
    for _ in range(BLOCK_OPS):
        c = a + b  # noqa: F841 (the result is dropped, as in a user's loop)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
    torch.set_num_threads(threads)
    a = torch.ones(1)
    b = torch.ones(1)
    for _ in range(WARMUP_BLOCKS):
        add_block(a, b)
    times = []
    for _ in range(BLOCKS):
        start = time.perf_counter()
        add_block(a, b)
        times.append((time.perf_counter() - start) / BLOCK_OPS * 1e6)  # µs/op
    print(f"result add {statistics.median(times):.4f}")


if __name__ == "__main__":
    main()
