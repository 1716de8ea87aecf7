"""The secrets step against Vault's API: every failure provoked for real on an OpenBao server.

The server is the real ``bao`` (fixtures/openbao.py): TLS with a CA the tests made, one per
session, reset before each test. Each state is produced on it as production would meet it:
sealed (sys/seal), never initialised (a second server), denied (a policy), expiring (a
short-TTL token), soft-deleted (the latest KV v2 version deleted), a namespace. Each scenario is
judged in process (the finding and its message) and as operators see it: the preflight CLI's
text and JSON and the runbook suite's JUnit XML, none of which may hold a token or a value.

Three answers no single OpenBao server gives are served by a few lines of werkzeug instead (each
says so): a standby node, a performance standby, and a Vault older than 0.10 (no mounts lookup).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest
from werkzeug.wrappers import Response

from fixtures.openbao import BaoServer
from fixtures.ports import PortReservation
from fixtures.services import random_secret
from fixtures.wsgi_server import ThreadedWsgiServer
from flash_green_ops import redact, secrets
from flash_green_ops.findings import Status
from tests.conftest import REPO, assert_no_secrets
from tests.secrets_scenarios import (SECRET_PATH, bundle, check_scenario, check_unreachable, context_of,
                                     env_file, healthy_vault, kv_put, make_token, step, the)


@dataclass
class VaultSetup:
    """A healthy OpenBao: KV v2 at secret/ holding a valid bundle, a 30-day token that may read it."""

    bao: BaoServer
    client: object  # hvac, with the root token
    token: str = field(repr=False)  # not in the repr: pytest prints fixtures' reprs on failure
    values: dict[str, str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    cleanup: ExitStack = field(default_factory=ExitStack, repr=False)
    extra_secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def secrets(self) -> list[str]:
        values = [self.token, self.env["VAULT_TOKEN"], *self.values.values(), *self.extra_secrets]
        return [v for v in values if v]  # an empty value is no probe: "" is in every text

    def write(self, values: dict[str, str], path: str = "flash-green", mount: str = "secret") -> None:
        self.extra_secrets += list(values.values())
        kv_put(self.client, values, path, mount)

    def use_token(self, **kwargs) -> None:
        self.env["VAULT_TOKEN"] = make_token(self.client, **kwargs)


@pytest.fixture
def vault_setup(bao, bao_root) -> VaultSetup:
    values = bundle()
    env = healthy_vault(bao_root, bao, values)
    setup = VaultSetup(bao, bao_root, env["VAULT_TOKEN"], values, env)
    with setup.cleanup:
        yield setup


# -- the failures the README names, each seen in every output -----------------------------------

def sealed(s: VaultSetup):
    s.bao.seal()  # the fixture's reset unseals it for the next test


def uninitialised(s: VaultSetup):
    fresh = BaoServer(PortReservation(), s.bao.directory.parent, initialise=False)
    s.cleanup.callback(fresh.stop)
    fresh.start()
    s.env.update(VAULT_ADDR=fresh.url, VAULT_CACERT=str(fresh.ca_path))


def invalid_token(s: VaultSetup):
    s.env["VAULT_TOKEN"] = random_secret("s.not-a-token")


def expired_token(s: VaultSetup):
    s.use_token(ttl="1s")
    time.sleep(1.5)


def token_near_expiry(s: VaultSetup):
    # 2h and a margin, so the remaining time still reads "2h" a few seconds later.
    s.use_token(ttl=f"{2 * 3600 + 30}s")


def forbidden(s: VaultSetup):
    # May list the mount (the mount lookup answers), may not read the secret.
    s.client.sys.create_or_update_policy("flash-green", 'path "secret/metadata/*" { capabilities = ["list"] }\n')


def not_found(s: VaultSetup):
    s.env["VAULT_SECRET_PATH"] = "secret/flash-green-missing"


def kv_v1(s: VaultSetup):
    s.client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    values = bundle()
    s.extra_secrets += list(values.values())
    s.client.secrets.kv.v1.create_or_update_secret(path="flash-green", mount_point="kv1", secret=values)
    s.env["VAULT_SECRET_PATH"] = "kv1/flash-green"


def missing_key(s: VaultSetup):
    s.write(bundle(API_SIGNING_KEY=None))


def empty_key(s: VaultSetup):
    s.write(bundle(DB_PASSWORD=""))


SCENARIOS = [
    pytest.param(sealed, "secrets.vault_health", "FAIL", "is sealed (sys/health answered HTTP 503)", id="sealed"),
    pytest.param(uninitialised, "secrets.vault_health", "FAIL",
                 "is not initialised (sys/health answered HTTP 501)", id="uninitialised"),
    pytest.param(invalid_token, "secrets.vault_token", "FAIL",
                 "is invalid or expired: auth/token/lookup-self answered HTTP 403", id="token-invalid"),
    pytest.param(expired_token, "secrets.vault_token", "FAIL", "is invalid or expired", id="token-expired"),
    pytest.param(token_near_expiry, "secrets.vault_token", "WARN",
                 "expires in 2h (at ", id="token-near-expiry"),
    pytest.param(forbidden, "secrets.bundle", "FAIL",
                 "denied reading secret/flash-green (HTTP 403 on secret/data/flash-green)", id="403"),
    pytest.param(not_found, "secrets.bundle", "FAIL",
                 "has no secret at secret/flash-green-missing (HTTP 404 on secret/data/flash-green-missing: "
                 "no secret there)", id="404"),
    pytest.param(kv_v1, "secrets.bundle", "PASS",
                 "kv1/flash-green (KV v1) holds DB_PASSWORD, API_SIGNING_KEY, each non-empty", id="kv-v1"),
    pytest.param(missing_key, "secrets.bundle", "FAIL", "secret/flash-green (KV v2) lacks API_SIGNING_KEY",
                 id="missing-key"),
    pytest.param(empty_key, "secrets.bundle", "FAIL", "secret/flash-green (KV v2) has an empty DB_PASSWORD",
                 id="empty-key"),
]


@pytest.mark.parametrize("arrange, check, status, fragment", SCENARIOS)
def test_vault_scenario_is_reported_everywhere_without_secrets(
        pytester, vault_setup, arrange, check, status, fragment):
    check_scenario(pytester, vault_setup, arrange, check, status, fragment)


@pytest.mark.parametrize("listener", ["silent", "closed"])
def test_unreachable_vault_fails_within_the_timeout(pytester, vault_setup, listener):
    check_unreachable(pytester, vault_setup, listener, "VAULT_ADDR", "secrets.vault_health", "Vault",
                      skipped=("secrets.vault_token", "secrets.vault_mount", "secrets.bundle"))


# -- the rest of the Vault behaviour, in process -----------------------------------------------

def run(s: VaultSetup, tmp_path, **settings):
    return step(context_of(env_file(tmp_path, s.env), **settings))


def test_healthy_vault_passes_and_sets_the_bundle(vault_setup, tmp_path):
    ctx = context_of(env_file(tmp_path, vault_setup.env))
    findings = step(ctx)
    assert [f.check for f in findings] == ["secrets.backend", *secrets.vault.CHECKS]
    assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]
    assert "is initialised, unsealed and active (version 2." in the(findings, "secrets.vault_health").message
    assert the(findings, "secrets.vault_mount").message == "secret/flash-green is in secret/, a KV version 2 mount"
    same = ctx.bundle == vault_setup.values  # compared, never printed
    assert same, "ctx.bundle is not the bundle stored in Vault"
    assert all(f.duration > 0 for f in findings[1:]), "each check times itself"


def test_loaded_values_are_registered_secret_at_once(vault_setup, tmp_path):
    # Written straight through the API, so only the step's own reading can register it.
    unseen = random_secret("never-registered-before")
    kv_put(vault_setup.client, {"DB_PASSWORD": unseen, "API_SIGNING_KEY": "k-123456"})
    # Compared, never printed: a failing `mask(unseen) == ...` would show the secret itself.
    unregistered = redact.mask(unseen) == unseen
    assert unregistered, "the value was registered before the step read it"
    run(vault_setup, tmp_path)
    registered = redact.mask(unseen) == redact.MASK
    assert registered, "the value the step read is not masked afterwards"


def test_token_that_never_expires_passes(vault_setup, tmp_path):
    vault_setup.env["VAULT_TOKEN"] = vault_setup.bao.root_token
    token = the(run(vault_setup, tmp_path), "secrets.vault_token")
    assert token.status is Status.PASS and "never expires (policies: root)" in token.message


def test_vault_min_ttl_sets_the_warning_threshold(vault_setup, tmp_path):
    vault_setup.use_token(ttl=f"{2 * 3600 + 30}s")
    relaxed = the(run(vault_setup, tmp_path, vault_min_ttl=3600), "secrets.vault_token")
    assert relaxed.status is Status.PASS and "valid for 2h more" in relaxed.message
    strict = the(run(vault_setup, tmp_path, vault_min_ttl=3 * 86400), "secrets.vault_token")
    assert strict.status is Status.WARN and "sooner than --vault-min-ttl 3d" in strict.message


def test_sealed_vault_skips_the_checks_that_need_it(vault_setup, tmp_path):
    vault_setup.bao.seal()
    findings = run(vault_setup, tmp_path)
    assert [f.status.value for f in findings] == ["PASS", "FAIL", "SKIP", "SKIP", "SKIP"]


def test_mount_lookup_denied_says_so(vault_setup, tmp_path):
    # A policy that grants nothing inside secret/: the mount lookup itself is refused.
    vault_setup.client.sys.create_or_update_policy("flash-green", 'path "kv1/*" { capabilities = ["read"] }\n')
    findings = run(vault_setup, tmp_path)
    mount = the(findings, "secrets.vault_mount")
    assert mount.status is Status.FAIL
    assert "refused the mount lookup for secret/flash-green (HTTP 403: preflight capability check" in mount.message
    assert the(findings, "secrets.bundle").status is Status.SKIP


def test_path_outside_any_mount_fails_at_the_mount_lookup(vault_setup, tmp_path):
    vault_setup.env["VAULT_SECRET_PATH"] = "nomount/flash-green"
    mount = the(run(vault_setup, tmp_path), "secrets.vault_mount")
    assert mount.status is Status.FAIL and "refused the mount lookup for nomount/flash-green" in mount.message


def test_non_kv_mount_is_named(vault_setup, tmp_path):
    vault_setup.client.sys.enable_secrets_engine("pki", path="pki")
    vault_setup.env.update(VAULT_SECRET_PATH="pki/flash-green", VAULT_TOKEN=vault_setup.bao.root_token)
    mount = the(run(vault_setup, tmp_path), "secrets.vault_mount")
    assert mount.status is Status.FAIL and "in the pki/ mount, a pki secrets engine, not KV" in mount.message


def test_nested_mount_path_is_split_where_vault_says(vault_setup, tmp_path):
    vault_setup.client.sys.enable_secrets_engine("kv", path="teams/trading", options={"version": "2"})
    vault_setup.write(bundle(), path="flash-green/prod", mount="teams/trading")
    vault_setup.env["VAULT_SECRET_PATH"] = "teams/trading/flash-green/prod"
    findings = run(vault_setup, tmp_path)
    assert "is in teams/trading/, a KV version 2 mount" in the(findings, "secrets.vault_mount").message
    bundle_finding = the(findings, "secrets.bundle")
    assert bundle_finding.status is Status.PASS, bundle_finding.message
    assert bundle_finding.where.endswith("/v1/teams/trading/data/flash-green/prod")


def test_path_naming_the_mount_itself_fails(vault_setup, tmp_path):
    vault_setup.env["VAULT_SECRET_PATH"] = "secret"
    finding = the(run(vault_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and "names the mount secret/ itself" in finding.message


def test_deleted_latest_version_is_a_404_that_says_so(vault_setup, tmp_path):
    vault_setup.client.secrets.kv.v2.delete_latest_version_of_secret(path="flash-green", mount_point="secret")
    finding = the(run(vault_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and "HTTP 404" in finding.message
    assert "its latest version was deleted at" in finding.message


def test_vault_namespace_scopes_token_mount_and_secret_while_health_is_asked_at_the_root(vault_setup, tmp_path):
    """OpenBao answers sys/health only in the root namespace (400 "operation unavailable in
    namespaces" inside one): the step asks it there, and everything else in the namespace."""
    vault_setup.client.sys.create_namespace("trading")
    inside = vault_setup.bao.client(namespace="trading")
    vault_setup.cleanup.callback(inside.adapter.close)
    values = bundle()
    env = {**healthy_vault(inside, vault_setup.bao, values), "VAULT_NAMESPACE": "trading"}

    ctx = context_of(env_file(tmp_path, env))
    with_ns = step(ctx)
    assert all(f.status is Status.PASS for f in with_ns), [f.message for f in with_ns]
    assert "(namespace trading)" in the(with_ns, "secrets.vault_health").message
    same = ctx.bundle == values  # compared, never printed: the namespace's bundle, not the root's
    assert same, "the bundle was not read in the namespace"

    # Without the namespace the same token finds no such mount: the namespace is really what was sent.
    without = step(context_of(env_file(tmp_path, {**env, "VAULT_NAMESPACE": ""})))
    assert the(without, "secrets.vault_mount").status is Status.FAIL


def test_process_environment_does_not_leak_into_the_client(vault_setup, tmp_path, monkeypatch):
    """hvac falls back to the process's VAULT_* variables; the env file under check must win."""
    monkeypatch.setenv("VAULT_NAMESPACE", "elsewhere")
    monkeypatch.setenv("VAULT_TOKEN", "s.from-the-process-environment")
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "no-such-ca.pem"))
    findings = run(vault_setup, tmp_path)
    assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]


