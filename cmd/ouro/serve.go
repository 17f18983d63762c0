package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ouroloop/ouro/runtime/store"
	"github.com/ouroloop/ouro/stdlib/models/gpt"
	"github.com/ouroloop/ouro/stdlib/serve"
)

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		models   []string
		storeDir string
		listen   string
		runRef   string
		chats    []string
		asJSON   bool
		half     bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve builtin checkpoints over the OpenAI-compatible API",
		Long: `serve answers GET /v1/models, POST /v1/chat/completions and POST /v1/completions
for builtin checkpoints. A model is NAME=PATH (a .safetensors checkpoint) or
NAME=DIGEST (a checkpoint a run stored, read from --store). Checkpoints are read
into memory at start and the store is released before serving, so runs can use
it meanwhile. Choice i of a request equals sample i of the builtin provider for
the same prompt, options and seed. Listens on loopback unless told otherwise.`,
		Example: `  ouro serve --model tiny=model.safetensors
  ouro serve --model star=sha256:3f2a… --store .ouro --listen 127.0.0.1:9000
  ouro serve --run latest --store examples/star/.ouro   # every model the run produced, by stage address`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runRef != "" {
				fromRun, err := runModels(runRef, storeDir)
				if err != nil {
					return err
				}
				models = append(fromRun, models...)
			}
			if len(models) == 0 {
				return usageError{errors.New("give at least one --model NAME=PATH_OR_DIGEST, or --run RUN")}
			}
			ms, err := loadServeModels(models, storeDir)
			if err != nil {
				return err
			}
			if err := setChatTemplates(ms, chats); err != nil {
				return err
			}
			if half {
				for i := range ms {
					ms[i].Model = ms[i].Model.WithFloat16Attention()
				}
			}
			srv, err := serve.New(ms, serve.Options{Log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			beyondLoopback := false
			if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) {
				beyondLoopback = true
				fmt.Fprintf(stderr, "ouro serve: warning: listening on %s, beyond loopback, without authentication\n", ln.Addr())
			}
			base := fmt.Sprintf("http://%s/v1", ln.Addr())
			if asJSON {
				ev := serveEvent{Event: "listening", BaseURL: base, Address: ln.Addr().String(), BeyondLoopback: beyondLoopback}
				for _, m := range ms {
					ev.Models = append(ev.Models, serveModelJSON{Name: m.Name, Digest: m.Model.Digest()})
				}
				writeJSONLine(stdout, ev)
			} else {
				for _, m := range ms {
					fmt.Fprintf(stdout, "serving %s (%s)\n", m.Name, m.Model.Digest())
				}
				fmt.Fprintf(stdout, "listening on %s\n", base)
			}
			stopped := func() {
				if asJSON {
					writeJSONLine(stdout, serveEvent{Event: "shutting_down"})
				} else {
					fmt.Fprintln(stdout, "shutting down")
				}
			}
			return serveUntilDone(ctx, ln, srv, stopped)
		},
	}
	cmd.Flags().StringArrayVar(&models, "model", nil, "a model to serve: NAME=PATH (.safetensors) or NAME=DIGEST from the store (repeatable)")
	cmd.Flags().StringVar(&storeDir, "store", ".ouro", "store of the checkpoints given by digest or --run (read at start, then released)")
	cmd.Flags().StringVar(&runRef, "run", "", "serve every builtin model a run produced (its id, a prefix, latest or latest~N), named by stage address")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (port 0: any free port; --json says which)")
	cmd.Flags().StringArrayVar(&chats, "chat", nil, `how chat messages become the prompt of model NAME: NAME=TEMPLATE with {user} (and {system}), \n for a newline, e.g. 'star=Q: {user}\nA:' (repeatable; default: as the builtin provider renders messages)`)
	cmd.Flags().BoolVar(&half, "float16-attention", false, "round queries, keys, values and attention weights to float16, as llama.cpp and Ollama (float16 K/V cache) do, to compare with them; completions then differ from the builtin provider's at near ties")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print events as JSON lines: {event: listening, base_url, address, models} once serving, {event: shutting_down} on SIGINT/SIGTERM")
	return cmd
}

