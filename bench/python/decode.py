"""Reference for the decode benchmark: the same Llama-family model and KV-cached greedy loop as
Sharpen's GenerationEngine, written in plain PyTorch on the same libtorch.

usage: decode.py THREADS   (run by bench/Sharpen.Bench decode, alternating with Sharpen)
Environment: SHARPEN_BENCH_MODEL — a checkpoint directory (config.json + model.safetensors, float32,
parsed here from the format's spec); SHARPEN_BENCH_TOKENS_OUT — where to write the greedy tokens.
Batch 16, prompts of 16 tokens, 128 new tokens. Prints "result tokens_per_s <value>".
"""
import json, math, os, struct, sys, time

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", f"{name}: expected F32, got {e['dtype']}"
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype=np.float32).copy()).view(e["shape"])
    return out


class Llama:
    def __init__(self, cfg, w):
        self.c, self.w = cfg, w
        self.h, self.kvh = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
        self.dh = cfg.get("head_dim") or cfg["hidden_size"] // self.h
        self.eps = cfg["rms_norm_eps"]
        self.L = cfg["num_hidden_layers"]
        i = torch.arange(0, self.dh, 2, dtype=torch.int64).float()
        self.inv_freq = 1.0 / (cfg["rope_theta"] ** (i / self.dh))
        self.head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def forward(self, ids, pos, cache, past):
        w, B, T = self.w, ids.shape[0], ids.shape[1]
        x = torch.nn.functional.embedding(ids, w["model.embed_tokens.weight"])
        freqs = pos.float()[:, :, None] * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], -1)[:, None]
        cos, sin = emb.cos(), emb.sin()
        n_rep = self.h // self.kvh
        for l in range(self.L):
            p = f"model.layers.{l}."
            hN = self.rms(x, w[p + "input_layernorm.weight"])
            q = torch.nn.functional.linear(hN, w[p + "self_attn.q_proj.weight"]).view(B, T, self.h, self.dh).transpose(1, 2)
            k = torch.nn.functional.linear(hN, w[p + "self_attn.k_proj.weight"]).view(B, T, self.kvh, self.dh).transpose(1, 2)
            v = torch.nn.functional.linear(hN, w[p + "self_attn.v_proj.weight"]).view(B, T, self.kvh, self.dh).transpose(1, 2)
            q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
            kc, vc = cache[l]
            kc[:, :, past:past + T] = k
            vc[:, :, past:past + T] = v
            k, v = kc[:, :, :past + T], vc[:, :, :past + T]
            if n_rep > 1:
                k = k[:, :, None].expand(B, self.kvh, n_rep, past + T, self.dh).reshape(B, self.h, past + T, self.dh)
                v = v[:, :, None].expand(B, self.kvh, n_rep, past + T, self.dh).reshape(B, self.h, past + T, self.dh)
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.dh)
            if T > 1:
                mask = torch.ones(T, past + T, dtype=torch.bool).tril(past)
                scores = scores.masked_fill(~mask, float("-inf"))
            o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.h * self.dh)
            x = x + torch.nn.functional.linear(o, w[p + "self_attn.o_proj.weight"])
            hN = self.rms(x, w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(torch.nn.functional.linear(hN, w[p + "mlp.gate_proj.weight"]))
            u = torch.nn.functional.linear(hN, w[p + "mlp.up_proj.weight"])
            x = x + torch.nn.functional.linear(g * u, w[p + "mlp.down_proj.weight"])
        return torch.nn.functional.linear(self.rms(x, w["model.norm.weight"]), self.head)


def main():
    class a:
        batch, prompt_len, new_tokens = 16, 16, 128
        threads = int(sys.argv[1])
        model = os.environ["SHARPEN_BENCH_MODEL"]
        tokens_out = os.environ.get("SHARPEN_BENCH_TOKENS_OUT")
    torch.set_num_threads(a.threads)
    cfg = json.load(open(f"{a.model}/config.json"))
    m = Llama(cfg, load_safetensors(f"{a.model}/model.safetensors"))
    # The same prompts as the C# side: token (3·b + 7·j) mod vocab.
    V = cfg["vocab_size"]
    ids = torch.tensor([[(3 * b + 7 * j) % V for j in range(a.prompt_len)] for b in range(a.batch)])
    out = []
    with torch.no_grad():
        for rep in range(2):  # the first run warms up
            t0 = time.perf_counter()
            cap = a.prompt_len + a.new_tokens
            cache = [(torch.zeros(a.batch, m.kvh, cap, m.dh), torch.zeros(a.batch, m.kvh, cap, m.dh)) for _ in range(m.L)]
            pos = torch.arange(a.prompt_len)[None].expand(a.batch, -1)
            logits = m.forward(ids, pos, cache, 0)
            tokens = []
            past = a.prompt_len
            for s in range(a.new_tokens):
                nxt = logits[:, -1].log_softmax(-1).argmax(-1)
                tokens.append(nxt)
                if s == a.new_tokens - 1:
                    break
                logits = m.forward(nxt[:, None], torch.full((a.batch, 1), past), cache, past)
                past += 1
            seconds = time.perf_counter() - t0
        out = torch.stack(tokens, 1)
    if a.tokens_out:
        json.dump(out.tolist(), open(a.tokens_out, "w"), separators=(",", ":"))
    print(f"result tokens_per_s {a.batch * a.new_tokens / seconds:.2f}")


if __name__ == "__main__":
    main()
