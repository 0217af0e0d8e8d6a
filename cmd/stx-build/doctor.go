package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso/bootcheck"
	"github.com/stx-build/stx-build/hostdeps"
	"github.com/stx-build/stx-build/workspace"
)

func host() hostdeps.Host {
	return hostdeps.Host{Arch: workspace.HostArch(), KVMCheck: bootcheck.KVMUsable}
}

func newDoctorCmd(g *globalFlags) *cobra.Command {
	var (
		archs  []string
		dev    bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine has what stx-build needs",
		Long: `Check every program and host feature stx-build's commands use (build,
image, iso, boot) and print a table: ok, missing or degraded, with the
Debian package that provides each and one apt-get line that installs
what is missing. --dev adds what make test, make demo, make bench and make e2e-real use.

Exit status 0 when nothing required is missing, 1 otherwise (degraded
checks — no KVM, cgroup v1, a small tmpfs budget — only warn). Every
command runs the checks it needs before it starts, so a missing tool
stops it in the first second with the same fix; STX_NO_PREFLIGHT=1 skips
those checks (for tools installed where they do not look).`,
		Example: `  stx-build doctor
  stx-build doctor --dev --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmds := slices.DeleteFunc(slices.Clone(hostdeps.Commands), func(c string) bool { return c == hostdeps.CmdDev && !dev })
			cacheDir := g.cacheDir
			if cacheDir == "" {
				cacheDir = workspace.DefaultCacheDir()
			}
			res := hostdeps.Check(host(), hostdeps.Options{Commands: cmds, Archs: archs, CacheDir: cacheDir})
			switch output {
			case "text":
				printDoctor(cmd.OutOrStdout(), res)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"checks": res, "install": hostdeps.InstallLine(res), "ok": len(hostdeps.Failed(res)) == 0}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--output %q: want text or json", output)
			}
			if n := len(hostdeps.Failed(res)); n > 0 {
				return exitError{code: 1, err: fmt.Errorf("doctor: %d required check(s) failed", n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&archs, "arch", nil, "architectures to check for (default: amd64 and arm64)")
	f.BoolVar(&dev, "dev", false, "also check what make test, make demo, make bench and make e2e-real use")
	f.StringVar(&output, "output", "text", "text or json")
	return cmd
}

func printDoctor(w io.Writer, res []hostdeps.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tNEEDED BY\tCHECK\tPACKAGE\tFOUND")
	for _, r := range res {
		pkg := r.Package
		if pkg == "" {
			pkg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Status, strings.Join(r.Commands, ","), r.Name, pkg, r.Detail)
	}
	tw.Flush()
	var fixes []string
	for _, r := range res {
		if r.Status != hostdeps.OK && r.Requirement.Fix != "" {
			fixes = append(fixes, fmt.Sprintf("  %s (%s): %s", r.Name, r.Status, r.Fix))
		}
	}
	if line := hostdeps.InstallLine(res); line != "" {
		fmt.Fprintf(w, "\nto install what is missing or degraded:\n  %s\n", line)
	}
	if len(fixes) > 0 {
		fmt.Fprintf(w, "\nother fixes:\n%s\n", strings.Join(fixes, "\n"))
	}
	if len(hostdeps.Failed(res)) == 0 {
		fmt.Fprintln(w, "\nnothing required is missing")
	}
}
