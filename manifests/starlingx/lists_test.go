package starlingx

import (
	"slices"
	"strings"
	"testing"
)

// TestISOPackages reads the sample's ISO lists: the image inc plus the
// repos' lists, fault's packages among them and its commented-out
// fm-common-dev not.
func TestISOPackages(t *testing.T) {
	tr, err := Read(Config{Root: sampleRoot(t), Codename: "trixie"})
	if err != nil {
		t.Fatal(err)
	}
	pkgs := tr.ISOPackages()
	for _, want := range []string{"acl", "python3-fm-api", "fm-common", "fm-mgr", "python3-fmclient"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("%s missing", want)
		}
	}
	if slices.Contains(pkgs, "fm-common-dev") {
		t.Error("fm-common-dev is commented out but listed")
	}
	if !slices.IsSorted(pkgs) {
		t.Error("not sorted")
	}
	t.Logf("%d packages", len(pkgs))
}

func TestParseShellVars(t *testing.T) {
	in := "BUILDER=loci\nLABEL=stx-fm-rest-api\n# comment\nPROJECT=infra\nDIST_PACKAGES=\"postgresql fm-common\"\n\nPIP_PACKAGES=\"\n        cgtsclient \\\n        httplib2 \\\n        WSME\"\nDOCKER_FILE='a b'\nJOINED=one\\\ntwo\n"
	got := parseShellVars(in)
	want := map[string]string{
		"BUILDER": "loci", "LABEL": "stx-fm-rest-api", "PROJECT": "infra",
		"DIST_PACKAGES": "postgresql fm-common", "PIP_PACKAGES": "cgtsclient httplib2 WSME",
		"DOCKER_FILE": "a b", "JOINED": "one two",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
}

// TestImagesSample lists the sample's image definitions: it holds the
// .inc lists but no definitions, so each says so.
func TestImagesSample(t *testing.T) {
	tr, err := Read(Config{Root: sampleRoot(t), Codename: "trixie"})
	if err != nil {
		t.Fatal(err)
	}
	ims := tr.Images()
	var dirs []string
	for _, im := range ims {
		dirs = append(dirs, im.Dir)
		if ok, _, lost := im.Mapping(); ok || len(lost) != 1 || !strings.Contains(lost[0], "not in the tree") {
			t.Errorf("%s: %v %v", im.Dir, ok, lost)
		}
	}
	if len(ims) != 6 || dirs[0] != "cgcs-root/stx/fault/fm-rest-api" {
		t.Errorf("images %v", dirs)
	}
}
