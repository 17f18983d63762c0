package ops

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/params"
)

// Command runs a program: input records as JSONL on stdin, output records
// as JSONL on stdout, checked against the declared schema.
type Command struct{}

func (Command) Name() string { return "command" }
func (Command) Version() int { return 1 }

func (Command) Run(ctx context.Context, x *runtime.Exec) (cty.Value, error) {
	argv, err := stringList(x.Param("command"))
	if err != nil || len(argv) == 0 {
		return cty.NilVal, stageError(x, "command must be a non-empty list of strings")
	}
	name := strings.Join(argv, " ")
	schema, ok := x.Schemas["schema"]
	if !ok || !schema.IsObjectType() {
		return cty.NilVal, stageError(x, "command needs schema = object({ ... })")
	}
	timeout, err := time.ParseDuration(params.String(x, "timeout", "10m"))
	if err != nil || timeout <= 0 {
		return cty.NilVal, stageError(x, "timeout: %q is not a positive Go duration such as \"30s\"", params.String(x, "timeout", "10m"))
	}
	dir := specDir(x)
	if d := params.String(x, "dir", ""); d != "" {
		dir = resolve(x, d)
	}
	env := os.Environ()
	if e := x.Param("env"); !e.IsNull() && e.IsWhollyKnown() && e.CanIterateElements() {
		var kv []string
		for it := e.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if s, ok := asString(v); ok {
				kv = append(kv, k.AsString()+"="+s)
			}
		}
		sort.Strings(kv)
		env = append(env, kv...)
	}
	_, hasInput := x.Params["input"]
	hasInput = hasInput && !x.Param("input").IsNull()

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &limitBuffer{b: &stderr, max: 8192}
	cmd.WaitDelay = 2 * time.Second
	setProcessGroup(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return cty.NilVal, stageError(x, "command %q: %v", name, err)
	}
	var stdin io.WriteCloser
	if hasInput {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return cty.NilVal, stageError(x, "command %q: %v", name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		return cty.NilVal, stageError(x, "command %q: %v", name, err)
	}
	feedErr := make(chan error, 1)
	if hasInput {
		go func() {
			bw := bufio.NewWriterSize(stdin, 256<<10)
			err := each(cctx, x, "input", func(n int64, rec cty.Value) error {
				b, err := ctyjson.Marshal(rec, rec.Type())
				if err != nil {
					return recordError(x, n, err)
				}
				bw.Write(b)
				return bw.WriteByte('\n')
			})
			if err == nil {
				err = bw.Flush()
			}
			stdin.Close()
			if errors.Is(err, os.ErrClosed) || isBrokenPipe(err) {
				err = nil // the program stopped reading; its exit status says why
			}
			feedErr <- err
		}()
	} else {
		feedErr <- nil
	}
	v, werr := x.WriteDataset(schema, func(write func(cty.Value) error) error {
		r := bufio.NewReaderSize(stdout, 256<<10)
		line := 0
		var buf []byte
		for {
			buf = buf[:0]
			var err error
			for {
				var chunk []byte
				chunk, err = r.ReadSlice('\n')
				buf = append(buf, chunk...)
				if err != bufio.ErrBufferFull {
					break
				}
			}
			if len(buf) == 0 && err != nil {
				break
			}
			line++
			text := bytes.TrimSpace(buf)
			if len(text) > 0 {
				raw, derr := decodeJSON(text)
				if derr != nil {
					return fmt.Errorf("output line %d: invalid JSON: %v", line, derr)
				}
				rec, cerr := toRecord(rawRec{loc: fmt.Sprintf("output line %d", line), v: raw}, schema, false)
				if cerr != nil {
					return cerr
				}
				if err := write(rec); err != nil {
					return fmt.Errorf("output line %d: %v", line, err)
				}
			}
			if err != nil {
				break
			}
		}
		io.Copy(io.Discard, stdout)
		if err := <-feedErr; err != nil {
			return err
		}
		if err := cmd.Wait(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if cctx.Err() != nil {
				return fmt.Errorf("timed out after %s", timeout)
			}
			return fmt.Errorf("%v%s", err, stderrTail(stderr.String()))
		}
		return nil
	})
	if werr != nil {
		if cmd.ProcessState == nil {
			cancel()
			cmd.Wait()
		}
		return cty.NilVal, stageError(x, "command %q: %v", name, werr)
	}
	return v, nil
}

func stderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return "; stderr: " + s
}

func isBrokenPipe(err error) bool {
	return err != nil && strings.Contains(err.Error(), "broken pipe")
}
