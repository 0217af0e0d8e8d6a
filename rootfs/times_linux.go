package rootfs

import (
	"time"

	"golang.org/x/sys/unix"
)

// lutimes sets atime and mtime of p without following a symlink.
func lutimes(p string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
