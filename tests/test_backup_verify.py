"""Verification names what differs: each damage is done for real to a restored Chinook copy."""
from __future__ import annotations

import json
import os

import pytest
from psycopg import sql

from fixtures.services import write_env_file
from flash_green_ops import backup
from flash_green_ops.findings import Status
from tests.backup_fixtures import failures, sql_run, table_locked
from tests.conftest import assert_no_secrets, closed_port, run_script, wait_for
from tests.pg_fixtures import BASE_ENV
from tests.test_signals import SIGNALS, start_script, stopped


@pytest.fixture(scope="module")
def chinook_backup(pg_cluster, chinook_template, chinook_owner, tmp_path_factory):
    """One backup of Chinook (custom format) for every damage test."""

    user, password = chinook_owner
    name = "chinook_verify_source"
    pg_cluster.create_database(name, owner=user, template=chinook_template)
    try:
        source = backup.PgEndpoint.from_conninfo(pg_cluster.dsn(name, user, password), connect_timeout=10)
        yield backup.backup(source, tmp_path_factory.mktemp("verify") / "chinook.dump", fmt="custom")
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def restored(chinook_backup, scratch):
    db = scratch()
    backup.restore(db.endpoint, chinook_backup.path, manifest=chinook_backup.manifest)
    return db.endpoint


@pytest.mark.parametrize("damage,check,expected", [
    ("DELETE FROM invoice_line WHERE invoice_line_id = 7", "restore.rows",
     "public.invoice_line: 2240 rows in the manifest, 2239 in the restored database"),
    ("UPDATE track SET unit_price = 1.99 WHERE track_id = 3000", "restore.content",
     "public.track: same row count (3503) but the content hash differs"),
    ("DROP TABLE playlist_track", "restore.tables", "public.playlist_track: missing from the restored database"),
    ("SELECT setval('artist_artist_id_seq', 1, false)", "restore.sequences",
     "public.artist_artist_id_seq: behind the manifest: nextval() would return 1, the manifest's next value is 276"),
    ("ALTER TABLE customer ALTER COLUMN company TYPE text", "restore.schema",
     "public.customer: column company: type 'character varying(80)' in the manifest, 'text' restored"),
    ("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
     "INSERT INTO alembic_version VALUES ('deadbeef0001')", "restore.alembic",
     "Alembic revision is deadbeef0001 in the restored database, absent in the manifest"),
])
def test_verification_names_what_differs(damage, check, expected, restored, chinook_backup):
    assert not failures(backup.verify(restored, chinook_backup.manifest))  # intact before the damage
    sql_run(restored, *damage.split("; "))
    findings = backup.verify(restored, chinook_backup.manifest)
    failed = [f for f in findings if f.status is Status.FAIL]
    assert [f.check for f in failed if f.check == check], failures(findings)
    assert any(expected in f.message for f in failed), failures(findings)


def test_sequence_ahead_of_the_manifest_is_fine(restored, chinook_backup):
    """Sequences are not transactional: pg_dump reads them after the manifest did, and writes
    advance them meanwhile. Only *behind* is an error."""
    sql_run(restored, "SELECT setval('artist_artist_id_seq', 5000)")
    assert not failures(backup.verify(restored, chinook_backup.manifest))


def test_verify_session_is_read_only(restored, chinook_backup, monkeypatch):
    """Every connection verify opens (the snapshot's and the hashing workers') is read-only."""
    modes: list[str] = []
    real_connect = backup.PgEndpoint.connect

    def spying_connect(self, *args, **kwargs):
        conn = real_connect(self, *args, **kwargs)
        modes.append(conn.execute("SHOW default_transaction_read_only").fetchone()[0])
        return conn

    monkeypatch.setattr(backup.PgEndpoint, "connect", spying_connect)
    findings = backup.verify(restored, chinook_backup.manifest, workers=2)
    assert not failures(findings)
    assert len(modes) == 2, f"verify opened {len(modes)} connections, expected 2 (snapshot + 1 worker)"
    assert modes == ["on", "on"], modes


