"""Runbook step: the service's metrics endpoint serves what Prometheus accepts, and it is healthy.

"Metrics are exposed on :${METRICS_PORT:-8000}/metrics and scraped by Prometheus"; "after a
rollback the service must return healthy status before traffic is re-opened". One test per
check, all over one pair of scrapes; a failure names the URL, the line or series, and the fix.
"""
import pytest

from fixtures.asserts import check_findings
from flash_green_ops.metrics import MetricsProbe

pytestmark = [pytest.mark.metrics]


@pytest.fixture(autouse=True)
def _service_running(ensure_service):
    ensure_service("service")


@pytest.fixture(scope="module")
def probe(runbook_context):
    return MetricsProbe(runbook_context)


def test_metrics_endpoint_answers_with_exposition_text(probe):
    check_findings([probe.scrape()])


def test_metrics_parse(probe):
    check_findings([probe.parse()])


def test_metrics_pass_promtool_lint(probe):
    check_findings([probe.lint()])


def test_required_metric_families_present(probe):
    check_findings([probe.required()])


def test_counters_do_not_go_backwards_and_no_restart(probe):
    check_findings([probe.stable()])


def test_service_is_healthy(probe):
    check_findings([probe.health()])
