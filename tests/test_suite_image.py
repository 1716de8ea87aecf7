"""The suite's image as CI builds it offline (ci/build_suite_image.sh, the Dockerfile's
equivalent): its entrypoint, the preflight on the process environment, run against the container
target's PostgreSQL: exit 0 on a sound environment, 1 (and the failing check named) on a bad
password. Needs a Docker engine and the images (CI builds them): without, skipped outside CI."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from fixtures import containers
from fixtures.targets import ThrowawayTarget, make_workdir
from tests.conftest import POSTGRES_IMAGE, assert_no_secrets, docker_engine, engine_network, require_local_image

SUITE_IMAGE = os.environ.get("FLASHGREEN_SUITE_IMAGE", "flashgreen/ops:local")


@pytest.fixture(scope="module")
def engine():
    with docker_engine() as client:
        require_local_image(client, SUITE_IMAGE, "ci/build_suite_image.sh")
        require_local_image(client, POSTGRES_IMAGE, "ci/build_postgres_image.sh")
        yield client


@pytest.fixture(scope="module")
def postgres_env(engine):
    """The container target's PostgreSQL, started; the env values a preflight needs for it alone."""
    options = SimpleNamespace(postgres_image=POSTGRES_IMAGE, docker_network=engine_network(engine))
    workdir = make_workdir("container")
    target = None
    try:
        runtime = containers.ContainerRuntime(containers.ContainerSettings.from_options(options))
        target = ThrowawayTarget(workdir, options, runtime=runtime)
        target.ensure("postgres")
        yield {**target.base_env, **target.services["postgres"].env}
    finally:
        if target is not None:
            target.close()
        shutil.rmtree(workdir, ignore_errors=True)


def docker_run(args: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``docker run --rm ARGS`` under a name of its own, removed by force on every way out: a
    timeout kills the docker client, not the container."""
    name = f"flashgreen-suite-test-{secrets.token_hex(4)}"
    try:
        return subprocess.run(["docker", "run", "--rm", "--name", name, *args], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60)


def run_image(values: dict[str, str]) -> subprocess.CompletedProcess:
    # -e NAME takes the value from the docker client's environment: no secret on a command line.
    # The host's network: the container target's port is on the host's loopback either way.
    names = [arg for name in values for arg in ("-e", name)]
    return docker_run(["--network", "host", *names, SUITE_IMAGE], 180, env={**os.environ, **values})


def test_the_images_preflight_passes_against_the_container_targets_postgres(postgres_env):
    result = run_image(postgres_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS db.reachable" in result.stdout and "PASS db.pg_dump" in result.stdout
    password = urlsplit(postgres_env["DATABASE_URL"]).password
    assert_no_secrets([postgres_env["API_KEY"], password], result.stdout, result.stderr)


def test_the_images_preflight_exits_1_naming_the_failing_check(postgres_env):
    url = postgres_env["DATABASE_URL"]
    password = urlsplit(url).password
    result = run_image({**postgres_env, "DATABASE_URL": url.replace(f":{password}@", ":wrong-password@")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL db.reachable" in result.stdout and "password authentication failed" in result.stdout
    assert_no_secrets([password], result.stdout, result.stderr)


def test_the_nightly_cronjobs_command_runs_in_the_image_as_its_pod_would(postgres_env, tmp_path, pushgateway):
    """deploy/kubernetes/nightly-staging.yaml's container, its command unchanged but for the
    Pushgateway's address: the env file and the results volume mounted where the pod has them,
    the image's non-root user writing JUnit and metrics, and the push read back."""
    import yaml

    from fixtures.services import write_env_file
    from flash_green_ops.metrics.promlint import lint_text
    from tests.pushgateway_fixtures import gateway_metrics
    from tests.test_deploy_kubernetes import KUBERNETES, pod_spec
    from tests.test_results_metrics import series

    (cronjob, _pvc) = yaml.safe_load_all((KUBERNETES / "nightly-staging.yaml").read_text())
    (container,) = pod_spec(cronjob)["containers"]
    argv = list(container["command"])
    argv[argv.index("--pushgateway") + 1] = pushgateway.url
    env_dir, results = tmp_path / "env", tmp_path / "results"
    env_dir.mkdir()
    results.mkdir(mode=0o777)
    results.chmod(0o777)  # the pod's fsGroup makes the volume the user's; here: anyone's
    env_file = write_env_file(env_dir / "env", postgres_env, "the nightly pod's env file")
    env_file.chmod(0o644)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    result = docker_run(["--network", "host", "-v", f"{env_dir}:{mounts['env-file']}:ro",
                         "-v", f"{results}:{mounts['results']}", "--entrypoint", argv[0], SUITE_IMAGE, *argv[1:]],
                        300)
    # No Flash Green service runs here: its metrics checks fail; the database's pass.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED ops_tests/test_metrics.py::test_metrics[metrics.scrape]" in result.stdout
    assert sorted(p.name for p in results.iterdir()) == ["nightly-staging.prom", "nightly-staging.xml"]
    text = (results / "nightly-staging.prom").read_text()
    assert lint_text(text) == []
    labels = {"environment": "staging"}
    assert series(text, "flash_green_ops_check_success", check="db.reachable", step="db", **labels) == [1]
    assert series(text, "flash_green_ops_check_success", check="metrics.scrape", step="metrics", **labels) == [0]
    assert series(text, "flash_green_ops_run_success", suite="nightly", **labels) == [0]
    pushed = gateway_metrics(pushgateway)
    assert series(pushed, "flash_green_ops_check_success", check="db.reachable", job="nightly", **labels) == [1]
    password = urlsplit(postgres_env["DATABASE_URL"]).password
    assert_no_secrets([postgres_env["API_KEY"], password], result.stdout, result.stderr,
                      results / "nightly-staging.prom", results / "nightly-staging.xml")
