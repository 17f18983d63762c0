package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/params"
	"github.com/ouroloop/ouro/stdlib/structured"
)

// Builtin is the provider of the pure-Go model. A builtin model value's
// Digest is the digest of its checkpoint blob (gpt's Save bytes, so it is
// also gpt.Model.Digest).
type Builtin struct{}

func (*Builtin) Name() string { return "builtin" }
func (*Builtin) Version() int { return 1 }

// Resolve loads the checkpoint named by `checkpoint` (relative to the spec)
// or initialises a new model from the architecture parameters and seed, and
// stores its canonical checkpoint as a blob.
func (*Builtin) Resolve(ctx context.Context, x *runtime.Exec) (compiler.ModelRef, error) {
	var m *gpt.Model
	if ck := params.String(x, "checkpoint", ""); ck != "" {
		path := ck
		if !filepath.IsAbs(path) && x.Env != nil && x.Env.SpecDir != "" {
			path = filepath.Join(x.Env.SpecDir, path)
		}
		f, err := os.Open(path)
		if err != nil {
			return compiler.ModelRef{}, fmt.Errorf("builtin model: checkpoint: %w", err)
		}
		m, err = gpt.Load(f)
		f.Close()
		if err != nil {
			return compiler.ModelRef{}, fmt.Errorf("builtin model: checkpoint %s: %w", ck, err)
		}
	} else {
		var cfg gpt.Config
		var err error
		get := func(name string, dst *int) {
			if err == nil {
				*dst, err = params.Int(x, name, *dst)
			}
		}
		cfg.Layers, cfg.Dim, cfg.Heads, cfg.MaxSeq = 2, 64, 4, 128
		get("layers", &cfg.Layers)
		get("dim", &cfg.Dim)
		get("heads", &cfg.Heads)
		get("hidden", &cfg.Hidden)
		get("max_seq", &cfg.MaxSeq)
		if err != nil {
			return compiler.ModelRef{}, fmt.Errorf("builtin model: %w", err)
		}
		cfg.Positions = params.String(x, "positions", "rope")
		cfg.Vocab = params.String(x, "vocab", "")
		seed, err := params.Uint64(x, "seed")
		if err != nil {
			return compiler.ModelRef{}, fmt.Errorf("builtin model: %w", err)
		}
		m, err = gpt.New(cfg, seed)
		if err != nil {
			return compiler.ModelRef{}, fmt.Errorf("builtin model: %w", err)
		}
	}
	d, err := SaveModel(x.Blobs, m)
	if err != nil {
		return compiler.ModelRef{}, err
	}
	addr := ""
	if x.Node != nil {
		addr = x.Node.Address
	}
	return BuiltinRef(addr, d, m), nil
}

// BuiltinRef is the model value of a builtin checkpoint stored as blob d.
// Config holds the model's architecture (informational; the checkpoint is
// the truth).
func BuiltinRef(address string, d store.Digest, m *gpt.Model) compiler.ModelRef {
	cfg, _ := json.Marshal(m.Config())
	return compiler.ModelRef{Address: address, Provider: "builtin", Digest: string(d), Config: string(cfg)}
}

// Open returns the LM of a builtin model value.
func (*Builtin) Open(ctx context.Context, ref compiler.ModelRef, env *runtime.Env) (runtime.LM, error) {
	if ref.Provider != "builtin" {
		return nil, fmt.Errorf("builtin provider cannot open a %q model", ref.Provider)
	}
	if env == nil || env.Blobs == nil {
		return nil, fmt.Errorf("builtin model %s: no blob store", ref.Digest)
	}
	m, err := LoadModel(env.Blobs, store.Digest(ref.Digest))
	if err != nil {
		return nil, err
	}
	return &BuiltinLM{Model: m, Digest: ref.Digest}, nil
}

// SaveModel stores m's checkpoint as a blob and returns its digest (equal to
// m.Digest()). The model is added to the in-process cache.
func SaveModel(bs store.BlobStore, m *gpt.Model) (store.Digest, error) {
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		return "", fmt.Errorf("builtin model: save: %w", err)
	}
	d, err := store.PutBytes(bs, buf.Bytes())
	if err != nil {
		return "", fmt.Errorf("builtin model: store checkpoint: %w", err)
	}
	modelCache.put(d, m)
	return d, nil
}

// LoadModel loads the builtin checkpoint stored as blob d, from the
// in-process cache when it was loaded or saved before.
func LoadModel(bs store.BlobStore, d store.Digest) (*gpt.Model, error) {
	if m, ok := modelCache.get(d); ok {
		return m, nil
	}
	r, err := bs.Open(d)
	if err != nil {
		return nil, fmt.Errorf("builtin model %s: %w", d, err)
	}
	defer r.Close()
	m, err := gpt.Load(r)
	if err != nil {
		return nil, fmt.Errorf("builtin model %s: %w", d, err)
	}
	modelCache.put(d, m)
	return m, nil
}

