package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"pault.ag/go/debian/version"

	"github.com/stx-build/stx-build/deb822"
)

// realSources are common library and tool sources of Debian, in the
// order gen-real takes them: libraries that build-depend on each other
// (curl on openssl, nghttp2, libssh2, ...), without the toolchain's
// cycles (gcc, glibc, perl and python are archive packages here).
var realSources = []string{
	"zlib", "bzip2", "xz-utils", "lz4", "libzstd", "libpng1.6", "libjpeg-turbo", "giflib",
	"libwebp", "libsodium", "expat", "libxml2", "libxslt", "libyaml", "jansson", "json-c",
	"pcre2", "pcre3", "sqlite3", "libffi", "libedit", "libtirpc", "ncurses", "openssl",
	"nettle", "libgpg-error", "libgcrypt20", "libtasn1-6", "p11-kit", "gnutls28", "libidn2", "libunistring",
	"libpsl", "nghttp2", "libssh2", "c-ares", "curl", "libevent", "libuv1", "libonig",
	"jq", "lmdb", "gdbm", "libcap2", "libcap-ng", "acl", "attr", "keyutils",
	"popt", "libbsd", "libmd", "hello", "less", "lzo2", "libarchive", "libseccomp",
	"libnl3", "libmnl", "libnftnl", "iptables", "dbus", "libxcrypt", "pam", "libzip",
}

// generateReal writes the gen-real project (see the package comment).
func generateReal(dir, sourcesFile string, n int) error {
	paras, err := deb822.ParseFile(sourcesFile)
	if err != nil {
		return err
	}
	// The highest version of each source (the suite's, its updates' and
	// its security archive's indexes may each list one).
	byName := map[string]*deb822.Paragraph{}
	for i := range paras {
		name := paras[i].Value("Package")
		if old, ok := byName[name]; ok {
			a, errA := version.Parse(old.Value("Version"))
			b, errB := version.Parse(paras[i].Value("Version"))
			if errA != nil || errB != nil || version.Compare(a, b) >= 0 {
				continue
			}
		}
		byName[name] = &paras[i]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "stx.yaml"), []byte("name: gen-real\nsuite: bookworm\narchitectures: [amd64]\n"), 0o644); err != nil {
		return err
	}
	written := 0
	for _, name := range realSources {
		if written == n {
			break
		}
		p, ok := byName[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "gen-real: %s not in %s, left out\n", name, sourcesFile)
			continue
		}
		if err := writeRealPackage(filepath.Join(dir, "packages", name), p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		written++
	}
	if written < n {
		return fmt.Errorf("gen-real: %d packages written, %d asked for (realSources has %d)", written, n, len(realSources))
	}
	return nil
}

// writeRealPackage writes one local package declaring what the archive's
// source p declares.
func writeRealPackage(dir string, p *deb822.Paragraph) error {
	name, version := p.Value("Package"), p.Value("Version")
	var ctl strings.Builder
	fmt.Fprintf(&ctl, "Source: %s\nMaintainer: x <x@stx-build.invalid>\n", name)
	for _, f := range []string{"Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep", "Build-Conflicts", "Build-Conflicts-Arch", "Build-Conflicts-Indep"} {
		if v := strings.Join(strings.Fields(p.Value(f)), " "); v != "" {
			fmt.Fprintf(&ctl, "%s: %s\n", f, v)
		}
	}
	bins := 0
	for _, l := range strings.Split(p.Value("Package-List"), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[1] != "deb" {
			continue // udebs, and the field's empty first line
		}
		arch, ok := strings.CutPrefix(f[4], "arch=")
		if !ok {
			continue
		}
		fmt.Fprintf(&ctl, "\nPackage: %s\nArchitecture: %s\nDescription: x\n x\n", f[0], strings.ReplaceAll(arch, ",", " "))
		bins++
	}
	if bins == 0 {
		return fmt.Errorf("no binary package in its Package-List")
	}
	files := map[string]string{
		"package.yaml":             fmt.Sprintf("name: %s\nsource:\n  local: src\n", name),
		"src/debian/control":       ctl.String(),
		"src/debian/changelog":     fmt.Sprintf("%s (%s) bookworm; urgency=medium\n\n  * x\n\n -- x <x@stx-build.invalid>  Mon, 01 Jan 2024 00:00:00 +0000\n", name, version),
		"src/debian/source/format": "3.0 (native)\n",
		"src/debian/rules":         "#!/usr/bin/make -f\n%:\n\tfalse\n",
	}
	for rel, content := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
