// Package cache keeps build artifacts by build key: a digest of everything
// that decides what a package build produces. Local is the store in the
// cache directory (atomic writes, a lock shared by concurrent runs,
// verification); a Remote (cache/oci: an OCI registry) shares entries
// between machines; Cache puts the two together for the build loop.
// Explain says which input of a key changed since an earlier build.
//
// Keys are computed by cache/buildkey; this package only knows them as
// named inputs and their digest.
package cache

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// KeyVersion changes whenever the way keys are computed changes, so that
// old entries are never mistaken for new ones.
const KeyVersion = "1"

// Key is a build key: 64 lowercase hex digits (a sha256). It is also the
// entry's directory name in the local store and its tag in a registry.
type Key string

// Short is the key's first 12 digits, for messages.
func (k Key) Short() string {
	if len(k) > 12 {
		return string(k[:12])
	}
	return string(k)
}

// Valid reports whether k looks like a key (64 lowercase hex digits).
func (k Key) Valid() bool {
	if len(k) != 2*sha256.Size {
		return false
	}
	for _, c := range k {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Kinds of Input.
const (
	// KindBuild inputs are build settings: builder version, key format,
	// architectures, parts, profiles.
	KindBuild = "build"
	// KindManifest is the normalized package.yaml.
	KindManifest = "manifest"
	// KindSource inputs are a local tree's entries (by path) or a .dsc.
	KindSource = "source"
	// KindPatch inputs are patches, by position and name.
	KindPatch = "patch"
	// KindDep inputs are the keys of local packages built before this one
	// whose binaries the build may install ("name/arch").
	KindDep = "dep"
	// KindBase inputs are the base root and the archive state it pins.
	KindBase = "base"
)

// Input is one named input of a key. Value is what the key hashes: a digest
// with a short prefix saying what it is ("file <sha256>", "dsc <sha256>"),
// a dependency's key, or a setting's value.
type Input struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

func compareInputs(a, b Input) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// SortInputs sorts inputs by kind and name, the order keys hash them in.
func SortInputs(in []Input) { slices.SortFunc(in, compareInputs) }

// KeyOf computes the key of inputs: a sha256 over the key version and
// every input, sorted by kind and name, each field length-prefixed so no
// two different input lists hash the same text. Two inputs with the same
// kind and name are an error.
func KeyOf(inputs []Input) (Key, error) {
	in := slices.Clone(inputs)
	SortInputs(in)
	h := sha256.New()
	fmt.Fprintf(h, "stx-build build key %s\n", KeyVersion)
	for i, x := range in {
		if i > 0 && compareInputs(in[i-1], x) == 0 {
			return "", fmt.Errorf("build key: input %s %q given twice", x.Kind, x.Name)
		}
		for _, f := range []string{x.Kind, x.Name, x.Value} {
			fmt.Fprintf(h, "%d:%s", len(f), f)
		}
		h.Write([]byte{'\n'})
	}
	return Key(hex.EncodeToString(h.Sum(nil))), nil
}

// Build names one package build and what its key was computed from.
type Build struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Key     Key    `json:"key"`
	// Inputs are sorted by kind and name.
	Inputs []Input `json:"inputs"`
}

// NewBuild computes the key of inputs and returns the Build.
func NewBuild(pkg, version, arch string, inputs []Input) (Build, error) {
	in := slices.Clone(inputs)
	SortInputs(in)
	k, err := KeyOf(in)
	if err != nil {
		return Build{}, fmt.Errorf("package %s (%s): %w", pkg, arch, err)
	}
	return Build{Package: pkg, Version: version, Arch: arch, Key: k, Inputs: in}, nil
}

// String is "package version (arch) key".
func (b Build) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s (%s) %s", b.Package, b.Version, b.Arch, b.Key.Short()))
}
