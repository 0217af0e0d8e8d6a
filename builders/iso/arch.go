package iso

import (
	"errors"
	"fmt"
)

// ErrUnknownArch is the error (wrapped) of ArchOf for an ISO without a
// known EFI boot file.
var ErrUnknownArch = errors.New("no EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI")

// ArchOf tells the architecture of an ISO this package wrote (amd64 or
// arm64) by the EFI boot file it carries.
func ArchOf(file string) (string, error) {
	info, err := Inspect(file)
	if err != nil {
		return "", err
	}
	for _, a := range []string{"amd64", "arm64"} {
		p, err := Profile(a)
		if err != nil {
			return "", err
		}
		if info.HasFile("/EFI/BOOT/" + p.Boot.EFI.Binary) {
			return a, nil
		}
	}
	return "", fmt.Errorf("%s: %w", file, ErrUnknownArch)
}
