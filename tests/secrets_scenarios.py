"""Shared by the secrets step's tests: an env file per scenario, and every output of a run.

A scenario (a sealed Vault, a secret scheduled for deletion, ...) is judged three ways, as
operators meet it: the preflight CLI's text, its JSON, and the runbook suite's JUnit XML. The
three runs go in parallel (they are subprocesses) to keep the suite fast.
"""
from __future__ import annotations

import json
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3  # noqa: F401  (see below)
import hvac  # noqa: F401
import pytest
import requests  # noqa: F401

# The three are imported here, at collection, on purpose: pytester restores sys.modules after
# each test, and a library first imported *inside* a pytester test would be half-forgotten
# afterwards (requests' cookie classes stop matching http.cookiejar's).

from fixtures.services import random_secret, write_env_file
from flash_green_ops import redact
from flash_green_ops.context import RunContext
from flash_green_ops.preflight import new_context
from flash_green_ops.contract import load_contract
from flash_green_ops.envfile import read_env_file
from flash_green_ops.findings import Finding, Status
from flash_green_ops.settings import Settings
from tests.conftest import REPO, assert_no_secrets, closed_port, run_script, silent_listener

SECRET_PATH = "secret/flash-green"


def bundle(**overrides) -> dict[str, str]:
    """A valid bundle with long random values (short ones would be too weak a leak probe)."""
    values = {"DB_PASSWORD": random_secret("bundle-db-password"),
              "API_SIGNING_KEY": random_secret("bundle-signing-key"),
              "EXTRA_SETTING": random_secret("bundle-extra")}
    values.update(overrides)
    values = {k: v for k, v in values.items() if v is not None}
    for value in values.values():
        redact.register(value)
    return values


# What a test's token may do on OpenBao: read every KV path the tests use (and list, so the
# mount lookup, which needs some capability inside the mount, answers).
READ_ALL = ('path "secret/*" { capabilities = ["read", "list"] }\n'
            'path "kv1/*" { capabilities = ["read", "list"] }\n'
            'path "teams/*" { capabilities = ["read", "list"] }\n')


def make_token(client, policies=("default", "flash-green"), ttl: str | None = "720h") -> str:
    token = client.auth.token.create(policies=list(policies), ttl=ttl)["auth"]["client_token"]
    redact.register(token)
    return token


def kv_put(client, values: dict[str, str], path: str = "flash-green", mount: str = "secret") -> None:
    client.secrets.kv.v2.create_or_update_secret(path=path, mount_point=mount, secret=values)


def healthy_vault(client, bao, values: dict[str, str], ttl: str = "720h") -> dict[str, str]:
    """On a reset OpenBao server (the ``bao`` fixture), through ``client`` (root): KV v2 at
    secret/ holding ``values`` at flash-green, the policy READ_ALL as flash-green, and a token
    with it. Returns the env that points at it."""
    client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    kv_put(client, values)
    client.sys.create_or_update_policy("flash-green", READ_ALL)
    return {"VAULT_ADDR": bao.url, "VAULT_CACERT": str(bao.ca_path), "VAULT_TOKEN": make_token(client, ttl=ttl),
            "VAULT_SECRET_PATH": SECRET_PATH}


def env_file(directory: Path, values: dict[str, str], name: str = "secrets.env") -> Path:
    return write_env_file(directory / name, values, "written by the secrets step's tests")


def context_of(path: Path, **settings) -> RunContext:
    return new_context(read_env_file(path), load_contract(), Settings(**settings))


def the(findings: list[Finding], check: str) -> Finding:
    """The one finding of ``check``."""
    __tracebackhide__ = True
    matches = [f for f in findings if f.check == check]
    assert len(matches) == 1, f"expected one {check} finding, got {[f.check for f in findings]}"
    return matches[0]


def step(ctx: RunContext) -> list[Finding]:
    """The secrets step's findings for the checks this env has (the preflight's view: the other
    backend's checks, not_applicable, left out)."""
    from flash_green_ops import secrets

    return [f for f in secrets.run(ctx) if f.applies]


def timed_preflight(ctx: RunContext) -> tuple[list[Finding], float]:
    started = time.monotonic()
    findings = step(ctx)
    return findings, time.monotonic() - started


@dataclass
class Outputs:
    text: subprocess.CompletedProcess
    json: subprocess.CompletedProcess
    suite: pytest.RunResult
    junit: Path

    @property
    def document(self) -> dict:
        return json.loads(self.json.stdout)

    def junit_messages(self) -> str:
        """Every failure, error and skip message and body of the JUnit XML, unescaped."""
        root = ET.parse(self.junit).getroot()
        parts = []
        for element in root.iter():
            if element.tag in ("failure", "error", "skipped"):
                parts += [element.get("message") or "", element.text or ""]
        return "\n".join(parts)


