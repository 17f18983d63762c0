package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FileSuffix is the suffix of spec files picked up from a directory.
const FileSuffix = ".loop.hcl"

// Parser parses and decodes specs. It remembers every file it parsed so
// diagnostics can be rendered with snippets.
type Parser struct {
	p *hclparse.Parser
}

// NewParser returns a parser with no files loaded.
func NewParser() *Parser { return &Parser{p: hclparse.NewParser()} }

// Files returns every file parsed so far, for diagnostic rendering.
func (p *Parser) Files() map[string]*hcl.File { return p.p.Files() }

// LoadPath loads a spec from a file or from every *.loop.hcl file of a
// directory (sorted by name, so block order is deterministic).
func (p *Parser) LoadPath(path string) (*Config, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec",
			Detail:   err.Error(),
		}}
	}
	if !info.IsDir() {
		return p.LoadFiles([]string{path})
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read spec directory", Detail: err.Error()}}
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No spec files",
			Detail:   fmt.Sprintf("The directory %s contains no *%s files.", path, FileSuffix),
		}}
	}
	sort.Strings(files)
	return p.LoadFiles(files)
}

// LoadFiles parses and decodes the named files as one spec.
func (p *Parser) LoadFiles(names []string) (*Config, hcl.Diagnostics) {
	return p.LoadFilesOverlay(names, nil)
}

// LoadFilesOverlay parses and decodes the named files as one spec, as
// LoadFiles does, but takes a file's contents from overlay when it holds the
// file's name (an editor's unsaved buffer) and from disk otherwise.
func (p *Parser) LoadFilesOverlay(names []string, overlay map[string][]byte) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, name := range names {
		var f *hcl.File
		var fd hcl.Diagnostics
		if src, ok := overlay[name]; ok {
			f, fd = p.p.ParseHCL(src, name)
		} else {
			f, fd = p.p.ParseHCLFile(name)
		}
		diags = append(diags, fd...)
		if f != nil {
			files = append(files, f)
		}
	}
	cfg, dd := decodeFiles(files)
	diags = append(diags, dd...)
	cfg.Files = p.p.Files()
	cfg.Sources = p.p.Sources()
	return cfg, diags
}

// LoadSource parses and decodes one spec held in memory, as if read from
// filename. Used by tests, fuzzing and tools.
func (p *Parser) LoadSource(src []byte, filename string) (*Config, hcl.Diagnostics) {
	f, diags := p.p.ParseHCL(src, filename)
	var files []*hcl.File
	if f != nil {
		files = append(files, f)
	}
	cfg, dd := decodeFiles(files)
	diags = append(diags, dd...)
	cfg.Files = p.p.Files()
	cfg.Sources = p.p.Sources()
	return cfg, diags
}

// VarFileEntry is one `name = value` line of a -var-file.
type VarFileEntry struct {
	Name  string
	Expr  hcl.Expression
	Range hcl.Range
}

// LoadVarFile parses a -var-file (HCL attributes, one per variable). The
// file is remembered for diagnostic snippets.
func (p *Parser) LoadVarFile(name string) ([]VarFileEntry, hcl.Diagnostics) {
	f, diags := p.p.ParseHCLFile(name)
	if f == nil {
		return nil, diags
	}
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	var out []VarFileEntry
	for _, a := range sortedAttrs(attrs) {
		out = append(out, VarFileEntry{Name: a.Name, Expr: a.Expr, Range: a.Range})
	}
	return out, diags
}
