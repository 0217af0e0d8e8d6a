#!/bin/busybox sh
# The init of an stx-build live system's initramfs (stx-build writes it;
# see docs/iso.md). It loads the modules listed in /etc/stx-live/modules,
# finds the medium whose ISO 9660 label is stx.live=LABEL on the kernel
# command line, mounts live/filesystem.squashfs from it read-only under a
# tmpfs overlay, and hands over to the live system's init (init= on the
# command line, default /sbin/init). The medium stays mounted at
# /run/live/medium. stx.debug traces this script; stx.break=premount or
# stx.break=init opens a shell before mounting or before switching.

/bin/busybox mkdir -p /proc /sys /dev /run /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev
mount -t proc -o nodev,noexec,nosuid proc /proc
mount -t sysfs -o nodev,noexec,nosuid sysfs /sys
mount -t tmpfs -o mode=0755,nodev,nosuid,size=10% tmpfs /run
exec </dev/console >/dev/console 2>&1

say() { echo "stx-live: $*"; }
fail() {
	say "error: $*"
	say "starting a shell; the live system did not start"
	exec sh
}

label=
init=/sbin/init
brk=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	stx.live=*) label="${arg#stx.live=}" ;;
	init=*) init="${arg#init=}" ;;
	stx.break=*) brk="${arg#stx.break=}" ;;
	stx.debug) set -x ;;
	esac
done
[ -n "$label" ] || fail "no stx.live=LABEL on the kernel command line"

while read -r m; do
	[ -n "$m" ] && insmod "/lib/modules/$m" 2>/dev/null
done </etc/stx-live/modules

[ "$brk" = premount ] && { say "stx.break=premount: exit the shell to go on"; sh; }

# The ISO 9660 volume label of a block device, if it has one: the primary
# volume descriptor is sector 16 (byte 32768); "CD001" at byte 1, the
# volume identifier at bytes 40-71.
iso_label() {
	[ "$(dd if="$1" bs=1 skip=32769 count=5 2>/dev/null)" = CD001 ] || return 1
	dd if="$1" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' '
}

# Wait up to 60 s for the medium: USB and SCSI devices appear late. Every
# block device is tried (a USB stick shows the label on the whole disk).
medium=/run/live/medium
mkdir -p "$medium" /run/live/rootfs /run/live/overlay /root
found=
i=0
while [ -z "$found" ] && [ $i -lt 600 ]; do
	for sys in /sys/class/block/*; do
		dev="/dev/${sys##*/}"
		case "${sys##*/}" in loop* | ram* | zram*) continue ;; esac
		[ -b "$dev" ] && [ "$(iso_label "$dev")" = "$label" ] || continue
		if mount -t iso9660 -o ro "$dev" "$medium" 2>/dev/null; then
			if [ -f "$medium/live/filesystem.squashfs" ]; then
				found="$dev"
				break
			fi
			umount "$medium"
		fi
	done
	[ -n "$found" ] || { i=$((i + 1)); sleep 0.1; }
done
[ -n "$found" ] || fail "no medium labelled $label with live/filesystem.squashfs"
say "medium $found ($label)"

mount -t squashfs -o ro,loop "$medium/live/filesystem.squashfs" /run/live/rootfs ||
	fail "cannot mount live/filesystem.squashfs"
mount -t tmpfs -o mode=0755 tmpfs /run/live/overlay || fail "cannot mount the overlay's tmpfs"
mkdir -p /run/live/overlay/upper /run/live/overlay/work
mount -t overlay -o lowerdir=/run/live/rootfs,upperdir=/run/live/overlay/upper,workdir=/run/live/overlay/work overlay /root ||
	fail "cannot mount the overlay root"
[ -x "/root$init" ] || [ -L "/root$init" ] || fail "the live root has no $init"

[ "$brk" = init ] && { say "stx.break=init: exit the shell to go on"; sh; }

mount --move /run /root/run
mount --move /dev /root/dev
mount --move /sys /root/sys
mount --move /proc /root/proc
exec switch_root /root "$init"
