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
from tests.pg_fixtures import process_alive


def test_stop_ends_the_server_frees_its_port_and_removes_its_files(tmp_path):
    server = BaoServer(PortReservation(), tmp_path)
    try:
        server.start()
        pid = server._process.process.pid
        client = server.client()
        assert client.sys.read_health_status(method="GET")["initialized"] is True
        client.adapter.close()
    finally:
        server.stop()
    assert not process_alive(pid) and port_is_free(server.port)
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
    pid = None
    try:
        text = wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), 30,
                        "the run to start its server")
        pid, port = map(int, text.split())
        assert process_alive(pid)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        wait_for(lambda: not process_alive(pid), 10, f"OpenBao (pid {pid}) to end after its run was killed")
        wait_for(lambda: port_is_free(port), 10, "its port to be free")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if pid is not None and process_alive(pid):  # the test failed: no server outlives it
            os.kill(pid, signal.SIGKILL)