def test_vault_cacert_is_honoured(vault_setup, tmp_path):
    untrusted_env = {k: v for k, v in vault_setup.env.items() if k != "VAULT_CACERT"}
    untrusted = the(step(context_of(env_file(tmp_path, untrusted_env))), "secrets.vault_health")
    assert untrusted.status is Status.FAIL and "TLS verification failed" in untrusted.message
    assert "set VAULT_CACERT to the CA bundle" in untrusted.message

    trusted = run(vault_setup, tmp_path)  # VAULT_CACERT names the server's CA
    assert all(f.status is Status.PASS for f in trusted), [f.message for f in trusted]

    vault_setup.env["VAULT_CACERT"] = str(tmp_path / "nope.pem")
    missing = the(run(vault_setup, tmp_path), "secrets.vault_health")
    assert missing.status is Status.FAIL and "which is not a readable file" in missing.message


# -- answers no single OpenBao server gives: a few lines of werkzeug --------------------------

def canned(routes: dict[str, Response]) -> ThreadedWsgiServer:
    """A loopback HTTP server answering ``routes`` (path -> response), 404 elsewhere."""

    def app(environ, start_response):
        response = routes.get(environ.get("PATH_INFO", ""), Response("{}", status=404, mimetype="application/json"))
        return response(environ, start_response)

    return ThreadedWsgiServer(app, "canned-vault")


