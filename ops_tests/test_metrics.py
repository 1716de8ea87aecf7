"""Runbook step: the service's metrics endpoint serves what Prometheus accepts, and it is healthy.

"Metrics are exposed on :${METRICS_PORT:-8000}/metrics and scraped by Prometheus"; "after a
rollback the service must return healthy status before traffic is re-opened". One item per
check, all over one pair of scrapes; a failure names the URL, the line or series, and the fix.
"""
import pytest

from fixtures.asserts import check_findings_of
from flash_green_ops import metrics

pytestmark = [pytest.mark.metrics]
CHECKS = metrics.check_ids


@pytest.fixture(scope="module")
def step_findings(runbook_context, ensure_service):
    ensure_service("service")
    return metrics.run(runbook_context)


def test_metrics(check_id, step_findings):
    check_findings_of(step_findings, check_id)
