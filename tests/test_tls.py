"""The tls step against real TLS listeners whose certificates the tests make (cryptography):
expired, expiring in 3 days, wrong host, unknown CA, not yet valid; and PostgreSQL's own TLS,
read through the protocol's SSLRequest on a throwaway cluster."""
from __future__ import annotations

import datetime
import os
import re
import shutil
import ssl
import time

import pytest

from fixtures.certs import CertificateAuthority, TlsHttpServer
from fixtures.pgcluster import LocalCluster
from fixtures.services import random_secret, write_env_file
from flash_green_ops import tls
from flash_green_ops.findings import Status
from tests.conftest import (assert_no_secrets, closed_port, run_ops_tests, run_script, silent_listener, skip_unless_ci,
                            wait_for)
from tests.pg_fixtures import BASE_ENV, by_check, context, throwaway_cluster

DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


@pytest.fixture(scope="module")
def ca():
    return CertificateAuthority("Flash Green test CA")


@pytest.fixture
def write_env(tmp_path):
    def write(**values: str) -> os.PathLike:
        return write_env_file(tmp_path / "tls.env", {**BASE_ENV, "API_KEY": random_secret("tls-api-key"), **values},
                              "written by tests/test_tls.py")
    return write


@pytest.fixture
def https(ca, tmp_path):
    """https(stem, days=(start, end), names=...) -> a started HTTPS listener (stopped afterwards)."""
    servers = []

    def start(stem: str, *, issuer=None, **kwargs) -> TlsHttpServer:
        server = TlsHttpServer((issuer or ca).issue(tmp_path / "certs", stem, **kwargs)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def service_finding(write_env, server: TlsHttpServer, ca_file, **settings):
    path = write_env(SERVICE_URL=server.url, TLS_CACERT=str(ca_file))
    return by_check(tls.run(context(path, **settings)))["tls.service"], path


def test_a_good_certificate_passes_naming_ca_and_expiry(https, write_env, tmp_path):
    server = https("good", days=(-1, 90))
    finding, path = service_finding(write_env, server, server.files.ca)
    assert finding.status is Status.PASS, finding.message
    assert re.search(rf"the service \(SERVICE_URL, {path} line \d+\): the certificate of 127\.0\.0\.1:{server.port} "
                     rf"\(subject CN=127\.0\.0\.1, issuer CN=Flash Green test CA\) verifies with the CA in "
                     rf"TLS_CACERT .*matches the host name, valid until {DATE} \(8\d days\)", finding.message)
    assert finding.where == f"{path} line 9"  # header, 6 BASE_ENV keys, API_KEY, SERVICE_URL


def test_expiring_in_3_days_warns_naming_host_subject_issuer_and_date(https, write_env):
    server = https("soon", days=(-30, 3))
    finding, _ = service_finding(write_env, server, server.files.ca)
    assert finding.status is Status.WARN, finding.message
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"127.0.0.1:{server.port} (subject CN=127.0.0.1, issuer CN=Flash Green test CA) expires on {expires}" \
           in finding.message
    assert "in 3.0 days (less than --cert-min-days 14)" in finding.message
    # --cert-min-days moves the line.
    finding, _ = service_finding(write_env, server, server.files.ca, cert_min_days=2)
    assert finding.status is Status.PASS, finding.message


@pytest.mark.parametrize("stem, kwargs, expected", [
    ("expired", {"days": (-90, -2)}, rf"expired on {DATE} \(2\.0 days ago\): clients refuse it; renew it"),
    ("future", {"days": (2, 90)}, rf"is not valid before {DATE}: clients refuse it until then"),
    ("wronghost", {"names": ("api.example.com",)},
     r"\(subject CN=api\.example\.com, .*\) does not match host name 127\.0\.0\.1 \(it names api\.example\.com\)"),
])
def test_expired_not_yet_valid_and_wrong_host_fail(https, write_env, stem, kwargs, expected):
    server = https(stem, **kwargs)
    finding, _ = service_finding(write_env, server, server.files.ca)
    assert finding.status is Status.FAIL
    assert re.search(expected, finding.message), finding.message


def test_a_certificate_of_an_unknown_ca_fails_naming_the_ca_file_and_issuer(https, write_env, ca, tmp_path):
    stranger = CertificateAuthority("Someone Else CA")
    server = https("stranger", issuer=stranger)
    finding, _ = service_finding(write_env, server, ca.issue(tmp_path / "ours", "ours").ca)
    assert finding.status is Status.FAIL
    assert "(subject CN=127.0.0.1, issuer CN=Someone Else CA) does not verify with the CA in TLS_CACERT" \
           in finding.message
    assert "unable to get local issuer certificate" in finding.message


def test_an_expired_certificate_of_an_unknown_ca_still_says_expired(https, write_env, ca, tmp_path):
    server = https("old-stranger", issuer=CertificateAuthority("Someone Else CA"), days=(-90, -10))
    finding, _ = service_finding(write_env, server, ca.issue(tmp_path / "ours", "ours").ca)
    assert finding.status is Status.FAIL and "expired on" in finding.message, finding.message


def test_unreachable_silent_and_plain_http_endpoints_fail_within_the_timeout(write_env, tmp_path):
    path = write_env(SERVICE_URL=f"https://127.0.0.1:{closed_port()}")
    finding = by_check(tls.run(context(path)))["tls.service"]
    assert finding.status is Status.FAIL and "no certificate read from 127.0.0.1:" in finding.message
    assert "Connection refused" in finding.message
    with silent_listener() as port:
        path = write_env(SERVICE_URL=f"https://127.0.0.1:{port}")
        started = time.monotonic()
        finding = by_check(tls.run(context(path, http_timeout=1.0)))["tls.service"]
        assert time.monotonic() - started < 5
    assert finding.status is Status.FAIL and "no answer within 1 s (timed out)" in finding.message
    with TlsHttpServer(None) as plain:
        path = write_env(SERVICE_URL=f"https://127.0.0.1:{plain.port}")
        finding = by_check(tls.run(context(path)))["tls.service"]
    assert finding.status is Status.FAIL and "the TLS handshake failed" in finding.message, finding.message


def test_every_endpoint_the_env_names_is_checked_and_the_others_say_why_not(https, write_env, tmp_path):
    server = https("all", days=(-1, 90))
    path = write_env(VAULT_ADDR=server.url, VAULT_CACERT=str(server.files.ca), SERVICE_URL="http://127.0.0.1:1",
                     METRICS_URL=f"{server.url}/metrics", TLS_CACERT=str(server.files.ca),
                     USE_ICE_LIVE="true", ICE_API_URL=f"{server.url}/api", USE_POWERLEDGER_LIVE="false",
                     POWERLEDGER_API_URL=f"{server.url}/api")
    findings = by_check(tls.run(context(path)))
    assert set(findings) == set(tls.CHECKS)
    assert {c for c, f in findings.items() if f.status is Status.PASS} == {"tls.vault", "tls.metrics", "tls.ice"}
    assert "the VAULT_CACERT" not in findings["tls.vault"].message
    assert "verifies with the CA in VAULT_CACERT" in findings["tls.vault"].message
    assert not findings["tls.service"].applies and "is http://: no TLS" in findings["tls.service"].message
    assert "adapter is disabled (USE_POWERLEDGER_LIVE is not true)" in findings["tls.powerledger"].message
    assert not findings["tls.db"].applies and "no database configured" in findings["tls.db"].message


def test_preflight_reports_tls_failures_as_warnings_and_the_runbook_tests_fail(https, write_env, pytester):
    server = https("expired-cli", days=(-90, -2))
    path = write_env(SERVICE_URL=server.url, TLS_CACERT=str(server.files.ca))
    result = run_script("preflight_check.py", "--env-file", path, "--stage", "tls")
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if " tls.service " in line)
    assert line.startswith("WARN tls.service the service (SERVICE_URL, ") and "expired on" in line
    assert line.endswith("(a warning in the preflight; the nightly run fails it)")
    nightly = run_ops_tests(pytester, "--env-file", str(path), "-m", "tls", "-rA", timeout=120)
    assert nightly.ret == 1
    nightly.stdout.fnmatch_lines(["tls.service: the service (SERVICE_URL, *): the certificate of *expired on*"])
    nightly.assert_outcomes(failed=1, skipped=len(tls.CHECKS) - 1)


