"""The secrets step as a whole: backend choice, the bundle for later steps, the CLI's exit codes,
the local target's two stand-ins, and the runbook suite against both backends."""
from __future__ import annotations

import json

import pytest

from fixtures.moto_server import REGION
from fixtures.services import random_secret
from fixtures.targets import ThrowawayTarget
from flash_green_ops.errors import BundleUnavailable
from flash_green_ops import redact, secrets
from flash_green_ops.preflight import new_context
from flash_green_ops.contract import load_contract
from flash_green_ops.envfile import parse_env_text, read_env_file
from flash_green_ops.findings import Status
from flash_green_ops.settings import Settings
from tests.conftest import assert_no_secrets, port_is_free, run_script
from tests.secrets_scenarios import step, healthy_vault, kv_put, bundle, context_of, env_file, run_secrets_tests, the

VAULT = "VAULT_ADDR=http://127.0.0.1:9\nVAULT_TOKEN=hvs.choice-test-token\nVAULT_SECRET_PATH=secret/x\n"
AWS = "AWS_SECRETS_REGION=eu-west-1\nAWS_SECRETS_ID=flash-green/bundle\n"


def choose(text: str, environment: str | None = None):
    ctx = new_context(parse_env_text(text, "choice.env"), load_contract(), Settings(environment=environment))
    return secrets.choose_backend(ctx)


# -- backend choice (the contract's secret-backend rules) ---------------------------------

def test_no_backend_on_staging_is_a_skip():
    choice = choose("APP_ENV=staging\n")
    assert choice.backend is None
    assert choice.finding.status is Status.SKIP and choice.finding.message == "no secret backend configured"


def test_no_backend_on_production_fails():
    choice = choose("APP_ENV=production\n")
    assert choice.finding.status is Status.FAIL
    assert "no secret backend configured in choice.env: production needs exactly one" in choice.finding.message


@pytest.mark.parametrize("text, backend", [(VAULT, "vault"), (AWS, "aws"),
                                           (VAULT + AWS + "SECRETS_BACKEND=aws\n", "aws"),
                                           (VAULT + AWS + "SECRETS_BACKEND=vault\n", "vault")])
def test_the_configured_or_selected_backend_is_used(text, backend):
    choice = choose(text)
    assert choice.backend == backend and choice.finding.status is Status.PASS


def test_both_backends_without_a_selector_fail():
    choice = choose(VAULT + AWS)
    assert choice.finding.status is Status.FAIL
    assert "SECRETS_BACKEND is not set: set SECRETS_BACKEND=vault or SECRETS_BACKEND=aws" in choice.finding.message


def test_unknown_selector_fails():
    choice = choose(VAULT + "SECRETS_BACKEND=consul\n")
    assert choice.finding.status is Status.FAIL
    assert "SECRETS_BACKEND is 'consul' (choice.env line 4): expected vault or aws" in choice.finding.message


def test_selected_backend_must_be_complete():
    choice = choose(VAULT + "SECRETS_BACKEND=aws\n")
    assert choice.finding.status is Status.FAIL
    assert ("AWS Secrets Manager is selected (SECRETS_BACKEND=aws (choice.env line 4) chooses it) but "
            "AWS_SECRETS_REGION, AWS_SECRETS_ID are missing") in choice.finding.message


def test_partial_vault_settings_name_the_missing_keys():
    choice = choose("VAULT_ADDR=http://127.0.0.1:9\n")
    assert choice.finding.status is Status.FAIL
    assert "Vault is selected (the only backend configured) but VAULT_TOKEN, VAULT_SECRET_PATH are missing" \
        in choice.finding.message


def test_no_backend_means_only_the_backend_finding():
    ctx = new_context(parse_env_text("APP_ENV=staging\n", "none.env"), load_contract(), Settings())
    assert [f.check for f in step(ctx)] == ["secrets.backend"]


# -- the bundle: what the database step reuses -----------------------------------------------------

@pytest.fixture
def healthy_vault_env(bao, bao_root, tmp_path):
    values = bundle()
    env = healthy_vault(bao_root, bao, values)
    return env_file(tmp_path, env), values, env["VAULT_TOKEN"]


