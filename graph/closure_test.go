package graph_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/debsrc"
	"github.com/stx-build/stx-build/graph"
)

// The real closure: the first closureSize sources, breadth first, of the
// build-dependency closure of a platform like StarlingX's (closureRoots)
// in bookworm, cut from the archive's Sources index. Regenerate it with
//
//	go run ./scripts/fetchsources -o /var/tmp/stx-sched-bench/Sources
//	go test ./graph/ -run '^TestRealClosure$' -closure-from /var/tmp/stx-sched-bench/Sources
//
// (fetchsources takes the mirror from the host's apt sources).
const closureFile = "testdata/bookworm-closure.sources.gz"

var (
	closureFrom = flag.String("closure-from", "", "regenerate "+closureFile+" from this decompressed Sources index")
	allSources  = flag.String("sources", os.Getenv("STX_BENCH_SOURCES"), "decompressed Sources index for the all-archive benchmark (unset: skipped)")
	naive       = flag.Bool("naive", false, "also count the rounds of the one-break-per-cycle iteration on the real closure (slow)")
)

const closureSize = 600

var closureRoots = []string{
	"libvirt", "qemu", "ceph", "linux", "systemd", "openvswitch", "dpdk", "python3-defaults", "openssl", "openssh",
	"lvm2", "multipath-tools", "nfs-utils", "iptables", "nftables", "dnsmasq", "openldap", "sssd", "sudo", "grub2",
	"kexec-tools", "keepalived", "haproxy", "postgresql-15", "ruby3.1", "rabbitmq-server", "containerd", "docker.io", "runc", "util-linux",
	"e2fsprogs", "xfsprogs", "parted", "cryptsetup", "chrony", "rsyslog", "iproute2", "ethtool", "lldpd", "ipmitool",
	"pciutils", "drbd-utils", "corosync", "pacemaker", "memcached", "nginx", "apache2", "python3.11", "dracut", "tpm2-tools",
	"puppet-agent",
}

// closureFields are the fields of a Sources stanza the graph reads.
var closureFields = []string{"Package", "Version", "Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep", "Architecture", "Binary", "Package-List"}

