"""SIGTERM (Kubernetes, systemd, timeout(1)) and Ctrl-C sent to each script at its slowest point:
one line, exit 128 + the signal number, nothing left behind. The preflight's case is here; the
backup's (pg_dump blocked on a lock) is in test_backup_failures.py, verify_restore's (a read
blocked on a lock) in test_backup_verify.py, both with these helpers."""
from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO, assert_no_secrets, wait_for

SIGNALS = [signal.SIGTERM, signal.SIGINT]


def start_script(name: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "scripts" / name), *map(str, args)], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stopped(proc: subprocess.Popen, sig: int, timeout: float = 30) -> tuple[str, str, float]:
    """Send ``sig`` to ``proc`` alone (as Kubernetes does); its output and how long it took to exit."""
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return stdout, stderr, time.monotonic() - started


@contextlib.contextmanager
def black_hole():
    """A loopback port that accepts connections and never answers (a firewall dropping replies,
    a hung proxy). Yields (port, the accepted sockets); each one's peer_closed() tells whether
    the client hung up."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept():
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): the thread ends
        listener.close()
        thread.join(5)
        for conn in accepted:
            conn.close()


def peer_closed(conn: socket.socket) -> bool:
    conn.settimeout(5)
    try:
        while conn.recv(4096):  # the client's SSLRequest/startup packet, then EOF when it hangs up
            pass
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize("sig", SIGNALS)
def test_preflight_waiting_on_a_black_hole_stops_at_once(sig, db_env_file, tmp_path):
    with black_hole() as (port, accepted):
        env_file = db_env_file(f"postgresql://app:db-pw-s3cret@127.0.0.1:{port}/app")
        proc = start_script("preflight_check.py", "--env-file", env_file, "--db-connect-timeout", "120")
        try:
            wait_for(lambda: accepted, 30, "the preflight to connect to the black hole")
            time.sleep(0.2)  # inside libpq's wait for the server's answer
        finally:  # a failed wait too: the preflight must not outlive the test
            stdout, stderr, took = stopped(proc, sig)
        assert peer_closed(accepted[0]), "the preflight's connection outlived it"
    assert_no_secrets(["db-pw-s3cret"], stdout, stderr)
    assert proc.returncode == 128 + sig, stdout + stderr
    assert stderr == f"preflight_check.py: interrupted by {sig.name}: stopped, its child processes, sessions " \
                     f"and partial files are gone\n", stderr
    assert took < 10, f"took {took:.1f} s to stop"
