"""Backups that fail, round trips that are killed, and secrets that must stay off command lines."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from fixtures.pgcluster import reap_stale_clusters
from flash_green_ops.scratchdb import PREFIX, ScratchDatabase, drop_stale, list_scratch, owner_alive, scratch_name
from flash_green_ops import backup
from tests.backup_fixtures import admin_endpoint, dir_entries, failures, restore_url_and_env, sql_run, table_locked
from tests.conftest import REPO, assert_no_secrets, closed_port, run_script, wait_for
from tests.pg_fixtures import process_alive
from tests.test_backup_verify import env_for


def pg_dump_backend(admin) -> int | None:
    rows = sql_run(admin, "SELECT pid FROM pg_stat_activity WHERE application_name = 'flashgreen-backup-pg_dump' "
                          "AND wait_event_type = 'Lock'")
    return rows[0][0] if rows else None


@contextlib.contextmanager
def backup_waiting_on_a_lock(pg_cluster, chinook, tmp_path, *options: str):
    """scripts/backup.py (with ``options``) started while another session holds ACCESS EXCLUSIVE
    on a table, so pg_dump is mid-backup, waiting, when the test acts: the timing is deterministic.
    Yields (admin endpoint, the backup process, its output directory); the process is killed
    if the test left it running, and the lock is released."""
    out_dir = tmp_path / "backups"
    out_dir.mkdir()
    env_file = env_for(chinook, tmp_path)
    with table_locked(pg_cluster, chinook) as admin:
        proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "backup.py"), "--env-file", str(env_file),
                                 "--output", str(out_dir / "flash-green-backup.sql"), *options],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            yield admin, proc, out_dir
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_backup_whose_connection_is_terminated_mid_dump_leaves_nothing(pg_cluster, chinook, tmp_path):
    """pg_dump's backend is terminated while it dumps (held up by a table lock, so the kill
    lands mid-dump every time): exit 1, a message, nothing at PATH."""
    with backup_waiting_on_a_lock(pg_cluster, chinook, tmp_path) as (admin, proc, out_dir):
        pid = wait_for(lambda: pg_dump_backend(admin), 30, "pg_dump to wait on the lock")
        sql_run(admin, f"SELECT pg_terminate_backend({pid})")
        stdout, stderr = proc.communicate(timeout=60)
    assert_no_secrets([chinook.password], stdout, stderr)
    assert proc.returncode == 1, stdout + stderr
    assert "backup failed: pg_dump failed" in stderr and "nothing was written to" in stderr
    assert "Traceback" not in stderr
    assert dir_entries(out_dir) == []  # no dump, no manifest, no partial file
    # The manifest session was cancelled, not left waiting on the lock.
    assert not sql_run(admin, "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'flashgreen-backup%'")


def write_shims(directory: Path, log: Path) -> Path:
    """pg_dump/psql/pg_restore wrappers that record their argv (and whether PGPASSWORD is set,
    never its value), then exec the real program."""
    directory.mkdir()
    for name in ("pg_dump", "psql", "pg_restore"):
        real = backup.program(name)
        shim = directory / name
        shim.write_text(f"""#!/bin/sh