def env_for(endpoint: backup.PgEndpoint, tmp_path, name="restored.env"):
    from psycopg.conninfo import make_conninfo

    url = make_conninfo("", **endpoint.options, password=endpoint.password)
    return write_env_file(tmp_path / name, {**BASE_ENV, "API_KEY": "test-api-key-123456", "DATABASE_URL": url}, "test")


def test_verify_restore_cli_exit_codes(restored, chinook_backup, tmp_path):
    env_file = env_for(restored, tmp_path)
    ok = run_script("verify_restore.py", "--env-file", env_file, "--manifest", chinook_backup.manifest_path)
    assert_no_secrets([restored.password], ok.stdout, ok.stderr)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS restore.content" in ok.stdout and "verify: 8 passed, 0 failed" in ok.stdout

    sql_run(restored, "DELETE FROM invoice_line WHERE invoice_line_id = 7", "DROP TABLE playlist_track")
    bad = run_script("verify_restore.py", "--env-file", env_file, "--manifest", chinook_backup.manifest_path)
    assert_no_secrets([restored.password], bad.stdout, bad.stderr)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL restore.rows public.invoice_line: 2240 rows in the manifest, 2239" in bad.stdout
    assert "FAIL restore.tables public.playlist_track: missing" in bad.stdout
    assert "verify: 6 passed, 2 failed" in bad.stdout, bad.stdout
    # The shared output options: --quiet and --format junit, verify's own summary line.
    quiet = run_script("verify_restore.py", "--env-file", env_file, "--manifest", chinook_backup.manifest_path,
                       "--quiet")
    assert [line.split(" ")[:2] for line in quiet.stdout.splitlines()] == [
        ["FAIL", "restore.tables"], ["FAIL", "restore.rows"], ["verify:", "6"]], quiet.stdout
    junit = run_script("verify_restore.py", "--env-file", env_file, "--manifest", chinook_backup.manifest_path,
                       "--format", "junit")
    assert_no_secrets([restored.password], junit.stdout, junit.stderr)
    assert junit.returncode == 1 and '<testsuite name="verify_restore" tests="8" failures="2"' in junit.stdout
    assert "<system-out>verify: 6 passed, 2 failed</system-out>" in junit.stdout


@pytest.mark.parametrize("content,expected", [
    (b"this is not json {", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "not a usable manifest: $: is an array, expected object"),
    (json.dumps({"format_version": 1, "server": {}, "schema": {"relations": {}}, "tables": {},
                 "sequences": {}, "hash": {"method": "typed-v2"}}).encode(),
     "not a usable manifest: $.server: 'version' is a required property"),
    (json.dumps({"format_version": 1, "server": {"version": "15"}, "schema": {"fingerprint": "a" * 64, "relations": {}},
                 "tables": {"t": {"rows": "x", "hash": "0" * 32}}, "sequences": {}, "hash": {"method": "typed-v2"}}).encode(),
     "not a usable manifest: $.tables.t.rows: is a string, expected integer"),
    (json.dumps({"format_version": 1, "server": {"version": "15"}, "schema": {"fingerprint": "a" * 64, "relations": {}},
                 "tables": {}, "sequences": {}, "hash": {"method": "md5"}}).encode(), "hash.method is 'md5'"),
    (None, "no such file"),
])
def test_verify_restore_exit_2_on_an_unusable_manifest(content, expected, tmp_path, restored):
    manifest = tmp_path / "m.json"
    if content is not None:
        manifest.write_bytes(content)
    result = run_script("verify_restore.py", "--env-file", env_for(restored, tmp_path), "--manifest", manifest)
    assert_no_secrets([restored.password], result.stdout, result.stderr)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_restore_jobs_must_be_a_positive_whole_number(tmp_path, restored):
    for jobs in ("0", "two"):
        result = run_script("verify_restore.py", "--env-file", env_for(restored, tmp_path), "--manifest",
                            tmp_path / "m.json", "--jobs", jobs)
        assert_no_secrets([restored.password], result.stdout, result.stderr)
        assert result.returncode == 2, result.stderr
        assert "argument --jobs" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_verify_unreachable_database_fails_with_host_and_port(chinook_backup, tmp_path):
    port = closed_port()
    gone = backup.PgEndpoint.from_conninfo(f"postgresql://nobody:hunter2-secret@127.0.0.1:{port}/x", connect_timeout=2)
    findings = backup.verify(gone, chinook_backup.manifest)
    assert [f.check for f in findings] == ["restore.connect"] and findings[0].status is Status.FAIL
    assert f"127.0.0.1:{port}" in findings[0].message
    assert_no_secrets(["hunter2-secret"], findings[0].message)


