package buildkit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stx-build/stx-build/internal/buildkittest"
	"github.com/stx-build/stx-build/runner/buildkit"
)

// certs writes a CA and, signed by it, a server certificate for 127.0.0.1
// and a client certificate, in buildctl's --tlsdir layout (ca.pem,
// cert.pem, key.pem) for the client and as server-*.pem for buildkitd.
func certs(t *testing.T, dir string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	caKey := key()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stx-build test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for i, leaf := range []struct {
		prefix string
		usage  x509.ExtKeyUsage
	}{{"server-", x509.ExtKeyUsageServerAuth}, {"", x509.ExtKeyUsageClientAuth}} {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: leaf.prefix + "stx"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{leaf.usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(leaf.prefix+"cert.pem", "CERTIFICATE", der)
		write(leaf.prefix+"key.pem", "EC PRIVATE KEY", kd)
	}
}

// TestTLSWorker: a buildkitd on TCP with mutual TLS takes a job from a
// client with the right certificates and refuses one without.
func TestTLSWorker(t *testing.T) {
	buildkittest.Bin(t)
	dir := t.TempDir()
	certs(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("tcp://%s", l.Addr())
	l.Close()
	buildkittest.StartWith(t, addr, []string{
		"--tlscacert", filepath.Join(dir, "ca.pem"),
		"--tlscert", filepath.Join(dir, "server-cert.pem"), "--tlskey", filepath.Join(dir, "server-key.pem"),
	})
	ctx := context.Background()
	w := &buildkit.Worker{Addr: addr, TLS: buildkit.TLSDir(dir)}
	defer w.Close()
	if err := w.Usable(ctx, "amd64"); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	plain := buildkit.New(addr)
	defer plain.Close()
	if err := plain.Usable(ctx, "amd64"); !errors.Is(err, buildkit.ErrUnavailable) {
		t.Errorf("without TLS: err = %v, want ErrUnavailable", err)
	}
	missing := &buildkit.Worker{Addr: addr, TLS: buildkit.TLSDir(filepath.Join(dir, "nowhere"))}
	if err := missing.Usable(ctx, "amd64"); err == nil {
		t.Error("with missing certificate files: no error")
	}
}
