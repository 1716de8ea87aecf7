"""Shared helpers for the project's own tests: run the CLIs and the runbook suite for real."""
from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The image ci/build_postgres_image.sh builds (no registry here), overridable as in ci/container_ci.sh.
POSTGRES_IMAGE = os.environ.get("FLASHGREEN_POSTGRES_IMAGE", "flashgreen/postgres:15-local")
SCRIPTS = REPO / "scripts"

pytest_plugins = ["pytester", "tests.pg_fixtures", "tests.backup_fixtures", "tests.flashgreen_fixtures",
                   "tests.pushgateway_fixtures"]


def pytest_report_header(config):
    from tests import fuzzing

    return (f"fuzz: seed {fuzzing.SEED}, {fuzzing.EXAMPLES} examples per property, "
            f"{fuzzing.DEADLINE.total_seconds():g} s per example (rerun with FUZZ_SEED={fuzzing.SEED})")


def run_script(name: str, *args: str, timeout: float = 120, env: dict | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run scripts/<name> as an operator would; output captured as text."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env=env if env is not None else os.environ.copy(), cwd=cwd or REPO,
    )


def run_ops_tests(pytester: pytest.Pytester, *args: str, timeout: float = 600, ci: bool = False) -> pytest.RunResult:
    """Run the runbook suite (ops_tests/) in a subprocess, with the repo's pytest.ini.

    A subprocess, so each run has its own plugin state and secret registry, like an operator's;
    an operator's, not CI's (the CI variable removed: there a skipped backup item fails) unless
    ``ci``.
    """
    with pytest.MonkeyPatch.context() as env:
        if ci:
            env.setenv("CI", "true")
        else:
            env.delenv("CI", raising=False)
        return pytester.runpytest_subprocess(
            str(REPO / "ops_tests"), "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
            "-p", "no:cacheprovider", *args, timeout=timeout,
        )


def assert_no_secrets(secrets: list[str], *outputs: str | Path) -> None:
    """No secret value appears in any output text or file (JUnit XML, JSON, logs)."""
    __tracebackhide__ = True
    for output in outputs:
        text = output.read_text(errors="replace") if isinstance(output, Path) else output
        leaked = [i for i, s in enumerate(secrets) if s in text]
        # Say which secret (by index) leaked where, never the value itself.
        assert not leaked, f"secret #{leaked} appears in {output if isinstance(output, Path) else 'output'}"


class SilentListener:
    """A loopback port that accepts TCP connections (in the kernel's backlog) and never answers.

    For tests that close it early (to leave a refused port behind); ``silent_listener`` is the
    same as a context manager yielding the port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.bind((host, port))
            self._socket.listen(16)
        except OSError:
            self._socket.close()
            raise
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._accepted: list[socket.socket] = []

    @property
    def accepted(self) -> list[socket.socket]:
        """The connections that reached this port so far: taken from the backlog without
        blocking (never read from, held open until ``close``)."""
        if self._socket.fileno() != -1:
            self._socket.setblocking(False)
            while True:
                try:
                    self._accepted.append(self._socket.accept()[0])
                except BlockingIOError:
                    break
        return self._accepted

    def close(self) -> None:
        """Close the held connections and the port: connecting to it is refused afterwards."""
        for connection in self._accepted:
            connection.close()
        self._socket.close()


@contextmanager
def silent_listener(host: str = "127.0.0.1", port: int = 0):
    """A loopback port that accepts TCP connections (in the kernel's backlog) and never answers."""
    listener = SilentListener(host, port)
    try:
        yield listener.port
    finally:
        listener.close()


class HandAnswer:
    """One loopback connection answered by hand, in a thread, for answers no HTTP server sends:
    the request is read, ``head`` sent, then ``chunk`` up to ``times`` times ``pause`` s apart,
    until the client hangs up. ``port`` while open; ``done`` once closed: whether the thread
    ended within ``wait`` s of the block's end (the client let the connection go)."""

    def __init__(self, head: bytes, chunk: bytes = b"", times: int = 0, pause: float = 0.0, wait: float = 5.0):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._wait = wait
        self._thread = threading.Thread(target=self._answer, args=(head, chunk, times, pause), daemon=True)
        self.done = False

    def _answer(self, head: bytes, chunk: bytes, times: int, pause: float) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:  # closed before a client came
            return
        with connection:
            connection.recv(4096)
            connection.sendall(head)
            for _ in range(times):
                try:
                    connection.sendall(chunk)
                except OSError:  # the client hung up
                    return
                time.sleep(pause)

    def __enter__(self) -> HandAnswer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._thread.join(self._wait)
        self.done = not self._thread.is_alive()
        self._listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on ``port``: a connect is refused (a loopback refusal is immediate; the
    timeout only bounds a connect that hangs, which is not "free")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == errno.ECONNREFUSED


def wait_for(condition, timeout: float, what: str, interval: float = 0.02):
    """``condition()``'s first truthy value within ``timeout`` seconds, else fail naming ``what``."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def skip_unless_ci(reason: str) -> None:
    """Skip: what this test needs is missing here. In CI (the CI variable is set) everything
    is installed on purpose, so the same absence is a failure: a skip there would hide it. CI
    means what it means to the runbook plugin (fixtures.plugin.in_ci: CI=false is not CI)."""
    from fixtures.plugin import in_ci

    __tracebackhide__ = True
    if in_ci():
        pytest.fail(f"CI is set, so this must run: {reason}", pytrace=False)
    pytest.skip(reason)


def require_local_image(client, image: str, script: str) -> str:
    """``image`` if the engine has it; skipped otherwise (failed in CI), naming the script that builds it."""
    import docker

    __tracebackhide__ = True
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        skip_unless_ci(f"image {image} is not on the engine: build it with {script}")
    return image


def engine_network(client) -> str:
    # An engine without a bridge network (CI's dockerd --bridge=none) can only do host.
    return "bridge" if client.networks.list(names=["bridge"]) else "host"


@contextmanager
def docker_engine():
    """A docker client to the engine, closed on exit; without an engine, skipped outside CI."""
    from fixtures import containers

    problem = containers.docker_engine_problem()
    if problem:
        skip_unless_ci(f"needs a Docker engine: {problem}")
    client = containers.engine_client()
    try:
        yield client
    finally:
        client.close()
