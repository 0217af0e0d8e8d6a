package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/builders/iso/boot"
	"github.com/stx-build/stx-build/hostdeps"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/workspace"
)

func host() hostdeps.Host {
	return hostdeps.Host{Arch: workspace.HostArch(), KVMCheck: boot.KVMUsable}
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
what is missing. --dev adds what make test and make demo use.

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
	f.BoolVar(&dev, "dev", false, "also check what make test and make demo use")
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

// preflight maps a command to the requirement sets it runs; commands not
// listed (graph, plan, cache) need nothing beyond stx-build itself.
var preflight = map[string][]string{
	"stx-build build": {hostdeps.CmdBuild},
	"stx-build image": {hostdeps.CmdBuild, hostdeps.CmdImage},
	"stx-build iso":   {hostdeps.CmdBuild, hostdeps.CmdISO},
	"stx-build boot":  {hostdeps.CmdBoot},
	"stx-build all":   {hostdeps.CmdBuild, hostdeps.CmdImage, hostdeps.CmdISO, hostdeps.CmdBoot},
}

// noPreflightEnv, set to anything, skips the checks before commands (for
// tools installed where the checks do not look).
const noPreflightEnv = "STX_NO_PREFLIGHT"

// runPreflight checks what cmd needs before it starts work, so that a
// missing tool stops it at once with the fix instead of minutes later.
func runPreflight(g *globalFlags, cmd *cobra.Command, args []string) error {
	need, ok := preflight[cmd.CommandPath()]
	if !ok || os.Getenv(noPreflightEnv) != "" {
		return nil
	}
	if nb := cmd.Flags().Lookup("no-build"); nb != nil && nb.Value.String() == "true" {
		need = slices.DeleteFunc(slices.Clone(need), func(c string) bool { return c == hostdeps.CmdBuild })
	}
	archs := preflightArchs(g, cmd, args)
	if !inputValid(cmd, archs) {
		return nil // the command itself says what is wrong with its input
	}
	cacheDir := g.cacheDir
	if cacheDir == "" {
		cacheDir = workspace.DefaultCacheDir()
	}
	failed := hostdeps.Failed(hostdeps.Check(host(), hostdeps.Options{Commands: need, Archs: archs, CacheDir: cacheDir}))
	if len(failed) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: this machine lacks what it needs:\n", cmd.Name())
	for _, r := range failed {
		pkg := ""
		if r.Package != "" {
			pkg = " (package " + r.Package + ")"
		}
		fmt.Fprintf(&b, "  %s%s: %s; %s\n", r.Name, pkg, r.Why, r.Detail)
	}
	if line := hostdeps.InstallLine(failed); line != "" {
		fmt.Fprintf(&b, "fix: %s\n", line)
	}
	for _, r := range failed {
		if r.Requirement.Fix != "" {
			fmt.Fprintf(&b, "fix: %s\n", r.Requirement.Fix)
		}
	}
	b.WriteString("(`stx-build doctor` checks everything)")
	return errors.New(b.String())
}

// inputValid says whether the architectures (and a boot's firmware) are
// ones stx-build knows: a mistyped flag is reported by the command itself,
// before anything about the machine.
func inputValid(cmd *cobra.Command, archs []string) bool {
	if len(archs) == 0 {
		return false
	}
	for _, a := range archs {
		p, err := iso.Profile(a)
		if err != nil {
			return false
		}
		if f := cmd.Flags().Lookup("firmware"); f != nil && f.Changed {
			if _, err := p.Firmware(f.Value.String()); err != nil {
				return false
			}
		}
	}
	return true
}

// preflightArchs are the architectures the command will touch: its --arch
// flag, the ISO's for boot, else the project's. Nil when they cannot be
// told (the command then reports its own input error).
func preflightArchs(g *globalFlags, cmd *cobra.Command, args []string) []string {
	if f := cmd.Flags().Lookup("arch"); f != nil && f.Changed {
		v := strings.Trim(f.Value.String(), "[]")
		return strings.Split(v, ",")
	}
	if cmd.Name() == "boot" {
		if len(args) != 1 {
			return nil
		}
		a, err := isoArch(args[0])
		if err != nil {
			return nil
		}
		return []string{a}
	}
	p, err := manifests.Load(g.dir)
	if err != nil {
		return nil
	}
	return p.Architectures
}
