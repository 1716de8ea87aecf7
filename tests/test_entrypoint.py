"""flash-green-entrypoint (flash_green_ops/commands/entrypoint.py) with real processes: the
preflight on the process environment against a throwaway PostgreSQL, ``alembic upgrade head``
of a small Alembic project on the env's database, then the service command (a stand-in Python process) exec'd.
Failures stop before the service; SIGTERM in every phase."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fixtures.services import random_secret
from flash_green_ops import redact
from tests.conftest import SilentListener, assert_no_secrets, wait_for
from tests.pg_fixtures import BASE_ENV, process_alive

SERVICE = textwrap.dedent("""\
    import os, pathlib, signal, sys, time
    def stop(signum, frame):
        print("service: SIGTERM, stopping", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
    print("service: started", flush=True)
    time.sleep(float(sys.argv[2]))
    sys.exit(7)
    """)

# Alembic's cookbook recipe: the connection the runbook hands over, else the project's own engine.
ENV_PY = textwrap.dedent("""\
    import os
    from alembic import context
    from sqlalchemy import create_engine


    def run(connection):
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()


    connection = context.config.attributes.get("connection")
    if connection is None:
        url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        with create_engine(url).connect() as connection:
            run(connection)
    else:
        run(connection)
    """)


def migration(rev: str, down: str | None, body: str) -> str:
    return textwrap.dedent(f"""\
        from alembic import op
        revision = {rev!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None

        def upgrade():
        {textwrap.indent(body, '    ')}
        """)


def alembic_project(root: Path, second: str | None = None) -> Path:
    """alembic.ini + env.py + a first migration creating a table; ``second``: another
    migration's upgrade body (bad SQL, a long query)."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    (root / "migrations" / "env.py").write_text(ENV_PY)
    (versions / "r1.py").write_text(migration("r1", None, 'op.execute("CREATE TABLE meter_reading (id int)")'))
    if second:
        (versions / "r2.py").write_text(migration("r2", "r1", second))
    return root / "alembic.ini"


@pytest.fixture
def stage(tmp_path, pg_database):
    """Builds the entrypoint's environment and command; ``run``/``start`` it."""
    class Stage:
        pidfile = tmp_path / "service.pid"
        api_key = random_secret("entry-api-key")

        def env(self, **overrides) -> dict:
            env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "ALEMBIC_CONFIG")}
            env.update(BASE_ENV, API_KEY=self.api_key, DATABASE_URL=pg_database.url())
            env.update(overrides)
            return {k: v for k, v in env.items() if v is not None}

        def argv(self, sleep: float = 0) -> list[str]:
            return [sys.executable, "-m", "flash_green_ops.commands.entrypoint",
                    sys.executable, "-c", SERVICE, str(self.pidfile), str(sleep)]

        def run(self, **overrides) -> subprocess.CompletedProcess:
            return subprocess.run(self.argv(), env=self.env(**overrides), capture_output=True, text=True,
                                  timeout=120, stdin=subprocess.DEVNULL)

        def start(self, sleep: float = 0, **overrides) -> subprocess.Popen:
            return subprocess.Popen(self.argv(sleep), env=self.env(**overrides), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    redact.register(Stage.api_key)
    return Stage()


def table_exists(pg_database, name: str) -> bool:
    with pg_database.connect() as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def reap(process: subprocess.Popen) -> None:
    """A started entrypoint still running when the test ends is killed and waited for, not left."""
    if process.poll() is None:
        process.kill()
        process.wait()


def test_preflight_then_migration_then_the_service_in_the_same_process(stage, tmp_path, pg_database):
    result = stage.run(ALEMBIC_CONFIG=str(alembic_project(tmp_path / "project")))
    assert result.returncode == 7, result.stderr  # the service's own exit code
    assert result.stdout == "service: started\n"  # stdout is the service's alone
    assert "preflight: " in result.stderr and "0 failed" in result.stderr  # the report, on stderr
    assert "alembic upgrade head: done" in result.stderr
    assert table_exists(pg_database, "meter_reading")
    with pg_database.connect() as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("r1",)]
    assert_no_secrets([stage.api_key, pg_database.password], result.stdout, result.stderr)


def test_the_migration_runs_on_the_envs_database_from_db_settings(stage, tmp_path, pg_database):
    # No DATABASE_URL: env.py's own fallback would fail, so the table proves the runbook's connection.
    result = stage.run(DATABASE_URL=None, DB_HOST=pg_database.host, DB_PORT=str(pg_database.port),
                       DB_NAME=pg_database.name, DB_USER=pg_database.user, DB_PASSWORD=pg_database.password,
                       ALEMBIC_CONFIG=str(alembic_project(tmp_path / "project")))
    assert result.returncode == 7, result.stderr
    assert table_exists(pg_database, "meter_reading")
    assert_no_secrets([pg_database.password], result.stdout, result.stderr)


