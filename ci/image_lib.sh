# Shared by ci/build_*_image.sh (sourced, not run): images built without a registry from a
# Debian root filesystem made with debootstrap, cached as a tarball, and `docker import`ed.
#
# An image carries a build key label (a hash of its script, this library and its inputs):
# nothing is done while the tag exists with the same key, and the tarball in $cache
# (FLASHGREEN_CACHE, default ~/.cache/flashgreen) is rebuilt only when the key changes, so a
# fresh dockerd (empty image store) only re-imports it.

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${FLASHGREEN_CACHE:-$HOME/.cache/flashgreen}"
suite=bookworm
image_lib="${BASH_SOURCE[0]}"

require_engine() {
	command -v docker >/dev/null || { echo "error: the docker client is not installed" >&2; exit 1; }
	timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || {
		echo "error: no Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start it (ci/dockerd.sh start)" >&2
		exit 1
	}
}

# build_key TEXT FILE...: 16 hex digits of FILEs, this library, the suite, the mirror and TEXT.
build_key() {
	local text="$1"
	shift
	cat "$@" "$image_lib" <(echo "$suite $mirror $text") | sha256sum | cut -c1-16
}

# up_to_date TAG KEY: TAG exists and was built with KEY.
up_to_date() {
	[ "$(docker image inspect --format '{{index .Config.Labels "org.flashgreen.build-key"}}' "$1" 2>/dev/null)" = "$2" ]
}

# make_rootfs PACKAGES LOG: a minbase root filesystem with PACKAGES in $rootfs, removed on exit.
make_rootfs() {
	command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
	mkdir -p "$cache"
	rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
	# Removed on every exit path; debootstrap may leave /proc mounted inside on failure.
	trap 'umount -R "$rootfs/proc" "$rootfs/sys" 2>/dev/null || true; rm -rf --one-file-system "$rootfs"' EXIT
	echo "debootstrap $suite + $1 from $mirror ..."
	debootstrap --variant=minbase --include="$1" "$suite" "$rootfs" "$mirror" > "$2" 2>&1 || {
		echo "error: debootstrap failed; last lines of $2:" >&2
		tail -n 20 "$2" >&2
		exit 1
	}
}

# save_rootfs TARBALL: $rootfs, without package caches and documentation, to TARBALL; the
# tarballs of older keys (same name up to the key) are deleted.
save_rootfs() {
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
		"$rootfs"/usr/share/man/* "$rootfs"/var/log/*.log "$rootfs/debootstrap"
	tar --numeric-owner -C "$rootfs" -cf "$1.partial" .
	mv "$1.partial" "$1"
	local name="${1##*/}"
	find "$cache" -maxdepth 1 -name "${name%-*}-*.tar" ! -name "$name" -delete
	echo "root filesystem: $1 ($(du -h "$1" | cut -f1))"
}

# import_image TARBALL TAG KEY [CHANGE...]: docker import with the build key label; the image
# TAG named before is removed (kept if a container still uses it).
import_image() {
	local tarball="$1" tag="$2" key="$3" previous change
	shift 3
	local changes=(--change "LABEL org.flashgreen.build-key=$key")
	for change in "$@"; do changes+=(--change "$change"); done
	previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
	docker import "${changes[@]}" "$tarball" "$tag" >/dev/null
	[ -z "$previous" ] || docker image rm "$previous" >/dev/null 2>&1 || true
}
