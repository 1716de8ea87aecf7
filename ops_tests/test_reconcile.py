"""Runbook: before re-opening traffic, the order flow reconciles.

One item per invariant of --invariants PATH (default: the packaged invariants.toml), its id as
the item's id; each query runs read-only on the env's database under --invariant-timeout.
A warning-severity invariant that breaks passes with a warning.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import backup, reconcile

pytestmark = pytest.mark.reconcile


def pytest_generate_tests(metafunc):
    # One item per invariant, its id as the item's id (the file was validated at configure time).
    if "invariant" in metafunc.fixturenames:
        invariants = reconcile.load(metafunc.config.getoption("invariants"))
        metafunc.parametrize("invariant", [pytest.param(i, id=i.id) for i in invariants])


@pytest.fixture(scope="module")
def step_findings(runbook_context, ensure_service):
    from flash_green_ops.errors import OpsError

    ensure_service("postgres")
    try:
        endpoint = backup.source_endpoint(runbook_context)
    except OpsError as exc:
        pytest.fail(str(exc), pytrace=False)
    settings = runbook_context.settings
    return reconcile.run(endpoint, reconcile.load(settings.invariants), settings.invariant_timeout)


def test_reconcile(invariant, step_findings):
    check_findings_of(step_findings, invariant.check)