// serveEvent is one line of `ouro serve --json`.
type serveEvent struct {
	Event          string           `json:"event"`
	BaseURL        string           `json:"base_url,omitempty"`
	Address        string           `json:"address,omitempty"`
	BeyondLoopback bool             `json:"beyond_loopback,omitempty"`
	Models         []serveModelJSON `json:"models,omitempty"`
}

type serveModelJSON struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// writeJSONLine writes v as one line of JSON (compact, so a reader can
// take a line at a time while the process keeps running).
func writeJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and bools reach here
	}
	w.Write(append(b, '\n'))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveUntilDone serves until ctx is cancelled (SIGINT/SIGTERM), then
// calls stopped, stops accepting, lets requests in flight finish for up
// to 10 s, and closes what remains.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler, stopped func()) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopped()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setChatTemplates applies each --chat NAME=TEMPLATE to the model NAME;
// "\n" and "\t" in a template are a newline and a tab.
func setChatTemplates(ms []serve.Model, chats []string) error {
	for _, c := range chats {
		name, tmpl, ok := strings.Cut(c, "=")
		if !ok || name == "" || tmpl == "" {
			return usageError{fmt.Errorf("--chat %q: want NAME=TEMPLATE", c)}
		}
		tmpl = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(tmpl)
		found := false
		for i := range ms {
			if ms[i].Name == name {
				ms[i].Chat, found = tmpl, true
			}
		}
		if !found {
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			return usageError{fmt.Errorf("--chat %s: no model %q is served (served: %s)", name, name, strings.Join(names, ", "))}
		}
	}
	return nil
}

// runModels lists the builtin models run ref produced as NAME=DIGEST
// arguments, NAME the address of the stage (or model block) that made it,
// in the record's order.
func runModels(ref, storeDir string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(storeDir, "index")); err != nil {
		return nil, fmt.Errorf("--run %s: no store at %s (give --store)", ref, storeDir)
	}
	st, err := store.Open(storeDir, store.Options{Command: "ouro serve"})
	if err != nil {
		return nil, fmt.Errorf("--run %s: %w", ref, err)
	}
	defer st.Close()
	rec, err := st.GetRun(ref)
	if err != nil {
		return nil, fmt.Errorf("--run %s: %w", ref, err)
	}
	var out []string
	for _, sr := range rec.Stages {
		if sr.Model == nil || sr.Model.Provider != "builtin" || sr.Model.Digest == "" {
			continue
		}
		name := sr.Address
		if name == "" {
			name = sr.Name
		}
		out = append(out, name+"="+sr.Model.Digest)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--run %s: run %s produced no builtin model", ref, rec.ID)
	}
	return out, nil
}

// loadServeModels reads each NAME=PATH_OR_DIGEST. Digests are read from the
// store, opened once (taking its lock) and closed before returning.
func loadServeModels(specs []string, storeDir string) ([]serve.Model, error) {
	var out []serve.Model
	var st *store.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for _, s := range specs {
		name, src, ok := strings.Cut(s, "=")
		if !ok {
			src = s
			name = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
		}
		if name == "" || src == "" {
			return nil, usageError{fmt.Errorf("--model %q: want NAME=PATH_OR_DIGEST", s)}
		}
		path := src
		if d, err := store.ParseDigest(src); err == nil {
			if st == nil {
				if _, err := os.Stat(filepath.Join(storeDir, "index")); err != nil {
					return nil, fmt.Errorf("--model %s: no store at %s (give --store)", name, storeDir)
				}
				if st, err = store.Open(storeDir, store.Options{Command: "ouro serve"}); err != nil {
					return nil, fmt.Errorf("--model %s: %w", name, err)
				}
			}
			if path, err = st.BlobPath(d); err != nil {
				return nil, fmt.Errorf("--model %s: checkpoint %s not in store %s: %w", name, d, storeDir, err)
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--model %s: %w", name, err)
		}
		m, err := gpt.Load(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--model %s: %s: %w", name, src, err)
		}
		out = append(out, serve.Model{Name: name, Model: m})
	}
	return out, nil
}