def counting_loader(ctx) -> list:
    """Count the context's bundle loads: a second load after a seal would leave ctx.bundle as
    it was (the step sets only bundle_error), so the bundle alone cannot tell one load from two."""
    loads, load = [], ctx.bundle_loader

    def counted(c):
        loads.append(c)
        return load(c)

    ctx.bundle_loader = counted
    return loads


def test_secret_bundle_loads_once_and_returns_strings(bao, healthy_vault_env):
    path, values, _ = healthy_vault_env
    ctx = context_of(path)
    loads = counting_loader(ctx)
    first = ctx.secret_bundle()
    bao.seal()  # a second request would fail now
    second = ctx.secret_bundle()
    same = first == values and second is first and ctx.bundle is first
    assert same, "the bundle was not the stored one"
    assert len(loads) == 1 and ctx.bundle_error is None, f"the bundle was loaded {len(loads)} times"


def test_secret_bundle_after_preflight_reuses_its_result(bao, healthy_vault_env):
    path, _, _ = healthy_vault_env
    ctx = context_of(path)
    step(ctx)
    loads = counting_loader(ctx)
    bao.seal()  # a new read would fail now
    assert set(ctx.secret_bundle()) >= {"DB_PASSWORD", "API_SIGNING_KEY"}
    assert not loads and ctx.bundle_error is None, "the bundle was loaded again after the step"


def test_secret_bundle_says_why_it_cannot(bao_root, healthy_vault_env):
    path, values, token = healthy_vault_env
    missing = bundle(API_SIGNING_KEY=None)
    kv_put(bao_root, missing)
    with pytest.raises(BundleUnavailable) as raised:
        context_of(path).secret_bundle()
    message = str(raised.value)
    assert message.startswith("secrets.bundle: secret/flash-green (KV v2) lacks API_SIGNING_KEY")
    assert_no_secrets([token, *values.values(), *missing.values()], message)


def test_secret_bundle_without_a_backend():
    ctx = new_context(parse_env_text("APP_ENV=staging\n", "none.env"), load_contract(), Settings())
    with pytest.raises(BundleUnavailable, match="^secrets.backend: no secret backend configured$"):
        ctx.secret_bundle()


# -- the CLI ---------------------------------------------------------------------------------------

def test_cli_exits_0_for_a_healthy_vault(healthy_vault_env):
    path, values, token = healthy_vault_env
    result = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path)
    assert_no_secrets([token, *values.values()], result.stdout, result.stderr)  # before any output is printed
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS secrets.bundle secret/flash-green (KV v2) holds DB_PASSWORD, API_SIGNING_KEY" in result.stdout
    assert "env." not in result.stdout, "--stage secrets runs only that stage"


def test_cli_exits_0_for_a_healthy_aws_secret(moto_standin, tmp_path):
    values = bundle()
    moto_standin.put_secret("flash-green/bundle", json.dumps(values))
    path = env_file(tmp_path, {"AWS_SECRETS_REGION": REGION, "AWS_SECRETS_ID": "flash-green/bundle",
                               "AWS_ENDPOINT_URL": moto_standin.url, "AWS_ACCESS_KEY_ID": moto_standin.access_key_id,
                               "AWS_SECRET_ACCESS_KEY": moto_standin.secret_access_key})
    result = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path, "--format", "json")
    assert_no_secrets([moto_standin.secret_access_key, *values.values()], result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert [c["id"] for c in document["checks"]] == ["secrets.backend", "secrets.aws_secret", "secrets.bundle"]
    assert all(c["stage"] == "secrets" and c["status"] == "PASS" for c in document["checks"])


def test_cli_vault_min_ttl_option(bao, bao_root, tmp_path):
    values = bundle()
    env = healthy_vault(bao_root, bao, values, ttl=f"{2 * 3600 + 30}s")
    token = env["VAULT_TOKEN"]
    path = env_file(tmp_path, env)
    warned = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path)
    relaxed = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path, "--vault-min-ttl", "1h")
    # First: a failing assertion below prints the runs' output.
    assert_no_secrets([token, *values.values()], warned.stdout, warned.stderr, relaxed.stdout, relaxed.stderr)
    assert warned.returncode == 0 and "WARN secrets.vault_token" in warned.stdout
    assert relaxed.returncode == 0 and "PASS secrets.vault_token" in relaxed.stdout


