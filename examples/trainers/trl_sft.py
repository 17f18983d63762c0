#!/usr/bin/env python3
"""An `sft` trainer for ouro's command-trainer contract (docs/trainers.md), using TRL.

    stage "sft" "tune" {
      ...
      trainer = "command"
      command = ["python3", "../trainers/trl_sft.py"]
    }

It reads the builtin base checkpoint ($OURO_BASE_CHECKPOINT), turns it into a
Hugging Face LlamaForCausalLM (same LLaMA layout; rotary pairs permuted from
the adjacent-pair convention to Hugging Face's rotate-half one), fine-tunes it
with trl.SFTTrainer on $OURO_TRAIN_DATA (loss on the target and EOS only),
converts it back and writes $OURO_OUTPUT_DIR/model.safetensors in the builtin
format plus metrics.json. Progress lines {"step": n, "loss": x} go to stdout.

Requires: torch, transformers, trl, tokenizers, numpy. Only builtin bases with
positions = "rope" can be converted (Hugging Face Llama always uses RoPE).
`config` keys understood: gradient_accumulation_steps, max_grad_norm.
"""
import json, os, struct, sys

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

hp = json.load(open(os.environ["OURO_HPARAMS"]))
if hp["kind"] != "sft":
    sys.exit("trl_sft.py trains sft stages only")
ck = os.environ.get("OURO_BASE_CHECKPOINT")
if not ck:
    sys.exit("trl_sft.py needs a builtin base model")
out_dir = os.environ["OURO_OUTPUT_DIR"]

# --- read the builtin checkpoint (docs/builtin-model.md) ---
raw = open(ck, "rb").read()
(hl,) = struct.unpack("<Q", raw[:8])
hdr = json.loads(raw[8:8 + hl])
meta = hdr["__metadata__"]
cfg = json.loads(meta["config"])
if cfg.get("positions", "rope") not in ("", "rope"):
    sys.exit("only positions = \"rope\" models convert to Hugging Face Llama")
W = {}
for name, e in hdr.items():
    if name != "__metadata__":
        b, en = e["data_offsets"]
        W[name] = torch.tensor(np.frombuffer(raw[8 + hl + b:8 + hl + en], dtype="<f4").reshape(e["shape"]).copy())

L, D, NH, H, T = cfg["layers"], cfg["dim"], cfg["heads"], cfg["hidden"], cfg["max_seq"]
HD = D // NH
vocab = cfg["vocab"]
PAD, BOS, EOS, UNK = 0, 1, 2, 3
ids = {c: i + 4 for i, c in enumerate(vocab)}


def to_hf(w):  # adjacent pairs -> rotate-half halves, per head
    return w.view(NH, HD // 2, 2, D).transpose(1, 2).reshape(D, D)


def from_hf(w):
    return w.view(NH, 2, HD // 2, D).transpose(1, 2).reshape(D, D)


hf = LlamaForCausalLM(LlamaConfig(
    vocab_size=len(vocab) + 4, hidden_size=D, intermediate_size=H, num_hidden_layers=L,
    num_attention_heads=NH, num_key_value_heads=NH, max_position_embeddings=T, rms_norm_eps=1e-5,
    rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
    pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS))
NAMES = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj", "attention.wv": "self_attn.v_proj",
         "attention.wo": "self_attn.o_proj", "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
         "feed_forward.w3": "mlp.up_proj", "attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
sd = {"model.embed_tokens.weight": W["tok_embeddings.weight"], "model.norm.weight": W["norm.weight"],
      "lm_head.weight": W["output.weight"]}
for i in range(L):
    for ours, theirs in NAMES.items():
        w = W[f"layers.{i}.{ours}.weight"]
        if ours in ("attention.wq", "attention.wk"):
            w = to_hf(w)
        sd[f"model.layers.{i}.{theirs}.weight"] = w
hf.load_state_dict(sd, strict=False)

# --- a character tokenizer with the builtin ids ---
tv = {"<pad>": PAD, "<s>": BOS, "</s>": EOS, "<unk>": UNK, **ids}
tk = Tokenizer(models.WordLevel(tv, unk_token="<unk>"))
tk.pre_tokenizer = pre_tokenizers.Split(Regex("(?s)."), "isolated")
tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")

# --- data: pre-tokenized, loss on target + EOS (as the builtin trainer) ---
rows = [json.loads(l) for l in open(os.environ["OURO_TRAIN_DATA"]) if l.strip()]


def encode(r):
    p = [BOS] + [ids.get(c, UNK) for c in r["prompt"]]
    t = [ids.get(c, UNK) for c in r["target"]] + [EOS]
    seq, mask = (p + t)[:T], ([0] * len(p) + [1] * len(t))[:T]
    return {"input_ids": seq, "completion_mask": mask}


ds = Dataset.from_list([encode(r) for r in rows])


class Progress(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            print(json.dumps({"step": state.global_step, "loss": logs["loss"]}), flush=True)


c = hp.get("config", {})
args = SFTConfig(
    output_dir=os.path.join(os.environ["OURO_TRAIN_DIR"], "trl"), max_steps=hp["steps"],
    per_device_train_batch_size=hp["batch_size"], learning_rate=hp["learning_rate"],
    weight_decay=hp["weight_decay"], warmup_steps=hp["warmup"],
    lr_scheduler_type={"cosine": "cosine", "wsd": "warmup_stable_decay", "constant": "constant_with_warmup"}[hp["schedule"]],
    adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=float(c.get("max_grad_norm", 1.0)),
    gradient_accumulation_steps=int(c.get("gradient_accumulation_steps", 1)),
    seed=hp["seed"] % (2**32), data_seed=hp["seed"] % (2**32), logging_steps=1, save_strategy="no",
    report_to=[], completion_only_loss=True, max_length=T, packing=False, dataset_kwargs={"skip_prepare_dataset": False})
trainer = SFTTrainer(model=hf, args=args, train_dataset=ds, processing_class=tok, callbacks=[Progress()])
res = trainer.train()

# --- back to the builtin format: sorted tensors, same metadata ---
sd = {k: v.detach().float().cpu() for k, v in hf.state_dict().items()}
out = {"tok_embeddings.weight": sd["model.embed_tokens.weight"], "norm.weight": sd["model.norm.weight"],
       "output.weight": sd["lm_head.weight"]}
for i in range(L):
    for ours, theirs in NAMES.items():
        w = sd[f"model.layers.{i}.{theirs}.weight"]
        if ours in ("attention.wq", "attention.wk"):
            w = from_hf(w)
        out[f"layers.{i}.{ours}.weight"] = w
header, blobs, off = {"__metadata__": meta}, [], 0
for name in sorted(out):
    b = out[name].numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(out[name].shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
hj = json.dumps(header, separators=(",", ":")).encode()
hj += b" " * (-len(hj) % 8)
with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
json.dump({"loss": res.training_loss}, open(os.path.join(out_dir, "metrics.json"), "w"))
