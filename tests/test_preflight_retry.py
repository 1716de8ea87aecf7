"""Wait-until mode (--retry-timeout, --retry-interval): an init container's preflight that
starts before the database does."""
from __future__ import annotations

import threading
import time

import pytest

from fixtures.pgcluster import BinariesNotFound, LocalCluster
from tests.conftest import assert_no_secrets, run_script
from tests.test_signals import black_hole, start_script


def test_a_database_that_comes_up_midway_passes_with_one_report(cluster_base_dir, db_env_file):
    cluster = LocalCluster(base_dir=cluster_base_dir)  # its port is chosen (and held) now
    env_file = db_env_file(cluster.dsn())
    proc = start_script("preflight_check.py", "--env-file", env_file, "--stage", "db",
                        "--retry-timeout", "90s", "--retry-interval", "0.5s")
    watchdog = threading.Timer(120, proc.kill)  # bounds the blocking reads below
    watchdog.start()
    try:
        first = proc.stderr.readline()  # an attempt failed: the server is not there yet
        assert first.startswith("preflight_check.py: attempt 1: 1 failed (db.reachable), "), first
        try:
            cluster.start()
        except BinariesNotFound as exc:
            pytest.skip(str(exc))
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cluster.stop()
    assert_no_secrets([cluster.password], stdout, first, stderr)
    assert proc.returncode == 0, first + stderr + stdout
    progress = [first.rstrip("\n"), *stderr.splitlines()]
    assert progress[-1] == f"preflight_check.py: attempt {len(progress)}: every check passed", progress
    assert all(" failed (db.reachable), " in line for line in progress[:-1]), progress
    assert stdout.count("preflight: ") == 1 and "PASS db.reachable" in stdout, stdout  # the report once


def test_the_wait_ends_by_the_retry_timeout_even_on_a_black_hole(db_env_file):
    """Each attempt's connect timeout is capped to the time left: 3 s, not 3 attempts of 30 s."""
    with black_hole() as (port, _):
        env_file = db_env_file(f"postgresql://app:pw-bh-1234@127.0.0.1:{port}/app")
        started = time.monotonic()
        result = run_script("preflight_check.py", "--env-file", env_file, "--stage", "db",
                            "--db-connect-timeout", "30", "--retry-timeout", "3", "--retry-interval", "1",
                            timeout=60)
        took = time.monotonic() - started
    assert_no_secrets(["pw-bh-1234"], result.stdout, result.stderr)
    assert result.returncode == 1
    assert took < 3 + 3, f"took {took:.1f} s"  # the deadline, plus the interpreter's start-up
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("preflight_check.py: attempt ") for line in lines), lines
    assert "FAIL db.reachable" in result.stdout and result.stdout.count("preflight: ") == 1


@pytest.mark.parametrize("args, message", [
    (["--retry-interval", "1s"], "--retry-interval needs --retry-timeout"),
    (["--retry-timeout", "0"], "argument --retry-timeout: must be greater than 0: '0'"),
    (["--retry-timeout", "soon"], "argument --retry-timeout: not a duration: 'soon'"),
])
def test_bad_retry_options_are_usage_errors(args, message, db_env_file):
    result = run_script("preflight_check.py", "--env-file", db_env_file("postgresql://a@127.0.0.1:1/b"),
                        "--stage", "env", *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1, \
        result.stderr
