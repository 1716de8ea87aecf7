#!/bin/bash
# Build a moto server image without a registry, shaped like motoserver/moto (entrypoint
# `moto_server -H 0.0.0.0`, port 5000): a Debian bookworm root filesystem with python3
# (debootstrap) and moto[server] installed from the package index pip is configured with.
#
# usage: ci/build_moto_image.sh [TAG]            (default flashgreen/moto:5.0.14-local)
# env:   MOTO_VERSION (default 5.0.14), DEBIAN_MIRROR, FLASHGREEN_CACHE (as build_postgres_image.sh)
# Idempotent like build_postgres_image.sh (a build key label; a cached root filesystem tarball).
# Exit codes: 0 built or already there, 1 a step failed, 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag="${1:-flashgreen/moto:5.0.14-local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
version="${MOTO_VERSION:-5.0.14}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${FLASHGREEN_CACHE:-$HOME/.cache/flashgreen}"
suite=bookworm

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || {
	echo "error: no Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start it (ci/dockerd.sh start)" >&2
	exit 1
}
key="$(cat "${BASH_SOURCE[0]}" <(echo "$suite $mirror $version") | sha256sum | cut -c1-16)"
if [ "$(docker image inspect --format '{{index .Config.Labels "org.flashgreen.build-key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
tarball="$cache/moto-$version-$suite-$key.tar"
if [ ! -s "$tarball" ]; then
	mkdir -p "$cache"
	rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
	trap 'umount -R "$rootfs/proc" "$rootfs/sys" 2>/dev/null || true; rm -rf --one-file-system "$rootfs"' EXIT
	echo "debootstrap $suite + python3 from $mirror ..."
	debootstrap --variant=minbase --include=python3 "$suite" "$rootfs" "$mirror" > "$cache/debootstrap-moto.log" 2>&1 || {
		echo "error: debootstrap failed; last lines of $cache/debootstrap-moto.log:" >&2
		tail -n 20 "$cache/debootstrap-moto.log" >&2
		exit 1
	}
	pyver="$(chroot "$rootfs" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
	echo "pip install moto[server]==$version for Python $pyver ..."
	# The host's pip, its index configuration, wheels for the image's Python version.
	# (pip's closing dependency check looks at the host's packages too: its warnings are noise.)
	python3 -m pip install -q --no-warn-script-location --no-warn-conflicts --target "$rootfs/opt/moto" \
		--python-version "$pyver" --only-binary=:all: --platform manylinux2014_x86_64 \
		"moto[server]==$version"
	cat > "$rootfs/usr/local/bin/moto_server" <<-'SH'
		#!/bin/sh
		PYTHONPATH=/opt/moto exec python3 -m moto.server "$@"
	SH
	chmod 0755 "$rootfs/usr/local/bin/moto_server"
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
		"$rootfs"/usr/share/man/* "$rootfs/debootstrap"
	tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
	mv "$tarball.partial" "$tarball"
	find "$cache" -maxdepth 1 -name 'moto-*.tar' ! -name "${tarball##*/}" -delete
fi

previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
docker import \
	--change 'ENV PYTHONUNBUFFERED=1' \
	--change 'EXPOSE 5000' \
	--change "LABEL org.flashgreen.build-key=$key" \
	--change 'ENTRYPOINT ["/usr/local/bin/moto_server", "-H", "0.0.0.0"]' \
	"$tarball" "$tag" >/dev/null
[ -z "$previous" ] || docker image rm "$previous" >/dev/null 2>&1 || true
echo "built $tag (build key $key) in $((SECONDS - start)) s"
