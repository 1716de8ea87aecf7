"""The secrets step against Vault: every failure provoked for real with the Vault stand-in.

Each scenario is judged in process (the finding and its message) and as operators see it:
the preflight CLI's text and JSON and the runbook suite's JUnit XML, none of which may hold the
token or a bundle value.
"""
from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
from werkzeug.wrappers import Response

from fixtures.services import random_secret
from fixtures.vault_standin import VaultStandin
from fixtures.wsgi_server import ThreadedWsgiServer
from flash_green_ops import redact, secrets
from flash_green_ops.findings import Status
from tests.conftest import REPO, assert_no_secrets
from tests.secrets_scenarios import (step, SECRET_PATH, bundle, check_scenario, check_unreachable, context_of,
                                     env_file, the)


@dataclass
class VaultSetup:
    """A healthy Vault: a token valid for 30 days, KV v2 at secret/, a valid bundle."""

    vault: VaultStandin
    # Not in the repr: pytest prints fixtures' reprs on failure, truncated past masking.
    token: str = field(repr=False)
    values: dict[str, str] = field(repr=False)
    env: dict[str, str] = field(repr=False)
    extra_secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def secrets(self) -> list[str]:
        values = [self.token, self.env["VAULT_TOKEN"], *self.values.values(), *self.extra_secrets]
        return [v for v in values if v]  # an empty value is no probe: "" is in every text

    def write(self, values: dict[str, str]) -> None:
        self.extra_secrets += list(values.values())
        self.vault.write(SECRET_PATH, values)


@pytest.fixture
def vault_setup(vault_standin) -> VaultSetup:
    token = vault_standin.create_token(ttl=30 * 86400, policies=("default", "flash-green"))
    vault_standin.enable_kv("secret", version=2)
    values = bundle()
    vault_standin.write(SECRET_PATH, values)
    env = {"VAULT_ADDR": vault_standin.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH}
    return VaultSetup(vault_standin, token, values, env)


# -- the failures the issue names, each seen in every output ------------------------------------

def sealed(s: VaultSetup):
    s.vault.configure(sealed=True)


def standby(s: VaultSetup):
    s.vault.configure(standby=True)


def uninitialised(s: VaultSetup):
    s.vault.configure(initialized=False)


def invalid_token(s: VaultSetup):
    s.env["VAULT_TOKEN"] = f"hvs.{random_secret('not-a-token')}"


def expired_token(s: VaultSetup):
    s.env["VAULT_TOKEN"] = s.vault.create_token(ttl=600, issued=time.time() - 3600)


def token_near_expiry(s: VaultSetup):
    # 2h and a margin, so the remaining time still reads "2h" a few seconds later.
    s.env["VAULT_TOKEN"] = s.vault.create_token(ttl=2 * 3600 + 30)


def forbidden(s: VaultSetup):
    s.vault.set_policy("flash-green", deny=["secret/data/flash-green"])


def not_found(s: VaultSetup):
    s.env["VAULT_SECRET_PATH"] = "secret/flash-green-missing"


def kv_v1(s: VaultSetup):
    s.vault.enable_kv("secret", version=1)  # replaces the v2 mount
    s.write(bundle())


def missing_key(s: VaultSetup):
    s.write(bundle(API_SIGNING_KEY=None))


def empty_key(s: VaultSetup):
    s.write(bundle(DB_PASSWORD=""))


SCENARIOS = [
    pytest.param(sealed, "secrets.vault_health", "FAIL", "is sealed (sys/health answered HTTP 503)", id="sealed"),
    pytest.param(standby, "secrets.vault_health", "FAIL", "is a standby node (sys/health answered HTTP 429)",
                 id="standby"),
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
                 "secret/flash-green (KV v1) holds DB_PASSWORD, API_SIGNING_KEY, each non-empty", id="kv-v1"),
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
    assert the(findings, "secrets.vault_mount").message == "secret/flash-green is in secret/, a KV version 2 mount"
    same = ctx.bundle == vault_setup.values  # compared, never printed
    assert same, "ctx.bundle is not the bundle stored in Vault"
    assert all(f.duration > 0 for f in findings[1:]), "each check times itself"


def test_loaded_values_are_registered_secret_at_once(vault_standin, tmp_path):
    token = vault_standin.create_token()
    vault_standin.enable_kv("secret")
    # Not registered by the stand-in, so only the step's own reading can register it.
    unseen = random_secret("never-registered-before")
    vault_standin.write(SECRET_PATH, {"DB_PASSWORD": unseen, "API_SIGNING_KEY": random_secret("k")},
                        register=False)
    env = {"VAULT_ADDR": vault_standin.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH}
    # Compared, never printed: a failing `mask(unseen) == ...` would show the secret itself.
    unregistered = redact.mask(unseen) == unseen
    assert unregistered, "the value was registered before the step read it"
    step(context_of(env_file(tmp_path, env)))
    registered = redact.mask(unseen) == redact.MASK
    assert registered, "the value the step read is not masked afterwards"


