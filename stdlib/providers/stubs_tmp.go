package providers

import (
	"context"
	"errors"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/runtime"
)

// OpenAI is the provider of OpenAI-compatible servers.
type OpenAI struct{}

func (*OpenAI) Name() string { return "openai" }
func (*OpenAI) Version() int { return 1 }
func (*OpenAI) Resolve(ctx context.Context, x *runtime.Exec) (compiler.ModelRef, error) {
	return compiler.ModelRef{}, errors.New("openai provider: not implemented yet")
}
func (*OpenAI) Open(ctx context.Context, ref compiler.ModelRef, env *runtime.Env) (runtime.LM, error) {
	return nil, errors.New("openai provider: not implemented yet")
}

// Command is the provider of external generator processes.
type Command struct{}

func (*Command) Name() string { return "command" }
func (*Command) Version() int { return 1 }
func (*Command) Resolve(ctx context.Context, x *runtime.Exec) (compiler.ModelRef, error) {
	return compiler.ModelRef{}, errors.New("command provider: not implemented yet")
}
func (*Command) Open(ctx context.Context, ref compiler.ModelRef, env *runtime.Env) (runtime.LM, error) {
	return nil, errors.New("command provider: not implemented yet")
}