def run_secrets_tests(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """ops_tests/test_secrets.py -m secrets, as run_ops_tests runs the suite (own process, the
    repo's pytest.ini), but only this step's module: other steps' modules are not under test."""
    return pytester.runpytest_subprocess(
        str(REPO / "ops_tests" / "test_secrets.py"), "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
        "-p", "no:cacheprovider", "-m", "secrets", *args, timeout=120)


def run_everywhere(pytester: pytest.Pytester, env: Path, *options: str) -> Outputs:
    """The preflight CLI (text and JSON) and the runbook suite (JUnit XML) on ``env``."""
    junit = pytester.path / "junit.xml"
    cli = ("--stage", "secrets", "--env-file", str(env), *options)
    with ThreadPoolExecutor(max_workers=2) as pool:
        text = pool.submit(run_script, "preflight_check.py", *cli)
        document = pool.submit(run_script, "preflight_check.py", *cli, "--format", "json")
        suite = run_secrets_tests(pytester, "--env-file", str(env), f"--junitxml={junit}", *options)
        return Outputs(text.result(), document.result(), suite, junit)


def check_scenario(pytester: pytest.Pytester, setup, arrange, check: str, status: str, fragment: str) -> None:
    """Arrange a backend's failure, then see it reported, masked, by the library, the CLI (text
    and JSON) and the runbook tests (terminal and JUnit)."""
    __tracebackhide__ = True
    arrange(setup)
    path = env_file(pytester.path, setup.env)
    finding = the(timed_preflight(context_of(path))[0], check)
    assert finding.status.value == status and fragment in finding.message, finding.message
    assert_reported(run_everywhere(pytester, path), check, status, fragment, setup.secrets)


def check_unreachable(pytester: pytest.Pytester, setup, listener: str, url_key: str, check: str,
                      service: str, skipped: tuple[str, ...]) -> Finding:
    """Point ``url_key`` at a loopback port that never answers ("silent") or refuses ("closed"):
    ``check`` fails within --secrets-timeout + 1 s naming the address and the cause, the
    ``skipped`` checks say why they did not run, and every output reports it, masked.
    Returns the failed finding for the backend's own assertions."""
    __tracebackhide__ = True
    timeout = 1.0
    expected = {"silent": "connected, but no answer within 1s", "closed": "Connection refused"}[listener]
    with silent_listener() as silent_port:
        port = silent_port if listener == "silent" else closed_port()
        setup.env[url_key] = f"http://127.0.0.1:{port}"
        path = env_file(pytester.path, setup.env)

        findings, elapsed = timed_preflight(context_of(path, secrets_timeout=timeout))
        failure = the(findings, check)
        assert failure.status is Status.FAIL and expected in failure.message, failure.message
        assert f"{service} at http://127.0.0.1:{port} is unreachable" in failure.message
        # A longer timeout helps a silent server, never a refused connection.
        assert ("raise --secrets-timeout" in failure.message) == (listener == "silent"), failure.message
        assert elapsed < timeout + 1, f"took {elapsed:.2f}s with --secrets-timeout {timeout}"
        # Nothing else waits on the dead server: the later checks are skipped, and say why.
        for later in skipped:
            assert the(findings, later).message == f"skipped: {check} failed"

        outputs = run_everywhere(pytester, path, "--secrets-timeout", str(timeout))
    assert_reported(outputs, check, "FAIL", expected, setup.secrets)
    return failure


def assert_reported(outputs: Outputs, check: str, status: str, fragment: str, secrets: list[str]) -> None:
    """``check`` has ``status`` with ``fragment`` in its message in every output; no secret anywhere."""
    __tracebackhide__ = True
    assert_no_secrets(secrets, outputs.text.stdout, outputs.text.stderr, outputs.json.stdout,
                      outputs.json.stderr, str(outputs.suite.stdout), str(outputs.suite.stderr), outputs.junit)
    failing = status == "FAIL"
    assert outputs.text.returncode == (1 if failing else 0), outputs.text.stderr
    lines = [line for line in outputs.text.stdout.splitlines() if line.startswith(f"{status} {check} ")]
    assert lines and fragment in lines[0], f"no '{status} {check}' line with {fragment!r} in:\n{outputs.text.stdout}"

    document = outputs.document
    entries = [c for c in document["checks"] if c["id"] == check]
    assert document["exit_code"] == (1 if failing else 0)
    assert entries and entries[0]["status"] == status and fragment in entries[0]["message"], document

    counts = outputs.suite.parseoutcomes()
    if failing:
        assert counts.get("failed", 0) >= 1, str(outputs.suite.stdout)
        assert fragment in outputs.junit_messages(), outputs.junit_messages()
    else:
        assert counts.get("failed", 0) == 0 and counts.get("passed", 0) >= 1, str(outputs.suite.stdout)
    if status == "WARN":
        assert "RunbookWarning" in str(outputs.suite.stdout) and fragment in str(outputs.suite.stdout)
