"""A service fixture started by a run that is then SIGKILLed must not outlive it: one check for
every such fixture (OpenBao, ganache), which differ only in their class."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO, port_is_free, wait_for
from tests.pg_fixtures import process_alive

# argv: "module:Class" of a fixture taking (PortReservation, directory), and that directory.
KILLED_RUN = textwrap.dedent("""\
    import importlib, pathlib, sys, time
    from fixtures.ports import PortReservation
    module, name = sys.argv[1].split(":")
    directory = pathlib.Path(sys.argv[2])
    service = getattr(importlib.import_module(module), name)(PortReservation(), directory)
    service.start()
    (directory / "pid").write_text(f"{service._process.process.pid} {service.port}")
    time.sleep(600)
""")


def assert_a_killed_run_takes_it_along(service_class: str, directory: Path, what: str, start_timeout: float):
    """Start ``service_class`` ("module:Class") in a child run, SIGKILL the run (no cleanup of
    ours runs), and require the service's process to end and its port to be free."""
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, service_class, str(directory)], cwd=REPO,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL)
    pid = None
    try:
        text = wait_for(lambda: (directory / "pid").exists() and (directory / "pid").read_text(), start_timeout,
                        f"the run to start its {what}")
        pid, port = map(int, text.split())
        assert process_alive(pid)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        wait_for(lambda: not process_alive(pid), 10, f"{what} (pid {pid}) to end after its run was killed")
        wait_for(lambda: port_is_free(port), 10, "its port to be free")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if pid is not None and process_alive(pid):  # the test failed: no service outlives it
            os.kill(pid, signal.SIGKILL)
