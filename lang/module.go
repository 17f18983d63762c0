package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Module is a `module "name" { source = "./path" … }` block: another spec
// (a folder or a file of *.loop.hcl), instantiated with the block's other
// attributes as the values of its variables. Loading follows `source`
// relative to the folder of the file holding the block and decodes the
// module's spec into Config, recursively; a module that cannot be loaded
// has a nil Config (the reason is a diagnostic at SourceRange). Arguments
// stay unevaluated: the compiler resolves them in the caller's scope and
// checks them against the module's variables.
type Module struct {
	Name   string
	Source string
	// Args are the module's arguments (every attribute but source, count
	// and for_each), in source order.
	Args []*hcl.Attribute
	Repeat
	// Config is the module's decoded spec; nil when it could not be loaded.
	Config *Config
	// Loop is the loop the block is in (its instance runs once per round);
	// nil at top level.
	Loop *Loop

	DeclRange   hcl.Range
	NameRange   hcl.Range
	SourceRange hcl.Range
}

var moduleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "source", Required: true}, {Name: "count"}, {Name: "for_each"}},
}

func decodeModule(b *hcl.Block) (*Module, hcl.Diagnostics) {
	m := &Module{Name: b.Labels[0], DeclRange: b.DefRange, NameRange: b.LabelRanges[0], SourceRange: b.DefRange}
	content, remain, diags := b.Body.PartialContent(moduleSchema)
	m.Repeat = repeatOf(content)
	if a, ok := content.Attributes["source"]; ok {
		m.SourceRange = a.Expr.Range()
		v, d := a.Expr.Value(nil)
		if d.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid module source",
				Detail:   "A module's source must be a string literal: a local path such as \"./eval\" or \"../shared/eval\".",
				Subject:  a.Expr.Range().Ptr(),
			})
		} else {
			m.Source = v.AsString()
		}
	}
	attrs, d := remain.JustAttributes()
	diags = append(diags, d...)
	m.Args = sortedAttrs(attrs)
	return m, diags
}

// specFiles lists the files a spec at path consists of: the file itself, or
// every *.loop.hcl of the directory, sorted. what names the spec in
// diagnostics ("spec", "module source").
func specFiles(path string) ([]string, *hcl.Diagnostic) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read spec", Detail: err.Error()}
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read spec directory", Detail: err.Error()}
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No spec files",
			Detail:   fmt.Sprintf("The directory %s contains no *%s files.", path, FileSuffix),
		}
	}
	sort.Strings(files)
	return files, nil
}

// link is one step of the chain of module calls from the root spec, for
// cycle detection and the cycle's message.
type link struct {
	dir  string // absolute, cleaned
	name string // "module.eval"; "" for the root
	src  string // the source as written; "" for the root
}

// loadModules loads the sources of cfg's module blocks, and theirs, into
// each Module.Config. chain holds the specs from the root to cfg.
func (p *Parser) loadModules(cfg *Config, chain []link) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, m := range cfg.Modules {
		if m.Source == "" {
			continue // reported by decodeModule
		}
		bad := func(summary, detail string, args ...any) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: m.SourceRange.Ptr()})
		}
		src := filepath.ToSlash(m.Source)
		if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
			bad("Invalid module source", "%q is not a local path. A module's source is a folder (or a file) of *%s files, written relative to the file holding the module block and starting with ./ or ../; registries and URLs are not supported.", m.Source, FileSuffix)
			continue
		}
		path := filepath.Join(filepath.Dir(m.DeclRange.Filename), filepath.FromSlash(src))
		abs, err := filepath.Abs(path)
		if err != nil {
			bad("Module source not found", "%s: %s.", m.Source, err)
			continue
		}
		key := strings.TrimSuffix(abs, string(filepath.Separator))
		name := "module." + m.Name
		if parent := chain[len(chain)-1].name; parent != "" {
			name = parent + "." + name
		}
		cycle := false
		for i, l := range chain {
			if l.dir != key {
				continue
			}
			var names []string
			for _, c := range chain[max(i, 1):] {
				names = append(names, fmt.Sprintf("%s (%s)", c.name, c.src))
			}
			if i == 0 {
				names = append([]string{"the spec"}, names...)
			}
			names = append(names, fmt.Sprintf("%s (%s)", name, m.Source))
			bad("Module cycle", "Module %q uses a spec that is already being loaded, so the modules would include each other forever:\n  %s", m.Name, strings.Join(names, " → "))
			cycle = true
			break
		}
		if cycle {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			bad("Module source not found", "Module %q has source %q, but %s does not exist (a source is relative to the folder of the file holding the module block).", m.Name, m.Source, path)
			continue
		}
		files, d := specFiles(path)
		if d != nil {
			bad("Module source has no spec", "Module %q: %s", m.Name, d.Detail)
			continue
		}
		child, cd := p.loadFiles(files)
		// A module used twice is decoded twice (each instance gets its own
		// blocks) but its own mistakes are reported once.
		seen := p.decoded[key]
		p.decoded[key] = true
		if !seen {
			diags = append(diags, cd...)
		}
		child.Dir = path
		md := p.loadModules(child, append(chain[:len(chain):len(chain)], link{dir: key, name: name, src: m.Source}))
		if !seen {
			diags = append(diags, md...)
		}
		m.Config = child
	}
	return diags
}

// rootChain is the module chain of a root spec in dir.
func rootChain(dir string) []link {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return []link{{dir: strings.TrimSuffix(abs, string(filepath.Separator))}}
}
