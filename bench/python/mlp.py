"""One training step of a 2-layer MLP in PyTorch, the reference for bench/Sharpen.Bench (mlp).

1024 -> 1024 -> 1024 with ReLU, batch 256, float32: forward, MSE to a fixed random target,
backward, AdamW step (torch.optim.AdamW with its defaults, lr 1e-3, weight decay 0.01).
Gradients are set to None between steps, as Sharpen's ZeroGrad does.
Prints "result step <ms>" for the median step (robust to bursts of other processes' work),
"result step_mean <ms>" and "result final_loss <loss>".
"""
import ctypes
import os
import statistics
import sys
import time

import torch

BATCH, IN, HIDDEN, OUT = 256, 1024, 1024, 1024
WARMUP_STEPS, TIMED_STEPS = 10, 50


def openblas_core_name():
    """The kernel family OpenBLAS chose in this process (it reads OPENBLAS_CORETYPE at load time)."""
    with open("/proc/self/maps") as maps:
        paths = [line.split()[-1] for line in maps if len(line.split()) >= 6]
    path = next((p for p in paths if os.path.basename(p).startswith("libopenblas")), None)
    if path is None:
        return "not loaded"
    lib = ctypes.CDLL(path)
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib.openblas_get_corename().decode()


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fc1 = torch.nn.Linear(IN, HIDDEN)
    fc2 = torch.nn.Linear(HIDDEN, OUT)
    opt = torch.optim.AdamW(list(fc1.parameters()) + list(fc2.parameters()), lr=1e-3, weight_decay=0.01)
    x = torch.randn(BATCH, IN)  # [B, In]
    target = torch.randn(BATCH, OUT)  # [B, Out]

    def step():
        h = fc1(x).relu()  # [B, Hidden]
        y = fc2(h)  # [B, Out]
        loss = (y - target).square().mean()  # []
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(WARMUP_STEPS):
        step()
    ms = []
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        last = step()
        ms.append((time.perf_counter() - start) * 1e3)
    print(f"result step {statistics.median(ms):.4f}")
    print(f"result step_mean {statistics.mean(ms):.4f}")
    print(f"result final_loss {last:.4f}")
    print(f"openblas core: {openblas_core_name()}")


if __name__ == "__main__":
    main()
