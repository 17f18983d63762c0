package modelops

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
)

// gateLM is a Pipeliner whose call holding request 0 waits until a request
// of a later chunk has started: only a pipelined caller finishes.
type gateLM struct {
	later    chan struct{}
	once     sync.Once
	failFrom int // requests from here fail (0: none)
}

func (g *gateLM) Identity() string { return "gate" }
func (g *gateLM) InFlight() int    { return 64 }

func (g *gateLM) Generate(ctx context.Context, reqs []runtime.GenRequest) ([][]runtime.Completion, error) {
	first := reqs[0].Seed
	if first >= chunk {
		g.once.Do(func() { close(g.later) })
	}
	if g.failFrom > 0 && int(first) >= g.failFrom {
		return nil, errors.New("server on fire")
	}
	if first == 0 {
		select {
		case <-g.later:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Second): // a guard against hanging, not a timing assertion
			return nil, errors.New("the next chunk never started: calls are not pipelined")
		}
	}
	out := make([][]runtime.Completion, len(reqs))
	for i, r := range reqs {
		out[i] = []runtime.Completion{{Text: strings.Repeat("x", int(r.Seed%3)), FinishReason: "stop"}}
	}
	return out, nil
}

func TestGenerateAllPipelines(t *testing.T) {
	x := &runtime.Exec{Node: &compiler.Node{Address: "stage.g"}}
	reqs := make([]runtime.GenRequest, 3*chunk+5)
	for i := range reqs {
		reqs[i] = runtime.GenRequest{Prompt: "p", N: 1, Seed: uint64(i)}
	}
	out, err := generateAll(context.Background(), x, &gateLM{later: make(chan struct{})}, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, cs := range out { // in request order
		if len(cs) != 1 || len(cs[0].Text) != i%3 {
			t.Fatalf("request %d: %+v", i, cs)
		}
	}
	// A failing chunk's own error is reported, not the cancellation it
	// causes in the chunk beside it.
	_, err = generateAll(context.Background(), x, &gateLM{later: make(chan struct{}), failFrom: chunk}, reqs)
	if err == nil || !strings.Contains(err.Error(), "server on fire") {
		t.Fatalf("err = %v", err)
	}
}
