package runner

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A sandbox's processes live in a cgroup of their own, created beside or
// below the one stx-build runs in, with pids and memory limits; the
// runner reads which limit was hit when the command fails, and removes
// the cgroup afterwards. On cgroup v2 the cgroup is a child of stx-build's
// own (its controllers enabled there) or, when that cgroup holds
// processes and so cannot delegate them, a sibling in its parent. On a
// host with cgroup v1 controllers (alone or in a hybrid setup), the pids
// and memory hierarchies are used the same way.

// cgroupControllers are the controllers the runner uses.
var cgroupControllers = []string{"pids", "memory"}

// CgroupSupport says how this machine enforces Limits: the cgroup version
// in use and the directories sandbox cgroups are made in, by controller,
// or why limits are not enforced.
type CgroupSupport struct {
	// Version is 2 (unified) or 1 (the controllers' own hierarchies); 0
	// when no limits are enforced.
	Version int
	// Parents are the directories sandbox cgroups are created in, by
	// controller ("pids", "memory").
	Parents map[string]string
	// Missing says which limits are not enforced, and why.
	Missing []string
}

var cgroupProbe struct {
	once sync.Once
	s    CgroupSupport
}

// Cgroups returns the machine's CgroupSupport (worked out once).
func Cgroups() CgroupSupport {
	cgroupProbe.once.Do(func() {
		cgroupProbe.s = probeCgroups("/proc/self/cgroup", "/proc/self/mountinfo")
		removeStaleCgroups(cgroupProbe.s)
	})
	return cgroupProbe.s
}

// removeStaleCgroups removes the (empty) sandbox cgroups of stx-build
// processes that died before removing theirs.
func removeStaleCgroups(s CgroupSupport) {
	for _, parent := range s.Parents {
		dirs, _ := filepath.Glob(filepath.Join(parent, "stx-build-*-*"))
		for _, d := range dirs {
			f := strings.Split(filepath.Base(d), "-")
			if len(f) != 4 {
				continue
			}
			if pid, err := strconv.Atoi(f[2]); err != nil || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			_ = syscall.Rmdir(d)
		}
	}
}

// probeCgroups finds, for each controller, where its cgroups can be made.
func probeCgroups(cgroupFile, mountinfoFile string) CgroupSupport {
	s := CgroupSupport{Parents: map[string]string{}}
	own, err := readOwnCgroups(cgroupFile)
	if err != nil {
		s.Missing = append(s.Missing, "all limits: "+err.Error())
		return s
	}
	mounts, err := cgroupMounts(mountinfoFile)
	if err != nil {
		s.Missing = append(s.Missing, "all limits: "+err.Error())
		return s
	}
	for _, c := range cgroupControllers {
		if dir, ok := mounts.v1[c]; ok {
			if p, ok := own[c]; ok {
				s.Parents[c] = filepath.Join(dir, p)
				s.Version = 1
				continue
			}
		}
		if mounts.v2 == "" {
			s.Missing = append(s.Missing, c+": no cgroup v2 mount and no v1 hierarchy with this controller")
			continue
		}
		parent, err := v2Parent(filepath.Join(mounts.v2, own[""]), c)
		if err != nil {
			s.Missing = append(s.Missing, c+": "+err.Error())
			continue
		}
		s.Parents[c] = parent
		s.Version = 2
	}
	if len(s.Parents) == 0 {
		s.Version = 0
	}
	return s
}

// readOwnCgroups reads /proc/self/cgroup: the path of this process's
// cgroup by v1 controller, and by "" on the v2 hierarchy.
func readOwnCgroups(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			own[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			own[c] = f[2]
		}
	}
	return own, nil
}

type cgroupMountPoints struct {
	v2 string            // the cgroup2 mount
	v1 map[string]string // v1 mounts by controller
}

// cgroupMounts finds the cgroup file systems in mountinfo.
func cgroupMounts(file string) (cgroupMountPoints, error) {
	m := cgroupMountPoints{v1: map[string]string{}}
	f, err := os.Open(file)
	if err != nil {
		return m, err
	}
	defer f.Close()
	entries, err := parseMountInfo(bufio.NewReader(f))
	if err != nil {
		return m, err
	}
	for _, e := range entries {
		switch e.FSType {
		case "cgroup2":
			if m.v2 == "" {
				m.v2 = e.Point
			}
		case "cgroup":
			for _, o := range strings.Split(e.SuperOptions, ",") {
				if slices.Contains(cgroupControllers, o) {
					m.v1[o] = e.Point
				}
			}
		}
	}
	return m, nil
}

