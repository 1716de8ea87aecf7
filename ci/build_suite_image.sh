#!/bin/bash
# Build the suite's image without a registry, equivalent to the Dockerfile (which needs
# python:3.11-slim from a registry): a Debian bookworm root filesystem with python3 (3.11) and
# postgresql-client-15 (debootstrap), the project's dependencies installed from the package index
# pip is configured with, the project and its runbook suite in /opt/flash-green-ops, user 10001,
# the preflight on the process environment as entrypoint. Imported with `docker import`.
#
# usage: ci/build_suite_image.sh [TAG]           (default flashgreen/ops:local)
# env:   DEBIAN_MIRROR, FLASHGREEN_CACHE (ci/image_lib.sh)
# Two cached layers: the base (debootstrap and the dependencies; rebuilt only when ci/image_lib.sh,
# the base's version below or the project's dependencies change) and the project's files, appended to a copy of it
# (cheap: rebuilt whenever a file of the project changes). Idempotent like the other images.
# Exit codes: 0 built or already there, 1 a step failed, 2 bad usage.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
source "$here/image_lib.sh"
tag="${1:-flashgreen/ops:local}"
[ $# -le 1 ] || { echo "usage: $0 [TAG]" >&2; exit 2; }
# What the Dockerfile copies into the image (the committed files only). Listed in an assignment,
# not a process substitution, so a failing git stops the build instead of leaving the image empty.
listing="$(cd "$repo" && git ls-files flash_green_ops ops_tests fixtures scripts conftest.py pytest.ini \
	pyproject.toml README.md)"
[ -n "$listing" ] || { echo "$0: git lists none of the project's files in $repo" >&2; exit 1; }
mapfile -t project <<<"$listing"

require_engine
# The project's runtime dependencies (pyproject.toml's), one a line.
deps="$(python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$repo/pyproject.toml")"
# The base does not depend on the rest of this script: editing the project layer keeps it.
base_key="$(build_key "suite-base-v1 python3,postgresql-client-15 $deps")"
key="$(build_key "$base_key" "${BASH_SOURCE[0]}" "${project[@]/#/$repo/}")"
if up_to_date "$tag" "$key"; then
	echo "$tag is up to date (build key $key)"
	exit 0
fi

start=$SECONDS
base="$cache/suite-base-$suite-$base_key.tar"
if [ ! -s "$base" ]; then
	make_rootfs python3,postgresql-client-15 "$cache/debootstrap-suite.log"
	pyver="$(chroot "$rootfs" python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
	echo "pip install the project's dependencies for Python $pyver ..."
	# The project's runtime dependencies (not the project: its files are the second layer), as
	# wheels for the image's Python; the host's pip and index configuration.
	mapfile -t deps <<<"$deps"
	python3 -m pip install -q --no-warn-script-location --no-warn-conflicts --target "$rootfs/opt/flash-green-ops/lib" \
		--python-version "$pyver" --only-binary=:all: --platform manylinux2014_x86_64 "${deps[@]}"
	chroot "$rootfs" useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin flashgreen
	save_rootfs "$base"
fi

# The project's files, appended to a copy of the base (tar appends to an uncompressed archive).
tarball="$cache/suite-$suite-$key.tar"
cp "$base" "$tarball.partial"
stage="$(mktemp -d)"
# (Replaces make_rootfs's trap: its root filesystem, if this run made one, goes too.)
trap 'rm -rf "$stage" "$tarball.partial"; [ -z "${rootfs:-}" ] || rm -rf --one-file-system "$rootfs"' EXIT
mkdir -p "$stage/opt/flash-green-ops" "$stage/usr/local/bin"
(cd "$repo" && cp --parents "${project[@]}" "$stage/opt/flash-green-ops/")
# The commands the Dockerfile's image has (python:3.11-slim's python, pip's console scripts),
# so the Kubernetes manifests' commands run here unchanged.
ln -s /usr/bin/python3 "$stage/usr/local/bin/python"
for command in pytest:pytest flash-green-preflight:flash_green_ops.commands.preflight \
	flash-green-entrypoint:flash_green_ops.commands.entrypoint; do
	printf '#!/bin/sh\nexec python3 -m %s "$@"\n' "${command#*:}" > "$stage/usr/local/bin/${command%%:*}"
	chmod 0755 "$stage/usr/local/bin/${command%%:*}"
done
# Named as the base names its entries (./...), and without /opt/flash-green-ops itself, which the
# base holds already: docker import refuses an archive with a path twice.
(cd "$stage" && find ./opt/flash-green-ops ./usr/local/bin -mindepth 1 -print0 | sort -z) |
	tar --numeric-owner --owner=0 --group=0 -C "$stage" --no-recursion --null -T - -rf "$tarball.partial"
mv "$tarball.partial" "$tarball"
find "$cache" -maxdepth 1 -name "suite-$suite-*.tar" ! -name "${tarball##*/}" -delete

import_image "$tarball" "$tag" "$key" \
	'ENV PYTHONPATH=/opt/flash-green-ops/lib:/opt/flash-green-ops' \
	'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTEST_ADDOPTS="-p no:cacheprovider" LANG=C.UTF-8' \
	'WORKDIR /opt/flash-green-ops' \
	'USER 10001:10001' \
	'ENTRYPOINT ["python3", "scripts/preflight_check.py"]'
echo "built $tag (build key $key) in $((SECONDS - start)) s"
