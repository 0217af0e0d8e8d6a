package iso

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// toolRunner runs the host tools the ISO is made with (grub-mkimage,
// mkfs.fat, mcopy, mksquashfs, xorriso) in a fixed environment: UTC, the C
// locale and SOURCE_DATE_EPOCH.
type toolRunner struct {
	epoch int64
	log   io.Writer
}

// epochByFlags are tools given the epoch by their flags: mksquashfs
// refuses SOURCE_DATE_EPOCH together with -mkfs-time and -all-time.
var epochByFlags = map[string]bool{"mksquashfs": true}

func (t *toolRunner) env(tool string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C", "TZ=UTC",
	}
	if !epochByFlags[tool] {
		env = append(env, "SOURCE_DATE_EPOCH="+strconv.FormatInt(t.epoch, 10))
	}
	return env
}

func (t *toolRunner) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = t.env(name)
	tail := &tailBuffer{max: 8 << 10}
	var out io.Writer = tail
	if t.log != nil {
		fmt.Fprintf(t.log, "+ %s %s\n", name, strings.Join(args, " "))
		out = io.MultiWriter(t.log, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, lerr := exec.LookPath(name); lerr != nil {
			return fmt.Errorf("%s: not installed (scripts/install-deps.sh installs it)", name)
		}
		return fmt.Errorf("%s: %w\n%s", name, err, strings.TrimSpace(tail.String()))
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

func runQuiet(ctx context.Context, name string, args ...string) error {
	_, err := outputQuiet(ctx, name, args...)
	return err
}

func outputQuiet(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
