package pattern

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a pattern's source. Offset and End are byte
// offsets into Pattern.Source delimiting the offending text (End == Offset
// for a point, e.g. an empty pattern).
type Error struct {
	Offset, End int
	Summary     string // short, lower case, e.g. `unknown capture type "numbr"`
	Detail      string // a full sentence with the fix, may be empty
}

func (e *Error) Error() string {
	s := fmt.Sprintf("pattern:%d: %s", e.Offset, e.Summary)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ErrorList is the error Parse returns: every problem found, in source order.
// errors.As(err, &e) with e *Error finds the first one.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As and errors.Is see each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
	return l
}
