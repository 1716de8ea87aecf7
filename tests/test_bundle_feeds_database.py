"""DB_PASSWORD from the secret bundle is used by the database step when the env has none."""
from tests.conftest import assert_no_secrets, run_script
from tests.secrets_scenarios import SECRET_PATH, bundle, env_file


def test_database_step_connects_with_the_bundles_password(pg_database, vault_standin, tmp_path):
    vault_standin.enable_kv("secret", version=2)
    token = vault_standin.create_token()
    vault_standin.write(SECRET_PATH, bundle(DB_PASSWORD=pg_database.password))
    cluster = pg_database.cluster
    path = env_file(tmp_path, {
        "APP_ENV": "staging", "API_KEY": "k-feeds-db-1234", "CLIENT_CERT_SUBJECT_HEADER": "X-S",
        "DB_HOST": cluster.host, "DB_PORT": str(cluster.port), "DB_NAME": pg_database.name,
        "DB_USER": pg_database.user,  # no DB_PASSWORD: it is in the bundle
        "VAULT_ADDR": vault_standin.url, "VAULT_TOKEN": token, "VAULT_SECRET_PATH": SECRET_PATH,
    })
    # The whole preflight (secrets loads the bundle, db uses it) and the db stage alone.
    for args in ((), ("--stage", "db")):
        result = run_script("preflight_check.py", "--env-file", path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "PASS db.reachable" in result.stdout
        assert_no_secrets([pg_database.password, token], result.stdout, result.stderr)

    # Without the bundle's password the same database refuses: the bundle really was used.
    vault_standin.write(SECRET_PATH, bundle(DB_PASSWORD="not-the-password-0000"))
    result = run_script("preflight_check.py", "--env-file", path, "--stage", "db")
    assert result.returncode == 1
    assert "FAIL db.reachable" in result.stdout and "password authentication failed" in result.stdout
