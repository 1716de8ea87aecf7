"""Runbook step 3: the database is reachable, encrypted where it must be, at the expected migration.

One item per check (db.reachable, db.version, db.pg_dump, db.tls, db.alembic, db.read_only),
all from one probe (one connection). Options: --db-connect-timeout, --alembic-head REV,
--alembic-config PATH. db.read_only (every table readable in a read-only session) is also a
post-restore check.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import database

pytestmark = [pytest.mark.db, pytest.mark.preflight]
CHECKS = database.check_ids
CHECK_MARKS = {database.READ_ONLY_CHECK: [pytest.mark.post_restore]}


@pytest.fixture(scope="module")
def step_findings(runbook_context, ensure_service):
    ensure_service("postgres")
    return database.run(runbook_context, read_only=True)


def test_db(check_id, step_findings):
    check_findings_of(step_findings, check_id)
