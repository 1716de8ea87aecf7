"""DB_PASSWORD from the secret bundle is used by the database step when the env has none."""
import time

import pytest

from fixtures.services import random_secret
from flash_green_ops.errors import BundleUnavailable
from flash_green_ops.credentials import database_endpoint
from tests.conftest import SilentListener, assert_no_secrets, run_script
from tests.secrets_scenarios import SECRET_PATH, bundle, context_of, env_file, healthy_vault, kv_put, step


def test_database_step_connects_with_the_bundles_password(pg_database, bao, bao_root, tmp_path):
    vault = healthy_vault(bao_root, bao, bundle(DB_PASSWORD=pg_database.password))
    token = vault["VAULT_TOKEN"]
    cluster = pg_database.cluster
    path = env_file(tmp_path, {
        "APP_ENV": "staging", "API_KEY": "k-feeds-db-1234", "CLIENT_CERT_SUBJECT_HEADER": "X-S",
        "DB_HOST": cluster.host, "DB_PORT": str(cluster.port), "DB_NAME": pg_database.name,
        "DB_USER": pg_database.user,  # no DB_PASSWORD: it is in the bundle
        **vault,
    })
    # The whole preflight (secrets loads the bundle, db uses it) and the db stage alone.
    for args in ((), ("--stage", "db")):
        result = run_script("preflight_check.py", "--env-file", path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "PASS db.reachable" in result.stdout
        assert_no_secrets([pg_database.password, token], result.stdout, result.stderr)

    # Without the bundle's password the same database refuses: the bundle really was used.
    kv_put(bao_root, bundle(DB_PASSWORD="not-the-password-0000"))
    result = run_script("preflight_check.py", "--env-file", path, "--stage", "db")
    assert result.returncode == 1
    assert "FAIL db.reachable" in result.stdout and "password authentication failed" in result.stdout


def test_an_unreachable_vault_is_asked_once_per_run(tmp_path):
    """The secrets stage, the database step and backup's endpoint all want the bundle; a Vault
    that never answers must cost one --secrets-timeout, not one per asker."""
    listener = SilentListener()
    try:
        token = random_secret("vault-token")
        path = env_file(tmp_path, {
            "APP_ENV": "staging", "API_KEY": "k-feeds-db-1234", "CLIENT_CERT_SUBJECT_HEADER": "X-S",
            "DB_HOST": "127.0.0.1", "DB_NAME": "app", "DB_USER": "app",  # no DB_PASSWORD
            "VAULT_ADDR": listener.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH,
        })
        ctx = context_of(path, secrets_timeout=0.5)
        findings = step(ctx)  # the secrets stage: it times out once
        assert [(f.check, f.status.value) for f in findings][:2] == [
            ("secrets.backend", "PASS"), ("secrets.vault_health", "FAIL")]
        asked = len(listener.accepted)
        assert asked >= 1, "Vault was never asked"

        started = time.monotonic()
        # The database step, then backup's source_endpoint, which ask for the bundle again.
        settings = database_endpoint(ctx)
        with pytest.raises(BundleUnavailable) as raised:
            ctx.secret_bundle()
        elapsed = time.monotonic() - started
        assert len(listener.accepted) == asked, "the later askers connected to Vault again"
        assert elapsed < 0.25, f"the later askers took {elapsed:.2f} s"
        assert_no_secrets([token], str(raised.value))
        no_password = not settings.password  # compared, never printed
        assert no_password, "the database settings got a password although the bundle is unavailable"
        assert str(raised.value).startswith("secrets.vault_health: Vault at ")
    finally:
        listener.close()
