"""The container target (--target container), run for real.

Without an engine: every item skips with one reason that names what was tried. With an engine
(CI starts one: ci/dockerd.sh): a missing image skips its service's items naming the image; a
real PostgreSQL container serves the runbook's db items; no container survives the session, a
failing test, Ctrl-C, or (via the next session's reaper) a killed run.

The engine tests skip when no engine answers, except in CI (env CI set), where they fail: a
skip is never a pass there. They use FLASHGREEN_POSTGRES_IMAGE (default
flashgreen/postgres:15-local, built by ci/build_postgres_image.sh).
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixtures import containers
from tests.conftest import (POSTGRES_IMAGE, REPO, assert_no_secrets, docker_engine, engine_network,
                            require_local_image, run_ops_tests)

MOTO_IMAGE = os.environ.get("FLASHGREEN_MOTO_IMAGE", "flashgreen/moto:5.0.14-local")
VAULT_IMAGE = os.environ.get("FLASHGREEN_VAULT_IMAGE", "flashgreen/openbao:2.7-local")


@pytest.fixture(scope="module")
def engine():
    with docker_engine() as client:
        yield client


@pytest.fixture(scope="module")
def network(engine) -> str:
    return engine_network(engine)


@pytest.fixture(scope="module")
def postgres_image(engine) -> str:
    return require_local_image(engine, POSTGRES_IMAGE, "ci/build_postgres_image.sh")


@pytest.fixture(scope="module")
def moto_image(engine) -> str:
    return require_local_image(engine, MOTO_IMAGE, "ci/build_moto_image.sh")


@pytest.fixture(scope="module")
def vault_image(engine) -> str:
    return require_local_image(engine, VAULT_IMAGE, "ci/build_openbao_image.sh")


def _our_containers(engine) -> set[str]:
    """Every container (running or not) that any container-target session created."""
    return {c.name for c in engine.containers.list(all=True, filters={"label": containers.LABEL_SESSION})}


def _skip_reasons(result) -> set[str]:
    """The distinct skip reasons of the -ra summary ("SKIPPED [N] path[:line]: reason")."""
    return {m.group(1) for line in result.outlines if (m := re.match(r"SKIPPED \[\d+\] \S+: (.*)$", line))}


@pytest.fixture
def dead_docker_host(monkeypatch) -> str:
    """DOCKER_HOST naming a unix socket nobody listens on (connect: Connection refused)."""
    directory = tempfile.mkdtemp(prefix="fg-dock-")  # short: unix socket paths are limited
    path = os.path.join(directory, "dead.sock")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)  # the file stays; no listen(), so connecting is refused
    url = f"unix://{path}"
    monkeypatch.setenv("DOCKER_HOST", url)
    yield url
    os.unlink(path)
    os.rmdir(directory)


# --------------------------------------------------------------------------------------------
# Without an engine


def test_default_images_are_pinned():
    for image in containers.DEFAULT_IMAGES.values():
        _, _, tag = image.rpartition(":")
        assert "/" not in tag and tag and tag != "latest", f"{image} is not pinned"


def test_options_resolve_once_into_settings():
    from types import SimpleNamespace

    settings = containers.ContainerSettings.from_options(SimpleNamespace(
        postgres_image="pg:1", vault_image=None, moto_image=None, docker_network="host",
        container_start_timeout=None))
    assert settings.images == {**containers.DEFAULT_IMAGES, "postgres": "pg:1"}
    assert (settings.network, settings.start_timeout) == ("host", 60.0)
    assert containers.ContainerSettings.from_options(SimpleNamespace(container_start_timeout=0.5)).start_timeout == 0.5
    assert containers.ContainerSettings.from_options(None).network == "bridge"
    with pytest.raises(ValueError, match="--docker-network overlay"):
        containers.ContainerSettings.from_options(SimpleNamespace(docker_network="overlay"))


def test_no_engine_skips_every_item_with_one_reason(pytester, dead_docker_host):
    started = time.monotonic()
    result = run_ops_tests(pytester, "--target", "container", "-m", "env or db", timeout=120)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) > 5 and not {"passed", "failed", "errors", "error"} & outcomes.keys(), outcomes
    (reason,) = _skip_reasons(result)  # one reason for every item
    assert reason.startswith("container target: ")
    assert f"no Docker engine answered: tried DOCKER_HOST={dead_docker_host}: Connection refused" in reason
    assert "ci/dockerd.sh start" in reason
    assert time.monotonic() - started < 60


def test_no_engine_with_a_required_service_stops_the_run(pytester, dead_docker_host):
    result = run_ops_tests(pytester, "--target", "container", "-m", "db", "--require-service", "postgres",
                           timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    stderr = result.stderr.str()
    assert f"--require-service postgres: no Docker engine answered: tried DOCKER_HOST={dead_docker_host}" in stderr
    assert "Traceback" not in stderr + result.stdout.str()


# --------------------------------------------------------------------------------------------
# With an engine


def test_missing_image_skips_that_services_items_naming_it(pytester, engine, network):
    before = _our_containers(engine)
    missing = "flashgreen/no-such-image:0"
    started = time.monotonic()
    result = run_ops_tests(pytester, "--target", "container", "--docker-network", network,
                           "--postgres-image", missing, "-m", "db", timeout=120)
    elapsed = time.monotonic() - started
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK and outcomes.get("skipped", 0) >= 5, outcomes
    assert "passed" not in outcomes and "failed" not in outcomes, outcomes
    (reason,) = _skip_reasons(result)
    assert f"image {missing} is not on the Docker engine and could not be pulled" in reason
    assert "--postgres-image IMAGE" in reason
    assert elapsed < 60, f"a pull that cannot succeed took {elapsed:.0f} s"
    assert _our_containers(engine) <= before


def test_missing_required_image_errors_naming_it(pytester, engine, network):
    missing = "flashgreen/no-such-image:0"
    result = run_ops_tests(pytester, "--target", "container", "--docker-network", network,
                           "--postgres-image", missing, "--require-service", "postgres", "-m", "db", timeout=120)
    outcomes = result.parseoutcomes()
    errors = outcomes.get("errors", outcomes.get("error", 0))
    assert result.ret == pytest.ExitCode.TESTS_FAILED and errors >= 5, outcomes
    assert "skipped" not in outcomes and "passed" not in outcomes, outcomes
    expected = f"postgres is required (--require-service postgres) but cannot run: image {missing}"
    assert expected in result.stdout.str()


def test_db_items_pass_against_a_real_container_which_is_removed_after(pytester, engine, network, postgres_image):
    before = _our_containers(engine)
    result = run_ops_tests(pytester, "--target", "container", "--docker-network", network,
                           "--postgres-image", postgres_image, "--require-service", "postgres", "-m", "db",
                           timeout=300)
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK and outcomes.get("passed", 0) >= 4, outcomes
    prefix = f"started postgres: {postgres_image} as flashgreen-"
    started = [line for line in result.outlines if line.startswith(prefix)]
    assert len(started) == 1, result.outlines[-15:]
    name = re.search(r" as (\S+) ", started[0]).group(1)
    assert f"removed postgres: {name}" in result.outlines
    assert _our_containers(engine) <= before


def test_aws_items_pass_against_a_moto_container(pytester, engine, network, moto_image):
    before = _our_containers(engine)
    result = run_ops_tests(pytester, "--target", "container", "--docker-network", network,
                           "--moto-image", moto_image, "--require-service", "aws", "-m", "secrets", timeout=300)
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK and outcomes.get("passed", 0) >= 3, outcomes
    assert any(line.startswith(f"started aws: {moto_image} as flashgreen-") for line in result.outlines)
    vault = containers.DEFAULT_IMAGES["vault"]
    if not engine.images.list(name=vault):  # Vault's items skip, naming the image
        assert any(f"image {vault} is not on the Docker engine" in reason for reason in _skip_reasons(result))
    assert _our_containers(engine) <= before


def test_vault_items_pass_against_an_openbao_container(pytester, engine, network, vault_image):
    """OpenBao in dev mode, seeded through its API like the local server: a deploy token, the
    bundle in KV v2 and v1. Every Vault check runs; none skips."""
    before = _our_containers(engine)
    result = run_ops_tests(pytester, "--target", "container", "--docker-network", network, "--vault-image",
                           vault_image, "--require-service", "vault", "-m", "secrets", "-k", "vault-", "-rA",
                           timeout=300)
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK, result.outlines[-20:]
    for check in ("secrets.backend", "secrets.vault_health", "secrets.vault_token", "secrets.vault_mount",
                  "secrets.bundle"):
        assert any(line.startswith("PASSED") and line.endswith(f"test_secrets.py::test_secrets[vault-{check}]")
                   for line in result.outlines), check
    assert outcomes.get("skipped", 0) == 1, outcomes  # secrets.aws_secret: not a check of Vault
    assert any(line.startswith(f"started vault: {vault_image} as flashgreen-") for line in result.outlines)
    assert _our_containers(engine) <= before


# A test run under pytester: it starts the target's PostgreSQL, writes the names of the
# containers of its session (as the engine lists them) to FG_REPORT, then passes, fails or hangs.
PROBE_TEST = """
import json, os, time
import docker
from fixtures.containers import LABEL_SESSION
from flash_green_ops import redact