def test_the_service_is_execd_and_gets_sigterm_itself(stage):
    process = stage.start(sleep=60, ALEMBIC_CONFIG=None)
    try:
        wait_for(lambda: stage.pidfile.exists() and stage.pidfile.read_text(), 60, "the service to start")
        assert int(stage.pidfile.read_text()) == process.pid  # exec: no wrapper between it and the signal
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        reap(process)
    assert process.returncode == 0
    assert stdout == "service: started\nservice: SIGTERM, stopping\n"
    assert "migrations skipped: ALEMBIC_CONFIG is not set" in stderr


def test_a_failed_preflight_exits_1_with_its_report_on_stderr_and_starts_nothing(stage, tmp_path, pg_database):
    result = stage.run(API_KEY=None, ALEMBIC_CONFIG=str(alembic_project(tmp_path / "project")))
    assert result.returncode == 1
    assert "FAIL env.api-key API_KEY is missing (process environment)" in result.stderr
    assert "flash-green-entrypoint: preflight failed (exit 1): the service is not started" in result.stderr
    assert result.stdout == "" and not stage.pidfile.exists()
    assert not table_exists(pg_database, "meter_reading")  # no migration either


def test_an_unreachable_database_fails_the_preflight_before_any_migration(stage, tmp_path, pg_database):
    url = pg_database.url().replace(f":{pg_database.port}/", ":1/")
    result = stage.run(DATABASE_URL=url, ALEMBIC_CONFIG=str(alembic_project(tmp_path / "project")))
    assert result.returncode == 1
    assert "FAIL db.reachable" in result.stderr
    assert not stage.pidfile.exists() and "alembic upgrade head" not in result.stderr
    assert "preflight failed (exit 1): the service is not started" in result.stderr
    assert_no_secrets([pg_database.password], result.stderr)


def test_a_failed_migration_exits_1_in_one_line_and_starts_nothing(stage, tmp_path, pg_database):
    config = alembic_project(tmp_path / "project", second='op.execute("ALTER TABLE no_such_table ADD x int")')
    result = stage.run(ALEMBIC_CONFIG=str(config))
    assert result.returncode == 1
    assert ('migrate.py: alembic upgrade head failed (' + str(config) + '): ProgrammingError: '
            '(psycopg.errors.UndefinedTable) relation "no_such_table" does not exist') in result.stderr
    assert "Traceback" not in result.stderr
    assert "migration failed (exit 1): the service is not started" in result.stderr
    assert not stage.pidfile.exists()
    assert not table_exists(pg_database, "meter_reading")  # one transaction: r1 rolled back with r2
    assert_no_secrets([pg_database.password], result.stderr)


def test_a_missing_alembic_config_fails_the_migration(stage, tmp_path):
    result = stage.run(ALEMBIC_CONFIG=str(tmp_path / "nowhere.ini"))
    assert result.returncode == 2
    assert f"ALEMBIC_CONFIG {tmp_path}/nowhere.ini: no such file" in result.stderr
    assert not stage.pidfile.exists()


def test_sigterm_during_the_preflight_is_passed_on_and_nothing_starts(stage):
    listener = SilentListener()  # the database connect hangs until --db-connect-timeout (5 s)
    try:
        process = stage.start(DATABASE_URL=f"postgresql://fg@127.0.0.1:{listener.port}/fg", ALEMBIC_CONFIG=None)
        try:
            child = wait_for(lambda: children_of(process.pid), 30, "the preflight process")[0]
            wait_for(lambda: listener.accepted, 30, "the preflight to connect to the database")
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=30)
            elapsed = time.monotonic() - sent
        finally:
            reap(process)
    finally:
        listener.close()
    assert process.returncode == 143
    assert elapsed < 4  # not the connect timeout: the preflight ended on the signal
    assert "preflight interrupted by signal 15: the service is not started" in stderr
    assert not process_alive(child)
    assert stdout == "" and not stage.pidfile.exists()


def test_sigterm_during_the_migration_is_passed_on_and_nothing_starts(stage, tmp_path, pg_database):
    config = alembic_project(tmp_path / "project", second='op.execute("SELECT pg_sleep(30)")')
    process = stage.start(ALEMBIC_CONFIG=str(config))
    try:
        def migrating():
            with pg_database.connect() as conn:
                return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
                                    " AND datname = current_database()").fetchone()[0]

        wait_for(migrating, 60, "the migration's long statement")
        child = children_of(process.pid)[0]
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        reap(process)
    assert process.returncode == 143
    assert "migration interrupted by signal 15: the service is not started" in stderr
    assert not process_alive(child)
    assert stdout == "" and not stage.pidfile.exists()
    assert not table_exists(pg_database, "meter_reading")  # the migration's transaction never committed


def test_no_service_command_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "flash_green_ops.commands.entrypoint"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "usage: flash-green-entrypoint SERVICE [ARG...]\n"


def test_a_service_that_cannot_run_exits_127_in_one_line(stage):
    argv = [sys.executable, "-m", "flash_green_ops.commands.entrypoint", "/nonexistent/flash-green"]
    result = subprocess.run(argv, env=stage.env(ALEMBIC_CONFIG=None), capture_output=True, text=True, timeout=120)
    assert result.returncode == 127
    assert result.stderr.splitlines()[-1] == ("flash-green-entrypoint: cannot run the service "
                                              "/nonexistent/flash-green: No such file or directory")
