// Package buildkit runs the environment and build steps of a package build
// on a BuildKit daemon (buildkitd), as LLB: the base root filesystem from
// an OCI layout the client serves over the session, an execution that
// installs the exact build-dependency set (with network; BuildKit caches
// it by its definition, locally and, when asked, in a registry), and the
// build itself on top of it with no network and the build tree on a
// tmpfs mount of a given size (or the worker's disk). The artifacts come
// back through the local exporter into a directory the caller names.
//
// A Job is pure data: the same job gives the same LLB, so the
// environment step is a cache hit on every worker that has seen it (or can
// import it); the build step always runs (results are reused through
// stx-build's artifact cache, not BuildKit's). Runner (executor.go) turns
// a runner.Build, the description the local sandbox executes too, into a
// Job: two workers produce the same files the local sandbox does.
package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stx-build/stx-build/internal/regularfile"
	"github.com/stx-build/stx-build/runner"
)

// ErrUnavailable wraps the error of a job that did not run to its end
// because the worker could not be reached or went away: the job may be
// run again elsewhere. A job whose command failed is not ErrUnavailable.
// It is runner.ErrUnavailable, which callers of any executor check.
var ErrUnavailable = runner.ErrUnavailable

// BaseImage is a root filesystem as an image in an OCI layout directory.
type BaseImage struct {
	// Layout is the OCI layout directory (blobs/sha256/..., index.json).
	Layout string
	// Manifest is the image manifest's digest.
	Manifest digest.Digest
	// Platform is the image's platform.
	Platform ocispecs.Platform
}

// Job is one package build on a worker.
type Job struct {
	// Name names the build in BuildKit's progress (e.g. "hello 2.10-3 amd64").
	Name string
	// Base is the root filesystem both steps start from.
	Base BaseImage
	// Env is the environment of both steps' shell (PATH at least).
	Env []string
	// Hostname is the sandbox's host name.
	Hostname string

	// DepsScript runs as root on Base, with DepsDir (if any) mounted
	// read-only at DepsMount, and the network only when DepsNetwork is
	// set; its root filesystem is the build's.
	DepsScript  string
	DepsDir     string
	DepsMount   string
	DepsNetwork bool

	// SourceDir is mounted read-only at SourceMount during the build.
	SourceDir   string
	SourceMount string
	// BuildScript runs as root with no network on the environment, with
	// an empty BuildMount (tmpfs of Tmpfs bytes, or the worker's disk when
	// Tmpfs is 0) and an empty OutMount whose content is exported to OutDir.
	BuildScript string
	BuildMount  string
	Tmpfs       int64
	OutMount    string
	OutDir      string
	// Inputs are more host directories the build step reads (kernel
	// config files), mounted read-only.
	Inputs []Input
	// Secrets are host files the build step reads that the worker must
	// not keep (a module signing key): sent as BuildKit secrets, mounted
	// for the step only, never part of a cache.
	Secrets []Secret

	// CacheRef, when set, is a registry reference (without tag) BuildKit
	// exports its cache of this job to and imports it from, tagged by
	// CacheTag (the environment's key): another worker then reuses the
	// installed build-dependencies instead of installing them again.
	CacheRef, CacheTag string
	// InsecureRegistry allows plain HTTP to the cache registry.
	InsecureRegistry bool

	// Log receives the steps' output and one line per step.
	Log io.Writer
}

// Input is a host directory the build step reads, at Mount.
type Input struct {
	Dir, Mount string
}

// Secret is a host file the build step reads at Mount, owned by UID:GID
// with mode 0400 there.
type Secret struct {
	File, Mount string
	UID, GID    int
}

// Timing says when the steps ran (zero when BuildKit reused them).
type Timing struct {
	// Setup is from the start of the solve to the start of the build step
	// (sending the inputs, the environment step or its cache).
	Setup time.Duration
	// Build is the build step's run.
	Build time.Duration
	// EnvCached says the environment step came from BuildKit's cache.
	EnvCached bool
}

// Worker is one buildkitd.
type Worker struct {
	// Addr is buildkitd's address: unix:///run/buildkit/buildkitd.sock,
	// tcp://host:port, ...
	Addr string
	// TLS, when set, authenticates the daemon and this client (mutual
	// TLS, as buildkitd's --tlscacert/--tlscert/--tlskey expect).
	TLS *TLS

	mu sync.Mutex
	c  *bkclient.Client
}

