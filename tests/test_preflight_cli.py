"""scripts/preflight_check.py as an operator runs it: output, exit codes 0/1/2, bad input."""
import json
import os

import pytest

from tests.conftest import REPO, assert_no_secrets, closed_port, run_script
from tests.test_envspec import STAGING

STAGING_SECRETS = ["k-3f9a7c1e5b", "pw-8d7e6f", "hvs.tok-1a2b3c4d"]  # STAGING's API key, password, token


def write(tmp_path, text, name="test.env", mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)  # an env file holding secrets, as the README says to keep it
    return path


def preflight(*args, **kwargs):
    return run_script("preflight_check.py", *args, **kwargs)


def test_a_sound_env_passes_with_exit_0(tmp_path):
    result = preflight("--stage", "env", "--env-file", write(tmp_path, STAGING))
    assert_no_secrets(STAGING_SECRETS, result.stdout, result.stderr)  # before any output is printed
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS env.environment APP_ENV, when set, is staging or production."
    assert "SKIP env.database-tls applies to production only; this is staging" in lines
    assert lines[-1] == "preflight: 18 passed, 0 failed, 2 skipped"
    assert result.stderr == ""


def test_a_failing_check_exits_1_and_later_stages_are_skipped_with_the_reason(tmp_path):
    result = preflight("--env-file", write(tmp_path, STAGING.replace("API_KEY=k-3f9a7c1e5b\n", "")))
    assert result.returncode == 1
    assert f"FAIL env.api-key API_KEY is missing ({tmp_path}/test.env): set it" in result.stdout
    assert "SKIP tls.stage skipped: stage env failed" in result.stdout
    assert "SKIP secrets.stage skipped: stage env failed" in result.stdout
    assert "SKIP db.stage skipped: stage env failed" in result.stdout
    assert result.stdout.splitlines()[-1] == "preflight: 17 passed, 1 failed, 5 skipped"


def test_json_has_every_check_with_id_stage_status_message_duration(tmp_path):
    result = preflight("--stage", "env", "--format", "json", "--env-file",
                       write(tmp_path, STAGING + "USE_ICE_LIVE=true\n"))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["exit_code"] == 1 and document["environment"] == "staging"
    checks = {c["id"]: c for c in document["checks"]}
    assert len(checks) == 20
    ice = checks["env.ice-live"]
    assert ice["stage"] == "env" and ice["status"] == "FAIL" and ice["where"] == f"{tmp_path}/test.env line 9"
    assert "ICE_API_URL, ICE_USERNAME and ICE_PASSWORD are missing" in ice["message"]
    assert all(isinstance(c["duration"], float) for c in document["checks"])