printf '%s' "{name}" >> "{log}"
for arg in "$@"; do printf ' %s' "$arg" >> "{log}"; done
if [ -n "$PGPASSWORD" ]; then echo ' [PGPASSWORD set]' >> "{log}"; else echo >> "{log}"; fi
exec "{real}" "$@"
""")
        shim.chmod(0o755)
    return directory


def test_password_is_on_no_command_line(chinook, scratch, tmp_path, monkeypatch):
    log = tmp_path / "argv.log"
    monkeypatch.setenv("PATH", f"{write_shims(tmp_path / 'shims', log)}:{os.environ['PATH']}")
    seen: list[str] = []
    stop = threading.Event()

    def sample_proc() -> None:  # what any local user could read while the tools run
        while not stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    except OSError:
                        continue
                    if any(tool in cmdline for tool in ("pg_dump", "pg_restore", "psql")):
                        seen.append(cmdline)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample_proc)
    sampler.start()
    try:
        for fmt in ("plain", "custom"):
            result = backup.backup(chinook, tmp_path / f"b.{fmt}", fmt=fmt)
            restored = scratch()
            # Restore with the owner's password-authenticated role too (it owns the scratch
            # database, hence its public schema, as an application database's owner would).
            sql_run(restored.server, f'ALTER DATABASE "{restored.name}" OWNER TO {chinook.options["user"]}')
            target = chinook.with_params(dbname=restored.name)
            backup.restore(target, result.path, manifest=result.manifest)
            assert not failures(backup.verify(target, result.manifest))
    finally:
        stop.set()
        sampler.join()
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["pg_dump", "psql", "pg_dump", "pg_restore"], calls
    assert all(c.endswith("[PGPASSWORD set]") for c in calls)  # it travels in the environment
    assert seen, "the sampler saw no client process: it proved nothing"
    assert_no_secrets([chinook.password], log, "\n".join(seen))


def test_backup_cli_bad_invocations_exit_2_with_one_line(chinook, tmp_path):
    env_file = env_for(chinook, tmp_path)
    existing = tmp_path / "exists.sql"
    existing.write_text("old backup")
    cases = [
        (["--output", str(tmp_path / "x.sql"), "--jobs", "2"], "--jobs 2 needs --format directory"),
        (["--output", str(existing)], "already exists"),
        (["--output", str(tmp_path / "missing" / "x.sql")], "does not exist"),
        (["--output", str(tmp_path / "x.sql"), "--format", "tar"], "invalid choice"),
        (["--output", str(tmp_path / "x.sql"), "--lock-wait-timeout", "0"], "must be greater than 0"),
        ([], "--output"),
    ]
    for args, expected in cases:
        result = run_script("backup.py", "--env-file", env_file, *args)
        assert_no_secrets([chinook.password], result.stdout, result.stderr)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert existing.read_text() == "old backup"


def test_backup_cli_writes_dump_and_manifest(chinook, tmp_path):
    out = tmp_path / "flash-green-backup.sql"
    result = run_script("backup.py", "--env-file", env_for(chinook, tmp_path), "--output", out)
    assert_no_secrets([chinook.password], result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert f"manifest: {out}.manifest.json (11 tables, 15607 rows" in result.stdout
    assert out.exists() and Path(f"{out}.manifest.json").exists()
    assert_no_secrets([chinook.password], Path(f"{out}.manifest.json"), out)


def test_unreachable_source_fails_fast_and_leaves_nothing(tmp_path):
    gone = backup.PgEndpoint.from_conninfo(f"postgresql://u:pw-secret-1234@127.0.0.1:{closed_port()}/db", connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(backup.BackupError) as failure:
        backup.backup(gone, tmp_path / "x.sql")
    message = str(failure.value)
    assert_no_secrets(["pw-secret-1234"], message)
    assert time.monotonic() - started < 3
    assert "cannot open the backup snapshot on 127.0.0.1" in message, message
    assert "(the connection URL, 127.0.0.1:" in message and "(, " not in message, message
    assert dir_entries(tmp_path) == []


def test_connection_error_names_where_the_url_came_from(tmp_path):
    """The fix a connection error suggests points at the setting to correct (the option or env
    key the URL came from), never at an empty name ("correct the host name in , ...")."""
    gone = backup.PgEndpoint.from_conninfo("postgresql://u:pw-secret-1234@no-such-host.invalid:5432/db",
                                         connect_timeout=2, source_key="--restore-url")
    with pytest.raises(backup.BackupError) as failure:
        backup.backup(gone, tmp_path / "x.sql")
    message = str(failure.value)
    assert_no_secrets(["pw-secret-1234"], message)
    assert "cannot resolve host name" in message, message
    assert "(--restore-url, no-such-host.invalid:5432/db)" in message, message
    assert "correct the host name in --restore-url, or check DNS" in message, message
    assert "(, " not in message and "in ," not in message, message
    assert dir_entries(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Scratch databases


def test_stale_scratch_databases_of_dead_owners_are_dropped(pg_cluster):
    admin = admin_endpoint(pg_cluster)
    child = subprocess.Popen(["sleep", "30"])
    try:
        alive_name = scratch_name(child.pid)
        sql_run(admin, f'CREATE DATABASE "{alive_name}"')
    finally:
        child.kill()
        child.wait()
    mine = ScratchDatabase(admin).create()
    foreign = f"{PREFIX}00000000_1_1_abcdef"  # another machine's: not ours to judge
    sql_run(admin, f'CREATE DATABASE "{foreign}"')
    try:
        assert owner_alive(alive_name) is False and owner_alive(mine.name) is True and owner_alive(foreign) is None
        assert drop_stale(admin) == [alive_name]
        assert set(list_scratch(admin)) >= {mine.name, foreign}
    finally:
        mine.drop()
        pg_cluster.drop_database(foreign)
        pg_cluster.drop_database(alive_name)
    assert mine.name not in list_scratch(admin)


OPS_FILES = [str(REPO / "ops_tests" / name) for name in ("test_backup_restore.py", "test_post_restore.py")]


def ops_run(args: list[str], env: dict | None = None) -> subprocess.Popen:
    """The runbook suite's backup and post-restore modules, in a subprocess (only ours: other
    steps' modules are not what these tests are about), in a session of its own so that
    kill_group() takes its pg_dump, psql and pg_restore along. An operator's run: without the
    CI variable (in CI a skipped backup item fails; tests here assert skips)."""
    env = {k: v for k, v in (env or os.environ).items() if k != "CI"}
    return subprocess.Popen([sys.executable, "-m", "pytest", *OPS_FILES, "-c", str(REPO / "pytest.ini"),
                             "--rootdir", str(REPO), "-p", "no:cacheprovider", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def kill_group(run: subprocess.Popen) -> None:
    """SIGKILL an ops_run and everything it started (no cleanup possible), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run.stdout.close()


