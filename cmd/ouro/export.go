package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/modelops"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
)

func newExportCmd(stdout, stderr io.Writer) *cobra.Command {
	var format, out, storeDir string
	cmd := &cobra.Command{
		Use:   "export CHECKPOINT --format gguf|hf -o PATH",
		Short: "Write a builtin checkpoint as GGUF (llama.cpp, Ollama) or a Hugging Face folder",
		Long: `export writes a builtin checkpoint (a .safetensors file, or a digest of a
checkpoint a run stored, read from --store) for other servers:

  gguf  one GGUF v3 file: llama architecture, float32 tensors, the character
        vocabulary as a SentencePiece vocabulary that llama.cpp and Ollama
        tokenize exactly as ouro does
  hf    a Hugging Face folder: model.safetensors, config.json for
        LlamaForCausalLM, generation_config.json and tokenizer files

The output appears whole or not at all. A NoPE model (positions = "none")
cannot be expressed in the llama architecture and is refused, as is a
checkpoint that is not a builtin one. See docs/builtin-model.md#export.`,
		Example: `  ouro export model.safetensors -o model.gguf
  ouro export sha256:3f2a… --store .ouro --format hf -o out/hf`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{errors.New("give the destination with -o PATH")}
			}
			if format != "gguf" && format != "hf" {
				return usageError{fmt.Errorf("--format %q: want gguf or hf", format)}
			}
			m, err := loadCheckpoint(args[0], storeDir)
			if err != nil {
				return err
			}
			if err := modelops.ExportModel(m, format, out); err != nil {
				return fmt.Errorf("export %s: %w", args[0], err)
			}
			fmt.Fprintf(stdout, "exported %s (%s, %d parameters) to %s (%s)\n", args[0], m.Digest(), m.NumParams(), out, format)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "gguf", "gguf (one file) or hf (a Hugging Face folder)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "destination file (gguf) or folder (hf)")
	cmd.Flags().StringVar(&storeDir, "store", ".ouro", "store of a checkpoint given by digest")
	return cmd
}

// loadCheckpoint reads a builtin checkpoint from a path or, for a digest,
// from the store (opened and closed again).
func loadCheckpoint(src, storeDir string) (*gpt.Model, error) {
	path := src
	if d, err := store.ParseDigest(src); err == nil {
		if _, err := os.Stat(filepath.Join(storeDir, "index")); err != nil {
			return nil, fmt.Errorf("%s: no store at %s (give --store)", src, storeDir)
		}
		st, err := store.Open(storeDir, store.Options{Command: "ouro export"})
		if err != nil {
			return nil, err
		}
		path, err = st.BlobPath(d)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s not in store %s: %w", d, storeDir, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := gpt.Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a builtin checkpoint (only ouro's builtin models can be exported): %s", src, strings.TrimPrefix(err.Error(), "gpt: "))
	}
	return m, nil
}
