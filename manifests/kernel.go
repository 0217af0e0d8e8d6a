package manifests

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"pault.ag/go/debian/version"
)

// KernelSource is a Linux kernel built from an upstream tarball with the
// kernel's own Debian packaging (make bindeb-pkg), not from a debian/ tree.
type KernelSource struct {
	// Version is the Debian version of the produced packages
	// (KDEB_PKGVERSION), such as 6.1.192-1stx1.
	Version string `yaml:"version" required:"true"`
	// Tarball is the upstream source tarball: a file in the package
	// directory or a URL, always with its sha256.
	Tarball KernelTarball `yaml:"tarball" required:"true"`
	// LocalVersion is appended to the kernel release (CONFIG_LOCALVERSION),
	// so linux-image-<release><localversion> names the package.
	LocalVersion string `yaml:"localversion"`
	// Config is the configuration per architecture: a base plus fragments.
	Config map[string]KernelConfig `yaml:"config" required:"true"`
	// ModuleSigningKey is a PEM file holding an RSA private key and its
	// X.509 certificate (what CONFIG_MODULE_SIG_KEY takes): when set, every
	// module is signed with it and the certificate is built into the
	// kernel. A path relative to the package directory or absolute;
	// ${NAME} is taken from the environment, so a release key can stay
	// outside the project. Unset: modules are not signed.
	ModuleSigningKey string `yaml:"module-signing-key"`
	// Signing is ModuleSigningKey resolved by Load.
	Signing *SigningKey `yaml:"-"`
}

// SigningKey is a checked module signing key.
type SigningKey struct {
	// File is the key file's absolute path.
	File string
	// CertSHA256 is the SHA-256 of the certificate (DER): it names the key
	// pair in build keys without saying anything about the private key.
	CertSHA256 string
}

// KernelTarball names the kernel source tarball. Exactly one of File and URL.
type KernelTarball struct {
	// File is a path relative to the package directory.
	File string `yaml:"file"`
	// URL is an http(s) URL, fetched into the cache.
	URL string `yaml:"url"`
	// SHA256 is the tarball's digest: 64 lowercase hexadecimal digits.
	SHA256 string `yaml:"sha256" required:"true"`
}

// KernelConfig is one architecture's kernel configuration.
type KernelConfig struct {
	// Base is tinyconfig, defconfig, allnoconfig, or a config file relative
	// to the package directory.
	Base string `yaml:"base" required:"true"`
	// Fragments are config fragments (relative to the package directory)
	// merged in order with scripts/kconfig/merge_config.sh.
	Fragments []string `yaml:"fragments"`
}

// KernelBuildDepends are the tools make bindeb-pkg needs, all for the build
// machine: the cross compiler comes with the base root's
// crossbuild-essential-<arch>, and kbuild's host programs link against the
// build machine's libssl and libelf.
const KernelBuildDepends = "bc:native, bison:native, flex:native, cpio:native, kmod:native, rsync:native, libssl-dev:native, libelf-dev:native, python3:native"

// KernelRelease is the kernel release the package's build reports (make
// kernelrelease): the upstream part of Version plus LocalVersion. It names
// the linux-image and linux-headers packages.
func (k *KernelSource) KernelRelease() string {
	up := k.Version
	if _, rest, ok := strings.Cut(up, ":"); ok {
		up = rest
	}
	if i := strings.LastIndex(up, "-"); i >= 0 {
		up = up[:i]
	}
	return up + k.LocalVersion
}

// KernelBaseTargets are the make targets accepted as a config base.
var KernelBaseTargets = []string{"allnoconfig", "defconfig", "tinyconfig"}

// IsKernel reports whether the package is a kernel built with bindeb-pkg.
func (p *Package) IsKernel() bool { return p.Source.Kernel != nil }

// localVersionRe is what kbuild accepts in a release string, kept narrow
// because it ends up in package names.
var localVersionRe = regexp.MustCompile(`^[a-z0-9.+-]*$`)