def health(status: int, **flags) -> Response:
    body = {"initialized": True, "sealed": False, "standby": False, "version": "1.15.6", **flags}
    return Response(json.dumps(body), status=status, mimetype="application/json")


@dataclass
class CannedSetup:
    """What check_scenario needs of a setup: the env, and the secrets no output may hold."""

    env: dict[str, str] = field(repr=False)
    secrets: list[str] = field(repr=False)


@pytest.mark.parametrize("status, flags, fragment", [
    (429, {"standby": True}, "is a standby node (sys/health answered HTTP 429)"),
    (473, {"standby": True, "performance_standby": True}, "is a performance standby node (sys/health answered "
                                                          "HTTP 473)"),
])
def test_standby_nodes_are_named_everywhere(pytester, status, flags, fragment):
    """A single OpenBao server is never a standby: the answer Vault documents, served canned,
    and reported by the library, the CLI (text and JSON) and the runbook suite alike."""
    token = random_secret("s.canned-token")
    redact.register(token)
    with canned({"/v1/sys/health": health(status, **flags)}) as server:
        setup = CannedSetup({"VAULT_ADDR": server.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH},
                            [token])
        check_scenario(pytester, setup, lambda s: None, "secrets.vault_health", "FAIL", fragment)


def test_older_vault_without_the_mounts_endpoint_reads_kv_v1(tmp_path):
    """The Vault CLI's rule: a 404 from sys/internal/ui/mounts (Vault before 0.10) means KV
    version 1. No such old server can be had: its answers, canned."""
    values = bundle()
    routes = {"/v1/sys/health": health(200),
              "/v1/auth/token/lookup-self": Response(json.dumps({"data": {"ttl": 0, "policies": ["root"]}}),
                                                     mimetype="application/json"),
              "/v1/secret/flash-green": Response(json.dumps({"data": values}), mimetype="application/json")}
    with canned(routes) as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "s.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        findings = step(context_of(env_file(tmp_path, env)))
    assert "is read as KV version 1, as the Vault CLI does" in the(findings, "secrets.vault_mount").message
    assert the(findings, "secrets.bundle").status is Status.PASS


