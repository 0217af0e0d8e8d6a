package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/stx-build/stx-build/internal/flock"
)

// LocalExecutor executes Builds in the local sandbox: each step is one
// Run of Runner on the base root's directory and the kept roots above it,
// with its writable layer in the run's directory. A kept root is saved
// in LayerDir under its key and reused from there.
type LocalExecutor struct {
	Runner Runner
	// Base is the base root directory every build starts from.
	Base string
	// LayerDir holds the kept roots (build environments) by key, each
	// with its seal (see checkSeal).
	LayerDir string
}

// checkedLayers are the saved layers whose seal this process checked.
var checkedLayers = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// Usable implements Executor: the sandbox's Usable.
func (l *LocalExecutor) Usable(ctx context.Context) error { return l.Runner.Usable(ctx) }

// Execute implements Executor. The tree is used in place, so the Outcome's
// Dir is the last step's tree.
func (l *LocalExecutor) Execute(ctx context.Context, b *Build, dir string, log io.Writer) (*Outcome, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	oc := &Outcome{}
	layers := []string{l.Base}
	for i, s := range b.Steps {
		last := i == len(b.Steps)-1
		if last {
			oc.Setup = time.Since(t0)
		}
		if s.Kept() {
			layer, cached, err := l.kept(ctx, s, layers, dir, log)
			if err != nil {
				return oc, &StepError{Step: s.Name(), Err: err}
			}
			oc.Cached = cached
			layers = append([]string{layer}, layers...)
			continue
		}
		t := time.Now()
		if err := l.run(ctx, s, layers, filepath.Join(dir, s.Name()), log); err != nil {
			return oc, &StepError{Step: s.Name(), Err: err}
		}
		if last {
			oc.Build = time.Since(t)
		}
	}
	tree, _ := b.Steps[len(b.Steps)-1].Tree()
	oc.Dir = tree.Source
	return oc, nil
}

// kept returns the root s keeps: the saved one, or s run now and saved.
func (l *LocalExecutor) kept(ctx context.Context, s Step, layers []string, dir string, log io.Writer) (string, bool, error) {
	if l.LayerDir == "" {
		return "", false, fmt.Errorf("runner: no layer directory for the root step %s keeps", s.Name())
	}
	final := filepath.Join(l.LayerDir, s.Key())
	mark := filepath.Join(final, layerMark)
	if _, err := os.Stat(mark); err == nil && l.sealed(final, s, log) {
		fmt.Fprintf(log, "stx-build: %s %s: cached\n", s.Name(), short(s.Key()))
		return final, true, nil
	}
	// One process makes a layer; another run on the same cache that needs
	// it meanwhile waits, then uses it.
	if err := os.MkdirAll(l.LayerDir, 0o755); err != nil {
		return "", false, err
	}
	unlock, err := flock.LockPathWait(ctx, final+".lock", flock.Exclusive, func() {
		fmt.Fprintf(log, "stx-build: %s %s: waiting for another stx-build run that is making it\n", s.Name(), short(s.Key()))
	})
	if err != nil {
		return "", false, err
	}
	defer unlock()
	if _, err := os.Stat(mark); err == nil && l.sealed(final, s, log) {
		fmt.Fprintf(log, "stx-build: %s %s: cached (made by another run)\n", s.Name(), short(s.Key()))
		return final, true, nil
	}
	if err := discardLayer(final); err != nil {
		return "", false, err
	}
	upper := filepath.Join(dir, s.Name())
	if err := l.run(ctx, s, layers, upper, log); err != nil {
		return "", false, err
	}
	if err := saveLayer(filepath.Join(upper, "upper"), l.LayerDir, s.Key()); err != nil {
		return "", false, err
	}
	return final, false, nil
}

// run runs s once on layers.
func (l *LocalExecutor) run(ctx context.Context, s Step, layers []string, upper string, log io.Writer) error {
	spec := l.spec(s, layers, upper)
	spec.Stdout, spec.Stderr = log, log
	return l.Runner.Run(ctx, spec)
}

// spec is s as a sandbox run. A step with the network sees the host's
// current resolver.
func (l *LocalExecutor) spec(s Step, layers []string, upper string) *Spec {
	spec := s.Spec(layers, upper)
	if s.Network() {
		if _, err := os.Stat("/etc/resolv.conf"); err == nil {
			spec.Mounts = append(spec.Mounts, Mount{Source: "/etc/resolv.conf", Target: "/etc/resolv.conf", ReadOnly: true})
		}
	}
	return spec
}

// sealed reports whether the saved layer at final matches its seal,
// checking it once per process; a layer that does not is reported to log
// (it is then made again).
func (l *LocalExecutor) sealed(final string, s Step, log io.Writer) bool {
	checkedLayers.Lock()
	defer checkedLayers.Unlock()
	if checkedLayers.m[final] {
		return true
	}
	if err := checkSeal(final, final+sealSuffix); err != nil {
		fmt.Fprintf(log, "stx-build: %s %s: the saved layer is refused (%v): making it again\n", s.Name(), short(s.Key()), err)
		return false
	}
	checkedLayers.m[final] = true
	return true
}

// discardLayer removes a saved layer and its seal (the caller holds the
// layer's lock): moved aside first, so no half-removed tree is ever used.
func discardLayer(final string) error {
	if _, err := os.Lstat(final); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	trash, err := os.MkdirTemp(filepath.Dir(final), ".trash-")
	if err != nil {
		return err
	}
	if err := os.Rename(final, filepath.Join(trash, "layer")); err != nil {
		return err
	}
	os.Remove(final + sealSuffix)
	checkedLayers.Lock()
	delete(checkedLayers.m, final)
	checkedLayers.Unlock()
	return os.RemoveAll(trash)
}

// layerMark marks a complete saved layer.
const layerMark = ".stx-layer"

func short(key string) string { return key[:min(12, len(key))] }

// saveLayer copies an overlay upper directory (with its whiteouts and
// opaque-dir xattrs) into the layer store under key, atomically.
func saveLayer(upper, dir, key string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+short(key)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// cp -a keeps devices (whiteouts), ownership, modes and xattrs.
	if out, err := exec.Command("cp", "-a", "--", upper+"/.", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("save layer: cp: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, layerMark), []byte(key+"\n"), 0o644); err != nil {
		return err
	}
	if err := writeSeal(tmp, filepath.Join(dir, key+sealSuffix)); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, key)); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, key, layerMark)); serr == nil {
			return nil // a concurrent build saved the same layer
		}
		return err
	}
	return nil
}

// RunStep runs one step on the base root alone (no kept roots), with its
// writable layer in upper: the steps that prepare a build on this
// machine (unpacking the source, resolving the build-dependencies).
func (l *LocalExecutor) RunStep(ctx context.Context, s Step, upper string, stdout, stderr io.Writer) error {
	spec := l.spec(s, []string{l.Base}, upper)
	spec.Stdout, spec.Stderr = stdout, stderr
	return l.Runner.Run(ctx, spec)
}