def test_no_secret_reaches_a_message(https, write_env):
    server = https("secret", days=(-90, -2))
    password = random_secret("pw")
    path = write_env(SERVICE_URL=server.url.replace("https://", f"https://ops:{password}@"),
                     TLS_CACERT=str(server.files.ca))
    findings = tls.run(context(path))
    assert_no_secrets([password], "\n".join(f"{f.message} {f.where}" for f in findings))
    assert "expired on" in by_check(findings)["tls.service"].message


# --------------------------------------------------------------------------------------------
# PostgreSQL's own TLS: a throwaway cluster whose certificate the test swaps and reloads


@pytest.fixture(scope="module")
def tls_cluster(pytestconfig, tmp_path_factory):
    if not shutil.which("openssl"):
        skip_unless_ci("PostgreSQL's TLS tests need openssl (the cluster's first certificate)")
    with throwaway_cluster(pytestconfig, ssl=True) as cluster:
        yield cluster


def install_certificate(cluster: LocalCluster, files) -> None:
    """The server's certificate and key replaced by ``files``, then the configuration reloaded
    (PostgreSQL rereads its TLS files on reload)."""
    owner = os.stat(cluster.data_dir)
    for source, name in ((files.cert, "server.crt"), (files.key, "server.key")):
        target = cluster.data_dir / name
        target.write_bytes(source.read_bytes())
        os.chown(target, owner.st_uid, owner.st_gid)
        target.chmod(0o600)
    with cluster.connect() as conn:
        assert conn.execute("SELECT pg_reload_conf()").fetchone()[0]
    # The postmaster rereads the files when the signal arrives: wait until it serves the new one.
    expected = tls.parse_certificate(ssl.PEM_cert_to_DER_cert(files.cert.read_text()))
    served = tls.Endpoint("tls.db", "PostgreSQL", "127.0.0.1", cluster.port, None, "", verify_chain=False,
                          check_hostname=False, postgres=True)
    wait_for(lambda: tls.fetch_certificate(served, 5).certificate == expected, 10,
             "PostgreSQL to serve the new certificate after its reload")