// TLS names the PEM files of a mutual-TLS connection to buildkitd.
type TLS struct {
	// CA verifies the daemon's certificate; ServerName is the name it
	// must carry (default: the address's host).
	CA, ServerName string
	// Cert and Key are this client's certificate and key.
	Cert, Key string
}

// TLSDir is the TLS files of a directory laid out as buildctl's --tlsdir:
// ca.pem, cert.pem, key.pem.
func TLSDir(dir string) *TLS {
	return &TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
}

// New returns a worker for addr; nothing connects before the first use.
func New(addr string) *Worker { return &Worker{Addr: addr} }

func (w *Worker) String() string { return w.Addr }

func (w *Worker) client(ctx context.Context) (*bkclient.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c != nil {
		return w.c, nil
	}
	var opts []bkclient.ClientOpt
	if w.TLS != nil {
		for _, f := range []string{w.TLS.CA, w.TLS.Cert, w.TLS.Key} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("buildkit worker %s: TLS: %w", w.Addr, err)
			}
		}
		name := w.TLS.ServerName
		if name == "" {
			if u, err := url.Parse(w.Addr); err == nil {
				name = u.Hostname()
			}
		}
		opts = append(opts, bkclient.WithServerConfig(name, w.TLS.CA), bkclient.WithCredentials(w.TLS.Cert, w.TLS.Key))
	}
	c, err := bkclient.New(ctx, w.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, w.Addr, err)
	}
	w.c = c
	return c, nil
}

// Close closes the connection.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c == nil {
		return nil
	}
	err := w.c.Close()
	w.c = nil
	return err
}

// Usable reports why the worker cannot take jobs (unreachable, no worker
// for linux/<arch>), or nil.
func (w *Worker) Usable(ctx context.Context, arch string) error {
	ps, err := w.Platforms(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.OS == "linux" && p.Architecture == arch {
			return nil
		}
	}
	return fmt.Errorf("buildkit worker %s has no linux/%s worker", w.Addr, arch)
}

// Platforms are the platforms the daemon's default worker runs, as
// buildkitd lists them: its native platform first, then those it runs
// under emulation (qemu-user registered with binfmt_misc) or was told
// to (--oci-worker-platform).
func (w *Worker) Platforms(ctx context.Context) ([]ocispecs.Platform, error) {
	c, err := w.client(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, w.Addr, err)
	}
	if len(ws) == 0 || len(ws[0].Platforms) == 0 {
		return nil, fmt.Errorf("buildkit worker %s lists no worker platform", w.Addr)
	}
	return ws[0].Platforms, nil
}

// Native is the architecture the daemon runs natively: its default
// worker's first platform, which buildkitd puts first.
func (w *Worker) Native(ctx context.Context) (string, error) {
	ps, err := w.Platforms(ctx)
	if err != nil {
		return "", err
	}
	if ps[0].OS != "linux" {
		return "", fmt.Errorf("buildkit worker %s runs %s/%s, not linux", w.Addr, ps[0].OS, ps[0].Architecture)
	}
	return ps[0].Architecture, nil
}

const (
	storeID   = "stx-base"
	localDeps = "stx-deps"
	localSrc  = "stx-src"
)