@pytest.mark.parametrize("option, value", [("--secrets-timeout", "0"), ("--secrets-timeout", "soon"),
                                           ("--vault-min-ttl", "a-day")])
def test_cli_bad_option_is_one_line_and_exit_2(healthy_vault_env, option, value):
    path, _, _ = healthy_vault_env
    result = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path, option, value)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and option in result.stderr


def test_cli_without_a_backend_skips_and_exits_0(tmp_path):
    path = env_file(tmp_path, {"APP_ENV": "staging"})
    result = run_script("preflight_check.py", "--stage", "secrets", "--env-file", path)
    assert result.returncode == 0
    assert "SKIP secrets.backend no secret backend configured" in result.stdout


# -- the local target's stand-ins, and the runbook suite on them ------------------------------

def test_local_target_serves_a_valid_bundle_from_both_backends(tmp_path):
    target = ThrowawayTarget(tmp_path)
    try:
        target.ensure("vault")
        target.ensure("aws")
        contract = load_contract()
        vault_ctx = new_context(read_env_file(target.env_file), contract, Settings())
        aws_ctx = new_context(read_env_file(target.write_env("local-aws.env", {"SECRETS_BACKEND": "aws"})),
                               contract, Settings())
        for ctx in (vault_ctx, aws_ctx):
            findings = step(ctx)
            assert all(f.status is Status.PASS for f in findings), [f.message for f in findings]
        assert the(step(vault_ctx), "secrets.backend").message.startswith("using Vault")
        assert the(step(aws_ctx), "secrets.backend").message.startswith("using AWS Secrets Manager")
        # The bundle's DB_PASSWORD opens the local PostgreSQL: it is the password in DATABASE_URL.
        password = redact.url_password(vault_ctx.values["DATABASE_URL"])
        same = vault_ctx.bundle["DB_PASSWORD"] == password == aws_ctx.bundle["DB_PASSWORD"]
        assert same, "the local bundles' DB_PASSWORD is not the local database's password"
        ports = [target.services["vault"].port, target.services["aws"].port]
    finally:
        target.close()
    assert all(port_is_free(p) for p in ports), "a stand-in still listens after close()"


def test_local_env_files_pass_the_env_contract(tmp_path):
    from flash_green_ops import envspec

    target = ThrowawayTarget(tmp_path)
    try:
        for path in (target.env_file, target.write_env("local-aws.env", {"SECRETS_BACKEND": "aws"})):
            ctx = new_context(read_env_file(path), load_contract(), Settings())
            failures = [f.message for f in envspec.run(ctx) if f.status is Status.FAIL]
            assert not failures, failures
    finally:
        target.close()


def test_runbook_secrets_tests_pass_on_the_local_target_against_both_backends(pytester):
    result = run_secrets_tests(pytester, "-v", "-rs")
    # Each backend's own checks pass; the other backend's are skipped, saying why.
    result.assert_outcomes(passed=8, skipped=4)
    result.stdout.fnmatch_lines(["*test_secrets?vault-secrets.bundle? PASSED*",
                                 "*test_secrets?aws-secrets.bundle? PASSED*"], consecutive=False)
    result.stdout.fnmatch_lines(["*secrets.aws_secret not a check of Vault: using Vault*",
                                 "*secrets.vault_health not a check of AWS Secrets Manager: using AWS*"],
                                consecutive=False)


def test_runbook_secrets_tests_skip_without_a_backend(pytester, tmp_path):
    path = env_file(tmp_path, {"APP_ENV": "staging", "API_KEY": random_secret("api")})
    result = run_secrets_tests(pytester, "--env-file", str(path), "-rs")
    result.assert_outcomes(skipped=6)
    result.stdout.fnmatch_lines(["*no secret backend configured*"])


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (42, "42s"), (61, "1m 1s"), (3600, "1h"), (7229, "2h"),
                                           (7199, "1h 59m"), (86400, "1d"), (90000, "1d 1h"), (-5, "0s")])
def test_remaining_time_reads_as_two_units(seconds, text):
    assert secrets.human_duration(seconds) == text
