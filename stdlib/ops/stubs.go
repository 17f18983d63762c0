package ops

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

type notYet struct{}

func (notYet) Version() int { return 1 }
func (notYet) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	return cty.NilVal, stageError(x, "operator %s is not implemented yet", x.Sig.Name)
}

type Command struct{ notYet }

func (Command) Name() string { return "command" }