func validateKernelSource(pkg *Package, d *document, tr *tree) {
	k := pkg.Source.Kernel
	if k.Version != "" {
		if _, err := version.Parse(k.Version); err != nil || !strings.Contains(k.Version, "-") {
			d.errorf("source.kernel.version", "invalid version %s: use upstream-revision, such as 6.1.192-1stx1", quoteShort(k.Version))
		}
	}
	t := &k.Tarball
	switch {
	case t.File != "" && t.URL != "":
		d.errorf("source.kernel.tarball", "set only one of file or url")
	case t.File == "" && t.URL == "":
		d.errorf("source.kernel.tarball", "set one of file or url")
	case t.File != "":
		checkPath(d, tr, "source.kernel.tarball.file", pkg.Dir, t.File, false, 0)
	case t.URL != "":
		if !isMirrorURL(t.URL) || strings.HasPrefix(t.URL, "file:") {
			d.errorf("source.kernel.tarball.url", "invalid URL %s: use an http or https URL", quoteShort(t.URL))
		}
	}
	if t.SHA256 != "" && !sha256Hex.MatchString(t.SHA256) {
		d.errorf("source.kernel.tarball.sha256", "must be 64 lowercase hexadecimal digits")
	}
	if !localVersionRe.MatchString(k.LocalVersion) {
		d.errorf("source.kernel.localversion", "invalid %s: use a-z, 0-9, '.', '+' and '-'", quoteShort(k.LocalVersion))
	}
	if k.ModuleSigningKey != "" {
		k.Signing = checkSigningKey(d, pkg.Dir, k.ModuleSigningKey)
	} else if d.present("source.kernel.module-signing-key") {
		// Given but empty: a mistake (signing would silently be off).
		d.errorf("source.kernel.module-signing-key", "must not be empty: name the key file, or leave the field out to build without module signing")
	}
	archs := make([]string, 0, len(k.Config))
	for a := range k.Config {
		archs = append(archs, a)
	}
	slices.Sort(archs)
	for _, a := range archs {
		field := "source.kernel.config." + a
		if !isArchitecture(a) {
			d.errorf(field, "unknown architecture %q", a)
			continue
		}
		c := k.Config[a]
		if c.Base != "" && !slices.Contains(KernelBaseTargets, c.Base) {
			checkPath(d, tr, field+".base", pkg.Dir, c.Base, false, MaxPatchSize)
		}
		for i, f := range c.Fragments {
			checkPath(d, tr, fmt.Sprintf("%s.fragments[%d]", field, i), pkg.Dir, f, false, MaxPatchSize)
		}
	}
}

// checkSigningKey resolves and checks source.kernel.module-signing-key.
func checkSigningKey(d *document, pkgDir, value string) *SigningKey {
	const field = "source.kernel.module-signing-key"
	var unset []string
	path := os.Expand(value, func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			unset = append(unset, name)
		}
		return v
	})
	if len(unset) > 0 {
		d.errorf(field, "environment variable %s is not set (%s names the key file with it)", unset[0], quoteShort(value))
		return nil
	}
	shown := path // as the user wrote it, expanded
	if !filepath.IsAbs(path) {
		path = filepath.Join(pkgDir, path)
	}
	// The key may be anywhere (a release key is kept out of the project on
	// purpose), but only a regular file of a sane size is read.
	data, err := readFileAnywhere(path, MaxManifestSize)
	if err != nil {
		if msg, refused := isRefusal(err); refused {
			d.errorf(field, "%q %s", shown, msg)
		} else if errors.Is(err, os.ErrNotExist) {
			d.errorf(field, "file %q does not exist", shown)
		} else {
			d.errorf(field, "cannot read %q: %v", shown, err)
		}
		return nil
	}
	cert, err := parseSigningKey(data)
	if err != nil {
		d.errorf(field, "%q: %v", shown, err)
		return nil
	}
	sum := sha256.Sum256(cert.Raw)
	return &SigningKey{File: path, CertSHA256: hex.EncodeToString(sum[:])}
}

// parseSigningKey checks that data holds one RSA private key and the
// X.509 certificate of its public key, both PEM, and returns the
// certificate. RSA only: its PKCS#1 v1.5 signatures are a function of key
// and content, so signed modules stay reproducible; ECDSA signatures are
// randomized and would differ on every build.
func parseSigningKey(data []byte) (*x509.Certificate, error) {
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			if cert != nil {
				return nil, errors.New("more than one certificate")
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %v", err)
			}
			cert = c
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, errors.New("more than one private key")
			}
			var k any
			var err error
			switch b.Type {
			case "PRIVATE KEY":
				k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			case "RSA PRIVATE KEY":
				k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			default:
				k, err = x509.ParseECPrivateKey(b.Bytes)
			}
			if err != nil {
				return nil, fmt.Errorf("private key: %v", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the private key is %T, not RSA: only RSA signatures are the same on every build (ECDSA signatures are randomized), use an RSA key", k)
			}
			key = rk
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted: builds run unattended, use an unencrypted key and protect the file instead")
		}
	}
	switch {
	case key == nil:
		return nil, errors.New("no PEM private key: want an RSA private key and its X.509 certificate in one file")
	case cert == nil:
		return nil, errors.New("no PEM certificate: want an RSA private key and its X.509 certificate in one file")
	case !key.PublicKey.Equal(cert.PublicKey):
		return nil, fmt.Errorf("the certificate (%s) is not for this private key", cert.Subject)
	}
	return cert, nil
}
