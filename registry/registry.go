// Package registry holds what stx-build's OCI registry clients (the
// image push and the artifact cache) share: which registries are this
// machine, and how references to them are parsed so that those are
// reached over plain HTTP.
package registry

import (
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Loopback reports whether ref's registry (the part before the first
// "/", with or without a port) is this machine: localhost or a loopback
// address.
func Loopback(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseReference parses a tag or digest reference, e.g. for a push;
// registries on loopback are reached over plain HTTP.
func ParseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if Loopback(r.Context().RegistryStr()) {
		return name.ParseReference(ref, name.Insecure)
	}
	return r, nil
}

// ParseRepository parses a repository reference without tag or digest
// (e.g. "127.0.0.1:5000/stx/cache"), strictly: an implicit default
// registry is refused. Insecure allows plain HTTP; it is on by itself for
// loopback registries.
func ParseRepository(ref string, insecure bool) (name.Repository, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure || Loopback(ref) {
		opts = append(opts, name.Insecure)
	}
	return name.NewRepository(ref, opts...)
}
