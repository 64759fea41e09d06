"""Reference for the SFT-step benchmark: one supervised fine-tuning step of the quickstart-size model
(recipes/sft.yaml: Llama, 2 layers, hidden 128, 4 heads / 2 KV heads, MLP 352, vocab 18, tied
embeddings) on a fixed batch of 32 sequences of 12 tokens, loss on the last 4 tokens: forward,
token log-probs, masked mean NLL, backward, grad-norm clip 1.0, AdamW. Plain PyTorch, same libtorch.

usage: sft_step.py THREADS    (run by bench/Sharpen.Bench sft, alternating with Sharpen)
Prints "result step <ms>" (median step after warm-up) and "result final_loss <value>".
"""
import math, statistics, sys, time

import torch
import torch.nn.functional as F

V, D, L, H, KVH, I, B, T, TARGETS = 18, 128, 2, 4, 2, 352, 32, 12, 4
DH = D // H


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


class Llama(torch.nn.Module):
    def __init__(self, vocab=V):
        super().__init__()
        p = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
        self.embed = p(vocab, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.o = p(H * DH, D), p(KVH * DH, D), p(KVH * DH, D), p(D, H * DH)
            m.gate, m.up, m.down = p(I, D), p(I, D), p(D, I)
            m.n1, m.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(D))
        inv = 1.0 / (10000 ** (torch.arange(0, DH, 2, dtype=torch.int64).float() / DH))
        freqs = torch.arange(T).float()[:, None] * inv[None]
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.ones(T, T, dtype=torch.bool).tril()

    def forward(self, ids):
        x = F.embedding(ids, self.embed)
        for m in self.layers:
            h = rms(x, m.n1)
            q = F.linear(h, m.q).view(B, T, H, DH).transpose(1, 2)
            k = F.linear(h, m.k).view(B, T, KVH, DH).transpose(1, 2)
            v = F.linear(h, m.v).view(B, T, KVH, DH).transpose(1, 2)
            q, k = rotate(q, self.cos, self.sin), rotate(k, self.cos, self.sin)
            k = k[:, :, None].expand(B, KVH, H // KVH, T, DH).reshape(B, H, T, DH)
            v = v[:, :, None].expand(B, KVH, H // KVH, T, DH).reshape(B, H, T, DH)
            s = (q @ k.transpose(-2, -1) / math.sqrt(DH)).masked_fill(~self.mask, float("-inf"))
            x = x + F.linear((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D), m.o)
            h = rms(x, m.n2)
            x = x + F.linear(F.silu(F.linear(h, m.gate)) * F.linear(h, m.up), m.down)
        return F.linear(rms(x, self.norm), self.embed)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)
    model = Llama()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}], lr=3e-3)
    ids = torch.tensor([[(3 * b + 5 * j) % V for j in range(T)] for b in range(B)])
    mask = torch.zeros(B, T - 1)
    mask[:, -TARGETS:] = 1

    def step():
        logits = model(ids)
        logp = logits[:, :-1].float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1) * mask
        loss = -logp.sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(10):
        step()
    times = []
    for _ in range(60):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    print(f"result step {statistics.median(times) * 1e3:.4f}")
    print(f"result final_loss {loss:.4f}")


if __name__ == "__main__":
    main()