@pytest.mark.parametrize("stem, days, sslmode, status, expected", [
    ("pg-expired", (-90, -3), "require", Status.FAIL, rf"expired on {DATE}"),
    ("pg-soon", (-30, 3), "verify-full", Status.WARN,
     r"expires on .*, in 3\.0 days .*it verifies with sslrootcert .*, matches the host name \(sslmode=verify-full\)"),
    ("pg-good", (-1, 90), "verify-ca", Status.PASS, r"verifies with sslrootcert .* \(sslmode=verify-ca\)"),
])
def test_postgres_certificate_read_through_the_ssl_request(tls_cluster, ca, tmp_path, write_env, stem, days,
                                                           sslmode, status, expected):
    files = ca.issue(tmp_path, stem, days=days)
    install_certificate(tls_cluster, files)
    password = random_secret("pg")
    url = (f"postgresql://nobody:{password}@127.0.0.1:{tls_cluster.port}/postgres?sslmode={sslmode}"
           f"&sslrootcert={files.ca}")
    finding = by_check(tls.run(context(write_env(DATABASE_URL=url))))["tls.db"]
    assert finding.status is status, finding.message
    assert re.search(expected, finding.message), finding.message
    assert "PostgreSQL (DATABASE_URL, " in finding.message and f"127.0.0.1:{tls_cluster.port}" in finding.message
    assert_no_secrets([password], finding.message)


def test_postgres_with_sslmode_prefer_is_not_applicable_and_a_wrong_ca_fails(tls_cluster, ca, tmp_path, write_env):
    install_certificate(tls_cluster, ca.issue(tmp_path, "pg-ours", days=(-1, 90)))
    base = f"postgresql://nobody@127.0.0.1:{tls_cluster.port}/postgres"
    finding = by_check(tls.run(context(write_env(DATABASE_URL=f"{base}?sslmode=prefer"))))["tls.db"]
    assert not finding.applies and "sslmode=prefer does not ask for TLS" in finding.message
    other = CertificateAuthority("Other CA").issue(tmp_path, "other").ca
    url = f"{base}?sslmode=verify-ca&sslrootcert={other}"
    finding = by_check(tls.run(context(write_env(DATABASE_URL=url))))["tls.db"]
    assert finding.status is Status.FAIL and "does not verify with sslrootcert" in finding.message, finding.message


@pytest.mark.parametrize("args, expected", [
    (["--cert-min-days", "-1"], "argument --cert-min-days: must be 0 or more: '-1'"),
    (["--web3-max-block-age", "soon"], "argument --web3-max-block-age: not a duration: 'soon'"),
])
def test_bad_option_values_are_one_line_and_exit_2(write_env, args, expected):
    result = run_script("preflight_check.py", "--env-file", write_env(), "--stage", "tls", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert expected in result.stderr and "Traceback" not in result.stderr
