"""Runbook step 3: the database is reachable, encrypted where it must be, at the expected migration.

One test per check of flash_green_ops.database.probe, so a JUnit report lists each; the probe runs
once per module (one connection), and each test reports its own check's finding.
Options: --db-connect-timeout, --alembic-head REV, --alembic-config PATH.
"""
import pytest

from fixtures.asserts import check_findings
from flash_green_ops import database

pytestmark = [pytest.mark.db, pytest.mark.preflight]


@pytest.fixture(scope="module", autouse=True)
def _postgres(ensure_service):
    ensure_service("postgres")


@pytest.fixture(scope="module")
def db_findings(runbook_context):
    """check id -> its finding; after db.reachable fails, the others are SKIPs saying why."""
    return {f.check: f for f in database.probe(runbook_context, read_only=True)}


def test_reachable(db_findings):
    """Reachable and authenticated; SELECT 1 round-trip latency in the message."""
    check_findings([db_findings["db.reachable"]])


def test_server_version(db_findings):
    check_findings([db_findings["db.version"]])


def test_pg_dump_can_dump_server(db_findings):
    """pg_dump on PATH is not a major version older than the server."""
    check_findings([db_findings["db.pg_dump"]])


def test_tls(db_findings):
    """Production: this session is really encrypted (pg_stat_ssl), not just asked to be."""
    check_findings([db_findings["db.tls"]])


def test_alembic_revision(db_findings):
    """The database's Alembic revision; equal to --alembic-head / the head of --alembic-config."""
    check_findings([db_findings["db.alembic"]])


@pytest.mark.post_restore
def test_read_only_session_reads_every_table(db_findings):
    """A default_transaction_read_only=on session can read every table of schema public."""
    check_findings([db_findings["db.read_only"]])
