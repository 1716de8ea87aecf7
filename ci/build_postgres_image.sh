#!/bin/bash
# Build a PostgreSQL 15 image without a registry: a Debian bookworm root filesystem with
# Debian's postgresql-15 (debootstrap), an entrypoint compatible with the official image's
# (ci/images/postgres/docker-entrypoint.sh), imported with `docker import`.
#
# usage: ci/build_postgres_image.sh [TAG]        (default flashgreen/postgres:15-local)
# env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), FLASHGREEN_CACHE (ci/image_lib.sh)
# Idempotent: nothing is done when TAG exists with the same build key (a hash of this script,
# the entrypoint, ci/image_lib.sh and the mirror); the tarball is rebuilt only when it changes.
# Exit codes: 0 built or already there, 1 a step failed (its output says which), 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/image_lib.sh"
tag="${1:-flashgreen/postgres:15-local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
entrypoint="$here/images/postgres/docker-entrypoint.sh"

require_engine
key="$(build_key "" "${BASH_SOURCE[0]}" "$entrypoint")"
if up_to_date "$tag" "$key"; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
tarball="$cache/postgres-15-$suite-$key.tar"
if [ ! -s "$tarball" ]; then
	make_rootfs postgresql-15 "$cache/debootstrap.log"
	# The package's postinst creates a 'main' cluster; the entrypoint creates its own in PGDATA.
	rm -rf "$rootfs/var/lib/postgresql/15/main" "$rootfs/etc/postgresql/15/main"
	install -m 0755 "$entrypoint" "$rootfs/usr/local/bin/docker-entrypoint.sh"
	mkdir -p "$rootfs/docker-entrypoint-initdb.d"
	# What a throwaway test server never needs: the JIT (llvmjit.so pulls in 130 MB of LLVM and
	# z3; without it postgres runs with jit off).
	rm -rf "$rootfs"/usr/lib/postgresql/15/lib/llvmjit* "$rootfs"/usr/lib/postgresql/15/lib/bitcode \
		"$rootfs"/usr/lib/x86_64-linux-gnu/libLLVM-* "$rootfs"/usr/lib/x86_64-linux-gnu/libz3.so*
	save_rootfs "$tarball"
fi

import_image "$tarball" "$tag" "$key" \
	'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	'ENV PGDATA=/var/lib/postgresql/data' \
	'ENV LANG=C.UTF-8' \
	'EXPOSE 5432' \
	'ENTRYPOINT ["docker-entrypoint.sh"]' \
	'CMD ["postgres"]'
echo "built $tag (build key $key) in $((SECONDS - start)) s"
