"""deploy/prometheus/ (alerting rules) and deploy/grafana/ (dashboard): checked by promtool, the
rules unit-tested with ``promtool test rules``, and every query parsed as PromQL (PyPI's
promql-parser) naming only families the suite emits.

promtool comes from Debian's ``prometheus`` package: without it the promtool tests skip, except
under CI, where a missing promtool fails."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from flash_green_ops.results_metrics import CheckResult, PASSED, build_registry
from tests.conftest import REPO, skip_unless_ci

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "flash-green-ops.rules.yml"
RULES_TESTS = PROMETHEUS / "flash-green-ops.rules.test.yml"


def emitted_families() -> set[str]:
    """The families the suite writes and pushes (from the code that builds them)."""
    registry = build_registry([CheckResult("c", "s", "e", PASSED)], runs={"e": True}, suite="s")
    return {family.name for family in registry.collect()}


def families_in(expr: str) -> set[str]:
    """The metric names an expression selects; a selector without an exact name is an error
    (it could select anything)."""
    import promql_parser

    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers
                                      if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal), None)
            assert name, f"a selector without an exact metric name in {expr!r}"
            names.add(name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        skip_unless_ci("promtool is not installed (Debian package prometheus)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_emitted_families_are_the_four_of_the_issue():
    assert emitted_families() == {"flash_green_ops_check_success", "flash_green_ops_check_duration_seconds",
                                  "flash_green_ops_run_success", "flash_green_ops_last_run_timestamp_seconds"}


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_the_rules_pass_their_unit_tests():
    result = promtool("test", "rules", RULES_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_unit_tests_catch_a_wrong_threshold(tmp_path):
    # The unit tests have teeth: the same rules with 27 h instead of 26 h fail them.
    text = RULES.read_text()
    assert text.count("> 26 * 3600") == 1
    (tmp_path / RULES.name).write_text(text.replace("> 26 * 3600", "> 27 * 3600"))
    shutil.copy(RULES_TESTS, tmp_path / RULES_TESTS.name)
    result = promtool("test", "rules", RULES_TESTS.name, cwd=tmp_path)
    assert result.returncode == 1
    assert "alertname: FlashGreenOpsNightlyRunMissing, time: 1d2h20m" in result.stdout + result.stderr


def test_the_rules_name_the_issues_alerts_and_only_emitted_families():
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == {"FlashGreenOpsCheckFailing", "FlashGreenOpsRunFailed",
                                                 "FlashGreenOpsNightlyRunMissing",
                                                 "FlashGreenOpsNightlyResultsAbsent"}
    for rule in rules:
        assert families_in(rule["expr"]) <= emitted_families(), rule["alert"]


# -- the Grafana dashboard ------------------------------------------------------------------------

DASHBOARD = REPO / "deploy" / "grafana" / "flash-green-ops.json"


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every panel's every query, Grafana's variables interpolated as
    Grafana does it for a multi-value selection."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [(panel["title"], target["expr"].replace("$environment", "staging|production"))
               for panel in dashboard["panels"] for target in panel["targets"]]
    assert all("$" not in expr for _, expr in queries), "a Grafana variable this test does not interpolate"
    return queries


def test_every_dashboard_query_is_promql_naming_only_emitted_families():
    queries = dashboard_queries()
    named = set()
    for title, expr in queries:
        families = families_in(expr)  # raises on a query that is not PromQL
        assert families and families <= emitted_families(), f"panel {title!r}: {expr}"
        named |= families
    # Per environment: the last run, failing checks, durations: every family is shown.
    assert named == emitted_families()


def test_the_dashboards_environment_variable_reads_an_emitted_family():
    (variable,) = [v for v in json.loads(DASHBOARD.read_text())["templating"]["list"] if v["name"] == "environment"]
    match = re.fullmatch(r"label_values\((\w+), environment\)", variable["query"]["query"])
    assert match and match.group(1) in emitted_families()


def test_a_query_naming_an_unknown_family_or_bad_promql_is_caught():
    assert families_in('flash_green_ops_check_succes{environment="staging"}') - emitted_families()
    with pytest.raises(ValueError):
        families_in("sum(flash_green_ops_check_success")