// writeClosure cuts the closure out of a Sources index into closureFile.
func writeClosure(t *testing.T, sourcesFile string) {
	data, err := os.ReadFile(sourcesFile)
	if err != nil {
		t.Fatal(err)
	}
	all, err := debsrc.ParseSources(sourcesFile, data)
	if err != nil {
		t.Fatal(err)
	}
	picked := closure(all, closureRoots, closureSize)
	version := map[string]string{}
	for _, s := range picked {
		version[s.Name] = s.Version
	}
	paras, err := deb822.Parse(sourcesFile, data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, p := range paras {
		if v, ok := version[p.Value("Package")]; !ok || v != p.Value("Version") {
			continue
		}
		delete(version, p.Value("Package")) // once, if the index repeats it
		for _, name := range closureFields {
			f, ok := p.Get(name)
			if !ok {
				continue
			}
			sep := " "
			if strings.HasPrefix(f.Value, "\n") {
				sep = ""
			}
			fmt.Fprintf(&out, "%s:%s%s\n", name, sep, strings.ReplaceAll(f.Value, "\n", "\n "))
		}
		out.WriteString("\n")
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(out.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(closureFile, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d sources, %d bytes (%d gzipped) to %s", len(picked), out.Len(), gz.Len(), closureFile)
}

// closure returns the first n sources, breadth first, of the
// build-dependency closure of roots: each relation followed through its
// first alternative that some source builds.
func closure(all []graph.Source, roots []string, n int) []graph.Source {
	bySource := map[string]*graph.Source{}
	byBinary := map[string]string{}
	for i := range all {
		s := &all[i]
		bySource[s.Name] = s
		for _, b := range s.Binaries {
			if _, ok := byBinary[b.Name]; !ok {
				byBinary[b.Name] = s.Name
			}
		}
	}
	var picked []graph.Source
	seen := map[string]bool{}
	queue := slices.Clone(roots)
	for _, r := range queue {
		seen[r] = true
	}
	for len(queue) > 0 && len(picked) < n {
		name := queue[0]
		queue = queue[1:]
		s, ok := bySource[name]
		if !ok {
			continue
		}
		picked = append(picked, *s)
		for _, rel := range slices.Concat(s.BuildDepends.Relations, s.BuildDependsArch.Relations, s.BuildDependsIndep.Relations) {
			for _, p := range rel.Possibilities {
				if src, ok := byBinary[p.Name]; ok {
					if !seen[src] {
						seen[src] = true
						queue = append(queue, src)
					}
					break
				}
			}
		}
	}
	return picked
}

// loadClosure reads the committed closure.
func loadClosure(tb testing.TB) []graph.Source {
	tb.Helper()
	f, err := os.Open(closureFile)
	if err != nil {
		tb.Fatalf("%v (regenerate: see closure_test.go)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	srcs, err := debsrc.ParseSources(closureFile, data)
	if err != nil {
		tb.Fatal(err)
	}
	return srcs
}

// closureOptions are the options the closure is compiled with: amd64, the
// Architecture: all packages too.
func closureOptions() graph.Options { return graph.Options{Arch: "amd64", Indep: true} }

// cycleError compiles srcs and returns the cycle error it must report.
func cycleError(tb testing.TB, srcs []graph.Source, opts graph.Options) *graph.CycleError {
	tb.Helper()
	_, err := graph.Compile(srcs, opts)
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		tb.Fatalf("want a cycle error, got %v", err)
	}
	return ce
}

// withBreaks returns opts with the suggested breaks added.
func withBreaks(opts graph.Options, breaks []graph.SuggestedBreak) graph.Options {
	opts.CycleBreaks = slices.Clone(opts.CycleBreaks)
	for _, b := range breaks {
		opts.CycleBreaks = append(opts.CycleBreaks, b.CycleBreak())
	}
	return opts
}

// TestRealClosure: on the real closure, one run suggests a complete set of
// breaks: applied once, no cycle is left and every entry is used.
func TestRealClosure(t *testing.T) {
	if *closureFrom != "" {
		writeClosure(t, *closureFrom)
	}
	srcs := loadClosure(t)
	if len(srcs) < 500 {
		t.Fatalf("the closure has %d sources, want at least 500", len(srcs))
	}
	opts := closureOptions()
	ce := cycleError(t, srcs, opts)
	if len(ce.Breaks) != ce.Bound.Entries || ce.Bound.LowerBound < 1 || ce.Bound.Entries < ce.Bound.LowerBound {
		t.Fatalf("bound %+v for %d breaks", ce.Bound, len(ce.Breaks))
	}
	checkBlock(t, ce)
	g, err := graph.Compile(srcs, withBreaks(opts, ce.Breaks))
	if err != nil {
		t.Fatalf("the suggested block applied once leaves: %v", err)
	}
	for _, w := range g.Warnings {
		if strings.HasPrefix(w, "cycle break") {
			t.Errorf("warning: %s", w)
		}
	}
	sources := 0
	for _, b := range ce.Breaks {
		if b.Source != "" {
			sources++
		}
	}
	t.Logf("%d sources, %d edges, %d cycle components; suggested %d entries (%d of them source:), lower bound %d",
		len(g.Nodes), len(g.Edges), len(ce.Cycles), ce.Bound.Entries, sources, ce.Bound.LowerBound)
	// A guard against the heuristic getting worse: 118 entries for a lower
	// bound of 106 when this was written.
	if ce.Bound.Entries*100 > ce.Bound.LowerBound*115 {
		t.Errorf("%d entries for a lower bound of %d: more than 15%% above it", ce.Bound.Entries, ce.Bound.LowerBound)
	}
	if *naive {
		rounds, entries := naiveIteration(t, srcs, opts)
		t.Logf("one break per cycle and round: %d rounds, %d entries", rounds, entries)
	}
}

// checkBlock checks that the cycle-breaks block of the message is YAML
// holding exactly the suggested breaks, and that a huge component is not
// listed in full.
func checkBlock(t *testing.T, ce *graph.CycleError) {
	msg := ce.Error()
	_, block, ok := strings.Cut(msg, "in stx.yaml:\n")
	if !ok {
		t.Fatalf("no block in:\n%s", msg)
	}
	var doc struct {
		Breaks []struct{ Package, Binary, Source, Reason string } `yaml:"cycle-breaks"`
	}
	if err := yaml.Unmarshal([]byte(block), &doc); err != nil {
		t.Fatalf("the block is no YAML: %v", err)
	}
	if len(doc.Breaks) != len(ce.Breaks) {
		t.Fatalf("the block has %d entries, want %d", len(doc.Breaks), len(ce.Breaks))
	}
	for i, b := range ce.Breaks {
		d := doc.Breaks[i]
		if d.Package != b.Package || d.Binary != b.Binary || d.Source != b.Source || d.Reason != b.Reason {
			t.Errorf("entry %d reads back as %+v, want %+v", i, d, b)
		}
	}
	for _, line := range strings.Split(msg, "\n") {
		if len(line) > 1000 {
			t.Errorf("a line of %d characters: %.100s...", len(line), line)
		}
	}
}

// naiveIteration breaks the shown cycle of every component by its last
// edge's binary and compiles again, until no cycle is left, as a user
// following the old error message would.
func naiveIteration(t *testing.T, srcs []graph.Source, opts graph.Options) (rounds, entries int) {
	for {
		_, err := graph.Compile(srcs, opts)
		var ce *graph.CycleError
		if !errors.As(err, &ce) {
			if err != nil {
				t.Fatal(err)
			}
			return rounds, len(opts.CycleBreaks)
		}
		rounds++
		for _, c := range ce.Cycles {
			last := c[len(c)-1]
			opts.CycleBreaks = append(opts.CycleBreaks, graph.CycleBreak{Package: last.From, Binary: last.Via})
		}
	}
}

// BenchmarkRealClosureCycles compiles the real closure as it is: cycles
// found and a complete set of breaks computed.
func BenchmarkRealClosureCycles(b *testing.B) {
	srcs := loadClosure(b)
	b.ReportAllocs()
	for b.Loop() {
		cycleError(b, srcs, closureOptions())
	}
}

// BenchmarkRealClosureGraph compiles the real closure with the suggested
// block applied (target: well under 1 s).
func BenchmarkRealClosureGraph(b *testing.B) {
	srcs := loadClosure(b)
	opts := withBreaks(closureOptions(), cycleError(b, srcs, closureOptions()).Breaks)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := graph.Compile(srcs, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllSources compiles every source of the archive's Sources index
// (-sources or STX_BENCH_SOURCES; skipped without) with the suggested block
// applied once, after checking that it leaves no cycle (target: 2 s).
func BenchmarkAllSources(b *testing.B) {
	if *allSources == "" {
		b.Skip("set STX_BENCH_SOURCES or -sources to a decompressed Sources index (go run ./scripts/fetchsources)")
	}
	data, err := os.ReadFile(*allSources)
	if err != nil {
		b.Fatal(err)
	}
	srcs, err := debsrc.ParseSources(*allSources, data)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	ce := cycleError(b, srcs, closureOptions())
	b.Logf("%d sources: %d cycle components, %d breaks suggested (lower bound %d) in %v",
		len(srcs), len(ce.Cycles), len(ce.Breaks), ce.Bound.LowerBound, time.Since(start).Round(time.Millisecond))
	opts := withBreaks(closureOptions(), ce.Breaks)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := graph.Compile(srcs, opts); err != nil {
			b.Fatalf("the suggested block applied once: %v", err)
		}
	}
}
