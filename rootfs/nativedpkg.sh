#!/bin/sh
# chroot, as mmdebstrap finds it on its PATH during an stx-build root of a
# foreign architecture (rootfs/nativedpkg.go). mmdebstrap's essential
# phase, `chroot ROOT dpkg --install --force-depends --status-fd=N DEBS`,
# becomes two steps: the host's dpkg unpacks DEBS with --root (natively;
# their preinst scripts still run chrooted in ROOT), then ROOT's own dpkg
# configures them, chrooted, in the order --install would have. Everything
# else is the real chroot.
PATH=@PATH@
export PATH

# essential ARGS: whether ARGS are that call, with .debs named by absolute
# paths inside ROOT.
essential() {
	[ "$#" -ge 5 ] && [ "$2" = dpkg ] && [ "$3" = --install ] && [ "$4" = --force-depends ] || return 1
	shift 4
	for a; do
		case $a in
		--status-fd=*) ;;
		/*.deb) ;;
		*) return 1 ;;
		esac
	done
}

# The host's dpkg must read the root's configuration: where /etc/dpkg
# cannot be bound over in a mount namespace of its own (a container
# without the privilege), the chrooted dpkg does the work as before.
if essential "$@" &&
	unshare --mount --propagation private /bin/sh -c 'mount --bind "$1/etc/dpkg" /etc/dpkg' stx-native-dpkg "$1"; then
	root=$1
	shift 4
	opts= names=
	n=$#
	while [ "$n" -gt 0 ]; do
		a=$1
		shift
		case $a in
		/*)
			a=$root$a
			names="$names $(dpkg-deb --show --showformat='${Package}:${Architecture}' "$a")" || exit 1
			;;
		*) opts="$opts $a" ;;
		esac
		set -- "$@" "$a"
		n=$((n - 1))
	done
	echo "stx-build: the host's dpkg unpacks the essential packages into $root (maintainer scripts chrooted)" >&2
	unshare --mount --propagation private /bin/sh -ec '
		root=$1
		shift
		mount --bind "$root/etc/dpkg" /etc/dpkg
		exec dpkg --root="$root" --log="$root/var/log/dpkg.log" --force-architecture --unpack --force-depends "$@"
	' stx-native-dpkg "$root" "$@" || exit
	# Package names and options hold no blanks: split on purpose.
	# shellcheck disable=SC2086
	exec @CHROOT@ "$root" dpkg --configure --force-depends $opts $names
fi
exec @CHROOT@ "$@"
