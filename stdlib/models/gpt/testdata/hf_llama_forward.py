"""Independent check of the Hugging Face export: reads model.safetensors and
config.json of an exported folder with torch alone (transformers is not
installable here), runs LLaMA's forward pass written as transformers'
modeling_llama does it (rotate-half RoPE with cos/sin of cat(freqs, freqs),
RMSNorm in float32, SwiGLU, untied lm_head), and prints the log-probability
of each continuation token. Usage: python3 hf_llama_forward.py DIR IDS.json
where IDS.json is {"ids": [...], "prompt_len": n}."""
import json, struct, sys
import torch

d, ids_path = sys.argv[1], sys.argv[2]
cfg = json.load(open(d + "/config.json"))
raw = open(d + "/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
body = raw[8 + n:]
W = {}
for k, v in hdr.items():
    if k == "__metadata__":
        continue
    a, b = v["data_offsets"]
    W[k] = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32).reshape(v["shape"])

req = json.load(open(ids_path))
ids = torch.tensor(req["ids"])
T, D, NH = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
HD = D // NH
eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]

def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)

inv_freq = 1.0 / (theta ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
emb = torch.cat((freqs, freqs), dim=-1)
cos, sin = emb.cos(), emb.sin()

with torch.no_grad():
    x = W["model.embed_tokens.weight"][ids]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, W[p + "input_layernorm.weight"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, NH, HD).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, NH, HD).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, NH, HD).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = torch.softmax(q @ k.transpose(-1, -2) / HD ** 0.5 + mask, dim=-1) @ v
        x = x + att.transpose(0, 1).reshape(T, D) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T) * (h @ W[p + "mlp.up_proj.weight"].T)
        x = x + g @ W[p + "mlp.down_proj.weight"].T
    logits = rms(x, W["model.norm.weight"]) @ W["lm_head.weight"].T
    lp = torch.log_softmax(logits.double(), dim=-1)
    pl = req["prompt_len"]
    out = [lp[t - 1, ids[t]].item() for t in range(pl, T)]
print(json.dumps(out))
