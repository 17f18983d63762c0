package modelops

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
)

func commandTrain(ctx context.Context, x *runtime.Exec, kind string, rows []map[string]string) (cty.Value, error) {
	return cty.NilVal, fmt.Errorf("%s: trainer = \"command\" is not implemented yet", addr(x))
}
