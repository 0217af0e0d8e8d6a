package buildrun

import (
	"context"
	"fmt"
	"sync"
)

// sandboxProbe probes the build sandbox (namespaces, an overlay mount:
// runner.Runner.Usable) at most once per run. The probe takes most of a
// second on a loaded machine, so it starts in the background as soon as a
// build is known to be needed (startProbe: a key the cache misses, in the
// restore pass), and only a build waits for its answer (checkSandbox). A
// run that restores every package never probes.
type sandboxProbe struct {
	once sync.Once
	done chan struct{}
	err  error
}

// startProbe starts the probe if it has not started.
func (r *run) startProbe(ctx context.Context) {
	r.sandbox.once.Do(func() {
		r.sandbox.done = make(chan struct{})
		go func() {
			defer close(r.sandbox.done)
			if err := r.opts.Runner.Usable(ctx); err != nil {
				r.sandbox.err = fmt.Errorf("build sandbox: %w", err)
			}
		}()
	})
}

// checkSandbox returns the probe's answer, starting it if need be. It
// comes before anything slow that only builds need: making the base root,
// else the first build.
func (r *run) checkSandbox(ctx context.Context) error {
	r.startProbe(ctx)
	<-r.sandbox.done
	return r.sandbox.err
}

// waitProbe waits for a probe that was started, so that it never outlives
// the run (it mounts and makes a temporary directory).
func (r *run) waitProbe() {
	r.sandbox.once.Do(func() {}) // none starts after this
	if r.sandbox.done != nil {
		<-r.sandbox.done
	}
}