def test_not_a_vault_at_the_address(tmp_path):
    page = Response("<html>a web page</html>", mimetype="text/html")
    with ThreadedWsgiServer(page, "not-vault") as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "s.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        health_finding = the(step(context_of(env_file(tmp_path, env))), "secrets.vault_health")
    assert health_finding.status is Status.FAIL and "HTTP 200 but not Vault's health JSON" in health_finding.message


def test_an_unexpected_health_status_quotes_the_servers_errors(tmp_path):
    refusal = Response(json.dumps({"errors": ["operation unavailable in namespaces"]}), status=400,
                       mimetype="application/json")
    with canned({"/v1/sys/health": refusal}) as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "s.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        finding = the(step(context_of(env_file(tmp_path, env))), "secrets.vault_health")
    assert finding.status is Status.FAIL
    assert "answered sys/health with HTTP 400: operation unavailable in namespaces but not" in finding.message


def test_unexpected_answers_are_a_failure_not_a_traceback(tmp_path):
    """Something at VAULT_ADDR answers every path with health JSON: lookup-self has no "data"."""
    with ThreadedWsgiServer(health(200), "health-everywhere") as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "s.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        findings = step(context_of(env_file(tmp_path, env)))
    token = the(findings, "secrets.vault_token")
    assert token.status is Status.FAIL and "unexpected answer while checking (KeyError" in token.message
    assert the(findings, "secrets.bundle").status is Status.SKIP


