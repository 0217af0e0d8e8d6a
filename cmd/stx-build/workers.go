package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stx-build/stx-build/buildrun"
	"github.com/stx-build/stx-build/manifests"
)

// workerFlags are the BuildKit worker options of the commands that build
// packages.
type workerFlags struct {
	addrs   []string
	tmpfs   string
	cache   string
	tlsDir  string
	noLocal bool
}

func (w *workerFlags) add(f *pflag.FlagSet) {
	var def []string
	if env := os.Getenv("STX_BUILDKIT"); env != "" {
		def = strings.Split(env, ",")
	}
	f.StringSliceVar(&w.addrs, "buildkit", def, "build packages also on this BuildKit daemon, ADDR or ADDR=SLOTS (repeatable, comma-separated; default $STX_BUILDKIT)")
	f.StringVar(&w.tmpfs, "buildkit-tmpfs", "", "RAM for tmpfs build trees on each worker, e.g. 16GiB (default: this machine's budget)")
	f.StringVar(&w.cache, "buildkit-cache", "", "registry repository for the workers' cache of build environments, e.g. HOST:PORT/stx/buildkit-cache")
	f.StringVar(&w.tlsDir, "buildkit-tlsdir", "", "directory with ca.pem, cert.pem and key.pem for mutual TLS with the workers (as buildctl --tlsdir)")
	f.BoolVar(&w.noLocal, "no-local", false, "run no package build on this machine, only on the workers, kernels included (restores and publishing stay local)")
}

func (w *workerFlags) apply(o *buildrun.Options) error {
	var budget int64
	if w.tmpfs != "" {
		n, err := manifests.ParseSize(w.tmpfs)
		if err != nil {
			return fmt.Errorf("--buildkit-tmpfs: %w", err)
		}
		budget = n
	}
	for _, a := range w.addrs {
		if a == "" {
			continue
		}
		wk, err := buildrun.ParseWorker(a)
		if err != nil {
			return fmt.Errorf("--buildkit: %w", err)
		}
		wk.TmpfsBudget = budget
		wk.TLSDir = w.tlsDir
		o.Workers = append(o.Workers, wk)
	}
	if w.noLocal && len(o.Workers) == 0 {
		return fmt.Errorf("--no-local needs at least one --buildkit worker")
	}
	o.NoLocal = w.noLocal
	o.BuildKitCache = w.cache
	return nil
}
