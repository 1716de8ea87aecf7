"""`preflight_check.py --stage db --env-file X` as an operator runs it: exit 0 healthy, 1 on each failure.

Real server (the session cluster), real sockets; the password (right or wrong) must not appear
in stdout or stderr, text or JSON.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import assert_no_secrets, run_script
from tests.conftest import closed_port, silent_listener
from tests.pg_fixtures import fake_pg_dump, set_alembic_revision, write_script_directory


def preflight(*args, **kwargs):
    return run_script("preflight_check.py", *args, **kwargs)


def lines_of(result):
    return result.stdout.splitlines()


def test_healthy_database_exits_0(pg_database, db_env_file):
    result = preflight("--stage", "db", "--env-file", db_env_file(pg_database.url()))
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_of(result)
    assert lines[0].startswith(f"PASS db.reachable connected to 127.0.0.1:{pg_database.port}/{pg_database.name} "
                               f"as user {pg_database.user} in ")
    assert lines[1].startswith("PASS db.version server is PostgreSQL 15.")
    assert lines[2].startswith("PASS db.pg_dump pg_dump 15 can dump PostgreSQL 15")
    assert lines[3].startswith("PASS db.tls connection to")
    assert lines[4].startswith("SKIP db.alembic")
    assert lines[-1] == "preflight: 4 passed, 0 failed, 1 skipped"
    assert result.stderr == ""


def test_env_and_db_stages_together_pass_on_a_contract_valid_file(pg_database, db_env_file):
    result = preflight("--stage", "env", "--stage", "db", "--env-file", db_env_file(pg_database.url()))
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(line.startswith("PASS db.reachable") for line in lines_of(result))


def test_json_output_carries_the_db_checks(pg_database, db_env_file):
    result = preflight("--stage", "db", "--format", "json", "--env-file", db_env_file(pg_database.url()))
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert list(checks) == ["db.reachable", "db.version", "db.pg_dump", "db.tls", "db.alembic"]
    assert checks["db.reachable"]["stage"] == "db" and checks["db.reachable"]["duration"] > 0


def test_wrong_password_exits_1(pg_database, db_env_file):
    wrong = "cli-wrong-password-77"
    result = preflight("--stage", "db", "--env-file", db_env_file(pg_database.url(password=wrong)))
    assert_no_secrets([pg_database.password, wrong], result.stdout, result.stderr)
    assert result.returncode == 1
    assert f'FAIL db.reachable cannot connect to PostgreSQL at 127.0.0.1:{pg_database.port}/{pg_database.name}' \
           in result.stdout
    assert f'password authentication failed for user "{pg_database.user}"' in result.stdout
    assert "SKIP db.version skipped: cannot connect to" in result.stdout


def test_missing_database_exits_1(pg_database, db_env_file):
    result = preflight("--stage", "db", "--env-file", db_env_file(pg_database.url(dbname="missing_db")))
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert 'database "missing_db" does not exist' in result.stdout


def test_closed_port_exits_1(pg_database, db_env_file):
    port = closed_port()
    path = db_env_file(pg_database.url().replace(f":{pg_database.port}/", f":{port}/"))
    result = preflight("--stage", "db", "--env-file", path)
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}: Connection refused" in result.stdout


def test_a_listener_that_never_answers_exits_1_within_the_timeout(pg_database, db_env_file):
    with silent_listener() as port:
        path = db_env_file(pg_database.url().replace(f":{pg_database.port}/", f":{port}/"))
        started = time.monotonic()
        result = preflight("--stage", "db", "--db-connect-timeout", "2", "--env-file", path)
        elapsed = time.monotonic() - started
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}: no answer within 2 s (connect timeout)" in result.stdout
    # the process as a whole: interpreter start-up included
    assert elapsed < 2 + 1 + 1, elapsed


def test_unresolvable_host_exits_1(pg_database, db_env_file):
    path = db_env_file(pg_database.url().replace("127.0.0.1", "no-such-db-host.invalid"))
    result = preflight("--stage", "db", "--env-file", path)
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert "no-such-db-host.invalid" in result.stdout and "cannot resolve host name" in result.stdout


def test_older_pg_dump_on_path_exits_1_naming_both_versions(pg_database, db_env_file, tmp_path):
    fake = fake_pg_dump(tmp_path / "oldbin", "pg_dump (PostgreSQL) 13.16")
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    result = preflight("--stage", "db", "--env-file", db_env_file(pg_database.url()), env=env)
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert "FAIL db.pg_dump pg_dump 13 is older than the server's PostgreSQL 15" in result.stdout


def test_alembic_head_mismatch_exits_1(pg_database, db_env_file):
    set_alembic_revision(pg_database, "ae1027a6acf")
    result = preflight("--stage", "db", "--alembic-head", "27c6a30d7c24", "--env-file", db_env_file(pg_database.url()))
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert "FAIL db.alembic" in result.stdout
    assert "is at Alembic revision ae1027a6acf, expected 27c6a30d7c24 (--alembic-head 27c6a30d7c24)" in result.stdout


def test_alembic_config_mismatch_exits_1_and_match_exits_0(pg_database, db_env_file, tmp_path):
    ini = write_script_directory(tmp_path / "app", [("0001first", None), ("0002second", "0001first")])
    set_alembic_revision(pg_database, "0001first")
    path = db_env_file(pg_database.url())
    result = preflight("--stage", "db", "--alembic-config", ini, "--env-file", path)
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert f"expected 0002second (head of --alembic-config {ini})" in result.stdout
    with pg_database.connect() as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0002second'")
    assert preflight("--stage", "db", "--alembic-config", ini, "--env-file", path).returncode == 0


def test_production_without_tls_exits_1(pg_database, db_env_file):
    path = db_env_file(pg_database.url(query="sslmode=disable"), APP_ENV="production")
    result = preflight("--stage", "db", "--env-file", path)
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)
    assert result.returncode == 1
    assert "FAIL db.tls" in result.stdout and "is NOT encrypted" in result.stdout


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_connect_timeout_is_a_usage_error(db_env_file, value):
    result = preflight("--stage", "db", "--db-connect-timeout", value, "--env-file", db_env_file("postgresql://x@h/d"))
    assert result.returncode == 2
    assert "--db-connect-timeout" in result.stderr and "Traceback" not in result.stderr
