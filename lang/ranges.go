package lang

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
)

func sortByRange[T any](xs []T, rng func(T) hcl.Range) {
	sort.SliceStable(xs, func(i, j int) bool { return RangeLess(rng(xs[i]), rng(xs[j])) })
}

// RangeLess orders ranges by file name, then start offset.
func RangeLess(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	return a.Start.Byte < b.Start.Byte
}
