"""Runbook: back up the database, restore the backup elsewhere, prove the restore holds the same data.

The backup's manifest is taken in the dump's own snapshot (row counts, content hashes, schema,
sequences, Alembic revision). The dump is written to its file and, from the same stream,
restored into a scratch database (same server, or --restore-url; never the production server)
that is dropped afterwards, whatever happens. Then the restored copy is checked against the
manifest, and the file against the size and SHA-256 the manifest recorded.
"""
import pytest

from fixtures.asserts import check_findings
from fixtures.backup_plugin import run_round_trip

pytestmark = [pytest.mark.backup, pytest.mark.destructive]


def test_backup_restores_to_the_same_data(backup_source, round_trip, tmp_path):
    from flash_green_ops.backup import check_dump, verify

    result = run_round_trip(backup_source, round_trip, tmp_path)
    check_findings(check_dump(result.manifest, result.manifest_path) + verify(round_trip.reader, result.manifest))
