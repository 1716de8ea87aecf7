"""The masking safety net: what is registered as secret, and that it holds in real output."""
import pytest

from flash_green_ops import redact, urls
from flash_green_ops.contract import load_contract
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


@pytest.mark.parametrize("cut", ["/", "?", "#"])
def test_a_password_urllib_cannot_delimit_is_masked_with_its_whole_url(cut):
    # urllib ends the host part at an unescaped '/', '?' or '#' and then sees no password at
    # all: the value must not pass as a URL without one.
    password = f"pa{cut}ss-word-5e4d3c2b"
    url = f"http://u:{password}@metrics.internal:8000/m"
    with pytest.raises(ValueError):
        redact.url_password(url)
    redact.register_env({"METRICS_URL": url}, [], [], ["METRICS_URL"])
    registered = redact.mask(url) == redact.MASK and redact.MASK in redact.mask(f"pw {password} !")
    assert registered, "the URL, or the password in it, was not registered"
    shown = urls.display_url(url)
    assert shown == "http://***"
    assert_no_secrets([password, "ss-word-5e4d3c2b"], shown)


def test_an_at_sign_urllib_reads_right_is_not_ambiguous():
    assert redact.url_password("http://u:p@ss-word-9a8b@h/m") == "p@ss-word-9a8b"
    assert urls.display_url("http://u:p@ss-word-9a8b@h:8000/m") == "http://h:8000/m"
    assert redact.url_password("postgresql://u:pa#ss-word@db/x") == "pa#ss-word"  # libpq reads it


def test_every_url_variable_is_a_secret_url_key():
    contract = load_contract()
    urls = {name for name, var in contract.variables.items() if var.type == "url"}
    assert {"DATABASE_URL", "METRICS_URL", "SERVICE_URL", "VAULT_ADDR"} <= urls <= set(contract.secret_url_keys)


# The second password holds a '/': urllib then sees no password in the URL at all.
@pytest.mark.parametrize("password", ["scrape-pw-7f6e5d4c", "scrape-pw-3b2a/7f6e5d4c"])
def test_password_in_metrics_url_never_reaches_the_output(tmp_path, password):
    env = tmp_path / "m.env"
    # Port 99999 makes requests fail while parsing the URL, quoting the whole URL in its error.
    env.write_text("API_KEY=k-1234567\nCLIENT_CERT_SUBJECT_HEADER=X-S\nDATABASE_URL=postgresql://a@db/x\n"
                   f"METRICS_URL=http://prom:{password}@127.0.0.1:99999/metrics\n"
                   f"SERVICE_URL=http://svc:{password}@127.0.0.1:1/\n")
    for fmt in ("text", "json"):
        result = run_script("preflight_check.py", "--env-file", env, "--stage", "metrics", "--format", fmt,
                            "--http-timeout", "1")
        assert_no_secrets([password, *password.split("/")], result.stdout, result.stderr)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "metrics.scrape" in result.stdout