// WriteCheckpointFile copies the checkpoint blob d to path (for external
// trainers and tools).
func WriteCheckpointFile(bs store.BlobStore, d store.Digest, path string) error {
	r, err := bs.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// modelCache keeps recently used models by digest. Models are immutable, so
// sharing them is safe.
var modelCache = &lru{max: 8}

type lru struct {
	mu    sync.Mutex
	max   int
	order []store.Digest
	m     map[store.Digest]*gpt.Model
}

func (c *lru) get(d store.Digest) (*gpt.Model, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[d]
	if ok {
		c.touch(d)
	}
	return m, ok
}

func (c *lru) put(d store.Digest, m *gpt.Model) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[store.Digest]*gpt.Model{}
	}
	if _, ok := c.m[d]; !ok {
		c.m[d] = m
	}
	c.touch(d)
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *lru) touch(d store.Digest) {
	for i, o := range c.order {
		if o == d {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	c.order = append(c.order, d)
}

// ChatPrompt renders chat messages as one prompt for a completion model:
// each message on its own line as "<role>: <content>", then "assistant:".
// It is the template of the builtin and command providers (and of the
// openai provider with api = "completions").
func ChatPrompt(msgs []runtime.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	b.WriteString("assistant:")
	return b.String()
}

// RequestPrompt is the prompt of a request: its Prompt, or its Messages
// rendered with ChatPrompt.
func RequestPrompt(r runtime.GenRequest) string {
	if len(r.Messages) > 0 {
		return ChatPrompt(r.Messages)
	}
	return r.Prompt
}

// BuiltinLM samples from a builtin model. It implements runtime.Scorer too.
type BuiltinLM struct {
	Model  *gpt.Model
	Digest string
}

// Identity is "builtin:" and the checkpoint digest.
func (l *BuiltinLM) Identity() string { return "builtin:" + l.Digest }

type sampleKey struct {
	temp, topP float64
	topK, max  int
	stop       string
	seed       uint64
	logprobs   bool
	n          int
	schema     string
}

// Generate batches requests with identical sampling options into one
// gpt.Generate call each. Sample i of a request depends only on the model,
// the prompt, the options and i (gpt.SampleSeed).
func (l *BuiltinLM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	out := make([][]runtime.Completion, len(reqs))
	groups := map[sampleKey][]int{}
	var keys []sampleKey
	for i, r := range reqs {
		stop, _ := json.Marshal(r.Stop)
		k := sampleKey{r.Temperature, r.TopP, r.TopK, r.MaxTokens, string(stop), r.Seed, r.LogProbs, r.N, string(r.Schema)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range keys {
		idx := groups[k]
		if k.n <= 0 {
			for _, i := range idx {
				out[i] = []runtime.Completion{}
			}
			continue
		}
		prompts := make([]string, len(idx))
		for j, i := range idx {
			prompts[j] = RequestPrompt(reqs[i])
		}
		r0 := reqs[idx[0]]
		opts := gpt.SampleOptions{Temperature: k.temp, TopP: k.topP, TopK: k.topK, MaxTokens: k.max, Stop: r0.Stop, Seed: k.seed}
		if k.schema != "" {
			c, err := Constrainer(l.Model, r0.Schema)
			if err != nil {
				return nil, fmt.Errorf("builtin model %s: %w", l.Digest, err)
			}
			opts.Constrain = c
			// Room for the schema's shortest document, per request, so the
			// error names the request (gpt would refuse it too).
			need, maxSeq := c().MinClose(), l.Model.Config().MaxSeq
			for j, i := range idx {
				room := maxSeq - len([]rune(prompts[j])) - 1
				if k.max > 0 {
					room = min(room, k.max)
				}
				if room < need {
					return nil, &runtime.RequestError{Model: "builtin model " + l.Digest, Request: i, Sample: -1, Prompt: promptPrefix(prompts[j]),
						Err: fmt.Errorf("the shortest document of the schema is %d tokens, more than the %d this request leaves (max_tokens %d; max_seq %d less the prompt)", need, room, k.max, maxSeq)}
				}
			}
		}
		res, err := l.Model.Generate(ctx, prompts, k.n, opts)
		if err != nil {
			return nil, fmt.Errorf("builtin model %s: %w", l.Digest, err)
		}
		for j, i := range idx {
			cs := make([]runtime.Completion, len(res[j]))
			for s, c := range res[j] {
				cs[s] = runtime.Completion{Text: c.Text, FinishReason: c.FinishReason, Tokens: c.Tokens}
				if k.logprobs {
					cs[s].LogProb = c.LogProb
				}
			}
			out[i] = cs
		}
	}
	return out, nil
}

// machines caches compiled schemas by their JSON: at most maxMachines
// (a spec has a few; `ouro serve`'s clients may send any number).
var (
	machines  sync.Map // string → *structured.Machine
	nMachines atomic.Int64
)

const maxMachines = 256

// Constrainer is constrained decoding for a JSON Schema document on model
// m (the builtin provider's, and `ouro serve`'s): a gpt.Constraint per
// sample, from structured.Parse's reading of the schema. A schema outside
// the subset, or one m's vocabulary cannot write, is an error.
func Constrainer(m *gpt.Model, schema []byte) (func() gpt.Constraint, error) {
	var mc *structured.Machine
	if v, ok := machines.Load(string(schema)); ok {
		mc = v.(*structured.Machine)
	} else {
		n, err := structured.Parse(schema)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		mc = structured.Compile(n)
		if nMachines.Add(1) <= maxMachines {
			machines.Store(string(schema), mc)
		}
	}
	return constrainer(m, mc)
}

func constrainer(m *gpt.Model, mc *structured.Machine) (func() gpt.Constraint, error) {
	if err := mc.Vocabulary(m.HasChar); err != nil {
		return nil, fmt.Errorf("cannot write documents of the schema: %w", err)
	}
	return func() gpt.Constraint { return mc.NewDecoder() }, nil
}

var jsonObject = structured.Compile(structured.JSONObject())

// JSONObjectConstrainer is constrained decoding of any JSON object
// (OpenAI's json_object mode, for `ouro serve`), compact as with a schema.
func JSONObjectConstrainer(m *gpt.Model) (func() gpt.Constraint, error) {
	return constrainer(m, jsonObject)
}

// LogProb is log p(continuation | prompt) under the model.
func (l *BuiltinLM) LogProb(ctx context.Context, prompt, continuation string) (float64, error) {
	lp, _, err := l.Model.LogProb(prompt, continuation)
	return lp, err
}

var _ runtime.Scorer = (*BuiltinLM)(nil)