def test_without_env_file_it_reads_the_process_environment():
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"}
    env.update(API_KEY="k-from-environ", CLIENT_CERT_SUBJECT_HEADER="X-S",
               DATABASE_URL="postgresql://fg@db.internal/fg")
    result = preflight("--stage", "env", env=env)
    assert_no_secrets(["k-from-environ"], result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout
    env.pop("API_KEY")
    result = preflight("--stage", "env", env=env)
    assert result.returncode == 1
    assert "FAIL env.api-key API_KEY is missing (process environment)" in result.stdout


def test_production_template_fails_on_its_placeholders_and_a_filled_copy_passes(tmp_path):
    template = REPO / "env.production.example"
    result = preflight("--stage", "env", "--env-file", template)
    assert result.returncode == 1
    for key, line in (("API_KEY", 8), ("OIDC_AUDIENCE", 15), ("DATABASE_URL", 18), ("VAULT_ADDR", 33),
                      ("VAULT_TOKEN", 35), ("VAULT_SECRET_PATH", 37)):
        assert f"FAIL env.no-placeholders {key} holds a placeholder ({template} line {line})" in result.stdout
    assert f"FAIL env.no-placeholders OIDC_ISSUER still has the template's sample value ({template} line 13)" \
        in result.stdout

    filled = template.read_text()
    secrets = ["k-prod-5e4d3c", "db-pw-7a6b5c", "hvs.prod-token-1f2e"]
    for old, new in (("<production-api-key>", secrets[0]),
                     ("https://login.example.com/realms/flash-green", "https://login.flash.example/realms/fg"),
                     ("OIDC_AUDIENCE=<oidc-audience>", "OIDC_AUDIENCE=fg-trading-api"),
                     ("<db-user>:<db-password>@<db-host>:5432/<db-name>", f"fg:{secrets[1]}@db.prod.internal:5432/fg"),
                     ("<vault-host>", "vault.prod.internal"), ("<vault-token>", secrets[2]),
                     ("<mount>/flash-green/production", "kv/fg/prod")):
        filled = filled.replace(old, new)
    result = preflight("--stage", "env", "--env-file", write(tmp_path, filled, ".env.production"))
    assert_no_secrets(secrets, result.stdout, result.stderr)  # before the output is printed
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout and "WARN" not in result.stdout


@pytest.mark.parametrize("args, expected", [
    (["--env-file", "{tmp}/nope.env"], "{tmp}/nope.env: no such file"),
    (["--env-file", "{tmp}"], "is a directory, not an env file"),
    (["--env-file", "{tmp}/latin1.env"], "latin1.env line 1: not UTF-8 text"),
    (["--env-file", "{tmp}/garbage.env"], "garbage.env line 2: not a KEY=value assignment that python-dotenv can parse"),
    (["--environment", "prod"], "--environment 'prod' is not one of staging, production"),
    (["--stage", "deploy"], "argument --stage: invalid choice: 'deploy'"),
    (["--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
    (["--db-connect-timeout", "0"], "must be greater than 0"),
    (["--vault-min-ttl", "soon"], "not a duration: 'soon'"),
    (["--vault-min-ttl", "nan"], "not a duration: 'nan'"),  # else no token would ever warn
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_invocation_is_one_line_and_exit_2(tmp_path, args, expected):
    (tmp_path / "latin1.env").write_bytes(b"A=caf\xe9\n")
    (tmp_path / "garbage.env").write_bytes(b"A=1\n\x1b[31m nonsense here\n")
    args = [a.format(tmp=tmp_path) for a in args]
    result = preflight(*args, env={**os.environ, "APP_ENV": "staging"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert expected.format(tmp=tmp_path) in result.stderr


def refused_vault_env(tmp_path, database_url: str):
    """STAGING with its Vault and database on loopback ports nothing listens on."""
    text = (STAGING.replace("https://vault.internal:8200", f"https://127.0.0.1:{closed_port()}")
            .replace("postgresql://app:pw-8d7e6f@db.internal:5432/flash?sslmode=prefer", database_url))
    return write(tmp_path, text)


def test_a_secrets_failure_does_not_hide_an_unreachable_database_with_its_own_password(tmp_path):
    port = closed_port()
    result = preflight("--env-file", refused_vault_env(tmp_path, f"postgresql://app:pw-8d7e6f@127.0.0.1:{port}/flash"))
    assert_no_secrets(STAGING_SECRETS, result.stdout, result.stderr)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL secrets.vault_health" in result.stdout
    assert f"FAIL db.reachable cannot connect to PostgreSQL at 127.0.0.1:{port}/flash" in result.stdout, result.stdout
    assert "db.stage" not in result.stdout


def test_a_database_whose_password_is_in_the_failed_bundle_is_skipped_saying_so(tmp_path):
    result = preflight("--env-file", refused_vault_env(tmp_path, f"postgresql://app@127.0.0.1:{closed_port()}/flash"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL secrets.vault_health" in result.stdout
    assert ("SKIP db.stage skipped: stage secrets failed and the database password is to come from the secret "
            "bundle (none in the env)") in result.stdout, result.stdout


@pytest.mark.parametrize("char", ["/", "#", "?"])
def test_an_unencoded_reserved_character_in_the_database_password_says_percent_encode(char, tmp_path):
    """Not "a port that is not an integer" (urlsplit) nor "cannot resolve host name app:pw"
    (libpq, quoting half of the password): the password and the fix."""
    password = f"pw-8d7{char}e6f"
    env = write(tmp_path, STAGING.replace("postgresql://app:pw-8d7e6f@db.internal:5432/flash?sslmode=prefer",
                                          f"postgresql://app:{password}@127.0.0.1:{closed_port()}/flash"))
    fix = f"has a password holding an unencoded '{char}': percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40)"
    result = preflight("--env-file", env, "--stage", "env")
    assert_no_secrets([password, "pw-8d7", "e6f"], result.stdout, result.stderr)
    assert result.returncode == 1
    assert f"FAIL env.value-formats DATABASE_URL {fix} ({env} line 4)" in result.stdout, result.stdout
    assert "not an integer" not in result.stdout
    result = preflight("--env-file", env, "--stage", "db")
    backup = run_script("backup.py", "--env-file", env, "--output", tmp_path / "b.sql")
    assert_no_secrets([password, "pw-8d7", "e6f"], result.stdout, backup.stderr)
    if char == "#":  # libpq takes "#" as it is: the database step and the backup reach the server
        assert "Connection refused" in result.stdout and "Connection refused" in backup.stderr
        return
    assert f"FAIL db.reachable DATABASE_URL ({env} line 4) {fix}" in result.stdout, result.stdout
    assert backup.returncode == 2 and backup.stderr == f"backup.py: error: DATABASE_URL ({env} line 4) {fix}\n"


@pytest.mark.parametrize("script", ["preflight_check.py", "backup.py", "verify_restore.py"])
def test_every_command_says_its_version(script):
    from flash_green_ops.cli import version

    result = run_script(script, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{script} (flash-green-ops) {version()}\n"
    assert version()[0].isdigit(), version()  # the installed distribution's, not the fallback


def test_skip_says_the_reason_and_only_runs_the_checks_named(tmp_path):
    env = write(tmp_path, STAGING.replace("API_KEY=k-3f9a7c1e5b\n", ""))
    result = preflight("--env-file", env, "--stage", "env", "--skip", "env.api-key=rotated tonight, INC-42",
                       "--skip", "env.known-keys")
    assert result.returncode == 0, result.stdout  # the one failure was skipped
    assert "SKIP env.api-key skipped by --skip: rotated tonight, INC-42" in result.stdout.splitlines()
    assert "SKIP env.known-keys skipped by --skip: no reason given" in result.stdout.splitlines()
    result = preflight("--env-file", env, "--only", "env.api-key", "--only", "env.environment")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "PASS env.environment APP_ENV, when set, is staging or production.",
        f"FAIL env.api-key API_KEY is missing ({env}): set it (Key Flash Green presents to its upstream API.)",
        "preflight: 1 passed, 1 failed, 0 skipped"]  # no secrets nor db stage: nothing of theirs selected


@pytest.mark.parametrize("option", ["--skip", "--only"])
def test_an_unknown_check_id_is_a_usage_error_listing_the_valid_ones(option, tmp_path):
    result = preflight("--env-file", write(tmp_path, STAGING), option, "db.reachble")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"preflight_check.py: error: {option} db.reachble: no such check; the checks "
                                    f"are: env.environment, env.api-key,"), result.stderr
    assert "db.reachable, db.version" in result.stderr and len(result.stderr.splitlines()) == 1


def test_junit_has_a_testcase_per_check_for_ci(tmp_path):
    import xml.etree.ElementTree as ET

    env = write(tmp_path, STAGING.replace("API_KEY=k-3f9a7c1e5b\n", "") + "FLASH_GREN_MODE=x\n")
    result = preflight("--env-file", env, "--stage", "env", "--format", "junit")
    assert_no_secrets(STAGING_SECRETS, result.stdout, result.stderr)
    assert result.returncode == 1 and result.stderr == ""
    suite = ET.fromstring(result.stdout).find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert suite.get("name") == "preflight" and len(cases) == 20 == int(suite.get("tests"))
    assert (suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("1", "2", "0")
    failure = cases["env.api-key"].find("failure")
    assert failure.get("message").startswith(f"API_KEY is missing ({env}): set it"), failure.get("message")
    assert cases["env.api-key"].get("classname") == "preflight.env"
    assert cases["env.database-tls"].find("skipped").get("message") == "applies to production only; this is staging"
    assert cases["env.known-keys"].find("system-out").text.startswith("WARN ")  # a warning is a pass, said
    assert cases["env.environment"].find("failure") is None and float(cases["env.environment"].get("time")) >= 0
    assert suite.find("system-out").text == "preflight: 17 passed, 1 failed, 2 skipped"


@pytest.mark.parametrize("mode, environment, expected", [
    (0o644, "staging", "WARN env.file-permissions {env} is mode 0644: readable by its group and others while it "
                       "holds secrets (API_KEY, DATABASE_URL and VAULT_TOKEN): run chmod 600 {env}"),
    (0o640, "production", "FAIL env.file-permissions {env} is mode 0640: readable by its group while it holds "
                          "secrets (API_KEY, DATABASE_URL and VAULT_TOKEN): run chmod 600 {env}"),
    (0o600, "production", "PASS env.file-permissions An env file holding secrets is readable by its owner only"),
])
def test_an_env_file_readable_by_others_while_it_holds_secrets(mode, environment, expected, tmp_path):
    from tests.test_envspec import PRODUCTION

    env = write(tmp_path, STAGING if environment == "staging" else PRODUCTION, mode=mode)
    result = preflight("--env-file", env, "--only", "env.file-permissions")
    assert_no_secrets(STAGING_SECRETS, result.stdout, result.stderr)
    assert result.stdout.splitlines()[0].startswith(expected.format(env=env)), result.stdout
    assert result.returncode == (1 if expected.startswith("FAIL") else 0)


def test_a_world_readable_env_file_without_secrets_is_fine(tmp_path):
    env = write(tmp_path, "APP_ENV=staging\nCLIENT_CERT_SUBJECT_HEADER=X-S\n", mode=0o644)
    result = preflight("--env-file", env, "--only", "env.file-permissions")
    assert result.stdout.startswith("PASS env.file-permissions"), result.stdout
