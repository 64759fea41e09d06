"""Reference for the GRPO-step benchmark: one GRPO step of the quickstart model (recipes/quickstart.yaml: Llama,
2 layers, hidden 128, 4 heads / 2 KV heads, MLP 352, tied embeddings; random init) in plain PyTorch on the same
libtorch. 16 fixed prompts × 8 samples = 128 rows, left-padded, sampled at temperature 1 with a KV cache for up to
6 new tokens (a row stops at EOS); reward 1 when the completion is exactly the sum, else 0; GRPO advantages
(R − mean)/(std + 1e-6) per group (Bessel std); ℓ^old from a no-grad forward of prompt + completion; then PPO-clip
(ε 0.2, dual clip 3), seq-mean-token-mean, backward, grad-norm clip 1.0, AdamW (lr 3e-4).

usage: grpo_step.py THREADS   (run by bench/Sharpen.Bench grpo, alternating with Sharpen)
Environment: SHARPEN_BENCH_TASK — the JSON the C# side writes: prompt token ids, answers, eos/pad ids, token texts.
Prints "result step|generate|reward|update <ms>" (medians of 10 steps after 2 warm-up; update is the step less
generation and rewards) and "result response_length <tokens>".
"""
import json, math, os, statistics, sys, time

import torch
import torch.nn.functional as F

import sft_step
from sft_step import rms, rotate  # the same RMSNorm and rotate-half RoPE as the SFT-step reference

D, L, H, KVH, I, G, NEW, EPS_CLIP, DUAL_CLIP = 128, 2, 4, 2, 352, 8, 6, 0.2, 3.0
DH = D // H


class Llama(sft_step.Llama):
    """The SFT-step reference's parameters (same shapes and initialisation order) with a KV-cached, padding-aware forward."""

    def __init__(self, vocab):
        super().__init__(vocab)
        self.inv_freq = 1.0 / (10000 ** (torch.arange(0, DH, 2, dtype=torch.int64).float() / DH))

    def forward(self, ids, pos, valid, cache=None, past=0):
        """ids, pos [B, T]; valid [B, past + T] (False: a padding key); cache: per layer (K, V) [B, KVH, cap, DH]."""
        B, T = ids.shape
        x = F.embedding(ids, self.embed)
        freqs = pos.float()[:, :, None] * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)[:, None]                      # [B, 1, T, DH]
        cos, sin = emb.cos(), emb.sin()
        S = past + T
        # Causal, over valid keys; a padding query sees itself, so that no softmax row is empty.
        own = torch.arange(S)[None] == torch.arange(T)[:, None] + past                    # [T, S]
        allowed = torch.ones(T, S, dtype=torch.bool).tril(past) & (valid[:, None, None, :] | own)   # [B, 1, T, S]
        for l, m in enumerate(self.layers):
            h = rms(x, m.n1)
            q = F.linear(h, m.q).view(B, T, H, DH).transpose(1, 2)
            k = F.linear(h, m.k).view(B, T, KVH, DH).transpose(1, 2)
            v = F.linear(h, m.v).view(B, T, KVH, DH).transpose(1, 2)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            if cache is not None:
                kc, vc = cache[l]
                kc[:, :, past:S], vc[:, :, past:S] = k, v
                k, v = kc[:, :, :S], vc[:, :, :S]
            k = k[:, :, None].expand(B, KVH, H // KVH, S, DH).reshape(B, H, S, DH)
            v = v[:, :, None].expand(B, KVH, H // KVH, S, DH).reshape(B, H, S, DH)
            s = (q @ k.transpose(-2, -1) / math.sqrt(DH)).masked_fill(~allowed, float("-inf"))
            x = x + F.linear((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D), m.o)
            h = rms(x, m.n2)
            x = x + F.linear(F.silu(F.linear(h, m.gate)) * F.linear(h, m.up), m.down)
        return F.linear(rms(x, self.norm), self.embed)


@torch.no_grad()
def generate(model, prompts, eos, pad, gen):
    """Samples up to NEW tokens per row at temperature 1; returns the completions (token lists, EOS kept) and their ℓ."""
    B, P = len(prompts), max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])                      # [B, P]
    valid = torch.zeros(B, P + NEW, dtype=torch.bool)                                   # [B, P + NEW]
    for b, p in enumerate(prompts):
        valid[b, P - len(p):P] = True
    cache = [(torch.zeros(B, KVH, P + NEW, DH), torch.zeros(B, KVH, P + NEW, DH)) for _ in range(L)]
    pos = (valid[:, :P].long().cumsum(1) - 1).clamp(min=0)
    logits = model(ids, pos, valid[:, :P], cache, 0)[:, -1]                              # [B, V]
    next_pos = pos[:, -1] + 1
    done = torch.zeros(B, dtype=torch.bool)
    tokens, logps = [], []
    for s in range(NEW):
        logp = logits.log_softmax(-1)
        tok = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)                  # [B]
        tok = torch.where(done, torch.full_like(tok, pad), tok)
        tokens.append(tok)
        logps.append(logp.gather(1, tok[:, None]).squeeze(1))
        valid[:, P + s] = ~done
        done = done | (tok == eos)
        if s == NEW - 1 or bool(done.all()):
            break
        logits = model(tok[:, None], next_pos[:, None], valid[:, :P + s + 1], cache, P + s)[:, -1]
        next_pos = next_pos + 1
    lengths = valid[:, P:].sum(1).tolist()                                               # tokens sampled per row
    tokens, logps = torch.stack(tokens, 1).tolist(), torch.stack(logps, 1)
    return [row[:n] for row, n in zip(tokens, lengths)], logps