def finished(run: subprocess.Popen, timeout: float) -> str:
    """An ops_run's output once it exits; one still running after ``timeout`` s is killed
    (kill_group) before the TimeoutExpired goes on, so no nested run outlives the test."""
    try:
        return run.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        kill_group(run)
        raise


def lingering_pg_restore(tmp_path: Path) -> tuple[Path, Path]:
    """A pg_restore shim that touches a marker, restores, then lingers (so a signal lands
    while the round trip is in its restore step): (directory to put first on PATH, marker)."""
    marker = tmp_path / "restoring"
    shims = tmp_path / "shims"
    shims.mkdir()
    real = backup.program("pg_restore")
    (shims / "pg_restore").write_text(f'#!/bin/sh\ntouch "{marker}"\n"{real}" "$@"\nexec sleep 120\n')
    (shims / "pg_restore").chmod(0o755)
    return shims, marker


def test_round_trip_killed_mid_restore_leaves_no_scratch_after_the_next_run(pg_cluster, tmp_path):
    """SIGKILL (no cleanup possible) during the restore: the next run drops the leftover."""
    admin = admin_endpoint(pg_cluster)
    # The password in PGPASSWORD, not on the command line: pg_restore must still get it.
    restore_url, pg_env = restore_url_and_env(pg_cluster)
    before = set(list_scratch(admin))
    shims, marker = lingering_pg_restore(tmp_path)
    # Its own TMPDIR (searchable by the postgres user), so what the killed run leaves on this
    # machine (its target's workdir, its throwaway cluster) is found and removed afterwards.
    tmpdir = Path(tempfile.mkdtemp(prefix="flashgreen-killed-run-"))
    tmpdir.chmod(0o755)
    env = {**pg_env, "PATH": f"{shims}:{os.environ['PATH']}", "TMPDIR": str(tmpdir)}
    args = ["-m", "backup", "--restore-url", restore_url, "-q"]
    killed = ops_run(args, env)
    try:
        wait_for(marker.exists, 120, "the round trip to start restoring", interval=0.1)
        leftover = wait_for(lambda: set(list_scratch(admin)) - before, 30, "the scratch database")
    finally:
        kill_group(killed)
        reap_stale_clusters(tmpdir)
        shutil.rmtree(tmpdir, ignore_errors=True)
    assert set(list_scratch(admin)) - before == leftover  # the killed run could not clean up
    again = ops_run(["-m", "backup or post_restore", "--restore-url", restore_url, "-rA"], pg_env)
    output = finished(again, 300)
    assert_no_secrets([pg_cluster.password], output)
    assert again.returncode == 0, output
    for test in ("test_backup_restore.py::test_backup[restore.content]",
                 "test_post_restore.py::test_post_restore[db.read_only]",
                 "test_post_restore.py::test_post_restore[restore.content]"):
        assert f"PASSED ops_tests/{test}" in output, output
    assert set(list_scratch(admin)) - before == set(), "a scratch database was left behind"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_round_trip_interrupted_mid_restore_drops_its_scratch_database(sig, pg_cluster, tmp_path):
    """SIGTERM (a CI timeout) and Ctrl-C during the restore: the run itself drops its scratch."""
    admin = admin_endpoint(pg_cluster)
    before = set(list_scratch(admin))
    shims, marker = lingering_pg_restore(tmp_path)
    restore_url, pg_env = restore_url_and_env(pg_cluster)
    env = {**pg_env, "PATH": f"{shims}:{os.environ['PATH']}"}
    run = ops_run(["-m", "backup", "--restore-url", restore_url], env)
    try:
        wait_for(marker.exists, 120, "the round trip to start restoring", interval=0.1)
        assert set(list_scratch(admin)) - before, "no scratch database while restoring"
        run.send_signal(sig)
        output = finished(run, 60)
    finally:
        if run.poll() is None:
            kill_group(run)
    assert_no_secrets([pg_cluster.password], output)
    assert run.returncode == 2, output  # pytest's "interrupted": the signal was taken as Ctrl-C
    assert set(list_scratch(admin)) - before == set(), output


