"""Fail fast: every way of not reaching the database ends within the connect timeout + 1 s.

Real sockets on loopback: a closed port, a listener that accepts TCP but never answers (the
kernel completes the handshake; nobody ever reads), host lists, and names that do not resolve.
Each message names host, port and cause, and never the password.
"""
from __future__ import annotations

import socket
import time

import pytest

from flash_green_ops import database, redact
from flash_green_ops.findings import Status
from tests.conftest import assert_no_secrets
from tests.conftest import closed_port, silent_listener
from tests.pg_fixtures import context, text_of

PASSWORD = "timeout-test-password-9f2"
redact.register(PASSWORD)


def url(hosts: str) -> str:
    return f"postgresql://app:{PASSWORD}@{hosts}/appdb"


def probe_timed(path, timeout: float):
    started = time.monotonic()
    findings = database.run(context(path, db_connect_timeout=timeout))
    return findings, time.monotonic() - started


def assert_fast_failure(findings, elapsed, timeout, *fragments):
    __tracebackhide__ = True
    assert elapsed < timeout + 1, f"took {elapsed:.2f} s with a {timeout} s connect timeout"
    assert [f.check for f in findings] == list(database.CHECKS)
    reachable = findings[0]
    assert reachable.status is Status.FAIL
    for fragment in fragments:
        assert fragment in reachable.message
    assert all(f.status is Status.SKIP and "(see db.reachable)" in f.message for f in findings[1:])
    assert_no_secrets([PASSWORD], text_of(findings))


def test_closed_port_fails_at_once_naming_host_port_and_cause(db_env_file):
    port = closed_port()
    findings, elapsed = probe_timed(db_env_file(url(f"127.0.0.1:{port}")), 5)
    assert_fast_failure(findings, elapsed, 1, f"cannot connect to PostgreSQL at 127.0.0.1:{port}/appdb as user app",
                        f"127.0.0.1:{port}: Connection refused", "Fix: check host and port")


@pytest.mark.parametrize("timeout", [2, 3])
def test_a_listener_that_never_answers_fails_within_the_timeout(db_env_file, timeout):
    with silent_listener() as port:
        findings, elapsed = probe_timed(db_env_file(url(f"127.0.0.1:{port}")), timeout)
    # It did wait for the server (the timeout is the one given), and not longer.
    assert elapsed >= timeout - 0.1
    assert_fast_failure(findings, elapsed, timeout, f"127.0.0.1:{port}: no answer within {timeout} s (connect timeout)",
                        "Fix: check that host and port point at PostgreSQL")


def test_unresolvable_host_fails_within_the_timeout(db_env_file):
    findings, elapsed = probe_timed(db_env_file(url("no-such-host.invalid:6543")), 2)
    assert_fast_failure(findings, elapsed, 2, "no-such-host.invalid:6543: cannot resolve host name",
                        "Fix: correct the host name in DATABASE_URL")


def test_two_silent_hosts_share_one_deadline(db_env_file):
    # libpq/psycopg would give each host the full timeout (2 x 2 s here); one deadline covers both.
    with silent_listener("127.0.0.1") as port, silent_listener("127.0.0.2", port):
        findings, elapsed = probe_timed(db_env_file(url(f"127.0.0.1:{port},127.0.0.2:{port}")), 2)
    assert_fast_failure(findings, elapsed, 2, f"127.0.0.1:{port}: no answer within 2 s",
                        f"127.0.0.2:{port}: not tried, the 2 s connect timeout was used up")


def test_a_name_resolving_to_two_silent_addresses_shares_one_deadline(db_env_file, monkeypatch):
    # As "localhost" resolving to ::1 and 127.0.0.1 on dual-stack hosts. The system resolver
    # cannot be changed here, so getaddrinfo answers two loopback addresses for this name;
    # the listeners and connections are real.
    real_getaddrinfo = socket.getaddrinfo

    with silent_listener("127.0.0.1") as port, silent_listener("127.0.0.2", port):
        def two_addresses(host, *args, **kwargs):
            if host == "twice.test":
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("127.0.0.1", "127.0.0.2")]
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
        findings, elapsed = probe_timed(db_env_file(url(f"twice.test:{port}")), 3)
    assert_fast_failure(findings, elapsed, 3, f"twice.test:{port} (127.0.0.1): no answer within 3 s",
                        f"twice.test:{port} (127.0.0.2): not tried")


def test_a_resolver_that_never_answers_fails_within_the_timeout(db_env_file, monkeypatch):
    # A stalled DNS server cannot be set up here (the system resolver is shared), so
    # getaddrinfo blocks for longer than the timeout, as a dead resolver does.
    real_getaddrinfo = socket.getaddrinfo

    def stalled(host, *args, **kwargs):
        if host == "slow-dns.test":
            time.sleep(10)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    findings, elapsed = probe_timed(db_env_file(url("slow-dns.test:5432")), 2)
    assert_fast_failure(findings, elapsed, 2, "slow-dns.test:5432: cannot resolve host name "
                                              "(no answer from the resolver within the connect timeout)")


def test_refused_first_host_falls_back_to_the_next_one(pg_database, db_env_file):
    hosts = f"127.0.0.1:{closed_port()},localhost:{pg_database.port}"
    path = db_env_file(pg_database.url().replace(f"{pg_database.host}:{pg_database.port}", hosts))
    findings, elapsed = probe_timed(path, 2)
    assert findings[0].status is Status.PASS, findings[0].message


def test_a_timeout_below_libpqs_minimum_waits_libpqs_two_seconds(db_env_file):
    # libpq (and psycopg) never wait less than 2 s per attempt; documented, and bounded.
    with silent_listener() as port:
        findings, elapsed = probe_timed(db_env_file(url(f"127.0.0.1:{port}")), 0.5)
    assert 1.9 <= elapsed < 3, elapsed
    assert "no answer within 2 s" in findings[0].message
