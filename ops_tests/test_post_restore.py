"""Runbook: after a restore, before trading resumes, prove the restored database is the backed-up one.

First the database step's checks in a read-only session (reachable, version, TLS, Alembic, every
table readable), then the manifest: every table, row count, content hash, sequence, the schema;
then the reconciliation invariants (restore.invariants, --invariants PATH). One item per check.

Live: ``pytest -m "live and post_restore" --env-file ENV --manifest PATH.manifest.json`` checks
the env's database. Local target without --manifest: the suite makes its own backup and
restore (into a scratch database) so there is something to check.
"""
import pytest

from fixtures.asserts import check_findings_of
from fixtures.backup_plugin import context_for, run_round_trip
from flash_green_ops import backup, database, reconcile

pytestmark = pytest.mark.post_restore
CHECKS = (*database.CHECKS, database.READ_ONLY_CHECK, *backup.VERIFY_CHECKS, "restore.invariants")


@pytest.fixture(scope="module")
def restored(request, restore_manifest_path, runbook_context, ops_target, tmp_path_factory):
    """(context whose database is the restored one, the manifest it must match)."""
    if restore_manifest_path is not None:
        try:
            return runbook_context, backup.load_manifest(restore_manifest_path)
        except backup.ManifestError as exc:
            pytest.fail(f"--manifest: {exc}", pytrace=False)
    if ops_target.kind not in ("local", "container"):
        pytest.skip("post-restore validation needs --manifest PATH: the manifest (PATH.manifest.json) "
                    "of the backup that was restored into the env's database")
    trip = request.getfixturevalue("round_trip")
    result = run_round_trip(request.getfixturevalue("backup_source"), trip, tmp_path_factory.mktemp("backup"))
    return context_for(runbook_context, trip.reader), result.manifest


@pytest.fixture(scope="module")
def step_findings(restored):
    ctx, manifest = restored
    endpoint = backup.source_endpoint(ctx)
    findings = database.run(ctx, read_only=True) + backup.verify(endpoint, manifest)
    invariants = reconcile.run(endpoint, reconcile.load(ctx.settings.invariants), ctx.settings.invariant_timeout)
    return findings + [reconcile.summary("restore.invariants", invariants, f"on {endpoint.label}")]


def test_post_restore(check_id, step_findings):
    check_findings_of(step_findings, check_id)