def test_uses_postgres(ensure_service, ops_target):
    ensure_service("postgres")
    client = docker.from_env()
    running = client.containers.list(filters={"label": f"{LABEL_SESSION}={ops_target.runtime.session}"})
    with open(os.environ["FG_REPORT"], "w") as f:
        json.dump([c.name for c in running], f)
    service = ops_target.services["postgres"]
    with open(os.environ["FG_REPORT"] + ".secrets", "w") as f:  # for the parent's leak check
        database_password = redact.url_password(service.env["DATABASE_URL"])
        json.dump([database_password, service.server.password, ops_target.base_env["API_KEY"]], f)
    if os.environ["FG_MODE"] == "fail":
        assert False, "this test fails on purpose"
    time.sleep(120)  # "hang": until the parent sends SIGINT
"""


def _probe_args(pytester, network: str, image: str) -> list[str]:
    pytester.makeconftest((REPO / "conftest.py").read_text())
    path = pytester.makepyfile(test_probe=PROBE_TEST)
    return [str(path), "-c", str(REPO / "pytest.ini"), "--rootdir", str(pytester.path), "-p", "no:cacheprovider",
            "--target", "container", "--docker-network", network, "--postgres-image", image]


def test_failing_test_leaves_no_container(pytester, monkeypatch, engine, network, postgres_image):
    report = pytester.path / "names.json"
    monkeypatch.setenv("FG_REPORT", str(report))
    monkeypatch.setenv("FG_MODE", "fail")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the probe's rootdir is elsewhere: fixtures/ from the repo
    result = pytester.runpytest_subprocess(*_probe_args(pytester, network, postgres_image), timeout=300)
    result.assert_outcomes(failed=1)
    names = json.loads(report.read_text())
    assert len(names) == 1, names  # the container really ran during the test
    assert not _our_containers(engine) & set(names)
    secrets = json.loads(Path(f"{report}.secrets").read_text())
    assert_no_secrets(secrets, result.stdout.str(), result.stderr.str())


# SIGINT back at its default disposition, then exec pytest (same pid): Python then turns SIGINT
# into KeyboardInterrupt even when this run was started with SIGINT ignored (a background job
# inherits that, and Python would keep ignoring it).
SIGINT_DEFAULT_THEN_PYTEST = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'pytest', *sys.argv[1:]])"
)


def test_ctrl_c_leaves_no_container(pytester, engine, network, postgres_image):
    report = pytester.path / "names.json"
    env = dict(os.environ, FG_REPORT=str(report), FG_MODE="hang", PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-c", SIGINT_DEFAULT_THEN_PYTEST, *_probe_args(pytester, network, postgres_image)],
        cwd=pytester.path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 120
        while not report.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert report.exists(), f"the test never started its container: {process.poll()=}"
        names = json.loads(report.read_text())
        assert len(names) == 1 and names[0] in _our_containers(engine)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output[-2000:]
    assert "KeyboardInterrupt" in output
    assert not _our_containers(engine) & set(names)


def test_containers_of_a_dead_session_are_reaped(engine, postgres_image):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()

    made = []

    def create(owner: str):  # created, never started: the reaper must not care
        labels = {containers.LABEL_SESSION: "reaper-test", containers.LABEL_OWNER: owner}
        made.append(engine.containers.create(postgres_image, labels=labels))
        return made[-1]

    try:
        orphan = create(f"{host}:{dead.pid}:1")
        alive = create(containers.owner_label())
        elsewhere = create(f"other-host:{dead.pid}:1")
        removed = containers.reap_stale_containers(engine)
        assert orphan.name in removed
        assert alive.name not in removed and elsewhere.name not in removed  # a live owner; another machine's
        assert orphan.name not in _our_containers(engine)
    finally:
        import docker

        for container in made:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


# --------------------------------------------------------------------------------------------
# Without an engine: removals, owner labels


class _FakeContainer:
    def __init__(self, name: str, owner: str = ""):
        self.id = self.name = name
        self.labels = {containers.LABEL_OWNER: owner}


class _FakeEngine:
    """Just what the removals use: list, remove_container (each container's fate by its name), close."""

    def __init__(self, found):
        import docker
        import requests

        def api_error(status: int, explanation: str):
            response = requests.Response()
            response.status_code = status
            return docker.errors.APIError(explanation, response=response, explanation=explanation)

        self.fates = {"gone": docker.errors.NotFound("no such container"),
                      "racing": api_error(409, "removal of container racing is already in progress"),
                      "stuck": api_error(500, "device or resource busy"),
                      "silent": requests.ReadTimeout("read timed out")}
        self.found, self.removed = found, []
        self.containers = self
        self.api = self

    def list(self, **filters):
        return self.found

    def remove_container(self, container_id: str, force: bool, v: bool):
        if container_id in self.fates:
            raise self.fates[container_id]
        self.removed.append(container_id)

    def close(self):
        pass


def test_removals_go_on_past_a_container_that_cannot_be_removed(monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{socket.gethostname()}:{dead.pid}:1"
    names = ["gone", "racing", "stuck", "a", "silent", "b"]
    engine = _FakeEngine([_FakeContainer(name, owner) for name in names])
    monkeypatch.setattr(containers, "engine_client", lambda timeout: engine)
    monkeypatch.setattr(containers, "EVENTS", [])

    # The reaper: another session's leftovers; what it cannot remove is one line of the summary.
    assert containers.reap_stale_containers(engine) == ["a", "b"]
    assert containers.EVENTS == ["could not remove stale containers: stuck: device or resource busy; "
                                 "silent: read timed out"]

    # This session's own: every one is tried, then one line names those left.
    runtime = containers.ContainerRuntime(containers.ContainerSettings())
    runtime._client, engine.removed = engine, []
    with pytest.raises(RuntimeError, match=rf"^could not remove containers of session {runtime.session}: "
                                           r"stuck: device or resource busy; silent: read timed out$"):
        runtime.remove_all()
    assert engine.removed == ["a", "b"]


def test_owner_labels_are_judged_by_host_pid_and_start_time():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    mine = containers.owner_label()
    started = int(mine.rsplit(":", 1)[1])
    assert mine == f"{host}:{os.getpid()}:{started}"
    assert not containers._owner_dead(mine)
    assert not containers._owner_dead(f"{host}:{os.getpid()}:?")  # start unknown: the pid decides
    assert containers._owner_dead(f"{host}:{os.getpid()}:{started - 1}")  # a reused pid
    assert containers._owner_dead(f"{host}:{dead.pid}:1")
    assert not containers._owner_dead(f"other-host:{dead.pid}:1")  # not ours to judge
    assert not containers._owner_dead("") and not containers._owner_dead(f"{host}:x:1")