// Definition is the job's LLB: the environment step, then the build step;
// the result is the build step's OutMount.
func (j *Job) Definition(ctx context.Context) (*llb.Definition, error) {
	if j.Base.Manifest == "" || j.Base.Layout == "" {
		return nil, errors.New("buildkit: job has no base image")
	}
	plat := j.Base.Platform
	base := llb.OCILayout("stx-build/base@"+j.Base.Manifest.String(), llb.OCIStore("", storeID), llb.Platform(plat),
		llb.WithCustomName("stx-build base "+j.Base.Manifest.Encoded()[:12]))
	env := []llb.StateOption{}
	for _, kv := range j.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, llb.AddEnv(k, v))
	}
	if j.Hostname != "" {
		env = append(env, llb.Hostname(j.Hostname))
	}
	base = base.With(env...).Dir("/").User("0:0")

	depsNet := pb.NetMode_NONE
	if j.DepsNetwork {
		depsNet = pb.NetMode_UNSET
	}
	depsOpts := []llb.RunOption{
		llb.Args([]string{"/bin/sh", "-ec", j.DepsScript}),
		llb.Network(depsNet),
		llb.WithCustomName("stx-build environment: " + j.Name),
	}
	if j.DepsDir != "" {
		depsOpts = append(depsOpts, llb.AddMount(j.DepsMount,
			llb.Local(localDeps, llb.SharedKeyHint(localDeps), llb.WithCustomName("stx-build local build-deps")),
			llb.Readonly))
	}
	envRoot := base.Run(depsOpts...).Root()

	runOpts := []llb.RunOption{
		llb.Args([]string{"/bin/sh", "-ec", j.BuildScript}),
		llb.Network(pb.NetMode_NONE),
		llb.WithCustomName("stx-build build: " + j.Name),
		// The build always runs: reusing build results is the artifact
		// cache's job (keys stx-build controls, checked on restore), and a
		// job sent to a worker is one the artifact cache did not have.
		llb.IgnoreCache,
		llb.AddMount(j.SourceMount, llb.Local(localSrc, llb.SharedKeyHint(localSrc), llb.WithCustomName("stx-build source: "+j.Name)), llb.Readonly),
	}
	for i, in := range j.Inputs {
		name := inputName(i)
		runOpts = append(runOpts, llb.AddMount(in.Mount, llb.Local(name, llb.SharedKeyHint(name), llb.WithCustomName("stx-build input "+in.Mount)), llb.Readonly))
	}
	for i, sec := range j.Secrets {
		runOpts = append(runOpts, llb.AddSecret(sec.Mount, llb.SecretID(secretID(i)), llb.SecretFileOpt(sec.UID, sec.GID, 0o400)))
	}
	if j.Tmpfs > 0 {
		runOpts = append(runOpts, llb.AddMount(j.BuildMount, llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(j.Tmpfs))))
	} else {
		// On the worker's disk: a scratch mount whose content is thrown
		// away with the step (no output).
		runOpts = append(runOpts, llb.AddMount(j.BuildMount, llb.Scratch(), llb.ForceNoOutput))
	}
	exec := envRoot.Run(runOpts...)
	out := exec.AddMount(j.OutMount, llb.Scratch())
	return out.Marshal(ctx, llb.Platform(plat))
}