def test_restore_refuses_the_source_and_a_non_empty_database(pg_cluster, chinook_backup, chinook, scratch):
    source_copy = backup.PgEndpoint.from_conninfo(pg_cluster.dsn("chinook_verify_source"))
    with pytest.raises(backup.BackupError, match="it is the database the backup was taken from"):
        backup.restore(source_copy, chinook_backup.path, manifest=chinook_backup.manifest)
    with pytest.raises(backup.BackupError, match="already holds 11 tables"):
        backup.restore(chinook, chinook_backup.path, manifest=chinook_backup.manifest)
    # Same server, other database, empty: allowed.
    db = scratch()
    backup.restore(db.endpoint, chinook_backup.path, manifest=chinook_backup.manifest)
    with pg_cluster.connect(db.name) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("artist"))).fetchone()[0] == 275


def test_verify_restore_without_password_and_unavailable_bundle_fails_in_one_line(restored, chinook_backup,
                                                                                 tmp_path):
    """No password in the env, and the secret bundle that should hold it cannot be loaded
    (Vault not listening): a failed check, exit 1, not a traceback."""
    from psycopg.conninfo import make_conninfo

    token = "hvs.test-token-9876543210"
    values = {**BASE_ENV, "API_KEY": "test-api-key-123456", "DATABASE_URL": make_conninfo("", **restored.options),
              "VAULT_ADDR": f"http://127.0.0.1:{closed_port()}", "VAULT_TOKEN": token,
              "VAULT_SECRET_PATH": "secret/data/flash-green"}
    env_file = write_env_file(tmp_path / "no-password.env", values, "test")
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    result = run_script("verify_restore.py", "--env-file", env_file, "--manifest", chinook_backup.manifest_path,
                        env=env, timeout=60)
    assert_no_secrets([restored.password, token], result.stdout, result.stderr)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr == "", result.stderr
    fail_lines = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fail_lines) == 1 and fail_lines[0].startswith("FAIL restore.connect "), result.stdout
    assert "no database password and the secret bundle is unavailable" in fail_lines[0], result.stdout
    assert "verify: 0 passed, 1 failed" in result.stdout


def verify_sessions(admin) -> list:
    return sql_run(admin, "SELECT pid, wait_event_type FROM pg_stat_activity "
                          "WHERE application_name = 'flashgreen-backup-verify'")


@pytest.mark.parametrize("sig", SIGNALS)
def test_verify_restore_blocked_on_a_lock_stops_and_leaves_no_session(sig, pg_cluster, restored, chinook_backup,
                                                                      tmp_path):
    """A verify whose read of a table waits on another session's ACCESS EXCLUSIVE lock (two
    sessions, so the waiting one may be a worker thread): every session is cancelled."""
    env_file = env_for(restored, tmp_path)
    with table_locked(pg_cluster, restored) as admin:
        proc = start_script("verify_restore.py", "--env-file", env_file, "--manifest",
                            chinook_backup.manifest_path, "--jobs", "2")
        try:
            wait_for(lambda: any(w == "Lock" for _, w in verify_sessions(admin)), 30,
                     "the verify to wait on the lock")
            stdout, stderr, took = stopped(proc, sig)
            # Still under the lock: a session left waiting on it would wait for as long as it is held.
            wait_for(lambda: not verify_sessions(admin), 10, "the verify's sessions to end")
        finally:  # the verify never waited: it must not outlive the test
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert_no_secrets([restored.password], stdout, stderr)
    assert proc.returncode == 128 + sig, stdout + stderr
    assert stderr == f"verify_restore.py: interrupted by {sig.name}: stopped, its child processes, sessions " \
                     f"and partial files are gone\n", stderr
    assert took < 10, f"took {took:.1f} s to stop"
