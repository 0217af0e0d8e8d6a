package aptenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stx-build/stx-build/internal/flock"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/version"
)

// DefaultMaxAge is how old the lists may be before Update fetches again.
const DefaultMaxAge = 12 * time.Hour

type updateOptions struct {
	force  bool
	maxAge time.Duration
}

// UpdateOption tunes Update.
type UpdateOption func(*updateOptions)

// Force makes Update run apt-get update even when the lists are fresh.
func Force() UpdateOption { return func(o *updateOptions) { o.force = true } }

// MaxAge sets how old the lists may be before Update fetches again
// (default DefaultMaxAge).
func MaxAge(d time.Duration) UpdateOption { return func(o *updateOptions) { o.maxAge = d } }

// Update runs apt-get update in the environment, unless the last
// successful update was for the same generated configuration and is
// younger than the maximum age.
func (e *Env) Update(ctx context.Context, opts ...UpdateOption) error {
	o := updateOptions{maxAge: DefaultMaxAge}
	for _, opt := range opts {
		opt(&o)
	}
	sum, err := e.configHash()
	if err != nil {
		return fmt.Errorf("apt update: %w", err)
	}
	stamp := filepath.Join(e.dir, stampFile)
	if !o.force && e.fresh(stamp, sum, o.maxAge) {
		return nil
	}
	// Two stx-build processes on one cache update one after the other
	// (apt's own lock would make the second fail); the second then finds
	// the lists fresh.
	unlock, err := flock.LockPath(ctx, filepath.Join(e.dir, "update.lock"), flock.Exclusive)
	if err != nil {
		return fmt.Errorf("apt update: %w", err)
	}
	defer unlock()
	if !o.force && e.fresh(stamp, sum, o.maxAge) {
		return nil
	}
	// A failed or interrupted update must not look fresh next time.
	if err := os.Remove(stamp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("apt update: %w", err)
	}
	if err := e.Run(ctx, e.dir, "-q", "update"); err != nil {
		return err
	}
	if err := writeIfChanged(stamp, []byte(sum+"\n")); err != nil {
		return fmt.Errorf("apt update: %w", err)
	}
	return nil
}

// configHash identifies the generated configuration an update was for.
func (e *Env) configHash() (string, error) {
	h := sha256.New()
	for _, p := range []string{e.aptConf, e.sourcesFile} {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(p), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fresh reports whether the stamp records sum, is younger than maxAge and
// the lists it vouches for are still there.
func (e *Env) fresh(stamp, sum string, maxAge time.Duration) bool {
	fi, err := os.Stat(stamp)
	if err != nil || time.Since(fi.ModTime()) > maxAge {
		return false
	}
	data, err := os.ReadFile(stamp)
	if err != nil || strings.TrimSpace(string(data)) != sum {
		return false
	}
	lists, _ := filepath.Glob(filepath.Join(e.ListsDir(), "*Release"))
	return len(lists) > 0
}

// Run runs apt-get with args in dir using the environment. Standard output
// goes to Config.Log; standard error is kept for the returned error.
func (e *Env) Run(ctx context.Context, dir string, args ...string) error {
	_, err := e.run(ctx, dir, "apt-get", args, e.log)
	return err
}

// Output runs an apt tool (apt-cache, apt-config, ...) with args using the
// environment and returns its standard output.
func (e *Env) Output(ctx context.Context, tool string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	_, err := e.run(ctx, "", tool, args, &out)
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Command returns an exec.Cmd for name that sees the environment.
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	// LC_ALL=C keeps apt's messages (and our errors) in one language.
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), e.Environ()...)
	return cmd
}

func (e *Env) run(ctx context.Context, dir, tool string, args []string, stdout io.Writer) (string, error) {
	cmd := e.Command(ctx, tool, args...)
	cmd.Dir = dir
	if stdout == nil {
		stdout = io.Discard
	}
	cmd.Stdout = stdout
	stderr := &tailBuffer{max: 16 << 10}
	cmd.Stderr = stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if msg != "" {
			return msg, fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, msg)
		}
		return msg, fmt.Errorf("%s %s: %w", tool, strings.Join(args, " "), err)
	}
	if msg != "" && e.log != nil {
		fmt.Fprintln(e.log, msg)
	}
	return msg, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "[...]" + string(t.buf)
	}
	return string(t.buf)
}

// SourceVersions returns the versions of source package name that the
// environment's deb-src indexes offer, newest first. Run Update first.
func (e *Env) SourceVersions(ctx context.Context, name string) ([]string, error) {
	out, err := e.Output(ctx, "apt-cache", "showsrc", "--only-source", name)
	if err != nil {
		return nil, err
	}
	vs, err := parseShowsrc(out, name)
	if err != nil {
		return nil, fmt.Errorf("apt-cache showsrc %s: %w", name, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("apt-cache showsrc %s: no such source package in the indexes", name)
	}
	return vs, nil
}

// parseShowsrc picks the distinct versions of name out of apt-cache
// showsrc output, newest first.
func parseShowsrc(out []byte, name string) ([]string, error) {
	r, err := control.NewParagraphReader(bytes.NewReader(out), nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]version.Version{}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if p.Values["Package"] != name {
			continue
		}
		vs := p.Values["Version"]
		v, err := version.Parse(vs)
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", vs, err)
		}
		seen[vs] = v
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c := version.Compare(seen[keys[i]], seen[keys[j]]); c != 0 {
			return c > 0
		}
		return keys[i] < keys[j]
	})
	return keys, nil
}