def test_production_never_gets_a_scratch_database(pg_cluster, chinook, tmp_path):
    admin = admin_endpoint(pg_cluster)
    before = set(list_scratch(admin))
    env_file = env_for(chinook, tmp_path, "production.env")
    env_file.write_text(env_file.read_text().replace("APP_ENV='staging'", "APP_ENV='production'"))
    run = ops_run(["-m", "backup", "--env-file", str(env_file), "--allow-destructive", "-rs"])
    output = finished(run, 120)
    assert_no_secrets([chinook.password, pg_cluster.password], output)
    # fixtures/plugin.py skips destructive tests on production before the scratch server is
    # asked for (backup_plugin's own skip says the same for a non-destructive caller).
    assert "never run against the production server; pass --restore-url pointing at another server" in output, output
    assert re.search(rf"\b{len(backup.CHECKS)} skipped\b", output), output
    restore_url, pg_env = restore_url_and_env(pg_cluster)
    same = ops_run(["-m", "backup", "--env-file", str(env_file), "--allow-destructive",
                    "--restore-url", restore_url], pg_env)
    output = finished(same, 120)
    assert_no_secrets([chinook.password, pg_cluster.password], output)
    assert same.returncode == 1 and "is the production server itself" in output, output
    assert set(list_scratch(admin)) == before


