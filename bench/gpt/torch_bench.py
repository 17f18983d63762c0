#!/usr/bin/python3
"""The builtin model's architecture in PyTorch, for bench/gpt/compare.sh.

Loads the checkpoint written by ourobench (checking the same log-probabilities
come out, i.e. the architecture is identical), then measures training and
sampling tokens/s on the same workload: batch of B sequences of T-1 input
tokens, AdamW + grad clipping; sampling of S sequences from BOS with a KV cache.
"""
import argparse, json, math, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--samples", type=int, default=16)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

raw = open(a.dir + "/model.safetensors", "rb").read()
(hl,) = struct.unpack("<Q", raw[:8])
hdr = json.loads(raw[8:8 + hl])
cfg = json.loads(hdr["__metadata__"]["config"])
tensors = {}
for name, e in hdr.items():
    if name == "__metadata__":
        continue
    b, en = e["data_offsets"]
    arr = np.frombuffer(raw[8 + hl + b: 8 + hl + en], dtype="<f4").reshape(e["shape"])
    tensors[name] = torch.tensor(arr.copy())

L, D, NH, H, T = cfg["layers"], cfg["dim"], cfg["heads"], cfg["hidden"], cfg["max_seq"]
HD = D // NH
vocab = cfg["vocab"]
V = len(vocab) + 4
ids = {c: i + 4 for i, c in enumerate(vocab)}
BOS, EOS = 1, 2


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


inv = 10000.0 ** (-torch.arange(0, HD, 2, dtype=torch.float64) / HD)
ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
COS, SIN = torch.cos(ang).float(), torch.sin(ang).float()  # [T, HD/2]


def rope(x, pos):  # x [B, t, NH, HD]; adjacent pairs
    c = COS[pos][None, :, None, :]
    s = SIN[pos][None, :, None, :]
    x = x.view(*x.shape[:-1], HD // 2, 2)
    x0, x1 = x[..., 0], x[..., 1]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_norm, self.ffn_norm = RMSNorm(), RMSNorm()
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(D, D, bias=False) for _ in range(4))
        self.w1, self.w3 = nn.Linear(D, H, bias=False), nn.Linear(D, H, bias=False)
        self.w2 = nn.Linear(H, D, bias=False)

    def forward(self, x, pos, cache=None):
        B, t, _ = x.shape
        h = self.attention_norm(x)
        q = rope(self.wq(h).view(B, t, NH, HD), pos).transpose(1, 2)
        k = rope(self.wk(h).view(B, t, NH, HD), pos).transpose(1, 2)
        v = self.wv(h).view(B, t, NH, HD).transpose(1, 2)
        if cache is not None:  # decoding: append to the cache
            ck, cv, n = cache
            ck[:, :, n:n + t], cv[:, :, n:n + t] = k, v
            k, v = ck[:, :, :n + t], cv[:, :, :n + t]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        if t > 1:
            s = s.masked_fill(torch.ones(t, k.shape[2], dtype=torch.bool).triu(k.shape[2] - t + 1), float("-inf"))
        o = (F.softmax(s, -1) @ v).transpose(1, 2).reshape(B, t, D)
        x = x + self.wo(o)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.layers = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm()
        self.output = nn.Linear(D, V, bias=False)

    def forward(self, idx, pos, caches=None):
        x = self.tok(idx)
        for i, l in enumerate(self.layers):
            x = l(x, pos, None if caches is None else caches[i])
        return self.output(self.norm(x))


m = GPT()
with torch.no_grad():
    m.tok.weight.copy_(tensors["tok_embeddings.weight"])
    m.norm.weight.copy_(tensors["norm.weight"])
    m.output.weight.copy_(tensors["output.weight"])
    names = {"attention_norm": "attention_norm", "ffn_norm": "ffn_norm", "wq": "attention.wq", "wk": "attention.wk",
             "wv": "attention.wv", "wo": "attention.wo", "w1": "feed_forward.w1", "w2": "feed_forward.w2",
             "w3": "feed_forward.w3"}
    for i, l in enumerate(m.layers):
        for attr, n in names.items():
            getattr(l, attr).weight.copy_(tensors[f"layers.{i}.{n}.weight"])

# 1. Same architecture: same log-probabilities as ouro.
ref = json.load(open(a.dir + "/ref.json"))
seq = [BOS] + [ids[c] for c in ref["text"]]
with torch.no_grad():
    lg = m(torch.tensor([seq[:-1]]), torch.arange(len(seq) - 1))
    lp = F.log_softmax(lg.double(), -1)[0, torch.arange(len(seq) - 1), torch.tensor(seq[1:])]
maxdiff = float((lp - torch.tensor(ref["per_token"], dtype=torch.float64)).abs().max())
if maxdiff > 1e-3:
    sys.exit(f"torch and ouro disagree: max |Δ log p| = {maxdiff}")

# 2. Training: B random sequences of T tokens (BOS + T-2 chars + EOS), loss on all T-1 targets.
g = torch.Generator().manual_seed(1)
data = torch.randint(4, V, (256, T), generator=g)
data[:, 0], data[:, -1] = BOS, EOS
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)
pos = torch.arange(T - 1)


def step(i):
    b = data[(torch.arange(a.batch) + i * a.batch) % 256]
    loss = F.cross_entropy(m(b[:, :-1], pos).reshape(-1, V), b[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()


for i in range(2):
    step(i)
t0 = time.perf_counter()
for i in range(a.steps):
    step(i)
train_s = time.perf_counter() - t0
train_tps = a.steps * a.batch * (T - 1) / train_s


# 3. Sampling with a KV cache: S sequences of T-2 tokens from BOS.
@torch.no_grad()
def sample(S, n):
    caches = [(torch.zeros(S, NH, T, HD), torch.zeros(S, NH, T, HD), 0) for _ in range(L)]
    tok = torch.full((S, 1), BOS)
    for t in range(n):
        lg = m(tok, torch.tensor([t]), [(c[0], c[1], t) for c in caches])
        tok = torch.multinomial(F.softmax(lg[:, -1].float(), -1), 1)
    return S * n


sample(2, 4)
t0 = time.perf_counter()
gen = sample(a.samples, T - 2)
sample_s = time.perf_counter() - t0
print(json.dumps({"impl": "torch " + torch.__version__, "threads": torch.get_num_threads(),
                  "params": sum(p.numel() for p in m.parameters()), "logprob_maxdiff": maxdiff,
                  "train_tokens_per_s": train_tps, "train_step_ms": 1000 * train_s / a.steps,
                  "sample_tokens_per_s": gen / sample_s, "sampled_tokens": gen}))
