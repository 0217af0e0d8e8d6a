package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stx-build/stx-build/ramdisk"
	"github.com/stx-build/stx-build/runner"
)

// Runner executes runner.Builds on a worker (a runner.Executor): the
// kept step becomes the job's environment step (cached by BuildKit, and
// in CacheRef's registry when set), the last step its build step, with
// the build tree sent over the session and copied into a tmpfs of the
// tree's size (once more on the worker's disk when that runs out of
// space), the command run as the step's user with exactly its
// environment, and the artifacts sent back.
type Runner struct {
	Worker *Worker
	// Base is the base root as an image (ExportBase); its platform is
	// the one the worker must offer.
	Base BaseImage
	// CacheRef, when set, is a registry repository BuildKit exports the
	// environment step's cache to and imports it from.
	CacheRef string
	// InsecureRegistry allows plain HTTP to CacheRef's registry.
	InsecureRegistry bool
}

// Paths inside a job: the tree as sent, and where the artifacts go.
const (
	treeMount = "/stx/src"
	outMount  = "/stx/out"
	// SizeFile, in the exported artifacts, holds the tree's size in bytes.
	SizeFile = ".stx-build-size"
)

// Usable implements runner.Executor: the worker answers and runs
// Base's platform.
func (r *Runner) Usable(ctx context.Context) error {
	return r.Worker.Usable(ctx, r.Base.Platform.Architecture)
}

// Execute implements runner.Executor. dir receives the exported
// artifacts (dir/out-N for attempt N).
func (r *Runner) Execute(ctx context.Context, b *runner.Build, dir string, log io.Writer) (*runner.Outcome, error) {
	job, err := r.job(b)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "stx-build: %s on buildkit worker %s\n", b.Name, r.Worker)
	oc := &runner.Outcome{Placed: true}
	for attempt := 1; ; attempt++ {
		tail := &runner.LogTail{Max: 64 << 10}
		job.OutDir, job.Log = filepath.Join(dir, fmt.Sprintf("out-%d", attempt)), io.MultiWriter(log, tail)
		where := "the worker's disk"
		if job.Tmpfs > 0 {
			where = "tmpfs of " + ramdisk.FormatSize(job.Tmpfs)
		}
		fmt.Fprintf(log, "stx-build: build tree on %s\n", where)
		if err := os.MkdirAll(job.OutDir, 0o755); err != nil {
			return nil, err
		}
		tm, err := r.Worker.Run(ctx, job)
		if tm != nil {
			oc.Cached, oc.Setup, oc.Build = tm.EnvCached, tm.Setup, tm.Build
		}
		if err == nil {
			oc.Dir, oc.OnTmpfs = job.OutDir, job.Tmpfs > 0
			if data, err := os.ReadFile(filepath.Join(job.OutDir, SizeFile)); err == nil {
				oc.PeakBytes, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			}
			return oc, nil
		}
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return oc, err // not the build's failure: it may run elsewhere
		}
		noSpace := ramdisk.LogSaysNoSpace(tail.Bytes())
		if job.Tmpfs > 0 && noSpace {
			fmt.Fprintf(log, "stx-build: tmpfs ran out of space; building again on the worker's disk\n")
			oc.Retried, job.Tmpfs = true, 0
			continue
		}
		if noSpace {
			err = fmt.Errorf("%w (%w)", err, syscall.ENOSPC)
		}
		step := b.Steps[len(b.Steps)-1].Name()
		if tm == nil || tm.Setup == 0 {
			step = b.Steps[0].Name() // the build step never started
		}
		return oc, &runner.StepError{Step: step, Err: err}
	}
}

// job turns b into a Job: b must be a kept environment step run as root
// with at most one input (and the network only if it asks for it), then a
// build step without network whose mounts are its tree, input
// directories and secrets.
func (r *Runner) job(b *runner.Build) (*Job, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if len(b.Steps) != 2 || !b.Steps[0].Kept() {
		return nil, fmt.Errorf("buildkit: build %s: want a kept environment step and a build step, have %d steps", b.Name, len(b.Steps))
	}
	env, build := b.Steps[0], b.Steps[1]
	if uid, gid := env.User(); uid != 0 || gid != 0 || len(env.Mounts()) > 1 {
		return nil, fmt.Errorf("buildkit: build %s: step %s must run as root with at most one input", b.Name, env.Name())
	}
	tree, _ := build.Tree()
	if build.Network() {
		return nil, fmt.Errorf("buildkit: build %s: step %s must have no network", b.Name, build.Name())
	}
	job := &Job{
		Name:       b.Name,
		Base:       r.Base,
		Env:        env.Env(),
		Hostname:   runner.DefaultHostname,
		DepsScript: script(env.Args()), DepsNetwork: env.Network(),
		SourceDir: tree.Source, SourceMount: treeMount,
		BuildScript: TreeScript(build, b.Artifacts),
		BuildMount:  tree.Target, Tmpfs: tree.Size,
		OutMount: outMount,
		CacheRef: r.CacheRef, CacheTag: "env-" + env.Key()[:min(32, len(env.Key()))],
		InsecureRegistry: r.InsecureRegistry,
	}
	if ms := env.Mounts(); len(ms) == 1 {
		job.DepsDir, job.DepsMount = ms[0].Source, ms[0].Target
	}
	if err := job.addMounts(build); err != nil {
		return nil, fmt.Errorf("buildkit: build %s: step %s: %w", b.Name, build.Name(), err)
	}
	return job, nil
}

