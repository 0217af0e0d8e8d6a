package image

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stx-build/stx-build/deb822"
)

// SPDXMediaType is the media type of the SBOM documents.
const SPDXMediaType = "application/spdx+json"

// Annotations on the SBOM entries of an image index.
const (
	// AnnotationSBOMFor holds the digest of the image manifest an SBOM
	// describes (the same as the artifact's subject).
	AnnotationSBOMFor = "dev.stx-build.sbom.for"
)

// debianLicenses maps the short names of Debian's copyright format (and
// deprecated SPDX identifiers found in copyright files), lowercased, to
// SPDX identifiers.
var debianLicenses = map[string]string{
	"gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later",
	"gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later", "gpl-2.0": "GPL-2.0-only", "gpl-2.0+": "GPL-2.0-or-later",
	"gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later", "gpl-3.0": "GPL-3.0-only", "gpl-3.0+": "GPL-3.0-or-later",
	"lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.0": "LGPL-2.0-only", "lgpl-2.0+": "LGPL-2.0-or-later",
	"lgpl-2.1": "LGPL-2.1-only", "lgpl-2.1+": "LGPL-2.1-or-later",
	"lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later", "lgpl-3.0": "LGPL-3.0-only", "lgpl-3.0+": "LGPL-3.0-or-later",
	"agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later",
	"gfdl-1.2": "GFDL-1.2-only", "gfdl-1.2+": "GFDL-1.2-or-later",
	"gfdl-1.3": "GFDL-1.3-only", "gfdl-1.3+": "GFDL-1.3-or-later",
	"bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-4-clause": "BSD-4-Clause",
	"expat": "MIT", "mit": "MIT", "artistic": "Artistic-1.0-Perl", "artistic-2": "Artistic-2.0", "artistic-2.0": "Artistic-2.0",
	"apache-2": "Apache-2.0", "apache-2.0": "Apache-2.0", "mpl-1.1": "MPL-1.1", "mpl-2": "MPL-2.0", "mpl-2.0": "MPL-2.0",
	"psf-2": "PSF-2.0", "python": "Python-2.0", "cc0": "CC0-1.0", "cc0-1.0": "CC0-1.0", "zlib": "Zlib",
	"isc": "ISC", "openssl": "OpenSSL", "curl": "curl", "bsl-1.0": "BSL-1.0", "x11": "X11",
	"sleepycat": "Sleepycat", "beerware": "Beerware", "ms-pl": "MS-PL", "cc-by-3.0": "CC-BY-3.0",
	"cc-by-4.0": "CC-BY-4.0", "cc-by-sa-3.0": "CC-BY-SA-3.0", "cc-by-sa-4.0": "CC-BY-SA-4.0",
	"fsfap": "FSFAP", "fsfullr": "FSFULLR", "fsful": "FSFUL", "latex2e": "Latex2e", "unlicense": "Unlicense",
	"0bsd": "0BSD", "unicode-dfs-2016": "Unicode-DFS-2016", "wtfpl": "WTFPL", "ftl": "FTL", "ijg": "IJG",
	"libpng": "Libpng", "libpng-2.0": "libpng-2.0", "ofl-1.1": "OFL-1.1", "tcl": "TCL", "vim": "Vim",
}

var licenseRefChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// licenseRef is a LicenseRef for a license without an SPDX identifier.
func licenseRef(name string) string {
	return "LicenseRef-" + strings.Trim(licenseRefChars.ReplaceAllString(name, "-"), "-")
}

// spdxLicense maps one Debian license short name to an SPDX identifier or
// a LicenseRef.
func spdxLicense(name string) string {
	if id, ok := debianLicenses[strings.ToLower(name)]; ok {
		return id
	}
	return licenseRef(name)
}

