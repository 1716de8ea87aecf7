"""The metrics step of the runbook suite (ops_tests/test_metrics.py), run as operators run it.

On the local target it starts the stand-in Flash Green process; these tests also prove the
process is gone afterwards, whether the run ends normally, on SIGTERM, or is killed outright.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from werkzeug.wrappers import Response

from fixtures.services import random_secret, write_env_file
from tests.conftest import REPO, run_ops_tests, wait_for
from tests.metrics_http import ScriptedServer, exposition

MARK = "FLASHGREEN_STANDIN_TEST_MARK"


def standins(mark: str) -> list[int]:
    """PIDs of stand-in service processes that inherited our marker in their environment."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"fixtures.standin_service" in cmdline and f"{MARK}={mark}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_local_target_runs_the_step_against_the_standin_and_stops_it(pytester, monkeypatch):
    mark = uuid.uuid4().hex
    monkeypatch.setenv(MARK, mark)
    result = run_ops_tests(pytester, "-m", "metrics", "-v", "--metrics-interval", "0.3")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_metrics?metrics.stable? PASSED*"])
    assert standins(mark) == []


def test_live_target_reports_a_broken_service(pytester, tmp_path):
    server = ScriptedServer()
    try:
        server.serve_metrics(exposition(orders=9), exposition(orders=2))
        server.serve("/health", Response('{"status": "degraded"}', content_type="application/json"))
        env = write_env_file(tmp_path / "live.env", {
            "APP_ENV": "staging", "API_KEY": random_secret("api"),
            "CLIENT_CERT_SUBJECT_HEADER": "X-Client-Cert-Subject",
            "SERVICE_URL": server.url, "METRICS_PORT": str(server.port)}, "metrics live test")
        result = run_ops_tests(pytester, "--env-file", str(env), "-m", "metrics", "--metrics-interval", "0.1")
    finally:
        server.close()
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines([
        '*metrics.stable: two scrapes 0.1 s apart*flash_green_orders_total{venue="ice"} went from 9.0 to 2.0*',
        "*metrics.health: GET*/health answered 200 but its status is 'degraded'*",
    ])


def _start_suite(mark: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, MARK: mark}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", str(REPO / "ops_tests"), "-c", str(REPO / "pytest.ini"),
         "--rootdir", str(REPO), "-p", "no:cacheprovider", "-m", "metrics", *args],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_sigterm_mid_run_stops_the_standin(tmp_path):
    mark = uuid.uuid4().hex
    # A long interval keeps the run inside the stability check while we signal it.
    suite = _start_suite(mark, "--metrics-interval", "60")
    try:
        wait_for(lambda: standins(mark), 30, "the stand-in to start")
        time.sleep(1.0)  # into the 60 s wait between the two scrapes
        suite.send_signal(signal.SIGTERM)
        output, _ = suite.communicate(timeout=30)
    finally:
        if suite.poll() is None:
            suite.kill()
            suite.wait(10)
    assert suite.returncode != 0
    wait_for(lambda: not standins(mark), 5, "the stand-in to stop; the run said: " + output.decode(errors="replace")[-2000:])


def test_a_killed_run_leaves_no_standin_behind():
    # SIGKILL runs no cleanup at all: the stand-in notices its parent is gone and exits.
    mark = uuid.uuid4().hex
    suite = _start_suite(mark, "--metrics-interval", "60")
    try:
        wait_for(lambda: standins(mark), 30, "the stand-in to start")
        suite.kill()
        suite.wait(10)
    finally:
        if suite.poll() is None:
            suite.kill()
            suite.wait(10)
        suite.stdout.close()
    wait_for(lambda: not standins(mark), 5, "the stand-in to notice its parent is gone")
