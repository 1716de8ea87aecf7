"""Runbook: rehearse the rollback (`alembic downgrade -1`) on a copy before it is needed.

The env's database is backed up and restored into a scratch database (same server, or
--restore-url; never the production server), where the downgrade runs within a bound, the
invariants run on the downgraded copy, and `upgrade head` must give back the original schema
and data (except the columns the downgrade dropped, named). One item per check; what the
downgrade loses is a warning. The scratch database is dropped whatever happens.
Needs --alembic-config PATH (the local and container targets use the packaged project).
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import reconcile, rehearsal, rollback

pytestmark = [pytest.mark.rollback, pytest.mark.destructive]
CHECKS = rollback.CHECKS


@pytest.fixture(scope="module")
def step_findings(runbook_context, backup_source, scratch_server):
    settings = runbook_context.settings
    if not settings.alembic_config:
        pytest.skip("the rollback rehearsal needs --alembic-config PATH: the alembic.ini of the release "
                    "being rolled back")
    return rehearsal.rehearse(backup_source, scratch_server, settings.alembic_config,
                              reconcile.load(settings.invariants), invariant_timeout=settings.invariant_timeout)


def test_rollback(check_id, step_findings):
    check_findings_of(step_findings, check_id)
