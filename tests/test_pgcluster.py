"""fixtures/pgcluster.py: the throwaway cluster is created, used and removed on every exit path.

Proved with real servers and real processes: a normal stop, an exception, a failing start, a
run killed with SIGKILL (the next start reaps it), and pytest runs of ``ops_tests -m db`` that
pass, fail, or are interrupted with SIGTERM / Ctrl-C.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from flash_green_ops.owners import Owner, process_start_time
from fixtures.pgcluster import (DIR_PREFIX, OWNER_FILE, BinariesNotFound, ClusterError, LocalCluster,
                                find_bin_dir, reap_stale_clusters)
from fixtures.services import ServiceUnavailable, postgres, random_secret
from tests.conftest import REPO, assert_no_secrets, run_ops_tests, skip_unless_ci
from tests.pg_fixtures import process_alive, processes_mentioning


@pytest.fixture
def bin_dir(pytestconfig):
    try:
        return find_bin_dir(pytestconfig.getoption("pg_bin_dir", None))
    except BinariesNotFound as exc:
        skip_unless_ci(str(exc))


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if process_alive(p)]
        time.sleep(0.05)
    return alive


# --------------------------------------------------------------------------------------------
# The class on its own


def test_start_gives_a_working_password_protected_server_and_stop_removes_everything(bin_dir, cluster_base_dir):
    cluster = LocalCluster(bin_dir, base_dir=cluster_base_dir)
    try:
        cluster.start()
        directory = cluster.directory
        assert directory.parent == cluster_base_dir and directory.name.startswith(DIR_PREFIX)
        with cluster.connect() as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
            assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        # The server runs as an unprivileged user when we are root.
        if os.geteuid() == 0:
            pid = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
            assert os.stat(f"/proc/{pid}").st_uid != 0
        # The superuser password is on no command line (/proc/*/cmdline is world-readable).
        assert not processes_mentioning(cluster.password)
        # Password authentication is real: a wrong one is refused.
        import psycopg
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(cluster.dsn(password="not-the-password"), connect_timeout=5)
    finally:
        cluster.stop()
    assert not directory.exists()
    assert not listening(cluster.port)
    assert not wait_gone(processes_mentioning(str(directory)))
    cluster.stop()  # idempotent


def test_an_exception_inside_the_with_block_still_removes_the_cluster(bin_dir, cluster_base_dir):
    with pytest.raises(RuntimeError, match="boom"):
        with LocalCluster(bin_dir, base_dir=cluster_base_dir) as cluster:
            directory, port = cluster.directory, cluster.port
            raise RuntimeError("boom")
    assert not directory.exists() and not listening(port)


def test_a_failing_start_removes_the_half_made_cluster_and_says_why(bin_dir, cluster_base_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cluster = LocalCluster(bin_dir, base_dir=cluster_base_dir, port=port)
        with pytest.raises(ClusterError) as info:
            cluster.start()
    message = str(info.value)
    assert message.startswith(f"pg_ctl start (127.0.0.1 port {port}) failed")
    assert "Address already in use" in message  # the server log's reason is in the message
    assert_no_secrets([cluster.password], message)
    assert list(cluster_base_dir.iterdir()) == []


def test_binaries_are_looked_for_on_the_option_then_path_then_usr_lib(tmp_path, monkeypatch):
    with pytest.raises(BinariesNotFound, match=f"--pg-bin-dir {tmp_path}: no executable initdb, pg_ctl, postgres there"):
        find_bin_dir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinariesNotFound) as info:
        find_bin_dir(None, bin_glob=str(tmp_path / "pg" / "*" / "bin"))
    assert str(info.value) == (
        f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: looked for initdb on PATH and in "
        f"{tmp_path}/pg/*/bin; install PostgreSQL's server package or pass --pg-bin-dir DIR")


def test_the_newest_usr_lib_version_wins(tmp_path, monkeypatch):
    for version in ("9.6", "15", "16", "100-not-a-dir"):
        directory = tmp_path / version / "bin"
        directory.mkdir(parents=True)
        if version != "100-not-a-dir":
            for name in ("initdb", "pg_ctl", "postgres"):
                (directory / name).write_text("#!/bin/sh\n")
                (directory / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_bin_dir(None, bin_glob=str(tmp_path / "*" / "bin")) == tmp_path / "16" / "bin"


def test_without_binaries_the_local_service_is_unavailable_naming_where_it_looked(tmp_path):
    service = postgres.build("app-password-1234", SimpleNamespace(pg_bin_dir=str(tmp_path)))
    with pytest.raises(ServiceUnavailable, match=f"--pg-bin-dir {tmp_path}: no executable initdb"):
        service.start()
    service.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the root-only path: initdb refuses root")
def test_as_root_without_the_unprivileged_user_the_message_says_how_to_fix_it(bin_dir, cluster_base_dir):
    cluster = LocalCluster(bin_dir, base_dir=cluster_base_dir, run_as="no-such-user-fg")
    with pytest.raises(ClusterError, match=r"refuse to run as root and there is no 'no-such-user-fg' user .* "
                                           r"create one \(useradd --system no-such-user-fg\)"):
        cluster.start()
    assert list(cluster_base_dir.iterdir()) == []
    cluster.stop()


def test_local_postgres_serves_the_env_it_announced(pytestconfig):
    password = random_secret("app-password")
    service = postgres.build(password, pytestconfig.option)
    url = service.env["DATABASE_URL"]
    try:  # from here the service holds a port: stopped whatever fails
        announced = url.startswith(f"postgresql://flashgreen:{password}@127.0.0.1:{service.port}/flashgreen")
        assert announced, "DATABASE_URL does not name role flashgreen, its password, the port and database flashgreen"
        service.start()
        import psycopg
        with psycopg.connect(url, connect_timeout=5) as conn:
            # Flash Green's schema at the packaged head, with the seeded order flow.
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004",)]
            assert conn.execute("SELECT count(*) FROM orders").fetchone() == (5000,)
        directory = service.server.directory
    finally:
        service.stop()
    assert not directory.exists()


# --------------------------------------------------------------------------------------------
# A killed run's cluster is reaped by the next one


KILLED_RUN = textwrap.dedent("""\
    import os, signal, sys
    from fixtures.pgcluster import LocalCluster
    cluster = LocalCluster(base_dir=sys.argv[1]).start()
    print(cluster.directory, cluster.port, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
""")


def test_a_cluster_left_by_a_killed_run_is_reaped_by_the_next_start(bin_dir, cluster_base_dir):
    result = subprocess.run([sys.executable, "-c", KILLED_RUN, str(cluster_base_dir)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    left_dir, port = result.stdout.split()
    left_dir, port = Path(left_dir), int(port)
    assert left_dir.exists() and listening(port)  # really left behind
    server_pids = processes_mentioning(str(left_dir))
    assert server_pids

    with LocalCluster(bin_dir, base_dir=cluster_base_dir) as fresh:  # its start reaps the dead run's cluster
        assert not left_dir.exists()
        assert list(cluster_base_dir.iterdir()) == [fresh.directory]
    assert not listening(port)
    assert not wait_gone(server_pids)


def test_a_live_owners_cluster_is_not_reaped(bin_dir, cluster_base_dir):
    with LocalCluster(bin_dir, base_dir=cluster_base_dir) as mine:
        assert reap_stale_clusters(cluster_base_dir) == []
        assert mine.directory.exists()
        with mine.connect() as conn:
            conn.execute("SELECT 1")


def test_the_owner_file_is_ours_and_only_the_server_dirs_are_the_server_users(bin_dir, cluster_base_dir):
    with LocalCluster(bin_dir, base_dir=cluster_base_dir) as cluster:
        for path in (cluster.directory, cluster.directory / OWNER_FILE):
            st = path.lstat()
            assert st.st_uid == os.geteuid() and st.st_mode & 0o022 == 0, path
        assert bool(cluster.run_as) == (os.geteuid() == 0)
        if cluster.run_as:
            server_uid = pwd.getpwnam(cluster.run_as).pw_uid
            assert cluster.data_dir.stat().st_uid == server_uid == cluster.socket_dir.stat().st_uid


# --------------------------------------------------------------------------------------------
# The reaper trusts nothing another user could have written


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def bystander():
    """An unrelated live process: a stale postmaster.pid may name it (pid reuse after a reboot)."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def trap():
    """A bin directory whose pg_ctl (and initdb, postgres) would create ``marker`` if ever run,
    as any user (the postgres user too): so "no marker" means "never ran", not "could not run"."""
    root = Path(tempfile.mkdtemp(prefix="fg-trap-", dir="/tmp"))
    root.chmod(0o1777)
    marker = root / "marker"
    trap_bin = root / "bin"
    trap_bin.mkdir(mode=0o755)
    for name in ("initdb", "pg_ctl", "postgres"):
        (trap_bin / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (trap_bin / name).chmod(0o755)
    yield SimpleNamespace(bin_dir=trap_bin, marker=marker)
    shutil.rmtree(root, ignore_errors=True)


def _leftover(base_dir: Path, name: str, *, owner_pid: int, postmaster_pid: int, bin_dir: Path,
              dir_mode: int = 0o755, file_mode: int = 0o644, uid: int | None = None) -> Path:
    """A cluster directory as a dead run (or a forger) would leave it."""
    directory = base_dir / (DIR_PREFIX + name)
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "postmaster.pid").write_text(f"{postmaster_pid}\n{directory / 'data'}\n")
    owner = directory / OWNER_FILE
    # What the old reaper obeyed (bin_dir, run_as) is in the file: it must be ignored now.
    owner.write_text(json.dumps({"host": socket.gethostname(), "pid": owner_pid, "started": None,
                                 "bin_dir": str(bin_dir), "run_as": "root"}))
    owner.chmod(file_mode)
    directory.chmod(dir_mode)
    if uid is not None:
        os.chown(owner, uid, -1)
        os.chown(directory, uid, -1)
    return directory


def test_forged_cluster_directories_are_left_alone(cluster_base_dir, trap, bystander):
    dead = _dead_pid()
    common = {"owner_pid": dead, "postmaster_pid": bystander.pid, "bin_dir": trap.bin_dir}
    forged = [
        _leftover(cluster_base_dir, "world-writable-owner", file_mode=0o666, **common),
        _leftover(cluster_base_dir, "world-writable-dir", dir_mode=0o777, **common),
        _leftover(cluster_base_dir, "group-writable-owner", file_mode=0o664, **common),
    ]
    if os.geteuid() == 0:  # another user's directory (here: the server user's, as the old layout was)
        forged.append(_leftover(cluster_base_dir, "other-users", uid=pwd.getpwnam("postgres").pw_uid, **common))
    (cluster_base_dir / (DIR_PREFIX + "symlink")).symlink_to(forged[0])

    assert reap_stale_clusters(cluster_base_dir, trap.bin_dir) == []
    assert all(d.exists() for d in forged)
    assert not trap.marker.exists()  # no binary of theirs (nor ours) ran
    assert bystander.poll() is None  # the pid in their postmaster.pid was not signalled


def test_a_stale_postmaster_pid_naming_another_process_is_not_killed(cluster_base_dir, trap, bystander):
    ours = _leftover(cluster_base_dir, "dead-run", owner_pid=_dead_pid(), postmaster_pid=bystander.pid,
                     bin_dir=Path("/nonexistent"))
    # Our dead run's directory is removed, but the pid in it is not the data directory's server
    # (its cwd is elsewhere): neither pg_ctl (here the trap) nor SIGKILL is aimed at it.
    assert reap_stale_clusters(cluster_base_dir, trap.bin_dir) == [ours]
    assert not ours.exists()
    assert not trap.marker.exists()
    time.sleep(0.1)
    assert bystander.poll() is None


def test_owner_identity_tells_live_dead_reused_and_foreign_owners_apart():
    me = Owner.current()
    assert me.started == process_start_time(os.getpid()) is not None
    assert me.alive() and not me.gone()
    dead = Owner(me.host, _dead_pid(), None)
    assert dead.gone()
    reused = Owner(me.host, os.getpid(), me.started - 1)  # our pid, but a different process's start
    assert reused.gone()
    assert Owner(me.host, os.getpid(), None).alive()  # start unknown: the pid decides
    foreign = Owner("not-" + me.host, dead.pid, None)
    assert not foreign.alive() and not foreign.gone()  # another machine's: not ours to judge
    assert process_start_time(dead.pid) is None


# --------------------------------------------------------------------------------------------
# pytest runs of the runbook suite leave nothing behind


@pytest.fixture
def run_tmp(cluster_base_dir, monkeypatch):
    """The runbook suite's temp dirs (target workdir, cluster) go to cluster_base_dir via TMPDIR."""
    monkeypatch.setenv("TMPDIR", str(cluster_base_dir))
    return cluster_base_dir


def assert_nothing_left(base_dir: Path) -> None:
    __tracebackhide__ = True
    assert sorted(p.name for p in base_dir.iterdir()) == [], "the run left files behind"
    assert not wait_gone(processes_mentioning(str(base_dir))), "a server of the run is still running"


def test_a_passing_db_run_removes_the_cluster(pytester, run_tmp, bin_dir):
    result = run_ops_tests(pytester, "-m", "db")
    # db.alembic too: the target's database is at the packaged project's head.
    result.assert_outcomes(passed=6)
    assert_nothing_left(run_tmp)


def test_a_failing_db_run_removes_the_cluster_too(pytester, run_tmp, bin_dir):
    junit = pytester.path / "report.xml"
    result = run_ops_tests(pytester, "-m", "db", "--alembic-head", "27c6a30d7c24", f"--junitxml={junit}")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*db.alembic: * is at Alembic revision 0004, expected 27c6a30d7c24*"])
    assert_nothing_left(run_tmp)
    # The run's passwords were random; their fixed prefixes must not appear anywhere.
    assert_no_secrets(["local-db-password-", "pg-superuser-"], result.stdout.str(), result.stderr.str(), junit)


def test_without_binaries_the_db_items_skip_naming_where_they_looked(pytester, run_tmp):
    result = run_ops_tests(pytester, "-m", "db", "--pg-bin-dir", str(run_tmp / "nowhere"))
    result.assert_outcomes(skipped=6)
    result.stdout.fnmatch_lines([f"SKIPPED*postgres: --pg-bin-dir {run_tmp}/nowhere: no executable initdb, pg_ctl, postgres there"])
    assert_nothing_left(run_tmp)


HOLD_PLUGIN = textwrap.dedent("""\
    import os, time

    def pytest_runtest_call(item):
        if item.name == "test_db[db.tls]":  # the cluster is up: hold here until signalled
            open(os.environ["FG_HOLDING"], "w").close()
            time.sleep(120)
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_db_run_removes_the_cluster(pytester, run_tmp, bin_dir, signum):
    pytester.makepyfile(holdplugin=HOLD_PLUGIN)
    holding = pytester.path / "holding"
    env = {**os.environ, "FG_HOLDING": str(holding), "PYTHONPATH": f"{pytester.path}:{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(REPO / "ops_tests"), "-c", str(REPO / "pytest.ini"),
         "--rootdir", str(REPO), "-p", "no:cacheprovider", "-p", "holdplugin", "-m", "db"],
        cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not holding.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holding.exists(), "the run never reached its hold point"
        clusters = list(run_tmp.glob(DIR_PREFIX + "*"))
        assert len(clusters) == 1 and (clusters[0] / "data" / "postmaster.pid").exists()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode != 0
    assert "Interrupted" in output or "KeyboardInterrupt" in output, output[-2000:]
    assert_nothing_left(run_tmp)
