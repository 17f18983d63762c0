package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ouroloop/ouro/runtime/store"
)

// binaryInfo is what the running ouro binary says of itself: the release
// (Version), the Go toolchain, and the VCS revision it was built from when
// the build recorded one (`go build` in a git checkout does; `go run` and
// `go test` do not).
func binaryInfo() (revision string, modified bool, goVersion string) {
	goVersion = goruntime.Version()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false, goVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return revision, modified, goVersion
}

// collectProvenance describes what produces a run of the spec at path:
// the command line (program name first), the binary, the machine and the git state of the
// spec's work tree. storeDir is left out of the git state (a store beside
// the spec that .gitignore does not name would make every tree dirty).
// Without git, or outside a repository, Git is nil; nothing here fails a
// run.
func collectProvenance(command []string, path, storeDir string, jobs int, executor string) *store.Provenance {
	rev, modified, goVersion := binaryInfo()
	p := &store.Provenance{
		Command: command, Jobs: jobs, Executor: executor,
		Ouro: Version, Revision: rev, Modified: modified, Go: goVersion,
		OS: goruntime.GOOS, Arch: goruntime.GOARCH, Cores: goruntime.NumCPU(),
	}
	if p.Jobs <= 0 {
		p.Jobs = p.Cores
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return p
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	p.SpecPath = abs
	dir := abs
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		dir = filepath.Dir(abs)
	}
	if storeDir != "" {
		if a, err := filepath.Abs(storeDir); err == nil {
			storeDir = a
			if real, err := filepath.EvalSymlinks(a); err == nil {
				storeDir = real
			}
		}
	}
	root, g := gitState(dir, storeDir)
	if g == nil {
		return p
	}
	p.Git = g
	if rel, err := filepath.Rel(root, abs); err == nil {
		p.SpecPath = filepath.ToSlash(rel)
	}
	return p
}

// gitTimeout bounds each git command: provenance is not worth a stuck run.
const gitTimeout = 10 * time.Second

// git runs git in dir and returns its standard output.
func git(dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	// The spec's own repository, whatever the caller's environment names;
	// and no index refresh written by a read (GIT_OPTIONAL_LOCKS).
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "GIT_DIR=") && !strings.HasPrefix(e, "GIT_WORK_TREE=") && !strings.HasPrefix(e, "GIT_INDEX_FILE=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_OPTIONAL_LOCKS=0")
	return cmd.Output()
}

// gitState reads the git state of the work tree holding dir with the git
// binary: its root, HEAD's commit and branch, whether anything outside
// storeDir changed, and a digest of the changes under dir. It returns a
// nil state when git is missing or dir is in no work tree. Two git
// commands, run at once, answer all but the digest (a no-op re-run waits
// for them).
func gitState(dir, storeDir string) (root string, g *store.GitState) {
	var status []byte
	var statusErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Porcelain paths are relative to the root, whatever -C says.
		status, statusErr = git(dir, "status", "--porcelain=v2", "--branch", "-z")
	}()
	out, err := git(dir, "rev-parse", "--show-toplevel")
	<-done
	if err != nil || statusErr != nil {
		return "", nil
	}
	root = strings.TrimSpace(string(out))
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	relDir, _ := filepath.Rel(root, dir)
	relDir = filepath.ToSlash(relDir)
	relStore := ""
	if storeDir != "" {
		if r, err := filepath.Rel(root, storeDir); err == nil && !strings.HasPrefix(r, "..") {
			relStore = filepath.ToSlash(r)
		}
	}
	inside := func(rel, folder string) bool {
		return folder == "." || rel == folder || strings.HasPrefix(rel, folder+"/")
	}
	g = &store.GitState{}
	var untracked []string // under dir, relative to root
	dirDirty := false
	entries := strings.Split(string(status), "\x00")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		var rel string
		switch {
		case strings.HasPrefix(e, "# branch.oid "):
			if oid := strings.TrimPrefix(e, "# branch.oid "); oid != "(initial)" {
				g.Commit = oid
			}
			continue
		case strings.HasPrefix(e, "# branch.head "):
			if head := strings.TrimPrefix(e, "# branch.head "); head != "(detached)" {
				g.Branch = head
			}
			continue
		case strings.HasPrefix(e, "1 "):
			rel = field(e, 8)
		case strings.HasPrefix(e, "2 "):
			rel = field(e, 9)
			i++ // a rename's or copy's source follows
		case strings.HasPrefix(e, "u "):
			rel = field(e, 10)
		case strings.HasPrefix(e, "? "):
			rel = e[2:]
		default:
			continue
		}
		rel = strings.TrimSuffix(rel, "/")
		if relStore != "" && inside(rel, relStore) {
			continue
		}
		g.Dirty = true
		if inside(rel, relDir) {
			dirDirty = true
			if e[0] == '?' {
				untracked = append(untracked, rel)
			}
		}
	}
	if !dirDirty {
		return root, g
	}
	h := sha256.New()
	if g.Commit != "" {
		if diff, err := git(root, "diff", "HEAD", "--binary", "--", relDir); err == nil {
			h.Write(diff)
		}
	}
	for _, rel := range untracked {
		hashTree(h, root, rel, relStore)
	}
	g.DiffDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return root, g
}

// field is what follows the first n space-separated fields of a porcelain
// entry: its path (which may hold spaces).
func field(e string, n int) string {
	for range n {
		i := strings.IndexByte(e, ' ')
		if i < 0 {
			return ""
		}
		e = e[i+1:]
	}
	return e
}

// hashTree writes the names and contents of the files under root/rel (a
// file or a folder git reported as untracked) to h, in lexical order,
// leaving out the store.
func hashTree(h io.Writer, root, rel, relStore string) {
	_ = filepath.WalkDir(filepath.Join(root, filepath.FromSlash(rel)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		r = filepath.ToSlash(r)
		if d.IsDir() {
			if relStore != "" && r == relStore {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		io.WriteString(h, r+"\x00")
		io.Copy(h, f)
		io.WriteString(h, "\x00")
		return nil
	})
}
