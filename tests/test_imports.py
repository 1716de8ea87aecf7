"""``--stage env`` loads no library only other stages need (the issue's startup budget), and
still finds and masks DATABASE_URL's password without them."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flash_green_ops import redact
from tests.conftest import REPO, assert_no_secrets, run_script

HEAVY = ("psycopg", "psycopg_binary", "hvac", "boto3", "botocore", "requests", "urllib3",
         "prometheus_client")
BASE = ("API_KEY=k-bench-5e4d3c\nCLIENT_CERT_SUBJECT_HEADER=X-Client-Cert-Subject\nAPP_ENV=staging\n"
        "VAULT_ADDR=https://vault.staging.internal\nVAULT_TOKEN=hvs.bench-token\n"
        "VAULT_SECRET_PATH=kv/flash-green/staging\n")
# (DATABASE_URL, its password): a URL with a percent-encoded password, one in ?password=, and a
# key=value conninfo with a quoted, escaped one.
URLS = [
    ("postgresql://fg:p%40ss%2Fw0rd-77a@db.staging.internal:5432/fg", "p@ss/w0rd-77a"),
    ("postgresql://fg@db.staging.internal/fg?sslmode=require&password=query-pw-88b", "query-pw-88b"),
    ("host=db.staging.internal user=fg dbname=fg password='kv pw \\' 99c'", "kv pw ' 99c"),
]


def imported_modules(stderr: str) -> set[str]:
    """Top-level module names from ``python -X importtime`` output."""
    return {m.group(1).split(".")[0] for m in re.finditer(r"^import time:[^|]*\|[^|]*\|\s*(\S+)", stderr, re.M)}


@pytest.mark.parametrize("url, password", URLS)
def test_the_env_stage_imports_no_heavy_library_and_masks_the_password(tmp_path: Path, url, password):
    env = tmp_path / ".env.staging"
    env.write_text(BASE + f"DATABASE_URL={url}\n")
    result = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "scripts" / "preflight_check.py"),
                             "--stage", "env", "--env-file", str(env), "--format", "json"],
                            capture_output=True, text=True, timeout=60, cwd=REPO, stdin=subprocess.DEVNULL)
    modules = imported_modules(result.stderr)
    assert "flash_green_ops" in modules  # the parse of -X importtime's output works
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert_no_secrets([password], result.stdout)


@pytest.mark.parametrize("url, password", URLS)
def test_the_password_is_found_and_registered(url, password):
    found = redact.url_password(url) == password  # a bare bool: pytest would print both passwords
    assert found, "the password was not found in the URL (values hidden)"
    redact.register_env({"DATABASE_URL": url}, [], [], ["DATABASE_URL"])
    masked = redact.mask(f"said {password}.") == f"said {redact.MASK}."
    assert masked, "the password was not masked (values hidden)"


def test_the_metrics_stage_imports_neither_the_database_nor_the_http_libraries():
    result = run_script("preflight_check.py", "--stage", "metrics", "--http-timeout", "0.5",
                        env={"PYTHONPROFILEIMPORTTIME": "1", "PATH": "/usr/bin:/bin",
                             "PYTHONPATH": str(REPO), "METRICS_URL": "http://127.0.0.1:9/metrics",
                             "API_KEY": "k-1234567"})
    # The stage ran to its report (a crash before the scrape would import nothing either).
    assert result.returncode == 1 and "FAIL metrics.scrape" in result.stdout, result.stdout + result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert "flash_green_ops" in modules
    assert not modules & {"psycopg", "hvac", "boto3", "botocore", "requests", "urllib3"}  # urllib is the stdlib's