def reward(text, answer):
    """1 when the stripped completion is a natural number equal to the answer, else 0."""
    t = text.strip()
    return 1.0 if 0 < len(t) <= 18 and t.isascii() and t.isdigit() and int(t) == int(answer) else 0.0


def main():
    torch.set_num_threads(int(sys.argv[1]))
    task = json.load(open(os.environ["SHARPEN_BENCH_TASK"]))
    vocab, eos, pad = task["vocab"], task["eos"], task["pad"]
    prompts = [p for p in task["prompts"] for _ in range(G)]                              # prompt-major, G per prompt
    answers = [a for a in task["answers"] for _ in range(G)]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = Llama(len(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.0)

    def step():
        t0 = time.perf_counter()
        completions, _ = generate(model, prompts, eos, pad, gen)
        t1 = time.perf_counter()
        rewards = torch.tensor([reward("".join(vocab[t] for t in c), a) for c, a in zip(completions, answers)])   # [B]
        t2 = time.perf_counter()

        # Prompt + completion, right-padded; the loss covers the completion tokens.
        rows = [p + c for p, c in zip(prompts, completions)]
        B, T = len(rows), max(len(r) for r in rows)
        ids = torch.tensor([r + [pad] * (T - len(r)) for r in rows])                     # [B, T]
        valid = torch.tensor([[j < len(r) for j in range(T)] for r in rows])             # [B, T]
        mask = torch.tensor([[float(len(p) <= j + 1 < len(p) + len(c)) for j in range(T - 1)]
                             for p, c in zip(prompts, completions)])                      # [B, T−1]
        pos = torch.arange(T)[None].expand(B, T)
        targets = ids[:, 1:, None]

        def token_logp(logits):
            return logits[:, :-1].log_softmax(-1).gather(-1, targets).squeeze(-1)         # [B, T−1]

        with torch.no_grad():
            old = token_logp(model(ids, pos, valid))                                      # [B, T−1]
        r = rewards.view(-1, G)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-6)).view(-1, 1)   # [B, 1]

        logits = model(ids, pos, valid)                                                   # [B, T, V]
        logp = token_logp(logits)
        ratio = (logp - old).exp()
        clipped = torch.max(-adv * ratio, -adv * ratio.clamp(1 - EPS_CLIP, 1 + EPS_CLIP))
        per_token = torch.where(adv < 0, torch.min(clipped, -DUAL_CLIP * adv), clipped) * mask
        n = mask.sum(1)
        has = n > 0
        loss = (per_token.sum(1)[has] / n[has]).sum() / has.sum()
        with torch.no_grad():
            lp = logits[:, :-1].log_softmax(-1)
            entropy = (-(lp.exp() * lp).sum(-1) * mask).sum() / mask.sum()
        loss_value, _ = loss.item(), entropy.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t3 = time.perf_counter()
        return t3 - t0, t1 - t0, t2 - t1, sum(len(c) for c in completions) / len(completions)

    for _ in range(2):
        step()
    runs = [step() for _ in range(10)]
    med = lambda i: statistics.median(x[i] for x in runs) * 1e3
    print(f"result step {med(0):.4f}")
    print(f"result generate {med(1):.4f}")
    print(f"result reward {med(2):.4f}")
    print(f"result update {statistics.median(x[0] - x[1] - x[2] for x in runs) * 1e3:.4f}")
    print(f"result response_length {statistics.mean(x[3] for x in runs):.4f}")


if __name__ == "__main__":
    main()