// copyrightLicense reads a machine-readable copyright file and returns an
// SPDX expression for the licenses it names for files: the distinct terms
// joined with AND, sorted; "" when the file is not machine-readable.
func copyrightLicense(data []byte) string {
	// Lenient: a hand-written file with a stray line still names its
	// licenses.
	paras := deb822.ParseLenient(data)
	if len(paras) == 0 || !strings.Contains(paras[0].Value("Format"), "copyright-format") {
		return ""
	}
	set := map[string]bool{}
	for i, p := range paras {
		f, ok := p.Get("License")
		lic := f.Value
		if !ok || (i > 0 && p.Value("Files") == "") {
			continue // stand-alone License paragraphs hold texts
		}
		short, _, _ := strings.Cut(lic, "\n")
		for _, t := range licenseTerms(strings.TrimSpace(short)) {
			set[t] = true
		}
	}
	var terms []string
	for t := range set {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	if len(terms) == 1 && strings.HasPrefix(terms[0], "(") {
		return terms[0][1 : len(terms[0])-1]
	}
	return strings.Join(terms, " AND ")
}

// licenseTerms turns a Debian License: short form ("GPL-2+ or Artistic",
// "GPL-3+ and ISC", "LGPL-2.1+ with OpenSSL exception") into the SPDX
// terms that must all hold: each license of an "and", or one
// parenthesized OR group. A license with an exception becomes one
// LicenseRef.
func licenseTerms(short string) []string {
	if short == "" {
		return nil
	}
	if strings.Contains(strings.ToLower(short), " with ") {
		return []string{licenseRef(short)}
	}
	var alts [][]string
	for _, alt := range splitWord(short, "or") {
		var ands []string
		for _, l := range splitWord(alt, "and") {
			if l = strings.Trim(strings.TrimSpace(l), ","); l != "" {
				ands = append(ands, spdxLicense(l))
			}
		}
		if len(ands) > 0 {
			alts = append(alts, ands)
		}
	}
	switch len(alts) {
	case 0:
		return nil
	case 1:
		return alts[0]
	}
	var parts []string
	for _, a := range alts {
		if len(a) == 1 {
			parts = append(parts, a[0])
		} else {
			parts = append(parts, "("+strings.Join(a, " AND ")+")")
		}
	}
	return []string{"(" + strings.Join(parts, " OR ") + ")"}
}

// splitWord splits s at the word w (case-insensitive, between spaces).
func splitWord(s, w string) []string {
	var out, cur []string
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, w) {
			out = append(out, strings.Join(cur, " "))
			cur = nil
			continue
		}
		cur = append(cur, f)
	}
	return append(out, strings.Join(cur, " "))
}

// addLicenses fills in each package's License from root's
// /usr/share/doc/<package>/copyright. The files are read through os.Root,
// so symlinks cannot lead outside the image root.
func addLicenses(root string, pkgs []Package) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("image: licenses: %w", err)
	}
	defer r.Close()
	for i := range pkgs {
		data, err := r.ReadFile("usr/share/doc/" + pkgs[i].Name + "/copyright")
		if err != nil {
			continue // no copyright file, or one we may not follow
		}
		pkgs[i].License = copyrightLicense(data)
	}
	return nil
}

// SPDX 2.3 JSON, as much of it as an image SBOM needs. Field order is the
// output order.
type spdxDocument struct {
	SPDXVersion       string              `json:"spdxVersion"`
	DataLicense       string              `json:"dataLicense"`
	SPDXID            string              `json:"SPDXID"`
	Name              string              `json:"name"`
	DocumentNamespace string              `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo    `json:"creationInfo"`
	Packages          []spdxPackage       `json:"packages"`
	Relationships     []spdxRelationship  `json:"relationships"`
	ExtractedLicenses []spdxExtractedInfo `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	Supplier         string            `json:"supplier,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	SourceInfo       string            `json:"sourceInfo,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type spdxExtractedInfo struct {
	LicenseID     string `json:"licenseId"`
	Name          string `json:"name"`
	ExtractedText string `json:"extractedText"`
}

