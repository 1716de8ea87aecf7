"""Wait-until mode (--retry-timeout, --retry-interval): an init container's preflight that
starts before the database does."""
from __future__ import annotations

import contextlib
import threading
import time

import pytest

from fixtures.pgcluster import BinariesNotFound, LocalCluster
from flash_green_ops import preflight
from flash_green_ops.errors import DeadlinePassed
from flash_green_ops.findings import Status
from flash_green_ops.settings import Settings
from tests.conftest import assert_no_secrets, run_script, silent_listener, skip_unless_ci
from tests.pg_fixtures import context
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
            skip_unless_ci(str(exc))
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


@contextlib.contextmanager
def black_holes(count: int):
    """``count`` loopback ports that accept connections and never answer."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(silent_listener()) for _ in range(count)]


def every_service_env(db_env_file, vault: int, db: int, metrics: int, health: int):
    """Vault (the secret backend), the database (its own password), the scrape and health
    endpoints, each on its own port."""
    return db_env_file(f"postgresql://app:pw-bh-5678@127.0.0.1:{db}/app", VAULT_ADDR=f"http://127.0.0.1:{vault}",
                       VAULT_TOKEN="hvs.bh-token-5678", VAULT_SECRET_PATH="secret/flash-green",
                       METRICS_URL=f"http://127.0.0.1:{metrics}/metrics", SERVICE_URL=f"http://127.0.0.1:{health}")


SERVICE_STAGES = ("--stage", "env", "--stage", "secrets", "--stage", "db", "--stage", "metrics")


def test_several_black_holes_in_one_attempt_end_by_the_deadline_plus_one_timeout(db_env_file):
    """Vault, the database and the metrics endpoints all silent, each allowed 30 s: every call
    is capped to the time left when it starts and none starts after the deadline, so the run
    ends by the 3 s deadline plus one (capped) call, not one capped timeout per call."""
    with black_holes(4) as ports:
        env_file = every_service_env(db_env_file, *ports)
        started = time.monotonic()
        result = run_script("preflight_check.py", "--env-file", env_file, *SERVICE_STAGES,
                            "--secrets-timeout", "30", "--db-connect-timeout", "30", "--http-timeout", "30",
                            "--metrics-interval", "30", "--retry-timeout", "3s", "--retry-interval", "1s",
                            timeout=90)
        took = time.monotonic() - started
    assert_no_secrets(["pw-bh-5678", "hvs.bh-token-5678"], result.stdout, result.stderr)
    assert result.returncode == 1, result.stderr + result.stdout
    # The deadline (3 s), one call capped to at most 3 s, the interpreter's start-up (~1 s);
    # capping each call only to the time left at the attempt's start took 12 s and more.
    assert took < 3 + 3 + 2, f"took {took:.1f} s"
    lines = result.stderr.splitlines()
    assert lines == [f"preflight_check.py: attempt {n}: " + lines[n - 1].split(": ", 2)[2]
                     for n in range(1, len(lines) + 1)], lines  # one line per attempt, numbered
    assert "secrets.vault_health" in lines[-1] and "db.stage" in lines[-1] and "metrics.stage" in lines[-1], lines
    out = result.stdout
    assert out.count("preflight: ") == 1, out  # the report once
    assert "FAIL secrets.vault_health" in out and "no answer within" in out, out
    for stage, option in (("db", "--db-connect-timeout"), ("metrics", "--http-timeout")):
        assert (f"FAIL {stage}.stage not finished: the --retry-timeout deadline passed before its next "
                f"network call ({option}), so its remaining checks did not run") in out, out


def test_without_retry_timeout_every_call_gets_its_full_timeout(db_env_file):
    """No deadline outside wait-until mode: each silent service takes its whole 2 s."""
    with black_holes(4) as ports:
        env_file = every_service_env(db_env_file, *ports)
        started = time.monotonic()
        result = run_script("preflight_check.py", "--env-file", env_file, *SERVICE_STAGES,
                            "--secrets-timeout", "2", "--db-connect-timeout", "2", "--http-timeout", "2",
                            timeout=90)
        took = time.monotonic() - started
    assert result.returncode == 1 and not result.stderr, result.stderr
    out = result.stdout
    assert "deadline" not in out, out
    assert "FAIL secrets.vault_health" in out and "no answer within 2 s" in out, out
    assert "FAIL db.reachable" in out and "no answer within 2 s (connect timeout)" in out, out
    assert "FAIL metrics.scrape" in out and "FAIL metrics.health" in out, out
    assert took >= 4 * 2, f"took {took:.1f} s"  # Vault, the database, the scrape, the health check


def test_a_call_gets_the_time_left_and_none_starts_after_the_deadline():
    assert Settings(http_timeout=30).timeout("http_timeout") == 30  # no deadline: as configured
    soon = Settings(http_timeout=30, secrets_timeout=0.5, deadline=time.monotonic() + 3)
    assert 2 < soon.timeout("http_timeout") <= 3 and soon.timeout("secrets_timeout") == 0.5
    with pytest.raises(DeadlinePassed, match=r"before its next network call \(--db-connect-timeout\)"):
        Settings(deadline=time.monotonic()).timeout("db_connect_timeout")


def test_a_stage_stopped_by_the_deadline_fails_even_when_only_one_of_its_checks_is_selected(db_env_file):
    env_file = db_env_file("postgresql://app:pw-dl-1234@127.0.0.1:1/app")
    ctx = context(env_file, deadline=time.monotonic() - 1)
    findings = preflight.run_stages(ctx, ["db"], preflight.Selection(only=frozenset({"db.reachable"})))
    assert [(f.check, f.status) for f in findings] == [("db.stage", Status.FAIL)], findings
    assert "the --retry-timeout deadline passed" in findings[0].message
