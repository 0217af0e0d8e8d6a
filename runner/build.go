package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// A Build is a build described once, as data, for any Executor (the
// local sandbox, a BuildKit worker): steps run in order, each on the root
// filesystem the steps before it kept, starting from the executor's base
// root. Like BuildKit's LLB, a Build says what runs and with what, never
// where: the executor decides how its inputs reach the step and where
// its layers live.
type Build struct {
	// Name names the build in logs and progress ("hello 2.10-3 amd64").
	Name string
	// Steps run in order; the last is the build proper, whose tree
	// (MountTree) holds the artifacts.
	Steps []Step
	// Artifacts are the name suffixes (".deb", ...) of the files in the
	// top directory of the last step's tree that are the build's result.
	Artifacts []string
}

// MountKind says what a step's mount is.
type MountKind int

const (
	// MountInput is host content the step reads: mounted read-only.
	MountInput MountKind = iota
	// MountTree is the build tree: host content the step changes, and
	// where the artifacts appear. An executor that runs elsewhere copies
	// it into a tmpfs of Size bytes (0: its disk) and sends the
	// artifacts back; the local sandbox uses it in place, on whatever
	// storage the caller put it.
	MountTree
	// MountSecret is a host file the step reads that must not outlive
	// it (a signing key): mounted read-only, with its owner and mode,
	// readable only by whom the file is. An executor that runs elsewhere
	// sends it as a secret (never stored in a cache there) owned by the
	// step's user with mode 0400.
	MountSecret
)

// StepMount is one mount of a step.
type StepMount struct {
	Kind MountKind
	// Source is the host directory (or file, for an input).
	Source string
	// Target is the absolute path inside the step.
	Target string
	// Size is a tree's tmpfs size on an executor that copies it.
	Size int64
}

// Step is one command of a Build: what runs, as whom, in which
// directory, with which environment, mounts, network and cache key. A
// Step is a value: NewStep and the With methods return new ones and
// never change the one they are called on, so a description can be
// shared by executors and goroutines.
type Step struct {
	name     string
	args     []string
	env      []string
	dir      string
	uid, gid int
	network  bool
	mounts   []StepMount
	keep     bool
	key      string
	limits   Limits
}

// NewStep returns a step named name ("environment", "build") that runs
// args as root in / with an empty environment, no mounts and no network.
func NewStep(name string, args ...string) Step {
	return Step{name: name, args: slices.Clone(args), dir: "/"}
}

// WithEnv returns s with exactly env as its environment.
func (s Step) WithEnv(env ...string) Step { s.env = slices.Clone(env); return s }

// WithDir returns s running in dir.
func (s Step) WithDir(dir string) Step { s.dir = dir; return s }

// WithUser returns s running as uid:gid.
func (s Step) WithUser(uid, gid int) Step { s.uid, s.gid = uid, gid; return s }

// WithNetwork returns s with the network (to install packages); steps
// have none by default.
func (s Step) WithNetwork() Step { s.network = true; return s }

// WithLimits returns s with resource limits l (zero fields: defaults).
func (s Step) WithLimits(l Limits) Step { s.limits = l; return s }

// Limits are the step's resource limits as given (zero: defaults).
func (s Step) Limits() Limits { return s.limits }

// WithInput returns s with host content source mounted read-only at target.
func (s Step) WithInput(source, target string) Step {
	return s.withMount(StepMount{Kind: MountInput, Source: source, Target: target})
}

// WithSecret returns s with the host file source mounted read-only at
// target as a secret (see MountSecret).
func (s Step) WithSecret(source, target string) Step {
	return s.withMount(StepMount{Kind: MountSecret, Source: source, Target: target})
}

// WithTree returns s with the build tree source at target (see
// MountTree); size is its tmpfs size where it is copied (0: disk).
func (s Step) WithTree(source, target string, size int64) Step {
	return s.withMount(StepMount{Kind: MountTree, Source: source, Target: target, Size: size})
}

func (s Step) withMount(m StepMount) Step {
	s.mounts = append(slices.Clone(s.mounts), m)
	return s
}

