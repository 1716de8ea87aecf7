"""Runbook: after a restore, before trading resumes, prove the restored database is the backed-up one.

First the database step's checks in a read-only session (reachable, version, TLS, Alembic, every
table readable), then the manifest: every table, row count, content hash, sequence, the schema.

Live: ``pytest -m "live and post_restore" --env-file ENV --manifest PATH.manifest.json`` checks
the env's database. Local target without --manifest: the suite makes its own backup and
restore (into a scratch database) so there is something to check.
"""
import pytest

from fixtures.asserts import check_findings
from fixtures.backup_plugin import context_for, run_round_trip

pytestmark = pytest.mark.post_restore


@pytest.fixture(scope="module")
def restored(request, restore_manifest_path, runbook_context, ops_target, tmp_path_factory):
    """(context whose database is the restored one, the manifest it must match)."""
    from flash_green_ops.manifest import ManifestError, load

    if restore_manifest_path is not None:
        try:
            return runbook_context, load(restore_manifest_path)
        except ManifestError as exc:
            pytest.fail(f"--manifest: {exc}", pytrace=False)
    if ops_target.kind not in ("local", "container"):
        pytest.skip("post-restore validation needs --manifest PATH: the manifest (PATH.manifest.json) "
                    "of the backup that was restored into the env's database")
    trip = request.getfixturevalue("round_trip")
    result = run_round_trip(request.getfixturevalue("backup_source"), trip, tmp_path_factory.mktemp("backup"))
    return context_for(runbook_context, trip.reader), result.manifest


def test_database_checks_pass_in_a_read_only_session(restored):
    from flash_green_ops.database import probe

    ctx, _ = restored
    check_findings(probe(ctx, read_only=True))


def test_restored_database_matches_the_manifest(restored):
    from flash_green_ops.backup import endpoint_from_context, verify

    ctx, manifest = restored
    check_findings(verify(endpoint_from_context(ctx), manifest))
