package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/text/unicode/norm"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Verify checks an answer against an expected value and adds a boolean.
type Verify struct{}

func (Verify) Name() string { return "verify" }
func (Verify) Version() int { return 1 }

func (Verify) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	in, err := inputSchema(x, "input")
	if err != nil {
		return cty.NilVal, err
	}
	check := params.String(x, "check", "exact")
	as := params.String(x, "as", "correct")
	_, hasExpected := x.Items["expected"]
	if check != "command" && !hasExpected {
		return cty.NilVal, stageError(x, "check %q needs expected", check)
	}
	tol, _ := params.Number(x, "tolerance")
	var cmd []string
	var timeout time.Duration
	if check == "command" {
		cmd, err = stringList(x.Param("command"))
		if err != nil || len(cmd) == 0 {
			return cty.NilVal, stageError(x, "check \"command\" needs command = [program, args...]")
		}
		timeout, err = time.ParseDuration(params.String(x, "timeout", "1m"))
		if err != nil || timeout <= 0 {
			return cty.NilVal, stageError(x, "timeout: %q is not a positive Go duration such as \"30s\"", params.String(x, "timeout", "1m"))
		}
	}
	var regexps sync.Map
	var passed, timeouts counter
	out := extend(in, map[string]cty.Type{as: cty.Bool})
	v, err := stream(ctx, x, "input", out, streamOpts{}, func(n int64, rec cty.Value) (cty.Value, bool, error) {
		answer, err := item(x, "answer", rec, cty.DynamicPseudoType)
		if err != nil {
			return cty.NilVal, false, recordError(x, n, err)
		}
		expected, err := item(x, "expected", rec, cty.DynamicPseudoType)
		if err != nil {
			return cty.NilVal, false, recordError(x, n, err)
		}
		var ok bool
		switch check {
		case "exact":
			ok = exactEqual(answer, expected)
		case "numeric":
			ok = numericEqual(answer, expected, tol)
		case "normalized":
			a, aok := asString(answer)
			e, eok := asString(expected)
			ok = aok && eok && normalize(a) == normalize(e)
		case "regex":
			a, aok := asString(answer)
			e, eok := asString(expected)
			if !aok || !eok {
				break
			}
			var re *regexp.Regexp
			if c, hit := regexps.Load(e); hit {
				re = c.(*regexp.Regexp)
			} else {
				re, err = regexp.Compile(e)
				if err != nil {
					return cty.NilVal, false, recordError(x, n, fmt.Errorf("expected: invalid regular expression %q: %v", e, err))
				}
				regexps.Store(e, re)
			}
			ok = re.MatchString(a)
		case "json":
			ok = jsonEqual(answer, expected)
		case "command":
			var timedOut bool
			ok, timedOut, err = runChecker(ctx, x, cmd, timeout, answer, expected, rec)
			if err != nil {
				return cty.NilVal, false, recordError(x, n, err)
			}
			if timedOut {
				timeouts.add(1)
			}
		default:
			return cty.NilVal, false, stageError(x, "unknown check %q", check)
		}
		if ok {
			passed.add(1)
		}
		return with(rec, map[string]cty.Value{as: cty.BoolVal(ok)}), true, nil
	})
	if err == nil {
		x.Count("passed", passed.load())
		if timeouts.load() > 0 {
			x.Count("timeouts", timeouts.load())
		}
	}
	return v, err
}

// exactEqual compares two values; when their types differ, expected is
// converted to answer's type first. Nulls are never equal.
func exactEqual(a, e cty.Value) bool {
	if a.IsNull() || e.IsNull() {
		return false
	}
	if !a.Type().Equals(e.Type()) {
		c, err := convert.Convert(e, a.Type())
		if err != nil {
			return false
		}
		e = c
	}
	eq := a.Equals(e)
	return eq.IsKnown() && !eq.IsNull() && eq.True()
}

// numericEqual converts both to numbers (strings are parsed, ignoring
// thousands separators and surrounding spaces) and compares within tol.
func numericEqual(a, e cty.Value, tol float64) bool {
	af, ok1 := asNumber(a)
	ef, ok2 := asNumber(e)
	if !ok1 || !ok2 {
		return false
	}
	if af.Cmp(ef) == 0 {
		return true
	}
	d := new(big.Float).Sub(af, ef)
	f, _ := d.Abs(d).Float64()
	return f <= tol && !math.IsNaN(f)
}

func asNumber(v cty.Value) (*big.Float, bool) {
	if v.IsNull() || !v.IsKnown() {
		return nil, false
	}
	switch v.Type() {
	case cty.Number:
		return v.AsBigFloat(), true
	case cty.String:
		s := strings.TrimSpace(strings.ReplaceAll(v.AsString(), ",", ""))
		n, err := cty.ParseNumberVal(s)
		if err != nil {
			return nil, false
		}
		return n.AsBigFloat(), true
	}
	return nil, false
}

func asString(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	c, err := convert.Convert(v, cty.String)
	if err != nil || c.IsNull() {
		return "", false
	}
	return c.AsString(), true
}

// normalize is SQuAD-style answer normalisation after Unicode NFKC: lower
// case, punctuation removed, the articles a/an/the removed, whitespace
// collapsed.
func normalize(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	out := words[:0]
	for _, w := range words {
		if w == "a" || w == "an" || w == "the" {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// jsonEqual compares two values as JSON documents: a string is parsed as
// JSON text, anything else is taken as the value it is.
func jsonEqual(a, e cty.Value) bool {
	ag, ok1 := asJSON(a)
	eg, ok2 := asJSON(e)
	return ok1 && ok2 && reflect.DeepEqual(ag, eg)
}

func asJSON(v cty.Value) (any, bool) {
	if v.IsNull() || !v.IsKnown() {
		return nil, false
	}
	var b []byte
	if v.Type() == cty.String {
		b = []byte(v.AsString())
	} else {
		var err error
		b, err = ctyjson.Marshal(v, v.Type())
		if err != nil {
			return nil, false
		}
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, false
	}
	return g, true
}

// runChecker runs a checker command with {answer, expected, item} as JSON
// on stdin. Exit 0 passes, another exit status fails, a timeout fails.
func runChecker(ctx context.Context, x *runtime.Exec, argv []string, timeout time.Duration, answer, expected, rec cty.Value) (ok, timedOut bool, err error) {
	in, err := marshalObject(map[string]cty.Value{"answer": answer, "expected": expected, "item": rec})
	if err != nil {
		return false, false, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Dir = specDir(x)
	cmd.Stdin = bytes.NewReader(append(in, '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &limitBuffer{b: &stderr, max: 4096}
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	err = cmd.Run()
	if err == nil {
		return true, false, nil
	}
	if ctx.Err() != nil {
		return false, false, ctx.Err()
	}
	if cctx.Err() != nil {
		return false, true, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, false, nil
	}
	return false, false, fmt.Errorf("checker %q: %v", strings.Join(argv, " "), err)
}

// marshalObject encodes named values as one JSON object.
func marshalObject(m map[string]cty.Value) ([]byte, error) {
	obj := cty.ObjectVal(m)
	return ctyjson.Marshal(obj, obj.Type())
}

func stringList(v cty.Value) ([]string, error) {
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil, nil
	}
	if !v.CanIterateElements() {
		return nil, errors.New("not a list")
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, ok := asString(e)
		if !ok {
			return nil, errors.New("not a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// limitBuffer keeps the first max bytes written to it.
type limitBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
