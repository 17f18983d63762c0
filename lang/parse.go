package lang

import (
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FileSuffix is the suffix of spec files picked up from a directory.
const FileSuffix = ".loop.hcl"

// Parser parses and decodes specs. It remembers every file it parsed so
// diagnostics can be rendered with snippets.
type Parser struct {
	p       *hclparse.Parser
	overlay map[string][]byte
	decoded map[string]bool // module specs whose diagnostics were reported
}

// NewParser returns a parser with no files loaded.
func NewParser() *Parser { return &Parser{p: hclparse.NewParser(), decoded: map[string]bool{}} }

// Files returns every file parsed so far, for diagnostic rendering.
func (p *Parser) Files() map[string]*hcl.File { return p.p.Files() }

// LoadPath loads a spec from a file or from every *.loop.hcl file of a
// directory (sorted by name, so block order is deterministic), and the
// modules it uses.
func (p *Parser) LoadPath(path string) (*Config, hcl.Diagnostics) {
	files, d := specFiles(path)
	if d != nil {
		return nil, hcl.Diagnostics{d}
	}
	return p.load(files, path)
}

// LoadFiles parses and decodes the named files as one spec.
func (p *Parser) LoadFiles(names []string) (*Config, hcl.Diagnostics) {
	return p.LoadFilesOverlay(names, nil)
}

// LoadFilesOverlay parses and decodes the named files as one spec, as
// LoadFiles does, but takes a file's contents from overlay when it holds the
// file's name (an editor's unsaved buffer) and from disk otherwise; the
// files of the modules it uses too.
func (p *Parser) LoadFilesOverlay(names []string, overlay map[string][]byte) (*Config, hcl.Diagnostics) {
	p.overlay = overlay
	defer func() { p.overlay = nil }()
	dir := "."
	if len(names) > 0 {
		dir = filepath.Dir(names[0])
	}
	if len(names) == 1 {
		return p.load(names, names[0])
	}
	return p.load(names, dir)
}

// load decodes a root spec made of files, found at path (a file or a
// directory), and loads its modules.
func (p *Parser) load(files []string, path string) (*Config, hcl.Diagnostics) {
	cfg, diags := p.loadFiles(files)
	cfg.Dir = path
	if info, err := os.Stat(path); err == nil && !info.IsDir() {
		cfg.Dir = filepath.Dir(path)
	}
	diags = append(diags, p.loadModules(cfg, rootChain(path))...)
	cfg.Sources = p.p.Sources() // a copy: now with the modules' files
	return cfg, diags
}

// loadFiles parses and decodes files as one spec, without its modules.
func (p *Parser) loadFiles(names []string) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, name := range names {
		var f *hcl.File
		var fd hcl.Diagnostics
		if src, ok := p.overlay[name]; ok {
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
	cfg.Paths = append([]string(nil), names...)
	return cfg, diags
}

// LoadSource parses and decodes one spec held in memory, as if read from
// filename. Used by tests, fuzzing and tools. Module sources are relative
// to filename's folder.
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
	cfg.Paths = []string{filename}
	cfg.Dir = filepath.Dir(filename)
	diags = append(diags, p.loadModules(cfg, rootChain(filename))...)
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
