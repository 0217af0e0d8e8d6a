package store

import (
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	r := NewRecorder("bookworm")
	a := LockedPackage{Name: "a", Version: "1", Arch: "amd64"}
	b := LockedPackage{Name: "b", Version: "2", Arch: "all"}
	rel := []LockRelease{{Name: "bookworm", SHA256: "11"}}
	var wg sync.WaitGroup
	for _, p := range []LockedPackage{b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.AddSet(&LockSet{Suite: "bookworm", Arch: "amd64", Packages: []LockedPackage{p}})
		}()
	}
	wg.Wait()
	r.AddSet(&LockSet{Suite: "bookworm", Arch: "amd64", Releases: rel})
	l := r.Lock()
	if len(l.Sets) != 1 {
		t.Fatalf("sets %+v, want one", l.Sets)
	}
	s := l.Sets[0]
	if len(s.Packages) != 2 || s.Packages[0].Name != "a" || s.Packages[1].Name != "b" {
		t.Errorf("packages %+v, want a then b once each", s.Packages)
	}
	if len(s.Releases) != 1 || s.Releases[0].SHA256 != "11" {
		t.Errorf("releases %+v", s.Releases)
	}
}