// addMounts adds the build step's mounts besides its tree: input
// directories (sent as they are) and secrets (owned by the step's user).
func (j *Job) addMounts(build runner.Step) error {
	uid, gid := build.User()
	for _, m := range build.Mounts() {
		switch m.Kind {
		case runner.MountTree:
			if m.Target != j.BuildMount {
				return fmt.Errorf("a second tree at %s", m.Target)
			}
		case runner.MountInput:
			if fi, err := os.Stat(m.Source); err != nil || !fi.IsDir() {
				return fmt.Errorf("input %s for %s: a worker takes directories only", m.Source, m.Target)
			}
			j.Inputs = append(j.Inputs, Input{Dir: m.Source, Mount: m.Target})
		case runner.MountSecret:
			j.Secrets = append(j.Secrets, Secret{File: m.Source, Mount: m.Target, UID: uid, GID: gid})
		default:
			return fmt.Errorf("mount %s of unknown kind %d", m.Target, m.Kind)
		}
	}
	return nil
}

// script is args as a shell script: the script itself for sh -ec.
func script(args []string) string {
	if len(args) == 3 && args[0] == "/bin/sh" && args[1] == "-ec" {
		return args[2]
	}
	return "exec " + runner.ShellQuoteAll(args)
}

// TreeScript is the build step as a job runs it: as root, copy the tree
// sent at /stx/src into the (empty) tree mount and give it to the step's
// user, run the step's command as that user with exactly its environment
// (as the local sandbox does), then copy the artifacts and the tree's
// size to /stx/out. The command's exit status is the script's; a result
// that is not a regular file (a symlink, a FIFO, a device) fails it.
func TreeScript(s runner.Step, artifacts []string) string {
	tree, _ := s.Tree()
	uid, gid := s.User()
	var b strings.Builder
	fmt.Fprintf(&b, "cp -a %s/. %s/\n", treeMount, runner.ShellQuote(tree.Target))
	fmt.Fprintf(&b, "chown -R %d:%d %s\nchmod 0755 %[3]s\n", uid, gid, runner.ShellQuote(tree.Target))
	fmt.Fprintf(&b, "cd %s\n", runner.ShellQuote(s.Dir()))
	fmt.Fprintf(&b, "rc=0\nsetpriv --reuid=%d --regid=%d --clear-groups -- env -i %s %s || rc=$?\n",
		uid, gid, runner.ShellQuoteAll(s.Env()), runner.ShellQuoteAll(s.Args()))
	if uid != 0 {
		// What the build left running cannot change the results below.
		fmt.Fprintf(&b, "setpriv --reuid=%d --regid=%d --clear-groups -- sh -c 'kill -KILL -1' 2>/dev/null || true\n", uid, gid)
	}
	fmt.Fprintf(&b, "du -sxb %s | cut -f1 > %s/%s\n", runner.ShellQuote(tree.Target), outMount, SizeFile)
	// Only regular files leave a build: cp -RP never follows a symlink nor
	// opens a FIFO or a device (it would copy them as what they are, and
	// the host's collect refuses them too); anything else fails the build.
	fmt.Fprintf(&b, "for f in %s/*; do case \"$f\" in *%s)\n", runner.ShellQuote(tree.Target), strings.Join(artifacts, "|*"))
	b.WriteString("\tif [ -L \"$f\" ] || [ ! -f \"$f\" ]; then echo \"stx-build: build result ${f##*/} is not a regular file: only regular files leave a build\" >&2; [ $rc -ne 0 ] || rc=1; continue; fi\n")
	fmt.Fprintf(&b, "\tcp -RP -- \"$f\" %s/;; esac; done\n", outMount)
	b.WriteString("exit $rc\n")
	return b.String()
}
