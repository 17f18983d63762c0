package modelops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/ouroloop/ouro/runtime"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/params"
)

// ExportFormats are the formats of ExportModel.
var ExportFormats = []string{"gguf", "hf"}

// ExportModel writes a builtin model to path: "gguf" as one GGUF file,
// "hf" as a Hugging Face folder. The result appears whole or not at all:
// a GGUF file is written beside path and renamed over it; a folder is
// written beside path and put in place of an earlier export (a folder
// holding only the files of an export), never of any other folder.
func ExportModel(m *gpt.Model, format, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	switch format {
	case "gguf":
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a folder; a GGUF export is one file", path)
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
		if err != nil {
			return err
		}
		err = m.WriteGGUF(tmp)
		if err == nil {
			err = tmp.Chmod(0o644)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
		return err
	case "hf":
		if err := checkReplaceable(path); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
		if err != nil {
			return err
		}
		ok := false
		defer func() {
			if !ok {
				os.RemoveAll(tmp)
			}
		}()
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		if err := m.WriteHF(tmp); err != nil {
			return err
		}
		old := ""
		if _, err := os.Stat(path); err == nil {
			old = tmp + ".old"
			if err := os.Rename(path, old); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, path); err != nil {
			if old != "" {
				os.Rename(old, path)
			}
			return err
		}
		ok = true
		if old != "" {
			return os.RemoveAll(old)
		}
		return nil
	default:
		return fmt.Errorf("unknown export format %q (want %s)", format, strings.Join(ExportFormats, " or "))
	}
}

// checkReplaceable allows a Hugging Face export to path when nothing is
// there, or an empty folder, or a folder holding only an export's files.
func checkReplaceable(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a file; a Hugging Face export is a folder", path)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !slices.Contains(gpt.HFFiles, e.Name()) {
			return fmt.Errorf("%s holds %s, which is not a file of an export; refusing to replace the folder", path, e.Name())
		}
	}
	return nil
}

// ExportModelOp is the export_model operator: it writes a builtin model as
// GGUF or a Hugging Face folder; its value is the model unchanged.
type ExportModelOp struct{}

func (*ExportModelOp) Name() string { return "export_model" }
func (*ExportModelOp) Version() int { return 1 }

// OutputFiles is the exported file or folder (runtime.FileWriter): a
// cached export whose output was deleted writes it again.
func (*ExportModelOp) OutputFiles(x *runtime.Exec) []string {
	if v := x.Param("path"); !v.IsNull() && v.IsKnown() && v.Type() == cty.String {
		return []string{v.AsString()}
	}
	return nil
}

func (*ExportModelOp) Run(_ context.Context, x *runtime.Exec) (cty.Value, error) {
	ref, err := modelRef(x, "model")
	if err != nil {
		return cty.NilVal, err
	}
	if ref.Provider != "builtin" {
		return cty.NilVal, fmt.Errorf("%s: export_model exports builtin models; model is a %q model", addr(x), ref.Provider)
	}
	rel := params.String(x, "path", "")
	if rel == "" {
		return cty.NilVal, fmt.Errorf("%s: path is empty", addr(x))
	}
	format := params.String(x, "format", "gguf")
	_, m, err := builtinModel(x, "model")
	if err != nil {
		return cty.NilVal, err
	}
	path := rel
	if !filepath.IsAbs(path) && x.Env != nil && x.Env.SpecDir != "" {
		path = filepath.Join(x.Env.SpecDir, rel)
	}
	if err := ExportModel(m, format, path); err != nil {
		return cty.NilVal, fmt.Errorf("%s: export to %s: %w", addr(x), rel, err)
	}
	return x.Param("model"), nil
}
