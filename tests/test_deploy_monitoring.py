"""deploy/prometheus/ (alerting rules) and deploy/grafana/ (dashboard): checked by promtool, the
rules unit-tested with ``promtool test rules``, and every query parsed as PromQL (PyPI's
promql-parser) naming only families the suite emits.

promtool comes from Debian's ``prometheus`` package: without it the promtool tests skip, except
under CI, where a missing promtool fails."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from flash_green_ops.results_metrics import CheckResult, PASSED, build_registry
from tests.conftest import REPO, skip_unless_ci

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "flash-green-ops.rules.yml"
RULES_TESTS = PROMETHEUS / "flash-green-ops.rules.test.yml"


def emitted_families() -> set[str]:
    """The families the suite writes and pushes (from the code that builds them)."""
    registry = build_registry([CheckResult("c", "s", PASSED)], environment="e", suite="s", run_success=True)
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
