"""The env step of the runbook suite (ops_tests/test_env.py), run with pytester as operators run it."""
import textwrap

import pytest

from flash_green_ops.contract import load_contract
from tests.conftest import assert_no_secrets, run_ops_tests, run_script
from tests.test_envspec import PRODUCTION, STAGING

RULES = [rule.id for rule in load_contract().rules]

# Fails every rule that can fail on staging, each with a message the test below checks.
BAD_STAGING = textwrap.dedent("""\
    APP_ENV=prod
    API_KEY=
    OIDC_ISSUER=https://idp.flash.example
    DB_HOST=db.internal
    VAULT_ADDR=https://vault.internal
    AWS_SECRETS_REGION=eu-west-1
    SECRETS_BACKEND=aws
    USE_LIVE_FEED=true
    USE_ICE_LIVE=yes
    USE_POWERLEDGER_LIVE=1
    USE_WEB3_LOAN=on
    WEB3_RPC_URL=https://rpc.flash.example
    METRICS_PORT=99999
    SERVICE_URL='http://svc.internal:8080 '
    ICE_USERNAME=changeme
    DB_NAME=a
    DB_NAME=b
    FLASH_GREN_MODE=fast
    """)
BAD_STAGING_MESSAGES = {
    "environment": "APP_ENV is 'prod' ({env} line 1)",
    "api-key": "API_KEY is empty ({env} line 2)",
    "caller-auth": "OIDC_ISSUER is set but OIDC_AUDIENCE is missing ({env} line 3)",
    "database": "DB_HOST and DB_NAME are set but DB_USER is missing ({env} line 4)",
    "vault-settings": "VAULT_ADDR is set but VAULT_TOKEN and VAULT_SECRET_PATH are missing ({env} line 5)",
    "aws-settings": "AWS_SECRETS_REGION is set but AWS_SECRETS_ID is missing ({env} line 6)",
    "secret-backend": "no secret backend is configured ({env}): production needs exactly one",
    "live-feed": "USE_LIVE_FEED is true ({env} line 8) but LIVE_FEED_URL is missing",
    "ice-live": "USE_ICE_LIVE is true ({env} line 9) but ICE_API_URL and ICE_PASSWORD are missing",
    "powerledger-live": "USE_POWERLEDGER_LIVE is true ({env} line 10) but POWERLEDGER_API_URL and",
    "web3-loan": "USE_WEB3_LOAN is true ({env} line 11) but WEB3_LOAN_CONTRACT is missing",
    "value-formats": "METRICS_PORT is '99999': expected an integer from 1 to 65535 ({env} line 13)",
    "no-surrounding-whitespace": "SERVICE_URL has leading or trailing whitespace ({env} line 14)",
    "no-placeholders": "ICE_USERNAME holds a placeholder ({env} line 15)",
    "no-conflicting-duplicates": "DB_NAME is set 2 times with different values ({env} lines 16, 17)",
}
# An unknown APP_ENV applies the production rules, so the database needs TLS too.
BAD_STAGING_MESSAGES["database-tls"] = "no sslmode is set ({env}): production requires"

BAD_PRODUCTION = PRODUCTION.replace("https://vault", "http://vault") + "USE_ICE_LIVE=maybe\n"
BAD_PRODUCTION_MESSAGES = {
    "production-schemes": "VAULT_ADDR uses http:// ({env} line 6): production requires https://",
    "adapter-flags": "USE_ICE_LIVE is 'maybe' ({env} line 9)",
    "file-permissions": "{env} is mode 0644: readable by its group and others while it holds secrets "
                        "(API_KEY, DATABASE_URL and VAULT_TOKEN): run chmod 600 {env}",
}


def outcome_of(result, rule):
    for line in result.outlines:
        if f"test_env[env.{rule}]" in line and " - " not in line:
            for word in ("PASSED", "FAILED", "SKIPPED"):
                if word in line:
                    return word
    raise AssertionError(f"no outcome line for {rule}")


def test_every_rule_fails_on_a_bad_env_with_its_message(pytester, tmp_path):
    env = tmp_path / "bad.env"
    env.write_text(BAD_STAGING)
    env.chmod(0o600)
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "env", "-v")
    output = result.stdout.str()
    for rule, message in BAD_STAGING_MESSAGES.items():
        assert outcome_of(result, rule) == "FAILED", rule
        assert message.format(env=env) in output, rule
    # Unknown keys are warnings, never failures.
    assert outcome_of(result, "known-keys") == "PASSED"
    assert "FLASH_GREN_MODE is not a key the contract knows" in output
    result.assert_outcomes(failed=len(BAD_STAGING_MESSAGES), passed=len(RULES) - len(BAD_STAGING_MESSAGES),
                           warnings=1)


