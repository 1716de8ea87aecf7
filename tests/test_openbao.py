"""The local target's OpenBao server leaves nothing behind: not on stop, not when its run is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from fixtures.openbao import BaoServer
from fixtures.ports import PortReservation
from tests.conftest import REPO, port_is_free, wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, killed, has not been reaped yet by init).
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_ends_the_server_frees_its_port_and_removes_its_files(tmp_path):
    server = BaoServer(PortReservation(), tmp_path)
    try:
        server.start()
        pid = server._process.process.pid
        assert server.client().sys.read_health_status(method="GET")["initialized"] is True
    finally:
        server.stop()
    assert not alive(pid) and port_is_free(server.port)
    assert not server.directory.exists()


KILLED_RUN = textwrap.dedent("""\
    import pathlib, sys, time
    from fixtures.openbao import BaoServer
    from fixtures.ports import PortReservation
    server = BaoServer(PortReservation(), pathlib.Path(sys.argv[1]))
    server.start()
    (pathlib.Path(sys.argv[1]) / "pid").write_text(f"{server._process.process.pid} {server.port}")
    time.sleep(600)
""")


def test_a_killed_run_takes_its_server_with_it(tmp_path):
    """SIGKILL runs no cleanup of ours: the server must still not outlive its run."""
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)], cwd=REPO,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL)
    try:
        text = wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), 30,
                        "the run to start its server")
        pid, port = map(int, text.split())
        assert alive(pid)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        wait_for(lambda: not alive(pid), 10, f"OpenBao (pid {pid}) to end after its run was killed")
        wait_for(lambda: port_is_free(port), 10, "its port to be free")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