def test_post_restore_on_live_needs_a_manifest_and_verifies_with_one(pg_cluster, chinook, scratch, tmp_path):
    env_file = env_for(chinook, tmp_path, "staging.env")
    without = ops_run(["-m", "post_restore", "--env-file", str(env_file), "-rs"])
    output = finished(without, 120)
    assert_no_secrets([chinook.password], output)
    assert "needs --manifest PATH" in output and without.returncode == 0, output
    # An operator's restore: backup, restore into the env's database, then the suite checks it.
    result = backup.backup(chinook, tmp_path / "flash-green-backup.sql")
    db = scratch()
    sql_run(db.server, f'ALTER DATABASE "{db.name}" OWNER TO {chinook.options["user"]}')
    target = chinook.with_params(dbname=db.name)
    backup.restore(target, result.path)
    restored_env = env_for(target, tmp_path, "restored.env")
    # Chinook's own invariant (the operator's --invariants): post_restore runs it after the manifest.
    invariants = tmp_path / "chinook-invariants.toml"
    invariants.write_text('[[invariant]]\nid = "lines-reference-invoices"\nsql = """SELECT l.invoice_line_id '
                          'FROM invoice_line l LEFT JOIN invoice i USING (invoice_id) WHERE i.invoice_id IS NULL"""\n')
    args = ["-m", "post_restore", "--env-file", str(restored_env), "--manifest", str(result.manifest_path),
            "--invariants", str(invariants)]
    ok = ops_run([*args, "-rA"])
    output = finished(ok, 120)
    assert_no_secrets([chinook.password], output)
    assert ok.returncode == 0 and "PASSED ops_tests/test_post_restore.py::test_post_restore[restore.invariants]" in output, output
    sql_run(target, "ALTER TABLE invoice_line DROP CONSTRAINT invoice_line_invoice_id_fkey",
            "DELETE FROM invoice_line WHERE invoice_line_id = 9", "UPDATE invoice_line SET invoice_id = 99999 WHERE invoice_line_id = 10")
    bad = ops_run(args)
    output = finished(bad, 120)
    assert_no_secrets([chinook.password], output)
    assert bad.returncode == 1 and "public.invoice_line: 2240 rows in the manifest, 2239" in output, output
    assert "lines-reference-invoices: 1 row(s) break it on " in output and "invoice_line_id: 10" in output, output


# --------------------------------------------------------------------------------------------
# Lock waits, interrupts, file system errors, inherited PGPASSWORD


def backup_sessions(admin) -> list:
    return sql_run(admin, "SELECT pid, application_name FROM pg_stat_activity "
                          "WHERE application_name LIKE 'flashgreen-backup%'")


def test_backup_blocked_by_an_exclusive_lock_fails_within_the_lock_wait_timeout(pg_cluster, chinook, tmp_path):
    """An ALTER TABLE left open (ACCESS EXCLUSIVE on track): the backup gives up after
    --lock-wait-timeout instead of waiting forever, says so, and leaves nothing."""
    started = time.monotonic()  # before the lock is even taken: the bound is if anything stricter
    with backup_waiting_on_a_lock(pg_cluster, chinook, tmp_path, "--lock-wait-timeout", "2") as (admin, proc, out_dir):
        stdout, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
        # Still holding the lock: nothing of the backup waits behind it any more.
        wait_for(lambda: not backup_sessions(admin), 5, "the backup's sessions to end")
    assert_no_secrets([chinook.password], stdout, stderr)
    assert proc.returncode == 1, stdout + stderr
    assert "gave up waiting for a table lock after --lock-wait-timeout 2 s" in stderr, stderr
    assert "track" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert elapsed < 2 + 3, f"took {elapsed:.1f} s with --lock-wait-timeout 2"
    assert dir_entries(out_dir) == []


def test_round_trip_source_check_does_not_wait_behind_a_lock(pg_cluster, chinook, scratch, tmp_path):
    """The round trip first reads which database the source is (so it never restores into it).
    That read takes no table lock: with an ALTER TABLE left open on the source it still counts
    every table, and the backup then gives up after --lock-wait-timeout like any other, instead
    of blocking forever before pg_dump even starts."""
    target = scratch().endpoint
    outcome: dict = {}

    def round_trip() -> None:
        try:
            outcome["relations"] = backup.server_identity(chinook, timeout=2)["relations"]
            backup.backup(chinook, tmp_path / "trip.sql", restore_into=target, lock_wait_timeout=2)
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=round_trip, daemon=True)
    with table_locked(pg_cluster, chinook):
        started = time.monotonic()
        worker.start()
        worker.join(30)
        elapsed = time.monotonic() - started
    worker.join(60)  # the lock is gone: a run that waited on it ends now
    assert elapsed < 2 + 5, f"the round trip waited {elapsed:.1f} s behind the lock with --lock-wait-timeout 2"
    assert outcome.get("relations") == 11, "expected the 11 tables of Chinook, counted despite the lock"
    error = outcome.get("error")
    assert isinstance(error, backup.BackupError), f"expected a BackupError, got {type(error).__name__}"
    assert_no_secrets([chinook.password], str(error))
    assert "gave up waiting for a table lock after --lock-wait-timeout 2 s" in str(error), str(error)
    assert dir_entries(tmp_path) == []