// Run solves the job on the worker and exports the out mount into
// j.OutDir (which must exist and be empty). The steps' output goes to
// j.Log. A failure of the worker or the connection (rather than of the
// job's commands) is ErrUnavailable.
func (w *Worker) Run(ctx context.Context, j *Job) (*Timing, error) {
	c, err := w.client(ctx)
	if err != nil {
		return nil, err
	}
	def, err := j.Definition(ctx)
	if err != nil {
		return nil, err
	}
	store, err := local.NewStore(j.Base.Layout)
	if err != nil {
		return nil, fmt.Errorf("buildkit: base layout %s: %w", j.Base.Layout, err)
	}
	mounts := map[string]fsutil.FS{}
	src, err := fsutil.NewFS(j.SourceDir)
	if err != nil {
		return nil, fmt.Errorf("buildkit: source %s: %w", j.SourceDir, err)
	}
	mounts[localSrc] = src
	if j.DepsDir != "" {
		deps, err := fsutil.NewFS(j.DepsDir)
		if err != nil {
			return nil, fmt.Errorf("buildkit: %s: %w", j.DepsDir, err)
		}
		mounts[localDeps] = deps
	}
	for i, in := range j.Inputs {
		fs, err := fsutil.NewFS(in.Dir)
		if err != nil {
			return nil, fmt.Errorf("buildkit: input %s: %w", in.Dir, err)
		}
		mounts[inputName(i)] = fs
	}
	secrets, err := j.readSecrets()
	if err != nil {
		return nil, err
	}
	opt := bkclient.SolveOpt{
		Exports:     []bkclient.ExportEntry{{Type: bkclient.ExporterLocal, OutputDir: j.OutDir}},
		LocalMounts: mounts,
		OCIStores:   map[string]content.Store{storeID: store},
	}
	if len(secrets) > 0 {
		opt.Session = append(opt.Session, secretsprovider.FromMap(secrets))
	}
	if j.CacheRef != "" {
		ref := j.CacheRef + ":" + j.CacheTag
		attrs := map[string]string{"ref": ref}
		if j.InsecureRegistry {
			attrs["registry.insecure"] = "true"
		}
		opt.CacheImports = []bkclient.CacheOptionsEntry{{Type: "registry", Attrs: attrs}}
		exp := map[string]string{"mode": "max", "ignore-error": "true"}
		for k, v := range attrs {
			exp[k] = v
		}
		opt.CacheExports = []bkclient.CacheOptionsEntry{{Type: "registry", Attrs: exp}}
	}
	log := j.Log
	if log == nil {
		log = io.Discard
	}
	ch := make(chan *bkclient.SolveStatus)
	prog := &progress{log: log, worker: w.Addr, begin: time.Now(), vertices: map[digest.Digest]*bkclient.Vertex{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for st := range ch {
			prog.update(st)
		}
	}()
	_, err = c.Solve(ctx, def, opt, ch)
	<-done
	tm := prog.timing()
	if err != nil {
		if ctx.Err() != nil {
			return tm, ctx.Err()
		}
		if w.lost(ctx, err) {
			return tm, fmt.Errorf("%w: %s: %v", ErrUnavailable, w.Addr, err)
		}
		return tm, fmt.Errorf("buildkit %s: %w", w.Addr, err)
	}
	return tm, nil
}

func inputName(i int) string { return fmt.Sprintf("stx-input-%d", i) }

func secretID(i int) string { return fmt.Sprintf("stx-secret-%d", i) }

// readSecrets reads the secrets' files (regular files only, at most
// maxSecret bytes: a key, not a tree) for the session that serves them.
func (j *Job) readSecrets() (map[string][]byte, error) {
	out := map[string][]byte{}
	for i, sec := range j.Secrets {
		data, err := regularfile.Read(sec.File, maxSecret)
		if err != nil {
			return nil, fmt.Errorf("buildkit: secret %s for %s: %w", sec.File, sec.Mount, err)
		}
		out[secretID(i)] = data
	}
	return out, nil
}

// maxSecret is the largest secret file sent to a worker.
const maxSecret = 1 << 20

// lost decides whether a failed solve means the worker went away: the
// error says so, or the worker no longer answers.
func (w *Worker) lost(ctx context.Context, err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if s, ok := status.FromError(errors.Unwrap(err)); ok && (s.Code() == codes.Unavailable || s.Code() == codes.Canceled) {
		return true
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable || s.Code() == codes.Canceled) {
		return true
	}
	c, cerr := w.client(ctx)
	if cerr != nil {
		return true
	}
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, herr := c.ListWorkers(hctx); herr != nil {
		_ = w.Close() // reconnect next time
		return true
	}
	return false
}

// progress writes BuildKit's status stream to a build log: each step
// once when it starts and when it ends (or is cached), and the commands'
// output as it comes.
type progress struct {
	log      io.Writer
	worker   string
	begin    time.Time
	vertices map[digest.Digest]*bkclient.Vertex
	said     map[string]bool
	last     digest.Digest
}

func (p *progress) update(st *bkclient.SolveStatus) {
	if p.said == nil {
		p.said = map[string]bool{}
	}
	for _, v := range st.Vertexes {
		p.vertices[v.Digest] = v
		name := v.Name
		switch {
		case v.Cached && !p.said["c"+string(v.Digest)]:
			p.said["c"+string(v.Digest)] = true
			fmt.Fprintf(p.log, "stx-build: [buildkit %s] %s: cached\n", p.worker, name)
		case v.Completed != nil && !p.said["d"+string(v.Digest)] && !v.Cached:
			p.said["d"+string(v.Digest)] = true
			msg := "done"
			if v.Error != "" {
				msg = "FAILED: " + v.Error
			}
			d := time.Duration(0)
			if v.Started != nil {
				d = v.Completed.Sub(*v.Started)
			}
			fmt.Fprintf(p.log, "stx-build: [buildkit %s] %s: %s in %s\n", p.worker, name, msg, d.Round(time.Millisecond))
		case v.Started != nil && v.Completed == nil && !p.said["s"+string(v.Digest)]:
			p.said["s"+string(v.Digest)] = true
			fmt.Fprintf(p.log, "stx-build: [buildkit %s] %s\n", p.worker, name)
		}
	}
	for _, l := range st.Logs {
		_, _ = p.log.Write(l.Data)
	}
}

func (p *progress) timing() *Timing {
	t := &Timing{}
	var build, env *bkclient.Vertex
	keys := make([]string, 0, len(p.vertices))
	for k := range p.vertices {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.vertices[digest.Digest(k)]
		switch {
		case strings.HasPrefix(v.Name, "stx-build build: "):
			build = v
		case strings.HasPrefix(v.Name, "stx-build environment: "):
			env = v
		}
	}
	if env != nil {
		t.EnvCached = env.Cached
	}
	if build != nil && build.Started != nil {
		t.Setup = build.Started.Sub(p.begin)
		if build.Completed != nil {
			t.Build = build.Completed.Sub(*build.Started)
		}
	}
	return t
}