def test_token_that_never_expires_passes(vault_setup, tmp_path):
    vault_setup.env["VAULT_TOKEN"] = vault_setup.vault.create_token(ttl=None, policies=("root",))
    token = the(run(vault_setup, tmp_path), "secrets.vault_token")
    assert token.status is Status.PASS and "never expires (policies: root)" in token.message


def test_vault_min_ttl_sets_the_warning_threshold(vault_setup, tmp_path):
    vault_setup.env["VAULT_TOKEN"] = vault_setup.vault.create_token(ttl=2 * 3600 + 30)
    relaxed = the(run(vault_setup, tmp_path, vault_min_ttl=3600), "secrets.vault_token")
    assert relaxed.status is Status.PASS and "valid for 2h more" in relaxed.message
    strict = the(run(vault_setup, tmp_path, vault_min_ttl=3 * 86400), "secrets.vault_token")
    assert strict.status is Status.WARN and "sooner than --vault-min-ttl 3d" in strict.message


def test_sealed_vault_skips_the_checks_that_need_it(vault_setup, tmp_path):
    vault_setup.vault.configure(sealed=True)
    findings = run(vault_setup, tmp_path)
    assert [f.status.value for f in findings] == ["PASS", "FAIL", "SKIP", "SKIP", "SKIP"]


def test_performance_standby_is_named(vault_setup, tmp_path):
    vault_setup.vault.configure(performance_standby=True)
    health = the(run(vault_setup, tmp_path), "secrets.vault_health")
    assert "is a performance standby node (sys/health answered HTTP 473)" in health.message


def test_mount_lookup_denied_says_so(vault_setup, tmp_path):
    vault_setup.vault.set_policy("flash-green", deny=["secret"])
    mount = the(run(vault_setup, tmp_path), "secrets.vault_mount")
    assert mount.status is Status.FAIL
    assert "refused the mount lookup for secret/flash-green (HTTP 403: preflight capability check" in mount.message
    assert the(run(vault_setup, tmp_path), "secrets.bundle").status is Status.SKIP


def test_path_outside_any_mount_fails_at_the_mount_lookup(vault_setup, tmp_path):
    vault_setup.env["VAULT_SECRET_PATH"] = "nomount/flash-green"
    mount = the(run(vault_setup, tmp_path), "secrets.vault_mount")
    assert mount.status is Status.FAIL and "refused the mount lookup for nomount/flash-green" in mount.message


def test_non_kv_mount_is_named(vault_setup, tmp_path):
    vault_setup.vault.enable_engine("pki", "pki")
    vault_setup.env["VAULT_SECRET_PATH"] = "pki/flash-green"
    mount = the(run(vault_setup, tmp_path), "secrets.vault_mount")
    assert mount.status is Status.FAIL and "in the pki/ mount, a pki secrets engine, not KV" in mount.message


def test_older_vault_without_the_mounts_endpoint_reads_kv_v1(vault_setup, tmp_path):
    """The Vault CLI's rule: a 404 from sys/internal/ui/mounts means KV version 1."""
    vault_setup.vault.configure(ui_mounts=False)
    vault_setup.vault.enable_kv("secret", version=1)
    vault_setup.write(bundle())
    findings = run(vault_setup, tmp_path)
    assert "is read as KV version 1, as the Vault CLI does" in the(findings, "secrets.vault_mount").message
    assert the(findings, "secrets.bundle").status is Status.PASS


def test_nested_mount_path_is_split_where_vault_says(vault_setup, tmp_path):
    vault_setup.vault.enable_kv("teams/trading", version=2)
    vault_setup.vault.write("teams/trading/flash-green/prod", bundle())
    vault_setup.env["VAULT_SECRET_PATH"] = "teams/trading/flash-green/prod"
    findings = run(vault_setup, tmp_path)
    assert "is in teams/trading/, a KV version 2 mount" in the(findings, "secrets.vault_mount").message
    bundle_finding = the(findings, "secrets.bundle")
    assert bundle_finding.status is Status.PASS
    assert bundle_finding.where.endswith("/v1/teams/trading/data/flash-green/prod")


