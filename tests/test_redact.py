"""The masking safety net: what is registered as secret, and that it holds in real output."""
from runbook import redact
from runbook.contract import load_contract
from tests.conftest import assert_no_secrets, run_script


def test_registered_values_and_their_url_encodings_are_masked():
    redact.register("p@ss w0rd/+x")
    text = "a p@ss w0rd/+x b p%40ss%20w0rd%2F%2Bx c p%40ss+w0rd%2F%2Bx"
    assert redact.mask(text) == "a *** b *** c ***"


def test_password_inside_any_url_is_found():
    assert redact.url_password("postgresql://u:pg-pw-1@db/x?sslmode=require") == "pg-pw-1"
    assert redact.url_password("host=db user=u password=kv-pw-2") == "kv-pw-2"
    assert redact.url_password("https://prom:http-pw-3@metrics.internal/metrics") == "http-pw-3"
    assert redact.url_password("https://metrics.internal/metrics") is None


def test_every_url_variable_is_a_secret_url_key():
    contract = load_contract()
    urls = {name for name, var in contract.variables.items() if var.type == "url"}
    assert {"DATABASE_URL", "METRICS_URL", "SERVICE_URL", "VAULT_ADDR"} <= urls <= set(contract.secret_url_keys)


def test_password_in_metrics_url_never_reaches_the_output(tmp_path):
    password = "scrape-pw-7f6e5d4c"
    env = tmp_path / "m.env"
    # Port 99999 makes requests fail while parsing the URL, quoting the whole URL in its error.
    env.write_text("API_KEY=k-1234567\nCLIENT_CERT_SUBJECT_HEADER=X-S\nDATABASE_URL=postgresql://a@db/x\n"
                   f"METRICS_URL=http://prom:{password}@127.0.0.1:99999/metrics\n"
                   f"SERVICE_URL=http://svc:{password}@127.0.0.1:1/\n")
    for fmt in ("text", "json"):
        result = run_script("preflight_check.py", "--env-file", env, "--stage", "metrics", "--format", fmt,
                            "--http-timeout", "1")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "metrics.scrape" in result.stdout
        assert_no_secrets([password], result.stdout, result.stderr)
