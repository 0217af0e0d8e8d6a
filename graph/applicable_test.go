package graph_test

import (
	"reflect"
	"testing"

	"pault.ag/go/debian/dependency"

	"github.com/stx-build/stx-build/graph"
)

func TestApplicableRelations(t *testing.T) {
	for _, tc := range []struct {
		name, deps, host string
		profiles         []string
		want             []string
	}{
		{"plain", "debhelper-compat (= 13), libfoo-dev (>= 1.2)", "amd64", nil,
			[]string{"debhelper-compat (= 13)", "libfoo-dev (>= 1.2)"}},
		{"arch list", "a [amd64], b [!amd64], c [linux-any], d [arm64]", "amd64", nil,
			[]string{"a", "c"}},
		{"arch list on arm64", "a [amd64], b [!amd64], c [linux-any], d [arm64]", "arm64", nil,
			[]string{"b", "c", "d"}},
		{"nocheck drops test deps", "gcc, check <!nocheck>, doc <!nodoc>", "amd64", []string{"nocheck"},
			[]string{"gcc", "doc"}},
		{"profile needed", "gcc, cross-tool <cross>", "amd64", nil, []string{"gcc"}},
		{"profile active", "gcc, cross-tool <cross>", "amd64", []string{"cross"}, []string{"gcc", "cross-tool"}},
		{"alternatives filtered", "a [arm64] | b (>= 2), c:native", "amd64", nil,
			[]string{"b (>= 2)", "c:native"}},
		{"whole relation gone", "a [arm64] | b <cross>", "amd64", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dependency.Parse(tc.deps)
			if err != nil {
				t.Fatal(err)
			}
			got, err := graph.ApplicableRelations(*d, tc.host, tc.profiles)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
