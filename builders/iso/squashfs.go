package iso

import "strconv"

// mksquashfsArgs makes the live root's image: a fresh file (-noappend),
// owners and extended attributes kept as installed (file capabilities set
// by maintainer scripts are xattrs), every inode and the superblock dated
// at the epoch, and -reproducible (fragment and inode order independent of
// thread scheduling), so the bytes depend on the tree alone.
func mksquashfsArgs(root, out, compression string, level int, epoch int64) []string {
	e := strconv.FormatInt(epoch, 10)
	args := []string{root, out,
		"-noappend", "-reproducible",
		"-comp", compression,
		"-mkfs-time", e, "-all-time", e,
		"-xattrs",
		"-no-progress",
	}
	if level > 0 {
		args = append(args, "-Xcompression-level", strconv.Itoa(level))
	}
	return args
}
