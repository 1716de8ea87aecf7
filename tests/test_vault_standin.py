"""The Vault stand-in answers as Vault's API documentation says (status codes and JSON bodies).

Read with plain requests, so the test sees the wire format, not a client's interpretation; one
test reads it with hvac, the client the secrets step uses.
"""
from __future__ import annotations

import pytest
import requests

from fixtures.services import make_bundle, vault
from fixtures.vault_standin import VaultStandin
from tests.conftest import port_is_free

TIMEOUT = 5


def get(vault: VaultStandin, path: str, token: str | None = None, namespace: str | None = None, **params):
    headers = {}
    if token:
        headers["X-Vault-Token"] = token
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    return requests.get(f"{vault.url}/v1/{path}", headers=headers, params=params, timeout=TIMEOUT)


@pytest.mark.parametrize("state, code, flags", [
    ({}, 200, {"initialized": True, "sealed": False, "standby": False}),
    ({"standby": True}, 429, {"initialized": True, "sealed": False, "standby": True}),
    ({"performance_standby": True}, 473, {"standby": True, "performance_standby": True}),
    ({"sealed": True}, 503, {"initialized": True, "sealed": True}),
    ({"initialized": False}, 501, {"initialized": False, "sealed": True}),
])
def test_health_codes_and_body(vault_standin, state, code, flags):
    vault_standin.configure(**state)
    response = get(vault_standin, "sys/health")
    assert response.status_code == code
    body = response.json()
    assert {k: body[k] for k in flags} == flags
    assert body["version"] and isinstance(body["server_time_utc"], int)
    head = requests.head(f"{vault_standin.url}/v1/sys/health", timeout=TIMEOUT)
    assert head.status_code == code and head.content == b""


def test_health_query_parameters_override_codes(vault_standin):
    vault_standin.configure(standby=True)
    assert get(vault_standin, "sys/health", standbyok="true").status_code == 200
    assert get(vault_standin, "sys/health", standbycode="299").status_code == 299
    vault_standin.configure(standby=False, sealed=True)
    assert get(vault_standin, "sys/health", sealedcode="200").status_code == 200


def test_lookup_self_describes_the_token(vault_standin):
    token = vault_standin.create_token(ttl=3600, policies=("default", "reader"))
    response = get(vault_standin, "auth/token/lookup-self", token)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["policies"] == ["default", "reader"]
    assert 3590 <= data["ttl"] <= 3600 and data["expire_time"].endswith("Z")
    same = data["id"] == token  # compared, never printed
    assert same, "lookup-self echoes the token, as Vault does"


def test_root_token_has_ttl_zero_and_no_expiry(vault_standin):
    token = vault_standin.create_token(ttl=None, policies=("root",))
    data = get(vault_standin, "auth/token/lookup-self", token).json()["data"]
    assert data["ttl"] == 0 and data["expire_time"] is None


@pytest.mark.parametrize("token", [None, "hvs.unknown-token-value"])
def test_bad_or_missing_token_is_permission_denied(vault_standin, token):
    response = get(vault_standin, "auth/token/lookup-self", token)
    assert response.status_code == 403
    assert response.json() == {"errors": ["permission denied"]}


def test_expired_token_is_permission_denied(vault_standin):
    import time

    token = vault_standin.create_token(ttl=10, issued=time.time() - 60)
    assert get(vault_standin, "auth/token/lookup-self", token).status_code == 403


def test_sealed_vault_refuses_everything_but_health(vault_standin):
    token = vault_standin.create_token()
    vault_standin.configure(sealed=True)
    response = get(vault_standin, "auth/token/lookup-self", token)
    assert response.status_code == 503 and response.json() == {"errors": ["Vault is sealed"]}


@pytest.mark.parametrize("version, options", [(2, {"version": "2"}), (1, None)])
def test_internal_ui_mounts_reports_the_kv_version(vault_standin, version, options):
    token = vault_standin.create_token()
    vault_standin.enable_kv("secret", version=version)
    response = get(vault_standin, "sys/internal/ui/mounts/secret/flash-green", token)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["path"] == "secret/" and data["type"] == "kv" and data["options"] == options


def test_internal_ui_mounts_is_403_for_unknown_mounts_and_no_access(vault_standin):
    token = vault_standin.create_token(policies=("locked",))
    vault_standin.enable_kv("secret")
    vault_standin.set_policy("locked", deny=["secret"])
    for path in ("nomount/x", "secret/x"):
        response = get(vault_standin, f"sys/internal/ui/mounts/{path}", token)
        assert response.status_code == 403
        assert "preflight capability check returned 403" in response.json()["errors"][0]