def test_identity_read_gives_up_after_its_timeout_on_a_locked_catalog(pg_cluster, chinook):
    """Even a catalog read is bounded: a session holding pg_depend exclusively makes the
    identity read give up after ``timeout`` with a message, not wait on it."""
    started = time.monotonic()
    with table_locked(pg_cluster, chinook, "pg_catalog.pg_depend"):
        with pytest.raises(backup.BackupError) as failure:
            backup.server_identity(chinook, timeout=1)
        elapsed = time.monotonic() - started
    message = str(failure.value)
    assert_no_secrets([chinook.password], message)
    assert "canceling statement due to lock timeout: gave up after 1 s" in message, message
    assert f"cannot tell which database {chinook.label} is: " in message, message
    assert elapsed < 1 + 5, f"took {elapsed:.1f} s with a 1 s timeout"


def test_manifest_session_waits_no_longer_than_the_lock_wait_timeout(chinook, tmp_path):
    """The manifest's own sessions carry lock_timeout too (pg_dump's flag does not reach them)."""
    from flash_green_ops.backup.manifest import configure_session

    with chinook.connect("flashgreen-test") as conn:
        configure_session(conn, lock_timeout_ms=2000)
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "2s"
        configure_session(conn)  # the workers' second call leaves it alone
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "2s"


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_backup_interrupted_kills_pg_dump_and_leaves_nothing(sig, pg_cluster, chinook, tmp_path):
    """SIGTERM (Kubernetes, systemd, timeout) or Ctrl-C sent to the script alone while pg_dump
    waits on a lock (so the signal lands mid-backup every time): exit 128 + the signal, one
    line, pg_dump stopped and reaped, its backend gone at once (cancelled, not left waiting on
    the lock), nothing at PATH, no partial file."""
    with backup_waiting_on_a_lock(pg_cluster, chinook, tmp_path) as (admin, proc, out_dir):
        wait_for(lambda: pg_dump_backend(admin), 30, "pg_dump to wait on the lock")
        pg_dumps = [p for p in child_pids(proc.pid) if Path(f"/proc/{p}/comm").read_text().strip() == "pg_dump"]
        assert pg_dumps, "no pg_dump child found: the test would prove nothing"
        assert any(f.name.startswith(".flash-green-backup.sql.partial-") for f in out_dir.iterdir())
        started = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - started
        assert not any(process_alive(p) for p in pg_dumps), "pg_dump outlived the interrupted backup"
        # pg_dump stopped on its own SIGINT (cancelling its query), not by SIGKILL after the grace.
        assert took < backup.clients.STOP_GRACE, f"took {took:.1f} s to stop"
        # Still under the lock: a backend waiting on it now would wait for as long as it is held.
        wait_for(lambda: not backup_sessions(admin), 10, "the backup's sessions to end")
    assert_no_secrets([chinook.password], stdout, stderr)
    assert proc.returncode == 128 + sig, stdout + stderr
    assert stderr == f"backup.py: interrupted by {sig.name}: stopped, its child processes, sessions and " \
                     f"partial files are gone\n", stderr
    assert dir_entries(out_dir) == []


