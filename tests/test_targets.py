"""The local target's own bookkeeping: its work directory goes, even after a killed run."""
import os
import signal
import subprocess
import sys
import threading

from fixtures.targets import make_workdir, reap_stale_workdirs
from tests.conftest import REPO, run_ops_tests, wait_for


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_reaper_removes_only_directories_of_dead_owners(tmp_path):
    dead = tmp_path / f"flashgreen-local-{dead_pid()}-abc123"
    alive = tmp_path / f"flashgreen-container-{os.getpid()}-def456"
    unrelated = tmp_path / "flashgreen-pg-1-xyz"
    for path in (dead, alive, unrelated):
        path.mkdir()
        (path / "target.env").write_text("A=1\n")
    assert reap_stale_workdirs(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and unrelated.exists()


def test_reaper_leaves_directories_another_user_made_or_could_change(tmp_path):
    # Dead owners all: only the directory's own user (its uid, not writable by others) decides.
    open_to_all = tmp_path / f"flashgreen-local-{dead_pid()}-open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    kept = [open_to_all]
    if os.geteuid() == 0:  # as root, another user's run: not ours to remove
        foreign = tmp_path / f"flashgreen-local-{dead_pid()}-foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        kept.append(foreign)
    link = tmp_path / f"flashgreen-local-{dead_pid()}-link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    assert reap_stale_workdirs(tmp_path) == []
    assert all(path.exists() for path in kept) and link.is_symlink() and (tmp_path / "elsewhere").exists()


def test_workdir_is_private_and_named_after_its_owner(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    workdir = make_workdir("local")
    assert workdir.parent == tmp_path and workdir.name.startswith(f"flashgreen-local-{os.getpid()}-")
    assert workdir.stat().st_mode & 0o777 == 0o700


def test_a_killed_runs_workdir_is_removed_by_the_next_run(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    # A session that is SIGKILLed while its local target exists: no cleanup can run.
    (pytester.path / "test_hang.py").write_text(
        "import time\n"
        "def test_hang(ops_target):\n"
        "    print('TARGET', ops_target.env_file, flush=True)\n"
        "    time.sleep(60)\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "-c", str(REPO / "pytest.ini"),
         "--rootdir", str(REPO), "-p", "fixtures.plugin", str(pytester.path / "test_hang.py")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=pytester.path,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    seen: list[str] = []

    def read() -> None:  # in a thread: a child that prints nothing must not block the test
        for line in process.stdout:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        wait_for(lambda: process.poll() is not None or any("TARGET" in line for line in seen), 60,
                 "the session to reach its test (or exit)")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        reader.join(timeout=10)  # the pipe ends with the process
        process.stdout.close()
    assert any("TARGET" in line for line in seen), "the session never reached its test:\n" + "".join(seen)
    left = list(tmp_path.glob("flashgreen-local-*"))
    assert len(left) == 1, "the killed run should have left its work directory"

    result = run_ops_tests(pytester, "-m", "env")
    result.assert_outcomes(passed=18, skipped=2)  # the env rules: all but the two production-only ones
    assert not list(tmp_path.glob("flashgreen-local-*")), "the next run removes it, and its own"
