"""Runbook: back up the database, restore the backup elsewhere, prove the restore holds the same data.

The backup's manifest is taken in the dump's own snapshot (row counts, content hashes, schema,
sequences, Alembic revision). The dump is written to its file and, from the same stream,
restored into a scratch database (same server, or --restore-url; never the production server)
that is dropped afterwards, whatever happens. Then the file is checked against the size and
SHA-256 the manifest recorded, and the restored copy against the manifest: one item per check.
"""
import pytest

from fixtures.asserts import check_findings_of
from fixtures.backup_plugin import run_round_trip
from flash_green_ops import backup

pytestmark = [pytest.mark.backup, pytest.mark.destructive]
CHECKS = backup.CHECKS


@pytest.fixture(scope="module")
def step_findings(backup_source, round_trip, tmp_path_factory):
    result = run_round_trip(backup_source, round_trip, tmp_path_factory.mktemp("backup"))
    return backup.check_dump(result.manifest, result.manifest_path) + backup.verify(round_trip.reader, result.manifest)


def test_backup(check_id, step_findings):
    check_findings_of(step_findings, check_id)
