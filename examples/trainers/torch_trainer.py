#!/usr/bin/python3
"""A command trainer for builtin checkpoints, in plain PyTorch.

Follows ouro's trainer contract (docs/trainers.md): reads OURO_TRAIN_KIND,
OURO_TRAIN_DATA, OURO_HPARAMS, OURO_BASE_CHECKPOINT (and, for dpo,
OURO_REFERENCE_CHECKPOINT), trains, and writes OURO_OUTPUT_DIR/model.safetensors
in the builtin checkpoint format plus metrics.json, printing one
{"step": n, "loss": x} line per optimizer step.

Unlike trl_sft.py it needs nothing beyond PyTorch (Debian's python3-torch
works), because it rebuilds the builtin architecture itself (LLaMA layout:
RMSNorm, SwiGLU, RoPE or no positions, untied output; docs/builtin-model.md)
and keeps the checkpoint's own tensor names, config and vocabulary. Use it
from a spec with

    trainer = "command"
    command = ["python3", "../trainers/torch_trainer.py"]

Optional `config` keys: threads (torch threads, default 1).
"""
import json
import math
import os
import random
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS, UNK = 0, 1, 2, 3


def load(path):
    raw = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8:8 + hl])
    meta = hdr.pop("__metadata__")
    tensors = {}
    for name, e in hdr.items():
        if e["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {e['dtype']}, want F32")
        b, en = e["data_offsets"]
        buf = bytearray(raw[8 + hl + b: 8 + hl + en])
        tensors[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(e["shape"]).clone()
    return meta, tensors


def save(path, meta, tensors):
    """Writes the builtin format: sorted names, header padded to 8 bytes."""
    hdr, off = {"__metadata__": meta}, 0
    names = sorted(tensors)
    for n in names:
        size = tensors[n].numel() * 4
        hdr[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [off, off + size]}
        off += size
    hj = json.dumps(hdr, sort_keys=True, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for n in names:
            f.write(tensors[n].detach().contiguous().float().numpy().astype("<f4").tobytes())


class Model(nn.Module):
    """The builtin model's forward pass over named parameters."""

    def __init__(self, cfg, tensors):
        super().__init__()
        self.cfg = cfg
        self.p = nn.ParameterDict({n.replace(".", "__"): nn.Parameter(t) for n, t in tensors.items()})
        self.L, self.D, self.NH = cfg["layers"], cfg["dim"], cfg["heads"]
        self.HD = self.D // self.NH
        self.rope = cfg.get("positions", "rope") != "none"
        T = cfg["max_seq"]
        inv = 10000.0 ** (-torch.arange(0, self.HD, 2, dtype=torch.float64) / self.HD)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang).float(), torch.sin(ang).float()

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def tensors(self):
        return {n.replace("__", "."): t for n, t in self.p.items()}

    def norm(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.w(name)

    def rot(self, x):  # x [B, T, NH, HD]; adjacent pairs
        if not self.rope:
            return x
        t = x.shape[1]
        c, s = self.cos[:t][None, :, None, :], self.sin[:t][None, :, None, :]
        x = x.view(*x.shape[:-1], self.HD // 2, 2)
        x0, x1 = x[..., 0], x[..., 1]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2)

    def forward(self, idx):  # idx [B, T] → logits [B, T, V]
        B, T = idx.shape
        x = F.embedding(idx, self.w("tok_embeddings.weight"))
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        for i in range(self.L):
            pre = f"layers.{i}."
            h = self.norm(x, pre + "attention_norm.weight")
            q = self.rot((h @ self.w(pre + "attention.wq.weight").T).view(B, T, self.NH, self.HD)).transpose(1, 2)
            k = self.rot((h @ self.w(pre + "attention.wk.weight").T).view(B, T, self.NH, self.HD)).transpose(1, 2)
            v = (h @ self.w(pre + "attention.wv.weight").T).view(B, T, self.NH, self.HD).transpose(1, 2)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(self.HD)
            o = (F.softmax(s.masked_fill(mask, float("-inf")), -1) @ v).transpose(1, 2).reshape(B, T, self.D)
            x = x + o @ self.w(pre + "attention.wo.weight").T
            h = self.norm(x, pre + "ffn_norm.weight")
            a = F.silu(h @ self.w(pre + "feed_forward.w1.weight").T) * (h @ self.w(pre + "feed_forward.w3.weight").T)
            x = x + a @ self.w(pre + "feed_forward.w2.weight").T
        return self.norm(x, "norm.weight") @ self.w("output.weight").T


def encode(ids, s):
    return [ids.get(c, UNK) for c in s]


def scored(ids, prompt, target, max_seq):
    """BOS + prompt + target + EOS, and where the scored tokens start."""
    p = [BOS] + encode(ids, prompt)
    seq = p + encode(ids, target) + [EOS]
    if len(seq) > max_seq:
        sys.exit(f"an example has {len(seq)} tokens with BOS and EOS; max_seq is {max_seq}")
    return seq, len(p)


def batch(examples):
    """Pads to the longest; returns inputs, targets and a mask of scored positions."""
    T = max(len(s) for s, _ in examples) - 1
    inp = torch.full((len(examples), T), PAD)
    tgt = torch.full((len(examples), T), PAD)
    mask = torch.zeros(len(examples), T, dtype=torch.bool)
    for i, (s, first) in enumerate(examples):
        inp[i, :len(s) - 1] = torch.tensor(s[:-1])
        tgt[i, :len(s) - 1] = torch.tensor(s[1:])
        mask[i, first - 1:len(s) - 1] = True
    return inp, tgt, mask


def seq_logp(model, examples):
    """Sum of log p(target + EOS | prompt) per example."""
    inp, tgt, mask = batch(examples)
    lp = F.log_softmax(model(inp), -1).gather(-1, tgt[..., None])[..., 0]
    return (lp * mask).sum(-1)


def lr_at(hp, step, total):
    lr, warm = hp["learning_rate"], hp.get("warmup") or 0
    if step < warm:
        return lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    sched = hp.get("schedule") or "cosine"
    if sched == "constant":
        return lr
    if sched == "wsd":
        return lr if t < 0.8 else lr * (1 - t) / 0.2
    lmin = 0.1 * lr
    return lmin + 0.5 * (1 + math.cos(math.pi * t)) * (lr - lmin)


def main():
    kind = os.environ["OURO_TRAIN_KIND"]
    hp = json.load(open(os.environ["OURO_HPARAMS"]))
    conf = hp.get("config") or {}
    torch.set_num_threads(int(conf.get("threads", "1")))
    seed = hp["seed"] % (2 ** 63)
    torch.manual_seed(seed)
    rng = random.Random(seed)

    meta, tensors = load(os.environ["OURO_BASE_CHECKPOINT"])
    cfg = json.loads(meta["config"])
    ids = {c: i + 4 for i, c in enumerate(meta["vocab"])}
    model = Model(cfg, tensors)
    ref = None
    if kind == "dpo":
        rpath = os.environ.get("OURO_REFERENCE_CHECKPOINT") or os.environ["OURO_BASE_CHECKPOINT"]
        ref = Model(cfg, load(rpath)[1])
        ref.requires_grad_(False)

    rows = [json.loads(l) for l in open(os.environ["OURO_TRAIN_DATA"]) if l.strip()]
    if kind == "sft":
        data = [scored(ids, r["prompt"], r["target"], cfg["max_seq"]) for r in rows]
    else:
        data = [(scored(ids, r["prompt"], r["chosen"], cfg["max_seq"]),
                 scored(ids, r["prompt"], r["rejected"], cfg["max_seq"])) for r in rows]
    if not data:
        sys.exit("no training examples")

    decay = [p for n, p in model.p.items() if p.dim() >= 2]
    rest = [p for n, p in model.p.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp.get("weight_decay") or 0.0},
                             {"params": rest, "weight_decay": 0.0}], lr=hp["learning_rate"], betas=(0.9, 0.95), eps=1e-8)
    steps, bs, beta = hp["steps"], hp.get("batch_size") or 16, hp.get("beta") or 0.1
    order, pos, losses = [], 0, []
    for step in range(steps):
        picked = []
        while len(picked) < bs:  # a fresh seeded permutation per epoch
            if pos == len(order):
                order = list(range(len(data)))
                rng.shuffle(order)
                pos = 0
            picked.append(data[order[pos]])
            pos += 1
        for g in opt.param_groups:
            g["lr"] = lr_at(hp, step, steps)
        if kind == "sft":
            inp, tgt, mask = batch(picked)
            logits = model(inp)
            loss = (F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none")
                    * mask.reshape(-1)).sum() / mask.sum()
        else:
            chosen, rejected = [c for c, _ in picked], [r for _, r in picked]
            with torch.no_grad():
                ref_margin = seq_logp(ref, chosen) - seq_logp(ref, rejected)
            margin = seq_logp(model, chosen) - seq_logp(model, rejected)
            loss = -F.logsigmoid(beta * (margin - ref_margin)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss))
        print(json.dumps({"step": step + 1, "loss": losses[-1]}), flush=True)

    out = os.environ["OURO_OUTPUT_DIR"]
    save(os.path.join(out, "model.safetensors"), meta, model.tensors())
    k = max(1, len(losses) // 10)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump({"loss": sum(losses[-k:]) / k}, f)


if __name__ == "__main__":
    main()
