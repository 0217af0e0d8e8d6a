// Package ramdisk places per-build work directories ("slots") on tmpfs when
// they fit a RAM budget shared by all concurrent builds, and on disk
// otherwise, so a scheduler can run several package builds at once without
// one big package serializing everything.
//
// # Layout
//
// Managers share one root directory, which must be on disk; each open
// Manager (one stx-build process, usually) is a run with a directory of its
// own:
//
//	Root/lock                       flock held shared by every open run
//	Root/budget.lock                flock taken to reserve from the budget
//	Root/runs/run-<id>/lock         flock held by the run while it is open
//	Root/runs/run-<id>/reserved     bytes of tmpfs the run has reserved
//	Root/runs/run-<id>/tmpfs/<name> a tmpfs mounted for one slot
//	Root/runs/run-<id>/disk/<name>  a plain directory for one slot
//
// Slot names are the caller's (e.g. "hello_2.10-3_amd64"). A run directory
// whose lock is free belongs to a process that died: the next NewManager
// unmounts what is mounted under it and deletes it.
//
// # Sharing the budget
//
// The RAM budget is shared by every process on the root: a reservation
// succeeds only if it fits beside what this process and every other live
// run have reserved, read from their "reserved" files under Root/budget.lock.
// Each process computes its total from its own options (by default half of
// MemAvailable when it starts), so the running builds of all processes
// together stay within the smallest of their budgets plus what RAM the
// earlier ones had already taken when a later one started.
//
// # Sizes
//
// A request carries the predicted peak size of the build tree (0 means
// unknown and counts as DefaultSize, 2 GiB). Predictions are rough, so a
// tmpfs is mounted PadPercent (25%) larger than predicted, at least
// MinTmpfsSize (256 MiB), rounded up to a whole MiB; see PaddedSize. The
// padded size is what the slot reserves from the Budget, because a tmpfs
// can fill up to its size limit.
//
// # Placement
//
// Acquire never waits for RAM: a slot goes on tmpfs when its padded size
// fits the budget at that moment, and on disk otherwise. Whether to wait for
// RAM instead is the scheduler's decision, made with Manager.Fits. A build
// that runs out of space on tmpfs is retried once on disk by RetryOnDisk;
// other failures are never retried.
//
// # Cleanup
//
// Every mount is undone by Slot.Release (with a lazy MNT_DETACH unmount
// when the tmpfs is still busy), by Manager.ReleaseAll (for signal
// handlers), and, after a crash, by the next NewManager on the same root.
// Removal never crosses into another file system: mounts left inside a slot
// (bind mounts made by a build runner, say) are unmounted first, and a tree
// that still holds one is not deleted.
package ramdisk
