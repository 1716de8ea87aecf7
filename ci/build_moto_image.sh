#!/bin/bash
# Build a moto server image without a registry, shaped like motoserver/moto (entrypoint
# `moto_server -H 0.0.0.0`, port 5000): a Debian bookworm root filesystem with python3
# (debootstrap) and moto[server] installed from the package index pip is configured with.
#
# usage: ci/build_moto_image.sh [TAG]            (default flashgreen/moto:5.0.14-local)
# env:   MOTO_VERSION (default 5.0.14), DEBIAN_MIRROR, FLASHGREEN_CACHE (ci/image_lib.sh)
# Idempotent like build_postgres_image.sh (a build key label; a cached root filesystem tarball).
# Exit codes: 0 built or already there, 1 a step failed, 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/image_lib.sh"
tag="${1:-flashgreen/moto:5.0.14-local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
version="${MOTO_VERSION:-5.0.14}"

require_engine
key="$(build_key "$version" "${BASH_SOURCE[0]}")"
if up_to_date "$tag" "$key"; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
tarball="$cache/moto-$version-$suite-$key.tar"
if [ ! -s "$tarball" ]; then
	make_rootfs python3 "$cache/debootstrap-moto.log"
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
	save_rootfs "$tarball"
fi

import_image "$tarball" "$tag" "$key" \
	'ENV PYTHONUNBUFFERED=1' \
	'EXPOSE 5000' \
	'ENTRYPOINT ["/usr/local/bin/moto_server", "-H", "0.0.0.0"]'
echo "built $tag (build key $key) in $((SECONDS - start)) s"
