package rootfs

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// binfmtDir is where the kernel lists binfmt_misc's registrations.
var binfmtDir = "/proc/sys/fs/binfmt_misc"

// CheckBinfmt makes sure that binaries of arch run on this machine, in
// chroots and mount namespaces too: qemu-user registered with
// binfmt_misc, enabled, with the F flag (the kernel opens the
// interpreter when it is registered, so a root without qemu in it runs
// arch's programs). It enables a known but disabled registration
// (EnsureBinfmt); anything else is an error naming the fix.
func CheckBinfmt(ctx context.Context, arch string) error {
	qemu, ok := qemuName[arch]
	if !ok {
		return fmt.Errorf("no qemu-user emulator known for %s", arch)
	}
	if err := EnsureBinfmt(ctx, arch); err != nil {
		return fmt.Errorf("%w; stx-build doctor lists what %s builds need", err, arch)
	}
	return binfmtFlags(qemu)
}

// binfmtFlags checks qemu's registration: enabled, flag F.
func binfmtFlags(qemu string) error {
	entry := binfmtDir + "/" + qemu
	data, err := os.ReadFile(entry)
	if err != nil {
		return fmt.Errorf("%s is not registered with binfmt_misc (install qemu-user-static and binfmt-support, then update-binfmts --enable %s; stx-build doctor)", qemu, qemu)
	}
	text := string(data)
	if !strings.HasPrefix(text, "enabled") {
		return fmt.Errorf("%s: disabled (update-binfmts --enable %s)", entry, qemu)
	}
	for _, l := range strings.Split(text, "\n") {
		if flags, ok := strings.CutPrefix(l, "flags: "); ok && strings.Contains(flags, "F") {
			return nil
		}
	}
	return fmt.Errorf("%s: registered without the F flag, so its interpreter is not found inside a build root (Debian's qemu-user-static registers it with F: install it with binfmt-support and run update-binfmts --enable %s)", entry, qemu)
}