def test_preflight_imports_only_the_backend_it_uses(vault_setup, tmp_path):
    path = env_file(tmp_path, vault_setup.env)
    code = ("import sys; from flash_green_ops import cli, secrets, settings;"
            "assert 'hvac' not in sys.modules and 'boto3' not in sys.modules, 'imported too early';"
            "p = cli.Parser(); settings.add_options(p.add_argument, settings.ENV_OPTIONS);"
            f"ctx = cli.load_context(p.parse_args(['--env-file', {str(path)!r}]));"
            "fs = [f for f in secrets.run(ctx) if f.applies];"
            "assert 'hvac' in sys.modules and 'boto3' not in sys.modules, 'boto3 imported for Vault';"
            "print([f.status.value for f in fs])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert_no_secrets(vault_setup.secrets, result.stdout, result.stderr)  # before stderr is printed below
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['PASS', 'PASS', 'PASS', 'PASS', 'PASS']"


def test_unusable_vault_addr_is_one_finding(vault_setup, tmp_path):
    vault_setup.env["VAULT_ADDR"] = "vault.internal:8200"
    health_finding = the(run(vault_setup, tmp_path), "secrets.vault_health")
    assert health_finding.status is Status.FAIL and "is not a usable URL (InvalidSchema)" in health_finding.message