// v2Parent is where cgroups with controller c can be made: own, with c
// enabled for its children, or own's parent (already delegating c, since
// own has it) when own holds processes and cannot enable it.
func v2Parent(own, c string) (string, error) {
	data, err := os.ReadFile(filepath.Join(own, "cgroup.controllers"))
	if err != nil {
		return "", err
	}
	if !slices.Contains(strings.Fields(string(data)), c) {
		return "", fmt.Errorf("controller not available in %s", own)
	}
	sub := filepath.Join(own, "cgroup.subtree_control")
	if cur, err := os.ReadFile(sub); err == nil && slices.Contains(strings.Fields(string(cur)), c) {
		return own, nil
	}
	if err := os.WriteFile(sub, []byte("+"+c), 0o644); err == nil {
		return own, nil
	}
	parent := filepath.Dir(own)
	if cur, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); err == nil && slices.Contains(strings.Fields(string(cur)), c) {
		return parent, nil
	}
	return "", fmt.Errorf("cannot enable it below %s (it holds processes) nor use its parent", own)
}

// sandboxCgroup is one sandbox's cgroup: a directory per hierarchy.
type sandboxCgroup struct {
	dirs    map[string]string // by controller
	version int
	limits  Limits
}

var cgroupSeq atomic.Int64

// newSandboxCgroup creates a cgroup with limits l (defaults applied) in
// every hierarchy s names. With no hierarchy it returns nil: limits are
// not enforced (CgroupSupport.Missing says why).
func newSandboxCgroup(s CgroupSupport, l Limits) (*sandboxCgroup, error) {
	if len(s.Parents) == 0 {
		return nil, nil
	}
	name := fmt.Sprintf("stx-build-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	cg := &sandboxCgroup{dirs: map[string]string{}, version: s.Version, limits: l.withDefaults()}
	for _, c := range cgroupControllers {
		parent, ok := s.Parents[c]
		if !ok {
			continue
		}
		dir := filepath.Join(parent, name)
		if d, ok := cg.dirsByPath()[dir]; ok {
			cg.dirs[c] = d // one v2 directory holds both
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		cg.dirs[c] = dir
	}
	if err := cg.setLimits(); err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

func (cg *sandboxCgroup) dirsByPath() map[string]string {
	m := map[string]string{}
	for _, d := range cg.dirs {
		m[d] = d
	}
	return m
}

func (cg *sandboxCgroup) setLimits() error {
	if d, ok := cg.dirs["pids"]; ok {
		if err := writeCgroup(d, "pids.max", strconv.FormatInt(cg.limits.Pids, 10)); err != nil {
			return err
		}
	}
	if d, ok := cg.dirs["memory"]; ok {
		file := "memory.max"
		if cg.version == 1 || !exists(filepath.Join(d, file)) {
			file = "memory.limit_in_bytes"
		}
		if err := writeCgroup(d, file, strconv.FormatInt(cg.limits.Memory, 10)); err != nil {
			return err
		}
		if file == "memory.max" && exists(filepath.Join(d, "memory.swap.max")) {
			// The limit is on memory, not on memory plus swap.
			_ = writeCgroup(d, "memory.swap.max", "0")
		}
	}
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func writeCgroup(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("cgroup %s: set %s to %s: %w", dir, file, value, err)
	}
	return nil
}

// add moves process pid into the cgroup.
func (cg *sandboxCgroup) add(pid int) error {
	for _, d := range cg.dirsByPath() {
		if err := writeCgroup(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// hits says which limits the sandbox ran into, as failure reasons (none
// for a nil cgroup).
func (cg *sandboxCgroup) hits() []string {
	if cg == nil {
		return nil
	}
	var out []string
	if d, ok := cg.dirs["pids"]; ok && eventCount(filepath.Join(d, "pids.events"), "max") > 0 {
		out = append(out, fmt.Sprintf("pids limit %d reached (a process could not fork)", cg.limits.Pids))
	}
	if d, ok := cg.dirs["memory"]; ok {
		file := "memory.events"
		if !exists(filepath.Join(d, file)) {
			file = "memory.oom_control"
		}
		if eventCount(filepath.Join(d, file), "oom_kill") > 0 {
			out = append(out, fmt.Sprintf("memory limit %s reached (OOM kill)", formatBytes(cg.limits.Memory)))
		}
	}
	return out
}

// eventCount reads the counter key from a flat keyed cgroup file.
func eventCount(file, key string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// remove kills what is left in the cgroup and removes it. The sandbox's
// processes die with its PID namespace's init; this waits for them.
func (cg *sandboxCgroup) remove() {
	for _, d := range cg.dirsByPath() {
		if exists(filepath.Join(d, "cgroup.kill")) {
			_ = os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0o644)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := syscall.Rmdir(d)
			if err == nil || errors.Is(err, syscall.ENOENT) || time.Now().After(deadline) {
				break
			}
			killCgroupProcs(d)
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// killCgroupProcs sends SIGKILL to every process listed in dir.
func killCgroupProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