def test_kv_v2_read_and_404(vault_standin):
    token = vault_standin.create_token()
    vault_standin.enable_kv("secret", version=2)
    vault_standin.write("secret/app", {"A": "one-value"})
    vault_standin.write("secret/app", {"A": "two-value"})
    body = get(vault_standin, "secret/data/app", token).json()
    assert body["data"]["data"] == {"A": "two-value"} and body["data"]["metadata"]["version"] == 2
    missing = get(vault_standin, "secret/data/other", token)
    assert missing.status_code == 404 and missing.json() == {"errors": []}
    # The v1 form of a path on a v2 mount is not the secret.
    assert get(vault_standin, "secret/app", token).status_code == 404


def test_kv_v2_deleted_latest_version_is_404_with_metadata(vault_standin):
    token = vault_standin.create_token()
    vault_standin.enable_kv("secret", version=2)
    vault_standin.write("secret/app", {"A": "value-one"})
    vault_standin.delete_latest("secret/app")
    response = get(vault_standin, "secret/data/app", token)
    assert response.status_code == 404
    assert response.json()["data"]["data"] is None and response.json()["data"]["metadata"]["deletion_time"]


def test_kv_v1_read(vault_standin):
    token = vault_standin.create_token()
    vault_standin.enable_kv("kv", version=1)
    vault_standin.write("kv/app", {"A": "value-v1"})
    assert get(vault_standin, "kv/app", token).json()["data"] == {"A": "value-v1"}
    assert get(vault_standin, "kv/data/app", token).status_code == 404


def test_policy_denies_a_path_with_403(vault_standin):
    token = vault_standin.create_token(policies=("default", "app"))
    vault_standin.enable_kv("secret")
    vault_standin.write("secret/app", {"A": "value-denied"})
    vault_standin.set_policy("app", deny=["secret/data/app"])
    response = get(vault_standin, "secret/data/app", token)
    assert response.status_code == 403 and response.json() == {"errors": ["permission denied"]}
    other = vault_standin.create_token(policies=("default",))
    assert get(vault_standin, "secret/data/app", other).status_code == 200


def test_namespace_header_scopes_mounts_and_tokens(vault_standin):
    root = vault_standin.create_token()
    scoped = vault_standin.create_token(namespace="team")
    vault_standin.enable_kv("secret", namespace="team")
    vault_standin.write("secret/app", {"A": "namespaced-value"}, namespace="team")
    assert get(vault_standin, "secret/data/app", scoped, namespace="team").status_code == 200
    assert get(vault_standin, "secret/data/app", root, namespace="team/").status_code == 200  # parent token
    assert get(vault_standin, "secret/data/app", scoped).status_code == 403  # outside its namespace
    assert get(vault_standin, "secret/data/app", root).status_code == 404  # no such mount at the root


def test_hvac_reads_the_standin(vault_standin):
    import hvac

    token = vault_standin.create_token()
    vault_standin.enable_kv("secret")
    vault_standin.write("secret/app", {"A": "via-hvac-value"})
    client = hvac.Client(url=vault_standin.url, token=token, timeout=TIMEOUT)
    assert client.is_authenticated() and client.sys.read_health_status(method="GET")["sealed"] is False
    read = client.secrets.kv.v2.read_secret_version(path="app", mount_point="secret", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"A": "via-hvac-value"}


def test_reset_forgets_everything(vault_standin):
    token = vault_standin.create_token()
    vault_standin.enable_kv("secret")
    vault_standin.configure(sealed=True)
    vault_standin.reset()
    assert get(vault_standin, "sys/health").status_code == 200
    assert get(vault_standin, "auth/token/lookup-self", token).status_code == 403


def test_stop_closes_the_port():
    vault = VaultStandin().start()
    try:
        port = vault.port
        assert not port_is_free(port)
    finally:
        vault.stop()
    assert port_is_free(port)


def test_local_vault_serves_the_env_it_describes():
    service = vault.build(make_bundle("a-db-password-1234"))  # holds its port from here on
    try:
        env = service.env
        assert set(env) == {"VAULT_ADDR", "VAULT_TOKEN", "VAULT_SECRET_PATH", "SECRETS_BACKEND"}
        assert env["VAULT_ADDR"] == f"http://127.0.0.1:{service.port}"
        service.start()
        body = requests.get(f"{env['VAULT_ADDR']}/v1/{env['VAULT_SECRET_PATH'].replace('/', '/data/', 1)}",
                            headers={"X-Vault-Token": env["VAULT_TOKEN"]}, timeout=TIMEOUT).json()
        assert set(body["data"]["data"]) == {"DB_PASSWORD", "API_SIGNING_KEY"}
    finally:
        service.stop()
    assert port_is_free(service.port)
