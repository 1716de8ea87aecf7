"""Several environments in one run: ``--env-file`` repeated. Every item runs once per
environment (its id names it), the results are labelled per environment (file and Pushgateway
groups), and the run works under pytest-xdist with one JUnit file."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from flash_green_ops.contract import load_contract
from tests.conftest import run_ops_tests
from tests.pushgateway_fixtures import gateway_metrics
from tests.test_envspec import PRODUCTION, STAGING, edit
from tests.test_results_metrics import assert_clean, series

# The production file without API_KEY: env.api-key fails in production alone.
BROKEN_PRODUCTION = edit(PRODUCTION, API_KEY=None)
RULES = len(load_contract().rules)  # one env item per rule and environment
STAGING_RULES = RULES - 2  # the two production-only rules skip on staging


@pytest.fixture
def env_files(tmp_path):
    staging, production = tmp_path / "staging.env", tmp_path / "production.env"
    staging.write_text(STAGING)
    production.write_text(BROKEN_PRODUCTION)
    for path in (staging, production):
        path.chmod(0o600)  # as operators keep them (env.file-permissions)
    return ["--env-file", str(staging), "--env-file", str(production)]


def test_every_item_runs_once_per_environment_named_in_its_id(pytester, env_files):
    result = run_ops_tests(pytester, "-m", "env", "-v", *env_files)
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes["failed"] + outcomes.get("skipped", 0) == 2 * RULES
    result.stdout.fnmatch_lines(["*test_env[[]env.api-key-staging[]] PASSED*",
                                 "*test_env[[]env.api-key-production[]] FAILED*"])
    assert result.ret == 1


def test_results_are_labelled_per_environment_in_the_file_and_the_pushgateway(pytester, env_files, tmp_path,
                                                                              pushgateway):
    out = tmp_path / "nightly.prom"
    result = run_ops_tests(pytester, "-m", "env", *env_files, "--metrics-out", str(out), "--pushgateway",
                           pushgateway.url, "--metrics-suite", "nightly")
    assert result.ret == 1
    text = assert_clean(out)
    assert series(text, "flash_green_ops_check_success", check="env.api-key", environment="staging") == [1]
    assert series(text, "flash_green_ops_check_success", check="env.api-key", environment="production") == [0]
    assert series(text, "flash_green_ops_run_success", environment="staging", suite="nightly") == [1]
    assert series(text, "flash_green_ops_run_success", environment="production", suite="nightly") == [0]
    pushed = gateway_metrics(pushgateway)  # one group per environment, each with its own series
    assert series(pushed, "flash_green_ops_run_success", job="nightly", environment="staging") == [1]
    assert series(pushed, "flash_green_ops_run_success", job="nightly", environment="production") == [0]
    assert series(pushed, "flash_green_ops_check_success", job="nightly", environment="production",
                  check="env.api-key") == [0]


def test_under_xdist_one_junit_file_holds_both_environments(pytester, env_files, tmp_path):
    junit, out = tmp_path / "nightly.xml", tmp_path / "nightly.prom"
    result = run_ops_tests(pytester, "-n", "2", "-m", "env", *env_files, "--junitxml", str(junit),
                           "--metrics-out", str(out))
    assert result.ret == 1
    names = [case.get("name") for case in ET.parse(junit).iter("testcase")]
    assert len(names) == 2 * RULES
    assert "test_env[env.api-key-staging]" in names and "test_env[env.api-key-production]" in names
    text = assert_clean(out)
    assert len(series(text, "flash_green_ops_check_success", environment="staging")) == STAGING_RULES
    assert series(text, "flash_green_ops_check_success", check="env.api-key", environment="production") == [0]


def test_two_files_of_the_same_environment_are_named_by_file(pytester, tmp_path):
    first, second = tmp_path / "eu.env", tmp_path / "us.env"
    first.write_text(STAGING)
    second.write_text(STAGING)
    first.chmod(0o600)
    second.chmod(0o600)
    result = run_ops_tests(pytester, "-m", "env", "-v", "--env-file", str(first), "--env-file", str(second))
    result.assert_outcomes(passed=2 * STAGING_RULES, skipped=4)
    result.stdout.fnmatch_lines(["*test_env[[]env.api-key-eu.env[]] PASSED*", "*test_env[[]env.api-key-us.env[]] PASSED*"])


def test_the_same_env_file_twice_is_a_usage_error(pytester, tmp_path):
    path = tmp_path / "staging.env"
    path.write_text(STAGING)
    result = run_ops_tests(pytester, "-m", "env", "--env-file", str(path), "--env-file", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the same --env-file is given twice*"])
