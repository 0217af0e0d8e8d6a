package deb

import (
	"strings"
	"testing"
)

// The environment step installs exactly the resolved set: the archive's
// packages by name and version, the local ones from their files.
func TestEnvScript(t *testing.T) {
	ds := &depSet{Archive: []string{"gcc=4:12.2.0-3", "libc6-dev:arm64=2.36-9"}}
	got := envScript(ds, true)
	for _, want := range []string{
		"apt-get -q -y --allow-downgrades --no-install-recommends install gcc=4:12.2.0-3 libc6-dev:arm64=2.36-9 /stx/local/*.deb\n",
		"apt-get clean\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	if got := envScript(&depSet{}, false); strings.Contains(got, "install") {
		t.Errorf("nothing to install, but:\n%s", got)
	}
}
