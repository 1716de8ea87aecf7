"""The rollback rehearsal (scripts/rehearse_rollback.py, flash_green_ops/rehearsal.py) on a real
seeded Flash Green database and real Alembic projects: the packaged one, and copies of it
broken the ways the issue names. Every run must leave no scratch database behind."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from flash_green_ops import migrations, reconcile, rehearsal
from flash_green_ops.findings import Status
from flash_green_ops.pg import PgEndpoint
from flash_green_ops.scratchdb import drop_database, list_scratch
from tests.backup_fixtures import restore_url_and_env
from tests.conftest import SCRIPTS, assert_no_secrets, closed_port, run_script
from tests.pg_fixtures import by_check

VERSIONS = "versions"


@pytest.fixture
def project(tmp_path):
    """A copy of the packaged Alembic project, to break: project(edit) -> its alembic.ini."""
    root = tmp_path / "project"
    shutil.copytree(migrations.PACKAGED_CONFIG.parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def revision_file(project, name, revision, down, upgrade="pass", downgrade="pass"):
    (project / VERSIONS / name).write_text(
        f"from alembic import op\n\nrevision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
        f"depends_on = None\n\n\ndef upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    {downgrade}\n")


def edit_0004(project, old, new):
    path = project / VERSIONS / "0004_orders_client_ref.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def server(pg_cluster):
    """The superuser's PgEndpoint: where the tests' scratch databases go. After the test, none
    may be left (a leftover is dropped before the assert, so it fails this test alone, not every
    later one)."""
    endpoint = PgEndpoint.from_conninfo(pg_cluster.dsn(), connect_timeout=10)
    yield endpoint
    left = list_scratch(endpoint)
    for name in left:
        drop_database(endpoint, name)
    assert left == [], "the rehearsal left a scratch database behind"


def rehearse(flashgreen, server, config=migrations.PACKAGED_CONFIG, **kwargs):
    return by_check(rehearsal.rehearse(flashgreen.endpoint, server, config, reconcile.load(), **kwargs))


def script(flashgreen, pg_cluster, env_file, *args, **kwargs):
    url, env = restore_url_and_env(pg_cluster)
    return run_script("rehearse_rollback.py", "--env-file", env_file, "--restore-url", url, *args, env=env, **kwargs)


# -- through the API: each failure the issue names ----------------------------------------------

def test_the_packaged_project_rehearses_cleanly_and_names_the_dropped_column(flashgreen, server):
    findings = rehearse(flashgreen, server)
    assert list(findings) == ["rollback.chain", "rollback.heads", "rollback.at_head", "rollback.backup",
                              "rollback.downgrade", "rollback.version", "rollback.losses", "rollback.invariants",
                              "rollback.upgrade", "rollback.schema", "rollback.data"]
    assert {c for c, f in findings.items() if f.status is not Status.PASS} == {"rollback.losses"}
    losses = findings["rollback.losses"]
    assert losses.status is Status.WARN
    assert "column public.orders.client_ref (2000 of 2000 rows hold a value)" in losses.message
    assert "alembic_version is at the previous revision, 0003" in findings["rollback.version"].message
    assert "except the columns the downgrade dropped (public.orders: client_ref" in findings["rollback.data"].message


def test_a_downgrade_that_raises_names_the_revision_and_the_error(flashgreen, server, project):
    edit_0004(project, 'op.execute("ALTER TABLE orders DROP COLUMN client_ref")',
              'op.execute("ALTER TABLE orders DROP COLUMN no_such_column")')
    findings = rehearse(flashgreen, server, project / "alembic.ini")
    downgrade = findings["rollback.downgrade"]
    assert downgrade.status is Status.FAIL
    assert f"downgrade of revision 0004 ({project / VERSIONS / '0004_orders_client_ref.py'}) to 0003 failed" \
        in downgrade.message
    assert downgrade.message.endswith('failed: UndefinedColumn: column "no_such_column" of relation "orders" '
                                      'does not exist')
    assert list(findings)[-1] == "rollback.downgrade"  # nothing after a failed downgrade


def test_two_heads_fail_before_anything_is_downgraded(flashgreen, server, project):
    revision_file(project, "0005_branch.py", "0005", "0003")
    findings = rehearse(flashgreen, server, project / "alembic.ini")
    heads = findings["rollback.heads"]
    assert heads.status is Status.FAIL and "2 heads (0004, 0005)" in heads.message
    assert "alembic merge heads" in heads.message
    assert list(findings) == ["rollback.chain", "rollback.heads"]  # no backup, nothing downgraded


def test_a_database_not_at_head_fails(flashgreen, server, project):
    revision_file(project, "0005_next.py", "0005", "0004")
    findings = rehearse(flashgreen, server, project / "alembic.ini")
    at_head = findings["rollback.at_head"]
    assert at_head.status is Status.FAIL
    assert "the database is at Alembic revision 0004, not at the head 0005" in at_head.message
    assert list(findings)[-1] == "rollback.at_head"


def test_a_gap_in_the_chain_fails(flashgreen, server, project):
    revision_file(project, "0005_orphan.py", "0005", "0099")
    chain = rehearse(flashgreen, server, project / "alembic.ini")["rollback.chain"]
    assert chain.status is Status.FAIL
    assert "the chain from base to head has a gap" in chain.message and "0099" in chain.message


def test_a_downgrade_that_deletes_rows_is_named_and_breaks_the_invariants(flashgreen, server, project):
    edit_0004(project, 'op.execute("ALTER TABLE orders DROP COLUMN client_ref")',
              'op.execute("DELETE FROM fills WHERE id > 1000; ALTER TABLE orders DROP COLUMN client_ref")')
    findings = rehearse(flashgreen, server, project / "alembic.ini")
    losses = findings["rollback.losses"]
    assert losses.status is Status.WARN
    assert "column public.orders.client_ref" in losses.message
    assert "rows of public.fills" in losses.message
    invariants = findings["rollback.invariants"]
    assert invariants.status is Status.FAIL
    assert "on the copy downgraded to 0003" in invariants.message
    assert "reconcile.filled-orders-fully-filled" in invariants.message
    data = findings["rollback.data"]
    assert data.status is Status.FAIL and "public.fills:" in data.message and "rows in the manifest" in data.message


def test_an_upgrade_that_gives_back_another_schema_fails(flashgreen, server, project):
    edit_0004(project, 'ADD COLUMN client_ref text', 'ADD COLUMN client_ref varchar(40)')
    schema = rehearse(flashgreen, server, project / "alembic.ini")["rollback.schema"]
    assert schema.status is Status.FAIL
    assert "public.orders: column client_ref" in schema.message and "character varying(40)" in schema.message


def test_a_kept_column_changed_on_the_way_is_named(flashgreen, server, project):
    # The downgrade drops client_ref (expected) but also rewrites limit_price of a few orders.
    edit_0004(project, 'op.execute("ALTER TABLE orders DROP COLUMN client_ref")',
              'op.execute("UPDATE orders SET limit_price = limit_price + 1 WHERE id < 10; '
              'ALTER TABLE orders DROP COLUMN client_ref")')
    data = rehearse(flashgreen, server, project / "alembic.ini")["rollback.data"]
    assert data.status is Status.FAIL
    assert "public.orders: column(s) limit_price differ from the copy before the downgrade" in data.message
    assert "except the columns the downgrade dropped (public.orders: client_ref" in data.message


def test_a_slow_downgrade_is_cancelled_at_its_bound(flashgreen, server, project):
    edit_0004(project, 'op.execute("ALTER TABLE orders DROP COLUMN client_ref")',
              'op.execute("SELECT pg_sleep(30)")')
    started = time.monotonic()
    downgrade = rehearse(flashgreen, server, project / "alembic.ini", downgrade_timeout=1)["rollback.downgrade"]
    assert time.monotonic() - started < 20
    assert downgrade.status is Status.FAIL
    assert "downgrade of revision 0004" in downgrade.message and "did not finish within 1 s" in downgrade.message


# -- scripts/rehearse_rollback.py -----------------------------------------------------------------

def test_script_exits_0_with_the_loss_as_a_warning(flashgreen, pg_cluster, server, db_env_file):
    result = script(flashgreen, pg_cluster, db_env_file(flashgreen.url()), "--alembic-config", migrations.PACKAGED_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN rollback.losses the downgrade loses column public.orders.client_ref" in result.stdout
    assert result.stdout.splitlines()[-1] == "rehearse_rollback: 11 passed, 0 failed"
    assert_no_secrets([flashgreen.password, pg_cluster.password], result.stdout, result.stderr)


def test_script_on_the_envs_own_server_by_default(flashgreen, pg_cluster, server, db_env_file):
    with pg_cluster.connect() as conn:
        conn.execute(f"ALTER ROLE {flashgreen.user} CREATEDB")  # the env's role makes the scratch copy
    try:
        result = run_script("rehearse_rollback.py", "--env-file", db_env_file(flashgreen.url()),
                            "--alembic-config", migrations.PACKAGED_CONFIG, "--format", "json")
    finally:
        with pg_cluster.connect() as conn:
            conn.execute(f"ALTER ROLE {flashgreen.user} NOCREATEDB")
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = {c["id"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert statuses["rollback.data"] == "PASS" and statuses["rollback.losses"] == "WARN"


def test_script_exits_1_naming_the_failed_downgrade(flashgreen, pg_cluster, server, db_env_file, project):
    edit_0004(project, 'DROP COLUMN client_ref")', 'DROP COLUMN no_such_column")')
    result = script(flashgreen, pg_cluster, db_env_file(flashgreen.url()), "--alembic-config", project / "alembic.ini")
    assert result.returncode == 1
    assert "FAIL rollback.downgrade downgrade of revision 0004" in result.stdout
    assert 'column "no_such_column" of relation "orders" does not exist' in result.stdout


@pytest.mark.parametrize("args,message", [
    ([], "the following arguments are required: --alembic-config"),
    (["--alembic-config", "/nonexistent/alembic.ini"], "--alembic-config /nonexistent/alembic.ini: no such file"),
    (["--alembic-config", "{ini}", "--invariants", "/nonexistent.toml"], "/nonexistent.toml: no such file"),
    (["--alembic-config", "{ini}", "--downgrade-timeout", "-1"], "--downgrade-timeout: must be greater than 0"),
])
def test_script_exits_2_on_bad_invocations(flashgreen, pg_cluster, server, db_env_file, args, message):
    args = [a.format(ini=migrations.PACKAGED_CONFIG) for a in args]
    result = script(flashgreen, pg_cluster, db_env_file(flashgreen.url()), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_script_never_creates_anything_on_a_production_server(flashgreen, pg_cluster, server, db_env_file):
    env_file = db_env_file(flashgreen.url(), APP_ENV="production")
    config = ["--alembic-config", str(migrations.PACKAGED_CONFIG)]
    bare = run_script("rehearse_rollback.py", "--env-file", env_file, *config)
    assert bare.returncode == 2 and "never creates a database on the production server" in bare.stderr
    assert "--restore-url" in bare.stderr
    same = script(flashgreen, pg_cluster, env_file, *config)
    assert same.returncode == 2 and "is the production server itself" in same.stderr, same.stderr
    assert_no_secrets([flashgreen.password, pg_cluster.password], bare.stderr, same.stderr)


def test_sigterm_mid_downgrade_drops_the_scratch_database(flashgreen, pg_cluster, server, db_env_file, project):
    edit_0004(project, 'op.execute("ALTER TABLE orders DROP COLUMN client_ref")', 'op.execute("SELECT pg_sleep(60)")')
    url, env = restore_url_and_env(pg_cluster)
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "rehearse_rollback.py"), "--env-file",
                             str(db_env_file(flashgreen.url())), "--restore-url", url,
                             "--alembic-config", str(project / "alembic.ini")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        with pg_cluster.connect() as conn:
            while not conn.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'").fetchone():
                assert time.monotonic() < deadline and proc.poll() is None, "the downgrade never started"
                time.sleep(0.2)
        assert list_scratch(server), "the scratch database should exist mid-downgrade"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143 and "interrupted by SIGTERM" in stderr, stderr
    # the server fixture asserts no scratch database is left


def test_an_unreachable_source_fails_at_head_naming_it_not_the_script_directory(flashgreen, server):
    gone = flashgreen.endpoint.with_params(port=str(closed_port()), connect_timeout="2")
    findings = rehearsal.rehearse(gone, server, migrations.PACKAGED_CONFIG, reconcile.load())
    assert [f.check for f in findings] == ["rollback.at_head"] and findings[0].status is Status.FAIL
    assert findings[0].message.startswith(f"cannot read the Alembic revision of {gone.label}: "), findings[0].message
    assert list_scratch(server) == []


def test_no_scratch_database_is_left_by_a_failing_run(flashgreen, server, project):
    revision_file(project, "0005_next.py", "0005", "0004")
    assert rehearse(flashgreen, server, project / "alembic.ini")["rollback.at_head"].status is Status.FAIL
    assert list_scratch(server) == []


def test_script_exits_1_when_the_scratch_copy_cannot_be_created(flashgreen, server, db_env_file):
    # No --restore-url: the env's own role, without CREATEDB, makes the copy on its server.
    result = run_script("rehearse_rollback.py", "--env-file", db_env_file(flashgreen.url()),
                        "--alembic-config", migrations.PACKAGED_CONFIG)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL rollback.backup the rehearsal stopped on 127.0.0.1:" in result.stdout
    assert "permission denied to create database" in result.stdout
    assert "Traceback" not in result.stderr
