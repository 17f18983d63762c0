package providers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Command is the provider of external generator processes. Per batch of
// requests it starts the command once, writes one JSON request per line to
// its stdin and reads one JSON answer per request from its stdout (the
// contract in docs/providers.md).
type Command struct{}

func (*Command) Name() string { return "command" }
func (*Command) Version() int { return 1 }

// CommandConfig is the configuration of a command model value.
type CommandConfig struct {
	Command  []string          `json:"command"`
	Env      map[string]string `json:"env,omitempty"`
	Identity string            `json:"identity,omitempty"`
	Timeout  string            `json:"timeout"`
}

func (c CommandConfig) digest() string {
	h := sha256.New()
	h.Write([]byte("ouro-command\x00"))
	for _, a := range c.Command {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	h.Write([]byte(c.Identity))
	return "command:" + hex.EncodeToString(h.Sum(nil))
}

// Resolve: the model's identity is a hash of the command line and the
// `identity` string (bump it when the program or its weights change).
func (*Command) Resolve(ctx context.Context, x *runtime.Exec) (compiler.ModelRef, error) {
	c := CommandConfig{Command: params.Strings(x, "command"), Env: params.StringMap(x, "env"), Identity: params.String(x, "identity", ""), Timeout: params.String(x, "timeout", "10m")}
	if len(c.Command) == 0 {
		return compiler.ModelRef{}, errors.New("command model: command is empty")
	}
	if _, err := params.Duration("timeout", c.Timeout, 10*time.Minute); err != nil {
		return compiler.ModelRef{}, fmt.Errorf("command model: %w", err)
	}
	cfg, _ := json.Marshal(c)
	addr := ""
	if x.Node != nil {
		addr = x.Node.Address
	}
	return compiler.ModelRef{Address: addr, Provider: "command", Digest: c.digest(), Config: string(cfg)}, nil
}

func (*Command) Open(ctx context.Context, ref compiler.ModelRef, env *runtime.Env) (runtime.LM, error) {
	if ref.Provider != "command" {
		return nil, fmt.Errorf("command provider cannot open a %q model", ref.Provider)
	}
	var c CommandConfig
	if err := json.Unmarshal([]byte(ref.Config), &c); err != nil || len(c.Command) == 0 {
		return nil, fmt.Errorf("command model %s: bad config", ref.Digest)
	}
	timeout, err := params.Duration("timeout", c.Timeout, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	dir := ""
	if env != nil {
		dir = env.SpecDir
	}
	return &CommandLM{cfg: c, id: ref.Digest, dir: dir, timeout: timeout}, nil
}

// CommandLM runs an external generator.
type CommandLM struct {
	cfg     CommandConfig
	id      string
	dir     string
	timeout time.Duration
}

func (l *CommandLM) Identity() string { return l.id }

// CommandRequest is one line of the generator's stdin.
type CommandRequest struct {
	Index int `json:"index"`
	// Prompt is always set: the request's prompt, or its messages rendered
	// with the chat template (ChatPrompt); Messages is set for chat requests.
	Prompt      string            `json:"prompt"`
	Messages    []runtime.Message `json:"messages,omitempty"`
	N           int               `json:"n"`
	Temperature float64           `json:"temperature"`
	TopP        float64           `json:"top_p"`
	TopK        int               `json:"top_k"`
	MaxTokens   int               `json:"max_tokens"`
	Stop        []string          `json:"stop"`
	Seed        uint64            `json:"seed"`
	LogProbs    bool              `json:"logprobs"`
	// Schema is the JSON Schema the completions must be documents of
	// (the stage's schema), absent without one.
	Schema json.RawMessage `json:"schema,omitempty"`
}

// CommandAnswer is one line of the generator's stdout.
type CommandAnswer struct {
	Index       int    `json:"index"`
	Error       string `json:"error,omitempty"`
	Completions []struct {
		Text         string  `json:"text"`
		FinishReason string  `json:"finish_reason"`
		LogProb      float64 `json:"logprob"`
		Tokens       int     `json:"tokens"`
	} `json:"completions"`
}

// Generate runs the command once for the whole batch.
func (l *CommandLM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for i, r := range reqs {
		stop := r.Stop
		if stop == nil {
			stop = []string{}
		}
		if err := enc.Encode(CommandRequest{Index: i, Prompt: RequestPrompt(r), Messages: r.Messages, N: r.N, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, MaxTokens: r.MaxTokens, Stop: stop, Seed: r.Seed, LogProbs: r.LogProbs, Schema: r.Schema}); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.cfg.Command[0], l.cfg.Command[1:]...)
	cmd.Dir = l.dir
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(l.cfg.Env))
	for k := range l.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+l.cfg.Env[k])
	}
	cmd.Stdin = &in
	var out, stderr bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &tail{buf: &stderr, max: 4096}
	name := l.cfg.Command[0]
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("generator %s: timed out after %s", name, l.timeout)
		}
		return nil, fmt.Errorf("generator %s: %w%s", name, err, stderrNote(stderr.String()))
	}
	res := make([][]runtime.Completion, len(reqs))
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var a CommandAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("generator %s: stdout line %d: %w", name, line, err)
		}
		if a.Index < 0 || a.Index >= len(reqs) {
			return nil, fmt.Errorf("generator %s: stdout line %d: index %d out of range", name, line, a.Index)
		}
		r := reqs[a.Index]
		if a.Error != "" {
			return nil, fmt.Errorf("generator %s: request %d (%q): %s", name, a.Index, promptPrefix(RequestPrompt(r)), a.Error)
		}
		if len(a.Completions) < r.N {
			return nil, fmt.Errorf("generator %s: request %d: %d of %d completions", name, a.Index, len(a.Completions), r.N)
		}
		cs := make([]runtime.Completion, r.N)
		for i := range cs {
			c := a.Completions[i]
			fr := c.FinishReason
			if fr == "" {
				fr = "stop"
			}
			cs[i] = runtime.Completion{Text: c.Text, FinishReason: fr, LogProb: c.LogProb, Tokens: c.Tokens}
		}
		res[a.Index] = cs
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("generator %s: stdout: %w", name, err)
	}
	for i, cs := range res {
		if cs == nil {
			return nil, fmt.Errorf("generator %s: no answer for request %d (%q)", name, i, promptPrefix(RequestPrompt(reqs[i])))
		}
	}
	return res, nil
}

// tail keeps the last max bytes written.
type tail struct {
	buf *bytes.Buffer
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func stderrNote(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}