def test_path_naming_the_mount_itself_fails(vault_setup, tmp_path):
    vault_setup.env["VAULT_SECRET_PATH"] = "secret"
    finding = the(run(vault_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and "names the mount secret/ itself" in finding.message


def test_deleted_latest_version_is_a_404_that_says_so(vault_setup, tmp_path):
    vault_setup.vault.delete_latest(SECRET_PATH)
    finding = the(run(vault_setup, tmp_path), "secrets.bundle")
    assert finding.status is Status.FAIL and "HTTP 404" in finding.message
    assert "its latest version was deleted at" in finding.message


def test_vault_namespace_is_sent_and_scopes_token_and_mount(vault_standin, tmp_path):
    token = vault_standin.create_token(namespace="trading")
    vault_standin.enable_kv("secret", namespace="trading")
    vault_standin.write(SECRET_PATH, bundle(), namespace="trading")
    env = {"VAULT_ADDR": vault_standin.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH}

    without = step(context_of(env_file(tmp_path, env)))
    assert the(without, "secrets.vault_token").status is Status.FAIL

    vault_standin.state.requests.clear()
    with_ns = step(context_of(env_file(tmp_path, {**env, "VAULT_NAMESPACE": "trading"})))
    assert all(f.status is Status.PASS for f in with_ns), [f.message for f in with_ns]
    assert "(namespace trading)" in the(with_ns, "secrets.vault_health").message
    assert {ns for _, path, ns in vault_standin.state.requests if path != "/v1/sys/health"} == {"trading"}


def test_process_environment_does_not_leak_into_the_client(vault_setup, tmp_path, monkeypatch):
    """hvac falls back to the process's VAULT_* variables; the env file under check must win."""
    monkeypatch.setenv("VAULT_NAMESPACE", "elsewhere")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.from-the-process-environment")
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "no-such-ca.pem"))
    findings = run(vault_setup, tmp_path)
    assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]
    assert {ns for _, _, ns in vault_setup.vault.state.requests} == {""}


def _self_signed(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (IP SAN, so TLS verification can really succeed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vault-standin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "vault.crt", directory / "vault.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_vault_cacert_is_honoured(tmp_path):
    cert, key = _self_signed(tmp_path)
    with VaultStandin(ssl_context=(cert, key)) as vault:
        token = vault.create_token()
        vault.enable_kv("secret")
        vault.write(SECRET_PATH, bundle())
        env = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH}

        untrusted = the(step(context_of(env_file(tmp_path, env))), "secrets.vault_health")
        assert untrusted.status is Status.FAIL and "TLS verification failed" in untrusted.message
        assert "set VAULT_CACERT to the CA bundle" in untrusted.message

        trusted = step(context_of(env_file(tmp_path, {**env, "VAULT_CACERT": cert})))
        assert all(f.status is Status.PASS for f in trusted), [f.message for f in trusted]

        no_file = env_file(tmp_path, {**env, "VAULT_CACERT": str(tmp_path / "nope.pem")})
        missing = the(step(context_of(no_file)), "secrets.vault_health")
        assert missing.status is Status.FAIL and "which is not a readable file" in missing.message


def test_not_a_vault_at_the_address(tmp_path):
    page = Response("<html>a web page</html>", mimetype="text/html")
    with ThreadedWsgiServer(page, "not-vault") as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "hvs.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        health = the(step(context_of(env_file(tmp_path, env))), "secrets.vault_health")
    assert health.status is Status.FAIL and "HTTP 200 but not Vault's health JSON" in health.message


def test_preflight_imports_only_the_backend_it_uses(vault_setup, tmp_path):
    path = env_file(tmp_path, vault_setup.env)
    code = ("import sys; from flash_green_ops import cli, secrets, preflight;"
            "assert 'hvac' not in sys.modules and 'boto3' not in sys.modules, 'imported too early';"
            "from flash_green_ops import settings; p = cli.Parser(); settings.add_options(p.add_argument, settings.ENV_OPTIONS);"
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
    health = the(run(vault_setup, tmp_path), "secrets.vault_health")
    assert health.status is Status.FAIL and "is not a usable URL (InvalidSchema)" in health.message


def test_unexpected_answers_are_a_failure_not_a_traceback(tmp_path):
    """Something at VAULT_ADDR answers every path with health JSON: lookup-self has no "data"."""
    health_json = Response('{"initialized": true, "sealed": false, "standby": false}', mimetype="application/json")
    with ThreadedWsgiServer(health_json, "health-everywhere") as server:
        env = {"VAULT_ADDR": server.url, "VAULT_TOKEN": "hvs.abcdefghijkl", "VAULT_SECRET_PATH": SECRET_PATH}
        findings = step(context_of(env_file(tmp_path, env)))
    token = the(findings, "secrets.vault_token")
    assert token.status is Status.FAIL and "unexpected answer while checking (KeyError" in token.message
    assert the(findings, "secrets.bundle").status is Status.SKIP
