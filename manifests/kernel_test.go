package manifests

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kernelProject writes a project with one package.yaml and a tarball and
// fragment file, and loads it.
func kernelProject(t *testing.T, pkgYAML string) (*Project, error) {
	return kernelProjectWith(t, pkgYAML, nil)
}

// kernelProjectWith is kernelProject with more files in the package
// directory.
func kernelProjectWith(t *testing.T, pkgYAML string, extra map[string]string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		ProjectFile:                             "name: k\nsuite: bookworm\narchitectures: [amd64, arm64]\n",
		"packages/linux/package.yaml":           pkgYAML,
		"packages/linux/linux.tar.xz":           "x",
		"packages/linux/config/qemu.config":     "CONFIG_PRINTK=y\n",
		"packages/linux/config/amd64-full.conf": "CONFIG_64BIT=y\n",
	}
	for p, data := range extra {
		files["packages/linux/"+p] = data
	}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(dir)
}

const kernelOK = `name: linux
source:
  kernel:
    version: 6.1.192-1stx1
    localversion: -stx
    tarball:
      file: linux.tar.xz
      sha256: 4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693
    config:
      amd64: {base: config/amd64-full.conf, fragments: [config/qemu.config]}
      arm64: {base: tinyconfig}
`

func TestKernelValid(t *testing.T) {
	p, err := kernelProject(t, kernelOK)
	if err != nil {
		t.Fatal(err)
	}
	pkg := p.PackageList[0]
	if !pkg.IsKernel() {
		t.Fatal("not a kernel package")
	}
	k := pkg.Source.Kernel
	if got := k.KernelRelease(); got != "6.1.192-stx" {
		t.Errorf("release %q", got)
	}
	if c := k.Config["amd64"]; c.Base != "config/amd64-full.conf" || len(c.Fragments) != 1 {
		t.Errorf("amd64 config %+v", c)
	}
}

func TestKernelErrors(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"version", "6.1.192-1stx1", "6.1.192", "source.kernel.version: invalid version"},
		{"both", "file: linux.tar.xz", "file: linux.tar.xz\n      url: https://cdn.kernel.org/linux.tar.xz", "set only one of file or url"},
		{"nofile", "file: linux.tar.xz", "file: missing.tar.xz", `file "missing.tar.xz" does not exist`},
		{"url", "file: linux.tar.xz", "url: ftp://x/linux.tar.xz", "source.kernel.tarball.url: invalid URL"},
		{"sha", "sha256: 4d41", "sha256: XX41", "source.kernel.tarball.sha256: must be 64"},
		{"localversion", "localversion: -stx", "localversion: _STX", "source.kernel.localversion: invalid"},
		{"arch", "arm64: {base", "arm46: {base", `source.kernel.config.arm46: unknown architecture`},
		{"fragment", "[config/qemu.config]", "[config/nope.config]", "source.kernel.config.amd64.fragments[0]"},
		{"basefile", "base: tinyconfig", "base: tiny", `file "tiny" does not exist`},
		{"twosources", "name: linux\nsource:\n", "name: linux\nsource:\n  local: .\n", "set only one of local, debian or dsc (found local and kernel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(kernelOK, tc.from, tc.to, 1)
			if y == kernelOK {
				t.Fatalf("%q not in the manifest", tc.from)
			}
			_, err := kernelProject(t, y)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// The manifest shown in docs/kernel.md is the real example.
func TestKernelDocMatchesExample(t *testing.T) {
	const name = "examples/kernel/packages/linux/package.yaml"
	doc, err := os.ReadFile("../docs/kernel.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "`"+name+"`:\n\n```yaml\n")
	if !ok {
		t.Fatalf("docs/kernel.md shows no %s", name)
	}
	shown, _, _ := strings.Cut(after, "```\n")
	real, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	// The file's leading comment is not shown.
	var body []string
	for _, l := range strings.SplitAfter(string(real), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	if got := strings.Join(body, ""); got != shown {
		t.Errorf("docs/kernel.md shows %s differently from the file:\n%s\nvs\n%s", name, shown, got)
	}
}

// signingPEM makes a PEM private key (RSA or ECDSA) and a self-signed
// certificate for certKey's public key (the same key when nil).
func signingPEM(t *testing.T, ec bool, certKey any) (keyPEM, certPEM string) {
	t.Helper()
	var key any
	var err error
	if ec {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	if certKey == nil {
		certKey = key
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stx test module signing"}}
	pub := certKey.(interface{ Public() crypto.PublicKey }).Public()
	cder, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, certKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cder}))
}

func TestKernelSigningKey(t *testing.T) {
	key, cert := signingPEM(t, false, nil)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, otherCert := signingPEM(t, false, other)
	ecKey, ecCert := signingPEM(t, true, nil)
	block, _ := pem.Decode([]byte(cert))
	certSum := fmt.Sprintf("%x", sha256.Sum256(block.Bytes))
	abs := filepath.Join(t.TempDir(), "release.pem")
	if err := os.WriteFile(abs, []byte(key+cert), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STX_TEST_SIGNING_KEY", abs)
	t.Setenv("STX_TEST_UNSET", "")
	for _, tc := range []struct {
		name, value, file, want string
	}{
		{name: "relative", value: "keys/signing.pem", file: key + cert},
		{name: "cert first", value: "keys/signing.pem", file: cert + key},
		{name: "absolute", value: abs},
		{name: "environment", value: "${STX_TEST_SIGNING_KEY}"},
		{name: "unset", value: "${STX_TEST_UNSET}/k.pem", want: "source.kernel.module-signing-key: environment variable STX_TEST_UNSET is not set"},
		{name: "empty", value: "", want: "source.kernel.module-signing-key: must not be empty"},
		{name: "empty string", value: `""`, want: "source.kernel.module-signing-key: must not be empty"},
		{name: "missing", value: "keys/none.pem", want: `file "keys/none.pem" does not exist`},
		{name: "no cert", value: "keys/signing.pem", file: key, want: "no PEM certificate"},
		{name: "no key", value: "keys/signing.pem", file: cert, want: "no PEM private key"},
		{name: "other cert", value: "keys/signing.pem", file: key + otherCert, want: "is not for this private key"},
		{name: "ecdsa", value: "keys/signing.pem", file: ecKey + ecCert, want: "not RSA"},
		{name: "encrypted", value: "keys/signing.pem", file: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n" + cert, want: "encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(kernelOK, "    localversion: -stx\n", "    localversion: -stx\n    module-signing-key: "+tc.value+"\n", 1)
			extra := map[string]string{}
			if tc.file != "" {
				extra["keys/signing.pem"] = tc.file
			}
			p, err := kernelProjectWith(t, y, extra)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
				if !strings.Contains(err.Error(), "package.yaml:6:") {
					t.Errorf("error does not name the line of module-signing-key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := p.PackageList[0].Source.Kernel.Signing
			if s == nil || !filepath.IsAbs(s.File) || s.CertSHA256 != certSum {
				t.Errorf("signing %+v, want an absolute path and certificate sha256 %s", s, certSum)
			}
		})
	}
}
