package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ouroloop/ouro/compiler"
	"github.com/ouroloop/ouro/lang"
	"github.com/ouroloop/ouro/runtime/store"
)

// The plan cache lets `ouro run` skip parsing and compiling a spec it has
// compiled before: the store keeps, per spec path, the last plan compiled
// without any diagnostic, under a key that hashes everything the plan
// depends on — this ouro binary (path, size, modification time, version),
// the spec path as given (diagnostics name files by it), every spec file's
// name and contents, and the -var and -var-file inputs. Compiling is
// deterministic given those, so a hit is the plan compiling would return.

// planCacheKey returns the plan-cache key of a spec, or false if an input
// cannot be read (then the spec is simply compiled).
func planCacheKey(path string, f *specFlags) (string, bool) {
	h := sha256.New()
	put := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:", len(p))
			io.WriteString(h, p)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	info, err := os.Stat(exe)
	if err != nil {
		return "", false
	}
	put("ouro plan cache 1", Version, fmt.Sprint(compiler.FormatVersion), exe,
		fmt.Sprint(info.Size()), fmt.Sprint(info.ModTime().UnixNano()), path)
	files, ok := loadedSpecFiles(path)
	if !ok {
		return "", false
	}
	usesModules := false
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", false
		}
		put("file", name, string(b))
		usesModules = usesModules || bytes.Contains(b, []byte("module"))
	}
	if usesModules {
		// The modules' files are part of the plan too. Finding them takes
		// a parse, which only a spec that may use modules pays.
		mods, ok := moduleFiles(path, files)
		if !ok {
			return "", false
		}
		for _, name := range mods {
			b, err := os.ReadFile(name)
			if err != nil {
				return "", false
			}
			put("module file", name, string(b))
		}
	}
	for _, v := range f.vars {
		put("var", v)
	}
	for _, vf := range f.varFiles {
		b, err := os.ReadFile(vf)
		if err != nil {
			return "", false
		}
		put("var-file", vf, string(b))
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// loadedSpecFiles lists the files lang.Parser.LoadPath reads for path.
func loadedSpecFiles(path string) ([]string, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	if !info.IsDir() {
		return []string{path}, true
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, false
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), lang.FileSuffix) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(files)
	return files, len(files) > 0
}

// moduleFiles lists the files of the modules a spec uses (and theirs),
// sorted; false when the spec does not load cleanly (then it is compiled).
func moduleFiles(path string, own []string) ([]string, bool) {
	p := lang.NewParser()
	if _, diags := p.LoadPath(path); diags.HasErrors() {
		return nil, false
	}
	skip := map[string]bool{}
	for _, f := range own {
		skip[f] = true
	}
	var out []string
	for name := range p.Files() {
		if !skip[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, true
}

// planSlot is the plan-cache slot of a spec: its absolute path.
func planSlot(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// cachedPlan returns the cached plan for key, or nil.
func cachedPlan(st *store.Store, path, key string) *compiler.Plan {
	b, ok, err := st.GetPlan(planSlot(path), key)
	if err != nil || !ok {
		return nil
	}
	p, err := compiler.DecodePlan(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return p
}

// cachePlan stores a plan compiled without diagnostics. Failing to cache
// is not an error: the next run compiles again.
func cachePlan(st *store.Store, path, key string, p *compiler.Plan) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	_ = st.PutPlan(planSlot(path), key, b)
}
