// Package gpt is ouro's builtin model: a small decoder-only transformer in
// pure Go (no cgo, no downloads) that trains and samples on a CPU, so that
// every example loop runs offline on a laptop.
//
// # Architecture
//
// The LLaMA layout: token embedding; Layers blocks of
// RMSNorm → multi-head causal self-attention → residual,
// RMSNorm → SwiGLU MLP (w2·(silu(w1·x) ⊙ w3·x)) → residual;
// a final RMSNorm and an untied output head. No biases. Positions are
// rotary (Config.Positions "rope", adjacent pairs, base 10000, as llama.cpp's
// normal mode) or absent ("none", NoPE: the causal mask alone carries
// order). Tensor names follow Meta's LLaMA checkpoints
// (tok_embeddings.weight, layers.N.attention.wq.weight, ...), so the
// GGUF export (WriteGGUF) is a renaming exercise; WriteHF writes a
// Hugging Face folder.
//
// The tokenizer is character level: ids 0..3 are PAD, BOS, EOS and UNK,
// then one id per character of Config.Vocab (default: printable ASCII and
// '\n'). The vocabulary is part of the config and is saved with the weights.
// Every sequence starts with BOS; completions end with EOS.
//
// # Computation
//
// All weights live in one flat float32 vector. The forward and backward
// passes are written by hand over a packed batch (sequences row after row,
// no padding) and are generic over the element type: models use float32,
// the gradient checks run the same code in float64 against finite
// differences. Matrix products go through one kernel, C = A·Bᵀ, split over
// GOMAXPROCS goroutines by blocks of rows (or of columns when there are
// few rows). Each output element is one dot product summed in a fixed
// order by one goroutine, and every other reduction is sequential, so
// training and sampling give bit-identical results whatever the number of
// cores, and a row's result never depends on the other rows of its batch.
//
// # Training and sampling
//
// TrainSFT minimises the cross-entropy of the target tokens and EOS (the
// prompt is context only); TrainDPO minimises the DPO loss against a frozen
// reference model. Both use AdamW with global-norm clipping, linear warmup
// and a cosine, warmup-stable-decay or constant schedule, seeded mini-batch
// order, and return a new Model (the input is never modified).
//
// Generate prefills each prompt once into a key/value cache, copies it for
// the n samples, and decodes all samples of a group of prompts together.
// Sample i of a prompt draws from its own random stream seeded by
// SampleSeed(opts.Seed, prompt, i), so results do not depend on batching,
// on -j, or on the other prompts of the call. LogProb scores a continuation
// with the training forward pass; it agrees bit for bit with the
// log-probabilities reported by Generate. GenerateStream is Generate with
// a callback after each decoding step that receives the text each sample
// released (held back while it could be the start of a stop string), for
// token-by-token streaming; its samples are Generate's.
//
// # Checkpoints
//
// Save writes one safetensors file: header length, a JSON header whose
// __metadata__ holds the format, version, config and vocabulary, and the
// tensors as little-endian float32 in sorted-name order. The bytes depend
// only on the config and the weights; Digest ("sha256:…" of those bytes)
// is the model's identity. Load validates everything and returns errors,
// never panics, on malformed input.
//
// # Where the package stops
//
// The package knows nothing of HCL, specs, caches, stores or run records.
// It takes configs, seeds, strings and options and returns models, bytes and
// numbers; deciding what to train on, caching by digest, storing checkpoints
// and serving them over HTTP belong to the callers (the model operators,
// the runtime and `ouro serve`).
package gpt
