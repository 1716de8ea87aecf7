"""--metrics-out and --pushgateway (flash_green_ops/results_metrics.py, fixtures/results_plugin.py):
the preflight's and pytest's results as the four families, in a file the suite's own lint and
``promtool check metrics`` accept, and pushed to a real Pushgateway, read back from its /metrics."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from flash_green_ops import redact
from flash_green_ops.contract import load_contract
from flash_green_ops.metrics.exposition import parse
from flash_green_ops.metrics.promlint import lint_text
from flash_green_ops.results_metrics import FAILED, PASSED, SKIPPED, CheckResult, build_registry
from fixtures.pushgateway import Pushgateway
from fixtures.results_plugin import steps
from tests.conftest import (REPO, assert_no_secrets, closed_port, port_is_free, run_ops_tests, run_script,
                            skip_unless_ci)
from tests.pg_fixtures import process_alive
from tests.pushgateway_fixtures import gateway_metrics
from tests.test_envspec import STAGING

STAGING_SECRETS = ["k-3f9a7c1e5b", "pw-8d7e6f", "hvs.tok-1a2b3c4d"]  # STAGING's API key, password, token
FAMILIES = {"flash_green_ops_check_success", "flash_green_ops_check_duration_seconds",
            "flash_green_ops_run_success", "flash_green_ops_last_run_timestamp_seconds"}

# The env stage on a staging file: one check per rule, the two production-only rules skipped.
STAGING_RULES = len(load_contract().rules) - 2


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(name, sorted labels): value} of an exposition, read by the suite's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parse(text).families for s in family.samples}


def series(text: str, name: str, **labels) -> list[float]:
    return [v for (n, lbls), v in samples(text).items() if n == name and labels.items() <= dict(lbls).items()]


def promtool_check(path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        skip_unless_ci("promtool is not installed (Debian package prometheus)")
    return subprocess.run([binary, "check", "metrics"], input=path.read_text(), capture_output=True,
                          text=True, timeout=60)


def assert_clean(path: Path) -> str:
    """The file passes the suite's lint and promtool's, and holds the four families."""
    __tracebackhide__ = True
    text = path.read_text()
    assert lint_text(text) == []
    result = promtool_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {f.name for f in parse(text).families} == FAMILIES
    return text


def env_file(tmp_path: Path, text: str = STAGING) -> Path:
    path = tmp_path / "staging.env"
    path.write_text(text)
    return path


# -- the families -------------------------------------------------------------------------------

def test_every_runbook_module_s_first_mark_is_a_step_its_items_are_labelled_by(pytestconfig):
    # The tls, adapters, reconcile and rollback items once went out with step="".
    first_marks = {re.search(r"pytestmark = \[?pytest\.mark\.(\w+)", path.read_text()).group(1)
                   for path in (REPO / "ops_tests").glob("test_*.py")}
    assert len(first_marks) == 10 and first_marks <= steps(pytestconfig), first_marks - steps(pytestconfig)


def test_skips_are_left_out_failures_are_0_and_a_check_seen_twice_is_one_series():
    from prometheus_client import generate_latest

    results = [CheckResult("db.reachable", "db", "staging", PASSED, 0.5),
               CheckResult("db.tls", "db", "staging", FAILED, 0.25),
               CheckResult("db.alembic", "db", "staging", SKIPPED, 0.1),
               CheckResult("db.tls", "db", "staging", PASSED, 0.25)]  # a failure wins over a pass of the same check
    text = generate_latest(build_registry(results, runs={"staging": False}, suite="nightly",
                                          finished=1700000000)).decode()
    assert series(text, "flash_green_ops_check_success", check="db.reachable", step="db",
                  environment="staging") == [1]
    assert series(text, "flash_green_ops_check_success", check="db.tls") == [0]
    assert series(text, "flash_green_ops_check_duration_seconds", check="db.tls") == [0.5]
    assert series(text, "flash_green_ops_check_success", check="db.alembic") == []
    assert series(text, "flash_green_ops_check_duration_seconds", check="db.alembic") == []
    assert series(text, "flash_green_ops_run_success", environment="staging", suite="nightly") == [0]
    assert series(text, "flash_green_ops_last_run_timestamp_seconds", suite="nightly") == [1700000000]


def test_no_label_value_holds_a_registered_secret(tmp_path):
    from prometheus_client import write_to_textfile

    secret = "lbl-secret-5e6f7a8b"
    redact.register(secret)
    results = [CheckResult(f"env.{secret}", f"step-{secret}", f"e-{secret}", PASSED, 1.0)]
    path = tmp_path / "ops.prom"
    write_to_textfile(str(path), build_registry(results, runs={f"e-{secret}": True}, suite=secret))
    assert_no_secrets([secret], path)
    assert series(path.read_text(), "flash_green_ops_check_success", check="env.***", step="step-***",
                  environment="e-***") == [1]


# -- the preflight --------------------------------------------------------------------------------

def test_preflight_writes_a_file_that_lints_clean_with_failures_as_0_and_skips_absent(tmp_path):
    out = tmp_path / "ops.prom"
    result = run_script("preflight_check.py", "--stage", "env", "--env-file",
                        env_file(tmp_path, STAGING.replace("API_KEY=k-3f9a7c1e5b\n", "")),
                        "--metrics-out", out)
    assert result.returncode == 1, result.stdout + result.stderr
    text = assert_clean(out)
    assert series(text, "flash_green_ops_check_success", check="env.api-key", step="env",
                  environment="staging") == [0]
    assert series(text, "flash_green_ops_check_success", check="env.environment") == [1]
    assert "SKIP env.database-tls" in result.stdout
    assert series(text, "flash_green_ops_check_success", check="env.database-tls") == []
    assert series(text, "flash_green_ops_run_success", environment="staging", suite="preflight") == [0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.prom", "staging.env"]  # no temporary left
    assert_no_secrets(STAGING_SECRETS, out, result.stdout, result.stderr)


def test_the_file_is_replaced_whole_by_a_rename_never_rewritten_in_place(tmp_path):
    out = tmp_path / "ops.prom"
    out.write_text("# an earlier run's file\n")
    with out.open() as held:  # the textfile collector reading the earlier file meanwhile
        before = os.stat(out).st_ino
        result = run_script("preflight_check.py", "--stage", "env", "--env-file", env_file(tmp_path),
                            "--metrics-out", out, "--metrics-suite", "nightly")
        assert result.returncode == 0, result.stdout + result.stderr
        assert held.read() == "# an earlier run's file\n"  # the old inode, untouched
    assert os.stat(out).st_ino != before
    assert series(assert_clean(out), "flash_green_ops_run_success", suite="nightly") == [1]


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing" / "ops.prom", "/missing does not exist"),
    (lambda d: d, "is a directory; name the file"),
    (lambda d: d / ("x" * 300 + ".prom"), "File name too long"),
])
def test_an_unusable_metrics_path_is_a_usage_error_before_any_check_runs(tmp_path, make, expected):
    result = run_script("preflight_check.py", "--env-file", env_file(tmp_path), "--metrics-out", make(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert expected in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1_after_the_report(tmp_path):
    # /proc is a directory even root may not create files in: only the write itself finds out.
    result = run_script("preflight_check.py", "--stage", "env", "--env-file", env_file(tmp_path),
                        "--metrics-out", "/proc/flash-green-ops.prom")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == f"preflight: {STAGING_RULES} passed, 0 failed, 2 skipped"
    assert result.stderr.startswith("preflight_check.py: could not write --metrics-out /proc/flash-green-ops.prom: ")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staging.env"]


def test_preflight_pushes_to_a_real_pushgateway_grouped_by_job_and_environment(tmp_path, pushgateway):
    result = run_script("preflight_check.py", "--stage", "env", "--env-file", env_file(tmp_path),
                        "--pushgateway", pushgateway.url)
    assert result.returncode == 0, result.stdout + result.stderr
    text = gateway_metrics(pushgateway)
    group = {"job": "preflight", "environment": "staging"}
    assert series(text, "flash_green_ops_check_success", check="env.api-key", step="env", **group) == [1]
    assert series(text, "flash_green_ops_check_success", check="env.database-tls") == []
    assert series(text, "flash_green_ops_run_success", suite="preflight", **group) == [1]
    assert len(series(text, "flash_green_ops_check_duration_seconds", **group)) == STAGING_RULES
    assert_no_secrets(STAGING_SECRETS, text)

    # The next run replaces the group: a check that now fails reads 0, the run 0.
    broken = STAGING.replace("API_KEY=k-3f9a7c1e5b\n", "")
    result = run_script("preflight_check.py", "--stage", "env", "--env-file", env_file(tmp_path, broken),
                        "--pushgateway", pushgateway.url)
    assert result.returncode == 1
    text = gateway_metrics(pushgateway)
    assert series(text, "flash_green_ops_check_success", check="env.api-key", **group) == [0]
    assert series(text, "flash_green_ops_run_success", **group) == [0]


# The second password is shorter than redact.MIN_MASKED_LENGTH: only leaving it out of the
# message keeps it out of the output.
@pytest.mark.parametrize("password", ["pgw-pass-9a8b7c", "Zq9"])
def test_an_unreachable_pushgateway_is_one_line_and_exit_1_without_its_password(tmp_path, password):
    port = closed_port()
    url = f"http://ops:{password}@127.0.0.1:{port}"
    result = run_script("preflight_check.py", "--stage", "env", "--env-file", env_file(tmp_path),
                        "--pushgateway", url, "--http-timeout", "3")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == f"preflight: {STAGING_RULES} passed, 0 failed, 2 skipped"
    assert f"could not push to --pushgateway http://127.0.0.1:{port}: " in result.stderr
    assert "Connection refused" in result.stderr and len(result.stderr.splitlines()) == 1
    assert_no_secrets([password], result.stdout, result.stderr)


def test_a_pushgateway_that_is_not_a_url_is_a_usage_error(tmp_path):
    result = run_script("preflight_check.py", "--env-file", env_file(tmp_path), "--pushgateway", "gateway:9091")
    assert result.returncode == 2
    assert "--pushgateway 'gateway:9091' is not an http(s)://host[:port] URL" in result.stderr


def test_a_pushgateway_password_urllib_cannot_delimit_is_a_usage_error_without_it(tmp_path):
    # The unescaped '/' ends the host part early: urllib reads "pgw" as the port.
    password = "pgw/pass-5e4d3c"
    result = run_script("preflight_check.py", "--env-file", env_file(tmp_path),
                        "--pushgateway", f"http://ops:{password}@127.0.0.1:9091")
    assert result.returncode == 2
    assert "--pushgateway 'http://***' is not an http(s)://host[:port] URL" in result.stderr
    assert_no_secrets([password, *password.split("/")], result.stdout, result.stderr)


def test_a_pushgateway_password_that_reads_as_a_port_is_a_usage_error_not_a_push_to_its_user(tmp_path):
    # "ops:1234/x@host": urllib reads host "ops" and port 1234; the push would go there.
    password = "1234/x-77b1"
    result = run_script("preflight_check.py", "--env-file", env_file(tmp_path),
                        "--pushgateway", f"http://ops:{password}@127.0.0.1:9091")
    assert result.returncode == 2
    assert result.stderr.strip() == ("preflight_check.py: error: --pushgateway 'http://***': its password holds an "
                                     "unencoded '/': percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40)")
    assert_no_secrets([password, *password.split("/")], result.stdout, result.stderr)


def test_a_pushgateway_without_a_scheme_is_a_usage_error_without_its_password(tmp_path):
    password = "nosch-pw-31f"
    result = run_script("preflight_check.py", "--env-file", env_file(tmp_path),
                        "--pushgateway", f"ops:{password}@127.0.0.1:9091")
    assert result.returncode == 2
    assert "--pushgateway '***' is not an http(s)://host[:port] URL" in result.stderr
    assert_no_secrets([password], result.stdout, result.stderr)


def test_the_pushgateway_fixture_leaves_no_process_and_no_port(tmp_path):
    gateway = Pushgateway(tmp_path)
    try:
        gateway.start()
        pid = gateway.pid
        assert process_alive(pid)
        assert requests.get(f"{gateway.url}/-/ready", timeout=5).status_code == 200
    finally:
        gateway.stop()
    assert not process_alive(pid)
    assert port_is_free(gateway.port)
    assert not gateway.directory.exists()


# -- pytest ---------------------------------------------------------------------------------------

def test_pytest_writes_and_pushes_each_items_outcome_by_check_and_step(pytester, tmp_path, pushgateway):
    out = tmp_path / "nightly.prom"
    result = run_ops_tests(pytester, "-m", "env", "--env-file", str(env_file(tmp_path)), "--metrics-out",
                           str(out), "--pushgateway", pushgateway.url, "--metrics-suite", "nightly")
    result.assert_outcomes(passed=STAGING_RULES, skipped=2)
    text = assert_clean(out)
    labels = {"environment": "staging", "step": "env"}
    assert len(series(text, "flash_green_ops_check_success", **labels)) == STAGING_RULES  # the 2 skips absent
    assert series(text, "flash_green_ops_check_success", check="env.api-key", **labels) == [1]
    assert series(text, "flash_green_ops_check_success", check="env.database-tls") == []
    assert series(text, "flash_green_ops_run_success", environment="staging", suite="nightly") == [1]
    pushed = gateway_metrics(pushgateway)
    group = {"job": "nightly", "environment": "staging"}
    assert series(pushed, "flash_green_ops_check_success", check="env.api-key", step="env", **group) == [1]
    assert series(pushed, "flash_green_ops_run_success", suite="nightly", **group) == [1]
    assert_no_secrets(STAGING_SECRETS, out, pushed, result.stdout.str(), result.stderr.str())


def test_pytest_reports_a_failing_item_as_0_and_a_lost_push_as_exit_1(pytester, tmp_path):
    out = tmp_path / "nightly.prom"
    broken = env_file(tmp_path, STAGING.replace("API_KEY=k-3f9a7c1e5b\n", ""))
    result = run_ops_tests(pytester, "-m", "env", "--env-file", str(broken), "--metrics-out", str(out))
    result.assert_outcomes(passed=STAGING_RULES - 1, failed=1, skipped=2)
    text = assert_clean(out)
    assert series(text, "flash_green_ops_check_success", check="env.api-key", step="env") == [0]
    assert series(text, "flash_green_ops_run_success", suite="ops_tests") == [0]

    result = run_ops_tests(pytester, "-m", "env", "--env-file", str(env_file(tmp_path)),
                           "--pushgateway", f"http://127.0.0.1:{closed_port()}")
    result.assert_outcomes(passed=STAGING_RULES, skipped=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["flash-green-ops results: could not push to --pushgateway *Connection refused*"])


def test_pytest_rejects_an_unusable_metrics_path_as_a_usage_error(pytester, tmp_path):
    result = run_ops_tests(pytester, "-m", "env", "--metrics-out", str(tmp_path / "missing" / "x.prom"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--metrics-out */missing/x.prom: directory */missing does not exist"])


def test_under_xdist_the_controller_writes_one_file_with_every_workers_items(pytester, tmp_path):
    out = tmp_path / "nightly.prom"
    result = run_ops_tests(pytester, "-n", "2", "-m", "env", "--env-file", str(env_file(tmp_path)),
                           "--metrics-out", str(out))
    result.assert_outcomes(passed=STAGING_RULES, skipped=2)
    text = assert_clean(out)
    assert len(series(text, "flash_green_ops_check_success", step="env", environment="staging")) == STAGING_RULES
    assert series(text, "flash_green_ops_check_success", check="env.api-key") == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nightly.prom", "staging.env"]