// sbomInput is what an image's SBOM describes.
type sbomInput struct {
	Project, Image, Suite, Arch string
	// Manifest is the digest of the image manifest the SBOM describes.
	Manifest v1.Hash
	Epoch    time.Time
	Packages []Package
}

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// makeSBOM renders the SPDX 2.3 JSON document of an image: the image as a
// CONTAINER package that CONTAINS every installed Debian package (name,
// version, architecture, source package, declared license, purl).
func makeSBOM(in sbomInput) ([]byte, error) {
	imageID := "SPDXRef-Image-" + spdxIDChars.ReplaceAllString(in.Image, "-")
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        fmt.Sprintf("%s-%s", in.Image, in.Arch),
		CreationInfo: spdxCreationInfo{
			Created:  in.Epoch.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: stx-build", "Organization: " + in.Project},
		},
	}
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: in.Image, SPDXID: imageID, VersionInfo: in.Manifest.String(),
		DownloadLocation: "NOASSERTION", LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION",
		CopyrightText: "NOASSERTION", PrimaryPurpose: "CONTAINER",
		ExternalRefs: []spdxExternalRef{{"PACKAGE-MANAGER", "purl",
			fmt.Sprintf("pkg:oci/%s@%s?arch=%s", in.Image, url.QueryEscape(in.Manifest.String()), in.Arch)}},
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", imageID})
	refs := map[string]string{} // LicenseRef -> the Debian name it stands for
	used := map[string]bool{}
	for _, p := range in.Packages {
		id := "SPDXRef-Package-deb-" + spdxIDChars.ReplaceAllString(p.Name+"-"+p.Architecture, "-")
		for base, n := id, 2; used[id]; n++ {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		used[id] = true
		lic := "NOASSERTION"
		if p.License != "" {
			lic = p.License
			for _, tok := range strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(lic)) {
				if strings.HasPrefix(tok, "LicenseRef-") {
					refs[tok] = strings.TrimPrefix(tok, "LicenseRef-")
				}
			}
		}
		namespace, supplier := "debian", "Organization: Debian"
		if p.Local {
			namespace, supplier = strings.ToLower(spdxIDChars.ReplaceAllString(in.Project, "-")), "Organization: "+in.Project
		}
		purl := fmt.Sprintf("pkg:deb/%s/%s@%s?arch=%s&distro=%s", namespace, url.PathEscape(p.Name),
			url.PathEscape(p.Version), p.Architecture, url.QueryEscape(in.Suite))
		if p.Source != p.Name || p.SourceVersion != p.Version {
			purl += "&upstream=" + url.QueryEscape(p.Source+"@"+p.SourceVersion)
		}
		sp := spdxPackage{
			Name: p.Name, SPDXID: id, VersionInfo: p.Version, Supplier: supplier,
			DownloadLocation: "NOASSERTION", LicenseConcluded: "NOASSERTION", LicenseDeclared: lic,
			CopyrightText: "NOASSERTION",
			SourceInfo:    fmt.Sprintf("built from Debian source package %s %s", p.Source, p.SourceVersion),
			ExternalRefs:  []spdxExternalRef{{"PACKAGE-MANAGER", "purl", purl}},
		}
		if p.SHA256 != "" {
			sp.Checksums = []spdxChecksum{{"SHA256", p.SHA256}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, spdxRelationship{imageID, "CONTAINS", id})
	}
	var refIDs []string
	for r := range refs {
		refIDs = append(refIDs, r)
	}
	sort.Strings(refIDs)
	for _, r := range refIDs {
		doc.ExtractedLicenses = append(doc.ExtractedLicenses, spdxExtractedInfo{
			LicenseID: r, Name: refs[r],
			ExtractedText: fmt.Sprintf("The license named %q in the package's /usr/share/doc/*/copyright file.", refs[r]),
		})
	}
	// The namespace must be unique per document: derive it from the content.
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc.DocumentNamespace = fmt.Sprintf("https://stx-build.invalid/spdx/%s/%s-%s-%x", url.PathEscape(in.Project), in.Image, in.Arch, sum[:16])
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// emptyConfig is the OCI empty descriptor's content, the config of an
// artifact manifest.
var emptyConfig = []byte("{}")

const emptyMediaType = types.MediaType("application/vnd.oci.empty.v1+json")

// sbomArtifact is an OCI 1.1 artifact manifest carrying one SBOM: config
// the empty descriptor, one blob of type application/spdx+json, and the
// image manifest it describes as its subject.
type sbomArtifact struct {
	manifest []byte
	blob     v1.Layer
	config   v1.Hash
}

// newSBOMArtifact wraps an SBOM document as an artifact referring to
// subject.
func newSBOMArtifact(doc []byte, subject v1.Descriptor, title string, created time.Time) (v1.Image, error) {
	blob := static.NewLayer(doc, types.MediaType(SPDXMediaType))
	digest, err := blob.Digest()
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(strings.NewReader(string(emptyConfig)))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SPDXMediaType,
		Config: v1.Descriptor{
			MediaType: emptyMediaType, Size: int64(len(emptyConfig)), Digest: cfgDigest, Data: emptyConfig,
		},
		Layers: []v1.Descriptor{{
			MediaType: SPDXMediaType, Size: int64(len(doc)), Digest: digest,
			Annotations: map[string]string{"org.opencontainers.image.title": title},
		}},
		Subject:     &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		Annotations: map[string]string{"org.opencontainers.image.created": created.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&sbomArtifact{manifest: raw, blob: blob, config: cfgDigest})
}

func (a *sbomArtifact) RawConfigFile() ([]byte, error)      { return emptyConfig, nil }
func (a *sbomArtifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *sbomArtifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *sbomArtifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, _ := a.blob.Digest(); d == h {
		return a.blob, nil
	}
	if h == a.config {
		return static.NewLayer(emptyConfig, emptyMediaType), nil
	}
	return nil, fmt.Errorf("image: sbom artifact has no blob %s", h)
}
