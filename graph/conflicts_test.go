package graph_test

import (
	"reflect"
	"testing"

	"github.com/stx-build/stx-build/graph"
)

func TestConflicts(t *testing.T) {
	// The archive: libbar-dev needs libfoo1 (>= 1.5); tool needs
	// libbar-dev | libalt; libc6 is Essential and needs libgcc-s1 (>= 3).
	idx := graph.ArchiveIndex{
		"libbar-dev":      {{Version: "2.0-1", Depends: "libbar2 (= 2.0-1), libfoo-dev"}},
		"libbar2":         {{Version: "2.0-1", Depends: "libfoo1 (>= 1.5)"}},
		"libfoo1":         {{Version: "1.6-1"}},
		"libfoo-dev":      {{Version: "1.6-1", Depends: "libfoo1 (= 1.6-1)"}},
		"libalt":          {{Version: "1"}},
		"tool":            {{Version: "3", Depends: "libbar-dev | libalt"}, {Version: "2"}},
		"libc6":           {{Version: "2.36-9", Essential: true, Depends: "libgcc-s1 (>= 3.0)"}},
		"libgcc-s1":       {{Version: "12.2-1"}},
		"build-essential": {{Version: "12.9", Depends: "libc6-dev | libc-dev"}},
		"libc6-dev":       {{Version: "2.36-9", Depends: "libc6 (= 2.36-9)"}},
	}
	foo := func(ver string) graph.Source { return lib(t, ver) } // libfoo1, libfoo-dev
	gcc := func(ver string) graph.Source {
		return src(t, ver, `
Source: gcc-12

Package: libgcc-s1
Architecture: any
`)
	}
	tests := []struct {
		name string
		srcs []graph.Source
		only []string
		want []graph.VersionConflict
	}{
		{
			name: "archive package needs a newer project binary",
			srcs: []graph.Source{foo("1.2-1"), app(t, "libbar-dev")},
			want: []graph.VersionConflict{{
				Package: "app", Chain: []string{"libbar-dev 2.0-1", "libbar2 2.0-1"},
				Relation: "libfoo1 (>= 1.5)", Binary: "libfoo1", ProjectVersion: "1.2-1", ProjectSource: "libfoo",
			}},
		},
		{
			name: "new enough project binary",
			srcs: []graph.Source{foo("1.5-1"), app(t, "libbar-dev")},
		},
		{
			name: "own Build-Depends too new for the project's binary",
			srcs: []graph.Source{foo("1.2-1"), app(t, "libfoo-dev (>= 1.3)")},
			want: []graph.VersionConflict{{
				Package: "app", Relation: "libfoo-dev (>= 1.3)", Binary: "libfoo-dev", ProjectVersion: "1.2-1", ProjectSource: "libfoo",
			}},
		},
		{
			name: "an archive alternative satisfies it",
			srcs: []graph.Source{foo("1.2-1"), app(t, "libfoo-dev (>= 1.3) | libalt")},
		},
		{
			name: "first alternative followed, as apt does",
			srcs: []graph.Source{foo("1.2-1"), app(t, "tool")},
			want: []graph.VersionConflict{{
				Package: "app", Chain: []string{"tool 3", "libbar-dev 2.0-1", "libbar2 2.0-1"},
				Relation: "libfoo1 (>= 1.5)", Binary: "libfoo1", ProjectVersion: "1.2-1", ProjectSource: "libfoo",
			}},
		},
		{
			name: "only the named sources",
			srcs: []graph.Source{foo("1.2-1"), app(t, "libbar-dev")},
			only: []string{"libfoo"},
		},
		{
			name: "the base root",
			srcs: []graph.Source{gcc("2.0-1")},
			want: []graph.VersionConflict{{
				Chain:    []string{"libc6 2.36-9"},
				Relation: "libgcc-s1 (>= 3.0)", Binary: "libgcc-s1", ProjectVersion: "2.0-1", ProjectSource: "gcc-12",
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graph.Conflicts(tc.srcs, graph.Options{Arch: "amd64"}, idx, tc.only)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConflictString(t *testing.T) {
	c := graph.VersionConflict{Package: "app", Chain: []string{"libbar-dev 2.0-1", "libbar2 2.0-1"}, Relation: "libfoo1 (>= 1.5)", Binary: "libfoo1", ProjectVersion: "1.2-1", ProjectSource: "libfoo"}
	want := "app needs libbar-dev 2.0-1 → libbar2 2.0-1 from the archive, which depends on libfoo1 (>= 1.5), but the project builds libfoo1 1.2-1 (source libfoo), and the project's build always replaces the archive's"
	if got := c.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