# Started as root, the child drops to uid 65534 before running the script: the interpreter and
# its libraries live under /root, which that user may not even traverse, so what the script
# imports is imported first, and the command is called as scripts/backup.py calls it (the
# checkout itself may not be readable by that user either: CI clones into a private directory).
_AS_NOBODY = """
import os, sys
import flash_green_ops.backup, flash_green_ops.commands.backup, flash_green_ops.preflight
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
sys.argv = sys.argv[1:]
flash_green_ops.commands.backup.console()
"""


def run_backup_as_nobody(env_file: Path, output: Path) -> tuple[int, str]:
    """scripts/backup.py, as an unprivileged user (uid 65534) when run as root: root writes
    anywhere, so only a real EACCES proves the check (not root: as this user, into a directory
    it made read-only). The env comes through the process environment (nobody cannot read the
    root-only test directory). Returns (exit code, stdout + stderr)."""
    from dotenv import dotenv_values

    env = {**os.environ, **{k: v for k, v in dotenv_values(env_file).items() if v is not None}}
    args = [sys.executable, str(REPO / "scripts" / "backup.py"), "--output", str(output)]
    if os.geteuid() == 0:
        args[1:1] = ["-c", _AS_NOBODY]
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, result.stdout + result.stderr


def test_backup_into_a_directory_it_cannot_write_is_a_bad_invocation(chinook, tmp_path):
    env_file = env_for(chinook, tmp_path)
    # Outside pytest's root-only base directory, so the unprivileged child can reach it.
    out_dir = Path(tempfile.mkdtemp(prefix="flashgreen-readonly-"))
    try:
        out_dir.chmod(0o555 if os.geteuid() else 0o755)  # root-owned: not writable by uid 65534
        rc, output = run_backup_as_nobody(env_file, out_dir / "flash-green-backup.sql")
        assert rc == 2, output
        assert f"cannot create files in {out_dir}: Permission denied" in output, output
        assert len(output.strip().splitlines()) == 1 and "Traceback" not in output, output
        assert dir_entries(out_dir) == []
        assert_no_secrets([chinook.password], output)
    finally:
        out_dir.chmod(0o700)
        shutil.rmtree(out_dir)


def test_backup_whose_file_cannot_be_written_fails_with_one_line(chinook, tmp_path):
    """A write that fails mid-dump (the file size limit: EFBIG, as a full disk gives ENOSPC):
    exit 1, one line naming the error, nothing left at PATH, pg_dump not left running."""
    import resource

    out_dir = tmp_path / "backups"
    out_dir.mkdir()

    def small_files() -> None:  # in the child only; pipes are not limited, so pg_dump runs on
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run([sys.executable, str(REPO / "scripts" / "backup.py"), "--env-file",
                             str(env_for(chinook, tmp_path)), "--output", str(out_dir / "flash-green-backup.sql")],
                            capture_output=True, text=True, timeout=60, cwd=REPO, preexec_fn=small_files,
                            check=False)
    assert_no_secrets([chinook.password], result.stdout, result.stderr)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "backup failed: writing the backup failed: [Errno 27] File too large" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert dir_entries(out_dir) == []
    wait_for(lambda: not backup_sessions(chinook), 5, "the backup's sessions to end")  # the owner sees its own


def test_inherited_pgpassword_reaches_the_client_programs(monkeypatch):
    """A PgEndpoint without a password of its own (libpq, hence psycopg, uses PGPASSWORD then)
    passes the inherited PGPASSWORD on; one with a password passes its own."""
    monkeypatch.setenv("PGPASSWORD", "inherited-pw-123456")
    bare = backup.PgEndpoint.from_conninfo("postgresql://u@127.0.0.1:5432/db")
    same = bare.child_env()["PGPASSWORD"] == "inherited-pw-123456"
    assert same, "the inherited PGPASSWORD did not reach the client programs' environment"
    own = backup.PgEndpoint.from_conninfo("postgresql://u:own-pw-1234567@127.0.0.1:5432/db")
    same = own.child_env()["PGPASSWORD"] == "own-pw-1234567"
    assert same, "the endpoint's own password did not replace the inherited PGPASSWORD"
    assert_no_secrets(["own-pw-1234567", "inherited-pw-123456"], own.conninfo())
