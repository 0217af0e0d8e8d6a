package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stx-build/stx-build/builders/iso"
	"github.com/stx-build/stx-build/hostdeps"
	"github.com/stx-build/stx-build/manifests"
	"github.com/stx-build/stx-build/workspace"
)

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
