"""The local target's OpenBao server leaves nothing behind: not on stop, not when its run is killed."""
from __future__ import annotations

from fixtures.openbao import BaoServer
from fixtures.ports import PortReservation
from tests.conftest import port_is_free
from tests.killed_run import assert_a_killed_run_takes_it_along
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


def test_a_killed_run_takes_its_server_with_it(tmp_path):
    """SIGKILL runs no cleanup of ours: the server must still not outlive its run."""
    assert_a_killed_run_takes_it_along("fixtures.openbao:BaoServer", tmp_path, "OpenBao server", 30)
