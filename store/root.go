package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stx-build/stx-build/deb822"
	"github.com/stx-build/stx-build/dpkgstatus"
)

// LocalSuite is the suite of stx-build's own apt repositories (the
// project's packages, repo.Repo): packages a root installed from them
// are not archive packages and are not locked.
const LocalSuite = "stx"

// RootPackages returns the archive packages installed in the root
// filesystem at root, as lock entries: every package dpkg's status says
// is installed, with the size, sha256 and pool path the root's apt lists
// (var/lib/apt/lists, read before they are cleaned) give for that name,
// version and architecture. Packages of the local repositories (suite
// LocalSuite) are left out. An installed package no list names is an
// error: the root was not made from indexes it still has.
func RootPackages(root string) ([]LockedPackage, error) {
	installed, err := installedPackages(root)
	if err != nil {
		return nil, err
	}
	archive, local, err := listedPackages(root)
	if err != nil {
		return nil, err
	}
	var out []LockedPackage
	var unknown []string
	for _, k := range installed {
		if p, ok := archive[k]; ok {
			out = append(out, p)
			continue
		}
		if !local[k] {
			unknown = append(unknown, strings.ReplaceAll(k, "\x00", " "))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s: installed, but no apt list of the root names them: %s", root, strings.Join(unknown, ", "))
	}
	slices.SortFunc(out, comparePackages)
	return out, nil
}

func pkgKey(name, version, arch string) string { return name + "\x00" + version + "\x00" + arch }

// installedPackages are the keys of the installed packages of dpkg's
// status in root, sorted.
func installedPackages(root string) ([]string, error) {
	pkgs, err := dpkgstatus.Root(root)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, pkgKey(p.Name, p.Version, p.Architecture))
	}
	slices.Sort(out)
	return out, nil
}

// listedPackages reads the Packages lists of root: the archive's entries
// by key (the first list, in name order, wins) and the keys the local
// repositories list.
func listedPackages(root string) (map[string]LockedPackage, map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(root, "var", "lib", "apt", "lists", "*_Packages"))
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(files)
	archive, local := map[string]LockedPackage{}, map[string]bool{}
	for _, file := range files {
		fi, err := os.Lstat(file)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("%s: not a regular file", file)
		}
		paras, err := deb822.ParseFile(file)
		if err != nil {
			return nil, nil, err
		}
		isLocal := strings.Contains(filepath.Base(file), "_dists_"+LocalSuite+"_")
		for _, p := range paras {
			k := pkgKey(p.Value("Package"), p.Value("Version"), p.Value("Architecture"))
			if isLocal {
				local[k] = true
				continue
			}
			if _, seen := archive[k]; seen {
				continue
			}
			size, err := strconv.ParseInt(p.Value("Size"), 10, 64)
			sum := p.Value("SHA256")
			path := p.Value("Filename")
			if err != nil || checkSum(sum) != nil || !strings.HasPrefix(path, "pool/") {
				continue // not a usable entry: the package is reported if installed
			}
			archive[k] = LockedPackage{Name: p.Value("Package"), Version: p.Value("Version"), Arch: p.Value("Architecture"),
				Size: size, SHA256: sum, Path: path}
		}
	}
	return archive, local, nil
}

// RootReleases are the digests of the InRelease and Release files of the
// archive lists of root, named by suite (ReleaseName); the local
// repositories' are left out.
func RootReleases(root string) ([]LockRelease, error) {
	dir := filepath.Join(root, "var", "lib", "apt", "lists")
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []LockRelease
	for _, de := range des {
		name := ReleaseName(de.Name())
		if !de.Type().IsRegular() || name == "" || name == LocalSuite {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, LockRelease{Name: name, SHA256: digestHex(data)})
	}
	slices.SortFunc(out, func(a, b LockRelease) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func digestHex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