def test_production_rules_fail_on_a_bad_production_env(pytester, tmp_path):
    env = tmp_path / ".env.production"
    env.write_text(BAD_PRODUCTION)
    env.chmod(0o644)  # as an editor or `cp` leaves it under the usual umask
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "env", "-v")
    for rule, message in BAD_PRODUCTION_MESSAGES.items():
        assert outcome_of(result, rule) == "FAILED", rule
        result.stdout.fnmatch_lines([f"*{message.format(env=env)}*"])
    result.assert_outcomes(failed=3, passed=len(RULES) - 3)


def test_a_sound_live_env_passes_every_rule_and_items_carry_target_and_step_markers(pytester, tmp_path):
    env = tmp_path / "staging.env"
    env.write_text(STAGING)
    env.chmod(0o600)
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "live and env and preflight")
    result.assert_outcomes(passed=len(RULES) - 2, skipped=2)
    result.stdout.fnmatch_lines(["*applies to production only; this is staging*"])
    result = run_ops_tests(pytester, "--env-file", str(env), "-m", "local or container")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_local_target_is_the_default_and_its_env_passes(pytester):
    result = run_ops_tests(pytester, "-m", "local and env")
    result.assert_outcomes(passed=len(RULES) - 2, skipped=2)


def test_live_target_without_env_file_reads_the_process_environment(pytester, monkeypatch):
    """The container case, as the preflight does: the settings are the process environment."""
    for key, value in (line.split("=", 1) for line in STAGING.splitlines()):
        monkeypatch.setenv(key, value)
    result = run_ops_tests(pytester, "--target", "live", "-m", "env", "-rs")
    assert_no_secrets(["k-3f9a7c1e5b", "pw-8d7e6f", "hvs.tok-1a2b3c4d"], result.stdout.str(), result.stderr.str())
    result.assert_outcomes(passed=len(RULES) - 2, skipped=2)
    monkeypatch.delenv("API_KEY")
    result = run_ops_tests(pytester, "--target", "live", "-m", "env and live")
    result.assert_outcomes(failed=1, passed=len(RULES) - 3, skipped=2)
    result.stdout.fnmatch_lines(["*env.api-key: API_KEY is missing (process environment): set it*"])


def test_a_live_selection_without_a_live_target_says_why_nothing_ran(pytester):
    result = run_ops_tests(pytester, "-m", "live and preflight")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["no test selected: -m 'live and preflight' asks for the live target, and this "
                                 "run's target is local: pass --env-file PATH, or --target live to read the "
                                 "process environment"])
    result = run_ops_tests(pytester, "-m", "not live and metrics and db")  # excludes it: nothing to explain
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED and "no test selected" not in result.stdout.str()


def test_bad_env_file_is_a_one_line_usage_error(pytester, tmp_path):
    env = tmp_path / "bin.env"
    env.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run_ops_tests(pytester, "--env-file", str(env))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {env} line 1: not UTF-8 text*"])
    assert "Traceback" not in result.stderr.str()


def test_no_secret_value_reaches_cli_text_json_pytest_output_or_junit(pytester, tmp_path):
    secrets = ["api-key-9c8b7a6f5e4d", "hvs.tok-1a2b3c4d5e6f", "db-pw-0f1e2d3c4b5a",
               "ice-pw-one-111aaa", "ice-pw-two-222bbb", "pl-key-3c4d5e6f7a", "unk-secret-value-42x"]
    env = tmp_path / "leaky.env"
    env.write_text(textwrap.dedent(f"""\
        APP_ENV=production
        API_KEY='{secrets[0]} '
        VAULT_ADDR=http://vault.internal
        VAULT_TOKEN=<{secrets[1]}>
        VAULT_SECRET_PATH=kv/fg
        DATABASE_URL=mysql://fg:{secrets[2]}@db.internal/fg
        USE_ICE_LIVE=true
        ICE_PASSWORD={secrets[3]}
        ICE_PASSWORD={secrets[4]}
        POWERLEDGER_API_KEY=' {secrets[5]}'
        ROUTER_SECRET={secrets[6]}
        """))
    text = run_script("preflight_check.py", "--env-file", env)
    as_json = run_script("preflight_check.py", "--env-file", env, "--format", "json")
    junit = tmp_path / "junit.xml"
    result = run_ops_tests(pytester, "--env-file", str(env), "-vv", "-l", "-rA", "--junitxml", str(junit))
    # First: the assertions below print the outputs (and the JUnit file) when they fail.
    assert_no_secrets(secrets, text.stdout, text.stderr, as_json.stdout, as_json.stderr,
                      result.stdout.str(), result.stderr.str(), junit)
    assert text.returncode == as_json.returncode == 1
    assert "API_KEY has leading or trailing whitespace" in text.stdout
    assert "ICE_PASSWORD is set 2 times with different values" in text.stdout
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "DATABASE_URL has scheme 'mysql://'" in junit.read_text()
