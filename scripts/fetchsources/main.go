// Command fetchsources writes the archive's Sources index for a suite, as
// one decompressed deb822 file, for the scheduler's real-graph benchmark
// (scripts/bench-sched.sh runs it).
// It uses a private apt environment (aptenv) made from the host's apt
// sources, so nothing of the host's apt state changes.
//
//	go run ./scripts/fetchsources -o /var/tmp/stx-sched-bench/Sources [-suite bookworm]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stx-build/stx-build/aptenv"
	"github.com/stx-build/stx-build/internal/atomicfile"
)

func main() {
	out := flag.String("o", "", "output file (required)")
	suite := flag.String("suite", "bookworm", "suite whose Sources to fetch")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "fetchsources: -o FILE is required")
		os.Exit(2)
	}
	if err := run(context.Background(), *out, *suite); err != nil {
		fmt.Fprintln(os.Stderr, "fetchsources:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, suite string) error {
	dir := filepath.Join(filepath.Dir(out), "apt", suite)
	env, err := aptenv.New(ctx, aptenv.Config{Dir: dir, Suite: suite, Log: os.Stderr})
	if err != nil {
		return err
	}
	if err := env.Update(ctx); err != nil {
		return err
	}
	// The lists are named after the archive's URI; take every Sources
	// index of the suite (main, updates, security) whatever the name.
	lists, err := filepath.Glob(filepath.Join(env.ListsDir(), "*_Sources*"))
	if err != nil {
		return err
	}
	sort.Strings(lists)
	var all bytes.Buffer
	for _, l := range lists {
		if strings.HasSuffix(l, ".diff_Index") {
			continue
		}
		// apt-helper decompresses whatever apt stored (lz4, gz, xz, plain).
		data, err := exec.CommandContext(ctx, "/usr/lib/apt/apt-helper", "cat-file", l).Output()
		if err != nil {
			return fmt.Errorf("apt-helper cat-file %s: %w", filepath.Base(l), err)
		}
		all.Write(bytes.TrimRight(data, "\n"))
		all.WriteString("\n\n")
	}
	if all.Len() == 0 {
		return fmt.Errorf("no Sources index in %s (deb-src missing from the host's sources?)", env.ListsDir())
	}
	if err := atomicfile.Write(out, all.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fetchsources: %d indexes, %d bytes -> %s\n", len(lists), all.Len(), out)
	return nil
}
