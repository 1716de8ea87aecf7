#!/bin/bash
# Build a PostgreSQL 15 image without a registry: a Debian bookworm root filesystem with
# Debian's postgresql-15 (debootstrap), an entrypoint compatible with the official image's
# (ci/images/postgres/docker-entrypoint.sh), imported with `docker import`.
#
# usage: ci/build_postgres_image.sh [TAG]        (default flashgreen/postgres:15-local)
# env:   DEBIAN_MIRROR (default http://deb.debian.org/debian)
#        FLASHGREEN_CACHE (default ~/.cache/flashgreen): keeps the root filesystem tarball, so a
#        fresh dockerd (empty image store) only re-imports it.
# Idempotent: nothing is done when TAG exists with the same build key (a hash of this script,
# the entrypoint and the mirror); the tarball is rebuilt only when the key changes.
# Exit codes: 0 built or already there, 1 a step failed (its output says which), 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag="${1:-flashgreen/postgres:15-local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${FLASHGREEN_CACHE:-$HOME/.cache/flashgreen}"
entrypoint="$here/images/postgres/docker-entrypoint.sh"
suite=bookworm

command -v docker >/dev/null || { echo "error: the docker client is not installed" >&2; exit 1; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || {
	echo "error: no Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start it (ci/dockerd.sh start)" >&2
	exit 1
}

key="$(cat "${BASH_SOURCE[0]}" "$entrypoint" <(echo "$suite $mirror") | sha256sum | cut -c1-16)"
if [ "$(docker image inspect --format '{{index .Config.Labels "org.flashgreen.build-key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
tarball="$cache/postgres-15-$suite-$key.tar"
if [ ! -s "$tarball" ]; then
	command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
	mkdir -p "$cache"
	rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
	# Removed on every exit path; debootstrap may leave /proc mounted inside on failure.
	trap 'umount -R "$rootfs/proc" "$rootfs/sys" 2>/dev/null || true; rm -rf --one-file-system "$rootfs"' EXIT
	echo "debootstrap $suite + postgresql-15 from $mirror (a few minutes) ..."
	debootstrap --variant=minbase --include=postgresql-15 "$suite" "$rootfs" "$mirror" \
		> "$cache/debootstrap.log" 2>&1 || {
		echo "error: debootstrap failed; last lines of $cache/debootstrap.log:" >&2
		tail -n 20 "$cache/debootstrap.log" >&2
		exit 1
	}
	# The package's postinst creates a 'main' cluster; the entrypoint creates its own in PGDATA.
	rm -rf "$rootfs/var/lib/postgresql/15/main" "$rootfs/etc/postgresql/15/main"
	install -m 0755 "$entrypoint" "$rootfs/usr/local/bin/docker-entrypoint.sh"
	mkdir -p "$rootfs/docker-entrypoint-initdb.d"
	# What a throwaway test server never needs: package caches and lists, documentation, and
	# the JIT (llvmjit.so pulls in 130 MB of LLVM and z3; without it postgres runs with jit off).
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
		"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/var/log/*.log \
		"$rootfs/debootstrap" "$rootfs"/usr/lib/postgresql/15/lib/llvmjit* \
		"$rootfs"/usr/lib/postgresql/15/lib/bitcode "$rootfs"/usr/lib/x86_64-linux-gnu/libLLVM-* \
		"$rootfs"/usr/lib/x86_64-linux-gnu/libz3.so*
	tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
	mv "$tarball.partial" "$tarball"
	find "$cache" -maxdepth 1 -name 'postgres-15-*.tar' ! -name "${tarball##*/}" -delete  # older keys
	echo "root filesystem: $tarball ($(du -h "$tarball" | cut -f1)) in $((SECONDS - start)) s"
fi

previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
docker import \
	--change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV PGDATA=/var/lib/postgresql/data' \
	--change 'ENV LANG=C.UTF-8' \
	--change 'EXPOSE 5432' \
	--change "LABEL org.flashgreen.build-key=$key" \
	--change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
	--change 'CMD ["postgres"]' \
	"$tarball" "$tag" >/dev/null
# The image this one replaces is left untagged: remove it (kept if a container still uses it).
[ -z "$previous" ] || docker image rm "$previous" >/dev/null 2>&1 || true
echo "built $tag (build key $key) in $((SECONDS - start)) s"
