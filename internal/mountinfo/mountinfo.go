// Package mountinfo parses /proc/PID/mountinfo (proc(5)), for the code that
// mounts and must find and undo its mounts (ramdisk, runner).
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Mount is one line of a mountinfo file, as far as stx-build needs it.
type Mount struct {
	Point   string // mount point, unescaped
	Options string // per-mount options, e.g. "rw,nosuid,relatime"
	FSType  string // file system type, after the "-" separator
	// SuperOptions are the file system's options, the last field (for a
	// cgroup v1 hierarchy, its controllers: "rw,pids").
	SuperOptions string
}

// Read lists the mounts of this process's mount namespace.
func Read() ([]Mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return Parse(bytes.NewReader(b))
}

// Parse parses mountinfo text: the fifth field is the mount point, the
// sixth the mount options, and the file system type follows "-".
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 6 || sep+1 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %d: malformed: %q", n, sc.Text())
		}
		m := Mount{Point: Unescape(f[4]), Options: f[5], FSType: f[sep+1]}
		if sep+3 < len(f) {
			m.SuperOptions = f[sep+3]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return out, nil
}

// Unescape undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134) in a mountinfo path.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