// Keep returns s whose changes to the root filesystem are the root of
// the steps after it (an environment), reusable by every build whose
// step has the same key: the key must name everything the step puts
// there. Other steps' changes to the root are thrown away.
func (s Step) Keep(key string) Step { s.keep, s.key = true, key; return s }

// Name is the step's name.
func (s Step) Name() string { return s.name }

// Args are the command and its arguments.
func (s Step) Args() []string { return slices.Clone(s.args) }

// Env is the command's exact environment.
func (s Step) Env() []string { return slices.Clone(s.env) }

// Dir is the working directory.
func (s Step) Dir() string { return s.dir }

// User is the uid and gid the command runs as.
func (s Step) User() (uid, gid int) { return s.uid, s.gid }

// Network says the step has the network.
func (s Step) Network() bool { return s.network }

// Mounts are the step's mounts in the order given.
func (s Step) Mounts() []StepMount { return slices.Clone(s.mounts) }

// Tree is the step's build tree, if it has one.
func (s Step) Tree() (StepMount, bool) {
	for _, m := range s.mounts {
		if m.Kind == MountTree {
			return m, true
		}
	}
	return StepMount{}, false
}

// Kept says the step's root is kept, under Key.
func (s Step) Kept() bool { return s.keep }

// Key names the root a kept step leaves.
func (s Step) Key() string { return s.key }

// Spec is the step as one local sandbox run on layers (top first) with
// its writable layer in upper; the tree is bound in place.
func (s Step) Spec(layers []string, upper string) *Spec {
	spec := &Spec{
		Layers: slices.Clone(layers), Upper: upper,
		Args: s.Args(), Env: s.Env(), Dir: s.dir,
		UID: s.uid, GID: s.gid, Network: s.network, Limits: s.limits,
	}
	if spec.Env == nil {
		spec.Env = []string{}
	}
	for _, m := range s.mounts {
		spec.Mounts = append(spec.Mounts, Mount{Source: m.Source, Target: m.Target, ReadOnly: m.Kind != MountTree})
	}
	return spec
}

// Executor runs Builds: the local sandbox (LocalExecutor) or a BuildKit
// worker (runner/buildkit).
type Executor interface {
	// Execute runs b's steps in order. dir is a host directory for the
	// executor's files of this run (it exists; the caller removes it);
	// log receives the steps' output. A failed step is a *StepError; a
	// worker lost on the way is ErrUnavailable (the build may run
	// elsewhere). The Outcome is returned also on error, as far as known.
	Execute(ctx context.Context, b *Build, dir string, log io.Writer) (*Outcome, error)
	// Usable reports why this executor cannot run builds, or nil.
	Usable(ctx context.Context) error
}

// ErrUnavailable wraps the error of a build that did not run to its end
// because its executor could not be reached or went away: the build may
// run again elsewhere. A build whose command failed is not ErrUnavailable.
var ErrUnavailable = errors.New("build worker unavailable")

// Outcome says how a Build ran.
type Outcome struct {
	// Dir is the host directory whose top-level files include the
	// artifacts (the tree itself when the executor used it in place).
	Dir string
	// Cached says the kept root came from a cache instead of its step.
	Cached bool
	// Setup is the time until the last step started; Build its run.
	Setup, Build time.Duration
	// Placed says the executor placed the tree itself (it copies it);
	// then OnTmpfs, Retried and PeakBytes say where and how big it was.
	Placed, OnTmpfs, Retried bool
	PeakBytes                int64
}

// StepError is the failure of one step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }

func (e *StepError) Unwrap() error { return e.Err }

// Validate checks what every executor needs: at least one step, every
// step with a command and absolute mount targets, and a tree in the last.
func (b *Build) Validate() error {
	if len(b.Steps) == 0 {
		return fmt.Errorf("build %s: no steps", b.Name)
	}
	for _, s := range b.Steps {
		if len(s.args) == 0 {
			return fmt.Errorf("build %s: step %s has no command", b.Name, s.name)
		}
		if s.keep && s.key == "" {
			return fmt.Errorf("build %s: step %s keeps its root without a key", b.Name, s.name)
		}
	}
	if _, ok := b.Steps[len(b.Steps)-1].Tree(); !ok {
		return fmt.Errorf("build %s: the last step has no build tree", b.Name)
	}
	return nil
}
