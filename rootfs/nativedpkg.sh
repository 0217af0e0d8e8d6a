#!/bin/sh
# chroot, as mmdebstrap finds it on its PATH during an stx-build root of a
# foreign architecture (rootfs/nativedpkg.go). mmdebstrap's essential
# phase, `chroot ROOT dpkg --install --force-depends --status-fd=N DEBS`,
# runs the host's dpkg with --root: dpkg's unpacking is native, the
# maintainer scripts still run chrooted in ROOT. Everything else is the
# real chroot.
PATH=@PATH@
export PATH
# The host's dpkg must read the root's configuration: where /etc/dpkg
# cannot be bound over in a mount namespace of its own (a container
# without the privilege), the chrooted dpkg does the work as before.
if [ "$#" -ge 5 ] && [ "$2" = dpkg ] && [ "$3" = --install ] && [ "$4" = --force-depends ] &&
	unshare --mount --propagation private /bin/sh -c 'mount --bind "$1/etc/dpkg" /etc/dpkg' stx-native-dpkg "$1"; then
	root=$1
	shift 4
	# The .debs are named as the chrooted dpkg sees them.
	n=$#
	while [ "$n" -gt 0 ]; do
		a=$1
		shift
		case $a in
		/*) a=$root$a ;;
		esac
		set -- "$@" "$a"
		n=$((n - 1))
	done
	echo "stx-build: the host's dpkg unpacks the essential packages into $root (maintainer scripts chrooted)" >&2
	exec unshare --mount --propagation private /bin/sh -ec '
		root=$1
		shift
		mount --bind "$root/etc/dpkg" /etc/dpkg
		exec dpkg --root="$root" --log="$root/var/log/dpkg.log" --force-architecture --install --force-depends "$@"
	' stx-native-dpkg "$root" "$@"
fi
exec @CHROOT@ "$@"
